//! Fixtures of the end-to-end tests (`tests/embed.rs`): the real server in this process with the
//! built embed runtime, a host page served from another origin (and a foreign page from a third),
//! and headless Chromium driven over WebDriver by `fantoccini`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use emban_host_server::{RunningServer, config::ServeArgs, start};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long any wait for the browser lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// The built runtime, `<workspace>/dist`.
pub fn dist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("dist")
}

/// Fails (never skips) when the runtime has not been built.
pub fn require_dist() -> PathBuf {
    let dist = dist_dir();
    let index = dist.join("index.html");
    assert!(
        index.is_file(),
        "{} does not exist: the embed runtime is not built. Run scripts/test.sh (it builds it with \
         Trunk), or `source scripts/setup.sh && setup_browser && build_runtime`, then run these tests again.",
        index.display()
    );
    dist
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "emban-e2e-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback port (bound, read and released; good enough for a child process to take).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("local addr").port()
}

/// The server, started in this process with the demo org and the built runtime.
pub struct Emban {
    /// The running server.
    pub server: RunningServer,
    /// `http://127.0.0.1:port`: the embed's origin.
    pub origin: String,
    /// The demo org's admin key.
    pub admin_key: String,
    /// The demo org's published dashboard.
    pub demo_dashboard: String,
    http: reqwest::Client,
    _data: TempDir,
}

impl Emban {
    /// Starts the server on `127.0.0.1:0` over a fresh data dir, seeding the demo org.
    pub async fn start() -> Emban {
        let runtime_dir = require_dist();
        let data = TempDir::new("data");
        let mut args = ServeArgs::for_data_dir(&data.0);
        args.demo = true;
        args.runtime_dir = runtime_dir;
        let server = start(args).await.expect("starting the server");
        let origin = server.url();
        let credentials = std::fs::read_to_string(data.0.join("demo-credentials.txt"))
            .expect("the demo seed writes demo-credentials.txt");
        let admin_key = credentials
            .lines()
            .find_map(|l| l.trim().strip_prefix("admin key:"))
            .expect("an admin key in demo-credentials.txt")
            .trim()
            .to_owned();
        let http = reqwest::Client::new();
        let demo: Value = http
            .get(format!("{origin}/v1/demo/embed-url"))
            .send()
            .await
            .expect("GET /v1/demo/embed-url")
            .json()
            .await
            .expect("demo embed-url JSON");
        let embed_url = demo["embed_url"].as_str().expect("embed_url");
        let demo_dashboard = embed_url
            .split("/embed/")
            .nth(1)
            .and_then(|rest| rest.split('?').next())
            .expect("a dashboard id in the demo embed_url")
            .to_owned();
        Emban { server, origin, admin_key, demo_dashboard, http, _data: data }
    }

    /// `method path` with the admin key; asserts `status` and returns the JSON body (`null` when
    /// empty).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let mut request =
            self.http.request(method.clone(), format!("{}{path}", self.origin)).bearer_auth(&self.admin_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let got = response.status().as_u16();
        let text = response.text().await.expect("response body");
        assert_eq!(got, status, "{method} {path}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") }
    }

    /// Mints an embed session (`POST /v1/embed-sessions`); returns `{token, embed_url, expires_at}`.
    pub async fn mint(&self, body: Value) -> Value {
        self.admin(reqwest::Method::POST, "/v1/embed-sessions", Some(body), 201).await
    }

    /// Mints a session of the demo dashboard for the demo tenant, framed by `origin`, with the
    /// default permissions.
    pub async fn mint_demo(&self, origin: &str) -> Value {
        self.mint(json!({
            "tenant_id": "demo_workspace",
            "dashboard_id": self.demo_dashboard,
            "allowed_origins": [origin],
        }))
        .await
    }
}

/// The host page (on one origin) and the foreign page (on another), served by a tiny axum app.
pub struct HostPages {
    /// `http://127.0.0.1:port` of the host page.
    pub origin: String,
    /// `http://127.0.0.1:port` of the foreign page: a third origin.
    pub foreign_origin: String,
}

