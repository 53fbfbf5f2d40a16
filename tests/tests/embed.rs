//! The embed runtime end to end: the real server in this process serving the built runtime
//! (`dist/`), framed by a host page on another origin in headless Chromium, driven through the
//! postMessage contract (`docs/embed-runtime.md`). One browser session serves every case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use emban_e2e::{Browser, Emban, HostPages, Page};
use emban_host_server::embed::{sign, verify};
use fantoccini::Client;
use reqwest::Method;
use serde_json::{Value, json};

struct Ctx {
    emban: Emban,
    host: HostPages,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embed_runtime_end_to_end() {
    // Fails first, with the fix, when the runtime was never built.
    emban_e2e::require_dist();
    let (emban, host) = tokio::join!(Emban::start(), HostPages::start());
    let browser = Browser::start().await;
    let ctx = Arc::new(Ctx { emban, host });
    let run = tokio::spawn(cases(browser.client.clone(), ctx.clone())).await;
    browser.close().await;
    if let Ok(Ctx { emban, .. }) = Arc::try_unwrap(ctx) {
        let _ = emban.server.stop().await;
    }
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn cases(client: Client, ctx: Arc<Ctx>) {
    live_session(&client, &ctx).await;
    unpublished_dashboard(&client, &ctx).await;
    expired_session(&client, &ctx).await;
    revoked_session(&client, &ctx).await;
}

fn is_error(data: &Value, code: &str) -> bool {
    data["type"] == "error" && data["code"] == code
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The demo dashboard in a live session allowed to the host page's origin: every command, every
/// event, and a foreign frame's messages ignored.
async fn live_session(client: &Client, ctx: &Ctx) {
    let (emban, host) = (&ctx.emban, &ctx.host);
    let session = emban
        .mint(json!({
            "tenant_id": "demo_workspace",
            "dashboard_id": emban.demo_dashboard,
            "permissions": {
                "allow_drill_down": true,
                "allowed_dimensions": ["model", "endpoint", "plan"],
                "allowed_periods": ["30d", "7d"],
            },
            "allowed_origins": [host.origin],
        }))
        .await;
    let embed_url = session["embed_url"].as_str().expect("embed_url");
    assert!(embed_url.starts_with(&format!("{}/embed/", emban.origin)), "{embed_url}");
    let mut page = Page::open(client, &host.url(embed_url, true)).await;

    // ready: the dashboard, the protocol version and the commands; then the initial filters.
    let ready = page.wait_type("ready").await;
    assert_eq!(ready["origin"], emban.origin.as_str(), "{ready}");
    assert_eq!(ready["fromEmbed"], true);
    let data = &ready["data"];
    assert_eq!(data["_emban"], true);
    assert_eq!(data["dashboardId"], emban.demo_dashboard.as_str());
    assert_eq!(data["version"], 1);
    assert_eq!(data["commands"], json!(["setFilters", "setTheme", "reload"]));
    assert_eq!(data["permissions"]["allow_drill_down"], true);
    let initial = page.wait_type("filter").await;
    assert_eq!(initial["data"]["period"], "30d", "{initial}");
    // The token never reaches the host, and stays out of the frame's address bar.
    let token = session["token"].as_str().expect("token");
    assert!(!json!(page.events().await).to_string().contains(token), "a token was posted to the host");
    let frame_url = page.in_frame("return location.href;", vec![]).await;
    assert!(!frame_url.as_str().unwrap_or_default().contains("token="), "{frame_url}");
    // Widgets rendered: the timeseries legend and the table's rows are there to click.
    page.wait_in_frame(
        "the legend and the table",
        "return document.querySelector('button[data-testid=legend-item]') !== null \
         && document.querySelector('[data-testid=widget-tokens_by_plan] button[data-testid=row-drill]') !== null;",
        vec![],
    )
    .await;

    // setFilters changing the period → filter, then period-change.
    page.mark().await;
    page.post(json!({"_emban": true, "type": "setFilters", "filters": {"period": "7d"}})).await;
    let filter = page.wait_type("filter").await;
    assert_eq!(filter["data"]["period"], "7d", "{filter}");
    let change = page.wait_type("period-change").await;
    assert_eq!(change["data"]["previousPeriod"], "30d");
    assert_eq!(change["data"]["period"], "7d");

    // setFilters with dimensions only: filter, and no period-change (checked at the next error).
    page.mark().await;
    page.post(
        json!({"_emban": true, "type": "setFilters", "filters": {"dimensions": {"endpoint": "/v1/chat"}}}),
    )
    .await;
    let filter = page.wait_type("filter").await;
    assert_eq!(filter["data"]["period"], "7d", "{filter}");
    assert_eq!(filter["data"]["filters"], json!({"endpoint": "/v1/chat"}));
    let state_before = filter["data"].clone();
    let after_filter = page.cursor;

    // A refused setFilters: one error naming the period, and nothing changes.
    page.post(json!({"_emban": true, "type": "setFilters", "filters": {"period": "90d"}})).await;
    let error = page.wait_event("filter_refused", |d| is_error(d, "filter_refused")).await;
    let message = error["data"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("90d") && message.contains("not allowed"), "{error}");
    assert_eq!(error["data"]["recoverable"], true);
    let between: Vec<Value> =
        page.events().await[after_filter..page.cursor].iter().map(|e| e["data"]["type"].clone()).collect();
    assert!(
        !between.iter().any(|k| k == "filter" || k == "period-change"),
        "a dimensions-only setFilters changed the period, or the refusal changed the filters: {between:?}"
    );
    // The state is what it was: an empty setFilters (period and dimensions kept) reports it.
    page.post(json!({"_emban": true, "type": "setFilters", "filters": {}})).await;
    let filter = page.wait_type("filter").await;
    assert_eq!(filter["data"], state_before, "the refused setFilters changed the state");
    // Clear the endpoint filter for the drills below.
    page.post(json!({"_emban": true, "type": "setFilters", "filters": {"dimensions": {}}})).await;
    let filter = page.wait_type("filter").await;
    assert_eq!(filter["data"]["filters"], json!({}), "{filter}");

    // setTheme → the CSS custom properties on the frame's root change; an invalid one is refused.
    let css_var = "return getComputedStyle(document.documentElement).getPropertyValue(arguments[0]).trim();";
    page.post(json!({"_emban": true, "type": "setTheme", "theme": {
        "primaryColor": "#0f9d58", "backgroundColor": "#f7f9f7", "cardBackground": "#ffffff",
        "cardBorder": "#d8e2d9", "textColor": "#101513", "mutedColor": "#5d6c63",
    }}))
    .await;
    page.wait_in_frame(
        "--emban-primary to become #0f9d58",
        "return getComputedStyle(document.documentElement).getPropertyValue('--emban-primary').trim() \
         === '#0f9d58';",
        vec![],
    )
    .await;
    for (property, value) in [
        ("--emban-bg", "#f7f9f7"),
        ("--emban-card-bg", "#ffffff"),
        ("--emban-card-border", "#d8e2d9"),
        ("--emban-text", "#101513"),
        ("--emban-muted", "#5d6c63"),
    ] {
        assert_eq!(page.in_frame(css_var, vec![json!(property)]).await, value, "{property}");
    }
    page.mark().await;
    page.post(
        json!({"_emban": true, "type": "setTheme", "theme": {"primaryColor": "url(https://evil.test/x)"}}),
    )
    .await;
    let error = page.wait_event("invalid_theme", |d| is_error(d, "invalid_theme")).await;
    assert!(error["data"]["message"].as_str().unwrap_or_default().contains("primaryColor"), "{error}");
    assert_eq!(page.in_frame(css_var, vec![json!("--emban-primary")]).await, "#0f9d58");

    // Drill: a legend entry of the timeseries, then a row of the table.
    page.mark().await;
    page.click_in_frame("button[data-testid=legend-item]").await;
    let filter = page.wait_type("filter").await;
    let drill = page.wait_type("drill").await;
    assert_eq!(drill["data"]["dimension"], "model", "{drill}");
    assert_eq!(drill["data"]["action"], "apply", "{drill}");
    let model = drill["data"]["value"].as_str().expect("drill value").to_owned();
    assert!(!model.is_empty());
    assert_eq!(filter["data"]["filters"]["model"], model.as_str(), "{filter}");
    page.wait_in_frame(
        "the table to render again after the drill",
        "return document.querySelector('[data-testid=widget-tokens_by_plan] button[data-testid=row-drill]') !== null;",
        vec![],
    )
    .await;
    page.click_in_frame("[data-testid=widget-tokens_by_plan] button[data-testid=row-drill]").await;
    let filter = page.wait_type("filter").await;
    let drill = page.wait_type("drill").await;
    assert_eq!(drill["data"]["dimension"], "plan", "{drill}");
    assert_eq!(drill["data"]["action"], "apply", "{drill}");
    let plan = drill["data"]["value"].as_str().expect("drill value").to_owned();
    assert_eq!(filter["data"]["filters"], json!({"model": model, "plan": plan}), "{filter}");

    // Resize: a narrow frame stacks the cards (taller), a wide one spreads them (shorter).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let last_height = |events: &[Value]| {
        events
            .iter()
            .rev()
            .find(|e| e["data"]["type"] == "resize")
            .map(|e| e["data"]["height"].as_u64().unwrap())
    };
    let wide = last_height(&page.events().await).expect("a resize event after load");
    page.mark().await;
    page.host_script("document.getElementById('embed').style.width = '420px';", vec![]).await;
    let grown = page
        .wait_event("a taller resize", |d| d["type"] == "resize" && d["height"].as_u64() > Some(wide))
        .await;
    let narrow = grown["data"]["height"].as_u64().unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let narrow = last_height(&page.events().await).unwrap_or(narrow).max(narrow);
    page.mark().await;
    page.host_script("document.getElementById('embed').style.width = '1000px';", vec![]).await;
    let shrunk = page
        .wait_event("a shorter resize", |d| d["type"] == "resize" && d["height"].as_u64() < Some(narrow))
        .await;
    assert!(shrunk["data"]["height"].as_u64().unwrap() > 0, "{shrunk}");

    // Reload: the dashboard and every widget are fetched again; the viewer's filters stay.
    let count = "return performance.getEntriesByType('resource') \
                 .filter(e => e.name.includes(arguments[0])).length;";
    let dashboards = page.in_frame(count, vec![json!("/v1/embed/dashboard")]).await.as_u64().unwrap();
    let queries = page.in_frame(count, vec![json!("/v1/embed/query")]).await.as_u64().unwrap();
    // The first dashboard answer came inlined in the page (tests/tests/first_paint.rs); the
    // filter changes above fetched every widget again.
    assert!(queries >= 6, "dashboard fetches {dashboards}, queries {queries}");
    page.mark().await;
    page.post(json!({"_emban": true, "type": "reload"})).await;
    let filter = page.wait_type("filter").await;
    assert_eq!(filter["data"]["filters"], json!({"model": model, "plan": plan}), "{filter}");
    assert_eq!(filter["data"]["period"], "7d");
    page.wait_in_frame(
        "a second dashboard fetch and a query per widget",
        "const n = (p) => performance.getEntriesByType('resource').filter(e => e.name.includes(p)).length; \
         return n('/v1/embed/dashboard') > arguments[0] && n('/v1/embed/query') >= arguments[1] + 6;",
        vec![json!(dashboards), json!(queries)],
    )
    .await;

    // A foreign origin (a sibling frame) posting setFilters, and a message without the marker from
    // the parent: both ignored.
    page.mark().await;
    page.host_script(
        "window.__foreign({_emban: true, type: 'setFilters', filters: {period: '30d'}});",
        vec![],
    )
    .await;
    let forwarded = page.wait_event("the foreign frame's forward", |d| d["forwarded"] == true).await;
    assert_eq!(forwarded["origin"], host.foreign_origin.as_str());
    page.post(json!({"type": "setFilters", "filters": {"period": "30d"}})).await;
    page.post(json!({"_emban": false, "type": "setFilters", "filters": {"period": "30d"}})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reacted: Vec<Value> = page
        .since_cursor()
        .await
        .into_iter()
        .filter(|e| matches!(e["data"]["type"].as_str(), Some("filter" | "period-change" | "error")))
        .collect();
    assert!(reacted.is_empty(), "the embed reacted to an ignored message: {reacted:?}");
    // The same command from the host page is applied, so the period really was still 7d.
    page.post(json!({"_emban": true, "type": "setFilters", "filters": {"period": "30d"}})).await;
    let change = page.wait_type("period-change").await;
    assert_eq!(
        change["data"],
        json!({"_emban": true, "type": "period-change", "previousPeriod": "7d", "period": "30d"})
    );

    // Every embed event came from the embed's window at the embed's origin, marked.
    for event in page.events().await.iter().filter(|e| e["data"].get("forwarded").is_none()) {
        assert_eq!(event["origin"], emban.origin.as_str(), "{event}");
        assert_eq!(event["fromEmbed"], true, "{event}");
        assert_eq!(event["data"]["_emban"], true, "{event}");
    }
}

/// A dashboard published, then unpublished: the embed shows "Not published" and tells the host.
async fn unpublished_dashboard(client: &Client, ctx: &Ctx) {
    let (emban, host) = (&ctx.emban, &ctx.host);
    let created = emban
        .admin(
            Method::POST,
            "/v1/dashboards",
            Some(json!({"name": "E2E unpublished", "widgets": [{
                "id": "calls", "kind": "metric", "title": "Calls",
                "query": {"event_name": "api.call", "metric": "count"},
                "viz": {"type": "number"}, "layout": {"x": 0, "y": 0, "w": 4, "h": 2},
            }]})),
            201,
        )
        .await;
    let id = created["id"].as_str().expect("dashboard id").to_owned();
    emban.admin(Method::POST, &format!("/v1/dashboards/{id}/publish"), None, 204).await;
    emban.admin(Method::POST, &format!("/v1/dashboards/{id}/unpublish"), None, 204).await;
    let session = emban
        .mint(json!({"tenant_id": "demo_workspace", "dashboard_id": id, "allowed_origins": [host.origin]}))
        .await;
    let mut page = Page::open(client, &host.url(session["embed_url"].as_str().unwrap(), false)).await;
    let error = page.wait_event("not_published", |d| is_error(d, "not_published")).await;
    assert_eq!(error["origin"], emban.origin.as_str());
    assert_eq!(error["data"]["recoverable"], false, "{error}");
    let notice = page
        .wait_in_frame(
            "the not-published state",
            "const n = document.querySelector('[data-testid=not-published]'); return n && n.textContent;",
            vec![],
        )
        .await;
    assert!(notice.as_str().unwrap().contains("Not published"), "{notice}");
    assert!(
        !page.events().await.iter().any(|e| e["data"]["type"] == "ready"),
        "ready for an unpublished dashboard"
    );
}

/// An expired session (minted for 60 s, re-signed as already expired) and a tampered token.
async fn expired_session(client: &Client, ctx: &Ctx) {
    let (emban, host) = (&ctx.emban, &ctx.host);
    let session = emban
        .mint(json!({
            "tenant_id": "demo_workspace",
            "dashboard_id": emban.demo_dashboard,
            "expires_in": 60,
            "allowed_origins": [host.origin],
        }))
        .await;
    let token = session["token"].as_str().expect("token");
    let secret = &emban.server.state.signing_secret;
    let mut claims = verify(secret, token).expect("a valid minted token");
    assert_eq!(claims.exp - claims.iat, 60);
    claims.iat = unix_now() - 600;
    claims.exp = unix_now() - 540;
    let expired = sign(secret, &claims).expect("signing");
    let url = format!("{}/embed/{}?token={expired}", emban.origin, emban.demo_dashboard);
    let mut page = Page::open(client, &host.url(&url, false)).await;
    let error = page.wait_event("session_expired", |d| is_error(d, "session_expired")).await;
    assert_eq!(error["origin"], emban.origin.as_str());
    assert_eq!(error["data"]["recoverable"], false, "{error}");
    page.wait_in_frame(
        "the session-expired state",
        "const n = document.querySelector('[data-testid=session-expired]'); \
         return n !== null && n.textContent.includes('Session expired');",
        vec![],
    )
    .await;
    assert!(
        !page.events().await.iter().any(|e| e["data"]["type"] == "ready"),
        "ready for an expired session"
    );

    // A tampered token: the page refuses every framer but its own origin (frame-ancestors
    // 'self'), so open it directly; its first API call is a 401 and it shows the expired state.
    let (signed, signature) = token.rsplit_once('.').expect("a JWT");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
    let direct = format!("{}/embed/{}?token={tampered}", emban.origin, emban.demo_dashboard);
    client.goto(&direct).await.expect("opening the tampered embed");
    let started = std::time::Instant::now();
    loop {
        let shown = client
            .execute("return document.querySelector('[data-testid=session-expired]') !== null;", vec![])
            .await
            .expect("reading the page");
        if shown == true {
            break;
        }
        assert!(started.elapsed() < emban_e2e::WAIT, "a tampered token did not show the expired state");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A live session revoked by its jti (`DELETE /v1/embed-sessions/{jti}`): the next load's first
/// data request is a 401 and the runtime shows "Session expired", never `ready`.
async fn revoked_session(client: &Client, ctx: &Ctx) {
    let (emban, host) = (&ctx.emban, &ctx.host);
    let session = emban.mint_demo(&host.origin).await;
    let token = session["token"].as_str().expect("token");
    let claims = verify(&emban.server.state.signing_secret, token).expect("a valid minted token");
    let url = format!("{}/embed/{}?token={token}", emban.origin, emban.demo_dashboard);
    let mut live = Page::open(client, &host.url(&url, false)).await;
    live.wait_type("ready").await;

    emban.admin(reqwest::Method::DELETE, &format!("/v1/embed-sessions/{}", claims.jti), None, 204).await;
    let mut page = Page::open(client, &host.url(&url, false)).await;
    let error = page.wait_event("session_expired", |d| is_error(d, "session_expired")).await;
    assert_eq!(error["data"]["recoverable"], false, "{error}");
    page.wait_in_frame(
        "the session-expired state after revocation",
        "const n = document.querySelector('[data-testid=session-expired]'); \
         return n !== null && n.textContent.includes('Session expired');",
        vec![],
    )
    .await;
    assert!(!page.events().await.iter().any(|e| e["data"]["type"] == "ready"), "ready for a revoked session");
}
