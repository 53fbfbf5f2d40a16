//! End-to-end flows: the Node guide's `getEmbedUrl`, the demo embed URL, the session list, the
//! audit log and the embed responses' security headers.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Auth, TestApp, tenant_events};

fn token_of(embed_url: &str) -> String {
    embed_url.split_once("?token=").expect("token in the URL").1.to_owned()
}

#[tokio::test]
async fn node_guide_get_embed_url_works_unchanged() {
    let app = TestApp::new().await;
    let org = app.register().await;
    // trackEvent, as the guide sends it.
    app.ingest(
        &org.key,
        vec![json!({
            "tenant_id": "customer_1", "event_name": "api.call", "timestamp": chrono::Utc::now().to_rfc3339(),
            "user_id": "user_42",
            "string_props": { "model": "gpt-4", "endpoint": "/chat" },
            "numeric_props": { "tokens": 150, "latency_ms": 230 },
        })],
    )
    .await;
    let dashboard = app.standard_dashboard(&org.key).await;

    // getEmbedUrl(tenantId, dashboardId): exactly the guide's request.
    let response = app
        .client
        .post(format!("{}/v1/embed-sessions", app.url()))
        .header("Authorization", format!("Bearer {}", org.key))
        .header("Content-Type", "application/json")
        .body(
            serde_json::to_string(&json!({
                "tenant_id": "customer_1",
                "dashboard_id": dashboard,
                "expires_in": 3600,
                "permissions": { "allow_drill_down": true, "allowed_dimensions": ["model", "endpoint"] },
            }))
            .expect("json"),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers().get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let body: Value = response.json().await.expect("json");
    let keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3, "{body}");
    for key in ["token", "embed_url", "expires_at"] {
        assert!(body[key].is_string(), "{key} in {body}");
    }
    // const { embed_url } = await res.json();  →  res.json({ embed_url: url })
    let embed_url = body["embed_url"].as_str().expect("embed_url");
    assert!(embed_url.starts_with(&format!("{}/embed/{dashboard}?token=", app.url())), "{embed_url}");
    assert_eq!(token_of(embed_url), body["token"].as_str().expect("token"));
    let expires = chrono::DateTime::parse_from_rfc3339(body["expires_at"].as_str().expect("expires_at"))
        .expect("RFC 3339");
    let lifetime = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((3590..=3600).contains(&lifetime), "{lifetime}");

    // The frontend mounts the URL; the runtime reads the dashboard and a widget with the token.
    let token = token_of(embed_url);
    let embed = app.embed_dashboard(&token).await;
    let embed_body = embed.ok(StatusCode::OK);
    assert_eq!(embed_body["published"], true);
    assert_eq!(embed_body["tenant_id"], "customer_1");
    assert_eq!(embed_body["permissions"]["allowed_dimensions"], json!(["model", "endpoint"]));
    let resp = app
        .embed_query(
            &token,
            json!({ "widget_id": "by_endpoint", "drill": { "dimension": "model", "value": "gpt-4" } }),
        )
        .await;
    assert_eq!(resp.ok(StatusCode::OK)["data"], json!([{ "group": "/chat", "value": 1 }]));
}

