//! Abuse limits (issue 11 §3): rate limits with 429 and `Retry-After`, the bounded
//! password-hashing pool under a login flood of the real binary, failed-login backoff that says
//! nothing about whether an account exists, CSRF on cookie requests, and the opt-in demo.

use std::time::Duration as StdDuration;

use chrono::Utc;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::{
    common::{Auth, Resp, TempDir, TestApp, http_client, unique_email},
    durability::Binary,
    model::{Event, batch},
};

/// Asserts a 429 in the envelope with a whole-seconds `Retry-After`; returns the seconds.
#[track_caller]
fn rate_limited(resp: &Resp) -> u64 {
    resp.error(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let secs = resp
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("Retry-After in seconds: {:?}", resp.headers));
    assert!(secs >= 1, "Retry-After {secs}");
    secs
}

async fn login(app: &TestApp, email: &str, password: &str) -> Resp {
    app.post_json("/v1/auth/login", &Auth::None, &json!({ "email": email, "password": password })).await
}

#[tokio::test]
async fn login_and_register_share_a_per_ip_rate_limit() {
    let app = TestApp::spawn_with(|args| args.limits.rate_limit_auth_per_minute = 3).await;
    let account = app.register().await;
    login(&app, &account.email, "not the password").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    login(&app, &account.email, &account.password).await.ok(StatusCode::OK);
    // The fourth attempt from this address, right password or not, sign-in or sign-up.
    let secs = rate_limited(&login(&app, &account.email, &account.password).await);
    assert!(secs <= 60, "a per-minute limit frees a slot within a minute: {secs}");
    let register = app
        .post_json(
            "/v1/auth/register",
            &Auth::None,
            &json!({ "email": unique_email(), "password": "correct horse battery" }),
        )
        .await;
    rate_limited(&register);
    // A client cannot pick its own address: X-Forwarded-For is ignored unless trusted.
    let spoofed = app
        .send(
            app.request(Method::POST, "/v1/auth/login", &Auth::None)
                .header("x-forwarded-for", "203.0.113.9")
                .json(&json!({ "email": account.email, "password": account.password })),
        )
        .await;
    rate_limited(&spoofed);
    // The API itself is not limited by sign-in attempts.
    app.get("/v1/auth/me", &account.admin()).await.ok(StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = TestApp::spawn_with(|args| {
        args.limits.rate_limit_auth_per_minute = 1;
        args.limits.trust_forwarded_for = true;
    })
    .await;
    let attempt = |client: &'static str| {
        let request = app
            .request(Method::POST, "/v1/auth/login", &Auth::None)
            .header("x-forwarded-for", format!("198.51.100.1, {client}"))
            .json(&json!({ "email": unique_email(), "password": "whatever it is" }));
        app.send(request)
    };
    attempt("203.0.113.1").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    rate_limited(&attempt("203.0.113.1").await);
    attempt("203.0.113.2").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn ingest_is_rate_limited_per_key() {
    let app = TestApp::spawn_with(|args| args.limits.rate_limit_ingest_per_second = 2).await;
    let account = app.register().await;
    let first = app.create_key(&account.admin(), "ingest").await;
    let second = app.create_key(&account.admin(), "ingest").await;
    let events = [Event::new("acme", "api.call", Utc::now())];
    let mut limited = None;
    for _ in 0..6 {
        let resp = app.ingest(&first.auth(), &events).await;
        if resp.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(resp);
            break;
        }
        resp.ok(StatusCode::OK);
    }
    let limited = limited.expect("a burst past 2 per second is refused");
    assert_eq!(rate_limited(&limited), 1);
    // Another key has its own allowance, and the refused request stored nothing.
    app.ingest_ok(&second.auth(), &events).await;
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    app.ingest_ok(&first.auth(), &events).await;
}

#[tokio::test]
async fn failed_logins_back_off_per_account_and_unknown_emails_alike() {
    let app = TestApp::spawn_with(|args| args.limits.login_backoff_after = 2).await;
    let account = app.register().await;
    let unknown = unique_email();
    let mut answers = Vec::new();
    for email in [&account.email, &unknown] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let resp = login(&app, email, "not the password").await;
            seen.push((resp.status, resp.body.clone()));
        }
        // The third failure starts a 1 s backoff: even the right password waits.
        let locked = login(&app, email, &account.password).await;
        assert_eq!(rate_limited(&locked), 1);
        seen.push((locked.status, locked.body.clone()));
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "a known and an unknown email get the same answers");
    assert_eq!(
        answers[0][..3],
        vec![
            (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "invalid email or password", "code": "unauthorized" })
            );
            3
        ][..]
    );
    // Other accounts are not affected; after the backoff the right password works again.
    let other = app.register().await;
    login(&app, &other.email, &other.password).await.ok(StatusCode::OK);
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    login(&app, &account.email, &account.password).await.ok(StatusCode::OK);
    // Success clears the count: one failure is free again.
    login(&app, &account.email, "not the password").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    login(&app, &account.email, &account.password).await.ok(StatusCode::OK);
}

