//! Attacks on the embed token: every forged, altered, expired or misdirected token is a 401 on
//! every embed route and never returns data.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Auth, TestApp, tenant_events, value};

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
}

fn sign(alg: Algorithm, secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).expect("encode")
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
}

/// Asserts that both embed routes refuse `token` with a 401 and no data.
async fn refused(app: &TestApp, token: &str, why: &str) {
    let auth = Auth::Bearer(token.to_owned());
    let resp = app.get("/v1/embed/dashboard", &auth).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{why}: GET /v1/embed/dashboard: {}", resp.text);
    resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(resp.header("content-security-policy"), Some("frame-ancestors 'none'"));
    assert!(resp.body.get("dashboard").is_none());
    let resp = app.post("/v1/embed/query", &auth, &json!({ "widget_id": "calls" })).await;
    assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{why}: POST /v1/embed/query: {}", resp.text);
    resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn forged_and_altered_tokens_are_refused() {
    let app = TestApp::new().await;
    let org = app.register().await;
    app.ingest(&org.key, tenant_events("acme", 3, 0)).await;
    app.ingest(&org.key, tenant_events("globex", 9, 0)).await;
    let id = app.standard_dashboard(&org.key).await;
    let other = app.standard_dashboard(&org.key).await;
    let token = app.token(&org.key, "acme", &id, json!({ "allowed_periods": ["7d"] })).await;
    assert_eq!(value(&app.embed_query(&token, json!({ "widget_id": "calls" })).await), 3.0);
    let secret = app.server.state.signing_secret.expose().as_bytes().to_vec();
    let claims = payload(&token);
    assert_eq!(claims["aud"], "emban-embed");
    assert_eq!(claims["iss"], "emban");
    assert_eq!(claims["tenant"], "acme");
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().expect("jti")).is_ok());
    let now = Utc::now().timestamp();
    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let parts: Vec<&str> = token.split('.').collect();

    // alg: none, with and without a signature.
    let none = format!("{}.{}.", b64(&json!({ "alg": "none", "typ": "JWT" })), parts[1]);
    refused(&app, &none, "alg none").await;
    let none_signed = format!("{}.{}.{}", b64(&json!({ "alg": "none", "typ": "JWT" })), parts[1], parts[2]);
    refused(&app, &none_signed, "alg none with a signature").await;
    // Another key; another algorithm with our key.
    refused(&app, &sign(Algorithm::HS256, b"someone-else's-secret-someone-else", &claims), "another key")
        .await;
    refused(&app, &sign(Algorithm::HS512, &secret, &claims), "HS512").await;
    refused(&app, &sign(Algorithm::HS384, &secret, &claims), "HS384").await;
    // One claim edited, the signature kept.
    for edit in [
        json!({ "tenant": "globex" }),
        json!({ "permissions": { "allow_drill_down": true } }),
        json!({ "exp": now + 80_000 }),
        json!({ "dashboard": other }),
        json!({ "org": claims["org"].as_i64().expect("org") + 1 }),
    ] {
        let forged = format!("{}.{}.{}", parts[0], b64(&with(edit.clone())), parts[2]);
        refused(&app, &forged, &format!("edited {edit}")).await;
    }
    // Validly signed but wrong audience, issuer, or times.
    refused(&app, &sign(Algorithm::HS256, &secret, &with(json!({ "aud": "emban-admin" }))), "audience").await;
    refused(&app, &sign(Algorithm::HS256, &secret, &with(json!({ "iss": "someone" }))), "issuer").await;
    let no_aud = {
        let mut c = claims.clone();
        c.as_object_mut().expect("object").remove("aud");
        c
    };
    refused(&app, &sign(Algorithm::HS256, &secret, &no_aud), "no audience").await;
    refused(
        &app,
        &sign(Algorithm::HS256, &secret, &with(json!({ "iat": now - 100, "exp": now - 30 }))),
        "expired",
    )
    .await;
    refused(
        &app,
        &sign(Algorithm::HS256, &secret, &with(json!({ "iat": now + 600, "exp": now + 900 }))),
        "issued in the future",
    )
    .await;
    refused(
        &app,
        &sign(Algorithm::HS256, &secret, &with(json!({ "iat": now, "exp": now + 3 * 86_400 }))),
        "over a day",
    )
    .await;
    // Within the 5-second leeway the session still works.
    let grace = sign(Algorithm::HS256, &secret, &with(json!({ "iat": now - 100, "exp": now - 2 })));
    assert_eq!(value(&app.embed_query(&grace, json!({ "widget_id": "calls" })).await), 3.0);
    // Garbage, truncation, API keys.
    for bad in ["abc", "a.b.c", &token[..token.len() - 3], &format!("{token}x"), &org.key] {
        refused(&app, bad, bad).await;
    }
    for resp in [
        app.get("/v1/embed/dashboard", &Auth::None).await,
        app.post("/v1/embed/query", &Auth::None, &json!({ "widget_id": "calls" })).await,
        app.get("/v1/embed/dashboard", &Auth::Cookie(org.cookie.clone())).await,
    ] {
        resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // A genuine token used for another dashboard.
    let resp =
        app.get(&format!("/v1/embed/dashboard?dashboard_id={other}"), &Auth::Bearer(token.clone())).await;
    resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.embed_query(&token, json!({ "widget_id": "calls", "dashboard_id": other })).await;
    resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
    // The genuine token still works after all that.
    assert_eq!(
        value(&app.embed_query(&token, json!({ "widget_id": "calls", "dashboard_id": id })).await),
        3.0
    );
}

#[tokio::test]
async fn a_token_of_another_server_is_refused() {
    let first = TestApp::new().await;
    let second = TestApp::new().await;
    let org = first.register().await;
    let id = first.standard_dashboard(&org.key).await;
    let token = first.token(&org.key, "acme", &id, json!({})).await;
    first.embed_dashboard(&token).await.ok(StatusCode::OK);
    refused(&second, &token, "another server's secret").await;
}
