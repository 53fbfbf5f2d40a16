//! The React wrapper (`embed-helper/pkg/react.js`, `<EmbanEmbedFrame />`) in a real React app:
//! `tests/react-fixture/app.jsx`, bundled by esbuild against React from npm, served from its own
//! origin, against the real server and runtime in headless Chromium. A new `embedUrl` prop swaps
//! the session in the same iframe (no remount); `filters`/`theme` props become commands;
//! unmounting removes the iframe. `strict.jsx` runs the wrapper under StrictMode (a development
//! build, which mounts effects twice) with no URL at first.
//!
//! The fixture's `node_modules` comes from `npm ci` (scripts/test.sh runs it through
//! `setup_react_fixture`; this test runs it too when it is missing), and the bundle is rebuilt on
//! every run so it always wraps the current `embed-helper/pkg`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use emban_e2e::{Emban, Page, form_query, run_case, serve_static};
use serde_json::json;

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>React host</title></head>
<body style="margin:0"><div id="root"></div><script type="module" src="/app.js"></script></body></html>"#;

/// Counts the window's live `message` listeners (`window.__messageListeners`) before the bundle
/// runs, then runs the StrictMode app.
const STRICT_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>React StrictMode host</title>
<script>
window.__messageListeners = 0;
const add = EventTarget.prototype.addEventListener;
const remove = EventTarget.prototype.removeEventListener;
EventTarget.prototype.addEventListener = function (type, ...rest) {
  if (this === window && type === 'message') window.__messageListeners += 1;
  return add.call(this, type, ...rest);
};
EventTarget.prototype.removeEventListener = function (type, ...rest) {
  if (this === window && type === 'message') window.__messageListeners -= 1;
  return remove.call(this, type, ...rest);
};
window.addEventListener('error', (e) => { window.__pageErrors = (window.__pageErrors || []).concat(String(e.message)); });
</script></head>
<body style="margin:0"><div id="root"></div><script type="module" src="/strict.js"></script></body></html>"#;

fn run(dir: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).current_dir(dir).status().unwrap_or_else(|e| {
        panic!("running {program} {args:?} in {}: {e} (is Node.js installed?)", dir.display())
    });
    assert!(status.success(), "{program} {args:?} in {} failed: {status}", dir.display());
}

