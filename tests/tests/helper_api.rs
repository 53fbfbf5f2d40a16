//! The helper's JS API end to end (`embed-helper/pkg`, served at `/helper/`), against the real
//! server and runtime in headless Chromium started with `--js-flags=--expose-gc`:
//! - the embed stays alive without its handle, across a forced garbage collection;
//! - every promise settles: `ready` rejects (typed) on `not_published`, on a timeout and on
//!   `destroy()`; commands resolve with their answer and reject with the refusal;
//! - `on` returns an unsubscribe function, `once` a promise, `getState` the last state;
//! - mistakes are loud: unknown keys throw, a throwing listener is reported on the console;
//! - the viewer's own state (a period they picked, a drill) survives `setEmbedUrl` as far as the
//!   new session allows;
//! - an embed whose iframe leaves the document destroys itself;
//! - raw iframe users: an unknown or malformed command gets one `invalid_command` error, a
//!   `requestId` comes back on the answer, and without one the reference's messages are unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::Path, time::Duration};

use emban_e2e::{Emban, HostPages, Page, form_query, run_case_with, serve_static};
use fantoccini::Client;
use reqwest::Method;
use serde_json::{Value, json};

/// `window.__mount(url, options)` mounts with the helper from `?helper=` into `#c` and records
/// every event into `window.__events`; it returns nothing, so the page keeps no handle unless the
/// test asks (`options.keep` stores it in `window.embed`). A `FinalizationRegistry` sets
/// `window.__collected` once a probe object dropped at mount was garbage-collected: proof that
/// `window.__gc()` ran a real collection. `console.error` calls are recorded into
/// `window.__consoleErrors`.
const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Helper API host</title></head>
<body style="margin:0"><div id="c" style="width:1000px"></div>
<script type="module">
window.__events = [];
window.__consoleErrors = [];
const realError = console.error.bind(console);
console.error = (...args) => { window.__consoleErrors.push(args.map(String).join(' ')); realError(...args); };
const params = new URLSearchParams(location.search);
const { EmbanEmbed, EmbanError } = await import(params.get('helper') + '/helper/index.js');
window.EmbanEmbed = EmbanEmbed;
window.EmbanError = EmbanError;
const TYPES = ['ready', 'resize', 'filter', 'period-change', 'drill', 'error', 'theme', 'session-swapped'];
const registry = new FinalizationRegistry(() => { window.__collected = true; });
window.__mount = (embedUrl, options = {}) => {
  const embed = EmbanEmbed.mount('#c', { embedUrl, minHeight: 100, ...options.mount });
  for (const type of TYPES) {
    embed.on(type, (e) => window.__events.push({ origin: 'helper', fromEmbed: true, data: JSON.parse(JSON.stringify(e)) }));
  }
  if (options.keep) window.embed = embed;
  registry.register({ probe: new Array(1000).fill(0) }, 'probe');
};
window.__gc = async () => {
  // Asynchronous major GCs (run as tasks of their own, so nothing on the JS stack keeps the
  // dropped handle alive), with a turn of the event loop between for the finalizers.
  for (let i = 0; i < 6; i++) {
    await gc({ type: 'major', execution: 'async' });
    await new Promise((r) => setTimeout(r, 50));
  }
  return window.__collected === true;
};
window.__settle = (promise) => promise.then(
  (value) => ({ ok: true, value: JSON.parse(JSON.stringify(value)) }),
  (e) => ({ ok: false, name: e.name, code: e.code, message: e.message, recoverable: e.recoverable, typed: e instanceof EmbanError }),
);
window.__loaded = true;
</script></body></html>"#;

/// A page that is no Emban runtime: it never posts `ready`.
const SILENT: &str = "<!doctype html><title>silent</title><p>not an embed</p>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_api_end_to_end() {
    let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../embed-helper/pkg/api.js");
    assert!(pkg.is_file(), "{} is missing: run scripts/build-helper.sh", pkg.display());
    let (emban, host, hosts) = tokio::join!(
        Emban::start(),
        serve_static(vec![
            ("/page", "text/html; charset=utf-8", PAGE.into()),
            ("/silent", "text/html; charset=utf-8", SILENT.into()),
        ]),
        HostPages::start(),
    );
    run_case_with(&["--js-flags=--expose-gc"], emban, |emban, client| async move {
        survives_garbage_collection(&emban, &client, &host).await;
        promises_settle(&emban, &client, &host).await;
        api_and_mistakes(&emban, &client, &host).await;
        viewer_state_survives_rotation(&emban, &client, &host).await;
        leaving_the_document_destroys(&emban, &client, &host).await;
        raw_iframe_extensions(&emban, &client, &hosts).await;
    })
    .await;
}

