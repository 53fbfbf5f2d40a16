//! CRUD, validation (every error names its field) and access of alerts and reports.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::TestApp;

#[tokio::test]
async fn alerts_are_created_read_patched_and_deleted_with_field_named_errors() {
    let app = TestApp::spawn(|a| a.webhook_allow_cidrs.clear()).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    // The reference's body, plus the tenant it watches.
    let body = json!({
        "dashboard_id": dash, "widget_id": "calls", "name": "Too many calls",
        "condition_type": "threshold", "operator": "gt", "threshold_value": 1200,
        "lookback_minutes": 0, "email_to": ["ops@example.com"], "tenant_id": "acme"
    });
    let created = app.post("/v1/alerts", &org.key, &body).await;
    let alert = created.ok(StatusCode::CREATED).clone();
    let id = alert["id"].as_i64().expect("numeric id");
    assert_eq!(alert["lookback_minutes"], 60, "<= 0 means 60");
    assert_eq!(alert["state"], "ok");
    assert_eq!(alert["tenant_id"], "acme");
    assert_eq!(alert["enabled"], true);
    assert!(alert["next_evaluation_at"].is_string(), "{alert}");
    let listed = app.get("/v1/alerts", &org.key).await;
    assert_eq!(listed.ok(StatusCode::OK)["alerts"][0]["id"], id);
    let got = app.get(&format!("/v1/alerts/{id}"), &org.key).await;
    assert_eq!(got.ok(StatusCode::OK)["name"], "Too many calls");
    let patched = app
        .patch(
            &format!("/v1/alerts/{id}"),
            &org.key,
            &json!({ "threshold_value": 5, "operator": "gte", "enabled": false }),
        )
        .await;
    let patched = patched.ok(StatusCode::OK);
    assert_eq!((patched["threshold_value"].as_f64(), patched["operator"].as_str()), (Some(5.0), Some("gte")));
    assert!(patched["next_evaluation_at"].is_null(), "a disabled alert is not scheduled: {patched}");
    let events = app.get(&format!("/v1/alerts/{id}/events"), &org.key).await;
    assert_eq!(events.ok(StatusCode::OK)["events"], json!([]));

    // Another org sees nothing of it; an ingest key may not read alerts.
    let other = app.register().await;
    app.get(&format!("/v1/alerts/{id}"), &other.key).await.ok(StatusCode::NOT_FOUND);
    app.patch(&format!("/v1/alerts/{id}"), &other.key, &json!({ "name": "x" }))
        .await
        .ok(StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/alerts", &other.key).await.ok(StatusCode::OK)["alerts"], json!([]));
    let ingest = app.post("/v1/api-keys", &org.key, &json!({ "label": "i", "scope": "ingest" })).await;
    let ingest_key = ingest.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned();
    app.get("/v1/alerts", &ingest_key).await.ok(StatusCode::FORBIDDEN);
    app.post("/v1/alerts", &ingest_key, &body).await.ok(StatusCode::FORBIDDEN);
    app.get("/v1/alerts/abc", &org.key).await.ok(StatusCode::NOT_FOUND);

    // Every bad field is named.
    let with = |key: &str, value: serde_json::Value| {
        let mut b = body.clone();
        b[key] = value;
        b
    };
    let without = |key: &str| {
        let mut b = body.clone();
        b.as_object_mut().expect("object").remove(key);
        b
    };
    for (bad, field) in [
        (without("dashboard_id"), "dashboard_id"),
        (without("widget_id"), "widget_id"),
        (without("name"), "name"),
        (without("tenant_id"), "tenant_id"),
        (without("threshold_value"), "threshold_value"),
        (without("operator"), "operator"),
        (with("condition_type", json!("above")), "condition_type"),
        (with("operator", json!("bigger")), "operator"),
        (with("threshold_value", json!("lots")), "threshold_value"),
        (with("dashboard_id", json!("nope")), "dashboard_id"),
        (with("widget_id", json!("nope")), "widget_id"),
        (with("widget_id", json!("by_model")), "widget_id"),
        (with("email_to", json!(["not an address"])), "email_to"),
        (with("webhook_url", json!("ftp://example.com/")), "webhook_url"),
        (with("webhook_url", json!("http://10.0.0.1/hook")), "webhook_url"),
        (with("webhook_url", json!("http://169.254.169.254/latest/meta-data")), "webhook_url"),
        (with("webhook_url", json!("http://[::ffff:192.168.0.1]/")), "webhook_url"),
        (with("webhook_url", json!("http://localhost:9/")), "webhook_url"),
        (with("pending_minutes", json!(-1)), "pending_minutes"),
        (with("lookback_minutes", json!(100_000)), "lookback_minutes"),
        (with("tenant_ids", json!(["a"])), "tenant_ids"),
        (with("colour", json!("red")), "colour"),
    ] {
        app.post("/v1/alerts", &org.key, &bad).await.invalid(field);
    }
    let msg =
        app.post("/v1/alerts", &org.key, &with("widget_id", json!("by_model"))).await.invalid("widget_id");
    assert!(msg.contains("split by"), "{msg}");
    // no_data needs no operator or threshold; tenant_ids evaluates each tenant.
    let no_data = json!({ "dashboard_id": dash, "widget_id": "series", "name": "Silence",
                          "condition_type": "no_data", "tenant_ids": ["b", "a", "a"] });
    let made = app.post("/v1/alerts", &org.key, &no_data).await;
    assert_eq!(made.ok(StatusCode::CREATED)["tenant_ids"], json!(["a", "b"]));

    app.delete(&format!("/v1/alerts/{id}"), &org.key).await.ok(StatusCode::NO_CONTENT);
    app.delete(&format!("/v1/alerts/{id}"), &org.key).await.ok(StatusCode::NOT_FOUND);
    app.get(&format!("/v1/alerts/{id}/events"), &org.key).await.ok(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reports_validate_their_schedule_zone_and_format_and_show_next_runs() {
    let app = TestApp::spawn(|_| {}).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    let body = json!({
        "dashboard_id": dash, "tenant_id": "acme", "schedule": "0 9 * * *", "timezone": "Europe/Paris",
        "format": "csv", "email_to": ["boss@example.com"], "period": "7d", "filters": { "model": "gpt-4" }
    });
    let created = app.post("/v1/reports", &org.key, &body).await;
    let report = created.ok(StatusCode::CREATED).clone();
    let id = report["id"].as_i64().expect("id");
    assert_eq!(report["name"], "Usage", "named after the dashboard");
    let next: Vec<chrono::DateTime<chrono::Utc>> = report["next_runs"]
        .as_array()
        .expect("next_runs")
        .iter()
        .map(|t| t.as_str().expect("time").parse().expect("rfc 3339"))
        .collect();
    assert_eq!(next.len(), 3);
    let paris: chrono_tz::Tz = "Europe/Paris".parse().expect("tz");
    for t in &next {
        let local = t.with_timezone(&paris);
        assert_eq!(local.format("%H:%M").to_string(), "09:00", "{t}");
        assert!(*t > app.now());
    }
    assert_eq!(report["next_run_at"], report["next_runs"][0]);
    let patched = app
        .patch(
            &format!("/v1/reports/{id}"),
            &org.key,
            &json!({ "schedule": "30 6 * * 1", "timezone": "UTC" }),
        )
        .await;
    let first: chrono::DateTime<chrono::Utc> =
        patched.ok(StatusCode::OK)["next_run_at"].as_str().expect("next").parse().expect("time");
    assert_eq!(first.format("%a %H:%M").to_string(), "Mon 06:30");
    assert_eq!(app.get("/v1/reports", &org.key).await.ok(StatusCode::OK)["reports"][0]["id"], id);
    assert_eq!(
        app.get(&format!("/v1/reports/{id}/runs"), &org.key).await.ok(StatusCode::OK)["runs"],
        json!([])
    );
    let other = app.register().await;
    app.get(&format!("/v1/reports/{id}"), &other.key).await.ok(StatusCode::NOT_FOUND);

    let with = |key: &str, value: serde_json::Value| {
        let mut b = body.clone();
        b[key] = value;
        b
    };
    for (bad, field) in [
        (with("schedule", json!("every day")), "schedule"),
        (with("schedule", json!("0 0 9 * * *")), "schedule"),
        (with("timezone", json!("Mars/Olympus")), "timezone"),
        (with("format", json!("xlsx")), "format"),
        (with("format", json!(7)), "format"),
        (with("period", json!("2y")), "period"),
        (with("filters", json!({ "model": 5 })), "filters.model"),
        (with("dashboard_id", json!("nope")), "dashboard_id"),
        (with("email_to", json!([])), "email_to"),
        (with("webhook_url", json!("http://192.168.1.1/")), "webhook_url"),
    ] {
        app.post("/v1/reports", &org.key, &bad).await.invalid(field);
    }
    let msg = app.post("/v1/reports", &org.key, &with("format", json!("gif"))).await.invalid("format");
    assert!(msg.contains("csv, png or pdf"), "{msg}");
    app.delete(&format!("/v1/reports/{id}"), &org.key).await.ok(StatusCode::NO_CONTENT);
    app.get(&format!("/v1/reports/{id}"), &org.key).await.ok(StatusCode::NOT_FOUND);
}
