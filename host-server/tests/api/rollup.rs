//! The DuckDB store's optional daily rollup (`--duckdb-daily-rollup`): every query the planner
//! routes to it answers exactly as raw events do (buckets, groups, values), whatever the
//! dimensions' presence; it is kept current in the writer's transaction (duplicates are not
//! counted); turned off it is dropped, turned on it is rebuilt from the events.

use chrono::{DateTime, Duration, TimeZone, Utc};
use emban_host_server::{
    analytics::query::QueryRequest,
    events::{
        EventStore, NewEvent, StoreScope,
        duckdb::{self, DuckStore},
        planner::Plan,
    },
};

use crate::common::TempDir;

const SCOPE: StoreScope = StoreScope { org_id: 1, env_id: 1 };

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 18, 10, 30, 0).single().expect("time")
}

/// Deterministic events over 100 days: model and status present or absent (and `''`), a custom
/// prop, two tenants, two event names, client ids.
fn events(n: usize, seed: u64) -> Vec<NewEvent> {
    let mut x = seed.max(1);
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    (0..n)
        .map(|i| {
            let mut string_props = Vec::new();
            let model = next(5);
            if model < 4 {
                string_props
                    .push(("model".to_owned(), ["gpt-4", "claude", "", "llama"][model as usize].to_owned()));
            }
            if next(3) > 0 {
                string_props.push(("status".to_owned(), ["success", "error"][next(2) as usize].to_owned()));
            }
            if next(2) > 0 {
                string_props.push(("region".to_owned(), ["eu", "us"][next(2) as usize].to_owned()));
            }
            NewEvent {
                tenant_id: if next(4) == 0 { "globex" } else { "acme" }.to_owned(),
                event_name: if next(5) == 0 { "page.view" } else { "api.call" }.to_owned(),
                timestamp: now() - Duration::seconds(next(100 * 86_400) as i64),
                event_id: format!("{seed}-{i}"),
                client_event_id: true,
                user_id: Some(format!("u{}", next(50))),
                string_props,
                numeric_props: vec![("tokens".to_owned(), next(100) as f64)],
            }
        })
        .collect()
}

fn requests() -> Vec<String> {
    let mut out = Vec::new();
    for (gran, period) in [
        ("&granularity=day", "7d"),
        ("&granularity=day", "30d"),
        ("&granularity=week", "90d"),
        ("&granularity=month", "90d"),
        ("&granularity=hour", "24h"),
        ("", "30d"),
    ] {
        for group in ["", "&group_by=model", "&group_by=status", "&group_by=region"] {
            for filter in
                ["", "&f_model=gpt-4", "&f_model=", "&f_status=error&f_model=claude", "&f_region=eu"]
            {
                for (tenant, name) in [("acme", "api.call"), ("globex", "page.view")] {
                    out.push(format!(
                        "event_name={name}&tenant_id={tenant}&metric=count&period={period}{gran}{group}{filter}"
                    ));
                }
            }
        }
    }
    out
}

type Rows = Vec<(Option<i64>, Option<String>, Option<i64>)>;

async fn answer(store: &DuckStore, raw: &str, route: Plan) -> Rows {
    let spec = QueryRequest::parse(raw).expect("request").spec(now());
    let answer = store.query_with_plan(SCOPE, &spec, route).await.expect("query");
    let mut rows: Rows =
        answer.rows.iter().map(|r| (r.bucket, r.group.clone(), r.value.map(|v| v.round() as i64))).collect();
    rows.sort();
    rows
}

