//! What the embed runtime's viewer features need from the data API (issue 14): the previous
//! period's series for a time series that asks for a comparison, and export under `allow_export`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Auth, TestApp, call, tenant_events, widget};

fn total(rows: &Value) -> f64 {
    rows.as_array().expect("rows").iter().filter_map(|r| r["value"].as_f64()).sum()
}

#[tokio::test]
async fn a_time_series_asking_for_a_comparison_gets_the_previous_windows_series() {
    let app = TestApp::start(false).await;
    let org = app.register().await;
    // Three calls in the last week, two in the week before.
    let events =
        [1, 30, 50, 8 * 24, 10 * 24].iter().map(|h| call("acme", "gpt-4", "/chat", "pro", 1.0, *h)).collect();
    app.ingest(&org.key, events).await;
    let daily = json!({ "event_name": "api.call", "metric": "count", "granularity": "day" });
    let mut compared = widget("compared", "timeseries", daily.clone(), "line", [0, 0, 6, 4]);
    compared["viz"]["compare"] = json!("previous_period");
    let plain = widget("plain", "timeseries", daily, "line", [6, 0, 6, 4]);
    let mut grouped = widget(
        "grouped",
        "timeseries",
        json!({ "event_name": "api.call", "metric": "count", "granularity": "day", "group_by": "model" }),
        "line",
        [0, 4, 12, 4],
    );
    grouped["viz"]["compare"] = json!("previous_period");
    let id = app.create_dashboard(&org.key, "Compare", json!([compared, plain, grouped])).await;
    app.publish(&org.key, &id).await;

    let token = app.token(&org.key, "acme", &id, json!({})).await;
    let query = |widget: &str| json!({ "widget_id": widget, "filters": { "period": "7d" } });
    let answer = app.embed_query(&token, query("compared")).await;
    let body = answer.ok(StatusCode::OK);
    assert_eq!(total(&body["data"]), 3.0, "{body}");
    let previous = &body["previous_series"];
    assert_eq!(total(previous), 2.0, "the week before only: {body}");
    let first = previous[0]["bucket"].as_str().expect("bucketed");
    assert!(first < body["data"][0]["bucket"].as_str().unwrap(), "{body}");
    // Only where asked, and only ungrouped.
    for other in ["plain", "grouped"] {
        let body = app.embed_query(&token, query(other)).await;
        assert!(body.ok(StatusCode::OK).get("previous_series").is_none(), "{other}: {}", body.text);
    }
    // A session that may not read the previous window gets none (as a metric's previous).
    let limited = app.token(&org.key, "acme", &id, json!({ "max_date_range_days": 7 })).await;
    let body = app.embed_query(&limited, query("compared")).await;
    let body = body.ok(StatusCode::OK);
    assert!(body.get("previous_series").is_none(), "{body}");
    assert_eq!(total(&body["data"]), 3.0);
}

#[tokio::test]
async fn export_serves_the_sessions_csv_only_when_the_session_allows_it() {
    let app = TestApp::start(false).await;
    let org = app.register().await;
    app.ingest(&org.key, tenant_events("acme", 3, 2)).await;
    app.ingest(&org.key, tenant_events("globex", 9, 9)).await;
    let id = app.standard_dashboard(&org.key).await;
    let export = |token: &str, body: Value| {
        let token = token.to_owned();
        let app = &app;
        async move { app.post("/v1/embed/export", &Auth::Bearer(token), &body).await }
    };
    let perms = json!({ "hidden_widgets": ["internal"], "locked_filters": { "plan": "pro" } });
    let token = app.token(&org.key, "acme", &id, perms).await;

    // One widget: its rows, the tenant's and the locked filter's only.
    let one = export(&token, json!({ "widget_ids": ["by_plan"], "filters": { "period": "7d" } })).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(one.text, "plan,count\r\npro,3\r\n");
    // Every visible widget: a title line, its rows, a blank line; the hidden one left out.
    let all = export(&token, json!({})).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert!(all.text.starts_with("Widget calls\r\ncount\r\n3\r\n\r\n"), "{}", all.text);
    assert_eq!(all.text.matches("Widget ").count(), 5, "{}", all.text);
    assert!(!all.text.contains("internal"), "{}", all.text);
    // The same rules as a query.
    let hidden = export(&token, json!({ "widget_ids": ["internal"] })).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
    let unlocked = export(&token, json!({ "filters": { "dimensions": { "plan": "free" } } })).await;
    assert_eq!(unlocked.status, StatusCode::FORBIDDEN, "{}", unlocked.text);
    let empty = export(&token, json!({ "widget_ids": [] })).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.text);
    assert!(empty.text.contains("widget_ids"), "{}", empty.text);

    // A session without export: 403, and its permissions say so.
    let closed = app.token(&org.key, "acme", &id, json!({ "allow_export": false })).await;
    let refused = export(&closed, json!({ "widget_ids": ["by_plan"] })).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.body["code"], "forbidden");
    assert!(refused.text.contains("export is not allowed"), "{}", refused.text);
    let dashboard = app.embed_dashboard(&closed).await;
    assert_eq!(dashboard.ok(StatusCode::OK)["permissions"]["allow_export"], false);
    let open = app.embed_dashboard(&token).await;
    assert!(open.ok(StatusCode::OK)["permissions"].get("allow_export").is_none(), "default: on, not written");
}
