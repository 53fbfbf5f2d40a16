//! The live demo's raw-iframe page (`www/raw.html`, served at `/raw.html`) end to end: it mints
//! the demo session itself (`GET /v1/demo/embed-url`) and speaks the postMessage contract by
//! hand. Every command button is clicked and the page's live log checked for the events, with
//! their payloads.
//!
//! The page is opened on the server's own origin, as the demo is deployed: demo sessions name no
//! allowed origins, so the embed sends `frame-ancestors 'self'` and only its own origin may frame
//! it (from `http://localhost:<port>` the frame stays blank). The cross-origin raw-iframe path is
//! `embed.rs`'s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use emban_e2e::{Emban, Page, WAIT, run_case};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// The live log, oldest first: `{kind: 'in'|'out'|'err', label, payload}`.
const READ_LOG: &str = "return [...document.querySelectorAll('#log div')].reverse().map((d) => { \
    const t = d.textContent.slice(13); const i = t.indexOf(' {'); \
    return { kind: d.className, label: i < 0 ? t : t.slice(0, i), payload: i < 0 ? null : JSON.parse(t.slice(i + 1)) }; });";

/// The log, read through a cursor like the harness's `Page` events.
struct Log {
    cursor: usize,
}

impl Log {
    async fn entries(page: &Page) -> Vec<Value> {
        page.host_script(READ_LOG, vec![]).await.as_array().cloned().unwrap_or_default()
    }

    /// Waits for the first entry after the cursor with `label` whose payload matches; consumes
    /// it and everything before it.
    async fn wait(&mut self, page: &Page, label: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let entries = Log::entries(page).await;
            if let Some(i) = (self.cursor..entries.len())
                .find(|&i| entries[i]["label"] == label && matches(&entries[i]["payload"]))
            {
                self.cursor = i + 1;
                return entries[i]["payload"].clone();
            }
            assert!(
                started.elapsed() < WAIT,
                "timed out waiting for log entry {label:?}; entries since the cursor: {:#}",
                json!(&entries[self.cursor.min(entries.len())..])
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on raw.html: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_iframe_demo_page() {
    run_case(Emban::start().await, |emban, client| async move {
        let embed_origin = emban.origin.clone();
        let page = Page::open(&client, &format!("{embed_origin}/raw.html")).await;
        let mut log = Log { cursor: 0 };

        // ready from the embed's origin, then the initial filters.
        let ready = log.wait(&page, "← ready", |_| true).await;
        assert_eq!(ready["_emban"], true);
        assert_eq!(ready["dashboardId"], emban.demo_dashboard.as_str(), "{ready}");
        assert_eq!(ready["version"], 1);
        let src = page.host_script("return document.getElementById('embed').src;", vec![]).await;
        assert!(src.as_str().unwrap().starts_with(&format!("{embed_origin}/embed/")), "{src}");
        let initial = log.wait(&page, "← filter", |_| true).await;
        assert_eq!(initial["period"], "30d", "{initial}");

        // Period buttons: setFilters out; filter and period-change in.
        click(&client, "[data-period='7d']").await;
        let out = log.wait(&page, "→ postMessage", |_| true).await;
        assert_eq!(out, json!({"_emban": true, "type": "setFilters", "filters": {"period": "7d"}}));
        let filter = log.wait(&page, "← filter", |_| true).await;
        assert_eq!(filter["period"], "7d", "{filter}");
        let change = log.wait(&page, "← period-change", |_| true).await;
        assert_eq!((&change["previousPeriod"], &change["period"]), (&json!("30d"), &json!("7d")), "{change}");

        // Dimension buttons accumulate, then clear.
        click(&client, "[data-dim='model']").await;
        let filter = log.wait(&page, "← filter", |_| true).await;
        assert_eq!(filter["filters"], json!({"model": "gpt-4"}), "{filter}");
        assert_eq!(filter["period"], "7d", "{filter}");
        click(&client, "[data-dim='endpoint']").await;
        let filter = log.wait(&page, "← filter", |_| true).await;
        assert_eq!(filter["filters"], json!({"model": "gpt-4", "endpoint": "/chat"}), "{filter}");
        page.wait_in_frame(
            "both chips in the embed",
            "return document.querySelectorAll('[data-testid=chip][data-dimension]').length === 2;",
            vec![],
        )
        .await;
        click(&client, "[data-dim='']").await;
        let filter = log.wait(&page, "← filter", |_| true).await;
        assert_eq!(filter["filters"], json!({}), "{filter}");

        // Theme: sent, and the embed's background follows (dark: #0b1120).
        click(&client, "[data-theme='dark']").await;
        let out = log.wait(&page, "→ postMessage", |p| p["type"] == "setTheme").await;
        assert_eq!(out["theme"]["backgroundColor"], "#0b1120", "{out}");
        page.wait_in_frame(
            "the dark background",
            "return getComputedStyle(document.body).backgroundColor === 'rgb(11, 17, 32)';",
            vec![],
        )
        .await;

        // reload: the runtime refetches and reports its (kept) filters.
        click(&client, "[data-testid=reload]").await;
        log.wait(&page, "→ postMessage", |p| p == &json!({"_emban": true, "type": "reload"})).await;
        let filter = log.wait(&page, "← filter", |_| true).await;
        assert_eq!(filter["period"], "7d", "{filter}");

        // rotate: a new src, a new session (its own ready, default filters).
        let before = page.host_script("return document.getElementById('embed').src;", vec![]).await;
        click(&client, "[data-testid=rotate]").await;
        let ready = log.wait(&page, "← ready", |_| true).await;
        assert_eq!(ready["dashboardId"], emban.demo_dashboard.as_str(), "{ready}");
        let after = page.host_script("return document.getElementById('embed').src;", vec![]).await;
        assert_ne!(before, after, "rotate did not change the iframe's src");
        let filter = log.wait(&page, "← filter", |_| true).await;
        assert_eq!(filter["period"], "30d", "{filter}");

        // Sized from resize events, never below 400 px.
        page.wait_painted().await;
        let started = Instant::now();
        loop {
            let entries = Log::entries(&page).await;
            let last = entries.iter().rev().find(|e| e["label"] == "← resize").expect("a resize entry");
            let height = page
                .host_script(
                    "return document.getElementById('embed').getBoundingClientRect().height;",
                    vec![],
                )
                .await;
            let want = last["payload"]["height"].as_f64().unwrap().max(400.0);
            if height.as_f64() == Some(want) {
                break;
            }
            assert!(started.elapsed() < WAIT, "iframe height {height}, last resize {last}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        // No errors, and nothing logged as a failure.
        let entries = Log::entries(&page).await;
        assert!(
            !entries.iter().any(|e| e["label"] == "← error" || e["kind"] == "err"),
            "errors in the log: {entries:?}"
        );
    })
    .await;
}