/// Records every `message` event into `window.__events` (with its origin, and whether it came
/// from the embed's window), frames `?embed=` in `#embed` (frame 0; `?width=` px wide, 1000 by
/// default) and, when given, `?foreign=` in `#foreign` (frame 1). `__post(msg)` posts to the embed at its origin; `__foreign(msg)` asks
/// the foreign frame to post `msg` to the embed itself.
const HOST_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Emban host page</title></head>
<body style="margin:0">
<script>
window.__events = [];
const params = new URLSearchParams(location.search);
const src = params.get('embed');
const foreign = params.get('foreign');
const embedOrigin = new URL(src).origin;
window.addEventListener('message', (e) => {
  const embed = document.getElementById('embed');
  let data;
  try { data = JSON.parse(JSON.stringify(e.data)); } catch (_) { data = String(e.data); }
  window.__events.push({ origin: e.origin, fromEmbed: !!embed && e.source === embed.contentWindow, data });
});
window.__post = (msg) => document.getElementById('embed').contentWindow.postMessage(msg, embedOrigin);
window.__foreign = (msg) =>
  document.getElementById('foreign').contentWindow.postMessage(msg, new URL(foreign).origin);
const frame = document.createElement('iframe');
frame.id = 'embed';
frame.name = 'embed';
frame.src = src;
frame.style.cssText = `display:block;border:0;width:${Number(params.get('width')) || 1000}px;height:700px`;
document.body.appendChild(frame);
if (foreign) {
  const other = document.createElement('iframe');
  other.id = 'foreign';
  other.src = foreign;
  other.style.cssText = 'display:block;border:0;width:20px;height:20px';
  document.body.appendChild(other);
}
</script>
</body></html>"#;

/// Forwards what its parent sends it to the parent's first frame (the embed): a sibling frame on
/// an origin the session does not allow, trying to drive the embed. Acknowledges each forward.
const FOREIGN_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Foreign</title></head><body>
<script>
window.addEventListener('message', (e) => {
  if (e.source !== parent) return;
  parent.frames[0].postMessage(e.data, '*');
  parent.postMessage({ forwarded: true }, '*');
});
</script>
</body></html>"#;

impl HostPages {
    /// Serves both pages, each on its own loopback port.
    pub async fn start() -> HostPages {
        use axum::{Router, response::Html, routing::get};
        let app = Router::new()
            .route("/host", get(|| async { Html(HOST_PAGE) }))
            .route("/foreign", get(|| async { Html(FOREIGN_PAGE) }));
        let mut origins = Vec::new();
        for _ in 0..2 {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the host page");
            origins.push(format!("http://{}", listener.local_addr().expect("local addr")));
            tokio::spawn(axum::serve(listener, app.clone()).into_future());
        }
        let foreign_origin = origins.pop().expect("two origins");
        let origin = origins.pop().expect("two origins");
        HostPages { origin, foreign_origin }
    }

    /// The host page framing `embed_url` (and the foreign page, when asked).
    pub fn url(&self, embed_url: &str, with_foreign: bool) -> String {
        self.url_with_width(embed_url, with_foreign, 1000)
    }

    /// [`HostPages::url`] with the embed's iframe `width` CSS pixels wide.
    pub fn url_with_width(&self, embed_url: &str, with_foreign: bool, width: u32) -> String {
        let mut query = form_query(&[("embed", embed_url), ("width", &width.to_string())]);
        if with_foreign {
            query.push('&');
            query.push_str(&form_query(&[("foreign", &format!("{}/foreign", self.foreign_origin))]));
        }
        format!("{}/host?{query}", self.origin)
    }
}