#[tokio::test]
async fn a_flood_of_500_logins_stays_under_1_gib_and_a_correct_login_still_works() {
    let dir = TempDir::new();
    // Every attempt comes from 127.0.0.1: the per-IP limit is lifted so the flood reaches hashing.
    let server = Binary::start_with(
        &dir.path().join("data"),
        &dir.path().join("server.log"),
        &["--demo", "false", "--rate-limit-auth-per-minute", "0"],
    );
    let client = http_client();
    let email = unique_email();
    let password = "correct horse battery staple";
    let register = client
        .post(format!("{}/v1/auth/register", server.url))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("register");
    assert_eq!(register.status(), StatusCode::CREATED);
    let before = server.peak_rss();

    let started = std::time::Instant::now();
    let attempts = (0..500).map(|i| {
        let client = client.clone();
        let url = format!("{}/v1/auth/login", server.url);
        // Each a different email (no backoff shortcut), each one argon2 verification.
        let body = json!({ "email": format!("flood-{i}-{}", unique_email()), "password": "wrong password" });
        tokio::spawn(async move { client.post(url).json(&body).send().await.map(|r| r.status()) })
    });
    let attempts: Vec<_> = attempts.collect();
    let (mut refused, mut limited) = (0, 0);
    for attempt in attempts {
        match attempt.await.expect("task").expect("the server answers every attempt") {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    let peak = server.peak_rss();
    println!(
        "500 concurrent logins in {:.1}s: {refused} checked (401), {limited} refused (429); peak RSS {:.0} MiB \
         (before the flood {:.0} MiB)",
        started.elapsed().as_secs_f64(),
        peak as f64 / 1048576.0,
        before as f64 / 1048576.0
    );
    assert!(refused > 0, "some attempts were checked");
    assert!(peak < 1 << 30, "peak RSS {peak} bytes is over 1 GiB");

    let ok = client
        .post(format!("{}/v1/auth/login", server.url))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(ok.status(), StatusCode::OK);
}

/// The state-changing routes, each with a body that would succeed.
fn changes(dashboard: &str, widget: &str, key_id: i64) -> Vec<(Method, String, Option<Value>)> {
    let event = batch(&[Event::new("t", "e", Utc::now())]);
    let widget_body = json!({
        "type": "metric", "title": "Calls",
        "query": { "event_name": "e", "metric": "count", "period": "24h" }
    });
    vec![
        (Method::POST, "/v1/api-keys".into(), Some(json!({ "label": "x", "scope": "admin" }))),
        (Method::DELETE, format!("/v1/api-keys/{key_id}"), None),
        (Method::POST, "/v1/events".into(), Some(event)),
        (Method::POST, "/v1/dashboards".into(), Some(json!({ "name": "D" }))),
        (Method::PATCH, format!("/v1/dashboards/{dashboard}"), Some(json!({ "name": "E" }))),
        (Method::POST, format!("/v1/dashboards/{dashboard}/publish"), None),
        (Method::POST, format!("/v1/dashboards/{dashboard}/unpublish"), None),
        (Method::POST, format!("/v1/dashboards/{dashboard}/restore-published"), None),
        (Method::POST, format!("/v1/dashboards/{dashboard}/widgets"), Some(widget_body.clone())),
        (Method::DELETE, format!("/v1/dashboards/{dashboard}"), None),
        (Method::POST, "/v1/widgets".into(), Some(widget_body)),
        (Method::PATCH, format!("/v1/widgets/{widget}"), Some(json!({ "title": "T" }))),
        (Method::POST, format!("/v1/widgets/{widget}/publish"), None),
        (Method::DELETE, format!("/v1/widgets/{widget}"), None),
        (Method::PATCH, "/v1/settings/org".into(), Some(json!({ "name": "Renamed" }))),
        (Method::POST, "/v1/saved-queries".into(), Some(json!({ "name": "q", "sql": "SELECT 1" }))),
        (Method::DELETE, "/v1/saved-queries/1".into(), None),
        (Method::POST, "/v1/query/adhoc".into(), Some(json!({ "sql": "SELECT 1" }))),
        (Method::POST, "/v1/discover/auto-create".into(), None),
        (
            Method::POST,
            "/v1/embed-sessions".into(),
            Some(json!({ "tenant_id": "t", "dashboard_id": dashboard })),
        ),
        (Method::POST, "/v1/auth/logout".into(), None),
    ]
}

#[tokio::test]
async fn cookie_changes_need_the_servers_origin_and_bearer_keys_do_not() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let key = app.create_key(&account.admin(), "admin").await;
    let dashboard =
        app.post_json("/v1/dashboards", &account.admin(), &json!({ "name": "Kept", "widgets": [] })).await;
    let dashboard = dashboard.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let session = account.session();
    let other_host = app.url("").replace("127.0.0.1", "127.0.0.2");
    let foreign = ["https://evil.example", "null", other_host.as_str()];
    for (method, path, body) in changes(&dashboard, "w_missing", key.id) {
        let with = |request: reqwest::RequestBuilder| match &body {
            Some(body) => request.json(body),
            None => request,
        };
        let resp = app.send(with(app.request_without_origin(method.clone(), &path, &session))).await;
        let message = resp.error(StatusCode::FORBIDDEN, "forbidden");
        assert!(message.contains("Origin"), "{method} {path}: {message}");
        for origin in foreign {
            let request =
                app.request_without_origin(method.clone(), &path, &session).header(header::ORIGIN, origin);
            let resp = app.send(with(request)).await;
            assert_eq!(resp.status, StatusCode::FORBIDDEN, "{method} {path} from {origin}: {}", resp.text);
            resp.error(StatusCode::FORBIDDEN, "forbidden");
        }
        // A cross-site fetch without Origin (never sent by browsers, but the header says so).
        let request = app
            .request_without_origin(method.clone(), &path, &session)
            .header("sec-fetch-site", "cross-site");
        app.send(with(request)).await.error(StatusCode::FORBIDDEN, "forbidden");
    }
    // Nothing happened: the key and the dashboard are there, the session still works.
    app.get("/v1/auth/me", &key.auth()).await.ok(StatusCode::OK);
    app.get(&format!("/v1/dashboards/{dashboard}"), &account.admin()).await.ok(StatusCode::OK);
    assert_eq!(app.get("/v1/auth/me", &session).await.ok(StatusCode::OK)["auth"], "session");

    // The right Origin (or Sec-Fetch-Site: same-origin) passes, bodiless posts included.
    let publish = format!("/v1/dashboards/{dashboard}/publish");
    app.send(app.request(Method::POST, &publish, &session)).await.ok(StatusCode::NO_CONTENT);
    let request = app
        .request_without_origin(Method::POST, &format!("/v1/dashboards/{dashboard}/unpublish"), &session)
        .header("sec-fetch-site", "same-origin");
    app.send(request).await.ok(StatusCode::NO_CONTENT);
    let request = app
        .request_without_origin(Method::POST, "/v1/api-keys", &session)
        .header(header::ORIGIN, app.url(""));
    app.send(request.json(&json!({ "label": "y", "scope": "ingest" }))).await.ok(StatusCode::CREATED);

    // API keys carry no ambient credential: no Origin needed, and a stray cookie does not matter.
    let request = app
        .request_without_origin(Method::POST, &publish, &account.admin())
        .header(header::COOKIE, &account.cookie);
    app.send(request).await.ok(StatusCode::NO_CONTENT);
    let revoke =
        app.request_without_origin(Method::DELETE, &format!("/v1/api-keys/{}", key.id), &account.admin());
    app.send(revoke).await.ok(StatusCode::NO_CONTENT);
    app.get("/v1/auth/me", &key.auth()).await.error(StatusCode::UNAUTHORIZED, "unauthorized");

    // Logout is a change too; with the right Origin it ends the session.
    let resp = app.send(app.request(Method::POST, "/v1/auth/logout", &session)).await;
    assert_eq!(resp.status, StatusCode::NO_CONTENT, "{}", resp.text);
}

#[tokio::test]
async fn login_and_register_refuse_a_foreign_origin_but_not_a_missing_one() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let body = json!({ "email": account.email, "password": account.password });
    let from = |origin: &str| {
        app.request_without_origin(Method::POST, "/v1/auth/login", &Auth::None)
            .header(header::ORIGIN, origin)
            .json(&body)
    };
    let resp = app.send(from("https://evil.example")).await;
    resp.error(StatusCode::FORBIDDEN, "forbidden");
    assert!(resp.set_cookies().is_empty(), "no session for a forged sign-in");
    app.send(from(&app.url(""))).await.ok(StatusCode::OK);
    login(&app, &account.email, &account.password).await.ok(StatusCode::OK);
    let register = app
        .request_without_origin(Method::POST, "/v1/auth/register", &Auth::None)
        .header(header::ORIGIN, "https://evil.example")
        .json(&json!({ "email": unique_email(), "password": "correct horse battery" }));
    app.send(register).await.error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn with_a_public_url_only_its_origin_is_accepted() {
    let app =
        TestApp::spawn_with(|args| args.public_url = Some("https://analytics.example.com".into())).await;
    let account = app.register().await;
    let path = "/v1/api-keys";
    let body = json!({ "label": "x", "scope": "ingest" });
    for (origin, status) in [
        ("https://analytics.example.com", StatusCode::CREATED),
        ("https://ANALYTICS.example.com:443", StatusCode::CREATED),
        (&*app.url(""), StatusCode::FORBIDDEN),
        ("http://analytics.example.com", StatusCode::FORBIDDEN),
    ] {
        let request =
            app.request_without_origin(Method::POST, path, &account.session()).header(header::ORIGIN, origin);
        let resp = app.send(request.json(&body)).await;
        assert_eq!(resp.status, status, "{origin}: {}", resp.text);
    }
}

#[tokio::test]
async fn emban_serve_has_no_demo_unless_asked() {
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let server = Binary::start_with(&data, &dir.path().join("server.log"), &[]);
    let resp = Resp::read(
        http_client().get(format!("{}/v1/demo/embed-url", server.url)).send().await.expect("request"),
    )
    .await;
    resp.error(StatusCode::NOT_FOUND, "not_found");
    assert!(!data.join("demo-credentials.txt").exists(), "no demo org was seeded");
}