#[tokio::test]
async fn sessions_are_listed_and_audited_without_tokens() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let key = Auth::Bearer(org.key.clone());
    app.ingest(&org.key, tenant_events("acme", 2, 2)).await;
    let id = app.standard_dashboard(&org.key).await;
    let minted = app
        .mint(
            &org.key,
            json!({ "tenant_id": "acme", "dashboard_id": id, "expires_in": 600,
                    "permissions": { "locked_filters": { "plan": "pro" } },
                    "allowed_origins": ["https://App.example.com", "https://admin.example.com:8443"], "locale": "en-GB" }),
        )
        .await;
    let token = minted.ok(StatusCode::CREATED)["token"].as_str().expect("token").to_owned();
    let jti = {
        use base64::Engine;
        let part = token.split('.').nth(1).expect("payload");
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("b64"),
        )
        .expect("json");
        claims["jti"].as_str().expect("jti").to_owned()
    };

    let sessions = app.get("/v1/embed-sessions", &key).await;
    assert_eq!(sessions.header("cache-control"), Some("no-store"));
    let list = sessions.ok(StatusCode::OK)["sessions"].as_array().expect("sessions").clone();
    assert_eq!(list.len(), 1);
    let s = &list[0];
    assert_eq!(s["jti"], jti.as_str());
    assert_eq!(s["tenant_id"], "acme");
    assert_eq!(s["resource"], format!("dashboard:{id}"));
    assert_eq!(s["scope"]["locked_filters"], json!({ "plan": "pro" }));
    assert!(s["actor"].as_str().expect("actor").starts_with("api_key:"));
    let ttl = s["remaining_ttl_seconds"].as_i64().expect("ttl");
    assert!((590..=600).contains(&ttl), "{ttl}");
    for field in ["issued_at", "expires_at"] {
        assert!(s[field].is_string(), "{field}");
    }
    assert!(!sessions.text.contains(&token));

    app.publish(&org.key, &id).await;
    let audit = app.get("/v1/audit", &key).await;
    let entries = audit.ok(StatusCode::OK)["entries"].as_array().expect("entries").clone();
    assert!(entries.len() <= 100);
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["dashboard.publish", "embed_session.create", "api_key.create"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert_eq!(actions[0], "dashboard.publish", "newest first");
    let row = entries.iter().find(|e| e["action"] == "embed_session.create").expect("session row");
    assert_eq!(row["details"]["jti"], jti.as_str());
    assert_eq!(row["details"]["tenant_id"], "acme");
    assert_eq!(row["details"]["dashboard_id"], id.as_str());
    assert!(row["details"]["expires_at"].is_string());
    assert!(!audit.text.contains(&token), "the audit log holds the token");
    assert!(
        !audit.text.contains(token.split('.').nth(2).expect("signature")),
        "the audit log holds the signature"
    );

    // The embed data API's headers: JSON for the runtime's fetch, never a page to frame (the
    // page at /embed/{id} carries the framing policy).
    let embed = app.embed_dashboard(&token).await;
    embed.ok(StatusCode::OK);
    assert_eq!(embed.body["locale"], "en-GB");
    assert_eq!(embed.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(embed.header("cache-control"), Some("no-store"));
    assert_eq!(embed.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(embed.header("content-security-policy"), Some("frame-ancestors 'none'"));
    let query = app.embed_query(&token, json!({ "widget_id": "calls" })).await;
    query.ok(StatusCode::OK);
    for (name, expected) in [
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert_eq!(query.header(name), Some(expected), "{name}");
    }
    assert_eq!(query.header("content-security-policy"), Some("frame-ancestors 'none'"));
    let refused = app
        .embed_query(&token, json!({ "widget_id": "calls", "filters": { "dimensions": { "plan": "free" } } }))
        .await;
    refused.error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(refused.header("cache-control"), Some("no-store"));
    let plain = app.token(&org.key, "acme", &id, json!({})).await;
    assert_eq!(
        app.embed_dashboard(&plain).await.header("content-security-policy"),
        Some("frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn demo_embed_url_is_public_and_demo_only() {
    let app = TestApp::start(true).await;
    let resp = app.get("/v1/demo/embed-url", &Auth::None).await;
    let body = resp.ok(StatusCode::CREATED).clone();
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    let token = token_of(body["embed_url"].as_str().expect("embed_url"));
    assert_eq!(token, body["token"].as_str().expect("token"));
    let embed = app.embed_dashboard(&token).await;
    let dashboard = embed.ok(StatusCode::OK).clone();
    assert_eq!(dashboard["published"], true);
    assert_eq!(dashboard["tenant_id"], "demo_workspace");
    let widgets = dashboard["dashboard"]["widgets"].as_array().expect("widgets").clone();
    assert_eq!(widgets.len(), 6);
    let kinds: std::collections::HashSet<&str> = widgets.iter().filter_map(|w| w["kind"].as_str()).collect();
    assert_eq!(kinds.len(), 4, "one of each kind: {kinds:?}");
    for w in &widgets {
        let resp = app.embed_query(&token, json!({ "widget_id": w["id"] })).await;
        let data = resp.ok(StatusCode::OK);
        assert!(!data["data"].as_array().expect("rows").is_empty(), "{}: {}", w["id"], resp.text);
    }
    let calls = app.embed_query(&token, json!({ "widget_id": "calls" })).await;
    assert!(calls.body["data"][0]["value"].as_f64().expect("value") > 0.0);
    assert!(calls.body["previous"]["value"].as_f64().is_some());

    let other = app.get("/v1/demo/embed-url?tenant_id=acme", &Auth::None).await;
    let other_token = token_of(other.ok(StatusCode::CREATED)["embed_url"].as_str().expect("url"));
    assert_eq!(app.embed_dashboard(&other_token).await.ok(StatusCode::OK)["tenant_id"], "acme");
    app.get("/v1/demo/embed-url?tenant_id=not_a_tenant", &Auth::None)
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    app.get("/v1/demo/embed-url?colour=red", &Auth::None)
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");

    // A server without the demo has no demo URL.
    let plain = TestApp::new().await;
    plain.get("/v1/demo/embed-url", &Auth::None).await.error(StatusCode::NOT_FOUND, "not_found");
    // Another org's dashboard named like the demo's is not the demo.
    let org = plain.register().await;
    let id = plain.create_dashboard(&org.key, "AI API usage (demo)", json!([])).await;
    plain.publish(&org.key, &id).await;
    plain.get("/v1/demo/embed-url", &Auth::None).await.error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_demo_route_is_rate_limited_and_keeps_a_bounded_audit() {
    let app = TestApp::start_with(true, |args| {
        args.limits.rate_limit_demo_per_minute = 10;
        args.limits.rate_limit_demo_total_per_minute = 15;
        args.limits.demo_audit_rows = 5;
        args.limits.trust_forwarded_for = true;
    })
    .await;
    let app = &app;
    let from = |ip: &'static str| async move {
        let response = app
            .client
            .get(format!("{}/v1/demo/embed-url", app.url()))
            .header("x-forwarded-for", ip)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let retry_after =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, retry_after, body)
    };
    for _ in 0..10 {
        assert_eq!(from("203.0.113.1").await.0, StatusCode::CREATED);
    }
    let (status, retry_after, body) = from("203.0.113.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "rate_limited");
    assert!(retry_after.and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s >= 1));
    // Another client has its own allowance, until the demo's total is spent.
    for _ in 0..5 {
        assert_eq!(from("203.0.113.2").await.0, StatusCode::CREATED);
    }
    let (status, _, body) = from("203.0.113.2").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("demo is busy")), "{body}");
    // 15 sessions minted, only the newest 5 kept in the audit log.
    let kept = app.audit_rows_by("demo").await;
    assert!((1..=5).contains(&kept), "{kept} demo audit rows");
}

#[tokio::test]
async fn a_server_started_without_the_demo_has_no_demo_url_even_over_a_demo_data_dir() {
    let app = TestApp::start(true).await;
    app.get("/v1/demo/embed-url", &Auth::None).await.ok(StatusCode::CREATED);
    let app = app.restart_with(|args| args.demo = false).await;
    app.get("/v1/demo/embed-url", &Auth::None).await.error(StatusCode::NOT_FOUND, "not_found");
}