/// `npm ci` when `node_modules` is missing, then `node build.mjs`; returns the fixture's `dist/`.
fn build_fixture() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pkg = root.join("../embed-helper/pkg/react.js");
    assert!(pkg.is_file(), "{} is missing: run scripts/build-helper.sh", pkg.display());
    let fixture = root.join("react-fixture");
    if !fixture.join("node_modules/react-dom").is_dir() || !fixture.join("node_modules/esbuild").is_dir() {
        run(&fixture, "npm", &["ci", "--no-audit", "--no-fund"]);
    }
    run(&fixture, "node", &["build.mjs"]);
    fixture.join("dist")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn react_wrapper_end_to_end() {
    let dist = tokio::task::spawn_blocking(build_fixture).await.expect("building the React fixture");
    let read = |name: &str| std::fs::read(dist.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let files = vec![
        ("/react", "text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        ("/app.js", "text/javascript", read("app.js")),
        ("/strict", "text/html; charset=utf-8", STRICT_PAGE.as_bytes().to_vec()),
        ("/strict.js", "text/javascript", read("strict.js")),
        ("/embed_helper_bg.wasm", "application/wasm", read("embed_helper_bg.wasm")),
    ];
    let (emban, host) = tokio::join!(Emban::start(), serve_static(files));
    run_case(emban, |emban, client| async move {
        let mint = || {
            emban.mint(json!({
                "tenant_id": "demo_workspace",
                "dashboard_id": emban.demo_dashboard,
                "permissions": { "allowed_dimensions": ["model", "endpoint", "plan"] },
                "allowed_origins": [host],
            }))
        };
        let (first, second) = (mint().await, mint().await);
        let url = format!("{host}/react?{}", form_query(&[("embed", first["embed_url"].as_str().unwrap())]));
        let mut page = Page::open(&client, &url).await;

        // Mounted once, ready through onEvent and onReady.
        let ready = page.wait_type("ready").await;
        assert_eq!(ready["data"]["dashboardId"], emban.demo_dashboard.as_str(), "{ready}");
        let mounted = page
            .host_script(
                "const f = document.querySelector('[data-emban-frame] iframe'); \
                 return [window.__mounts.length, window.__onReady, f && f.title, f === window.__mounts[0]];",
                vec![],
            )
            .await;
        assert_eq!(mounted, json!([1, 1, "Analytics (React)", true]));

        // A `filters` prop becomes setFilters.
        page.host_script("window.__setFilters({ period: '7d', dimensions: { model: 'gpt-4' } });", vec![])
            .await;
        page.wait_event("filter from the prop", |d| {
            d["type"] == "filter" && d["period"] == "7d" && d["filters"]["model"] == "gpt-4"
        })
        .await;

        // A new `embedUrl` prop: setEmbedUrl on the same iframe, session-swapped, filters carried.
        page.mark().await;
        page.host_script("window.__setEmbedUrl(arguments[0]);", vec![second["embed_url"].clone()]).await;
        let swapped = page.wait_type("session-swapped").await;
        assert_eq!(swapped["data"]["dashboardId"], emban.demo_dashboard.as_str(), "{swapped}");
        let carried = page
            .wait_event("carried filters", |d| d["type"] == "filter" && d["filters"]["model"] == "gpt-4")
            .await;
        assert_eq!(carried["data"]["period"], "7d", "{carried}");
        let same = page
            .host_script(
                "const frames = document.querySelectorAll('iframe'); \
                 return [window.__mounts.length, frames.length, frames[0] === window.__mounts[0], \
                         frames[0].getAttribute('src') === arguments[0], window.__renders > 1];",
                vec![second["embed_url"].clone()],
            )
            .await;
        assert_eq!(same, json!([1, 1, true, true, true]), "remounted instead of swapping in place");

        // A `theme` prop becomes setTheme (and re-rendering with the same URL swaps nothing).
        page.mark().await;
        page.host_script("window.__setTheme({ backgroundColor: '#101513', textColor: '#f7f9f7' });", vec![])
            .await;
        page.wait_in_frame(
            "the themed background",
            "return getComputedStyle(document.body).backgroundColor === 'rgb(16, 21, 19)';",
            vec![],
        )
        .await;
        let swaps =
            page.since_cursor().await.iter().filter(|e| e["data"]["type"] == "session-swapped").count();
        assert_eq!(swaps, 0, "a re-render with the same embedUrl swapped the session");

        // Unmounting destroys the embed: the iframe is gone.
        page.host_script("window.__unmount();", vec![]).await;
        let left = page.host_script("return document.querySelectorAll('iframe').length;", vec![]).await;
        assert_eq!(left, 0);

        strict_mode_and_a_late_url(&emban, &client, &host).await;
    })
    .await;
}

/// StrictMode (mount → unmount → mount) with `embedUrl` null at first: the container renders and
/// nothing throws; once the URL arrives exactly one iframe, one `message` listener and one
/// onMount (for the live instance) remain; `minHeight` and `title` apply live.
async fn strict_mode_and_a_late_url(emban: &Emban, client: &fantoccini::Client, host: &str) {
    let session = emban.mint_demo(host).await;
    let mut page = Page::open(client, &format!("{host}/strict")).await;
    page.wait_host("the StrictMode app", "return window.__rendered === true;", vec![]).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = page
        .host_script(
            "return [document.querySelectorAll('[data-emban-frame]').length,                      document.querySelectorAll('iframe').length, window.__mounts.length,                      window.__messageListeners, window.__pageErrors || []];",
            vec![],
        )
        .await;
    assert_eq!(before, json!([1, 0, 0, 0, []]), "with no embedUrl: the container only");
    page.host_script("window.__setEmbedUrl(arguments[0]);", vec![session["embed_url"].clone()]).await;
    page.wait_type("ready").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = page
        .host_script(
            "const frames = document.querySelectorAll('iframe');              return [frames.length, window.__mounts.length, window.__messageListeners,                      window.__mounts[0].iframe === frames[0] && frames[0].isConnected,                      window.__events.filter(e => e.data.type === 'ready').length, window.__pageErrors || []];",
            vec![],
        )
        .await;
    assert_eq!(
        after,
        json!([1, 1, 1, true, 1, []]),
        "[iframes, onMount calls, message listeners, live, readys, errors]"
    );

    page.host_script("window.__setMinHeight(1500); window.__setTitle('Live title');", vec![]).await;
    page.wait_host(
        "the live minHeight and title",
        "const f = document.querySelector('iframe');          return f.getBoundingClientRect().height >= 1500 && f.title === 'Live title';",
        vec![],
    )
    .await;
}
