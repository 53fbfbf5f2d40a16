//! Who may frame an embed, end to end in headless Chromium (issue 10).
//!
//! 1. The guide's flow, unchanged: `getEmbedUrl` exactly as `node-backend-guide.txt` writes it
//!    (run by Node against this server) sends no `allowed_origins`; the org has no list either,
//!    so a host page on another origin (the customer's app) frames it, gets `ready`, and every
//!    reference command is answered, at its own origin only.
//! 2. With an org list (`PATCH /v1/settings/org`): a page on a listed origin works; a page on an
//!    unlisted one is refused by `frame-ancestors` (no event at all), and a frame on an unlisted
//!    origin inside the listed page cannot drive the embed (the runtime's own check).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{process::Command, time::Duration};

use emban_e2e::{Emban, HostPages, Page, TempDir, run_case};
use reqwest::Method;
use serde_json::{Value, json};

/// `getEmbedUrl` from `../shared/reference/node-backend-guide.txt`, byte for byte; only the two
/// constants it reads come from the environment, as a self-hosting user's would.
const GUIDE_GET_EMBED_URL: &str = r#"async function getEmbedUrl(tenantId, dashboardId) {
  const res = await fetch(`${EMBAN_URL}/v1/embed-sessions`, {
    method: 'POST',
    headers: { 'Authorization': `Bearer ${EMBAN_ADMIN_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      tenant_id: tenantId,
      dashboard_id: dashboardId,
      expires_in: 3600,
      permissions: {
        allow_drill_down: true,
        allowed_dimensions: ['model', 'endpoint']
      }
    })
  });
  const { embed_url } = await res.json();
  return embed_url;
}"#;

/// Runs the guide's function in Node; returns the `embed_url` it answers.
fn guide_embed_url(emban: &Emban, dashboard: &str) -> String {
    let dir = TempDir::new("guide");
    let script = dir.0.join("guide.mjs");
    let program = format!(
        "const EMBAN_ADMIN_KEY = process.env.EMBAN_ADMIN_KEY;\n\
         const EMBAN_URL = process.env.EMBAN_URL;\n\n\
         {GUIDE_GET_EMBED_URL}\n\n\
         console.log(await getEmbedUrl('demo_workspace', process.argv[2]));\n"
    );
    std::fs::write(&script, program).unwrap();
    let out = Command::new("node")
        .arg(&script)
        .arg(dashboard)
        .env("EMBAN_ADMIN_KEY", &emban.admin_key)
        .env("EMBAN_URL", &emban.origin)
        .output()
        .expect("running node (installed by scripts/setup.sh)");
    assert!(out.status.success(), "node: {}", String::from_utf8_lossy(&out.stderr));
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(url.starts_with(&format!("{}/embed/", emban.origin)), "the guide's code answered {url:?}");
    url
}

async fn csp_of(url: &str) -> String {
    let response = reqwest::get(url).await.expect("GET the embed page");
    let csp = response.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("");
    csp.split("; ").find(|d| d.starts_with("frame-ancestors")).unwrap_or_default().to_owned()
}

/// Every reference command, answered: `setFilters` → `filter`, a refused one → `error`,
/// `setTheme` → the frame's CSS variable, `reload` → `filter` again. Every event comes from the
/// embed at the embed's origin, addressed to this page (it would not arrive otherwise).
async fn drive(page: &mut Page, emban: &Emban) {
    let ready = page.wait_type("ready").await;
    assert_eq!(ready["origin"], emban.origin.as_str(), "{ready}");
    assert_eq!(ready["fromEmbed"], true);
    assert_eq!(ready["data"]["commands"], json!(["setFilters", "setTheme", "reload"]));
    page.wait_type("filter").await;

    page.mark().await;
    page.post(json!({"_emban": true, "type": "setFilters", "filters": {"period": "7d", "dimensions": {"model": "gpt-4"}}}))
        .await;
    let filter = page.wait_type("filter").await;
    assert_eq!(filter["data"]["period"], "7d", "{filter}");
    assert_eq!(filter["data"]["filters"], json!({"model": "gpt-4"}), "{filter}");

    page.post(json!({"_emban": true, "type": "setFilters", "filters": {"dimensions": {"plan": "pro"}}}))
        .await;
    let refused =
        page.wait_event("filter_refused", |d| d["type"] == "error" && d["code"] == "filter_refused").await;
    assert!(refused["data"]["message"].as_str().unwrap_or_default().contains("plan"), "{refused}");

    page.post(json!({"_emban": true, "type": "setTheme", "theme": {"primaryColor": "#0f9d58"}})).await;
    page.wait_in_frame(
        "setTheme to apply",
        "return getComputedStyle(document.documentElement).getPropertyValue('--emban-primary').trim() === '#0f9d58';",
        vec![],
    )
    .await;

    page.mark().await;
    page.post(json!({"_emban": true, "type": "reload"})).await;
    let filter = page.wait_type("filter").await;
    assert_eq!(filter["data"]["period"], "7d", "reload keeps the state: {filter}");
    for event in page.events().await {
        assert_eq!(event["origin"], emban.origin.as_str(), "{event}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_frame_an_embed() {
    let (emban, host) = tokio::join!(Emban::start(), HostPages::start());
    run_case(emban, move |emban, client| async move {
        let dashboard = emban.demo_dashboard.clone();

        // 1. The guide's code, unchanged, and the customer's app on its own origin.
        let embed_url = guide_embed_url(&emban, &dashboard);
        assert_eq!(csp_of(&embed_url).await, "frame-ancestors *");
        let mut page = Page::open(&client, &host.url(&embed_url, false)).await;
        drive(&mut page, &emban).await;

        // 2. The org restricts framing to the host page's origin.
        let settings = emban
            .admin(
                Method::PATCH,
                "/v1/settings/org",
                Some(json!({"embedding": {"allowed_origins": [host.origin]}})),
                200,
            )
            .await;
        assert_eq!(settings["embedding"]["allowed_origins"], json!([host.origin]));
        // The same session (minted before the change) now answers the org's list.
        assert_eq!(csp_of(&embed_url).await, format!("frame-ancestors {}", host.origin));
        let embed_url = guide_embed_url(&emban, &dashboard);

        // A page on an unlisted origin (the foreign server serves the same host page): the
        // browser refuses to frame it, so nothing at all arrives.
        let unlisted =
            format!("{}/host?{}", host.foreign_origin, emban_e2e::form_query(&[("embed", &embed_url)]));
        let page = Page::open(&client, &unlisted).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let events = page.events().await;
        assert!(
            events.iter().all(|e| e["fromEmbed"] != true),
            "an unlisted origin heard from the embed: {events:?}"
        );

        // The listed origin works, and a frame on an unlisted origin inside it cannot drive the
        // embed: its setFilters is dropped by the runtime, the host's own is answered.
        let mut page = Page::open(&client, &host.url(&embed_url, true)).await;
        page.wait_type("ready").await;
        page.wait_type("filter").await;
        page.mark().await;
        page.host_script(
            "window.__foreign(arguments[0]);",
            vec![json!({"_emban": true, "type": "setFilters", "filters": {"period": "7d"}})],
        )
        .await;
        page.wait_host(
            "the foreign frame's forward",
            "return window.__events.some((e) => e.data && e.data.forwarded);",
            vec![],
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let heard: Vec<Value> = page.since_cursor().await;
        assert!(
            !heard.iter().any(|e| e["data"]["type"] == "filter"),
            "the embed obeyed a frame on an unlisted origin: {heard:?}"
        );
        page.mark().await;
        page.post(json!({"_emban": true, "type": "setFilters", "filters": {"period": "7d"}})).await;
        let filter = page.wait_type("filter").await;
        assert_eq!(filter["data"]["period"], "7d");

        // Lifting the list lets any page frame the org's embeds again.
        emban
            .admin(
                Method::PATCH,
                "/v1/settings/org",
                Some(json!({"embedding": {"allowed_origins": []}})),
                200,
            )
            .await;
        assert_eq!(csp_of(&embed_url).await, "frame-ancestors *");
    })
    .await;
}
