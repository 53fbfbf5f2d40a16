//! Register, login, logout and sessions; and who may call what: 401 for bad credentials, 403
//! for ingest keys outside `POST /v1/events`, 404/405 in the envelope.

use chrono::{Duration, Utc};
use emban_host_server::secrets::sha256_hex;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    common::{Auth, TestApp, unique_email},
    model::{Event, batch},
};

fn attributes(cookie: &str) -> Vec<String> {
    cookie.split(';').skip(1).map(|a| a.trim().to_owned()).collect()
}

#[tokio::test]
async fn register_creates_owner_environments_admin_key_and_session() {
    let app = TestApp::spawn().await;
    let email = unique_email();
    let body = json!({ "email": email, "password": "correct horse", "name": "Ada", "org_name": "Analytical Engines" });
    let resp = app.post_json("/v1/auth/register", &Auth::None, &body).await;
    let b = resp.ok(StatusCode::CREATED);
    assert_eq!(b["role"], "owner");
    assert_eq!(b["user"]["email"], email);
    assert_eq!(b["user"]["name"], "Ada");
    assert_eq!(b["org"]["name"], "Analytical Engines");
    assert_eq!(b["org"]["is_demo"], false);
    let environments: Vec<&Value> =
        b["environments"].as_array().expect("environments").iter().map(|e| &e["name"]).collect();
    assert_eq!(environments, [&json!("production"), &json!("development")]);
    assert!(b["environments"][0]["id"].is_i64());

    let key = &b["api_key"];
    assert_eq!(key["scope"], "admin");
    assert_eq!(key["environment"], "production");
    assert!(key["id"].is_i64() && key["label"].is_string() && key["created_at"].is_string(), "{key}");
    let secret = key["key"].as_str().expect("the admin key");
    assert!(secret.starts_with("emb_admin_") && secret.len() >= 50, "{secret}");
    assert_eq!(key["prefix"], secret[..16]);

    // One session cookie: HttpOnly, SameSite=Lax, and not Secure over http.
    let cookies = resp.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let pair = resp.session_cookie();
    assert!(pair.len() > "emban_session=".len() + 30, "a long random token: {pair}");
    let attrs = attributes(&cookies[0]);
    assert!(attrs.iter().any(|a| a == "HttpOnly"), "{attrs:?}");
    assert!(attrs.iter().any(|a| a.eq_ignore_ascii_case("SameSite=Lax")), "{attrs:?}");
    assert!(!attrs.iter().any(|a| a.eq_ignore_ascii_case("Secure")), "no Secure over http: {attrs:?}");

    // Both credentials work.
    let me = app.get("/v1/auth/me", &Auth::Cookie(pair)).await;
    let me = me.ok(StatusCode::OK);
    assert_eq!(me["auth"], "session");
    assert_eq!(me["role"], "owner");
    assert_eq!(me["user"]["email"], email);
    assert_eq!(me["org"]["id"], b["org"]["id"]);
    assert_eq!(me["environment"]["name"], "production");
    let me = app.get("/v1/auth/me", &Auth::Key(secret.to_owned())).await;
    let me = me.ok(StatusCode::OK);
    assert_eq!(me["auth"], "api_key");
    assert_eq!(me["scope"], "admin");
    assert_eq!(me["org"]["id"], b["org"]["id"]);
    assert_eq!(me["environment"]["name"], "production");
}

