//! `GET /v1/query`: every metric, period and granularity, grouping, filters, zero-fill and meta,
//! each checked against the answer the test computes itself from the events it sent.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    common::{Account, Auth, TestApp},
    model::{Event, Gran, Query, Rng, api_calls, buckets, expected, label, period_length, window},
};

const PERIODS: [&str; 5] = ["1h", "24h", "7d", "30d", "90d"];
const GRANULARITIES: [Option<&str>; 5] = [None, Some("hour"), Some("day"), Some("week"), Some("month")];
const ALL_METRICS: [&str; 7] = ["count", "count_unique", "count_unique_approx", "sum", "avg", "p95", "p99"];

/// The numeric prop a metric needs in these tests.
fn prop_for(metric: &str, prop: &'static str) -> Option<&'static str> {
    matches!(metric, "sum" | "avg" | "p95" | "p99").then_some(prop)
}

/// A server holding generated events: `acme`'s `api.call`s, plus `globex`'s and `acme`'s
/// `page.view`s that every `acme`/`api.call` query must leave out.
pub struct Seeded {
    /// The server.
    pub app: TestApp,
    /// The account that owns the events.
    pub account: Account,
    /// Every event sent.
    pub events: Vec<Event>,
}

/// Starts a server and ingests generated events through an ingest key.
pub async fn seeded(seed: u64, acme_calls: usize) -> Seeded {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let ingest = app.create_key(&account.admin(), "ingest").await;
    let now = Utc::now();
    let mut rng = Rng::new(seed);
    let mut events = api_calls(&mut rng, "acme", acme_calls, now);
    events.extend(api_calls(&mut rng, "globex", acme_calls / 6, now));
    events.extend(api_calls(&mut rng, "acme", acme_calls / 6, now).into_iter().map(|mut e| {
        e.event_name = "page.view".into();
        e
    }));
    for chunk in events.chunks(1000) {
        assert_eq!(app.ingest_ok(&ingest.auth(), chunk).await, (chunk.len() as u64, 0));
    }
    Seeded { app, account, events }
}

/// Returns early with a message unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {{
        let holds: bool = $cond;
        if !holds {
            return Err(format!($($arg)+));
        }
    }};
}

/// How far `count_unique_approx` may be from the exact count in the broad query checks: 15%,
/// plus one for tiny buckets. The documented 2% is asserted on fixed cardinalities by
/// `count_unique_approx_is_within_two_percent_of_exact`; here a loose bound still catches an
/// approximation of the wrong thing (events instead of users, say).
const LOOSE_APPROX: f64 = 0.15;

/// Compares a reported value with the expected one: exact for counts and sums (written as whole
/// numbers when whole), within `approx` (a fraction) for `count_unique_approx`, within float
/// rounding for averages and percentiles.
pub fn compare_value(
    metric: &str,
    got: &Value,
    want: Option<f64>,
    approx: f64,
    ctx: &str,
) -> Result<(), String> {
    let Some(want) = want else {
        ensure!(got.is_null(), "{ctx}: expected null, got {got}");
        return Ok(());
    };
    let Some(g) = got.as_f64() else {
        return Err(format!("{ctx}: expected {want}, got {got}"));
    };
    match metric {
        "count" | "count_unique" | "sum" => {
            ensure!(g == want, "{ctx}: expected {want}, got {got}");
            if want.fract() == 0.0 {
                ensure!(
                    got.is_i64() || got.is_u64(),
                    "{ctx}: whole numbers are written without a fraction: {got}"
                );
            }
        }
        "count_unique_approx" => {
            let slack = if approx == LOOSE_APPROX { 1.0 } else { 0.0 };
            ensure!(
                (g - want).abs() <= approx * want + slack,
                "{ctx}: approx {g} is not within {}% of {want}",
                approx * 100.0
            );
            ensure!(got.is_u64(), "{ctx}: an approximate count is a whole number: {got}");
        }
        _ => ensure!((g - want).abs() <= 1e-9 * want.abs().max(1.0), "{ctx}: expected {want}, got {g}"),
    }
    Ok(())
}