/// Serves fixed files on a fresh loopback port (a host page of its own origin); returns the
/// origin. Each entry is `(path, content type, body)`.
pub async fn serve_static(files: Vec<(&'static str, &'static str, Vec<u8>)>) -> String {
    use axum::{Router, http::header, routing::get};
    let mut app = Router::new();
    for (path, content_type, body) in files {
        app = app.route(path, get(move || async move { ([(header::CONTENT_TYPE, content_type)], body) }));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding a page server");
    let origin = format!("http://{}", listener.local_addr().expect("local addr"));
    tokio::spawn(axum::serve(listener, app).into_future());
    origin
}

/// Serves the files under `dir` (a bundler's output) on a fresh loopback port, `/` being
/// `index.html`; returns the origin.
pub async fn serve_dir(dir: PathBuf) -> String {
    use axum::{Router, http::StatusCode, http::Uri, http::header, response::IntoResponse};
    let app = Router::new().fallback(move |uri: Uri| {
        let dir = dir.clone();
        async move {
            let path = uri.path().trim_start_matches('/');
            let path = if path.is_empty() { "index.html" } else { path };
            if path.split('/').any(|part| part == "..") {
                return StatusCode::BAD_REQUEST.into_response();
            }
            let kind = match path.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js" | "mjs") => "text/javascript",
                Some("wasm") => "application/wasm",
                Some("css") => "text/css",
                _ => "application/octet-stream",
            };
            match tokio::fs::read(dir.join(path)).await {
                Ok(body) => ([(header::CONTENT_TYPE, kind)], body).into_response(),
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding a page server");
    let origin = format!("http://{}", listener.local_addr().expect("local addr"));
    tokio::spawn(axum::serve(listener, app).into_future());
    origin
}

/// Runs `program args` in `dir` with `envs`; panics with its output when it fails. Returns stdout.
pub fn run_in(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let started = Instant::now();
    let out = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("running {program} {args:?} in {}: {e} (is Node.js installed?)", dir.display())
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{program} {args:?} in {} failed ({}):\n{stdout}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("[{:>5.1}s] {program} {}", started.elapsed().as_secs_f64(), args.join(" "));
    stdout
}

/// `k=v&…`, form-encoded.
pub fn form_query(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("url");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

/// chromedriver (started here on a free port) and one Chromium session over a fresh profile.
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
    _profile: TempDir,
}

impl Browser {
    /// Starts `$CHROMEDRIVER` (default `/usr/bin/chromedriver`) and a headless `$CHROME_BIN`
    /// (default `/usr/bin/chromium`).
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// [`Browser::start`] with more Chromium flags (`--js-flags=--expose-gc`, say).
    pub async fn start_with(extra_args: &[&str]) -> Browser {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chrome_bin = std::env::var("CHROME_BIN").unwrap_or_else(|_| "/usr/bin/chromium".into());
        for bin in [&driver_bin, &chrome_bin] {
            assert!(Path::new(bin).exists(), "{bin} is missing: run scripts/setup.sh (setup_browser)");
        }
        let port = free_port();
        let mut driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {driver_bin}: {e}"));
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = driver.try_wait() {
                panic!("{driver_bin} exited at start: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(20), "{driver_bin} did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = TempDir::new("chromium-profile");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--window-size=1280,1000",
        ]
        .iter()
        .chain(extra_args)
        .map(|a| (*a).to_owned())
        .collect();
        args.push(format!("--user-data-dir={}", profile.0.display()));
        caps.insert("goog:chromeOptions".into(), json!({ "binary": chrome_bin, "args": args }));
        let client = match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => client,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                panic!("starting a Chromium session through {driver_bin}: {e}");
            }
        };
        Browser { client, driver, _profile: profile }
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Only the chromedriver this fixture started; a no-op once `close` reaped it.
        if let Ok(None) = self.driver.try_wait() {
            let _ = self.driver.kill();
            let _ = self.driver.wait();
        }
    }
}

/// The host page in the browser: its recorded events, read through a cursor so each wait
/// looks only at what arrived since the last match.
pub struct Page {
    /// The WebDriver session.
    pub client: Client,
    /// Index into `window.__events` of the first event not yet consumed.
    pub cursor: usize,
}

impl Page {
    /// Opens `url` (a host page) in the session.
    pub async fn open(client: &Client, url: &str) -> Page {
        client.goto(url).await.unwrap_or_else(|e| panic!("opening {url}: {e}"));
        Page { client: client.clone(), cursor: 0 }
    }

    /// Every recorded event: `{origin, fromEmbed, data}`.
    pub async fn events(&self) -> Vec<Value> {
        let value =
            self.client.execute("return window.__events || [];", vec![]).await.expect("reading events");
        value.as_array().cloned().unwrap_or_default()
    }

    /// Moves the cursor to the end: later waits see only newer events.
    pub async fn mark(&mut self) {
        self.cursor = self.events().await.len();
    }

    /// Events since the cursor, without consuming them.
    pub async fn since_cursor(&self) -> Vec<Value> {
        self.events().await.into_iter().skip(self.cursor).collect()
    }

    /// Waits for the first event after the cursor whose `data` matches; consumes it and
    /// everything before it. Fails after [`WAIT`] with the events seen.
    pub async fn wait_event(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let events = self.events().await;
            if let Some(i) = (self.cursor..events.len()).find(|&i| matches(&events[i]["data"])) {
                self.cursor = i + 1;
                return events[i].clone();
            }
            assert!(
                started.elapsed() < WAIT,
                "timed out waiting for {what}; events since the cursor: {:#}",
                json!(&events[self.cursor.min(events.len())..])
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an embed event of `kind` (`data.type`).
    pub async fn wait_type(&mut self, kind: &str) -> Value {
        self.wait_event(kind, |d| d["type"] == kind).await
    }

    /// Posts `message` from the host page to the embed, at the embed's origin.
    pub async fn post(&self, message: Value) {
        self.client
            .execute("window.__post(arguments[0]);", vec![message])
            .await
            .expect("posting to the embed");
    }

    /// Runs `script` in the host page.
    pub async fn host_script(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("host script {script}: {e}"))
    }

    /// Polls `script` in the host page until it returns something truthy; returns that.
    pub async fn wait_host(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let started = Instant::now();
        loop {
            let value = self.host_script(script, args.clone()).await;
            if truthy(&value) {
                return value;
            }
            assert!(
                started.elapsed() < WAIT,
                "timed out waiting in the host page for {what} (last: {value})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `script` inside the embed's frame (frame 0) and returns its result.
    pub async fn in_frame(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.enter_frame(0).await.expect("entering the embed frame");
        let result = self.client.execute(script, args).await;
        self.client.enter_parent_frame().await.expect("leaving the embed frame");
        result.unwrap_or_else(|e| panic!("frame script {script}: {e}"))
    }

    /// Waits until every widget rendered its first answer (the runtime's `emban:painted` mark).
    pub async fn wait_painted(&self) {
        self.wait_in_frame(
            "every widget's first answer",
            "return performance.getEntriesByName('emban:painted').length > 0;",
            vec![],
        )
        .await;
    }

    /// Polls `script` inside the frame until it returns something truthy; returns that.
    pub async fn wait_in_frame(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let started = Instant::now();
        loop {
            let value = self.in_frame(script, args.clone()).await;
            if truthy(&value) {
                return value;
            }
            assert!(started.elapsed() < WAIT, "timed out waiting in the frame for {what} (last: {value})");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks the first element matching `css` inside the embed's frame.
    pub async fn click_in_frame(&self, css: &str) {
        self.client.enter_frame(0).await.expect("entering the embed frame");
        let clicked = match self.client.find(fantoccini::Locator::Css(css)).await {
            Ok(element) => element.click().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        self.client.enter_parent_frame().await.expect("leaving the embed frame");
        clicked.unwrap_or_else(|e| panic!("clicking {css} in the embed: {e}"));
    }
}

/// JavaScript's truthiness of a WebDriver result (arrays and objects are truthy).
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Number(n) => n.as_f64() != Some(0.0),
        _ => true,
    }
}

/// Runs `case` against `emban` in a fresh [`Browser`], on a task of its own; then closes the
/// browser and stops the server whether the case passed or panicked, and re-raises its panic.
pub async fn run_case<F, Fut>(emban: Emban, case: F)
where
    F: FnOnce(std::sync::Arc<Emban>, Client) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    run_case_with(&[], emban, case).await;
}

/// [`run_case`] in a browser started with `chromium_args` as well.
pub async fn run_case_with<F, Fut>(chromium_args: &[&str], emban: Emban, case: F)
where
    F: FnOnce(std::sync::Arc<Emban>, Client) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let browser = Browser::start_with(chromium_args).await;
    let emban = std::sync::Arc::new(emban);
    let run = tokio::spawn(case(emban.clone(), browser.client.clone())).await;
    browser.close().await;
    if let Ok(emban) = std::sync::Arc::try_unwrap(emban) {
        let _ = emban.server.stop().await;
    }
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}
