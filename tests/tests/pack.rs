//! `@emban/embed-helper` as a frontend developer gets it: `npm pack` of `embed-helper/pkg`,
//! installed from the tarball (not the source folder) into a fresh project
//! (`tests/pack-fixture`, its registry dependencies from `npm ci` of the committed lock file),
//! then, with no bundler configuration:
//! - `tsc --noEmit` on a small typed consumer (`typed/consumer.tsx`: payloads, options, React
//!   props and `ref` typed; each `@ts-expect-error` a mistake the types must catch);
//! - `react-dom/server`'s `renderToString` in plain Node (`ssr.mjs`): both entries import
//!   without touching a browser API, and the frame renders its container and nothing else;
//! - a Vite build and an esbuild bundle of the same host script (`web/`), each mounting the
//!   demo dashboard in headless Chromium and awaiting a command's promise;
//! - a Next.js 15 App Router app (webpack 5), built offline with `next build` and served with
//!   `next start`: its server component page mints a session the guide's way against the real
//!   server and renders the guide's `<EmbanEmbedFrame embedUrl={embedUrl} containerStyle={{
//!   minHeight: 600 }} />` unchanged (`/`); `/driven` drives the frame through its `ref`;
//!   `/late` starts with no URL and mounts when the route handler's arrives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use emban_e2e::{Emban, Page, TempDir, WAIT, form_query, free_port, run_case, run_in, serve_dir};
use serde_json::Value;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pack-fixture")
}

/// Packs the helper, installs the tarball into the fixture, then type-checks, bundles and
/// builds every consumer. Returns the server-rendering output of `ssr.mjs`.
fn prepare() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pkg = root.join("../embed-helper/pkg");
    assert!(pkg.join("api.js").is_file(), "{} is not built: run scripts/build-helper.sh", pkg.display());
    let dir = fixture();
    if !dir.join("node_modules/next").is_dir() || !dir.join("node_modules/vite").is_dir() {
        run_in(&dir, "npm", &["ci", "--no-audit", "--no-fund", "--loglevel=error"], &[]);
    }
    let packed = TempDir::new("npm-pack");
    let dest = packed.0.display().to_string();
    let name = run_in(&pkg, "npm", &["pack", "--silent", "--pack-destination", &dest], &[]);
    let tarball = packed.0.join(name.trim());
    assert!(tarball.is_file(), "npm pack wrote no {}", tarball.display());
    let tarball = tarball.display().to_string();
    run_in(
        &dir,
        "npm",
        &["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", &tarball],
        &[],
    );
    let installed = dir.join("node_modules/@emban/embed-helper");
    assert!(
        std::fs::symlink_metadata(&installed).is_ok_and(|m| !m.file_type().is_symlink()),
        "the package must be installed from the tarball, not linked to the source folder"
    );

    run_in(&dir, "node_modules/.bin/tsc", &["--noEmit", "-p", "typed"], &[]);
    let ssr = run_in(&dir, "node", &["ssr.mjs", "https://emban.example/embed/d?token=t"], &[]);
    let _ = std::fs::remove_dir_all(dir.join("dist"));
    run_in(
        &dir,
        "node_modules/.bin/vite",
        &["build", "web", "--outDir", "../dist/vite", "--emptyOutDir", "--logLevel", "warn"],
        &[],
    );
    run_in(
        &dir,
        "node_modules/.bin/esbuild",
        &["web/host.js", "--bundle", "--format=esm", "--outdir=dist/esbuild", "--log-level=warning"],
        &[],
    );
    // esbuild leaves `new URL('./embed_helper_bg.wasm', import.meta.url)` alone: the wasm is
    // served next to the bundle (the package README says so).
    std::fs::copy(installed.join("embed_helper_bg.wasm"), dir.join("dist/esbuild/embed_helper_bg.wasm"))
        .unwrap();
    std::fs::copy(dir.join("web/index.html"), dir.join("dist/esbuild/index.html")).unwrap();
    let next = run_in(&dir, "node_modules/.bin/next", &["build"], &[("NEXT_TELEMETRY_DISABLED", "1")]);
    assert!(!next.contains("topLevelAwait"), "next build warned about the package:\n{next}");
    serde_json::from_str(ssr.trim()).unwrap_or_else(|e| panic!("ssr.mjs printed {ssr}: {e}"))
}

/// `next start` on a free loopback port; killed when dropped.
struct NextServer {
    child: Child,
    origin: String,
}

