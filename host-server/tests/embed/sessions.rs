//! Embed sessions an admin can take back (one by one or a whole tenant), and the `embed` key
//! scope that can mint sessions and nothing else (issue 11).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixture::{Auth, TestApp, tenant_events};

fn jti(token: &str) -> String {
    let part = token.split('.').nth(1).expect("payload");
    let payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json");
    payload["jti"].as_str().expect("jti").to_owned()
}

/// Both data routes answer the token (200) or refuse it as expired/revoked (401).
async fn works(app: &TestApp, token: &str) -> bool {
    let dashboard = app.embed_dashboard(token).await;
    let query = app.embed_query(token, json!({ "widget_id": "calls" })).await;
    assert_eq!(dashboard.status, query.status, "{} / {}", dashboard.text, query.text);
    match dashboard.status {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => {
            // The runtime shows "Session expired" for any 401 (embed-runtime/src/state.rs).
            let message = query.error(StatusCode::UNAUTHORIZED, "unauthorized");
            assert!(message.contains("revoked"), "{message}");
            false
        }
        other => panic!("unexpected {other}: {}", dashboard.text),
    }
}

fn listed(body: &Value) -> Vec<String> {
    body["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["jti"].as_str().expect("jti").to_owned())
        .collect()
}

#[tokio::test]
async fn revoked_sessions_get_401_on_every_data_route_and_stay_revoked() {
    let app = TestApp::new().await;
    let org = app.register().await;
    app.ingest(&org.key, tenant_events("acme", 3, 1)).await;
    app.ingest(&org.key, tenant_events("globex", 2, 0)).await;
    let id = app.standard_dashboard(&org.key).await;
    let first = app.token(&org.key, "acme", &id, json!({})).await;
    let second = app.token(&org.key, "acme", &id, json!({})).await;
    let other_tenant = app.token(&org.key, "globex", &id, json!({})).await;
    let admin = Auth::Bearer(org.key.clone());

    // One session.
    app.delete(&format!("/v1/embed-sessions/{}", jti(&first)), &admin).await.ok(StatusCode::NO_CONTENT);
    assert!(!works(&app, &first).await);
    assert!(works(&app, &second).await);
    let sessions = app.get("/v1/embed-sessions", &admin).await;
    let ids = listed(sessions.ok(StatusCode::OK));
    assert!(!ids.contains(&jti(&first)) && ids.contains(&jti(&second)), "{ids:?}");
    // Revoking again is idempotent.
    app.delete(&format!("/v1/embed-sessions/{}", jti(&first)), &admin).await.ok(StatusCode::NO_CONTENT);

    // The whole tenant: every session minted before, none minted after, no other tenant.
    app.delete("/v1/embed-sessions?tenant_id=acme", &admin).await.ok(StatusCode::NO_CONTENT);
    assert!(!works(&app, &second).await);
    assert!(works(&app, &other_tenant).await);
    let after = app.token(&org.key, "acme", &id, json!({})).await;
    assert!(works(&app, &after).await, "a session minted after the revocation works");

    // Revocations live in the metadata store: a restart keeps them.
    let app = app.restart().await;
    assert!(!works(&app, &first).await);
    assert!(!works(&app, &second).await);
    assert!(works(&app, &after).await);
    assert!(works(&app, &other_tenant).await);
}

#[tokio::test]
async fn revoking_is_scoped_to_the_org_and_says_nothing_about_others() {
    let app = TestApp::new().await;
    let (mine, theirs) = (app.register().await, app.register().await);
    let id = app.standard_dashboard(&mine.key).await;
    let token = app.token(&mine.key, "acme", &id, json!({})).await;
    let their_key = Auth::Bearer(theirs.key.clone());

    let foreign = app.delete(&format!("/v1/embed-sessions/{}", jti(&token)), &their_key).await;
    let foreign = foreign.error(StatusCode::NOT_FOUND, "not_found");
    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = app.delete(&format!("/v1/embed-sessions/{unknown}"), &their_key).await;
    let missing = missing.error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        foreign.replace(&jti(&token), "ID"),
        missing.replace(&unknown, "ID"),
        "same answer either way"
    );
    // Their tenant revocation of the same tenant name touches only their own org.
    app.delete("/v1/embed-sessions?tenant_id=acme", &their_key).await.ok(StatusCode::NO_CONTENT);
    assert!(works(&app, &token).await);
    // Each environment is its own scope: revoking in production leaves development's sessions.
    let admin = Auth::Bearer(mine.key.clone());
    let dev = app
        .post(
            "/v1/api-keys",
            &admin,
            &json!({ "label": "dev", "scope": "admin", "environment": "development" }),
        )
        .await;
    let dev_key = dev.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned();
    let dev_dashboard = app.standard_dashboard(&dev_key).await;
    let dev_token = app.token(&dev_key, "acme", &dev_dashboard, json!({})).await;
    app.delete("/v1/embed-sessions?tenant_id=acme", &admin).await.ok(StatusCode::NO_CONTENT);
    assert!(!works(&app, &token).await);
    assert!(works(&app, &dev_token).await, "development's session survives production's revocation");
    app.delete(&format!("/v1/embed-sessions/{}", jti(&dev_token)), &admin)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");

    for (path, field) in [
        ("/v1/embed-sessions", "tenant_id"),
        ("/v1/embed-sessions?tenant_id=", "tenant_id"),
        ("/v1/embed-sessions?tenant_id=a&tenant_id=b", "tenant_id"),
        ("/v1/embed-sessions?tenant=acme", "tenant"),
    ] {
        let message = app.delete(path, &admin).await.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.starts_with(field), "{path}: {message}");
    }
    // Ingest keys may not revoke.
    let created = app.post("/v1/api-keys", &admin, &json!({ "label": "ingest", "scope": "ingest" })).await;
    let ingest = Auth::Bearer(created.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned());
    app.delete("/v1/embed-sessions?tenant_id=acme", &ingest).await.error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn embed_keys_mint_sessions_and_do_nothing_else() {
    let app = TestApp::new().await;
    let org = app.register().await;
    app.ingest(&org.key, tenant_events("acme", 2, 0)).await;
    let id = app.standard_dashboard(&org.key).await;
    let admin = Auth::Bearer(org.key.clone());
    let created = app.post("/v1/api-keys", &admin, &json!({ "label": "web tier", "scope": "embed" })).await;
    let created = created.ok(StatusCode::CREATED);
    assert_eq!(created["scope"], "embed");
    let key = created["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with("emb_embed_"), "{key}");

    let minted = app.mint(&key, json!({ "tenant_id": "acme", "dashboard_id": id }));
    let minted = minted.await;
    let token = minted.ok(StatusCode::CREATED)["token"].as_str().expect("token").to_owned();
    assert!(works(&app, &token).await);

    let embed = Auth::Bearer(key.clone());
    let event = json!({ "events": [{ "tenant_id": "acme", "event_name": "api.call" }] });
    let widget = json!({ "id": "w", "kind": "metric", "title": "W", "query": { "event_name": "api.call", "metric": "count" }, "viz": { "type": "number" }, "layout": { "x": 0, "y": 0, "w": 3, "h": 2 } });
    let requests: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/v1/events".into(), Some(event)),
        (Method::GET, "/v1/query?event_name=api.call&tenant_id=acme&metric=count&period=7d".into(), None),
        (Method::POST, "/v1/query/adhoc".into(), Some(json!({ "sql": "SELECT 1" }))),
        (Method::GET, "/v1/dashboards".into(), None),
        (Method::GET, format!("/v1/dashboards/{id}"), None),
        (Method::POST, "/v1/dashboards".into(), Some(json!({ "name": "x", "widgets": [] }))),
        (Method::POST, format!("/v1/dashboards/{id}/publish"), None),
        (Method::DELETE, format!("/v1/dashboards/{id}"), None),
        (Method::GET, "/v1/widgets".into(), None),
        (
            Method::POST,
            "/v1/widgets/preview/data".into(),
            Some(json!({ "tenant_id": "acme", "widget": widget })),
        ),
        (Method::GET, "/v1/api-keys".into(), None),
        (Method::POST, "/v1/api-keys".into(), Some(json!({ "label": "x", "scope": "admin" }))),
        (Method::DELETE, "/v1/api-keys/1".into(), None),
        (Method::GET, "/v1/embed-sessions".into(), None),
        (Method::DELETE, format!("/v1/embed-sessions/{}", jti(&token)), None),
        (Method::DELETE, "/v1/embed-sessions?tenant_id=acme".into(), None),
        (Method::GET, "/v1/auth/me".into(), None),
        (Method::GET, "/v1/usage".into(), None),
        (Method::GET, "/v1/audit".into(), None),
        (Method::GET, "/v1/settings/org".into(), None),
        (Method::GET, "/v1/discover".into(), None),
        (Method::POST, "/v1/discover/auto-create".into(), None),
        (Method::GET, "/v1/onboarding/status".into(), None),
        (Method::GET, "/v1/datasets".into(), None),
        (Method::GET, "/v1/saved-queries".into(), None),
    ];
    for (method, path, body) in requests {
        let resp = app.send(method.clone(), &path, &embed, body.as_ref()).await;
        if resp.status == StatusCode::NOT_FOUND && resp.body["error"] == "no such route" {
            panic!("{method} {path} is not a route; fix the test's list");
        }
        let message = resp.error(StatusCode::FORBIDDEN, "forbidden");
        assert!(message.contains("embed scope"), "{method} {path}: {message}");
    }
    assert!(works(&app, &token).await, "nothing above revoked or changed the session");
    // Ingest keys still may not mint.
    let created = app.post("/v1/api-keys", &admin, &json!({ "label": "ingest", "scope": "ingest" })).await;
    let ingest = created.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned();
    app.mint(&ingest, json!({ "tenant_id": "acme", "dashboard_id": id }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
}
