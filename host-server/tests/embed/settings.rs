//! `GET`/`PATCH /v1/settings/org` and the org's embedding list: who may read and change it, how
//! it is validated, how it bounds the sessions minted under it, and what the embed page answers.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Auth, TestApp};

const SETTINGS: &str = "/v1/settings/org";

fn page(app: &TestApp, embed_url: &str) -> String {
    // The embed URL names the server's public URL; the test talks to the bound address.
    let path = embed_url.split_once("/embed/").expect("an embed URL").1;
    format!("{}/embed/{path}", app.url())
}

async fn page_csp(app: &TestApp, embed_url: &str) -> String {
    let response = app.client.get(page(app, embed_url)).send().await.expect("GET the embed page");
    let csp = response.headers().get("content-security-policy").and_then(|v| v.to_str().ok());
    frame_ancestors(csp.unwrap_or_default())
}

/// The `frame-ancestors` directive of a policy.
fn frame_ancestors(csp: &str) -> String {
    csp.split("; ").find(|d| d.starts_with("frame-ancestors")).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn admins_read_and_change_the_org_settings() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let admin = Auth::Bearer(org.key.clone());

    let settings = app.get(SETTINGS, &admin).await.ok(StatusCode::OK).clone();
    assert_eq!(settings["embedding"], json!({ "allowed_origins": [] }), "no restriction by default");
    assert!(settings["id"].is_i64() && settings["name"].is_string() && settings["created_at"].is_string());
    assert_eq!(settings["email"], json!(null));

    // The reference's body, then the embedding part; normalized and de-duplicated.
    let patched =
        app.patch(SETTINGS, &admin, &json!({ "name": "Acme Analytics", "email": "ops@acme.test" })).await;
    assert_eq!(patched.ok(StatusCode::OK)["name"], "Acme Analytics");
    let patched = app
        .patch(
            SETTINGS,
            &admin,
            &json!({ "embedding": { "allowed_origins": ["https://App.Acme.test/", "https://*.acme-portal.test", "https://app.acme.test"] } }),
        )
        .await;
    let body = patched.ok(StatusCode::OK);
    assert_eq!(
        body["embedding"]["allowed_origins"],
        json!(["https://*.acme-portal.test", "https://app.acme.test"])
    );
    assert_eq!(body["name"], "Acme Analytics", "fields left out keep their value");
    assert_eq!(body["email"], "ops@acme.test");
    let again = app.get(SETTINGS, &Auth::Cookie(org.cookie.clone())).await;
    assert_eq!(
        again.ok(StatusCode::OK)["embedding"],
        body["embedding"],
        "the console session reads the same"
    );

    // Bad input: a 400 naming the field, nothing changed.
    for (bad, field) in [
        (json!({ "embedding": { "allowed_origins": ["acme.test"] } }), "embedding.allowed_origins[0]"),
        (
            json!({ "embedding": { "allowed_origins": ["https://a.test", "https://a.test/app"] } }),
            "embedding.allowed_origins[1]",
        ),
        (
            json!({ "embedding": { "allowed_origins": ["https://a.test; script-src *"] } }),
            "embedding.allowed_origins[0]",
        ),
        (json!({ "embedding": { "allowed_origins": ["*"] } }), "embedding.allowed_origins[0]"),
        (
            json!({ "embedding": { "allowed_origins": (0..21).map(|i| format!("https://a{i}.test")).collect::<Vec<_>>() } }),
            "embedding.allowed_origins",
        ),
        (json!({ "embedding": { "allowed_origins": "https://a.test" } }), "allowed_origins"),
        (json!({ "embedding": { "origins": [] } }), "origins"),
        (json!({ "embeding": {} }), "embeding"),
        (json!({ "name": "" }), "name"),
        (json!({ "email": "not an email" }), "email"),
    ] {
        let message =
            app.patch(SETTINGS, &admin, &bad).await.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.contains(field), "{bad}: {message}");
    }
    let unchanged = app.get(SETTINGS, &admin).await;
    assert_eq!(unchanged.ok(StatusCode::OK)["embedding"], body["embedding"]);

    // The change is audited, with what changed.
    let audit = app.get("/v1/audit", &admin).await;
    let entries = audit.ok(StatusCode::OK)["entries"].as_array().expect("entries").clone();
    let row = entries.iter().find(|e| e["action"] == "org.settings.update").expect("an audit row");
    assert_eq!(
        row["details"]["embedding.allowed_origins"],
        json!(["https://*.acme-portal.test", "https://app.acme.test"])
    );

    // Another org is untouched by this one's list.
    let other = app.register().await;
    let theirs = app.get(SETTINGS, &Auth::Bearer(other.key.clone())).await;
    assert_eq!(theirs.ok(StatusCode::OK)["embedding"]["allowed_origins"], json!([]));
}

