//! The same generated events in DuckDB and ClickHouse give the same answers; ClickHouse rollups
//! give the same answers as raw ClickHouse events.

use std::{collections::HashMap, time::Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use emban_host_server::{
    analytics::query::{QueryRequest, shape},
    events::{
        EventStore, NewEvent, StoreScope,
        clickhouse::{ClickHouseStore, Plan, plan},
        duckdb::DuckStore,
    },
};

use crate::server::{ClickHouse, TempDir};

/// Answers by (bucket, group).
type Keyed = HashMap<(Option<String>, Option<Option<String>>), Option<f64>>;

pub const SCOPE: StoreScope = StoreScope { org_id: 1, env_id: 1 };
pub const OTHER: StoreScope = StoreScope { org_id: 2, env_id: 2 };

/// A fixed "now" so windows are reproducible.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 18, 10, 30, 0).single().expect("time")
}

/// A tiny deterministic generator (xorshift).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` events over the 100 days before [`now`], with missing props, custom props and repeats.
pub fn generate(n: usize, seed: u64, tenant: &str) -> Vec<NewEvent> {
    let mut rng = Rng::new(seed);
    let models = ["gpt-4", "claude", "llama", ""];
    let regions = ["eu", "us", "apac"];
    (0..n)
        .map(|i| {
            let secs = rng.below(100 * 86_400) as i64;
            let timestamp = now() - Duration::seconds(secs);
            let mut string_props = Vec::new();
            let mut numeric_props = Vec::new();
            let m = rng.below(5);
            if m < 4 {
                string_props.push(("model".to_owned(), models[m as usize].to_owned()));
            }
            if rng.below(3) > 0 {
                string_props.push(("region".to_owned(), regions[rng.below(3) as usize].to_owned()));
            }
            string_props
                .push(("status".to_owned(), if rng.below(10) == 0 { "error" } else { "success" }.to_owned()));
            if rng.below(4) > 0 {
                numeric_props.push(("latency_ms".to_owned(), (rng.below(5000) as f64) / 7.0));
            }
            if rng.below(2) > 0 {
                numeric_props.push(("score".to_owned(), rng.below(1000) as f64 - 300.0));
            }
            string_props.sort();
            numeric_props.sort_by(|a, b| a.0.cmp(&b.0));
            NewEvent {
                tenant_id: tenant.to_owned(),
                event_name: if rng.below(4) == 0 { "page.view" } else { "api.call" }.to_owned(),
                timestamp,
                event_id: format!("{seed}-{i}"),
                client_event_id: true,
                user_id: (rng.below(10) > 0).then(|| format!("user-{}", rng.below(400))),
                string_props,
                numeric_props,
            }
        })
        .collect()
}

fn spec_for(request: &QueryRequest) -> emban_host_server::events::QuerySpec {
    request.spec(now())
}

pub async fn load(store: &dyn EventStore) {
    for (scope, tenant, seed) in [(SCOPE, "acme", 7), (SCOPE, "globex", 8), (OTHER, "acme", 9)] {
        let events = generate(12_000, seed, tenant);
        for chunk in events.chunks(5_000) {
            let outcome = store.insert(scope, chunk.to_vec()).await.expect("insert");
            assert_eq!(outcome.stored, chunk.len());
        }
    }
}

/// Equal within `rel` of the larger magnitude, or within `abs`.
fn close(a: Option<f64>, b: Option<f64>, rel: f64, abs: f64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= (rel * x.abs().max(y.abs()).max(1.0)).max(abs),
        _ => false,
    }
}

