//! Signatures checked by an independent implementation: a receiver in Python that verifies each
//! delivery with PyPI's `standardwebhooks` (the Standard Webhooks project's own library), for a
//! test message, an alert's and a report's webhook and a rotation's two secrets, and that rejects
//! a tampered delivery.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Org, TestApp, VerifyingReceiver};

async fn rotate(app: &TestApp, org: &Org) -> String {
    let made = app.post("/v1/webhooks/secret", &org.key, &json!({})).await;
    made.ok(StatusCode::CREATED)["secret"].as_str().expect("secret").to_owned()
}

/// The server's view of the last attempt to `url`: `(status code, error)`.
async fn last_attempt(app: &TestApp, org: &Org, url: &str) -> (Option<i64>, Value) {
    let overview = app.get("/v1/webhooks", &org.key).await.ok(StatusCode::OK).clone();
    let targets = overview["targets"].as_array().expect("targets");
    let target = targets.iter().find(|t| t["url"] == url).expect("the target is listed");
    (target["last_status_code"].as_i64(), target["last_error"].clone())
}

#[tokio::test]
async fn the_standardwebhooks_library_verifies_deliveries_across_a_rotation_and_rejects_tampering() {
    let receiver = VerifyingReceiver::start().await;
    // No retries: every delivery is one attempt, so the receiver's hits line up with the sends.
    let app = TestApp::spawn(|a| a.webhook_retry_schedule = String::new()).await;
    let org = app.register().await;
    let first = rotate(&app, &org).await;
    receiver.expect_secrets(&[&first]);

    // A test message.
    let test_url = format!("{}/test", receiver.base);
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": test_url })).await.ok(StatusCode::ACCEPTED);
    assert_eq!(app.tick().await.1, 1);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0]["path"].as_str(), &hits[0]["results"]), (Some("/test"), &json!(["ok"])), "{hits:?}");
    assert_eq!(VerifyingReceiver::body(&hits[0])["type"], "test");
    assert_eq!(last_attempt(&app, &org, &test_url).await, (Some(204), Value::Null));

    // An alert's webhook.
    let dash = app.dashboard(&org).await;
    app.calls(&org, "acme", 5, Duration::minutes(2)).await;
    let alert_url = format!("{}/alert", receiver.base);
    app.post(
        "/v1/alerts",
        &org.key,
        &json!({ "dashboard_id": dash, "widget_id": "calls", "name": "Busy", "condition_type": "threshold",
                 "operator": "gt", "threshold_value": 3, "lookback_minutes": 10, "tenant_id": "acme",
                 "webhook_url": alert_url }),
    )
    .await
    .ok(StatusCode::CREATED);
    assert_eq!(app.tick().await, (1, 1), "the alert fires and its webhook goes out");
    let hits = receiver.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!((hits[1]["path"].as_str(), &hits[1]["results"]), (Some("/alert"), &json!(["ok"])), "{hits:?}");
    let payload = VerifyingReceiver::body(&hits[1]);
    assert_eq!(
        (payload["type"].as_str(), payload["data"]["tenant_id"].as_str()),
        (Some("alert.firing"), Some("acme"))
    );
    assert_eq!(last_attempt(&app, &org, &alert_url).await, (Some(204), Value::Null));

    // A report's webhook: every minute, so the frozen clock stays within the library's 5 minutes
    // of the real time.
    let report_url = format!("{}/report", receiver.base);
    app.post(
        "/v1/reports",
        &org.key,
        &json!({ "dashboard_id": dash, "tenant_id": "acme", "schedule": "* * * * *", "format": "csv",
                 "webhook_url": report_url }),
    )
    .await
    .ok(StatusCode::CREATED);
    app.advance(Duration::seconds(61));
    assert_eq!(app.tick().await.1, 1, "the report runs and its webhook goes out (the alert stays firing)");
    let hits = receiver.hits();
    assert_eq!(hits.len(), 3);
    assert_eq!(
        (hits[2]["path"].as_str(), &hits[2]["results"]),
        (Some("/report"), &json!(["ok"])),
        "{hits:?}"
    );
    assert_eq!(VerifyingReceiver::body(&hits[2])["type"], "report.completed");
    assert_eq!(last_attempt(&app, &org, &report_url).await, (Some(204), Value::Null));

    // The receiver is not a rubber stamp: with a secret the server does not have, the library
    // refuses and the server records the 400.
    let stranger = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    receiver.expect_secrets(&[&stranger]);
    let wrong_url = format!("{}/wrong-secret", receiver.base);
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": wrong_url })).await.ok(StatusCode::ACCEPTED);
    assert_eq!(app.tick().await.1, 1);
    let result = receiver.hits()[3]["results"][0].as_str().expect("result").to_owned();
    assert!(result.contains("No matching signature found"), "{result}");
    assert_eq!(last_attempt(&app, &org, &wrong_url).await, (Some(400), json!("HTTP 400")));

    // Rotation: during the grace period both secrets sign, and the library verifies the
    // delivery with the new secret and with the old one.
    let second = rotate(&app, &org).await;
    assert_ne!(first, second);
    receiver.expect_secrets(&[&second, &first]);
    let rotated_url = format!("{}/rotated", receiver.base);
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": rotated_url })).await.ok(StatusCode::ACCEPTED);
    assert_eq!(app.tick().await.1, 1);
    let hits = receiver.hits();
    assert_eq!(hits.len(), 5);
    assert_eq!(hits[4]["results"], json!(["ok", "ok"]), "new and old secret verify: {:?}", hits[4]);
    assert_eq!(hits[4]["headers"]["webhook-signature"].as_str().expect("signature").split(' ').count(), 2);
    assert_eq!(last_attempt(&app, &org, &rotated_url).await, (Some(204), Value::Null));

    // Tampering, checked in Python on the recorded deliveries: as received they verify with each
    // valid secret; a changed or appended body byte, another message id, a moved timestamp or a
    // stale one do not.
    for (index, secret) in [(1, &first), (2, &first), (4, &second), (4, &first)] {
        let checked = receiver.check(secret, index);
        assert_eq!(checked["as_received"], "ok", "{checked}");
        let tampered = checked["tampered"].as_object().expect("tampered");
        assert_eq!(tampered.len(), 5);
        for (case, result) in tampered {
            let result = result.as_str().expect("result");
            assert!(result.starts_with("WebhookVerificationError"), "{case} verified: {result}");
        }
        assert!(
            tampered["body_byte_changed"].as_str().expect("r").contains("No matching signature found"),
            "{checked}"
        );
        assert!(tampered["stale_timestamp"].as_str().expect("r").contains("too old"), "{checked}");
    }
    assert!(
        receiver.check(&stranger, 1)["as_received"].as_str().expect("r").contains("No matching signature")
    );
}
