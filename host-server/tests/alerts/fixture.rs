//! Fixtures: a real server per test on `127.0.0.1:0` over its own data dir, on a frozen clock
//! (`--test-clock`) that tests advance before driving the scheduler's ticks; a real webhook
//! receiver (axum on loopback) with scripted answers; Debian's aiosmtpd as the mail server.

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use axum::{body::Body, extract::Request, http::HeaderMap, response::Response};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use emban_host_server::{RunningServer, config::ServeArgs, server::scheduler, state::AppState};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

/// A directory under the temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join("emban-alerts-tests").join(format!(
            "{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub text: String,
    pub body: Value,
}

impl Resp {
    #[track_caller]
    pub fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        &self.body
    }

    /// Asserts a 400 whose message starts with `field:`; returns the message.
    #[track_caller]
    pub fn invalid(&self, field: &str) -> String {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "body: {}", self.text);
        assert_eq!(self.body["code"], "invalid_request", "{}", self.text);
        let message = self.body["error"].as_str().expect("message").to_owned();
        assert!(message.starts_with(&format!("{field}:")), "the error names {field}: {message}");
        message
    }
}

/// A server with its data dir, on a frozen clock.
pub struct TestApp {
    pub server: RunningServer,
    client: reqwest::Client,
    pub dir: TempDir,
}

/// A registered org: its admin key.
pub struct Org {
    pub key: String,
}

impl TestApp {
    /// A server whose clock is frozen at the real now.
    pub async fn spawn(configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        Self::start_in(TempDir::new(), "now".to_owned(), configure).await
    }

    async fn start_in(dir: TempDir, clock: String, configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let mut args = ServeArgs::for_data_dir(dir.path());
        args.test_clock = Some(clock);
        args.webhook_allow_cidrs = vec!["127.0.0.1/32".parse().expect("net")];
        configure(&mut args);
        let server = emban_host_server::start(args).await.expect("starting the server");
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        TestApp { server, client, dir }
    }

    /// Stops the server and starts another on the same data dir, its clock frozen at `at`.
    pub async fn restart_at(self, at: DateTime<Utc>, configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let TestApp { server, dir, .. } = self;
        server.stop().await.expect("stopping");
        Self::start_in(dir, at.to_rfc3339_opts(SecondsFormat::Micros, true), configure).await
    }

    pub fn state(&self) -> &AppState {
        &self.server.state
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.state().clock.now()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) -> DateTime<Utc> {
        self.state().clock.advance(by)
    }

    /// One scheduler tick; returns `(jobs run, webhook attempts)`.
    pub async fn tick(&self) -> (usize, usize) {
        let s = scheduler::tick(self.state()).await.expect("tick");
        (s.jobs, s.webhook_attempts)
    }

