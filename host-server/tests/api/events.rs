//! `POST /v1/events`: the Node guide's flows, validation, limits, content types, atomic batches,
//! de-duplication and timestamps.

use chrono::{Duration, FixedOffset, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    common::TestApp,
    model::{Event, Gran, Query, batch, iso, label},
    query::check,
};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn node_guide_track_event_is_accepted() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let ingest = app.create_key(&account.admin(), "ingest").await;
    // trackEvent('customer_1', 'api.call', {user_id, string_props, numeric_props}), as the guide sends it.
    let body = json!({
        "events": [{
            "tenant_id": "customer_1",
            "event_name": "api.call",
            "timestamp": iso(Utc::now()),
            "user_id": "user_42",
            "string_props": { "model": "gpt-4", "endpoint": "/chat" },
            "numeric_props": { "tokens": 150, "latency_ms": 230 }
        }]
    });
    let resp = app.post_json("/v1/events", &ingest.auth(), &body).await;
    assert_eq!(resp.ok(StatusCode::OK), &json!({ "accepted": 1, "status": "ok", "duplicates": 0 }));

    let admin = account.admin();
    assert_eq!(app.count(&admin, "customer_1", "api.call", "24h").await, 1);
    let params = [
        ("event_name", "api.call"),
        ("tenant_id", "customer_1"),
        ("metric", "sum"),
        ("period", "24h"),
        ("numeric_prop", "latency_ms"),
        ("f_model", "gpt-4"),
        ("f_endpoint", "/chat"),
    ];
    assert_eq!(app.query(&admin, &params).await.ok(StatusCode::OK)["data"], json!([{ "value": 230 }]));
}

#[tokio::test]
async fn node_guide_batched_flush_sends_a_thousand_at_a_time() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let ingest = app.create_key(&account.admin(), "ingest").await;
    // track() pushes into a buffer; flush() sends buffer.splice(0, 1000).
    let mut buffer: Vec<Value> = (0..1500)
        .map(|i| {
            json!({
                "tenant_id": "customer_1",
                "event_name": if i % 3 == 0 { "page.view" } else { "api.call" },
                "timestamp": iso(Utc::now()),
                "user_id": format!("user_{}", i % 37),
                "string_props": { "model": "gpt-4" },
                "numeric_props": { "tokens": i }
            })
        })
        .collect();
    let mut flushed = Vec::new();
    while !buffer.is_empty() {
        let events: Vec<Value> = buffer.drain(..buffer.len().min(1000)).collect();
        let resp = app.post_json("/v1/events", &ingest.auth(), &json!({ "events": events })).await;
        flushed.push(resp.ok(StatusCode::OK).clone());
    }
    assert_eq!(
        flushed,
        [
            json!({ "accepted": 1000, "status": "ok", "duplicates": 0 }),
            json!({ "accepted": 500, "status": "ok", "duplicates": 0 }),
        ]
    );
    let admin = account.admin();
    assert_eq!(app.count(&admin, "customer_1", "api.call", "24h").await, 1000);
    assert_eq!(app.count(&admin, "customer_1", "page.view", "24h").await, 500);
}

const VALID: &str = r#"{"tenant_id":"acme","event_name":"api.call"}"#;

