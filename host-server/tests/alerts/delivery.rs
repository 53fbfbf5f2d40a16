//! Webhook delivery: retries with backoff, `Retry-After`, 410 disabling a target, redirects
//! not followed, secret rotation with both secrets signing, and `GET /v1/webhooks`.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Receiver, TestApp, signed_by};

#[tokio::test]
async fn failures_are_retried_on_schedule_honouring_retry_after_until_a_2xx() {
    let receiver = Receiver::start().await;
    receiver.answer(vec![
        (500, vec![], "boom".into()),
        (503, vec![("retry-after", "120".into())], "busy".into()),
        (200, vec![], "finally".into()),
    ]);
    let app = TestApp::spawn(|a| a.webhook_retry_schedule = "10s,10s,10s".into()).await;
    let org = app.register().await;
    let url = format!("{}/retry", receiver.base);
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": url })).await.ok(StatusCode::ACCEPTED);
    assert_eq!(app.tick().await.1, 1, "first attempt at once");
    assert_eq!(app.tick().await.1, 0, "the retry waits for its delay");
    app.advance(Duration::seconds(12));
    assert_eq!(app.tick().await.1, 1, "second attempt after ~10 s");
    app.advance(Duration::seconds(12));
    assert_eq!(app.tick().await.1, 0, "Retry-After: 120 is honoured over the 10 s schedule");
    app.advance(Duration::seconds(110));
    assert_eq!(app.tick().await.1, 1, "third attempt after Retry-After");
    app.advance(Duration::hours(1));
    assert_eq!(app.tick().await.1, 0, "delivered: no more attempts");
    let hits = receiver.hits();
    assert_eq!(hits.len(), 3);
    // The same message id and body on every attempt; each signed afresh.
    assert!(
        hits.iter().all(|h| h.header("webhook-id") == hits[0].header("webhook-id") && h.body == hits[0].body)
    );
    assert_eq!(hits[0].json()["type"], "test");
    let overview = app.get("/v1/webhooks", &org.key).await.ok(StatusCode::OK).clone();
    let target = &overview["targets"][0];
    assert_eq!(target["url"], url);
    assert_eq!(target["success_count_24h"], 1);
    assert_eq!(target["failure_count_24h"], 2);
    assert_eq!(target["last_status_code"], 200);
    assert_eq!(target["last_response_excerpt"], "finally");
    assert!(target["last_error"].is_null());
    let recent = target["recent_attempts"].as_array().expect("recent");
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[1]["status_code"], 503);
    assert_eq!(recent[1]["error"], "HTTP 503");
    assert_eq!(recent[2]["response_excerpt"], "boom");
    // Another org sees none of it.
    let other = app.register().await;
    assert_eq!(app.get("/v1/webhooks", &other.key).await.ok(StatusCode::OK)["targets"], json!([]));
}

#[tokio::test]
async fn retries_stop_after_the_last_attempt_and_410_disables_the_target() {
    let receiver = Receiver::start().await;
    receiver.answer(vec![
        (500, vec![], String::new()),
        (502, vec![], String::new()),
        (410, vec![], "gone".into()),
    ]);
    let app = TestApp::spawn(|a| a.webhook_retry_schedule = "5s".into()).await;
    let org = app.register().await;
    let failing = format!("{}/failing", receiver.base);
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": failing })).await.ok(StatusCode::ACCEPTED);
    app.tick().await;
    app.advance(Duration::seconds(10));
    app.tick().await;
    app.advance(Duration::hours(2));
    assert_eq!(app.tick().await.1, 0, "two attempts with a one-retry schedule");
    let gone = format!("{}/gone", receiver.base);
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": gone })).await.ok(StatusCode::ACCEPTED);
    assert_eq!(app.tick().await.1, 1);
    // Queued again: not sent, the target is disabled.
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": gone })).await.ok(StatusCode::ACCEPTED);
    assert_eq!(app.tick().await.1, 0);
    assert_eq!(receiver.hits().len(), 3);
    let overview = app.get("/v1/webhooks", &org.key).await.ok(StatusCode::OK).clone();
    let targets = overview["targets"].as_array().expect("targets");
    let find = |u: &str| targets.iter().find(|t| t["url"] == u).expect("target").clone();
    let f = find(&failing);
    assert_eq!((f["failure_count_24h"].as_i64(), f["disabled"].as_bool()), (Some(2), Some(false)));
    assert_eq!(f["last_error"], "HTTP 502");
    let g = find(&gone);
    assert_eq!((g["last_status_code"].as_i64(), g["disabled"].as_bool()), (Some(410), Some(true)));
}

#[tokio::test]
async fn redirects_are_not_followed_and_rotated_secrets_sign_side_by_side() {
    let receiver = Receiver::start().await;
    receiver.answer(vec![(302, vec![("location", format!("{}/elsewhere", receiver.base))], String::new())]);
    let app = TestApp::spawn(|a| a.webhook_retry_schedule = String::new()).await;
    let org = app.register().await;
    let first = app.post("/v1/webhooks/secret", &org.key, &json!({})).await.ok(StatusCode::CREATED)["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": format!("{}/moved", receiver.base) }))
        .await
        .ok(StatusCode::ACCEPTED);
    app.tick().await;
    let hits = receiver.hits();
    assert_eq!(
        hits.iter().map(|h| h.path.as_str()).collect::<Vec<_>>(),
        ["/moved"],
        "the redirect is not followed"
    );
    assert!(signed_by(&hits[0], &first));
    let overview = app.get("/v1/webhooks", &org.key).await.ok(StatusCode::OK).clone();
    let error = overview["targets"][0]["last_error"].as_str().expect("error").to_owned();
    assert!(error.contains("redirects are not followed"), "{error}");

    // Rotation: the new secret signs, and the old one still does during the grace period.
    let second =
        app.post("/v1/webhooks/secret", &org.key, &json!({})).await.ok(StatusCode::CREATED)["secret"]
            .as_str()
            .expect("secret")
            .to_owned();
    assert_ne!(first, second);
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": format!("{}/rotated", receiver.base) }))
        .await
        .ok(StatusCode::ACCEPTED);
    app.tick().await;
    let hit = receiver.hits().pop().expect("hit");
    assert_eq!(hit.header("webhook-signature").split(' ').count(), 2);
    assert!(signed_by(&hit, &first) && signed_by(&hit, &second));
    // After the grace period only the new one signs.
    app.advance(Duration::hours(25));
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": format!("{}/later", receiver.base) }))
        .await
        .ok(StatusCode::ACCEPTED);
    app.tick().await;
    let hit = receiver.hits().pop().expect("hit");
    assert!(signed_by(&hit, &second) && !signed_by(&hit, &first));
    // Refused targets are refused at the door too.
    app.post("/v1/webhooks/test", &org.key, &json!({ "url": "http://169.254.169.254/" }))
        .await
        .invalid("webhook_url");
}
