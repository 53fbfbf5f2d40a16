//! Reports in the dashboard's own pictures: a `pdf` report arrives by mail as a PDF whose text
//! (read back by poppler's `pdftotext`) names the dashboard and its widgets, and a `png` report's
//! webhook carries the PNG as base64.

use base64::Engine as _;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Receiver, Smtp, TempDir, TestApp};

#[tokio::test]
async fn pdf_and_png_reports_are_drawn_and_delivered() {
    let scratch = TempDir::new();
    let smtp = Smtp::start(scratch.path());
    let receiver = Receiver::start().await;
    let smtp_url = smtp.url();
    let app = TestApp::spawn(move |a| a.smtp_url = Some(smtp_url)).await;
    let org = app.register().await;
    let dash = app.dashboard(&org).await;
    app.calls(&org, "acme", 5, Duration::minutes(10)).await;
    for (format, target) in [
        ("pdf", json!({ "email_to": ["boss@example.com"] })),
        ("png", json!({ "webhook_url": format!("{}/reports", receiver.base) })),
    ] {
        let mut body = json!({ "dashboard_id": dash, "tenant_id": "acme", "schedule": "0 * * * *",
                                "format": format, "period": "24h", "name": format!("Usage {format}") });
        body.as_object_mut().expect("object").extend(target.as_object().expect("object").clone());
        let created = app.post("/v1/reports", &org.key, &body).await.ok(StatusCode::CREATED).clone();
        assert_eq!(created["format"], format);
    }
    app.advance(Duration::hours(1));
    assert_eq!(app.tick().await.0, 2, "both reports ran");
    app.tick().await;

    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    let attachment = &mail[0]["attachments"][0];
    assert_eq!(attachment["content_type"], "application/pdf");
    assert!(attachment["filename"].as_str().expect("name").ends_with(".pdf"), "{attachment}");
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(attachment["content"].as_str().expect("base64"))
        .expect("base64");
    assert!(pdf.starts_with(b"%PDF-"));
    let path = scratch.path().join("report.pdf");
    std::fs::write(&path, &pdf).expect("write");
    let out = std::process::Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Tenant acme"), "{text}");
    for widget in ["calls", "tokens", "series", "by_model"] {
        assert!(text.contains(&format!("Widget {widget}")), "the PDF names widget {widget}: {text}");
    }

    let hits = receiver.hits();
    let hit = hits.iter().find(|h| h.json()["type"] == "report.completed").expect("the png report's webhook");
    let data = &hit.json()["data"];
    assert_eq!(data["content_type"], "image/png");
    assert!(data["content"].is_null(), "binary documents go as base64");
    let png = base64::engine::general_purpose::STANDARD
        .decode(data["content_base64"].as_str().expect("base64"))
        .expect("base64");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert_eq!(data["bytes"].as_u64(), Some(png.len() as u64));
}
