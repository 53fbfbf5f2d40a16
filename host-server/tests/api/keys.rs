//! API keys: shown once, listed by prefix only, scoped by their prefix, revocable at once.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{common::TestApp, model::Event};

#[tokio::test]
async fn a_key_is_shown_once_and_listed_by_prefix_only() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let ingest = app.create_key(&admin, "ingest").await;
    let second_admin = app.create_key(&admin, "admin").await;
    let dev = app.create_key_in(&admin, "ingest", "development").await;

    for (created, scope, environment) in [
        (&ingest, "ingest", "production"),
        (&second_admin, "admin", "production"),
        (&dev, "ingest", "development"),
    ] {
        let b = &created.body;
        let mut keys: Vec<&str> = b.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created_at",
                "environment",
                "id",
                "key",
                "label",
                "last_used_at",
                "prefix",
                "revoked_at",
                "scope"
            ],
            "{b}"
        );
        assert_eq!(b["scope"], scope);
        assert_eq!(b["environment"], environment);
        assert!(b["revoked_at"].is_null());
        assert!(created.key.starts_with(&format!("emb_{scope}_")), "{}", created.key);
        assert!(created.key.len() >= 50, "{}", created.key);
        assert_eq!(b["prefix"], created.key[..16]);
    }
    assert_ne!(ingest.key, dev.key);

    let resp = app.get("/v1/api-keys", &admin).await;
    let listed = resp.ok(StatusCode::OK)["api_keys"].as_array().expect("api_keys").clone();
    // Newest first: the three created, then the default admin key.
    let ids: Vec<i64> = listed.iter().map(|k| k["id"].as_i64().expect("id")).collect();
    let default_id = account.body["api_key"]["id"].as_i64().expect("id");
    assert_eq!(ids, [dev.id, second_admin.id, ingest.id, default_id]);
    for key in &listed {
        let mut fields: Vec<&str> = key.as_object().expect("object").keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["created_at", "environment", "id", "label", "last_used_at", "prefix", "revoked_at", "scope"]
        );
        let prefix = key["prefix"].as_str().expect("prefix");
        assert_eq!(prefix.len(), 16);
        let scope = key["scope"].as_str().expect("scope");
        assert!(
            prefix.starts_with(&format!("emb_{scope}_")),
            "the prefix tells the scope: {prefix} / {scope}"
        );
    }
    for secret in [&ingest.key, &second_admin.key, &dev.key, &account.admin_key] {
        assert!(!resp.text.contains(secret.as_str()), "the list never shows a key");
        assert!(!resp.text.contains(&secret[..20]), "the list shows only the first 16 characters");
    }
    // And the session's list is the same.
    let by_session = app.get("/v1/api-keys", &account.session()).await;
    assert_eq!(by_session.ok(StatusCode::OK)["api_keys"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn created_keys_work_with_their_scope() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let created_admin = app.create_key(&account.admin(), "admin").await;
    // An admin key made through the API can do what the default one can, including make keys.
    let ingest = app.create_key(&created_admin.auth(), "ingest").await;
    let at = Utc::now() - Duration::hours(1);
    assert_eq!(app.ingest_ok(&ingest.auth(), &[Event::new("t", "e", at)]).await, (1, 0));
    assert_eq!(app.ingest_ok(&created_admin.auth(), &[Event::new("t", "e", at)]).await, (1, 0));
    assert_eq!(app.count(&created_admin.auth(), "t", "e", "24h").await, 2);
    app.get("/v1/api-keys", &ingest.auth()).await.error(StatusCode::FORBIDDEN, "forbidden");
    let me = app.get("/v1/auth/me", &created_admin.auth()).await;
    let me = me.ok(StatusCode::OK);
    assert_eq!((me["auth"].clone(), me["scope"].clone()), (json!("api_key"), json!("admin")));
}

#[tokio::test]
async fn revoking_a_key_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let ingest = app.create_key(&admin, "ingest").await;
    let at = Utc::now() - Duration::hours(1);
    assert_eq!(app.ingest_ok(&ingest.auth(), &[Event::new("t", "e", at)]).await, (1, 0));

    let resp = app.delete(&format!("/v1/api-keys/{}", ingest.id), &admin).await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT, "{}", resp.text);
    assert!(resp.text.is_empty());
    let resp = app.ingest(&ingest.auth(), &[Event::new("t", "e", at)]).await;
    resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(app.count(&admin, "t", "e", "24h").await, 1);

    let listed = app.get("/v1/api-keys", &admin).await;
    let listed = listed.ok(StatusCode::OK)["api_keys"].as_array().expect("list").clone();
    let revoked: Vec<&Value> = listed.iter().filter(|k| !k["revoked_at"].is_null()).collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["id"], ingest.id);

    // A session can revoke too, and an admin key can revoke itself.
    let other = app.create_key(&admin, "admin").await;
    app.delete(&format!("/v1/api-keys/{}", other.id), &account.session()).await.ok(StatusCode::NO_CONTENT);
    app.get("/v1/api-keys", &other.auth()).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    let own_id = account.body["api_key"]["id"].as_i64().expect("id");
    app.delete(&format!("/v1/api-keys/{own_id}"), &admin).await.ok(StatusCode::NO_CONTENT);
    app.get("/v1/api-keys", &admin).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    // The session outlives the keys.
    assert_eq!(app.count(&account.session(), "t", "e", "24h").await, 1);
}

