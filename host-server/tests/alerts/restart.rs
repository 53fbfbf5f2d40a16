//! Durability: a report run that fell due while the server was down runs once at start-up, is
//! delivered by mail with its CSV attached, and is not repeated.

use chrono::{DateTime, Duration, DurationRound, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Smtp, TempDir, TestApp};

fn at(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str().expect("a time").parse().expect("rfc 3339")
}

#[tokio::test]
async fn a_report_due_while_down_runs_once_at_start_and_mails_its_csv() {
    let scratch = TempDir::new();
    let smtp = Smtp::start(scratch.path());
    let app = TestApp::spawn(|_| {}).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    app.calls(&org, "acme", 5, Duration::minutes(10)).await;
    let report = app
        .post(
            "/v1/reports",
            &org.key,
            &json!({ "dashboard_id": dash, "tenant_id": "acme", "schedule": "0 * * * *", "timezone": "UTC",
                     "format": "csv", "period": "24h", "email_to": ["boss@example.com"], "name": "Hourly usage" }),
        )
        .await
        .ok(StatusCode::CREATED)
        .clone();
    let id = report["id"].as_i64().expect("id");
    let empty = app
        .post(
            "/v1/reports",
            &org.key,
            &json!({ "dashboard_id": dash, "tenant_id": "nobody", "schedule": "0 * * * *",
                     "email_to": ["boss@example.com"], "skip_if_empty": true }),
        )
        .await
        .ok(StatusCode::CREATED)["id"]
        .as_i64()
        .expect("id");
    let due = at(&report["next_run_at"]);
    assert_eq!(due, (app.now() + Duration::hours(1)).duration_trunc(Duration::hours(1)).expect("trunc"));
    assert_eq!(app.tick().await.0, 0, "nothing due yet");

    // Down across three scheduled runs; back 5 minutes past the third.
    let back = due + Duration::hours(3) + Duration::minutes(5);
    let smtp_url = smtp.url();
    let app = app.restart_at(back, move |a| a.smtp_url = Some(smtp_url)).await;
    assert_eq!(app.tick().await.0, 2, "each report's missed run, once");
    assert_eq!(app.tick().await.0, 0, "and not again");
    let runs = app.get(&format!("/v1/reports/{id}/runs"), &org.key).await.ok(StatusCode::OK).clone();
    let runs = runs["runs"].as_array().expect("runs").clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "succeeded", "{runs:?}");
    assert_eq!(at(&runs[0]["scheduled_for"]), due);
    assert_eq!(at(&runs[0]["started_at"]), back);
    assert!(runs[0]["finished_at"].is_string());
    assert_eq!(runs[0]["delivery"]["email"], "sent");
    assert!(runs[0]["error"].is_null());
    let report = app.get(&format!("/v1/reports/{id}"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(at(&report["next_run_at"]), due + Duration::hours(4), "the next run is the next occurrence");
    assert_eq!(report["last_run"]["status"], "succeeded");
    let skipped = app.get(&format!("/v1/reports/{empty}/runs"), &org.key).await.ok(StatusCode::OK).clone();
    assert_eq!(skipped["runs"][0]["status"], "skipped", "{skipped}");

    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "the empty report sent nothing: {mail:?}");
    let mail = &mail[0];
    assert_eq!(mail["to"], "boss@example.com");
    assert_eq!(mail["subject"], "[Emban] Report: Hourly usage (acme)");
    assert!(mail["body"].as_str().expect("body").contains("Hourly usage"), "{mail}");
    let attachment = &mail["attachments"][0];
    assert_eq!(attachment["content_type"], "text/csv");
    assert!(
        attachment["filename"].as_str().expect("name").starts_with(&format!("report-{id}-")),
        "{attachment}"
    );
    let csv = attachment["content"].as_str().expect("csv");
    assert!(csv.contains("# tenant,acme"), "{csv}");
    for widget in ["calls", "tokens", "series", "by_model"] {
        assert!(
            csv.contains(&format!("# widget,Widget {widget},{widget},")),
            "a section for {widget}: {csv}"
        );
    }
    let calls = csv.split("# widget,Widget calls").nth(1).expect("calls section");
    assert!(calls.contains("bucket,group,value\n,,5\n"), "{calls}");
    let by_model = csv.split("# widget,Widget by_model").nth(1).expect("by_model section");
    assert!(by_model.contains(",gpt-4,3\n") && by_model.contains(",claude,2\n"), "{by_model}");
}
