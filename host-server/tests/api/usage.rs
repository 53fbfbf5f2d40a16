//! `GET /v1/onboarding/status` and `GET /v1/usage` follow real ingests and queries.

use chrono::{Days, Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    common::{Auth, TestApp},
    model::Event,
};

fn events(prefix: &str, n: usize) -> Vec<Event> {
    let at = Utc::now() - Duration::hours(1);
    (0..n).map(|i| Event::new("t", "e", at).id(&format!("{prefix}-{i}"))).collect()
}

async fn run_queries(app: &TestApp, auth: &Auth, ok: usize, failing: usize) {
    for _ in 0..ok {
        app.count(auth, "t", "e", "24h").await;
    }
    for _ in 0..failing {
        app.query(auth, &[("event_name", "e"), ("tenant_id", "t"), ("metric", "bogus"), ("period", "24h")])
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_request");
    }
}

#[tokio::test]
async fn onboarding_status_reflects_real_ingests_and_queries() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let status = |body: &Value| {
        (
            body["real_events"].clone(),
            body["sample_events"].clone(),
            body["total_events"].clone(),
            body["sample_only"].clone(),
            body["is_demo"].clone(),
            body["steps"]["first_event_sent"].clone(),
            body["steps"]["first_query_run"].clone(),
        )
    };

    let fresh = app.get("/v1/onboarding/status", &admin).await;
    let fresh = fresh.ok(StatusCode::OK);
    assert_eq!(
        status(fresh),
        (json!(0), json!(0), json!(0), json!(false), json!(false), json!(false), json!(false))
    );
    assert_eq!(fresh["steps"]["account_created"], true);
    assert_eq!(fresh["steps"]["api_key_created"], true);

    // 7 new events, then the same 7 again plus 2 new: 9 stored, 7 duplicates.
    let ingest = app.create_key(&admin, "ingest").await.auth();
    let batch = events("a", 9);
    assert_eq!(app.ingest_ok(&ingest, &batch[..7]).await, (7, 0));
    assert_eq!(app.ingest_ok(&ingest, &batch).await, (2, 7));
    // A failed batch adds nothing.
    let resp = app.post_json("/v1/events", &ingest, &json!({ "events": [] })).await;
    resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    // Events in the development environment are real events of the org too.
    let dev = app.create_key_in(&admin, "ingest", "development").await.auth();
    assert_eq!(app.ingest_ok(&dev, &events("d", 3)).await, (3, 0));

    let after_ingest = app.get("/v1/onboarding/status", &account.session()).await;
    let after_ingest = after_ingest.ok(StatusCode::OK);
    assert_eq!(
        status(after_ingest),
        (json!(12), json!(0), json!(12), json!(false), json!(false), json!(true), json!(false))
    );

    run_queries(&app, &admin, 0, 2).await;
    let after_failed = app.get("/v1/onboarding/status", &admin).await;
    assert_eq!(
        after_failed.ok(StatusCode::OK)["steps"]["first_query_run"],
        false,
        "a 400 is not a query run"
    );
    run_queries(&app, &admin, 1, 0).await;
    let after_query = app.get("/v1/onboarding/status", &admin).await;
    assert_eq!(
        status(after_query.ok(StatusCode::OK)),
        (json!(12), json!(0), json!(12), json!(false), json!(false), json!(true), json!(true))
    );

    // Another org's status is its own.
    let other = app.register().await;
    let theirs = app.get("/v1/onboarding/status", &other.admin()).await;
    assert_eq!(
        status(theirs.ok(StatusCode::OK)),
        (json!(0), json!(0), json!(0), json!(false), json!(false), json!(false), json!(false))
    );
}

fn day(s: &Value) -> NaiveDate {
    NaiveDate::parse_from_str(s.as_str().expect("a day"), "%Y-%m-%d").expect("YYYY-MM-DD")
}

/// Checks the shape of a usage answer: one zero-filled entry per UTC day ending today, and
/// totals that are the sum of the days. Returns the totals.
fn check_usage(body: &Value, period: &str, days: u64, today: &[NaiveDate]) -> (u64, u64) {
    assert_eq!(body["period"], period);
    let (from, to) = (day(&body["from"]), day(&body["to"]));
    assert!(today.contains(&to), "{period}: to {to} is today ({today:?})");
    assert_eq!(from, to.checked_sub_days(Days::new(days - 1)).expect("date"), "{period}");
    let daily = body["daily"].as_array().expect("daily");
    assert_eq!(daily.len() as u64, days, "{period}: one entry per day");
    let mut expected_day = from;
    let (mut events, mut queries) = (0, 0);
    for entry in daily {
        let mut keys: Vec<&str> = entry.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["day", "events_ingested", "queries"]);
        assert_eq!(day(&entry["day"]), expected_day);
        expected_day = expected_day.succ_opt().expect("date");
        let (e, q) =
            (entry["events_ingested"].as_u64().expect("count"), entry["queries"].as_u64().expect("count"));
        if e + q > 0 {
            assert!(today.contains(&day(&entry["day"])), "usage only on the days of this test: {entry}");
        }
        events += e;
        queries += q;
    }
    let totals = (
        body["totals"]["events_ingested"].as_u64().expect("total"),
        body["totals"]["queries"].as_u64().expect("total"),
    );
    assert_eq!(totals, (events, queries), "{period}: totals are the sum of the days");
    totals
}

#[tokio::test]
async fn usage_counts_newly_stored_events_and_answered_queries() {
    let start_day = Utc::now().date_naive();
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let today = || vec![start_day, Utc::now().date_naive()];

    let resp = app.get("/v1/usage?period=30d", &admin).await;
    assert_eq!(check_usage(resp.ok(StatusCode::OK), "30d", 30, &today()), (0, 0));

    let ingest = app.create_key(&admin, "ingest").await.auth();
    let batch = events("u", 25);
    assert_eq!(app.ingest_ok(&ingest, &batch[..20]).await, (20, 0));
    assert_eq!(app.ingest_ok(&ingest, &batch).await, (5, 20));
    assert_eq!(app.ingest_ok(&admin, &batch[..5]).await, (0, 5));
    run_queries(&app, &admin, 3, 2).await;
    run_queries(&app, &account.session(), 1, 0).await;

    let resp = app.get("/v1/usage?period=30d", &admin).await;
    assert_eq!(check_usage(resp.ok(StatusCode::OK), "30d", 30, &today()), (25, 4));
    // Reading usage is not a query; the default period is 30 days.
    let resp = app.get("/v1/usage", &account.session()).await;
    assert_eq!(check_usage(resp.ok(StatusCode::OK), "30d", 30, &today()), (25, 4));
    for (period, days) in [("7d", 7), ("90d", 90), ("24h", 1), ("1h", 1)] {
        let resp = app.get(&format!("/v1/usage?period={period}"), &admin).await;
        assert_eq!(check_usage(resp.ok(StatusCode::OK), period, days, &today()), (25, 4), "{period}");
    }

    let other = app.register().await;
    let resp = app.get("/v1/usage?period=30d", &other.admin()).await;
    assert_eq!(
        check_usage(resp.ok(StatusCode::OK), "30d", 30, &today()),
        (0, 0),
        "another org's usage is its own"
    );

    for (query, param) in [("period=2d", "period"), ("period=30d&colour=red", "colour")] {
        let resp = app.get(&format!("/v1/usage?{query}"), &admin).await;
        let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.contains(param), "{query}: {message:?}");
    }
}
