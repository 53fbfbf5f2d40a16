//! Dashboards and widgets: CRUD, validation that names the widget and field, roles, the publish
//! flow as an embed sees it, standalone widgets and the preview.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Auth, TestApp, standard_widgets, tenant_events, value, widget};

#[tokio::test]
async fn dashboards_crud() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let key = Auth::Bearer(org.key.clone());

    assert_eq!(app.get("/v1/dashboards", &key).await.ok(StatusCode::OK)["dashboards"], json!([]));
    let created =
        app.post("/v1/dashboards", &key, &json!({ "name": " Usage ", "widgets": standard_widgets() })).await;
    let body = created.ok(StatusCode::CREATED).clone();
    let id = body["id"].as_str().expect("id").to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "UUID id: {id}");
    assert_eq!(body["name"], "Usage");
    assert_eq!(body["published"], false);
    assert_eq!(body["published_config"], Value::Null);
    assert_eq!(body["config"]["widgets"].as_array().expect("widgets").len(), 6);
    assert_eq!(body["has_unpublished_changes"], true);

    let got = app.get(&format!("/v1/dashboards/{id}"), &key).await;
    assert_eq!(got.ok(StatusCode::OK)["config"], body["config"]);
    let list = app.get("/v1/dashboards", &key).await;
    assert_eq!(list.ok(StatusCode::OK)["dashboards"][0]["id"], id.as_str());

    let patched = app.patch(&format!("/v1/dashboards/{id}"), &key, &json!({ "name": "Renamed" })).await;
    assert_eq!(patched.ok(StatusCode::OK)["name"], "Renamed");
    assert_eq!(patched.body["config"], body["config"], "a name-only patch keeps the widgets");
    let patched = app.patch(&format!("/v1/dashboards/{id}"), &key, &json!({ "widgets": [] })).await;
    assert_eq!(patched.ok(StatusCode::OK)["config"]["widgets"], json!([]));

    // Inline widgets.
    let add = app
        .post(
            &format!("/v1/dashboards/{id}/widgets"),
            &key,
            &json!({ "kind": "metric", "title": "Calls", "query": { "event_name": "api.call", "metric": "count" }, "viz": { "type": "number" } }),
        )
        .await;
    let added = add.ok(StatusCode::CREATED).clone();
    let wid = added["id"].as_str().expect("generated id").to_owned();
    assert!(wid.starts_with("w_"), "{wid}");
    assert_eq!(added["layout"], json!({ "x": 0, "y": 0, "w": 6, "h": 4 }));
    let second = app
        .post(
            &format!("/v1/dashboards/{id}/widgets"),
            &key,
            &widget(
                "second",
                "metric",
                json!({ "event_name": "e", "metric": "count" }),
                "number",
                [6, 0, 6, 4],
            ),
        )
        .await;
    second.ok(StatusCode::CREATED);
    let dup = app
        .post(
            &format!("/v1/dashboards/{id}/widgets"),
            &key,
            &widget(
                "second",
                "metric",
                json!({ "event_name": "e", "metric": "count" }),
                "number",
                [0, 4, 6, 4],
            ),
        )
        .await;
    assert!(
        dup.error(StatusCode::BAD_REQUEST, "invalid_request").contains("duplicates the id"),
        "{}",
        dup.text
    );

    let upd = app
        .patch(
            &format!("/v1/dashboards/{id}/widgets/{wid}"),
            &key,
            &json!({ "title": "All calls", "layout": { "x": 0, "y": 0, "w": 3, "h": 2 } }),
        )
        .await;
    assert_eq!(upd.ok(StatusCode::OK)["title"], "All calls");
    assert_eq!(upd.body["layout"]["w"], 3);
    let missing =
        app.patch(&format!("/v1/dashboards/{id}/widgets/nope"), &key, &json!({ "title": "x" })).await;
    missing.error(StatusCode::NOT_FOUND, "not_found");
    app.delete(&format!("/v1/dashboards/{id}/widgets/{wid}"), &key).await.ok(StatusCode::NO_CONTENT);
    app.delete(&format!("/v1/dashboards/{id}/widgets/{wid}"), &key)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    let after = app.get(&format!("/v1/dashboards/{id}"), &key).await;
    assert_eq!(after.ok(StatusCode::OK)["config"]["widgets"].as_array().map(Vec::len), Some(1));

    app.delete(&format!("/v1/dashboards/{id}"), &key).await.ok(StatusCode::NO_CONTENT);
    app.get(&format!("/v1/dashboards/{id}"), &key).await.error(StatusCode::NOT_FOUND, "not_found");
    app.delete(&format!("/v1/dashboards/{id}"), &key).await.error(StatusCode::NOT_FOUND, "not_found");
    app.get("/v1/dashboards/not-a-uuid", &key).await.error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn validation_names_the_widget_and_field() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let key = Auth::Bearer(org.key.clone());
    let ok = |id: &str| {
        widget(id, "metric", json!({ "event_name": "api.call", "metric": "count" }), "number", [0, 0, 3, 2])
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!([
                ok("a"),
                ok("b"),
                widget(
                    "latency",
                    "metric",
                    json!({ "event_name": "e", "metric": "count" }),
                    "number",
                    [0, 0, 0, 2]
                )
            ]),
            "widgets[2] (id \"latency\").layout.w:",
        ),
        (
            json!([
                ok("a"),
                widget(
                    "wide",
                    "metric",
                    json!({ "event_name": "e", "metric": "count" }),
                    "number",
                    [8, 0, 6, 2]
                )
            ]),
            "widgets[1] (id \"wide\").layout.x:",
        ),
        (
            json!([widget(
                "tall",
                "metric",
                json!({ "event_name": "e", "metric": "count" }),
                "number",
                [0, 0, 3, 25]
            )]),
            "widgets[0] (id \"tall\").layout.h:",
        ),
        (
            json!([
                ok("a"),
                widget(
                    "neg",
                    "metric",
                    json!({ "event_name": "e", "metric": "count" }),
                    "number",
                    [0, 0, 3, 2]
                )
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("layout".into(), json!({ "x": -1, "y": 0, "w": 3, "h": 2 }));
                    Value::Object(o)
                })
                .expect("object")
            ]),
            "widgets[1] (id \"neg\").layout.x:",
        ),
        (json!([ok("a"), ok("a")]), "widgets[1] (id \"a\").id:"),
        (json!([ok("bad id!")]), "widgets[0] (id \"bad id!\").id:"),
        (
            json!([widget(
                "b",
                "breakdown",
                json!({ "event_name": "e", "metric": "count" }),
                "bar",
                [0, 0, 3, 2]
            )]),
            "widgets[0] (id \"b\").query.group_by:",
        ),
        (
            json!([widget(
                "t",
                "table",
                json!({ "event_name": "e", "metric": "count", "group_by": "model", "granularity": "day" }),
                "table",
                [0, 0, 3, 2]
            )]),
            "widgets[0] (id \"t\").query.granularity:",
        ),
        (
            json!([widget(
                "m",
                "metric",
                json!({ "event_name": "e", "metric": "count", "group_by": "model" }),
                "number",
                [0, 0, 3, 2]
            )]),
            "widgets[0] (id \"m\").query.group_by:",
        ),
        (
            json!([widget(
                "v",
                "breakdown",
                json!({ "event_name": "e", "metric": "count", "group_by": "model" }),
                "line",
                [0, 0, 3, 2]
            )]),
            "widgets[0] (id \"v\").viz.type:",
        ),
        (
            json!([widget(
                "p",
                "metric",
                json!({ "event_name": "e", "metric": "p95" }),
                "number",
                [0, 0, 3, 2]
            )]),
            "widgets[0] (id \"p\").query.numeric_prop:",
        ),
        (
            json!([widget(
                "k",
                "metric",
                json!({ "event_name": "e", "metric": "median" }),
                "number",
                [0, 0, 3, 2]
            )]),
            "widgets[0] (id \"k\").query.metric:",
        ),
        (
            json!([widget(
                "u",
                "metric",
                json!({ "event_name": "e", "metric": "count", "colour": "red" }),
                "number",
                [0, 0, 3, 2]
            )]),
            "widgets[0] (id \"u\").query.colour: unknown field",
        ),
        (
            json!([widget(
                "e",
                "metric",
                json!({ "event_name": "", "metric": "count" }),
                "number",
                [0, 0, 3, 2]
            )]),
            "widgets[0] (id \"e\").query.event_name:",
        ),
    ];
    for (widgets, prefix) in cases {
        let resp = app.post("/v1/dashboards", &key, &json!({ "name": "x", "widgets": widgets })).await;
        let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.starts_with(prefix), "expected {prefix:?}, got {message:?}");
    }
    let resp = app.post("/v1/dashboards", &key, &json!({ "name": "", "widgets": [] })).await;
    assert!(resp.error(StatusCode::BAD_REQUEST, "invalid_request").starts_with("name:"));
    let resp = app.post("/v1/dashboards", &key, &json!({ "name": "x", "colour": "red" })).await;
    assert!(resp.error(StatusCode::BAD_REQUEST, "invalid_request").contains("colour"));

    // Patching a widget into an invalid state names it by its position in the draft.
    let id = app.create_dashboard(&org.key, "x", json!([ok("a"), ok("b")])).await;
    let resp = app
        .patch(
            &format!("/v1/dashboards/{id}/widgets/b"),
            &key,
            &json!({ "layout": { "x": 11, "y": 0, "w": 2, "h": 2 } }),
        )
        .await;
    let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(message.starts_with("widgets[1] (id \"b\").layout.x:"), "{message}");
    // The failed edit changed nothing.
    let got = app.get(&format!("/v1/dashboards/{id}"), &key).await;
    assert_eq!(got.ok(StatusCode::OK)["config"]["widgets"][1]["layout"]["x"], 0);
}