fn requests() -> Vec<String> {
    let mut out = Vec::new();
    let metrics = ["count", "count_unique", "count_unique_approx", "sum", "avg", "p95", "p99"];
    let grans = [
        ("", "90d"),
        ("&granularity=hour", "7d"),
        ("&granularity=day", "30d"),
        ("&granularity=week", "90d"),
        ("&granularity=month", "90d"),
        ("", "24h"),
    ];
    let groups = ["", "&group_by=model", "&group_by=region"];
    let filters = ["", "&f_model=gpt-4", "&f_region=eu", "&f_status=error&f_model=claude"];
    for metric in metrics {
        for (gran, period) in grans {
            for group in groups {
                for filter in filters {
                    let numeric = match metric {
                        "sum" | "avg" => "&numeric_prop=latency_ms",
                        "p95" | "p99" => "&numeric_prop=score",
                        _ => "",
                    };
                    out.push(format!(
                        "event_name=api.call&tenant_id=acme&metric={metric}&period={period}{gran}{group}{filter}{numeric}"
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_and_clickhouse_agree_and_rollups_equal_raw() {
    let ch = ClickHouse::start();
    let dir = TempDir::new("emban-parity");
    // With its daily rollup: DuckDB's rollup answers are checked against ClickHouse's too.
    let duck = DuckStore::open_with(&dir.path().join("events.duckdb"), "512MB", true).expect("duckdb");
    let click = ClickHouseStore::open(&ch.url("parity")).await.expect("clickhouse");
    load(&duck).await;
    load(&click).await;

    // De-duplication: the same client ids again are all duplicates, on both.
    let again = generate(100, 7, "acme");
    assert_eq!(duck.insert(SCOPE, again.clone()).await.expect("dup").duplicates, 100);
    assert_eq!(click.insert(SCOPE, again).await.expect("dup").duplicates, 100);

    let mut checked = 0;
    let mut rollups = 0;
    for raw in requests() {
        let request = QueryRequest::parse(&raw).expect("request");
        let spec = request.spec(now());
        let d = shape(&request, &spec, duck.query(SCOPE, &spec).await.expect("duck"), Instant::now());
        let c_answer = click.query(SCOPE, &spec).await.expect("click");
        let planned = c_answer.planned_by;
        let c = shape(&request, &spec, c_answer, Instant::now());
        let (tolerance, slack) = (1e-9, 0.0);
        assert_eq!(d.data.len(), c.data.len(), "{raw}");
        // Keyed, not positional: approximate values may rank groups differently.
        let keyed = |rows: &[contract::query::QueryRow]| -> Keyed {
            rows.iter().map(|r| ((r.bucket.clone(), r.group.clone()), r.value)).collect()
        };
        let (dk, ck) = (keyed(&d.data), keyed(&c.data));
        assert_eq!(dk.len(), ck.len(), "{raw}");
        if raw.contains("count_unique_approx") {
            // Each against the exact distinct count of the same query: ClickHouse's
            // uniqCombined is exact for small sets and within 2% beyond; the DuckDB store
            // answers count_unique_approx exactly.
            let exact_raw = raw.replace("count_unique_approx", "count_unique");
            let exact_request = QueryRequest::parse(&exact_raw).expect("request");
            let exact = shape(
                &exact_request,
                &spec,
                duck.query(SCOPE, &spec_for(&exact_request)).await.expect("exact"),
                Instant::now(),
            );
            let ek = keyed(&exact.data);
            for (key, truth) in &ek {
                let (d_v, c_v) = (dk.get(key).copied().flatten(), ck.get(key).copied().flatten());
                assert!(
                    close(*truth, c_v, 0.02, 1.0),
                    "{raw}: exact {truth:?} vs clickhouse {c_v:?} at {key:?}"
                );
                assert_eq!(*truth, d_v, "{raw}: exact vs duckdb at {key:?}");
            }
        } else {
            for (key, a) in &dk {
                let b = ck.get(key).copied().flatten();
                assert!(ck.contains_key(key), "{raw}: {key:?} missing on ClickHouse");
                assert!(close(*a, b, tolerance, slack), "{raw}: duckdb {a:?} vs clickhouse {b:?} at {key:?}");
            }
        }
        // Whatever the planner picked, raw ClickHouse gives the very same answer.
        if let Plan::Rollup(_) = plan(&spec, &[]) {
            rollups += 1;
            assert_ne!(planned, "raw", "{raw}");
            let raw_answer = click.query_with_plan(SCOPE, &spec, &[], Plan::Raw).await.expect("raw");
            let r = shape(&request, &spec, raw_answer, Instant::now());
            for (a, b) in r.data.iter().zip(&c.data) {
                assert_eq!((&a.bucket, &a.group), (&b.bucket, &b.group), "{raw}");
                assert_eq!(a.value, b.value, "rollup vs raw: {raw} at {:?} {:?}", a.bucket, a.group);
            }
        } else {
            assert_eq!(planned, "raw", "{raw}");
        }
        checked += 1;
    }
    assert!(checked > 400 && rollups > 50, "checked {checked}, rollups {rollups}");

    // The planner's routes, as meta reports them.
    let route = |q: &str| {
        let request = QueryRequest::parse(q).expect("request");
        plan(&request.spec(now()), &[])
    };
    assert_eq!(
        route("event_name=e&tenant_id=t&metric=count&period=7d&granularity=hour&f_model=x"),
        Plan::Rollup(0)
    );
    assert_eq!(
        route("event_name=e&tenant_id=t&metric=count&period=30d&granularity=day&group_by=status"),
        Plan::Rollup(1)
    );
    assert_eq!(
        route("event_name=e&tenant_id=t&metric=count_unique_approx&period=90d&granularity=week"),
        Plan::Rollup(1)
    );
    assert_eq!(route("event_name=e&tenant_id=t&metric=count_unique&period=90d&granularity=week"), Plan::Raw);
    // Exact sets are not rolled up (their merges were slower than raw events at 100M).
    assert_eq!(route("event_name=e&tenant_id=t&metric=count_unique&period=7d&granularity=day"), Plan::Raw);
    assert_eq!(route("event_name=e&tenant_id=t&metric=count&period=7d&f_region=eu"), Plan::Raw);
    assert_eq!(route("event_name=e&tenant_id=t&metric=p95&period=7d&numeric_prop=tokens"), Plan::Raw);

    // A restart reloads the de-duplication set and keeps the rollups.
    click.close().await;
    let reopened = ClickHouseStore::open(&ch.url("parity")).await.expect("reopen");
    assert_eq!(reopened.insert(SCOPE, generate(10, 8, "globex")).await.expect("dup").duplicates, 10);
    assert_eq!(reopened.count_org_events(1).await.expect("count"), 24_000);
    reopened.close().await;
    duck.close().await;
}