    pub async fn send(&self, method: Method, path: &str, key: &str, body: Option<&Value>) -> Resp {
        let mut request =
            self.client.request(method, format!("{}{path}", self.server.url())).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, text, body }
    }

    pub async fn get(&self, path: &str, key: &str) -> Resp {
        self.send(Method::GET, path, key, None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, key, Some(body)).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: &Value) -> Resp {
        self.send(Method::PATCH, path, key, Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Resp {
        self.send(Method::DELETE, path, key, None).await
    }

    /// Registers an org.
    pub async fn register(&self) -> Org {
        let email = format!("u-{}@example.com", uuid::Uuid::new_v4().simple());
        let resp = self
            .client
            .post(format!("{}/v1/auth/register", self.server.url()))
            .json(&json!({ "email": email, "password": "correct horse battery staple" }))
            .send()
            .await
            .expect("register");
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.expect("json");
        Org { key: body["api_key"]["key"].as_str().expect("key").to_owned() }
    }

    /// A published dashboard with a `calls` metric (count of `api.call`), a `tokens` metric
    /// (sum), an ungrouped `series` timeseries and a grouped `by_model` breakdown.
    pub async fn dashboard(&self, org: &Org) -> String {
        let w = |id: &str, kind: &str, query: Value, viz: &str, y: u32| {
            json!({ "id": id, "kind": kind, "title": format!("Widget {id}"), "query": query,
                    "viz": { "type": viz }, "layout": { "x": 0, "y": y, "w": 6, "h": 2 } })
        };
        let widgets = json!([
            w("calls", "metric", json!({ "event_name": "api.call", "metric": "count" }), "number", 0),
            w(
                "tokens",
                "metric",
                json!({ "event_name": "api.call", "metric": "sum", "numeric_prop": "tokens" }),
                "number",
                2
            ),
            w(
                "series",
                "timeseries",
                json!({ "event_name": "api.call", "metric": "count", "granularity": "hour" }),
                "line",
                4
            ),
            w(
                "by_model",
                "breakdown",
                json!({ "event_name": "api.call", "metric": "count", "group_by": "model" }),
                "bar",
                6
            ),
        ]);
        let resp =
            self.post("/v1/dashboards", &org.key, &json!({ "name": "Usage", "widgets": widgets })).await;
        let id = resp.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
        self.send(Method::POST, &format!("/v1/dashboards/{id}/publish"), &org.key, None)
            .await
            .ok(StatusCode::NO_CONTENT);
        id
    }

    /// Ingests `n` `api.call` events for `tenant`, `ago` before the frozen now.
    pub async fn calls(&self, org: &Org, tenant: &str, n: usize, ago: Duration) {
        let at = (self.now() - ago).to_rfc3339_opts(SecondsFormat::Millis, true);
        let events: Vec<Value> = (0..n)
            .map(|i| {
                json!({ "tenant_id": tenant, "event_name": "api.call", "timestamp": at,
                              "string_props": { "model": if i % 2 == 0 { "gpt-4" } else { "claude" } },
                              "numeric_props": { "tokens": 10 } })
            })
            .collect();
        self.post("/v1/events", &org.key, &json!({ "events": events })).await.ok(StatusCode::OK);
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Hit {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A scripted answer: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

/// A webhook receiver on loopback: records every request, answers from a script (then 200).
pub struct Receiver {
    pub base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let script: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let (h, s) = (hits.clone(), script.clone());
        let app = axum::Router::new().fallback(move |request: Request| {
            let (h, s) = (h.clone(), s.clone());
            async move {
                let path = request.uri().path().to_owned();
                let headers = request.headers().clone();
                let bytes = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap_or_default();
                h.lock().expect("hits").push(Hit {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                });
                let (status, extra, body) =
                    s.lock().expect("script").pop_front().unwrap_or((200, vec![], "thanks".into()));
                let mut response = Response::builder().status(status);
                for (k, v) in extra {
                    response = response.header(k, v);
                }
                response.body(Body::from(body)).expect("response")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { base, hits, script, task }
    }

    /// Queues answers for the next requests.
    pub fn answer(&self, answers: Vec<Answer>) {
        self.script.lock().expect("script").extend(answers);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Verifies a Standard Webhooks signature independently of the server: some `v1,` entry of the
/// header is the HMAC-SHA256 of `id.timestamp.body` under the base64 key of `secret`.
pub fn signed_by(hit: &Hit, secret: &str) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).expect("base64 key");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(
        format!("{}.{}.{}", hit.header("webhook-id"), hit.header("webhook-timestamp"), hit.body).as_bytes(),
    );
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    hit.header("webhook-signature").split(' ').any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

/// Debian's aiosmtpd on a free loopback port, keeping every message in a maildir.
pub struct Smtp {
    child: std::process::Child,
    pub port: u16,
    maildir: PathBuf,
}

impl Smtp {
    pub fn start(dir: &Path) -> Smtp {
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let maildir = dir.join("maildir");
        let child = std::process::Command::new("/usr/bin/python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .spawn()
            .expect("starting aiosmtpd (python3-aiosmtpd)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Smtp { child, port, maildir }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received, each parsed by Python's `email` package into JSON:
    /// `{to, subject, body, attachments: [{filename, content_type, content}]}` (a text attachment's
    /// content as text, a binary one's as base64).
    pub fn messages(&self) -> Vec<Value> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let parsed = std::process::Command::new("/usr/bin/python3")
                .args(["-c", PARSE_MAIL])
                .arg(entry.path())
                .output()
                .expect("python3");
            assert!(parsed.status.success(), "{}", String::from_utf8_lossy(&parsed.stderr));
            out.push(serde_json::from_slice(&parsed.stdout).expect("parsed mail"));
        }
        out
    }
}

const PARSE_MAIL: &str = r#"
import email, json, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
body = m.get_body(preferencelist=('plain',))
import base64
def content(p):
    c = p.get_content()
    return c if isinstance(c, str) else base64.b64encode(c).decode()
atts = [{'filename': p.get_filename(), 'content_type': p.get_content_type(), 'content': content(p)}
        for p in m.iter_attachments()]
print(json.dumps({'to': m['to'], 'subject': m['subject'], 'body': body.get_content() if body else '',
                  'attachments': atts}))
"#;

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python of the venv `setup_standardwebhooks` (scripts/setup.sh) makes, with PyPI's
/// `standardwebhooks`. The test fails, naming the fix, when the package is missing: the test
/// script installs it, so missing means a broken setup, not a reason to skip.
pub fn standardwebhooks_python() -> PathBuf {
    let python = std::env::var_os("EMBAN_STANDARDWEBHOOKS_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/emban-tools/standardwebhooks-venv/bin/python")
    });
    let import = std::process::Command::new(&python).args(["-c", "import standardwebhooks"]).output();
    let error = match &import {
        Ok(out) if out.status.success() => return python,
        Ok(out) => String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or_default().to_owned(),
        Err(e) => e.to_string(),
    };
    panic!(
        "PyPI's standardwebhooks cannot be imported with {} ({}): run \
         `source scripts/setup.sh && setup_standardwebhooks` (scripts/test.sh does)",
        python.display(),
        error.trim()
    );
}

const STANDARDWEBHOOKS_RECEIVER: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/alerts/standardwebhooks_receiver.py");

/// A webhook receiver in Python on a free loopback port that verifies every request with PyPI's
/// `standardwebhooks` (tests/alerts/standardwebhooks_receiver.py) against the secrets it is
/// given, answering 204 when all of them verify and 400 otherwise, and records each request.
pub struct VerifyingReceiver {
    pub base: String,
    python: PathBuf,
    child: std::process::Child,
    dir: TempDir,
}

impl VerifyingReceiver {
    pub async fn start() -> VerifyingReceiver {
        let python = standardwebhooks_python();
        let dir = TempDir::new();
        std::fs::write(dir.path().join("secrets"), "").expect("secrets file");
        let mut child = std::process::Command::new(&python)
            .arg(STANDARDWEBHOOKS_RECEIVER)
            .arg("serve")
            .arg(dir.path())
            .spawn()
            .expect("starting standardwebhooks_receiver.py");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let port = loop {
            if let Ok(port) = std::fs::read_to_string(dir.path().join("port")) {
                break port;
            }
            if let Some(status) = child.try_wait().expect("receiver status") {
                panic!("standardwebhooks_receiver.py exited: {status}");
            }
            assert!(std::time::Instant::now() < deadline, "standardwebhooks_receiver.py did not start");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        VerifyingReceiver { base: format!("http://127.0.0.1:{}", port.trim()), python, child, dir }
    }

    /// The secrets every later request must verify with.
    pub fn expect_secrets(&self, secrets: &[&str]) {
        std::fs::write(self.dir.path().join("secrets"), secrets.join("\n")).expect("secrets file");
    }

    /// The requests received: `{path, headers, body_b64, results}`, `results` one per expected
    /// secret, `"ok"` or the library's error.
    pub fn hits(&self) -> Vec<Value> {
        let Ok(text) = std::fs::read_to_string(self.dir.path().join("hits.jsonl")) else { return Vec::new() };
        text.lines().map(|l| serde_json::from_str(l).expect("a hit")).collect()
    }

    /// The body of a recorded request, parsed.
    pub fn body(hit: &Value) -> Value {
        let bytes = STANDARD.decode(hit["body_b64"].as_str().expect("body_b64")).expect("base64");
        serde_json::from_slice(&bytes).expect("a JSON body")
    }

    /// Verifies recorded request `index` again with `secret` in Python, as received and
    /// tampered with: `{"as_received", "tampered": {case: "ok" or the error}}`.
    pub fn check(&self, secret: &str, index: usize) -> Value {
        let out = std::process::Command::new(&self.python)
            .arg(STANDARDWEBHOOKS_RECEIVER)
            .arg("check")
            .arg(secret)
            .arg(self.dir.path().join("hits.jsonl"))
            .arg(index.to_string())
            .output()
            .expect("running standardwebhooks_receiver.py check");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("check's JSON")
    }
}

impl Drop for VerifyingReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
