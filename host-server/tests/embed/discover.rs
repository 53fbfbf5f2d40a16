//! Discovery and auto-create, answered in the reference's shape.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Auth, TestApp, call};

#[tokio::test]
async fn discover_and_auto_create() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let key = Auth::Bearer(org.key.clone());
    // Nothing to build from yet.
    app.post_empty("/v1/discover/auto-create", &key).await.error(StatusCode::CONFLICT, "conflict");

    let mut events: Vec<_> = (0..6)
        .map(|i| {
            call("acme", if i % 2 == 0 { "gpt-4" } else { "claude-3" }, "/chat", "pro", 100.0 + i as f64, 1)
        })
        .collect();
    events.extend((0..3).map(|i| {
        json!({ "tenant_id": "globex", "event_name": "page.view",
                "string_props": { "page": format!("/p{}", i % 2), "source": "ads" },
                "numeric_props": { "scroll_depth": 0.5 + i as f64 / 10.0 } })
    }));
    app.ingest(&org.key, events).await;

    let resp = app.get("/v1/discover", &key).await;
    let body = resp.ok(StatusCode::OK).clone();
    assert_eq!(body["events_found"], 2);
    let api = &body["events"][0];
    assert_eq!(api["event_name"], "api.call");
    assert_eq!(api["count"], 6);
    assert_eq!(api["tenants"], 1);
    let model = api["string_props"]
        .as_array()
        .expect("string props")
        .iter()
        .find(|p| p["key"] == "model")
        .expect("model")
        .clone();
    assert_eq!(model["count"], 6);
    assert_eq!(model["distinct_values"], 2);
    assert_eq!(
        model["sample_values"],
        json!([{ "value": "claude-3", "count": 3 }, { "value": "gpt-4", "count": 3 }])
    );
    let tokens = api["numeric_props"]
        .as_array()
        .expect("numeric")
        .iter()
        .find(|p| p["key"] == "tokens")
        .expect("tokens")
        .clone();
    assert_eq!(tokens["count"], 6);
    assert_eq!(tokens["min"], 100.0);
    assert_eq!(tokens["max"], 105.0);
    let page = &body["events"][1];
    assert_eq!(page["event_name"], "page.view");
    let page_props: Vec<&str> =
        page["string_props"].as_array().expect("props").iter().filter_map(|p| p["key"].as_str()).collect();
    assert!(page_props.contains(&"page") && page_props.contains(&"source"), "{page_props:?}");
    assert_eq!(page["numeric_props"][0]["key"], "scroll_depth");

    let one = app.get("/v1/discover?tenant_id=globex", &key).await;
    assert_eq!(one.ok(StatusCode::OK)["events_found"], 1);
    app.get("/v1/discover?colour=red", &key).await.error(StatusCode::BAD_REQUEST, "invalid_request");

    let created = app.post_empty("/v1/discover/auto-create", &key).await;
    let answer = created.ok(StatusCode::CREATED).clone();
    let mut keys: Vec<&str> = answer.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["dashboard_id", "events_found", "name", "widgets"]);
    assert_eq!(answer["name"], "Auto-generated Dashboard");
    assert_eq!(answer["events_found"], 2);
    let id = answer["dashboard_id"].as_str().expect("id");
    let dashboard = app.get(&format!("/v1/dashboards/{id}"), &key).await;
    let widgets = dashboard.ok(StatusCode::OK)["config"]["widgets"].as_array().expect("widgets").clone();
    assert_eq!(widgets.len() as u64, answer["widgets"].as_u64().expect("count"));
    let kinds: Vec<&str> = widgets.iter().filter_map(|w| w["kind"].as_str()).collect();
    assert!(
        kinds.contains(&"timeseries") && kinds.contains(&"breakdown") && kinds.contains(&"metric"),
        "{kinds:?}"
    );
    assert!(widgets.iter().any(|w| w["query"]["metric"] == "p95"));
    assert!(widgets.iter().any(|w| w["query"]["metric"] == "avg"));

    let named = app.post("/v1/discover/auto-create", &key, &json!({ "name": "Mine" })).await;
    assert_eq!(named.ok(StatusCode::CREATED)["name"], "Mine");
    app.post("/v1/discover/auto-create", &key, &json!({ "nme": "x" }))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");

    // The auto-created dashboard embeds once published.
    app.publish(&org.key, id).await;
    let token = app.token(&org.key, "acme", id, json!({})).await;
    let first = widgets[0]["id"].as_str().expect("widget id");
    app.embed_query(&token, json!({ "widget_id": first })).await.ok(StatusCode::OK);
}
