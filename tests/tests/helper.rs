//! The embed helper (`embed-helper/pkg`, served by the server at `/helper/`) end to end: a host
//! page on another origin mounts the demo dashboard through `EmbanEmbed.mount` in headless
//! Chromium, against the real server and runtime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{path::Path, time::Duration};

use emban_e2e::{Browser, Emban, Page};
use serde_json::{Value, json};

/// Imports the helper from `?helper=` (the server's origin), mounts `?embed=` in `#c`, and
/// records every event into `window.__events` as the harness's `Page` reads them.
const HELPER_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Helper host</title></head>
<body style="margin:0"><div id="c" style="width:1000px"></div>
<script type="module">
window.__events = [];
const params = new URLSearchParams(location.search);
const { EmbanEmbed } = await import(params.get('helper') + '/helper/index.js');
window.EmbanEmbed = EmbanEmbed;
const embed = EmbanEmbed.mount('#c', { embedUrl: params.get('embed'), minHeight: 120, title: 'Analytics' });
window.embed = embed;
window.__firstFrame = embed.iframe;
embed.setFilters({ period: '7d' }); // before ready: queued
for (const type of ['ready', 'resize', 'filter', 'period-change', 'drill', 'error', 'session-swapped']) {
  embed.on(type, (e) => window.__events.push({ origin: 'helper', fromEmbed: true, data: JSON.parse(JSON.stringify(e)) }));
}
embed.ready.then((e) => { window.__readyPromise = e.dashboardId; });
</script></body></html>"#;

async fn serve_host_page() -> String {
    use axum::{Router, response::Html, routing::get};
    let app = Router::new().route("/helper-host", get(|| async { Html(HELPER_PAGE) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the host page");
    let origin = format!("http://{}", listener.local_addr().expect("local addr"));
    tokio::spawn(axum::serve(listener, app).into_future());
    origin
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("url");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_end_to_end() {
    let pkg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../embed-helper/pkg/index.js");
    assert!(pkg.is_file(), "{} is missing: run scripts/build-helper.sh", pkg.display());
    let (emban, host_origin) = tokio::join!(Emban::start(), serve_host_page());
    let browser = Browser::start().await;
    let client = browser.client.clone();
    let run = tokio::spawn(async move {
        let mint = || {
            emban.mint(json!({
                "tenant_id": "demo_workspace",
                "dashboard_id": emban.demo_dashboard,
                "permissions": { "allowed_dimensions": ["model", "endpoint", "plan"], "allowed_periods": ["30d", "7d"] },
                "allowed_origins": [host_origin],
            }))
        };
        let first = mint().await;
        let url = format!(
            "{host_origin}/helper-host?{}",
            query(&[("helper", &emban.origin), ("embed", first["embed_url"].as_str().unwrap())])
        );
        let mut page = Page::open(&client, &url).await;

        // ready, then the queued setFilters applied.
        let ready = page.wait_type("ready").await;
        assert_eq!(ready["data"]["dashboardId"], emban.demo_dashboard.as_str());
        page.wait_event("queued setFilters → filter 7d", |d| d["type"] == "filter" && d["period"] == "7d").await;
        let origin = page.host_script("return window.embed.origin;", vec![]).await;
        assert_eq!(origin, emban.origin.as_str());
        let attrs = page
            .host_script(
                "const f = window.embed.iframe; return [f.title, f.getAttribute('sandbox'), f.getAttribute('allow')];",
                vec![],
            )
            .await;
        assert_eq!(attrs[0], "Analytics");
        assert!(attrs[1].as_str().unwrap().contains("allow-scripts"), "{attrs}");

        // setFilters → filter; setTheme and reload accepted (no error).
        page.host_script("window.embed.setFilters({ dimensions: { endpoint: '/v1/chat' } });", vec![]).await;
        let filter =
            page.wait_event("filter with endpoint", |d| d["type"] == "filter" && d["filters"]["endpoint"] == "/v1/chat").await;
        assert_eq!(filter["data"]["period"], "7d");
        page.host_script("window.embed.setTheme({ primaryColor: '#0f9d58', backgroundColor: '#101513' });", vec![])
            .await;
        page.host_script("window.embed.reload();", vec![]).await;
        page.wait_type("filter").await;

        // autoResize: the iframe's height follows the last resize (never below minHeight).
        // (The runtime reports its height as it renders; the last report is what counts.)
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(page.events().await.iter().any(|e| e["data"]["type"] == "resize"), "no resize event");
        let heights = page
            .host_script(
                "const r = window.__events.filter(e => e.data.type === 'resize').pop(); \
                 return [r.data.height, window.embed.iframe.getBoundingClientRect().height];",
                vec![],
            )
            .await;
        let (reported, actual) = (heights[0].as_f64().unwrap(), heights[1].as_f64().unwrap());
        assert_eq!(actual, reported.ceil().max(120.0), "{heights}");

        // A message from anything but the iframe (here the host window itself) is ignored.
        page.mark().await;
        page.host_script(
            "window.postMessage({ _emban: true, type: 'drill', dimension: 'x', value: 'y', action: 'apply' }, '*');",
            vec![],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!page.since_cursor().await.iter().any(|e| e["data"]["type"] == "drill"), "forged drill accepted");

        // setEmbedUrl: same iframe, session-swapped, the filters carried into the new session.
        let second = mint().await;
        page.mark().await;
        page.host_script("window.embed.setEmbedUrl(arguments[0]);", vec![second["embed_url"].clone()]).await;
        page.wait_type("session-swapped").await;
        let carried = page
            .wait_event("carried filters", |d| d["type"] == "filter" && d["filters"]["endpoint"] == "/v1/chat")
            .await;
        assert_eq!(carried["data"]["period"], "7d");
        let same = page
            .host_script("return window.embed.iframe === window.__firstFrame && window.__firstFrame.isConnected;", vec![])
            .await;
        assert_eq!(same, true);

        // Bad use: clear errors.
        let errors = page
            .host_script(
                "const out = []; const t = (f) => { try { f(); out.push(null); } catch (e) { out.push(e.message); } }; \
                 t(() => window.EmbanEmbed.mount('#nope', { embedUrl: arguments[0] })); \
                 t(() => window.EmbanEmbed.mount('#c', { embedUrl: '/embed/x' })); \
                 t(() => window.embed.on('bogus', () => {})); \
                 window.embed.destroy(); \
                 t(() => window.embed.reload()); \
                 out.push(document.querySelector('#c iframe') === null); return out;",
                vec![second["embed_url"].clone()],
            )
            .await;
        let errors: Vec<Value> = errors.as_array().unwrap().clone();
        assert!(errors[0].as_str().unwrap().contains("no element matches"), "{errors:?}");
        assert!(errors[1].as_str().unwrap().contains("absolute http(s) URL"), "{errors:?}");
        assert!(errors[2].as_str().unwrap().contains("unknown event"), "{errors:?}");
        assert!(errors[3].as_str().unwrap().contains("after destroy"), "{errors:?}");
        assert_eq!(errors[4], true);
        emban
    })
    .await;
    browser.close().await;
    match run {
        Ok(emban) => {
            let _ = emban.server.stop().await;
        }
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}
