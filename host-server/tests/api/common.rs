//! Fixtures: a real server per test, started in this process on `127.0.0.1:0` over its own
//! temporary data dir (real SQLite and DuckDB files), and helpers that speak HTTP to it.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use emban_host_server::{RunningServer, config::ServeArgs, state::AppState};
use reqwest::{
    Method, RequestBuilder, StatusCode,
    header::{self, HeaderMap},
};
use serde_json::{Value, json};

use crate::model::{Event, batch};

/// A directory under `$TMPDIR/emban-api-tests`, removed when dropped.
///
/// A server still closing its stores when its test ends can recreate a file the removal just
/// deleted, leaving an empty directory behind; so each test process also sweeps away the
/// directories of processes that no longer run.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh, empty directory.
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        static SWEEP: std::sync::Once = std::sync::Once::new();
        let root = std::env::temp_dir().join("emban-api-tests");
        SWEEP.call_once(|| sweep_dead_processes(&root));
        let path = root.join(format!(
            "{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("creating the test data dir");
        TempDir { path }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes the directories of test processes that have exited.
fn sweep_dead_processes(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name.to_str().and_then(|n| n.split('-').next()).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// An HTTP client that never goes through a proxy.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("building the HTTP client")
}

/// A unique, valid email address.
pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <key>`.
    Key(String),
    /// `Cookie: emban_session=<token>` (the value is the whole `name=value` pair).
    Cookie(String),
    /// A raw `Authorization` header value, for malformed-header cases.
    Header(String),
}

impl Auth {
    /// Adds the credentials to a request.
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Key(key) => request.bearer_auth(key),
            Auth::Cookie(pair) => request.header(header::COOKIE, pair),
            Auth::Header(value) => request.header(header::AUTHORIZATION, value),
        }
    }
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`null` when empty or not JSON).
    pub body: Value,
}

impl Resp {
    /// Reads a response.
    pub async fn read(response: reqwest::Response) -> Resp {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("reading the response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, text, body }
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        &self.body
    }

    /// Asserts an error response: the status, and exactly the `{"error", "code"}` envelope with
    /// `code`. Returns the message.
    #[track_caller]
    pub fn error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        let object = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("error body is not a JSON object: {:?}", self.text));
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["code", "error"], "error envelope: {}", self.text);
        assert_eq!(self.body["code"], code, "error code; body: {}", self.text);
        let message = self.body["error"].as_str().expect("error message is a string").to_owned();
        assert!(!message.is_empty(), "empty error message");
        assert!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json")),
            "error content type: {:?}",
            self.headers.get(header::CONTENT_TYPE)
        );
        message
    }

    /// Every `Set-Cookie` header value.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().expect("ASCII Set-Cookie").to_owned())
            .collect()
    }

    /// The `emban_session=<token>` pair set by this response, ready for a `Cookie` header.
    #[track_caller]
    pub fn session_cookie(&self) -> String {
        let cookies = self.set_cookies();
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with("emban_session="))
            .unwrap_or_else(|| panic!("no emban_session cookie in {cookies:?}"));
        cookie.split(';').next().expect("cookie pair").trim().to_owned()
    }
}

/// A registered account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Login email.
    pub email: String,
    /// Password.
    pub password: String,
    /// The default admin key (production).
    pub admin_key: String,
    /// The `emban_session=<token>` pair from registration.
    pub cookie: String,
    /// The register response body.
    pub body: Value,
}

impl Account {
    /// The admin key as credentials.
    pub fn admin(&self) -> Auth {
        Auth::Key(self.admin_key.clone())
    }

    /// The session cookie as credentials.
    pub fn session(&self) -> Auth {
        Auth::Cookie(self.cookie.clone())
    }

    /// The org id.
    pub fn org_id(&self) -> i64 {
        self.body["org"]["id"].as_i64().expect("org id")
    }

    /// The user id.
    pub fn user_id(&self) -> i64 {
        self.body["user"]["id"].as_i64().expect("user id")
    }
}

/// A key just created through `POST /v1/api-keys`.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// Its id.
    pub id: i64,
    /// The key itself.
    pub key: String,
    /// The create response body.
    pub body: Value,
}

impl CreatedKey {
    /// The key as credentials.
    pub fn auth(&self) -> Auth {
        Auth::Key(self.key.clone())
    }
}

/// A server running in this test's process, with its data dir.
pub struct TestApp {
    // Field order is drop order: the server goes before its data dir.
    server: RunningServer,
    client: reqwest::Client,
    dir: TempDir,
}

impl TestApp {
    /// Starts a server with the test defaults (`127.0.0.1:0`, demo off).
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server with adjusted settings.
    pub async fn spawn_with(configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        Self::start_in(TempDir::new(), configure).await
    }

    async fn start_in(dir: TempDir, configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let mut args = ServeArgs::for_data_dir(dir.path());
        configure(&mut args);
        let server = emban_host_server::start(args).await.expect("starting the server");
        TestApp { server, client: http_client(), dir }
    }

    /// Stops the server gracefully and starts a new one on the same data dir.
    pub async fn restart(self) -> TestApp {
        let TestApp { server, dir, .. } = self;
        server.stop().await.expect("stopping the server");
        Self::start_in(dir, |_| {}).await
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// The server's state (its stores), for setting up what HTTP cannot, such as an expired
    /// session.
    pub fn state(&self) -> &AppState {
        &self.server.state
    }

    /// A request to `path` with credentials. A cookie request says it comes from the server's
    /// own origin, as a browser on the server's pages does.
    pub fn request(&self, method: Method, path: &str, auth: &Auth) -> RequestBuilder {
        let request = self.request_without_origin(method, path, auth);
        match auth {
            Auth::Cookie(_) => request.header(header::ORIGIN, self.server.url()),
            _ => request,
        }
    }

    /// A request to `path` with credentials and no `Origin`, as a non-browser client sends it.
    pub fn request_without_origin(&self, method: Method, path: &str, auth: &Auth) -> RequestBuilder {
        auth.apply(self.client.request(method, self.url(path)))
    }

    /// Sends a request and reads the response.
    pub async fn send(&self, request: RequestBuilder) -> Resp {
        Resp::read(request.send().await.expect("sending the request")).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.send(self.request(Method::GET, path, auth)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, auth: &Auth) -> Resp {
        self.send(self.request(Method::DELETE, path, auth)).await
    }

    /// `POST path` with a JSON body (and `Content-Type: application/json`).
    pub async fn post_json(&self, path: &str, auth: &Auth, body: &Value) -> Resp {
        self.send(self.request(Method::POST, path, auth).json(body)).await
    }

    /// `POST path` with a raw body and an optional content type.
    pub async fn post_raw(
        &self,
        path: &str,
        auth: &Auth,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Resp {
        let mut request = self.request(Method::POST, path, auth).body(body);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(request).await
    }

    /// Registers a new account with a unique email, asserting the 201.
    pub async fn register(&self) -> Account {
        let email = unique_email();
        let password = "correct horse battery staple".to_owned();
        let resp = self
            .post_json("/v1/auth/register", &Auth::None, &json!({ "email": email, "password": password }))
            .await;
        let body = resp.ok(StatusCode::CREATED).clone();
        let admin_key = body["api_key"]["key"].as_str().expect("register returns the admin key").to_owned();
        Account { email, password, admin_key, cookie: resp.session_cookie(), body }
    }

    /// Creates a key of `scope` in the caller's environment, asserting the 201.
    pub async fn create_key(&self, auth: &Auth, scope: &str) -> CreatedKey {
        self.create_key_with(auth, &json!({ "label": format!("{scope} key"), "scope": scope })).await
    }

    /// Creates a key of `scope` in the named environment, asserting the 201.
    pub async fn create_key_in(&self, auth: &Auth, scope: &str, environment: &str) -> CreatedKey {
        let body = json!({ "label": format!("{scope} key ({environment})"), "scope": scope, "environment": environment });
        self.create_key_with(auth, &body).await
    }

    async fn create_key_with(&self, auth: &Auth, body: &Value) -> CreatedKey {
        let resp = self.post_json("/v1/api-keys", auth, body).await;
        let body = resp.ok(StatusCode::CREATED).clone();
        CreatedKey {
            id: body["id"].as_i64().expect("key id"),
            key: body["key"].as_str().expect("the key is shown on creation").to_owned(),
            body,
        }
    }

    /// `POST /v1/events` with these events.
    pub async fn ingest(&self, auth: &Auth, events: &[Event]) -> Resp {
        self.post_json("/v1/events", auth, &batch(events)).await
    }

    /// `POST /v1/events`, asserting the 200; returns `(accepted, duplicates)`.
    pub async fn ingest_ok(&self, auth: &Auth, events: &[Event]) -> (u64, u64) {
        let resp = self.ingest(auth, events).await;
        let body = resp.ok(StatusCode::OK);
        assert_eq!(body["status"], "ok", "{}", resp.text);
        let accepted = body["accepted"].as_u64().expect("accepted");
        let duplicates = body["duplicates"].as_u64().expect("duplicates");
        (accepted, duplicates)
    }

    /// `GET /v1/query` with these parameters.
    pub async fn query(&self, auth: &Auth, params: &[(&str, &str)]) -> Resp {
        let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        self.get(&format!("/v1/query?{query}"), auth).await
    }

    /// The `count` of `event_name` for `tenant_id` over `period`, as one number.
    pub async fn count(&self, auth: &Auth, tenant_id: &str, event_name: &str, period: &str) -> u64 {
        let params =
            [("event_name", event_name), ("tenant_id", tenant_id), ("metric", "count"), ("period", period)];
        let resp = self.query(auth, &params).await;
        let body = resp.ok(StatusCode::OK);
        let data = body["data"].as_array().expect("data");
        assert_eq!(data.len(), 1, "{}", resp.text);
        data[0]["value"].as_u64().unwrap_or_else(|| panic!("count is a whole number: {}", resp.text))
    }
}