/// Checks every routed query against raw events; returns how many were routed.
async fn check_all(store: &DuckStore) -> usize {
    let mut routed = 0;
    for raw in requests() {
        let spec = QueryRequest::parse(&raw).expect("request").spec(now());
        let route = duckdb::plan(&spec, &[]);
        let eligible =
            !raw.contains("region") && !raw.contains("granularity=hour") && raw.contains("granularity");
        assert_eq!(matches!(route, Plan::Rollup(_)), eligible, "{raw}: routed {route:?}");
        if let Plan::Rollup(_) = route {
            routed += 1;
            let (rollup, events) = (answer(store, &raw, route).await, answer(store, &raw, Plan::Raw).await);
            assert_eq!(rollup, events, "{raw}");
            let answered = store.query(SCOPE, &spec).await.expect("query");
            assert_eq!(
                (answered.planned_by, answered.source_table.as_str()),
                ("daily_rollup", "events_daily")
            );
            assert_eq!(answered.rollup_granularity, Some("day"));
        }
    }
    routed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_rollup_answers_like_raw_events_and_is_backfilled() {
    let dir = TempDir::new();
    let path = dir.path().join("events.duckdb");
    let store = DuckStore::open_with(&path, "512MB", true).expect("open");
    let all = events(8_000, 5);
    for chunk in all.chunks(1_000) {
        store.insert(SCOPE, chunk.to_vec()).await.expect("insert");
    }
    // Other orgs' events never reach this org's answers.
    store.insert(StoreScope { org_id: 2, env_id: 1 }, events(500, 6)).await.expect("insert");
    // Duplicates are not counted, in events or in the rollup.
    assert_eq!(store.insert(SCOPE, all[..300].to_vec()).await.expect("dup").duplicates, 300);
    let routed = check_all(&store).await;
    assert_eq!(routed, 96, "day, week and month buckets x 3 groups x 4 filters x 2 scopes");
    let before = answer(
        &store,
        &requests()[0],
        duckdb::plan(&QueryRequest::parse(&requests()[0]).expect("r").spec(now()), &[]),
    )
    .await;
    store.close().await;

    // Turned off, the rollup is dropped and every query reads events; more events arrive; turned
    // on again, it is rebuilt from all of them.
    let store = DuckStore::open(&path, "512MB").expect("without the rollup");
    let spec = QueryRequest::parse(&requests()[0]).expect("r").spec(now());
    assert_eq!(store.query(SCOPE, &spec).await.expect("query").planned_by, "raw");
    store.insert(SCOPE, events(700, 9)).await.expect("insert");
    let expected = answer(&store, &requests()[0], Plan::Raw).await;
    assert_ne!(expected, before, "the new events changed the answer");
    store.close().await;
    let store = DuckStore::open_with(&path, "512MB", true).expect("reopen");
    assert_eq!(check_all(&store).await, 96);
    assert_eq!(answer(&store, &requests()[0], duckdb::plan(&spec, &[])).await, expected);
    store.close().await;
}

/// Over HTTP: the rollup is a dataset of its own, confined to the caller's org like `events`, and
/// answers `count` on whole-day windows with the planner's proof in `meta`.
#[tokio::test]
async fn the_rollup_is_an_org_scoped_dataset_and_meta_names_it() {
    use reqwest::StatusCode;
    use serde_json::json;

    use crate::{common::TestApp, model::Event};

    let app = TestApp::spawn_with(|args| args.duckdb_daily_rollup = true).await;
    let (us, them) = (app.register().await, app.register().await);
    let at = Utc::now() - Duration::hours(30);
    let ours: Vec<Event> =
        (0..30).map(|i| Event::new("t", "e", at).s("model", if i % 3 == 0 { "a" } else { "b" })).collect();
    app.ingest_ok(&us.admin(), &ours).await;
    app.ingest_ok(&them.admin(), &[Event::new("t", "e", at), Event::new("t", "e", at)]).await;

    let body = app.get("/v1/datasets", &us.admin()).await;
    let body = body.ok(StatusCode::OK);
    let names: Vec<&str> =
        body["datasets"].as_array().expect("datasets").iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ["events", "events_daily"]);
    assert_eq!(body["datasets"][1]["approx_rows"], 2, "two (day, model) rows of ours: {body}");
    let ddl = app.get("/v1/datasets/events_daily/ddl", &us.admin()).await;
    let ddl = ddl.ok(StatusCode::OK)["ddl"].as_str().expect("ddl").to_owned();
    assert!(ddl.contains("PRIMARY KEY") && ddl.contains("org_id = "), "{ddl}");

    let adhoc = app
        .post_json(
            "/v1/query/adhoc",
            &us.admin(),
            &json!({"sql": "SELECT sum(events) AS n FROM events_daily"}),
        )
        .await;
    assert_eq!(adhoc.ok(StatusCode::OK)["rows"], json!([[30]]), "only our org's events");

    let params = [
        ("event_name", "e"),
        ("tenant_id", "t"),
        ("metric", "count"),
        ("period", "7d"),
        ("granularity", "day"),
        ("group_by", "model"),
    ];
    let resp = app.query(&us.admin(), &params).await;
    let body = resp.ok(StatusCode::OK);
    assert_eq!(body["meta"]["planned_by"], "daily_rollup", "{body}");
    assert_eq!(body["meta"]["source_table"], "events_daily");
    assert_eq!(body["meta"]["rollup_granularity"], "day");
    assert_eq!(body["meta"]["rows_scanned"], 2, "rollup rows read");
    let total: f64 = body["data"].as_array().expect("data").iter().filter_map(|r| r["value"].as_f64()).sum();
    assert_eq!(total, 30.0);
}
