//! The SSRF guard end to end: a DNS name that resolves to loopback and every other spelling of
//! a loopback or unspecified address is refused at the door (alerts and reports created and
//! patched, `POST /v1/webhooks/test`), and a name accepted earlier is refused at delivery once
//! its address is refused: nothing reaches the receiver and the attempt is logged.

use chrono::Duration;
use reqwest::{StatusCode, Url};
use serde_json::json;

use crate::fixture::{Receiver, TestApp};

#[tokio::test]
async fn names_resolving_to_loopback_and_every_spelling_of_it_are_refused_at_the_door() {
    // No allowlist: the guard's defaults.
    let app = TestApp::spawn(|a| a.webhook_allow_cidrs.clear()).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    let alert = app
        .post(
            "/v1/alerts",
            &org.key,
            &json!({ "dashboard_id": dash, "widget_id": "calls", "name": "Busy", "condition_type": "threshold",
                     "operator": "gt", "threshold_value": 3, "tenant_id": "acme", "email_to": ["ops@example.com"] }),
        )
        .await
        .ok(StatusCode::CREATED)["id"]
        .as_i64()
        .expect("id");
    let report = app
        .post(
            "/v1/reports",
            &org.key,
            &json!({ "dashboard_id": dash, "tenant_id": "acme", "schedule": "0 9 * * *",
                     "email_to": ["boss@example.com"] }),
        )
        .await
        .ok(StatusCode::CREATED)["id"]
        .as_i64()
        .expect("id");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    // (URL, the host the `url` crate normalises it to, what the error must say).
    let localhost = format!("http://localhost:{port}/hook");
    let cases: Vec<(&str, Option<&str>, &str)> = vec![
        // A DNS name (from /etc/hosts) that resolves to loopback.
        (&localhost, Some("localhost"), "localhost resolves to 127.0.0.1, which is a loopback address"),
        ("http://[::1]/", Some("[::1]"), "::1 is a loopback address"),
        // IPv4-mapped and NAT64 forms are judged as the IPv4 address they carry.
        ("http://[::ffff:127.0.0.1]/", Some("[::ffff:7f00:1]"), "127.0.0.1 is a loopback address"),
        ("http://[0:0:0:0:0:ffff:7f00:1]/", Some("[::ffff:7f00:1]"), "127.0.0.1 is a loopback address"),
        ("http://[64:ff9b::7f00:1]/", Some("[64:ff9b::7f00:1]"), "a loopback address"),
        // Numeric IPv4 spellings: WHATWG URL parsing (the `url` crate) turns them into 127.0.0.1
        // before the guard sees the host.
        ("http://2130706433/", Some("127.0.0.1"), "127.0.0.1 is a loopback address"),
        ("http://0x7f.1/", Some("127.0.0.1"), "127.0.0.1 is a loopback address"),
        ("http://0x7f000001/", Some("127.0.0.1"), "127.0.0.1 is a loopback address"),
        ("http://0177.0.0.1/", Some("127.0.0.1"), "127.0.0.1 is a loopback address"),
        ("http://127.1/", Some("127.0.0.1"), "127.0.0.1 is a loopback address"),
        ("http://0/", Some("0.0.0.0"), "0.0.0.0 is an unspecified"),
        ("http://[::]/", Some("[::]"), ":: is an unspecified address"),
        // The same name with a trailing dot: refused too (resolved or not).
        ("http://localhost./", Some("localhost."), "localhost."),
    ];
    for (url, host, why) in cases {
        assert_eq!(Url::parse(url).expect("url").host_str(), host, "{url} normalises");
        let mut messages = vec![
            app.post("/v1/webhooks/test", &org.key, &json!({ "url": url })).await.invalid("webhook_url"),
            app.patch(&format!("/v1/alerts/{alert}"), &org.key, &json!({ "webhook_url": url }))
                .await
                .invalid("webhook_url"),
            app.patch(&format!("/v1/reports/{report}"), &org.key, &json!({ "webhook_url": url }))
                .await
                .invalid("webhook_url"),
        ];
        let new_alert = json!({ "dashboard_id": dash, "widget_id": "calls", "name": "Busy",
                                "condition_type": "threshold", "operator": "gt", "threshold_value": 3,
                                "tenant_id": "acme", "webhook_url": url });
        messages.push(app.post("/v1/alerts", &org.key, &new_alert).await.invalid("webhook_url"));
        let new_report = json!({ "dashboard_id": dash, "tenant_id": "acme", "schedule": "0 9 * * *",
                                 "webhook_url": url });
        messages.push(app.post("/v1/reports", &org.key, &new_report).await.invalid("webhook_url"));
        for message in messages {
            assert!(message.contains(why), "{url}: {message}");
        }
    }
    // Nothing was saved or queued.
    assert_eq!(
        app.get("/v1/alerts", &org.key).await.ok(StatusCode::OK)["alerts"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        app.get("/v1/reports", &org.key).await.ok(StatusCode::OK)["reports"].as_array().map(Vec::len),
        Some(1)
    );
    assert!(
        app.get(&format!("/v1/alerts/{alert}"), &org.key).await.ok(StatusCode::OK)["webhook_url"].is_null()
    );
    assert_eq!(app.get("/v1/webhooks", &org.key).await.ok(StatusCode::OK)["targets"], json!([]));
    assert_eq!(app.tick().await.1, 0);

    // Allowing 127.0.0.1/32 admits that network only: IPv6 loopback stays refused.
    let allowing = TestApp::spawn(|_| {}).await;
    let org = allowing.register().await;
    allowing.post("/v1/webhooks/test", &org.key, &json!({ "url": localhost })).await.ok(StatusCode::ACCEPTED);
    let message = allowing
        .post("/v1/webhooks/test", &org.key, &json!({ "url": format!("http://[::1]:{port}/") }))
        .await
        .invalid("webhook_url");
    assert!(message.contains("::1 is a loopback address"), "{message}");
}

#[tokio::test]
async fn a_name_accepted_earlier_is_not_delivered_to_once_it_resolves_to_a_refused_address() {
    let receiver = Receiver::start().await;
    // The receiver by name: `localhost` resolves (through /etc/hosts) to 127.0.0.1, where it
    // listens.
    let url = receiver.base.replace("127.0.0.1", "localhost") + "/hook";
    assert!(url.starts_with("http://localhost:"), "{url}");
    // The first server allows 127.0.0.1/32 (the fixture's default), as a self-hoster would for a
    // receiver inside the network.
    let app = TestApp::spawn(|a| a.webhook_retry_schedule = "10s".into()).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    app.calls(&org, "acme", 5, Duration::minutes(2)).await;

    // While the name's address is allowed, a test message reaches the receiver by that name:
    // the zero hits below are the guard's doing, not an unreachable URL.
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": url })).await.ok(StatusCode::ACCEPTED);
    assert_eq!(app.tick().await.1, 1);
    assert_eq!(receiver.hits().len(), 1);
    // Accepted at the door: an alert that will fire and a queued test message, both to the name.
    let alert = app
        .post(
            "/v1/alerts",
            &org.key,
            &json!({ "dashboard_id": dash, "widget_id": "calls", "name": "Busy", "condition_type": "threshold",
                     "operator": "gt", "threshold_value": 3, "lookback_minutes": 10, "tenant_id": "acme",
                     "webhook_url": url }),
        )
        .await
        .ok(StatusCode::CREATED)["id"]
        .as_i64()
        .expect("id");
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": url })).await.ok(StatusCode::ACCEPTED);

    // Now the name resolves to an address the guard refuses: the same data on a server without
    // the allowlist. Delivery resolves the stored name again and checks what it resolves to, so
    // what passed the door earlier does not pass now.
    let now = app.now();
    let app = app.restart_at(now, |a| a.webhook_allow_cidrs.clear()).await;
    assert_eq!(app.tick().await, (1, 2), "the alert fires; both messages are attempted");
    assert_eq!(receiver.hits().len(), 1, "nothing reached the receiver after the first message");
    // Refused is final: no retry on the schedule.
    app.advance(Duration::minutes(5));
    assert_eq!(app.tick().await.1, 0);
    assert_eq!(receiver.hits().len(), 1);

    let overview = app.get("/v1/webhooks", &org.key).await.ok(StatusCode::OK).clone();
    let target = &overview["targets"][0];
    assert_eq!(target["url"], url.as_str());
    let error = target["last_error"].as_str().expect("last_error").to_owned();
    assert!(error.contains("localhost resolves to 127.0.0.1, which is a loopback address"), "{error}");
    assert_eq!(
        (target["success_count_24h"].as_i64(), target["failure_count_24h"].as_i64()),
        (Some(1), Some(2))
    );
    assert!(target["last_status_code"].is_null(), "no request was made: {target}");
    assert_eq!(target["pending"], 0, "{target}");
    let recent = target["recent_attempts"].as_array().expect("recent");
    assert_eq!(
        recent.iter().map(|a| a["ok"].as_bool()).collect::<Vec<_>>(),
        [Some(false), Some(false), Some(true)]
    );
    assert!(recent[..2].iter().all(|a| a["error"] == error.as_str()), "{recent:?}");
    // The alert's event records the failed delivery.
    let events = app.get(&format!("/v1/alerts/{alert}/events"), &org.key).await.ok(StatusCode::OK).clone();
    let event = &events["events"][0];
    assert_eq!(event["kind"], "firing", "{events}");
    assert_eq!(event["delivery"]["webhook"], "failed", "{event}");
}