impl NextServer {
    async fn start(emban: &Emban) -> NextServer {
        let port = free_port();
        let child = Command::new(fixture().join("node_modules/.bin/next"))
            .args(["start", "-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(fixture())
            .env("NEXT_TELEMETRY_DISABLED", "1")
            .env("EMBAN_URL", &emban.origin)
            .env("EMBAN_ADMIN_KEY", &emban.admin_key)
            .env("EMBAN_DASHBOARD", &emban.demo_dashboard)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting next start");
        let mut server = NextServer { child, origin: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("next start exited: {status}");
            }
            assert!(started.elapsed() < WAIT, "next start did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.origin = format!("http://127.0.0.1:{port}");
        server
    }
}

impl Drop for NextServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits in the frame until the runtime posted `ready` and rendered the dashboard.
async fn dashboard_ready(page: &Page) {
    page.wait_in_frame(
        "the runtime's ready and its dashboard",
        "return performance.getEntriesByName('emban:ready').length > 0 \
         && document.querySelector('[data-testid=period-select]') !== null;",
        vec![],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn package_from_its_tarball_in_next_vite_esbuild_node_and_tsc() {
    let started = Instant::now();
    let ssr = tokio::task::spawn_blocking(prepare).await.expect("preparing the fixture");
    eprintln!("[{:>5.1}s] fixture prepared", started.elapsed().as_secs_f64());
    assert_eq!(ssr["empty"], r#"<div data-emban-frame=""></div>"#, "{ssr}");
    assert_eq!(
        ssr["styled"], r#"<div style="min-height:600px" class="a" data-emban-frame=""></div>"#,
        "{ssr}"
    );
    assert!(ssr["mount"].as_str().unwrap().contains("needs a browser"), "{ssr}");

    let emban = Emban::start().await;
    let next = NextServer::start(&emban).await;
    let (vite, esbuild) =
        tokio::join!(serve_dir(fixture().join("dist/vite")), serve_dir(fixture().join("dist/esbuild")));
    let next_origin = next.origin.clone();
    run_case(emban, |emban, client| async move {
        // Server rendering: the container and nothing else (no iframe before hydration).
        let html = reqwest::get(format!("{next_origin}/")).await.unwrap().text().await.unwrap();
        assert!(html.contains(r#"<div style="min-height:600px" data-emban-frame="">"#), "{html}");
        assert!(!html.contains("<iframe"), "server rendering produced an iframe: {html}");

        // `/`: the guide's component hydrates and mounts; the dashboard becomes ready; a command
        // (posted to the guide component's iframe) applies.
        let page = Page::open(&client, &format!("{next_origin}/")).await;
        page.wait_host(
            "the guide component's iframe",
            "return document.querySelectorAll('[data-emban-frame] iframe').length === 1;",
            vec![],
        )
        .await;
        dashboard_ready(&page).await;
        page.host_script(
            "const f = document.querySelector('[data-emban-frame] iframe'); \
             f.contentWindow.postMessage({ _emban: true, type: 'setFilters', filters: { period: '7d' } }, \
             new URL(f.src).origin);",
            vec![],
        )
        .await;
        page.wait_in_frame(
            "period 7d after setFilters",
            "return document.querySelector('[data-testid=period-select]').value === '7d';",
            vec![],
        )
        .await;

        // `/driven`: the helper instance through `ref`; commands resolve and reject.
        let mut page = Page::open(&client, &format!("{next_origin}/driven")).await;
        let ready = page.wait_type("ready").await;
        assert_eq!(ready["data"]["dashboardId"], emban.demo_dashboard.as_str(), "{ready}");
        let result = page
            .wait_host(
                "setFilters through the ref",
                "if (!window.__result) { window.__result = 'pending'; \
                   const embed = window.__ref(); \
                   embed.setFilters({ period: '7d', dimensions: { model: 'gpt-4' } }).then( \
                     (e) => embed.setFilters({ dimensions: { plan: 'pro' } }).then( \
                       () => { window.__result = ['resolved?', e]; }, \
                       (err) => { window.__result = [e, err.code, err.message, embed === window.__embed, \
                                                     window.__mounts, embed.getState()]; }), \
                     (err) => { window.__result = ['rejected', err.message]; }); } \
                 return window.__result !== 'pending' && window.__result;",
                vec![],
            )
            .await;
        assert_eq!(result[0]["type"], "filter", "{result}");
        assert_eq!(result[0]["period"], "7d", "{result}");
        assert_eq!(result[0]["filters"]["model"], "gpt-4", "{result}");
        assert_eq!(result[1], "filter_refused", "{result}");
        assert!(result[2].as_str().unwrap().contains("dimension plan is not allowed"), "{result}");
        assert_eq!(result[3], true, "ref and onMount hand over the same instance: {result}");
        assert_eq!(result[4], 1, "{result}");
        assert_eq!(result[5]["period"], "7d", "getState after the refusal: {result}");

        // `/late`: no URL at first (container only, no throw), mounts when the URL arrives.
        let page = Page::open(&client, &format!("{next_origin}/late")).await;
        page.wait_host("hydration", "return window.__hydrated === true;", vec![]).await;
        let frames = page.host_script("return document.querySelectorAll('iframe').length;", vec![]).await;
        assert_eq!(frames, 0);
        page.host_script("window.__load();", vec![]).await;
        let id = page.wait_host("ready after the URL arrived", "return window.__ready;", vec![]).await;
        assert_eq!(id, emban.demo_dashboard.as_str());

        // Vite and esbuild: the plain helper, bundled; mounted, ready, a command's promise.
        for (bundler, origin) in [("vite", &vite), ("esbuild", &esbuild)] {
            let session = emban.mint_demo(origin).await;
            let url =
                format!("{origin}/?{}", form_query(&[("embed", session["embed_url"].as_str().unwrap())]));
            let mut page = Page::open(&client, &url).await;
            page.wait_type("ready").await;
            let applied = page.wait_host(bundler, "return window.__applied;", vec![]).await;
            assert_eq!(applied, "7d", "{bundler}: {applied}");
        }
    })
    .await;
    drop(next);
}
