//! Alert evaluation on the frozen clock: firing and resolution once per state change, with
//! mail and signed webhooks; pending and no_data; a crash mid-run retried after its lease.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Receiver, Smtp, TempDir, TestApp, signed_by};

#[tokio::test]
async fn a_threshold_alert_fires_once_then_resolves_and_notifies_both_ways() {
    let scratch = TempDir::new();
    let smtp = Smtp::start(scratch.path());
    let smtp_url = smtp.url();
    let receiver = Receiver::start().await;
    let app = TestApp::spawn(move |a| a.smtp_url = Some(smtp_url)).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    let secret = app.post("/v1/webhooks/secret", &org.key, &json!({})).await;
    let secret = secret.ok(StatusCode::CREATED)["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    app.calls(&org, "acme", 5, Duration::minutes(2)).await;
    app.calls(&org, "other", 50, Duration::minutes(2)).await;
    let created = app
        .post(
            "/v1/alerts",
            &org.key,
            &json!({ "dashboard_id": dash, "widget_id": "calls", "name": "Busy", "condition_type": "threshold",
                     "operator": "gt", "threshold_value": 3, "lookback_minutes": 10, "tenant_id": "acme",
                     "email_to": ["ops@example.com"], "webhook_url": format!("{}/hook", receiver.base) }),
        )
        .await;
    let id = created.ok(StatusCode::CREATED)["id"].as_i64().expect("id");

    // First evaluation: 5 > 3 fires; the webhook goes out in the same tick.
    assert_eq!(app.tick().await, (1, 1));
    let alert = app.get(&format!("/v1/alerts/{id}"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(alert["state"], "firing", "{alert}");
    assert_eq!(alert["states"][0]["value"], 5.0);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, "/hook");
    assert!(signed_by(&hits[0], &secret), "signature verifies: {:?}", hits[0].headers);
    assert!(hits[0].header("webhook-id").starts_with("msg_"));
    assert_eq!(hits[0].header("webhook-timestamp"), app.now().timestamp().to_string());
    let payload = hits[0].json();
    assert_eq!(payload["type"], "alert.firing");
    assert_eq!(payload["data"]["tenant_id"], "acme");
    assert_eq!(payload["data"]["value"], 5.0);
    assert_eq!(payload["data"]["threshold_value"], 3.0);
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert!(mail[0]["subject"].as_str().expect("subject").contains("Firing: Busy (tenant acme)"), "{mail:?}");
    assert!(mail[0]["body"].as_str().expect("body").contains("Value: 5"), "{mail:?}");

    // Still over the threshold a minute later: no second notification.
    app.advance(Duration::minutes(1));
    assert_eq!(app.tick().await, (1, 0));
    assert_eq!(receiver.hits().len(), 1);
    assert_eq!(smtp.messages().len(), 1);
    // Not due yet: nothing runs.
    assert_eq!(app.tick().await, (0, 0));

    // The events age out of the window: resolved, notified once.
    app.advance(Duration::minutes(10));
    assert_eq!(app.tick().await, (1, 1));
    let hits = receiver.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[1].json()["type"], "alert.resolved");
    assert!(signed_by(&hits[1], &secret));
    let alert = app.get(&format!("/v1/alerts/{id}"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(alert["state"], "resolved");
    app.advance(Duration::minutes(1));
    app.tick().await;
    assert_eq!(app.get(&format!("/v1/alerts/{id}"), &org.key).await.ok(StatusCode::OK)["state"], "ok");
    assert_eq!(receiver.hits().len(), 2);
    let mail = smtp.messages();
    assert_eq!(mail.len(), 2);
    assert!(mail.iter().any(|m| m["subject"].as_str().expect("s").contains("Resolved: Busy")), "{mail:?}");

    let events = app.get(&format!("/v1/alerts/{id}/events"), &org.key).await.ok(StatusCode::OK).clone();
    let events = events["events"].as_array().expect("events").clone();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["kind"], "resolved");
    assert_eq!(events[1]["kind"], "firing");
    assert_eq!(events[1]["value"], 5.0);
    assert_eq!(events[1]["threshold_value"], 3.0);
    assert_eq!(events[1]["tenant_id"], "acme");
    assert_eq!(events[1]["delivery"]["email"], "sent");
    assert_eq!(events[1]["delivery"]["webhook"], "delivered");
    assert_eq!(events[1]["delivery"]["webhook_attempts"], 1);

    let webhooks = app.get("/v1/webhooks", &org.key).await.ok(StatusCode::OK).clone();
    let target = &webhooks["targets"][0];
    assert_eq!(target["url"], format!("{}/hook", receiver.base));
    assert_eq!(target["success_count_24h"], 2);
    assert_eq!(target["failure_count_24h"], 0);
    assert_eq!(target["last_status_code"], 200);
    assert_eq!(target["last_response_excerpt"], "thanks");
    assert!(target["last_duration_ms"].is_i64(), "{target}");
}

#[tokio::test]
async fn pending_waits_and_no_data_and_per_tenant_states_are_kept_apart() {
    let app = TestApp::spawn(|_| {}).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    app.calls(&org, "busy", 4, Duration::minutes(1)).await;
    let pending = app
        .post(
            "/v1/alerts",
            &org.key,
            &json!({ "dashboard_id": dash, "widget_id": "tokens", "name": "Tokens", "condition_type": "threshold",
                     "operator": "gte", "threshold_value": 40, "lookback_minutes": 30, "pending_minutes": 5,
                     "tenant_ids": ["busy", "quiet"] }),
        )
        .await;
    let pending = pending.ok(StatusCode::CREATED)["id"].as_i64().expect("id");
    let silence = app
        .post(
            "/v1/alerts",
            &org.key,
            &json!({ "dashboard_id": dash, "widget_id": "series", "name": "Silence", "condition_type": "no_data",
                     "lookback_minutes": 15, "tenant_ids": ["busy", "quiet"] }),
        )
        .await;
    let silence = silence.ok(StatusCode::CREATED)["id"].as_i64().expect("id");
    assert_eq!(app.tick().await.0, 2);
    let states = |v: &serde_json::Value| -> Vec<(String, String)> {
        v["states"]
            .as_array()
            .expect("states")
            .iter()
            .map(|s| (s["tenant_id"].as_str().unwrap().to_owned(), s["state"].as_str().unwrap().to_owned()))
            .collect()
    };
    let p = app.get(&format!("/v1/alerts/{pending}"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(states(&p), [("busy".into(), "pending".into()), ("quiet".into(), "ok".into())]);
    let s = app.get(&format!("/v1/alerts/{silence}"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(states(&s), [("busy".into(), "ok".into()), ("quiet".into(), "firing".into())]);
    app.advance(Duration::minutes(5));
    app.tick().await;
    let p = app.get(&format!("/v1/alerts/{pending}"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(states(&p)[0], ("busy".into(), "firing".into()), "{p}");
    let events = app.get(&format!("/v1/alerts/{pending}/events"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(events["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(events["events"][0]["tenant_id"], "busy");
    assert_eq!(events["events"][0]["value"], 40.0);
    // Without recipients the event records no delivery.
    assert!(events["events"][0]["delivery"]["email"].is_null());
}

#[tokio::test]
async fn a_run_whose_process_died_is_retried_after_its_lease_expires() {
    let app = TestApp::spawn(|_| {}).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    let id = app
        .post(
            "/v1/alerts",
            &org.key,
            &json!({ "dashboard_id": dash, "widget_id": "calls", "name": "Any", "condition_type": "no_data",
                     "tenant_id": "t" }),
        )
        .await
        .ok(StatusCode::CREATED)["id"]
        .as_i64()
        .expect("id");
    // Another process claims the job, then dies without finishing it.
    let now = app.now();
    let claimed = app
        .state()
        .jobs
        .claim_jobs("dead-process", now, now + Duration::minutes(5), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(app.tick().await.0, 0, "the lease holds");
    app.advance(Duration::minutes(4));
    assert_eq!(app.tick().await.0, 0, "still held");
    app.advance(Duration::minutes(2));
    assert_eq!(app.tick().await.0, 1, "expired: claimed again");
    let alert = app.get(&format!("/v1/alerts/{id}"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(alert["state"], "firing", "{alert}");
    assert_eq!(
        app.get(&format!("/v1/alerts/{id}/events"), &org.key).await.ok(StatusCode::OK)["events"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