#[tokio::test]
async fn revoking_an_unknown_key_is_a_404() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let own_id = account.body["api_key"]["id"].as_i64().expect("id");
    for id in [own_id + 1000, 0, -1] {
        app.delete(&format!("/v1/api-keys/{id}"), &admin).await.error(StatusCode::NOT_FOUND, "not_found");
    }
    // A path that is not a key id at all.
    let resp = app.delete("/v1/api-keys/abc", &admin).await;
    assert!(resp.status == StatusCode::BAD_REQUEST || resp.status == StatusCode::NOT_FOUND, "{}", resp.text);
    resp.error(
        resp.status,
        if resp.status == StatusCode::BAD_REQUEST { "invalid_request" } else { "not_found" },
    );
    // Another org's key is unknown here.
    let other = app.register().await;
    let theirs = other.body["api_key"]["id"].as_i64().expect("id");
    app.delete(&format!("/v1/api-keys/{theirs}"), &admin).await.error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/v1/api-keys", &other.admin()).await.status, StatusCode::OK);
}

#[tokio::test]
async fn key_creation_validates_its_body() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin = account.admin();
    let cases = [
        (json!({ "label": "x", "scope": "root" }), "scope"),
        (json!({ "label": "x", "scope": "Admin" }), "scope"),
        (json!({ "label": "", "scope": "ingest" }), "label"),
        (json!({ "label": "x".repeat(201), "scope": "ingest" }), "label"),
        (json!({ "label": "x", "scope": "ingest", "environment": "staging" }), "environment"),
        (json!({ "scope": "ingest" }), "label"),
        (json!({ "label": "x" }), "scope"),
        (json!({ "label": "x", "scope": "ingest", "expires": "never" }), "expires"),
    ];
    for (body, field) in cases {
        let resp = app.post_json("/v1/api-keys", &admin, &body).await;
        let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.contains(field), "{body}: {message:?} should name {field}");
    }
    let resp =
        app.post_raw("/v1/api-keys", &admin, Some("text/plain"), r#"{"label":"x","scope":"ingest"}"#).await;
    resp.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let resp = app.post_raw("/v1/api-keys", &admin, Some("application/json"), r#"{"label":"x","#).await;
    resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    // None of those made a key.
    let listed = app.get("/v1/api-keys", &admin).await;
    assert_eq!(listed.ok(StatusCode::OK)["api_keys"].as_array().map(Vec::len), Some(1));
}