/// `{"events":[<valid>, <second>]}`.
fn with_second(second: &str) -> String {
    format!(r#"{{"events":[{VALID},{second}]}}"#)
}

#[tokio::test]
async fn validation_failures_name_the_event_index_and_field() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let ingest = app.create_key(&account.admin(), "ingest").await;
    let long = "x".repeat(201);
    let many_props: String = (0..101).map(|i| format!(r#""k{i}":"v""#)).collect::<Vec<_>>().join(",");
    let cases: Vec<(String, &str)> = vec![
        (r#"{"event_name":"e"}"#.into(), "events[1].tenant_id"),
        (r#"{"tenant_id":null,"event_name":"e"}"#.into(), "events[1].tenant_id"),
        (r#"{"tenant_id":"","event_name":"e"}"#.into(), "events[1].tenant_id"),
        (r#"{"tenant_id":"   ","event_name":"e"}"#.into(), "events[1].tenant_id"),
        (format!(r#"{{"tenant_id":"{long}","event_name":"e"}}"#), "events[1].tenant_id"),
        (r#"{"tenant_id":7,"event_name":"e"}"#.into(), "events[1].tenant_id"),
        (r#"{"tenant_id":"t"}"#.into(), "events[1].event_name"),
        (r#"{"tenant_id":"t","event_name":""}"#.into(), "events[1].event_name"),
        (format!(r#"{{"tenant_id":"t","event_name":"{long}"}}"#), "events[1].event_name"),
        (r#"{"tenant_id":"t","event_name":["e"]}"#.into(), "events[1].event_name"),
        (r#"{"tenant_id":"t","event_name":"e","timestamp":"yesterday"}"#.into(), "events[1].timestamp"),
        (r#"{"tenant_id":"t","event_name":"e","timestamp":""}"#.into(), "events[1].timestamp"),
        (
            r#"{"tenant_id":"t","event_name":"e","timestamp":"2026-13-01T00:00:00Z"}"#.into(),
            "events[1].timestamp",
        ),
        (
            r#"{"tenant_id":"t","event_name":"e","timestamp":"1969-12-31T23:59:59Z"}"#.into(),
            "events[1].timestamp",
        ),
        (
            r#"{"tenant_id":"t","event_name":"e","timestamp":"2101-01-01T00:00:00Z"}"#.into(),
            "events[1].timestamp",
        ),
        (r#"{"tenant_id":"t","event_name":"e","timestamp":1763700000000}"#.into(), "events[1].timestamp"),
        (r#"{"tenant_id":"t","event_name":"e","user_id":42}"#.into(), "events[1].user_id"),
        (r#"{"tenant_id":"t","event_name":"e","user_id":""}"#.into(), "events[1].user_id"),
        (format!(r#"{{"tenant_id":"t","event_name":"e","user_id":"{long}"}}"#), "events[1].user_id"),
        (r#"{"tenant_id":"t","event_name":"e","event_id":7}"#.into(), "events[1].event_id"),
        (r#"{"tenant_id":"t","event_name":"e","event_id":""}"#.into(), "events[1].event_id"),
        (
            r#"{"tenant_id":"t","event_name":"e","string_props":{"region":5}}"#.into(),
            "events[1].string_props.region",
        ),
        (
            r#"{"tenant_id":"t","event_name":"e","string_props":{"ok":"v","region":true}}"#.into(),
            "events[1].string_props.region",
        ),
        (r#"{"tenant_id":"t","event_name":"e","string_props":"eu"}"#.into(), "events[1].string_props"),
        (
            format!(
                r#"{{"tenant_id":"t","event_name":"e","string_props":{{"region":"{}"}}}}"#,
                "y".repeat(1001)
            ),
            "events[1].string_props.region",
        ),
        (r#"{"tenant_id":"t","event_name":"e","string_props":{"":"v"}}"#.into(), "events[1].string_props"),
        (
            format!(r#"{{"tenant_id":"t","event_name":"e","string_props":{{{many_props}}}}}"#),
            "events[1].string_props",
        ),
        (
            r#"{"tenant_id":"t","event_name":"e","numeric_props":{"tokens":"150"}}"#.into(),
            "events[1].numeric_props.tokens",
        ),
        (
            r#"{"tenant_id":"t","event_name":"e","numeric_props":{"tokens":true}}"#.into(),
            "events[1].numeric_props.tokens",
        ),
        (
            r#"{"tenant_id":"t","event_name":"e","numeric_props":{"tokens":1e400}}"#.into(),
            "events[1].numeric_props.tokens",
        ),
        (
            r#"{"tenant_id":"t","event_name":"e","numeric_props":{"tokens":-1e400}}"#.into(),
            "events[1].numeric_props.tokens",
        ),
        (r#"{"tenant_id":"t","event_name":"e","numeric_props":[1]}"#.into(), "events[1].numeric_props"),
        (
            format!(r#"{{"tenant_id":"t","event_name":"e","numeric_props":{{"{long}":1}}}}"#),
            "events[1].numeric_props",
        ),
        (r#"{"tenant_id":"t","event_name":"e","colour":"red"}"#.into(), "events[1].colour"),
        (r#""not an event""#.into(), "events[1]"),
    ];
    let mut failures = Vec::new();
    for (second, field) in &cases {
        let resp =
            app.post_raw("/v1/events", &ingest.auth(), Some("application/json"), with_second(second)).await;
        let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
        if !message.contains(field) {
            failures.push(format!("{second:.80} -> {message:?} does not name {field}"));
        }
    }
    // Not one event of those batches was stored, including the valid first ones.
    assert_eq!(app.count(&account.admin(), "acme", "api.call", "24h").await, 0);
    assert!(failures.is_empty(), "messages that do not name the event and field:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn body_shape_errors_are_400s_naming_the_field() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let key = account.admin();
    let cases: [(String, &str); 6] = [
        (format!(r#"{{"events":[{VALID}],"extra":1}}"#), "extra"),
        (r#"{"events":[]}"#.into(), "events"),
        ("{}".into(), "events"),
        (r#"{"events":{"tenant_id":"t"}}"#.into(), "events"),
        (r#"{"events":null}"#.into(), "events"),
        (format!("[{VALID}]"), ""),
    ];
    for (body, field) in cases {
        let resp = app.post_raw("/v1/events", &key, Some("application/json"), body.clone()).await;
        let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.starts_with(field), "{body}: {message:?} should name {field}");
    }
    // Malformed JSON, truncated JSON, and no body at all: 400s in the envelope.
    for body in [r#"{"events":[{"tenant_id":"t","#, "{events: []}", ""] {
        let resp = app.post_raw("/v1/events", &key, Some("application/json"), body).await;
        resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    assert_eq!(app.count(&key, "acme", "api.call", "24h").await, 0);
}

#[tokio::test]
async fn boundary_values_are_accepted() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let key = account.admin();
    let at = Utc::now() - Duration::hours(1);
    let name200 = "n".repeat(200);
    let wide = "é".repeat(200); // 200 characters, 400 bytes
    let mut event = Event::new(&wide, &name200, at).user(&name200).id(&name200).s("value", &"v".repeat(1000));
    for i in 0..99 {
        event = event.s(&format!("s{i}"), "x");
    }
    for i in 0..98 {
        event = event.n(&format!("n{i}"), f64::from(i) - 50.5);
    }
    event = event.n("big", 1.7e308).n("small", -1e-300);
    // A `null` timestamp, user and props are as good as absent.
    let nulls = json!({
        "tenant_id": "t", "event_name": "e", "timestamp": null, "event_id": null,
        "user_id": null, "string_props": null, "numeric_props": null
    });
    let body = json!({ "events": [event.to_json(), nulls] });
    let resp = app.post_json("/v1/events", &key, &body).await;
    assert_eq!(resp.ok(StatusCode::OK), &json!({ "accepted": 2, "status": "ok", "duplicates": 0 }));
    assert_eq!(app.count(&key, &wide, &name200, "24h").await, 1);
    assert_eq!(app.count(&key, "t", "e", "24h").await, 1);
}

#[tokio::test]
async fn batches_of_ten_thousand_pass_and_larger_ones_are_413s() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let key = account.admin();
    let at = Utc::now() - Duration::hours(1);
    let events: Vec<Event> = (0..10_001).map(|i| Event::new("t", "e", at).user(&format!("u{i}"))).collect();

    let resp = app.ingest(&key, &events).await;
    let message = resp.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(message.contains("10000") || message.contains("10,000"), "states the limit: {message:?}");
    assert_eq!(app.count(&key, "t", "e", "24h").await, 0);

    assert_eq!(app.ingest_ok(&key, &events[..10_000]).await, (10_000, 0));
    assert_eq!(app.count(&key, "t", "e", "24h").await, 10_000);
}

#[tokio::test]
async fn bodies_over_ten_mib_are_413s_stating_the_limit() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let key = account.admin();
    let at = Utc::now() - Duration::hours(1);
    let events: Vec<Event> = (0..5).map(|i| Event::new("t", "e", at).id(&format!("evt-{i}"))).collect();
    let json = batch(&events).to_string();
    // Valid JSON padded with trailing whitespace to an exact size.
    let padded = |size: usize| format!("{json}{}", " ".repeat(size - json.len()));

    let resp = app.post_raw("/v1/events", &key, Some("application/json"), padded(10 * MIB + 1)).await;
    let message = resp.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(message.contains("10 MiB") || message.contains("10485760"), "states the limit: {message:?}");
    assert_eq!(app.count(&key, "t", "e", "24h").await, 0);

    // A realistic oversized batch: 1,100 events with ten 1,000-character props each.
    let fat: Vec<Event> = (0..1100)
        .map(|i| {
            (0..10).fold(Event::new("t", "e", at).id(&format!("fat-{i}")), |e, k| {
                e.s(&format!("p{k}"), &"z".repeat(1000))
            })
        })
        .collect();
    let body = batch(&fat).to_string();
    assert!(body.len() > 10 * MIB);
    let resp = app.post_raw("/v1/events", &key, Some("application/json"), body).await;
    resp.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert_eq!(app.count(&key, "t", "e", "24h").await, 0);

    // Exactly 10 MiB is within the limit.
    let resp = app.post_raw("/v1/events", &key, Some("application/json"), padded(10 * MIB)).await;
    assert_eq!(resp.ok(StatusCode::OK)["accepted"], 5);
}

#[tokio::test]
async fn bodies_must_be_declared_as_json() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let key = account.admin();
    let body = batch(&[Event::new("t", "e", Utc::now() - Duration::hours(1))]).to_string();
    for content_type in
        [Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/jsonx"), None]
    {
        let resp = app.post_raw("/v1/events", &key, content_type, body.clone()).await;
        let message = resp.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        assert!(message.contains("application/json"), "{content_type:?}: {message:?}");
    }
    assert_eq!(app.count(&key, "t", "e", "24h").await, 0);
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let resp = app.post_raw("/v1/events", &key, Some(content_type), body.clone()).await;
        assert_eq!(resp.ok(StatusCode::OK)["accepted"], 1, "{content_type}");
    }
    assert_eq!(app.count(&key, "t", "e", "24h").await, 2);
}

#[tokio::test]
async fn a_batch_with_an_invalid_last_event_stores_nothing() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let ingest = app.create_key(&account.admin(), "ingest").await;
    let admin = account.admin();
    let at = Utc::now() - Duration::hours(2);
    let first: Vec<Event> =
        (0..3).map(|i| Event::new("acme", "api.call", at).id(&format!("first-{i}"))).collect();
    assert_eq!(app.ingest_ok(&ingest.auth(), &first).await, (3, 0));
    assert_eq!(app.count(&admin, "acme", "api.call", "24h").await, 3);

    let good: Vec<Event> =
        (0..5).map(|i| Event::new("acme", "api.call", at).id(&format!("good-{i}"))).collect();
    let mut events: Vec<Value> = good.iter().map(Event::to_json).collect();
    events.push(json!({ "tenant_id": "acme", "event_name": "api.call", "timestamp": "not a time" }));
    let resp = app.post_json("/v1/events", &ingest.auth(), &json!({ "events": events })).await;
    let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(message.contains("events[5].timestamp"), "{message:?}");
    assert_eq!(app.count(&admin, "acme", "api.call", "24h").await, 3, "none of the batch was stored");

    // Nothing of the failed batch was remembered either: its ids are still new.
    assert_eq!(app.ingest_ok(&ingest.auth(), &good).await, (5, 0));
    assert_eq!(app.count(&admin, "acme", "api.call", "24h").await, 8);
}

#[tokio::test]
async fn repeated_event_ids_are_skipped_within_an_org_and_environment() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let ingest = app.create_key(&admin, "ingest").await.auth();
    let at = Utc::now() - Duration::hours(2);
    let a = Event::new("acme", "api.call", at).id("evt-a").n("tokens", 1.0);
    let b = Event::new("acme", "api.call", at).id("evt-b").n("tokens", 10.0);

    // The same id twice in one batch: the first is stored.
    let twice = [a.clone(), a.clone().n("tokens", 1000.0)];
    assert_eq!(app.ingest_ok(&ingest, &twice).await, (1, 1));
    // A resent batch: only the new id is stored.
    assert_eq!(app.ingest_ok(&ingest, &[a.clone(), b.clone()]).await, (1, 1));
    assert_eq!(app.ingest_ok(&ingest, &[a.clone(), b.clone()]).await, (0, 2));
    assert_eq!(app.count(&admin, "acme", "api.call", "24h").await, 2);
    let sum = [
        ("event_name", "api.call"),
        ("tenant_id", "acme"),
        ("metric", "sum"),
        ("period", "24h"),
        ("numeric_prop", "tokens"),
    ];
    assert_eq!(
        app.query(&admin, &sum).await.ok(StatusCode::OK)["data"],
        json!([{ "value": 11 }]),
        "the first copy is kept"
    );

    // Events without an id are never duplicates of each other.
    let anonymous = Event::new("acme", "api.call", at);
    assert_eq!(app.ingest_ok(&ingest, &[anonymous.clone(), anonymous.clone()]).await, (2, 0));
    assert_eq!(app.ingest_ok(&ingest, &[anonymous]).await, (1, 0));
    assert_eq!(app.count(&admin, "acme", "api.call", "24h").await, 5);

    // The same id in the org's development environment is a different event...
    let dev_ingest = app.create_key_in(&admin, "ingest", "development").await;
    assert_eq!(dev_ingest.body["environment"], "development");
    assert_eq!(app.ingest_ok(&dev_ingest.auth(), &[a.clone(), b.clone()]).await, (2, 0));
    assert_eq!(app.ingest_ok(&dev_ingest.auth(), std::slice::from_ref(&a)).await, (0, 1));
    let dev_admin = app.create_key_in(&admin, "admin", "development").await.auth();
    assert_eq!(app.count(&dev_admin, "acme", "api.call", "24h").await, 2);
    assert_eq!(app.count(&admin, "acme", "api.call", "24h").await, 5, "production is unchanged");

    // ...and so it is in another org.
    let other = app.register().await;
    assert_eq!(app.ingest_ok(&other.admin(), &[a, b]).await, (2, 0));
    assert_eq!(app.count(&other.admin(), "acme", "api.call", "24h").await, 2);
    assert_eq!(app.count(&admin, "acme", "api.call", "24h").await, 5);
}

#[tokio::test]
async fn timestamps_default_to_server_time_and_offsets_are_honoured() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let key = account.admin();
    let hour = Gran::Hour.start(Utc::now());
    let three_ago = hour - Duration::hours(3) + Duration::minutes(10);
    let six_ago = hour - Duration::hours(6) + Duration::minutes(59);
    let nine_ago = hour - Duration::hours(9) + Duration::seconds(1);
    let plus_two = FixedOffset::east_opt(2 * 3600).expect("offset");
    let events = json!({ "events": [
        // Node's toISOString().
        { "tenant_id": "t", "event_name": "e", "timestamp": iso(three_ago) },
        // An instant written with a +02:00 offset.
        { "tenant_id": "t", "event_name": "e", "timestamp": six_ago.with_timezone(&plus_two).to_rfc3339() },
        // No offset: UTC.
        { "tenant_id": "t", "event_name": "e", "timestamp": nine_ago.format("%Y-%m-%dT%H:%M:%S").to_string() },
    ]});
    assert_eq!(app.post_json("/v1/events", &key, &events).await.ok(StatusCode::OK)["accepted"], 3);

    // No timestamp: the server's clock at the time of the request.
    let before = Utc::now();
    let resp = app
        .post_json("/v1/events", &key, &json!({ "events": [{ "tenant_id": "t", "event_name": "e" }] }))
        .await;
    let after = Utc::now();
    assert_eq!(resp.ok(StatusCode::OK)["accepted"], 1);

    let q = Query::new("t", "e", "count", "24h").granularity(Some("hour"));
    let params = q.params();
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let body = app.query(&key, &pairs).await.ok(StatusCode::OK).clone();
    let nonzero: Vec<(String, u64)> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter(|r| r["value"] != 0)
        .map(|r| (r["bucket"].as_str().expect("bucket").to_owned(), r["value"].as_u64().expect("count")))
        .collect();
    let server_hours = [label(Gran::Hour.start(before)), label(Gran::Hour.start(after))];
    assert_eq!(nonzero.len(), 4, "{nonzero:?}");
    assert_eq!(nonzero[0], (label(Gran::Hour.start(nine_ago)), 1));
    assert_eq!(nonzero[1], (label(Gran::Hour.start(six_ago)), 1));
    assert_eq!(nonzero[2], (label(Gran::Hour.start(three_ago)), 1));
    assert!(
        server_hours.contains(&nonzero[3].0) && nonzero[3].1 == 1,
        "server time lands in the hour of the request: {nonzero:?}"
    );
}

#[tokio::test]
async fn events_are_confined_to_their_tenant() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let key = account.admin();
    let at = Utc::now() - Duration::hours(1);
    let mut events = Vec::new();
    for i in 0..7 {
        events.push(
            Event::new("tenant_a", "api.call", at)
                .user(&format!("a{i}"))
                .s("model", "gpt-4")
                .n("tokens", 100.0),
        );
    }
    for i in 0..3 {
        events.push(
            Event::new("tenant_b", "api.call", at)
                .user(&format!("b{i}"))
                .s("model", "claude-3")
                .n("tokens", 1.0),
        );
    }
    app.ingest_ok(&key, &events).await;
    for (tenant, count, users, tokens) in
        [("tenant_a", 7, 7, 700), ("tenant_b", 3, 3, 3), ("tenant_c", 0, 0, 0)]
    {
        assert_eq!(app.count(&key, tenant, "api.call", "24h").await, count);
        let q = Query::new(tenant, "api.call", "count_unique", "24h");
        assert_eq!(check(&app, &key, &events, &q).await["data"], json!([{ "value": users }]));
        if count > 0 {
            let q = Query::new(tenant, "api.call", "sum", "24h").numeric_prop(Some("tokens"));
            assert_eq!(check(&app, &key, &events, &q).await["data"], json!([{ "value": tokens }]));
        }
        // Grouping shows only the tenant's own values.
        let q = Query::new(tenant, "api.call", "count", "7d").group_by("model");
        let groups: Vec<Value> = check(&app, &key, &events, &q).await["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|r| r["group"].clone())
            .collect();
        let want: Vec<Value> = match tenant {
            "tenant_a" => vec![json!("gpt-4")],
            "tenant_b" => vec![json!("claude-3")],
            _ => vec![],
        };
        assert_eq!(groups, want, "{tenant}");
    }
}

#[tokio::test]
async fn orgs_never_see_each_others_events() {
    let app = TestApp::spawn().await;
    let first = app.register().await;
    let second = app.register().await;
    let at = Utc::now() - Duration::hours(1);
    let mine: Vec<Event> = (0..4).map(|i| Event::new("acme", "api.call", at).id(&format!("e{i}"))).collect();
    let theirs: Vec<Event> =
        (0..9).map(|i| Event::new("acme", "api.call", at).id(&format!("e{i}"))).collect();
    app.ingest_ok(&first.admin(), &mine).await;
    let their_ingest = app.create_key(&second.admin(), "ingest").await;
    app.ingest_ok(&their_ingest.auth(), &theirs).await;

    assert_eq!(app.count(&first.admin(), "acme", "api.call", "24h").await, 4);
    assert_eq!(app.count(&first.session(), "acme", "api.call", "24h").await, 4);
    assert_eq!(app.count(&second.admin(), "acme", "api.call", "24h").await, 9);
    assert_eq!(app.count(&second.session(), "acme", "api.call", "24h").await, 9);

    // Nor each other's keys.
    let resp = app.delete(&format!("/v1/api-keys/{}", their_ingest.id), &first.admin()).await;
    resp.error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.ingest_ok(&their_ingest.auth(), &[Event::new("acme", "api.call", at)]).await, (1, 0));
    let listed = app.get("/v1/api-keys", &first.admin()).await;
    let ids: Vec<&Value> =
        listed.ok(StatusCode::OK)["api_keys"].as_array().expect("list").iter().map(|k| &k["id"]).collect();
    assert!(!ids.contains(&&json!(their_ingest.id)), "{ids:?}");
    assert_eq!(ids.len(), 1, "only the first org's default key");
}

#[tokio::test]
async fn a_session_ingests_into_the_environment_it_names() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let at = Utc::now() - Duration::hours(1);
    let session = account.session();
    let dev = |path: &str| {
        app.request(reqwest::Method::POST, path, &session).header("X-Emban-Environment", "development")
    };
    let resp =
        app.send(dev("/v1/events").json(&batch(&[Event::new("t", "e", at), Event::new("t", "e", at)]))).await;
    assert_eq!(resp.ok(StatusCode::OK)["accepted"], 2);
    assert_eq!(app.count(&session, "t", "e", "24h").await, 0, "production has none");
    let resp = app
        .send(
            app.request(
                reqwest::Method::GET,
                "/v1/query?event_name=e&tenant_id=t&metric=count&period=24h",
                &session,
            )
            .header("X-Emban-Environment", "development"),
        )
        .await;
    assert_eq!(resp.ok(StatusCode::OK)["data"], json!([{ "value": 2 }]));
    let resp = app
        .send(
            app.request(reqwest::Method::GET, "/v1/auth/me", &session)
                .header("X-Emban-Environment", "staging"),
        )
        .await;
    let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(message.to_lowercase().contains("x-emban-environment"), "{message:?}");
    // An API key ignores the header: it belongs to one environment.
    let resp = app.send(
        app.request(reqwest::Method::POST, "/v1/events", &account.admin())
            .header("X-Emban-Environment", "development")
            .json(&batch(&[Event::new("t", "e", at)])),
    );
    assert_eq!(resp.await.ok(StatusCode::OK)["accepted"], 1);
    assert_eq!(app.count(&account.admin(), "t", "e", "24h").await, 1);
}

#[tokio::test]
async fn timestamps_are_bounded_by_retention_and_clock_skew() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let event =
        |t: chrono::DateTime<Utc>| json!({ "tenant_id": "t", "event_name": "e", "timestamp": iso(t) });
    let now = Utc::now();
    let ok = json!({ "events": [event(now - Duration::days(399)), event(now + Duration::hours(23))] });
    assert_eq!(app.post_json("/v1/events", &admin, &ok).await.ok(StatusCode::OK)["accepted"], 2);
    for (events, field, says) in [
        (vec![event(now), event(now - Duration::days(401))], "events[1].timestamp", "400 days in the past"),
        (vec![event(now + Duration::hours(25))], "events[0].timestamp", "86400 seconds in the future"),
    ] {
        let resp = app.post_json("/v1/events", &admin, &json!({ "events": events })).await;
        let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.starts_with(field) && message.contains(says), "{message}");
    }

    // Both bounds are settings (`--ingest-max-age-days`, `--ingest-max-future-secs`).
    let app = TestApp::spawn_with(|args| {
        args.ingest_max_age_days = 10;
        args.ingest_max_future_secs = 60;
    })
    .await;
    let admin = app.register().await.admin();
    let ok = json!({ "events": [event(now - Duration::days(9)), event(now + Duration::seconds(30))] });
    app.post_json("/v1/events", &admin, &ok).await.ok(StatusCode::OK);
    for t in [now - Duration::days(11), now + Duration::minutes(5)] {
        let resp = app.post_json("/v1/events", &admin, &json!({ "events": [event(t)] })).await;
        assert!(resp.error(StatusCode::BAD_REQUEST, "invalid_request").starts_with("events[0].timestamp"));
    }
}

#[tokio::test]
async fn tenant_ids_follow_the_rule_of_embed_minting() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let dashboard = app
        .post_json("/v1/dashboards", &admin, &json!({ "name": "d", "widgets": [] }))
        .await
        .ok(StatusCode::CREATED)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let long = "x".repeat(201);
    let longest = "ü".repeat(200);
    for tenant in
        ["acme", " padded ", longest.as_str(), "", " ", "\t", "tab\there", "nul\u{0}", long.as_str()]
    {
        let ingest = app
            .post_json(
                "/v1/events",
                &admin,
                &json!({ "events": [{ "tenant_id": tenant, "event_name": "e" }] }),
            )
            .await;
        let mint = app
            .post_json(
                "/v1/embed-sessions",
                &admin,
                &json!({ "tenant_id": tenant, "dashboard_id": dashboard }),
            )
            .await;
        let ingest_ok = ingest.status == StatusCode::OK;
        let mint_ok = mint.status == StatusCode::CREATED;
        assert_eq!(ingest_ok, mint_ok, "{tenant:?}: ingest {} / mint {}", ingest.text, mint.text);
        if !ingest_ok {
            assert!(
                ingest.error(StatusCode::BAD_REQUEST, "invalid_request").starts_with("events[0].tenant_id")
            );
            assert!(mint.error(StatusCode::BAD_REQUEST, "invalid_request").starts_with("tenant_id"));
        }
    }
}