#[tokio::test]
async fn cookies_are_secure_behind_an_https_public_url() {
    let app =
        TestApp::spawn_with(|args| args.public_url = Some("https://analytics.example.com".into())).await;
    let resp = app
        .post_json(
            "/v1/auth/register",
            &Auth::None,
            &json!({ "email": unique_email(), "password": "correct horse" }),
        )
        .await;
    resp.ok(StatusCode::CREATED);
    let attrs = attributes(&resp.set_cookies()[0]);
    assert!(attrs.iter().any(|a| a.eq_ignore_ascii_case("Secure")), "{attrs:?}");
    assert!(attrs.iter().any(|a| a == "HttpOnly"), "{attrs:?}");
    // Browsers are told to keep to https: on answers, errors and the health check alike.
    for path in ["/healthz", "/v1/auth/me", "/no/such/route"] {
        let resp = app.get(path, &Auth::None).await;
        assert_eq!(
            resp.headers.get("strict-transport-security").and_then(|v| v.to_str().ok()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    let plain = TestApp::spawn().await;
    let resp = plain.get("/healthz", &Auth::None).await;
    assert!(resp.headers.get("strict-transport-security").is_none(), "HSTS over plain http");
}

#[tokio::test]
async fn registering_a_taken_email_is_a_409_whatever_its_case() {
    let app = TestApp::spawn().await;
    let local = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("Ada.{local}@Example.COM");
    let first = app
        .post_json("/v1/auth/register", &Auth::None, &json!({ "email": email, "password": "correct horse" }))
        .await;
    first.ok(StatusCode::CREATED);
    for again in [email.clone(), email.to_lowercase(), email.to_uppercase()] {
        let resp = app
            .post_json(
                "/v1/auth/register",
                &Auth::None,
                &json!({ "email": again, "password": "another pass" }),
            )
            .await;
        resp.error(StatusCode::CONFLICT, "conflict");
        assert!(resp.set_cookies().is_empty(), "no session for a failed register");
    }
    // Login is case-insensitive too, and only the first password works.
    let login = app
        .post_json(
            "/v1/auth/login",
            &Auth::None,
            &json!({ "email": email.to_lowercase(), "password": "correct horse" }),
        )
        .await;
    assert_eq!(login.ok(StatusCode::OK)["role"], "owner");
}

#[tokio::test]
async fn register_validates_its_body() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({ "email": unique_email(), "password": "short" }), "password"),
        (json!({ "email": unique_email(), "password": "x".repeat(257) }), "password"),
        (json!({ "email": "not-an-email", "password": "correct horse" }), "email"),
        (json!({ "email": unique_email() }), "password"),
        (json!({ "email": unique_email(), "password": "correct horse", "plan": "pro" }), "plan"),
    ];
    for (body, field) in cases {
        let resp = app.post_json("/v1/auth/register", &Auth::None, &body).await;
        let message = resp.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.contains(field), "{body}: {message:?} should name {field}");
    }
    let resp =
        app.post_raw("/v1/auth/register", &Auth::None, Some("application/json"), r#"{"email": "#).await;
    resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    let valid = json!({ "email": unique_email(), "password": "correct horse" }).to_string();
    for content_type in [Some("text/plain"), None] {
        let resp = app.post_raw("/v1/auth/register", &Auth::None, content_type, valid.clone()).await;
        resp.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
}

#[tokio::test]
async fn login_fails_identically_for_a_wrong_password_and_an_unknown_email() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let wrong_password = app
        .post_json(
            "/v1/auth/login",
            &Auth::None,
            &json!({ "email": account.email, "password": "not the password" }),
        )
        .await;
    let unknown_email = app
        .post_json(
            "/v1/auth/login",
            &Auth::None,
            &json!({ "email": unique_email(), "password": account.password }),
        )
        .await;
    wrong_password.error(StatusCode::UNAUTHORIZED, "unauthorized");
    unknown_email.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(wrong_password.text, unknown_email.text);
    assert_eq!(wrong_password.body, json!({ "error": "invalid email or password", "code": "unauthorized" }));
    assert!(wrong_password.set_cookies().is_empty() && unknown_email.set_cookies().is_empty());

    let ok = app
        .post_json(
            "/v1/auth/login",
            &Auth::None,
            &json!({ "email": account.email, "password": account.password }),
        )
        .await;
    let body = ok.ok(StatusCode::OK);
    assert_eq!(body["user"]["email"], account.email);
    assert_eq!(body["org"]["id"], account.org_id());
    assert_eq!(body["role"], "owner");
    let session = Auth::Cookie(ok.session_cookie());
    assert_eq!(app.get("/v1/auth/me", &session).await.ok(StatusCode::OK)["auth"], "session");
}

