//! Ad-hoc SQL cannot take the server down: the queries that once ran a self-registered user's
//! server out of memory get a clear 400/413/429 fast while the server's peak RSS stays under
//! 1 GiB, and heavy ad-hoc work queues per org (429 past the wait) without slowing dashboards.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::json;

use crate::{
    common::{Auth, Resp, TempDir, http_client, unique_email},
    durability::Binary,
    model::{Event, batch},
};

const GIB: u64 = 1 << 30;

async fn adhoc(client: &reqwest::Client, base: &str, auth: &Auth, sql: &str) -> (Resp, Duration) {
    let started = Instant::now();
    let request = auth.apply(client.post(format!("{base}/v1/query/adhoc")).json(&json!({ "sql": sql })));
    let resp = Resp::read(request.send().await.expect("request")).await;
    (resp, started.elapsed())
}

/// Registers an account on `base` and loads `n` events; returns its admin key.
async fn account_with_events(client: &reqwest::Client, base: &str, n: usize) -> Auth {
    let body = json!({ "email": unique_email(), "password": "correct horse battery staple" });
    let resp = Resp::read(
        client
            .post(format!("{base}/v1/auth/register"))
            .header("Origin", base)
            .json(&body)
            .send()
            .await
            .expect("register"),
    )
    .await;
    let auth = Auth::Key(resp.ok(StatusCode::CREATED)["api_key"]["key"].as_str().expect("key").to_owned());
    let now = Utc::now();
    let events: Vec<Event> = (0..n)
        .map(|i| Event::new(&format!("t{}", i % 7), "page_view", now - chrono::Duration::seconds(i as i64)))
        .collect();
    for chunk in events.chunks(1_000) {
        let request = auth.apply(client.post(format!("{base}/v1/events")).json(&batch(chunk)));
        Resp::read(request.send().await.expect("ingest")).await.ok(StatusCode::OK);
    }
    auth
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runaway_adhoc_sql_gets_a_clear_refusal_and_the_server_stays_small() {
    let dir = TempDir::new();
    // The embedded default's settings: no flags.
    let log = dir.path().join("server.log");
    let server = Binary::start_with(&dir.path().join("data"), &log, &[]);
    let client = http_client();
    let auth = account_with_events(&client, &server.url, 5_000).await;

    // The list-building queries, and the same class through other spellings.
    let doubling: String = {
        let mut sql = "WITH s0 AS (SELECT 'xxxxxxxxxxxxxxxx' AS s)".to_owned();
        for i in 1..=27 {
            sql.push_str(&format!(", s{i} AS (SELECT s || s AS s FROM s{})", i - 1));
        }
        sql + " SELECT length(s) FROM s27"
    };
    let attempts = [
        "SELECT len(range(2000000000))".to_owned(),
        "SELECT range(100000000)".to_owned(),
        "SELECT repeat('x', 1000000000)".to_owned(),
        "SELECT list_sum(range(1000000000))".to_owned(),
        "SELECT generate_series(1, 1000000000)".to_owned(),
        "SELECT lpad('x', 1000000000, 'y')".to_owned(),
        "SELECT length(string_agg(a.event_name || b.event_name, ',')) FROM events a, events b".to_owned(),
        "SELECT list(a.event_name) FROM events a, events b".to_owned(),
        doubling,
        "SELECT 'x'.repeat(1000000000)".to_owned(),
    ];
    for sql in &attempts {
        let (resp, took) = adhoc(&client, &server.url, &auth, sql).await;
        let status = resp.status;
        assert!(
            [StatusCode::BAD_REQUEST, StatusCode::PAYLOAD_TOO_LARGE, StatusCode::TOO_MANY_REQUESTS]
                .contains(&status),
            "{sql}: {status} {:?}\nserver log:\n{}",
            resp.body,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert!(resp.body["error"].as_str().is_some_and(|e| e.starts_with("sql:")), "{sql}: {:?}", resp.body);
        assert!(took < Duration::from_secs(16), "{sql} took {took:?}");
        let rss = server.peak_rss();
        let error = resp.body["error"].as_str().unwrap_or_default();
        eprintln!(
            "{status} in {took:?}, peak RSS {} MiB: {}: {}",
            rss >> 20,
            &sql[..sql.len().min(60)],
            &error[..error.len().min(90)]
        );
        assert!(rss < GIB, "peak RSS {} MiB after {sql}", rss >> 20);
    }

    // A large answer is cut at the byte cap, not refused and not a 500.
    let (resp, _) =
        adhoc(&client, &server.url, &auth, "SELECT event_name || tenant_id || event_id AS x FROM events")
            .await;
    let body = resp.ok(StatusCode::OK);
    assert_eq!(body["stats"]["rows_returned"], json!(5_000));
    let (resp, _) = adhoc(
        &client,
        &server.url,
        &auth,
        "SELECT string_agg(a.event_id, ',') AS x FROM events a, (SELECT * FROM events LIMIT 400) b GROUP BY a.event_id",
    )
    .await;
    let body = resp.ok(StatusCode::OK).clone();
    assert_eq!(body["stats"]["truncated"], json!(true), "{}", body["stats"]);
    let bytes = serde_json::to_vec(&body["rows"]).expect("json").len();
    assert!(bytes <= 8 * 1024 * 1024 + 64 * 1024, "{bytes} bytes");
    eprintln!("byte cap: {} rows, {bytes} bytes, truncated", body["stats"]["rows_returned"]);
    assert!(server.peak_rss() < GIB, "peak RSS {} MiB", server.peak_rss() >> 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn heavy_adhoc_work_queues_per_org_and_dashboards_keep_answering() {
    let dir = TempDir::new();
    let log = dir.path().join("server.log");
    let server = Binary::start_with(&dir.path().join("data"), &log, &[]);
    let client = http_client();
    let auth = account_with_events(&client, &server.url, 3_000).await;
    let other = account_with_events(&client, &server.url, 100).await;

    // Three queries that each run to the time limit, from one org at once.
    let heavy = "SELECT count(*) FROM events a, events b, events c \
                 WHERE hash(a.event_id || b.event_id || c.event_id) % 7 = 1";
    let mut running = Vec::new();
    for _ in 0..3 {
        let (client, base, auth) = (client.clone(), server.url.clone(), auth.clone());
        running.push(tokio::spawn(async move { adhoc(&client, &base, &auth, heavy).await }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Meanwhile the other org's dashboard query answers at once.
    let started = Instant::now();
    let request =
        other.apply(client.get(format!(
            "{}/v1/query?tenant_id=t0&event_name=page_view&metric=count&period=24h",
            server.url
        )));
    Resp::read(request.send().await.expect("query")).await.ok(StatusCode::OK);
    let dashboard = started.elapsed();
    eprintln!("dashboard query during 3 heavy ad-hoc queries: {dashboard:?}");
    assert!(dashboard < Duration::from_secs(2), "{dashboard:?}");

    let mut statuses = Vec::new();
    for task in running {
        let (resp, took) = task.await.expect("task");
        if resp.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(resp.body["code"], json!("rate_limited"));
            let retry: u64 = resp.headers["retry-after"].to_str().expect("ascii").parse().expect("secs");
            assert!(retry >= 1);
        }
        statuses.push((resp.status, took));
    }
    eprintln!("three heavy ad-hoc queries from one org: {statuses:?}");
    assert!(statuses.iter().any(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert!(statuses.iter().all(|(s, _)| *s != StatusCode::INTERNAL_SERVER_ERROR), "{statuses:?}");
}