#[tokio::test]
async fn only_admins_may_touch_the_settings() {
    let app = TestApp::new().await;
    let org = app.register().await;
    app.get(SETTINGS, &Auth::None).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    let ingest = app
        .post("/v1/api-keys", &Auth::Bearer(org.key.clone()), &json!({ "label": "i", "scope": "ingest" }))
        .await;
    let ingest = Auth::Bearer(ingest.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned());
    app.get(SETTINGS, &ingest).await.error(StatusCode::FORBIDDEN, "forbidden");
    app.patch(SETTINGS, &ingest, &json!({ "embedding": { "allowed_origins": [] } }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.set_role(&org.email, "editor").await;
    let editor = Auth::Cookie(org.cookie.clone());
    app.get(SETTINGS, &editor).await.error(StatusCode::FORBIDDEN, "forbidden");
    app.patch(SETTINGS, &editor, &json!({ "embedding": { "allowed_origins": ["https://evil.test"] } }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    let still = app.get(SETTINGS, &Auth::Bearer(org.key.clone())).await;
    assert_eq!(still.ok(StatusCode::OK)["embedding"]["allowed_origins"], json!([]));
}

#[tokio::test]
async fn a_session_narrows_the_org_list_and_the_page_follows_the_current_list() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let admin = Auth::Bearer(org.key.clone());
    let dashboard = app.standard_dashboard(&org.key).await;
    let mint = |origins: serde_json::Value| {
        app.mint(
            &org.key,
            json!({ "tenant_id": "acme", "dashboard_id": dashboard, "allowed_origins": origins }),
        )
    };

    // No list anywhere: any page may frame it.
    let open = mint(json!([])).await.ok(StatusCode::CREATED)["embed_url"].as_str().expect("url").to_owned();
    assert_eq!(page_csp(&app, &open).await, "frame-ancestors *");
    let own = mint(json!(["https://elsewhere.test"])).await.ok(StatusCode::CREATED)["embed_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(page_csp(&app, &own).await, "frame-ancestors https://elsewhere.test");

    app.patch(
        SETTINGS,
        &admin,
        &json!({ "embedding": { "allowed_origins": ["https://*.acme.test", "https://portal.acme.io"] } }),
    )
    .await
    .ok(StatusCode::OK);

    // A session outside the org's list: 400 at mint, naming it.
    for outside in [
        json!(["https://evil.test"]),
        json!(["https://app.acme.test", "https://acme.test"]),
        json!(["https://*.test"]),
        json!(["http://app.acme.test"]),
        json!(["https://portal.acme.io:8443"]),
    ] {
        let message = mint(outside.clone()).await.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(
            message.contains("allowed_origins") && message.contains("not within"),
            "{outside}: {message}"
        );
    }
    // Within it: exact subdomains, a narrower wildcard, an exact entry.
    let narrow = mint(json!(["https://app.acme.test", "https://*.eu.acme.test"])).await;
    let narrow = narrow.ok(StatusCode::CREATED)["embed_url"].as_str().expect("url").to_owned();
    assert_eq!(page_csp(&app, &narrow).await, "frame-ancestors https://*.eu.acme.test https://app.acme.test");
    // None named: the org's list.
    let default =
        mint(json!([])).await.ok(StatusCode::CREATED)["embed_url"].as_str().expect("url").to_owned();
    let body = app.client.get(page(&app, &default)).send().await.expect("page");
    let csp = body.headers().get("content-security-policy").and_then(|v| v.to_str().ok());
    assert_eq!(
        frame_ancestors(csp.unwrap_or_default()),
        "frame-ancestors https://*.acme.test https://portal.acme.io"
    );

    // Sessions minted before the list follow the current list at their next load: one that
    // named nothing gets the list; one whose origins left it may be framed by nobody.
    assert_eq!(page_csp(&app, &open).await, "frame-ancestors https://*.acme.test https://portal.acme.io");
    assert_eq!(page_csp(&app, &own).await, "frame-ancestors 'none'");

    // Narrowing the org's list drops a session's now-outside origin at once (no stale cache).
    app.patch(SETTINGS, &admin, &json!({ "embedding": { "allowed_origins": ["https://*.eu.acme.test"] } }))
        .await
        .ok(StatusCode::OK);
    assert_eq!(page_csp(&app, &narrow).await, "frame-ancestors https://*.eu.acme.test");

    // Another org's list does not apply here, nor this one's there.
    let other = app.register().await;
    let theirs = app.standard_dashboard(&other.key).await;
    let url = app
        .mint(
            &other.key,
            json!({ "tenant_id": "acme", "dashboard_id": theirs, "allowed_origins": ["https://evil.test"] }),
        )
        .await;
    let url = url.ok(StatusCode::CREATED)["embed_url"].as_str().expect("url").to_owned();
    assert_eq!(page_csp(&app, &url).await, "frame-ancestors https://evil.test");
}