#[tokio::test]
async fn logout_deletes_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let login = app
        .post_json(
            "/v1/auth/login",
            &Auth::None,
            &json!({ "email": account.email, "password": account.password }),
        )
        .await;
    let other_session = Auth::Cookie(login.session_cookie());

    let resp = app.send(app.request(Method::POST, "/v1/auth/logout", &account.session())).await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT, "{}", resp.text);
    assert!(resp.text.is_empty());
    let cleared = resp.session_cookie();
    assert_eq!(cleared, "emban_session=", "the cookie is cleared");
    assert!(attributes(&resp.set_cookies()[0]).iter().any(|a| a == "Max-Age=0"));

    // Replaying the old cookie fails everywhere.
    for path in [
        "/v1/auth/me",
        "/v1/api-keys",
        "/v1/usage?period=30d",
        "/v1/query?event_name=e&tenant_id=t&metric=count&period=1h",
    ] {
        app.get(path, &account.session()).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let resp =
        app.post_json("/v1/events", &account.session(), &batch(&[Event::new("t", "e", Utc::now())])).await;
    resp.error(StatusCode::UNAUTHORIZED, "unauthorized");

    // Only that session ended; without any cookie, logout is a 401.
    assert_eq!(app.get("/v1/auth/me", &other_session).await.ok(StatusCode::OK)["auth"], "session");
    let resp = app.send(app.request(Method::POST, "/v1/auth/logout", &Auth::None)).await;
    resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn expired_and_unknown_sessions_are_401s() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let token = "an-expired-session-token-of-some-length-000";
    app.state()
        .meta
        .create_session(
            &sha256_hex(token),
            account.user_id(),
            account.org_id(),
            Utc::now() - Duration::minutes(1),
        )
        .await
        .expect("storing a session");
    for cookie in [
        format!("emban_session={token}"),
        "emban_session=never-issued".to_owned(),
        "emban_session=".to_owned(),
    ] {
        let resp = app.get("/v1/auth/me", &Auth::Cookie(cookie.clone())).await;
        resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
        let resp = app.get("/v1/api-keys", &Auth::Cookie(cookie)).await;
        resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // The same token with a live expiry works, so the 401 above was the expiry.
    let live = "a-live-session-token-of-some-length-0000000";
    app.state()
        .meta
        .create_session(
            &sha256_hex(live),
            account.user_id(),
            account.org_id(),
            Utc::now() + Duration::hours(1),
        )
        .await
        .expect("storing a session");
    let resp = app.get("/v1/auth/me", &Auth::Cookie(format!("emban_session={live}"))).await;
    assert_eq!(resp.ok(StatusCode::OK)["user"]["email"], account.email);
}

/// Every authenticated route, with a body where it takes one.
fn authenticated_routes(key_id: i64) -> Vec<(Method, String, Option<Value>)> {
    let event = batch(&[Event::new("t", "e", Utc::now())]);
    vec![
        (Method::GET, "/v1/auth/me".into(), None),
        (Method::GET, "/v1/api-keys".into(), None),
        (Method::POST, "/v1/api-keys".into(), Some(json!({ "label": "x", "scope": "admin" }))),
        (Method::DELETE, format!("/v1/api-keys/{key_id}"), None),
        (Method::POST, "/v1/events".into(), Some(event)),
        (Method::GET, "/v1/query?event_name=e&tenant_id=t&metric=count&period=24h".into(), None),
        (Method::GET, "/v1/usage?period=30d".into(), None),
        (Method::GET, "/v1/onboarding/status".into(), None),
    ]
}

#[tokio::test]
async fn bad_credentials_are_401s_on_every_route() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin_id = account.body["api_key"]["id"].as_i64().expect("id");
    let revoked = app.create_key(&account.admin(), "admin").await;
    app.delete(&format!("/v1/api-keys/{}", revoked.id), &account.admin()).await.ok(StatusCode::NO_CONTENT);
    let random = uuid::Uuid::new_v4().simple().to_string();
    let credentials = [
        Auth::None,
        Auth::Header(format!("Basic {}", "dXNlcjpwYXNz")),
        Auth::Header("Bearer".into()),
        Auth::Header("Bearer ".into()),
        Auth::Header(format!("Token {}", account.admin_key)),
        Auth::Header(account.admin_key.clone()),
        Auth::Key(format!("emb_admin_{random}{random}")),
        Auth::Key(format!("emb_ingest_{random}{random}")),
        Auth::Key("not-an-emban-key".into()),
        Auth::Key(format!("{}x", account.admin_key)),
        Auth::Key(revoked.key.clone()),
    ];
    for (method, path, body) in authenticated_routes(admin_id) {
        for auth in &credentials {
            let mut request = app.request(method.clone(), &path, auth);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let resp = app.send(request).await;
            assert_eq!(resp.status, StatusCode::UNAUTHORIZED, "{method} {path} with {auth:?}: {}", resp.text);
            resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    // Nothing happened: the default key is alive and no event was stored.
    assert_eq!(app.count(&account.admin(), "t", "e", "24h").await, 0);
}

#[tokio::test]
async fn ingest_keys_may_only_post_events() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let admin_id = account.body["api_key"]["id"].as_i64().expect("id");
    let ingest = app.create_key(&account.admin(), "ingest").await;
    let mut allowed = 0;
    let mut not_forbidden = Vec::new();
    for (method, path, body) in authenticated_routes(admin_id) {
        let mut request = app.request(method.clone(), &path, &ingest.auth());
        if let Some(body) = &body {
            request = request.json(body);
        }
        let resp = app.send(request).await;
        if method == Method::POST && path == "/v1/events" {
            assert_eq!(resp.ok(StatusCode::OK)["accepted"], 1);
            allowed += 1;
        } else if resp.status == StatusCode::FORBIDDEN {
            resp.error(StatusCode::FORBIDDEN, "forbidden");
        } else {
            not_forbidden.push(format!("{method} {path}: {} {}", resp.status, resp.text));
        }
    }
    assert_eq!(allowed, 1);
    // The forbidden DELETE did not revoke, the forbidden POST created no key.
    let keys = app.get("/v1/api-keys", &account.admin()).await;
    let keys = keys.ok(StatusCode::OK)["api_keys"].as_array().expect("list").clone();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k["revoked_at"].is_null()), "{keys:?}");
    assert!(
        not_forbidden.is_empty(),
        "ingest keys reached routes other than POST /v1/events:\n{}",
        not_forbidden.join("\n")
    );
}