#[tokio::test]
async fn roles_follow_the_access_table() {
    let app = TestApp::new().await;
    let viewer = app.register().await;
    let editor = app.register().await;
    app.set_role(&viewer.email, "viewer").await;
    app.set_role(&editor.email, "editor").await;
    let widgets = standard_widgets();

    // A viewer reads but changes nothing.
    let v = Auth::Cookie(viewer.cookie.clone());
    let vid = app.standard_dashboard(&viewer.key).await;
    app.get("/v1/dashboards", &v).await.ok(StatusCode::OK);
    app.get(&format!("/v1/dashboards/{vid}"), &v).await.ok(StatusCode::OK);
    app.get("/v1/widgets", &v).await.ok(StatusCode::OK);
    app.post("/v1/dashboards", &v, &json!({ "name": "x" })).await.error(StatusCode::FORBIDDEN, "forbidden");
    app.patch(&format!("/v1/dashboards/{vid}"), &v, &json!({ "name": "x" }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.delete(&format!("/v1/dashboards/{vid}"), &v).await.error(StatusCode::FORBIDDEN, "forbidden");
    app.delete(&format!("/v1/dashboards/{vid}/widgets/calls"), &v)
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.post_empty("/v1/discover/auto-create", &v).await.error(StatusCode::FORBIDDEN, "forbidden");

    // An editor builds dashboards and widgets; publishing, sessions and the audit log need admin
    // access (docs/api.md, "Who may call what").
    let e = Auth::Cookie(editor.cookie.clone());
    let created = app.post("/v1/dashboards", &e, &json!({ "name": "E", "widgets": widgets })).await;
    let eid = created.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    app.patch(&format!("/v1/dashboards/{eid}/widgets/calls"), &e, &json!({ "title": "Calls" }))
        .await
        .ok(StatusCode::OK);
    for path in ["publish", "unpublish", "restore-published"] {
        app.post_empty(&format!("/v1/dashboards/{eid}/{path}"), &e)
            .await
            .error(StatusCode::FORBIDDEN, "forbidden");
    }
    let w = widget("n", "metric", json!({ "event_name": "e", "metric": "count" }), "number", [0, 9, 3, 2]);
    app.post(&format!("/v1/dashboards/{eid}/widgets"), &e, &w).await.ok(StatusCode::CREATED);
    app.post("/v1/widgets", &e, &json!({ "kind": "metric", "title": "x", "query": { "event_name": "e", "metric": "count" }, "viz": { "type": "number" } }))
        .await
        .ok(StatusCode::CREATED);
    app.mint_as(&e, &json!({ "tenant_id": "t", "dashboard_id": eid }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.get("/v1/embed-sessions", &e).await.error(StatusCode::FORBIDDEN, "forbidden");
    app.get("/v1/audit", &e).await.error(StatusCode::FORBIDDEN, "forbidden");
    app.delete(&format!("/v1/dashboards/{eid}"), &e).await.ok(StatusCode::NO_CONTENT);

    // Ingest keys get 403 on every route here.
    let created = app
        .post("/v1/api-keys", &Auth::Bearer(editor.key.clone()), &json!({ "label": "i", "scope": "ingest" }))
        .await;
    let ingest = Auth::Bearer(created.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned());
    let did = app.standard_dashboard(&editor.key).await;
    let body = json!({});
    let cases: Vec<(reqwest::Method, String)> = vec![
        (reqwest::Method::GET, "/v1/dashboards".into()),
        (reqwest::Method::POST, "/v1/dashboards".into()),
        (reqwest::Method::GET, format!("/v1/dashboards/{did}")),
        (reqwest::Method::PATCH, format!("/v1/dashboards/{did}")),
        (reqwest::Method::DELETE, format!("/v1/dashboards/{did}")),
        (reqwest::Method::POST, format!("/v1/dashboards/{did}/publish")),
        (reqwest::Method::POST, format!("/v1/dashboards/{did}/widgets")),
        (reqwest::Method::GET, "/v1/widgets".into()),
        (reqwest::Method::POST, "/v1/widgets/preview/data".into()),
        (reqwest::Method::POST, "/v1/embed-sessions".into()),
        (reqwest::Method::GET, "/v1/embed-sessions".into()),
        (reqwest::Method::GET, "/v1/discover".into()),
        (reqwest::Method::POST, "/v1/discover/auto-create".into()),
        (reqwest::Method::GET, "/v1/audit".into()),
    ];
    for (method, path) in cases {
        let resp = app.send(method.clone(), &path, &ingest, Some(&body)).await;
        assert_eq!(resp.status, StatusCode::FORBIDDEN, "{method} {path}: {}", resp.text);
    }
    // Without credentials: 401.
    app.get("/v1/dashboards", &Auth::None).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn publish_flow_as_the_embed_sees_it() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let key = Auth::Bearer(org.key.clone());
    app.ingest(&org.key, tenant_events("acme", 6, 4)).await;
    let calls = widget(
        "calls",
        "metric",
        json!({ "event_name": "api.call", "metric": "count" }),
        "number",
        [0, 0, 4, 2],
    );
    let id = app.create_dashboard(&org.key, "Flow", json!([calls])).await;
    let token = app.token(&org.key, "acme", &id, json!({})).await;

    // Never published: a clear state, and no data.
    let embed = app.embed_dashboard(&token).await;
    let body = embed.ok(StatusCode::OK);
    assert_eq!(body["published"], false);
    assert_eq!(body["message"], "This dashboard is not published.");
    assert_eq!(body["dashboard"]["widgets"], json!([]));
    app.embed_query(&token, json!({ "widget_id": "calls" }))
        .await
        .error(StatusCode::NOT_FOUND, "not_published");
    app.post_empty(&format!("/v1/dashboards/{id}/restore-published"), &key)
        .await
        .error(StatusCode::CONFLICT, "conflict");

    app.publish(&org.key, &id).await;
    let embed = app.embed_dashboard(&token).await;
    assert_eq!(embed.ok(StatusCode::OK)["published"], true);
    assert_eq!(embed.body["dashboard"]["widgets"][0]["title"], "Widget calls");
    assert_eq!(value(&app.embed_query(&token, json!({ "widget_id": "calls" })).await), 10.0);

    // Draft edits do not reach the embed until published.
    app.patch(&format!("/v1/dashboards/{id}/widgets/calls"), &key, &json!({ "title": "Draft title" }))
        .await
        .ok(StatusCode::OK);
    let extra = widget(
        "extra",
        "metric",
        json!({ "event_name": "api.call", "metric": "count" }),
        "number",
        [4, 0, 4, 2],
    );
    app.post(&format!("/v1/dashboards/{id}/widgets"), &key, &extra).await.ok(StatusCode::CREATED);
    let draft = app.get(&format!("/v1/dashboards/{id}"), &key).await;
    assert_eq!(draft.ok(StatusCode::OK)["has_unpublished_changes"], true);
    let embed = app.embed_dashboard(&token).await;
    assert_eq!(embed.ok(StatusCode::OK)["dashboard"]["widgets"].as_array().map(Vec::len), Some(1));
    assert_eq!(embed.body["dashboard"]["widgets"][0]["title"], "Widget calls");
    app.embed_query(&token, json!({ "widget_id": "extra" })).await.error(StatusCode::NOT_FOUND, "not_found");

    app.publish(&org.key, &id).await;
    let embed = app.embed_dashboard(&token).await;
    assert_eq!(embed.ok(StatusCode::OK)["dashboard"]["widgets"][0]["title"], "Draft title");
    assert_eq!(value(&app.embed_query(&token, json!({ "widget_id": "extra" })).await), 10.0);

    // Unpublish: the "not published" state again; the snapshot is kept for restore.
    app.post_empty(&format!("/v1/dashboards/{id}/unpublish"), &key).await.ok(StatusCode::NO_CONTENT);
    assert_eq!(app.embed_dashboard(&token).await.ok(StatusCode::OK)["published"], false);
    app.embed_query(&token, json!({ "widget_id": "calls" }))
        .await
        .error(StatusCode::NOT_FOUND, "not_published");
    app.patch(&format!("/v1/dashboards/{id}"), &key, &json!({ "widgets": [] })).await.ok(StatusCode::OK);
    app.post_empty(&format!("/v1/dashboards/{id}/restore-published"), &key).await.ok(StatusCode::NO_CONTENT);
    let restored = app.get(&format!("/v1/dashboards/{id}"), &key).await;
    let restored = restored.ok(StatusCode::OK);
    assert_eq!(restored["config"], restored["published_config"]);
    assert_eq!(restored["config"]["widgets"].as_array().map(Vec::len), Some(2));
    assert_eq!(restored["published"], false);
    app.publish(&org.key, &id).await;
    assert_eq!(app.embed_dashboard(&token).await.ok(StatusCode::OK)["published"], true);
}

#[tokio::test]
async fn standalone_widgets_and_preview() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let key = Auth::Bearer(org.key.clone());
    app.ingest(&org.key, tenant_events("acme", 3, 2)).await;
    let body = json!({ "kind": "breakdown", "title": "By model", "query": { "event_name": "api.call", "metric": "count", "group_by": "model" }, "viz": { "type": "bar" } });
    let created = app.post("/v1/widgets", &key, &body).await;
    let created = created.ok(StatusCode::CREATED).clone();
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(created["widget"]["id"], id.as_str());
    assert_eq!(created["published"], Value::Null);
    app.post("/v1/widgets", &key, &json!({ "id": "mine", "kind": "metric" }))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
    let bad = app.post("/v1/widgets", &key, &json!({ "kind": "table", "title": "t", "query": { "event_name": "e", "metric": "count" }, "viz": { "type": "table" } })).await;
    assert!(bad.error(StatusCode::BAD_REQUEST, "invalid_request").starts_with("widget.query.group_by"));

    let patched = app.patch(&format!("/v1/widgets/{id}"), &key, &json!({ "viz": { "type": "pie" } })).await;
    assert_eq!(patched.ok(StatusCode::OK)["widget"]["viz"]["type"], "pie");
    app.post_empty(&format!("/v1/widgets/{id}/publish"), &key).await.ok(StatusCode::NO_CONTENT);
    let got = app.get(&format!("/v1/widgets/{id}"), &key).await;
    assert_eq!(got.ok(StatusCode::OK)["published"]["viz"]["type"], "pie");
    assert_eq!(
        app.get("/v1/widgets", &key).await.ok(StatusCode::OK)["widgets"].as_array().map(Vec::len),
        Some(1)
    );
    app.delete(&format!("/v1/widgets/{id}"), &key).await.ok(StatusCode::NO_CONTENT);
    app.get(&format!("/v1/widgets/{id}"), &key).await.error(StatusCode::NOT_FOUND, "not_found");

    // The preview evaluates an unsaved widget in GET /v1/query's row shape.
    let preview = app
        .post(
            "/v1/widgets/preview/data",
            &key,
            &json!({ "tenant_id": "acme", "widget": body, "filters": { "period": "7d" } }),
        )
        .await;
    let data = preview.ok(StatusCode::OK);
    assert_eq!(data["data"], json!([{ "group": "gpt-4", "value": 3 }, { "group": "claude-3", "value": 2 }]));
    assert_eq!(data["meta"]["period"], "7d");
    let bad = app.post("/v1/widgets/preview/data", &key, &json!({ "widget": body })).await;
    assert!(bad.error(StatusCode::BAD_REQUEST, "invalid_request").contains("tenant_id"));
}

impl TestApp {
    /// `POST /v1/embed-sessions` with any credentials.
    pub async fn mint_as(&self, auth: &Auth, body: &Value) -> crate::fixture::Resp {
        self.post("/v1/embed-sessions", auth, body).await
    }
}