async fn mint(emban: &Emban, host: &str, permissions: Value) -> String {
    let session = emban
        .mint(json!({
            "tenant_id": "demo_workspace",
            "dashboard_id": emban.demo_dashboard,
            "permissions": permissions,
            "allowed_origins": [host],
        }))
        .await;
    session["embed_url"].as_str().unwrap().to_owned()
}

fn wide() -> Value {
    json!({ "allow_drill_down": true, "allowed_dimensions": ["model", "endpoint", "plan"] })
}

async fn open(emban: &Emban, client: &Client, host: &str) -> Page {
    let url = format!("{host}/page?{}", form_query(&[("helper", &emban.origin)]));
    let page = Page::open(client, &url).await;
    page.wait_host("the helper module", "return window.__loaded === true;", vec![]).await;
    page
}

/// `[count of resize events, iframe height]`.
async fn resize_state(page: &Page) -> (usize, f64) {
    let v = page
        .host_script(
            "return [window.__events.filter(e => e.data.type === 'resize').length, \
                     document.querySelector('#c iframe').getBoundingClientRect().height];",
            vec![],
        )
        .await;
    (v[0].as_u64().unwrap() as usize, v[1].as_f64().unwrap())
}

/// Mounted without keeping the handle; after a forced GC, narrowing the container still produces
/// `resize` events and a taller iframe, and a viewer's period change still produces `filter`.
/// (Before the fix, wasm-bindgen freed the dropped handle at the GC and every listener, holding a
/// weak reference, went quiet.)
async fn survives_garbage_collection(emban: &Emban, client: &Client, host: &str) {
    let url = mint(emban, host, wide()).await;
    let mut page = open(emban, client, host).await;
    page.host_script("window.__mount(arguments[0]);", vec![json!(url)]).await;
    page.wait_type("ready").await;
    page.wait_painted().await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let collected = page.host_script("return window.__gc();", vec![]).await;
    // A second round a second later: wasm-bindgen frees a collected handle from a finalizer,
    // which runs in a task of its own.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    page.host_script("return window.__gc();", vec![]).await;
    assert_eq!(collected, true, "the probe was not garbage-collected: no GC ran, the test proves nothing");
    let (before, height_before) = resize_state(&page).await;
    page.host_script("document.getElementById('c').style.width = '360px';", vec![]).await;
    page.wait_host(
        "a resize event after the GC",
        "return window.__events.filter(e => e.data.type === 'resize').length > arguments[0];",
        vec![json!(before)],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, height_after) = resize_state(&page).await;
    assert!(
        height_after > height_before + 100.0,
        "the iframe was not resized: {height_before} → {height_after}"
    );
    page.mark().await;
    page.in_frame(
        "const s = document.querySelector('[data-testid=period-select]'); s.value = '7d'; \
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![],
    )
    .await;
    page.wait_event("the viewer's period after the GC", |d| d["type"] == "filter" && d["period"] == "7d")
        .await;
}

async fn settle(page: &Page, expression: &str, args: Vec<Value>) -> Value {
    page.host_script(&format!("return window.__settle({expression});"), args).await
}