#[tokio::test]
async fn an_admin_key_and_a_session_reach_every_route() {
    let app = TestApp::spawn().await;
    for use_session in [false, true] {
        let account = app.register().await;
        let auth = if use_session { account.session() } else { account.admin() };
        let spare = app.create_key(&account.admin(), "ingest").await;
        for (method, path, body) in authenticated_routes(spare.id) {
            let mut request = app.request(method.clone(), &path, &auth);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let resp = app.send(request).await;
            let want = if method == Method::POST && path == "/v1/api-keys" {
                StatusCode::CREATED
            } else if method == Method::DELETE {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::OK
            };
            assert_eq!(resp.status, want, "{method} {path} (session: {use_session}): {}", resp.text);
        }
        let me = app.get("/v1/auth/me", &auth).await;
        assert_eq!(me.ok(StatusCode::OK)["auth"], if use_session { "session" } else { "api_key" });
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    for auth in [Auth::None, account.admin()] {
        for path in ["/v1/nope", "/v2/events", "/v1/events/extra", "/v1/api-keys/1/extra"] {
            app.get(path, &auth).await.error(StatusCode::NOT_FOUND, "not_found");
        }
        let resp = app.get("/v1/events", &auth).await;
        resp.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
        let resp = app.send(app.request(Method::PUT, "/v1/api-keys", &auth)).await;
        resp.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
}

#[tokio::test]
async fn extractor_rejections_use_the_error_envelope() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    // A path segment that is not valid UTF-8 fails axum's Path extractor before any handler runs.
    let resp = app.delete("/v1/api-keys/%FF", &account.admin()).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{}", resp.text);
    assert_eq!(resp.body["code"], "invalid_request", "{}", resp.text);
    assert!(resp.body["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", resp.text);
}