fn group_of(row: &Value, ctx: &str) -> Result<Option<String>, String> {
    match &row["group"] {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        other => Err(format!("{ctx}: group must be a string or null, got {other}")),
    }
}

fn keys_of(row: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> =
        row.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// Runs `q` and checks the window, meta and every row against the events; panics on the first
/// mismatch. Returns the body.
pub async fn check(app: &TestApp, auth: &Auth, events: &[Event], q: &Query) -> Value {
    try_check(app, auth, events, q, 0.02).await.unwrap_or_else(|e| panic!("{e}"))
}

/// Mismatches collected over many queries, so one wrong answer does not hide the others.
#[derive(Default)]
pub struct Mismatches(Vec<String>);

impl Mismatches {
    /// Runs `q` with [`try_check`] and notes a mismatch.
    pub async fn check(&mut self, app: &TestApp, auth: &Auth, events: &[Event], q: &Query) -> Option<Value> {
        match try_check(app, auth, events, q, LOOSE_APPROX).await {
            Ok(body) => Some(body),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Fails listing every mismatch.
    #[track_caller]
    pub fn assert_none(self) {
        let shown: Vec<&str> = self.0.iter().take(40).map(String::as_str).collect();
        assert!(self.0.is_empty(), "{} wrong answers:\n{}", self.0.len(), shown.join("\n"));
    }
}

/// Runs `q` and checks the window, meta and every row against the events.
pub async fn try_check(
    app: &TestApp,
    auth: &Auth,
    events: &[Event],
    q: &Query,
    approx: f64,
) -> Result<Value, String> {
    let params = q.params();
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let ctx = format!("{pairs:?}");
    let gran = q.granularity.as_deref().map(Gran::parse);
    let before = Utc::now();
    let resp = app.query(auth, &pairs).await;
    let after = Utc::now();
    ensure!(resp.status == StatusCode::OK, "{ctx}: status {}: {}", resp.status, resp.text);
    let body = resp.body;
    let meta = &body["meta"];

    // The window is the documented one for a "now" during the request.
    let served = (meta["from"].clone(), meta["to"].clone());
    let Some((from, to)) = [window(&q.period, gran, before), window(&q.period, gran, after)]
        .into_iter()
        .find(|(f, t)| served == (json!(label(*f)), json!(label(*t))))
    else {
        return Err(format!("{ctx}: window {served:?} is not the documented one for now = {before}"));
    };
    let want = expected(events, q, from, to);

    check_meta(meta, q, want.rows_scanned, &ctx)?;
    let Some(data) = body["data"].as_array() else {
        return Err(format!("{ctx}: data is not a list"));
    };
    let metric = q.metric.as_str();
    match (&want.buckets, &want.groups) {
        (None, None) => {
            ensure!(data.len() == 1, "{ctx}: one row, got {data:?}");
            ensure!(keys_of(&data[0]) == ["value"], "{ctx}: {}", data[0]);
            compare_value(metric, &data[0]["value"], want.value(metric, None, &None), approx, &ctx)?;
        }
        (None, Some(groups)) => {
            ensure!(data.len() == groups.len(), "{ctx}: {} rows for {} groups", data.len(), groups.len());
            let mut seen = BTreeSet::new();
            for row in data {
                ensure!(keys_of(row) == ["group", "value"], "{ctx}: {row}");
                let g = group_of(row, &ctx)?;
                compare_value(
                    metric,
                    &row["value"],
                    want.value(metric, None, &g),
                    approx,
                    &format!("{ctx} group {g:?}"),
                )?;
                seen.insert(g);
            }
            ensure!(&seen == groups, "{ctx}: groups {seen:?}, expected {groups:?}");
            // Ordered by value, descending.
            let values: Vec<f64> =
                data.iter().map(|r| r["value"].as_f64().unwrap_or(f64::NEG_INFINITY)).collect();
            ensure!(
                values.windows(2).all(|w| w[0] >= w[1]),
                "{ctx}: groups not ordered by value: {values:?}"
            );
        }
        (Some(bucket_starts), None) => {
            ensure!(
                data.len() == bucket_starts.len(),
                "{ctx}: {} rows for {} buckets",
                data.len(),
                bucket_starts.len()
            );
            for (row, b) in data.iter().zip(bucket_starts) {
                ensure!(keys_of(row) == ["bucket", "value"], "{ctx}: {row}");
                ensure!(
                    row["bucket"] == label(*b),
                    "{ctx}: bucket {} where {} was due",
                    row["bucket"],
                    label(*b)
                );
                compare_value(
                    metric,
                    &row["value"],
                    want.value(metric, Some(*b), &None),
                    approx,
                    &format!("{ctx} bucket {b}"),
                )?;
            }
        }
        (Some(bucket_starts), Some(groups)) => {
            let n = groups.len();
            ensure!(
                data.len() == bucket_starts.len() * n,
                "{ctx}: {} rows for {} buckets x {n} groups",
                data.len(),
                bucket_starts.len()
            );
            let order = data.iter().take(n).map(|r| group_of(r, &ctx)).collect::<Result<Vec<_>, _>>()?;
            let order_set: BTreeSet<Option<String>> = order.iter().cloned().collect();
            ensure!(&order_set == groups, "{ctx}: groups {order_set:?}, expected {groups:?}");
            let mut totals = vec![0.0; n];
            for (i, row) in data.iter().enumerate() {
                let (b, g) = (bucket_starts[i / n], &order[i % n]);
                ensure!(keys_of(row) == ["bucket", "group", "value"], "{ctx}: {row}");
                ensure!(
                    row["bucket"] == label(b),
                    "{ctx}: row {i} has bucket {}, expected {}",
                    row["bucket"],
                    label(b)
                );
                ensure!(
                    &group_of(row, &ctx)? == g,
                    "{ctx}: row {i}: the group order differs between buckets"
                );
                compare_value(
                    metric,
                    &row["value"],
                    want.value(metric, Some(b), g),
                    approx,
                    &format!("{ctx} bucket {b} group {g:?}"),
                )?;
                totals[i % n] += row["value"].as_f64().unwrap_or(0.0);
            }
            if matches!(metric, "count" | "sum") {
                ensure!(
                    totals.windows(2).all(|w| w[0] >= w[1]),
                    "{ctx}: groups not ordered by total: {totals:?}"
                );
            }
        }
    }
    Ok(body)
}

/// Checks the meta fields the API documents.
fn check_meta(meta: &Value, q: &Query, rows_scanned: u64, ctx: &str) -> Result<(), String> {
    let ms = meta["query_time_ms"].as_f64();
    ensure!(ms.is_some_and(|ms| (0.0..60_000.0).contains(&ms)), "{ctx}: query_time_ms: {meta}");
    ensure!(meta["event_name"] == q.event_name.as_str(), "{ctx}: {meta}");
    ensure!(meta["metric"] == q.metric.as_str(), "{ctx}: {meta}");
    ensure!(meta["period"] == q.period.as_str(), "{ctx}: {meta}");
    // Whole-day windows of `count` are answered by the daily rollup (tests/api/rollup.rs checks
    // its answers); it reads its own rows, at most as many as the events it counts.
    match meta["planned_by"].as_str() {
        Some("daily_rollup") => {
            ensure!(q.metric == "count", "{ctx}: only count is rolled up on DuckDB: {meta}");
            ensure!(meta["source_table"] == "events_daily", "{ctx}: {meta}");
            ensure!(meta["rollup_granularity"] == "day", "{ctx}: {meta}");
            ensure!(
                meta["rows_scanned"].as_u64().is_some_and(|n| n <= rows_scanned),
                "{ctx}: rollup rows_scanned {} over {rows_scanned} events",
                meta["rows_scanned"]
            );
        }
        _ => {
            ensure!(meta["planned_by"] == "raw", "{ctx}: {meta}");
            ensure!(meta["source_table"] == "events", "{ctx}: {meta}");
            ensure!(
                meta["rows_scanned"] == rows_scanned,
                "{ctx}: rows_scanned {}, expected {rows_scanned}",
                meta["rows_scanned"]
            );
            ensure!(
                meta.get("rollup_granularity").is_none_or(Value::is_null),
                "{ctx}: no rollup answered: {meta}"
            );
        }
    }
    ensure!(meta["groups_truncated"] == false, "{ctx}: {meta}");
    for (field, asked) in [("granularity", &q.granularity), ("group_by", &q.group_by)] {
        match asked {
            Some(v) => ensure!(meta[field] == v.as_str(), "{ctx}: meta.{field}: {meta}"),
            None => ensure!(meta.get(field).is_none_or(Value::is_null), "{ctx}: meta.{field}: {meta}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn count_metrics_match_for_every_period_and_granularity() {
    let s = seeded(1, 1800).await;
    let mut wrong = Mismatches::default();
    for metric in ["count", "count_unique", "count_unique_approx"] {
        for period in PERIODS {
            for g in GRANULARITIES {
                let q = Query::new("acme", "api.call", metric, period).granularity(g);
                wrong.check(&s.app, &s.account.admin(), &s.events, &q).await;
            }
        }
    }
    // The other tenant's and the other event name's events are answered separately.
    for (tenant, name) in [("globex", "api.call"), ("acme", "page.view")] {
        for g in [None, Some("week")] {
            wrong
                .check(
                    &s.app,
                    &s.account.admin(),
                    &s.events,
                    &Query::new(tenant, name, "count", "90d").granularity(g),
                )
                .await;
        }
    }
    wrong.assert_none();
}

#[tokio::test]
async fn numeric_metrics_match_for_every_period_and_granularity() {
    let s = seeded(2, 1800).await;
    let mut wrong = Mismatches::default();
    for metric in ["sum", "avg", "p95", "p99"] {
        for period in PERIODS {
            for g in GRANULARITIES {
                let q = Query::new("acme", "api.call", metric, period)
                    .granularity(g)
                    .numeric_prop(Some("tokens"));
                wrong.check(&s.app, &s.account.admin(), &s.events, &q).await;
            }
        }
        // `score` is not a materialized column.
        for period in ["24h", "30d"] {
            for g in [None, Some("day"), Some("week")] {
                let q =
                    Query::new("acme", "api.call", metric, period).granularity(g).numeric_prop(Some("score"));
                wrong.check(&s.app, &s.account.admin(), &s.events, &q).await;
            }
        }
    }
    wrong.assert_none();
}

#[tokio::test]
async fn group_by_ranks_groups_and_fills_every_bucket() {
    let s = seeded(3, 1500).await;
    let mut wrong = Mismatches::default();
    for metric in ALL_METRICS {
        // `model` is materialized, `region` is not (and is missing on some events: the null group).
        for group_by in ["model", "region"] {
            for g in [None, Some("day")] {
                let q = Query::new("acme", "api.call", metric, "30d")
                    .granularity(g)
                    .group_by(group_by)
                    .numeric_prop(prop_for(metric, "tokens"));
                wrong.check(&s.app, &s.account.admin(), &s.events, &q).await;
            }
        }
    }
    for metric in ["count", "sum", "p95"] {
        let q = Query::new("acme", "api.call", metric, "24h")
            .granularity(Some("hour"))
            .group_by("region")
            .numeric_prop(prop_for(metric, "score"));
        wrong.check(&s.app, &s.account.admin(), &s.events, &q).await;
    }
    wrong.assert_none();
    // The null group is there, named null.
    let body = check(
        &s.app,
        &s.account.admin(),
        &s.events,
        &Query::new("acme", "api.call", "count", "90d").group_by("region"),
    )
    .await;
    let groups: Vec<&Value> = body["data"].as_array().expect("data").iter().map(|r| &r["group"]).collect();
    assert!(groups.contains(&&Value::Null), "no null group in {groups:?}");
    assert_eq!(groups.len(), 4, "eu, us, apac and null: {groups:?}");
}

#[tokio::test]
async fn filters_on_materialized_and_unmaterialized_props() {
    let s = seeded(4, 1500).await;
    let admin = s.account.admin();
    let queries = [
        Query::new("acme", "api.call", "count", "30d").filter("model", "gpt-4"),
        Query::new("acme", "api.call", "count", "30d").filter("region", "eu"),
        Query::new("acme", "api.call", "count", "7d").granularity(Some("day")).filter("region", "us"),
        Query::new("acme", "api.call", "count_unique", "30d").filter("endpoint", "/chat").group_by("region"),
        Query::new("acme", "api.call", "sum", "30d")
            .numeric_prop(Some("tokens"))
            .filter("model", "claude-3")
            .filter("region", "eu"),
        Query::new("acme", "api.call", "avg", "90d")
            .numeric_prop(Some("score"))
            .filter("region", "apac")
            .granularity(Some("week")),
        Query::new("acme", "api.call", "p95", "7d")
            .numeric_prop(Some("score"))
            .filter("region", "us")
            .group_by("model")
            .granularity(Some("day")),
        Query::new("acme", "api.call", "p99", "30d")
            .numeric_prop(Some("tokens"))
            .filter("model", "llama-3")
            .group_by("region"),
    ];
    for q in &queries {
        let body = check(&s.app, &admin, &s.events, q).await;
        // The filter did something: the unfiltered answer scans more events.
        let mut unfiltered = q.clone();
        unfiltered.filters.clear();
        let all = check(&s.app, &admin, &s.events, &unfiltered).await;
        let (some, more) = (&body["meta"]["rows_scanned"], &all["meta"]["rows_scanned"]);
        if all["meta"]["planned_by"] == "raw" {
            assert!(some.as_u64() > Some(0) && some.as_u64() < more.as_u64(), "{q:?}: {some} vs {more}");
        } else {
            // The unfiltered count came from the rollup, whose rows are not events: compare counts.
            let total = |b: &Value| {
                b["data"].as_array().expect("data").iter().filter_map(|r| r["value"].as_f64()).sum::<f64>()
            };
            assert!(
                total(&body) > 0.0 && total(&body) < total(&all),
                "{q:?}: {} vs {}",
                total(&body),
                total(&all)
            );
        }
    }

    // A value nothing has, and a prop nothing has: zero, exactly.
    for (key, value) in [("region", "mars"), ("model", "gpt-5"), ("colour", "red")] {
        let q = Query::new("acme", "api.call", "count", "90d").filter(key, value);
        let body = check(&s.app, &admin, &s.events, &q).await;
        assert_eq!(body["data"], json!([{ "value": 0 }]), "{q:?}");
        assert_eq!(body["meta"]["rows_scanned"], 0);
    }
}

#[tokio::test]
async fn empty_buckets_are_zero_for_counts_and_null_for_averages() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let hour = Gran::Hour.start(Utc::now());
    let (h5, h3) = (hour - Duration::hours(5), hour - Duration::hours(3));
    let events = [
        Event::new("t", "job.done", h5 + Duration::minutes(10)).user("a").n("ms", 10.0),
        Event::new("t", "job.done", h5 + Duration::minutes(20)).user("b").n("ms", 30.0),
        Event::new("t", "job.done", h3 + Duration::minutes(15)).user("a").n("ms", 7.0),
    ];
    assert_eq!(app.ingest_ok(&admin, &events).await, (3, 0));

    // Values written out by hand: h-5 holds 10 and 30, h-3 holds 7, the other hours nothing.
    let cases: [(&str, Value, Value, Value); 7] = [
        ("count", json!(2), json!(1), json!(0)),
        ("count_unique", json!(2), json!(1), json!(0)),
        ("count_unique_approx", json!(2), json!(1), json!(0)),
        ("sum", json!(40), json!(7), json!(0)),
        ("avg", json!(20), json!(7), Value::Null),
        ("p95", json!(29), json!(7), Value::Null),
        ("p99", json!(29.8), json!(7), Value::Null),
    ];
    let mut wrong = Vec::new();
    for (metric, at_h5, at_h3, empty) in cases {
        let mut params = vec![
            ("event_name", "job.done"),
            ("tenant_id", "t"),
            ("metric", metric),
            ("period", "24h"),
            ("granularity", "hour"),
        ];
        if prop_for(metric, "ms").is_some() {
            params.push(("numeric_prop", "ms"));
        }
        let resp = app.query(&admin, &params).await;
        let body = resp.ok(StatusCode::OK);
        let data = body["data"].as_array().expect("data");
        assert_eq!(data.len(), 24, "{metric}: 24 hourly buckets");
        for row in data {
            let bucket = row["bucket"].as_str().expect("bucket");
            let want = if bucket == label(h5) {
                &at_h5
            } else if bucket == label(h3) {
                &at_h3
            } else {
                &empty
            };
            let close = match (want.as_f64(), row["value"].as_f64()) {
                (Some(w), Some(g)) if metric == "p99" => (g - w).abs() < 1e-9,
                _ => &row["value"] == want,
            };
            if !close {
                wrong.push(format!("{metric} at {bucket}: {} instead of {want}", row["value"]));
            }
        }
        assert_eq!(body["meta"]["rows_scanned"], 3, "{metric}");
    }

    // A tenant without events: one zero or null row without granularity, a full series with one.
    for metric in ALL_METRICS {
        let empty = if matches!(metric, "avg" | "p95" | "p99") { Value::Null } else { json!(0) };
        let prop = prop_for(metric, "ms");
        let series = [
            ("24h", None, Some(1)),
            ("24h", Some("hour"), Some(24)),
            ("7d", Some("day"), Some(7)),
            ("30d", Some("week"), Some(5)),
            ("90d", Some("month"), None),
        ];
        for (period, g, rows) in series {
            let q = Query::new("nobody", "job.done", metric, period).granularity(g).numeric_prop(prop);
            let body = match try_check(&app, &admin, &[], &q, 0.0).await {
                Ok(body) => body,
                Err(e) => {
                    wrong.push(e);
                    continue;
                }
            };
            let data = body["data"].as_array().expect("data");
            if let Some(rows) = rows {
                assert_eq!(data.len(), rows, "{q:?}");
            }
            assert!(data.iter().all(|r| r["value"] == empty), "{q:?}: {data:?}");
        }
    }
    assert!(wrong.is_empty(), "wrong values:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn percentiles_interpolate_like_numpy() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let at = Utc::now() - Duration::hours(2);
    // 1..=10, in scrambled order, half in a materialized column and half not.
    let events: Vec<Event> = [7, 3, 10, 1, 9, 2, 8, 5, 4, 6]
        .iter()
        .map(|v| Event::new("t", "req", at).n("latency_ms", f64::from(*v)).n("weight", f64::from(*v) * 100.0))
        .collect();
    app.ingest_ok(&admin, &events).await;
    // numpy.quantile(range(1, 11), q): 0.95 -> 9.55, 0.99 -> 9.91.
    for (prop, scale) in [("latency_ms", 1.0), ("weight", 100.0)] {
        for (metric, want) in [("sum", 55.0), ("avg", 5.5), ("p95", 9.55), ("p99", 9.91)] {
            let params = [
                ("event_name", "req"),
                ("tenant_id", "t"),
                ("metric", metric),
                ("period", "24h"),
                ("numeric_prop", prop),
            ];
            let resp = app.query(&admin, &params).await;
            let got = resp.ok(StatusCode::OK)["data"][0]["value"].as_f64().expect("number");
            assert!((got - want * scale).abs() < 1e-9, "{metric} of {prop}: {got}, want {}", want * scale);
        }
    }
}

#[tokio::test]
async fn sum_over_events_without_the_prop_is_zero_like_an_empty_bucket() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let hour = Gran::Hour.start(Utc::now());
    let events = [
        Event::new("t", "req", hour - Duration::hours(4) + Duration::minutes(5)).n("tokens", 12.0),
        // Events in h-2 that carry no `tokens`.
        Event::new("t", "req", hour - Duration::hours(2) + Duration::minutes(5)).s("model", "gpt-4"),
        Event::new("t", "req", hour - Duration::hours(2) + Duration::minutes(6)),
    ];
    app.ingest_ok(&admin, &events).await;
    let q = Query::new("t", "req", "sum", "24h").granularity(Some("hour")).numeric_prop(Some("tokens"));
    check(&app, &admin, &events, &q).await;
    let q = Query::new("t", "req", "sum", "24h").numeric_prop(Some("tokens")).filter("model", "gpt-4");
    let body = check(&app, &admin, &events, &q).await;
    assert_eq!(body["data"], json!([{ "value": 0 }]));
}

#[tokio::test]
async fn more_than_a_thousand_groups_are_truncated() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let at = Utc::now() - Duration::hours(3);
    let mut events = Vec::new();
    for i in 0..1000 {
        let page = format!("/page/{i:04}");
        events.push(Event::new("t", "page.view", at).s("page", &page));
        events.push(Event::new("t", "page.view", at).s("page", &page));
    }
    events.push(Event::new("t", "page.view", at).s("page", "/tail"));
    app.ingest_ok(&admin, &events).await;
    let params = [
        ("event_name", "page.view"),
        ("tenant_id", "t"),
        ("metric", "count"),
        ("period", "24h"),
        ("group_by", "page"),
    ];
    let resp = app.query(&admin, &params).await;
    let body = resp.ok(StatusCode::OK);
    let data = body["data"].as_array().expect("data");
    assert_eq!(data.len(), 1000);
    assert_eq!(body["meta"]["groups_truncated"], true);
    assert_eq!(body["meta"]["rows_scanned"], 2001);
    assert!(
        data.iter().all(|r| r["value"] == 2 && r["group"] != "/tail"),
        "the smallest group is the one left out"
    );
}

#[tokio::test]
async fn count_unique_approx_is_within_two_percent_of_exact() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let at = Utc::now() - Duration::hours(2);
    // One tenant per cardinality; every user sends two events.
    let cardinalities = [10, 25, 57, 100, 155, 300, 1000, 2500, 5000];
    let mut events = Vec::new();
    for n in cardinalities {
        for i in 0..2 * n {
            events.push(Event::new(&format!("users-{n}"), "login", at).user(&format!("user_{}", i % n)));
        }
    }
    for chunk in events.chunks(10_000) {
        app.ingest_ok(&admin, chunk).await;
    }
    let mut outside = Vec::new();
    for n in cardinalities {
        let tenant = format!("users-{n}");
        let exact = check(&app, &admin, &events, &Query::new(&tenant, "login", "count_unique", "24h")).await;
        assert_eq!(exact["data"], json!([{ "value": n }]));
        let q = Query::new(&tenant, "login", "count_unique_approx", "24h");
        if let Err(e) = try_check(&app, &admin, &events, &q, 0.02).await {
            outside.push(e);
        }
    }
    assert!(outside.is_empty(), "count_unique_approx is documented as within 2%:\n{}", outside.join("\n"));
}

#[tokio::test]
async fn meta_states_how_the_query_ran() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let at = Utc::now() - Duration::hours(1);
    let events = [Event::new("t", "e", at).s("model", "a"), Event::new("t", "e", at).s("model", "b")];
    app.ingest_ok(&admin, &events).await;

    let resp = app
        .query(&admin, &[("event_name", "e"), ("tenant_id", "t"), ("metric", "count"), ("period", "7d")])
        .await;
    let body = resp.ok(StatusCode::OK);
    assert_eq!(keys_of(body), ["data", "meta"]);
    let meta = &body["meta"];
    let mut keys = keys_of(meta);
    keys.retain(|k| !matches!(*k, "granularity" | "group_by" | "rollup_granularity") || !meta[*k].is_null());
    assert_eq!(
        keys,
        [
            "event_name",
            "from",
            "groups_truncated",
            "metric",
            "period",
            "planned_by",
            "query_time_ms",
            "rows_scanned",
            "source_table",
            "to"
        ]
    );
    assert_eq!(meta["rows_scanned"], 2);
    assert_eq!(body["data"], json!([{ "value": 2 }]));

    let params = [
        ("event_name", "e"),
        ("tenant_id", "t"),
        ("metric", "count"),
        ("period", "24h"),
        ("granularity", "hour"),
        ("group_by", "model"),
    ];
    let resp = app.query(&admin, &params).await;
    let meta = &resp.ok(StatusCode::OK)["meta"];
    assert_eq!(meta["granularity"], "hour");
    assert_eq!(meta["group_by"], "model");
    assert_eq!(meta["planned_by"], "raw");
    assert_eq!(meta["source_table"], "events");
    let (from, to) = (meta["from"].as_str().expect("from"), meta["to"].as_str().expect("to"));
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).expect("RFC 3339").with_timezone(&Utc);
    assert_eq!(parse(to) - parse(from), Duration::hours(24), "24 whole hours");
    assert_eq!(buckets(parse(from), parse(to), Gran::Hour).len(), 24);
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let base = "event_name=api.call&tenant_id=acme&metric=count&period=7d";
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "event_name"),
        ("tenant_id=acme&metric=count&period=7d".into(), "event_name"),
        ("event_name=api.call&metric=count&period=7d".into(), "tenant_id"),
        ("event_name=api.call&tenant_id=acme&period=7d".into(), "metric"),
        ("event_name=api.call&tenant_id=acme&metric=count".into(), "period"),
        ("event_name=&tenant_id=acme&metric=count&period=7d".into(), "event_name"),
        ("event_name=api.call&tenant_id=acme&metric=median&period=7d".into(), "metric"),
        ("event_name=api.call&tenant_id=acme&metric=count&period=2d".into(), "period"),
        (format!("{base}&granularity=minute"), "granularity"),
        ("event_name=api.call&tenant_id=acme&metric=sum&period=7d".into(), "numeric_prop"),
        ("event_name=api.call&tenant_id=acme&metric=avg&period=7d".into(), "numeric_prop"),
        ("event_name=api.call&tenant_id=acme&metric=p95&period=7d".into(), "numeric_prop"),
        ("event_name=api.call&tenant_id=acme&metric=p99&period=7d".into(), "numeric_prop"),
        (format!("{base}&numeric_prop=tokens"), "numeric_prop"),
        (format!("{base}&colour=red"), "colour"),
        (format!("{base}&period=24h"), "period"),
        (format!("{base}&f_=x"), "f_"),
    ];
    for (query, param) in cases {
        let resp = app.get(&format!("/v1/query?{query}"), &admin).await;
        let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.starts_with(param), "{query:?}: {message:?} should name {param}");
    }
}

#[tokio::test]
async fn every_period_and_granularity_covers_whole_buckets() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    for period in PERIODS {
        for g in GRANULARITIES {
            let q = Query::new("t", "e", "count", period).granularity(g);
            let body = check(&app, &admin, &[], &q).await;
            let gran = g.map(Gran::parse);
            let parse = |v: &Value| {
                DateTime::parse_from_rfc3339(v.as_str().expect("time")).expect("RFC 3339").with_timezone(&Utc)
            };
            let (got_from, got_to) = (parse(&body["meta"]["from"]), parse(&body["meta"]["to"]));
            let step = gran.unwrap_or(Gran::Hour);
            assert_eq!(step.start(got_from), got_from, "{q:?}: from is a bucket start");
            assert_eq!(step.start(got_to), got_to, "{q:?}: to is a bucket start");
            assert!(got_to > Utc::now() - Duration::seconds(5), "{q:?}: the window holds now");
            assert!(got_to - got_from >= period_length(period), "{q:?}: at least the period long");
        }
    }
}