/// `ready` rejects with a typed error on `not_published`, a timeout, and `destroy()`; commands
/// resolve with their answers and reject with refusals; nothing hangs.
async fn promises_settle(emban: &Emban, client: &Client, host: &str) {
    let created = emban
        .admin(
            Method::POST,
            "/v1/dashboards",
            Some(json!({"name": "API unpublished", "widgets": [{
                "id": "calls", "kind": "metric", "title": "Calls",
                "query": {"event_name": "api.call", "metric": "count"},
                "viz": {"type": "number"}, "layout": {"x": 0, "y": 0, "w": 4, "h": 2},
            }]})),
            201,
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let unpublished = emban
        .mint(json!({"tenant_id": "demo_workspace", "dashboard_id": id, "allowed_origins": [host]}))
        .await;
    let page = open(emban, client, host).await;
    page.host_script("window.__mount(arguments[0], { keep: true });", vec![unpublished["embed_url"].clone()])
        .await;
    let ready = settle(&page, "window.embed.ready", vec![]).await;
    assert_eq!(
        ready,
        json!({"ok": false, "name": "EmbanError", "code": "not_published", "message": ready["message"],
               "recoverable": false, "typed": true}),
        "{ready}"
    );
    page.host_script("window.embed.destroy();", vec![]).await;

    // A page that never answers: `ready` times out.
    page.host_script(
        "window.__mount(arguments[0] + '/silent', { keep: true, mount: { readyTimeout: 800 } });",
        vec![json!(host)],
    )
    .await;
    let ready = settle(&page, "window.embed.ready", vec![]).await;
    assert_eq!(ready["code"], "timeout", "{ready}");
    page.host_script("window.embed.destroy();", vec![]).await;

    // destroy() before ready: ready and a queued command reject.
    let url = mint(emban, host, wide()).await;
    page.host_script(
        "window.__mount(arguments[0], { keep: true }); window.__queued = window.embed.setFilters({ period: '7d' }); \
         window.embed.destroy();",
        vec![json!(url)],
    )
    .await;
    let ready = settle(&page, "window.embed.ready", vec![]).await;
    assert_eq!((ready["code"].clone(), ready["typed"].clone()), (json!("destroyed"), json!(true)), "{ready}");
    let queued = settle(&page, "window.__queued", vec![]).await;
    assert_eq!(queued["code"], "destroyed", "{queued}");

    // Commands: answers and refusals.
    let url = mint(emban, host, wide()).await;
    page.host_script("window.__mount(arguments[0], { keep: true });", vec![json!(url)]).await;
    let ready = settle(&page, "window.embed.ready", vec![]).await;
    assert_eq!(ready["value"]["dashboardId"], emban.demo_dashboard.as_str(), "{ready}");
    let applied =
        settle(&page, "window.embed.setFilters({ period: '7d', dimensions: { model: 'gpt-4' } })", vec![])
            .await;
    assert_eq!(applied["ok"], true, "{applied}");
    assert_eq!(applied["value"]["type"], "filter", "{applied}");
    assert_eq!(applied["value"]["period"], "7d", "{applied}");
    assert!(applied["value"]["requestId"].is_string(), "{applied}");
    let refused =
        settle(&page, "window.embed.setFilters({ period: '90d', dimensions: { country: 'fr' } })", vec![])
            .await;
    assert_eq!(refused["code"], "filter_refused", "{refused}");
    assert_eq!(refused["recoverable"], true, "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("dimension country is not allowed"), "{refused}");
    let theme = settle(&page, "window.embed.setTheme({ primaryColor: '#0f9d58' })", vec![]).await;
    assert_eq!(theme["value"]["type"], "theme", "{theme}");
    assert_eq!(theme["value"]["theme"]["primaryColor"], "#0f9d58", "{theme}");
    let bad_theme = settle(&page, "window.embed.setTheme({ primaryColor: 'url(x)' })", vec![]).await;
    assert_eq!(bad_theme["code"], "invalid_theme", "{bad_theme}");
    // The `colorScheme` extension token goes through the helper to the real runtime, which
    // answers with it in effect; a value other than light/dark throws in the helper, unsent.
    let dark = settle(&page, "window.embed.setTheme({ colorScheme: 'dark' })", vec![]).await;
    assert_eq!(dark["value"]["theme"]["colorScheme"], "dark", "{dark}");
    assert_eq!(dark["value"]["theme"]["primaryColor"], "#0f9d58", "the earlier token stays: {dark}");
    let sepia = page
        .host_script(
            "try { window.embed.setTheme({ colorScheme: 'sepia' }); return 'sent'; } catch (e) { return e.message; }",
            vec![],
        )
        .await;
    assert_eq!(sepia, json!("EmbanEmbed: setTheme(theme).colorScheme must be \"light\" or \"dark\""));
    let reloaded = settle(&page, "window.embed.reload()", vec![]).await;
    assert_eq!(reloaded["value"]["type"], "filter", "{reloaded}");
    assert_eq!(reloaded["value"]["filters"]["model"], "gpt-4", "the reload keeps the filters: {reloaded}");
    page.host_script("window.embed.destroy();", vec![]).await;
}

/// `on` → unsubscribe, `once`, `getState`; unknown keys throw; a throwing listener is reported.
async fn api_and_mistakes(emban: &Emban, client: &Client, host: &str) {
    let url = mint(emban, host, wide()).await;
    let page = open(emban, client, host).await;
    page.host_script("window.__mount(arguments[0], { keep: true });", vec![json!(url)]).await;
    settle(&page, "window.embed.ready", vec![]).await;
    page.wait_host("the first filter", "return window.__events.some(e => e.data.type === 'filter');", vec![])
        .await;
    let out = page
        .host_script(
            "return (async () => { const embed = window.embed; const seen = []; \
             const before = embed.getState(); \
             const off = embed.on('filter', (e) => seen.push(e.period)); \
             embed.on('filter', () => { throw new Error('listener bug'); }); \
             embed.on('filter', (e) => seen.push('after the throwing one')); \
             const change = embed.once('period-change'); \
             await embed.setFilters({ period: '7d' }); \
             off(); off(); \
             const previous = (await change).previousPeriod; \
             await embed.setFilters({ period: '24h' }); \
             const errors = []; \
             for (const f of [() => embed.setFilters({ filters: { model: 'gpt-4' } }), \
                              () => embed.setTheme({ primary: '#000' }), \
                              () => embed.on('redy', () => {})]) { \
               try { f(); errors.push(null); } catch (e) { errors.push(e.message); } } \
             return { typeofOff: typeof off, seen, previous, state: embed.getState(), \
                      before: before && before.period, errors, console: window.__consoleErrors }; })();",
            vec![],
        )
        .await;
    assert_eq!(out["typeofOff"], "function", "{out}");
    assert_eq!(out["seen"], json!(["7d", "after the throwing one", "after the throwing one"]), "{out}");
    assert_eq!(out["previous"], "30d", "{out}");
    assert_eq!(out["state"]["period"], "24h", "{out}");
    assert_eq!(out["state"]["filters"], json!({}), "{out}");
    assert_eq!(out["before"], "30d", "the state of the first filter event: {out}");
    let errors = out["errors"].as_array().unwrap();
    assert!(
        errors[0].as_str().unwrap().contains("has an unknown key \"filters\"")
            && errors[0].as_str().unwrap().contains("\"dimensions\""),
        "{out}"
    );
    assert!(errors[1].as_str().unwrap().contains("unknown key \"primary\""), "{out}");
    assert!(errors[2].as_str().unwrap().contains("unknown event \"redy\""), "{out}");
    let logged = out["console"].as_array().unwrap();
    assert!(
        logged.iter().any(|l| l.as_str().unwrap().contains("\"filter\" listener threw")
            && l.as_str().unwrap().contains("listener bug")),
        "{out}"
    );
    page.host_script("window.embed.destroy();", vec![]).await;
}

/// The viewer drills into a model (a legend entry) and a plan (a table row) and picks a period;
/// the host swaps in a session that allows `model` only: the new session shows the viewer's
/// period and model drill, and drops the plan it does not allow (instead of refusing it all).
async fn viewer_state_survives_rotation(emban: &Emban, client: &Client, host: &str) {
    let url = mint(emban, host, wide()).await;
    let mut page = open(emban, client, host).await;
    page.host_script("window.__mount(arguments[0], { keep: true });", vec![json!(url)]).await;
    page.wait_type("ready").await;
    page.wait_painted().await;
    page.mark().await;
    page.click_in_frame("button[data-testid=legend-item]").await;
    let drill = page.wait_type("drill").await;
    let model = drill["data"]["value"].as_str().unwrap().to_owned();
    page.wait_in_frame(
        "the table to render again after the drill",
        "return document.querySelector('[data-testid=widget-tokens_by_plan] button[data-testid=row-drill]') !== null;",
        vec![],
    )
    .await;
    page.click_in_frame("[data-testid=widget-tokens_by_plan] button[data-testid=row-drill]").await;
    let drill = page.wait_type("drill").await;
    let plan = drill["data"]["value"].as_str().unwrap().to_owned();
    page.in_frame(
        "const s = document.querySelector('[data-testid=period-select]'); s.value = '7d'; \
         s.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![],
    )
    .await;
    page.wait_event("the viewer's period", |d| d["type"] == "filter" && d["period"] == "7d").await;
    let state = page.host_script("return window.embed.getState();", vec![]).await;
    assert_eq!(state["filters"], json!({"model": model, "plan": plan}), "{state}");
    assert_eq!(state["period"], "7d", "{state}");

    let narrower =
        mint(emban, host, json!({ "allow_drill_down": true, "allowed_dimensions": ["model"] })).await;
    page.mark().await;
    let swapped = settle(&page, "window.embed.setEmbedUrl(arguments[0])", vec![json!(narrower)]).await;
    assert_eq!(swapped["value"]["type"], "session-swapped", "{swapped}");
    let restored = page
        .wait_event("the restored state", |d| {
            d["type"] == "filter" && d["filters"]["model"] == model.as_str()
        })
        .await;
    assert_eq!(restored["data"]["period"], "7d", "{restored}");
    assert_eq!(restored["data"]["filters"], json!({"model": model}), "{restored}");
    page.wait_in_frame(
        "period 7d and the model chip in the new session",
        "return document.querySelector('[data-testid=period-select]')?.value === '7d' \
         && document.querySelector('[data-testid=chip][data-dimension=model]') !== null;",
        vec![],
    )
    .await;
    // (Widgets grouped by a dimension the new session does not allow fail with `query_failed`:
    // that is the session's rule, not the restore's.)
    let refused: Vec<Value> = page
        .since_cursor()
        .await
        .into_iter()
        .filter(|e| e["data"]["type"] == "error" && e["data"]["code"] != "query_failed")
        .collect();
    assert!(refused.is_empty(), "the restore was refused: {refused:?}");
    page.host_script("window.embed.destroy();", vec![]).await;
}

/// Removing the container from the document destroys the embed (its listener goes with it).
async fn leaving_the_document_destroys(emban: &Emban, client: &Client, host: &str) {
    let url = mint(emban, host, wide()).await;
    let page = open(emban, client, host).await;
    page.host_script("window.__mount(arguments[0], { keep: true });", vec![json!(url)]).await;
    settle(&page, "window.embed.ready", vec![]).await;
    page.host_script("document.getElementById('c').remove();", vec![]).await;
    let message = page
        .wait_host(
            "destroy after the iframe left the document",
            "try { window.embed.reload(); return false; } catch (e) { return e.message; }",
            vec![],
        )
        .await;
    assert!(message.as_str().unwrap().contains("after destroy"), "{message}");
}

/// A raw iframe (the harness's host page, no helper): an unknown type and a malformed payload
/// each get one `invalid_command` error; a `requestId` comes back on the answer only; without
/// one, `setTheme` is answered by nothing and `setFilters` by the reference's `filter`.
async fn raw_iframe_extensions(emban: &Emban, client: &Client, hosts: &HostPages) {
    let session = emban.mint_demo(&hosts.origin).await;
    let mut page = Page::open(client, &hosts.url(session["embed_url"].as_str().unwrap(), false)).await;
    page.wait_type("ready").await;
    page.wait_type("filter").await;
    page.wait_painted().await;
    for (message, needle) in [
        (json!({"_emban": true, "type": "explode"}), "unknown command type \"explode\""),
        (
            json!({"_emban": true, "type": "setFilters", "filters": {"filters": {"model": "x"}}}),
            "unknown field `filters`",
        ),
        (json!({"_emban": true, "type": "setTheme"}), "setTheme needs `theme`"),
    ] {
        page.mark().await;
        page.post(message.clone()).await;
        let error = page.wait_type("error").await;
        assert_eq!(error["data"]["code"], "invalid_command", "{message}: {error}");
        assert_eq!(error["data"]["recoverable"], true, "{error}");
        assert!(error["data"]["message"].as_str().unwrap().contains(needle), "{message}: {error}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let errors = page.since_cursor().await.iter().filter(|e| e["data"]["type"] == "error").count();
        assert_eq!(errors, 0, "more than one error for {message}");
    }
    page.mark().await;
    page.post(json!({"_emban": true, "type": "setFilters", "filters": {"period": "7d"}, "requestId": "r-1"}))
        .await;
    let answer = page.wait_type("filter").await;
    assert_eq!(answer["data"]["requestId"], "r-1", "{answer}");
    let change = page.wait_type("period-change").await;
    assert!(change["data"].get("requestId").is_none(), "only the answer carries the id: {change}");
    page.post(json!({"_emban": true, "type": "explode", "requestId": "r-2"})).await;
    let error = page.wait_type("error").await;
    assert_eq!(error["data"]["requestId"], "r-2", "{error}");

    // Without a request id: exactly the reference's behaviour.
    page.mark().await;
    page.post(json!({"_emban": true, "type": "setTheme", "theme": {"primaryColor": "#0f9d58"}})).await;
    page.post(json!({"_emban": true, "type": "setFilters", "filters": {"period": "30d"}})).await;
    let filter = page.wait_type("filter").await;
    let mut keys: Vec<&str> = filter["data"].as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["_emban", "dateRanges", "filters", "numericRanges", "period", "type"], "{filter}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let themes = page.events().await.iter().filter(|e| e["data"]["type"] == "theme").count();
    assert_eq!(themes, 0, "a theme event without a request id");
}
