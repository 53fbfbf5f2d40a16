//! Keyboard parity and the accessibility tree (issue 14), in headless Chromium against the real
//! server and the built runtime: the tree is read with the DevTools protocol
//! (`Accessibility.getFullAXTree`, sent through chromedriver's `goog/cdp/execute`), and drill,
//! clearing a chip and opening export are done with key presses only. The embed is opened as the
//! top-level page, so its tree is the page's (a cross-origin frame's tree lives in another
//! renderer process). A second session checks the German catalogue and `<html lang>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::http::Method;
use emban_e2e::{Emban, run_case, truthy};
use fantoccini::{Client, Locator, wd::WebDriverCompatibleCommand};
use reqwest::Url;
use serde_json::{Value, json};

/// A DevTools protocol command through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &Url, session: Option<&str>) -> Result<Url, <Url as std::str::FromStr>::Err> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

async fn cdp(client: &Client, cmd: &'static str, params: Value) -> Value {
    client.issue_cmd(Cdp { cmd, params }).await.unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

/// `(role, name)` of every node of the page's accessibility tree that is not ignored.
async fn ax_tree(client: &Client) -> Vec<(String, String)> {
    cdp(client, "Accessibility.enable", json!({})).await;
    let tree = cdp(client, "Accessibility.getFullAXTree", json!({})).await;
    tree["nodes"]
        .as_array()
        .expect("AX nodes")
        .iter()
        .filter(|n| n["ignored"] != true)
        .map(|n| {
            let text = |v: &Value| v["value"].as_str().unwrap_or_default().to_owned();
            (text(&n["role"]), text(&n["name"]))
        })
        .collect()
}

async fn wait_for(client: &Client, what: &str, script: &str) -> Value {
    let started = Instant::now();
    loop {
        let value = client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"));
        if truthy(&value) {
            return value;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what} (last: {value})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn press(client: &Client, css: &str, keys: &str) {
    let element = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    element.send_keys(keys).await.unwrap_or_else(|e| panic!("keys on {css}: {e}"));
    tokio::time::sleep(Duration::from_millis(150)).await;
}

const RIGHT: &str = "\u{E014}";
const ENTER: &str = "\u{E007}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_parity_and_the_accessibility_tree() {
    let emban = Emban::start().await;
    run_case(emban, |emban, client| async move {
        let session = emban
            .mint(json!({
                "tenant_id": "demo_workspace",
                "dashboard_id": emban.demo_dashboard,
                "permissions": { "allow_drill_down": true },
            }))
            .await;
        client.goto(session["embed_url"].as_str().unwrap()).await.unwrap();
        wait_for(&client, "the first paint", "return performance.getEntriesByName('emban:painted').length > 0;")
            .await;

        // A screen reader hears each chart's summary, the regions and the way to the data tables.
        let tree = ax_tree(&client).await;
        let has = |role: &str, name: &str| tree.iter().any(|(r, n)| r == role && n.contains(name));
        assert!(has("image", "Calls per day by model: "), "the time chart's summary: {tree:?}");
        assert!(has("image", "Calls by endpoint: "), "the breakdown's summary: {tree:?}");
        assert!(has("region", "Filters"), "{tree:?}");
        assert!(has("DisclosureTriangle", "Data table"), "a way to each chart's table: {tree:?}");
        assert!(has("DisclosureTriangle", "Export"), "the export menus: {tree:?}");
        assert!(has("table", "Tokens by plan"), "the table widget, named by its caption: {tree:?}");
        assert!(has("combobox", "Period"), "the period select, named by its label: {tree:?}");

        // Keyboard drill: focus the breakdown, walk to its first bar, Enter.
        let bars = "[data-testid=widget-calls_by_endpoint] [data-testid=chart-svg]";
        press(&client, bars, RIGHT).await;
        let tip = wait_for(
            &client,
            "a tooltip on the focused bar",
            "const t = document.querySelector('[data-testid=widget-calls_by_endpoint] [data-testid=tooltip]'); \
             return t && t.textContent;",
        )
        .await;
        assert!(tip.as_str().unwrap().contains(": "), "{tip}");
        let focus = client
            .execute("return document.activeElement.matches('[data-testid=chart-svg]:focus-visible');", vec![])
            .await
            .unwrap();
        assert_eq!(focus, true, "the focused chart shows its focus ring");
        press(&client, bars, ENTER).await;
        let chip = wait_for(
            &client,
            "the drill's chip",
            "const c = document.querySelector('[data-testid=chip]'); return c && c.dataset.dimension;",
        )
        .await;
        assert_eq!(chip, "endpoint");

        // Clear the chip from the keyboard.
        press(&client, "[data-testid=chip] [data-testid=chip-clear]", ENTER).await;
        wait_for(&client, "the chip cleared", "return !document.querySelector('[data-testid=chip]');").await;

        // Open a widget's export menu from the keyboard.
        let export = "[data-testid=widget-calls_by_model] [data-testid=export-open]";
        press(&client, export, ENTER).await;
        let open = client
            .execute(
                "return document.querySelector('[data-testid=widget-calls_by_model] [data-testid=export-menu]').open;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(open, true, "Enter opens the export menu");

        // A German session: the catalogue and the page language follow its locale.
        let german = emban
            .mint(json!({ "tenant_id": "demo_workspace", "dashboard_id": emban.demo_dashboard, "locale": "de-DE" }))
            .await;
        client.goto(german["embed_url"].as_str().unwrap()).await.unwrap();
        let said = wait_for(
            &client,
            "the German filter bar",
            "const bar = document.querySelector('[data-testid=filter-bar]'); \
             return bar && document.documentElement.lang + ' ' + bar.textContent;",
        )
        .await;
        let said = said.as_str().unwrap();
        assert!(said.starts_with("de-DE "), "{said}");
        assert!(said.contains("Zeitraum") && said.contains("Letzte 30 Tage"), "{said}");
    })
    .await;
}
