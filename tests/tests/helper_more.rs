//! The embed helper (`embed-helper/pkg`, served at `/helper/`) end to end, beyond
//! `helper.rs`: the automatic session refresh through `fetchEmbedUrl`, auto-resize following the
//! runtime's height down and up without a feedback loop, and messages from foreign origins
//! ignored. A host page on its own origin, the real server and runtime, headless Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::Path,
    time::{Duration, Instant},
};

use emban_e2e::{Emban, Page, WAIT, form_query, run_case, serve_static};
use fantoccini::Client;
use serde_json::{Value, json};

/// Records every message the window receives into `window.__raw` and every helper event into
/// `window.__events` (each with `at`, the page's `Date.now()` when it arrived). `__mount(url,
/// options)` mounts `url` in `#c` with the helper from `?helper=`; `options.refresh` passes a
/// `fetchEmbedUrl` that hands out `window.__urls` in order (`'fail'` rejects), counting calls in
/// `window.__fetches`; `options.expiresAt` with `options.remainingMs` sets the page's clock
/// (`Date.now`, which the helper schedules by) so that the token has `remainingMs` left.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Helper host</title></head>
<body style="margin:0"><div id="c" style="width:1000px"></div>
<script type="module">
window.__events = [];
window.__raw = [];
window.__fetches = 0;
window.__urls = [];
window.addEventListener('message', (e) => {
  let data;
  try { data = JSON.parse(JSON.stringify(e.data)); } catch (_) { data = String(e.data); }
  window.__raw.push({ origin: e.origin, data });
});
const params = new URLSearchParams(location.search);
const { EmbanEmbed } = await import(params.get('helper') + '/helper/index.js');
const TYPES = ['ready', 'resize', 'filter', 'period-change', 'drill', 'error', 'session-swapped', 'session-expiring'];
window.__mount = (embedUrl, options) => {
  if (options.expiresAt) {
    const realNow = Date.now.bind(Date);
    const ahead = Date.parse(options.expiresAt) - options.remainingMs - realNow();
    Date.now = () => realNow() + ahead;
  }
  const fetchEmbedUrl = options.refresh
    ? () => {
        window.__fetches += 1;
        const next = window.__urls.shift();
        return next && next !== 'fail' ? Promise.resolve(next) : Promise.reject(new Error('no URL this time'));
      }
    : undefined;
  const embed = EmbanEmbed.mount('#c', { embedUrl, minHeight: 100, title: 'Analytics', fetchEmbedUrl });
  window.embed = embed;
  window.__firstFrame = embed.iframe;
  for (const type of TYPES) {
    embed.on(type, (e) => window.__events.push({ origin: 'helper', fromEmbed: true, at: Date.now(), data: JSON.parse(JSON.stringify(e)) }));
  }
  return true;
};
window.__loaded = true;
</script></body></html>"#;

/// Posts contract-shaped messages to its parent from a foreign origin, then `{forgerDone}` with
/// its query string.
const FORGER: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Forger</title></head><body><script>
parent.postMessage({ _emban: true, type: 'ready', dashboardId: 'forged', version: 1 }, '*');
parent.postMessage({ _emban: true, type: 'resize', height: 4321 }, '*');
parent.postMessage({ _emban: true, type: 'drill', dimension: 'model', value: 'forged', action: 'apply' }, '*');
parent.postMessage({ _emban: true, type: 'filter', period: 'forged', filters: {} }, '*');
parent.postMessage({ _emban: true, type: 'error', code: 'forged', message: 'forged' }, '*');
parent.postMessage({ forgerDone: location.search }, '*');
</script></body></html>"#;

struct Origins {
    host: String,
    foreign: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_refresh_resize_and_foreign_origins() {
    let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../embed-helper/pkg/index.js");
    assert!(pkg.is_file(), "{} is missing: run scripts/build-helper.sh", pkg.display());
    let (emban, host, foreign) = tokio::join!(
        Emban::start(),
        serve_static(vec![("/page", "text/html; charset=utf-8", PAGE.into())]),
        serve_static(vec![("/forger", "text/html; charset=utf-8", FORGER.into())]),
    );
    let origins = Origins { host, foreign };
    run_case(emban, |emban, client| async move {
        refresh_through_fetch_embed_url(&emban, &client, &origins).await;
        resize_follows_down_and_up(&emban, &client, &origins).await;
        foreign_origins_ignored(&emban, &client, &origins).await;
    })
    .await;
}

async fn mint(emban: &Emban, host: &str, expires_in: Option<u32>) -> Value {
    let mut body = json!({
        "tenant_id": "demo_workspace",
        "dashboard_id": emban.demo_dashboard,
        "permissions": { "allowed_dimensions": ["model", "endpoint", "plan"], "allowed_periods": ["30d", "7d"] },
        "allowed_origins": [host],
    });
    if let Some(seconds) = expires_in {
        body["expires_in"] = json!(seconds);
    }
    emban.mint(body).await
}

/// Opens the helper page and mounts `embed_url` with `options`.
async fn mount(emban: &Emban, client: &Client, origins: &Origins, embed_url: &str, options: Value) -> Page {
    let url = format!("{}/page?{}", origins.host, form_query(&[("helper", &emban.origin)]));
    let page = Page::open(client, &url).await;
    page.wait_host("the helper module", "return window.__loaded === true;", vec![]).await;
    page.host_script("return window.__mount(arguments[0], arguments[1]);", vec![json!(embed_url), options])
        .await;
    page
}

/// A 60 s session (the shortest the API mints) refreshes itself: `session-expiring` ahead of
/// the expiry, `fetchEmbedUrl` called (a failure retried after the backoff), then
/// `session-swapped` in the same iframe with the state before still applied: the host's endpoint
/// filter and the period the viewer picked afterwards. The page's
/// clock runs ahead so that the token has 8 s left when mounted: the helper refreshes at half the
/// remaining time when that is under a minute, so this takes seconds rather than 30.
async fn refresh_through_fetch_embed_url(emban: &Emban, client: &Client, origins: &Origins) {
    let short = mint(emban, &origins.host, Some(60)).await;
    let next = mint(emban, &origins.host, None).await; // an hour: no second refresh during the test
    let expires_at = short["expires_at"].as_str().unwrap();
    let mut page = mount(
        emban,
        client,
        origins,
        short["embed_url"].as_str().unwrap(),
        json!({ "refresh": true, "expiresAt": expires_at, "remainingMs": 8000 }),
    )
    .await;
    page.host_script("window.__urls = ['fail', arguments[0]];", vec![next["embed_url"].clone()]).await;
    page.wait_type("ready").await;
    page.host_script(
        "window.embed.setFilters({ period: '7d', dimensions: { endpoint: '/v1/chat' } });",
        vec![],
    )
    .await;
    page.wait_event("filter 7d + endpoint", |d| {
        d["type"] == "filter" && d["period"] == "7d" && d["filters"]["endpoint"] == "/v1/chat"
    })
    .await;
    // Then the viewer picks another period inside the embed: the refresh must carry the viewer's
    // state, not just what the host sent last.
    page.wait_in_frame(
        "the period select",
        "const s = document.querySelector('[data-testid=period-select]'); \
         if (!s) return false; s.value = '30d'; s.dispatchEvent(new Event('change', { bubbles: true })); return true;",
        vec![],
    )
    .await;
    page.wait_event("the viewer's 30d", |d| d["type"] == "filter" && d["period"] == "30d").await;
    // The token's `exp`: whole seconds (`expires_at` has milliseconds).
    let exp_ms = page
        .host_script("return Math.floor(Date.parse(arguments[0]) / 1000) * 1000;", vec![json!(expires_at)])
        .await;
    let exp_ms = exp_ms.as_f64().unwrap();

    let expiring = page.wait_type("session-expiring").await;
    assert_eq!(expiring["data"]["expiresAt"].as_f64(), Some(exp_ms), "expiresAt in ms: {expiring}");
    let at = expiring["at"].as_f64().unwrap();
    // Ahead of the expiry, by at most half of the 8 s (what was left at `ready`, a little less).
    assert!(at < exp_ms && at >= exp_ms - 4050.0, "session-expiring at {at}, token expires at {exp_ms}");

    let swapped = page.wait_type("session-swapped").await;
    assert_eq!(swapped["data"]["dashboardId"], emban.demo_dashboard.as_str(), "{swapped}");
    assert_eq!(swapped["data"]["origin"], emban.origin.as_str(), "{swapped}");
    let waited = swapped["at"].as_f64().unwrap() - at;
    assert!(
        waited >= 1000.0,
        "swapped {waited} ms after session-expiring: the failed fetch was not backed off"
    );
    let carried = page
        .wait_event("the filters carried into the new session", |d| {
            d["type"] == "filter" && d["filters"]["endpoint"] == "/v1/chat"
        })
        .await;
    assert_eq!(carried["data"]["period"], "30d", "the viewer's period, not the host's 7d: {carried}");

    let state = page
        .host_script(
            "const f = window.embed.iframe; \
             return [window.__fetches, f === window.__firstFrame && f.isConnected, \
                     document.querySelectorAll('iframe').length, f.getAttribute('src'), \
                     window.__events.filter(e => e.data.type === 'session-expiring').length];",
            vec![],
        )
        .await;
    assert_eq!(state[0], 2, "fetchEmbedUrl calls (one failure, one success): {state}");
    assert_eq!(state[1], true, "the iframe was replaced: {state}");
    assert_eq!(state[2], 1, "{state}");
    assert_eq!(state[3], next["embed_url"], "the iframe does not show the fresh URL: {state}");
    assert_eq!(state[4], 1, "one session-expiring per refresh, not per attempt: {state}");
    // The new session's dashboard shows the carried filters.
    page.wait_in_frame(
        "period 30d and the endpoint chip in the new session",
        "return document.querySelector('[data-testid=period-select]')?.value === '30d' \
         && document.querySelector('[data-testid=chip][data-dimension=endpoint]') !== null;",
        vec![],
    )
    .await;
    page.host_script("window.embed.destroy();", vec![]).await;
}

/// Resize events so far: `[count, last height, iframe height]`.
async fn resize_state(page: &Page) -> (usize, f64, f64) {
    let v = page
        .host_script(
            "const r = window.__events.filter(e => e.data.type === 'resize'); \
             return [r.length, r.length ? r[r.length - 1].data.height : 0, \
                     window.embed.iframe.getBoundingClientRect().height];",
            vec![],
        )
        .await;
    (v[0].as_u64().unwrap() as usize, v[1].as_f64().unwrap(), v[2].as_f64().unwrap())
}

/// Waits until no resize event arrived for a second (the runtime debounces by 60 ms); returns
/// the state then. Fails if they never stop (a feedback loop).
async fn settled(page: &Page, what: &str) -> (usize, f64, f64) {
    let started = Instant::now();
    let mut last = resize_state(page).await;
    let mut quiet_since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = resize_state(page).await;
        if now.0 != last.0 {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_secs(1) && now.0 > 0 {
            return now;
        }
        assert!(started.elapsed() < WAIT, "resize events never settled {what}: {now:?}");
    }
}

/// `autoResize`: narrowing the container stacks the widgets in one column (taller), widening
/// it puts them back side by side (shorter); the iframe's height follows each report, and the
/// reports stop (sizing the iframe does not make the runtime report again).
async fn resize_follows_down_and_up(emban: &Emban, client: &Client, origins: &Origins) {
    let session = mint(emban, &origins.host, None).await;
    let mut page = mount(emban, client, origins, session["embed_url"].as_str().unwrap(), json!({})).await;
    page.wait_type("ready").await;
    page.wait_painted().await;
    let (n_wide, wide, frame) = settled(&page, "after load").await;
    assert!(wide > 300.0, "wide content height {wide}");
    assert_eq!(frame, wide.ceil(), "iframe height after load");

    page.host_script("document.getElementById('c').style.width = '360px';", vec![]).await;
    let (n_narrow, narrow, frame) = settled(&page, "after narrowing").await;
    assert!(narrow > wide + 200.0, "one column should be taller: {narrow} vs {wide}");
    assert_eq!(frame, narrow.ceil(), "iframe height after growing");
    assert!(n_narrow - n_wide <= 6, "{} resize events for one change", n_narrow - n_wide);

    page.host_script("document.getElementById('c').style.width = '1000px';", vec![]).await;
    let (n_back, back, frame) = settled(&page, "after widening").await;
    assert!(back < narrow - 200.0, "side by side should be shorter again: {back} vs {narrow}");
    assert!((back - wide).abs() <= 2.0, "back to the first layout's height: {back} vs {wide}");
    assert_eq!(frame, back.ceil(), "iframe height after shrinking");
    assert!(n_back - n_narrow <= 6, "{} resize events for one change", n_back - n_narrow);

    // Still quiet a while later: no loop between the iframe's height and the runtime's report.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(resize_state(&page).await.0, n_back, "resize events kept coming");
    page.host_script("window.embed.destroy();", vec![]).await;
}

/// Contract-shaped messages from a foreign origin change nothing: from a sibling frame (not the
/// helper's iframe) and from the helper's own iframe once it shows a foreign page (the right
/// window, the wrong origin).
async fn foreign_origins_ignored(emban: &Emban, client: &Client, origins: &Origins) {
    let session = mint(emban, &origins.host, None).await;
    let mut page = mount(emban, client, origins, session["embed_url"].as_str().unwrap(), json!({})).await;
    page.wait_type("ready").await;
    settled(&page, "after load").await;

    let forger = format!("{}/forger", origins.foreign);
    for (how, script) in [
        (
            "?sibling",
            "const f = document.createElement('iframe'); f.src = arguments[0] + '?sibling'; \
             document.body.appendChild(f);",
        ),
        ("?own", "window.embed.iframe.src = arguments[0] + '?own';"),
    ] {
        let (_, _, height_before) = resize_state(&page).await;
        page.mark().await;
        page.host_script(script, vec![json!(forger)]).await;
        // Once the page has the forger's last message, the helper's listener has seen them all.
        let raw = page
            .wait_host(
                "the forger's messages",
                "const r = window.__raw; \
                 return r.some(m => m.data && m.data.forgerDone === arguments[0]) && r;",
                vec![json!(how)],
            )
            .await;
        let forged: Vec<&Value> = raw
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["origin"] == origins.foreign.as_str() && m["data"]["_emban"] == true)
            .collect();
        assert!(forged.len() >= 5, "{how}: the forged messages did not arrive: {raw}");
        // (A late genuine resize from the embed could still arrive: only forged content counts.)
        let accepted: Vec<Value> = page
            .since_cursor()
            .await
            .into_iter()
            .filter(|e| {
                let d = &e["data"];
                ["ready", "drill", "filter", "error"].contains(&d["type"].as_str().unwrap_or_default())
                    || d["height"] == 4321
            })
            .collect();
        assert!(accepted.is_empty(), "{how}: the helper emitted events for a foreign origin: {accepted:?}");
        let (_, _, height_after) = resize_state(&page).await;
        assert_eq!(height_after, height_before, "{how}: a forged resize sized the iframe");
        page.host_script("window.__raw = [];", vec![]).await;
    }
}
