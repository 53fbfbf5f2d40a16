//! Fixtures: a real server per test in this process on `127.0.0.1:0` over its own temporary data
//! dir (real SQLite and DuckDB files), orgs registered over HTTP, and helpers that speak HTTP.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU64, Ordering},
};

use chrono::{Duration, SecondsFormat, Utc};
use emban_host_server::{RunningServer, config::ServeArgs};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "emban-embed-test-{}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("creating the test data dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// `Authorization: Bearer <api key or embed token>`.
    Bearer(String),
    /// `Cookie: emban_session=...` (the whole pair).
    Cookie(String),
}

/// A response, read completely.
#[derive(Debug)]
pub struct Resp {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: header::HeaderMap,
    /// Raw body.
    pub text: String,
    /// JSON body (`null` when empty).
    pub body: Value,
}

impl Resp {
    /// Asserts the status; returns the body.
    #[track_caller]
    pub fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        &self.body
    }

    /// Asserts an error envelope with this status and code; returns the message.
    #[track_caller]
    pub fn error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(self.body["code"], code, "error code; body: {}", self.text);
        assert!(self.body.get("data").is_none(), "an error carried data: {}", self.text);
        self.body["error"].as_str().expect("error message").to_owned()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One registered org: its owner's admin key and session cookie.
#[derive(Debug, Clone)]
pub struct Org {
    /// The owner's email.
    pub email: String,
    /// The default admin key.
    pub key: String,
    /// The owner's session cookie pair.
    pub cookie: String,
}

/// A running server and an HTTP client for it.
pub struct TestApp {
    /// The server.
    pub server: RunningServer,
    /// Client without proxies.
    pub client: reqwest::Client,
    /// The data dir.
    pub dir: PathBuf,
    _dir: TempDir,
}

impl TestApp {
    /// A fresh server without the demo org.
    pub async fn new() -> Self {
        Self::start(false).await
    }

    /// A fresh server, seeding the demo org when `demo`.
    pub async fn start(demo: bool) -> Self {
        Self::start_with(demo, |_| {}).await
    }

    /// A fresh server with adjusted settings, seeding the demo org when `demo`.
    pub async fn start_with(demo: bool, configure: impl FnOnce(&mut ServeArgs)) -> Self {
        let dir = TempDir::new();
        let mut args = ServeArgs::for_data_dir(&dir.0);
        args.demo = demo;
        configure(&mut args);
        let server = emban_host_server::start(args).await.expect("starting the server");
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        TestApp { server, client, dir: dir.0.clone(), _dir: dir }
    }

    /// Stops the server and starts a new one on the same data dir with adjusted settings.
    pub async fn restart_with(self, configure: impl FnOnce(&mut ServeArgs)) -> Self {
        let TestApp { server, client, dir, _dir } = self;
        server.stop().await.expect("stopping the server");
        let mut args = ServeArgs::for_data_dir(&dir);
        configure(&mut args);
        let server = emban_host_server::start(args).await.expect("restarting the server");
        TestApp { server, client, dir, _dir }
    }

    /// Stops the server and starts a new one over the same data dir.
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Sends a request.
    pub async fn send(&self, method: Method, path: &str, auth: &Auth, body: Option<&Value>) -> Resp {
        let mut request = self.client.request(method, format!("{}{path}", self.url()));
        request = match auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            // As a browser on the server's own pages sends it.
            Auth::Cookie(pair) => request.header(header::COOKIE, pair).header(header::ORIGIN, self.url()),
        };
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("sending the request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("reading the body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, text, body }
    }

    /// GET.
    pub async fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.send(Method::GET, path, auth, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, auth: &Auth, body: &Value) -> Resp {
        self.send(Method::POST, path, auth, Some(body)).await
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str, auth: &Auth) -> Resp {
        self.send(Method::POST, path, auth, None).await
    }

    /// PATCH with a JSON body.
    pub async fn patch(&self, path: &str, auth: &Auth, body: &Value) -> Resp {
        self.send(Method::PATCH, path, auth, Some(body)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str, auth: &Auth) -> Resp {
        self.send(Method::DELETE, path, auth, None).await
    }

    /// Registers a new account and org.
    pub async fn register(&self) -> Org {
        let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
        let resp = self
            .post(
                "/v1/auth/register",
                &Auth::None,
                &json!({ "email": email, "password": "correct horse battery" }),
            )
            .await;
        let body = resp.ok(StatusCode::CREATED).clone();
        let cookie = resp
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().filter(|p| p.starts_with("emban_session=")))
            .expect("session cookie")
            .to_owned();
        Org { email, key: body["api_key"]["key"].as_str().expect("api_key.key").to_owned(), cookie }
    }

    /// Changes a member's role directly in the metadata file (no invite API exists yet).
    pub async fn set_role(&self, email: &str, role: &str) {
        let url = format!("sqlite://{}", self.dir.join("meta.sqlite").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("opening meta.sqlite");
        sqlx::query("UPDATE memberships SET role = ? WHERE user_id = (SELECT id FROM users WHERE email = ?)")
            .bind(role)
            .bind(email)
            .execute(&pool)
            .await
            .expect("updating the role");
        pool.close().await;
    }

    /// Runs one statement with one integer parameter on the metadata file.
    pub async fn sql(&self, statement: &str, id: i64) {
        let url = format!("sqlite://{}", self.dir.join("meta.sqlite").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("opening meta.sqlite");
        sqlx::query(statement).bind(id).execute(&pool).await.expect("running the statement");
        pool.close().await;
    }

    /// `SELECT COUNT(*) …` with one integer parameter on the metadata file.
    pub async fn sql_count(&self, statement: &str, id: i64) -> i64 {
        let url = format!("sqlite://{}", self.dir.join("meta.sqlite").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("opening meta.sqlite");
        let (n,): (i64,) = sqlx::query_as(statement).bind(id).fetch_one(&pool).await.expect("counting");
        pool.close().await;
        n
    }

    /// Rows of the audit table by `actor`, read from the metadata file.
    pub async fn audit_rows_by(&self, actor: &str) -> i64 {
        let url = format!("sqlite://{}", self.dir.join("meta.sqlite").display());
        let pool = sqlx::SqlitePool::connect(&url).await.expect("opening meta.sqlite");
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit WHERE actor = ?")
            .bind(actor)
            .fetch_one(&pool)
            .await
            .expect("counting audit rows");
        pool.close().await;
        n
    }

    /// Ingests events and asserts they were all stored.
    pub async fn ingest(&self, key: &str, events: Vec<Value>) {
        let n = events.len();
        let resp = self.post("/v1/events", &Auth::Bearer(key.to_owned()), &json!({ "events": events })).await;
        assert_eq!(resp.ok(StatusCode::OK)["accepted"], n, "{}", resp.text);
    }

    /// Creates a dashboard; returns its id.
    pub async fn create_dashboard(&self, key: &str, name: &str, widgets: Value) -> String {
        let resp = self
            .post(
                "/v1/dashboards",
                &Auth::Bearer(key.to_owned()),
                &json!({ "name": name, "widgets": widgets }),
            )
            .await;
        resp.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned()
    }

    /// Publishes a dashboard.
    pub async fn publish(&self, key: &str, id: &str) {
        let resp =
            self.post_empty(&format!("/v1/dashboards/{id}/publish"), &Auth::Bearer(key.to_owned())).await;
        resp.ok(StatusCode::NO_CONTENT);
    }

    /// Creates and publishes the standard test dashboard; returns its id.
    pub async fn standard_dashboard(&self, key: &str) -> String {
        let id = self.create_dashboard(key, "Usage", standard_widgets()).await;
        self.publish(key, &id).await;
        id
    }

    /// `POST /v1/embed-sessions`.
    pub async fn mint(&self, key: &str, body: Value) -> Resp {
        self.post("/v1/embed-sessions", &Auth::Bearer(key.to_owned()), &body).await
    }

    /// Mints a session and returns its token.
    pub async fn token(&self, key: &str, tenant: &str, dashboard: &str, permissions: Value) -> String {
        let resp = self
            .mint(key, json!({ "tenant_id": tenant, "dashboard_id": dashboard, "permissions": permissions }))
            .await;
        resp.ok(StatusCode::CREATED)["token"].as_str().expect("token").to_owned()
    }

    /// `POST /v1/embed/query` with a token.
    pub async fn embed_query(&self, token: &str, body: Value) -> Resp {
        self.post("/v1/embed/query", &Auth::Bearer(token.to_owned()), &body).await
    }

    /// `GET /v1/embed/dashboard` with a token.
    pub async fn embed_dashboard(&self, token: &str) -> Resp {
        self.get("/v1/embed/dashboard", &Auth::Bearer(token.to_owned())).await
    }
}

/// `n` hours ago, RFC 3339.
pub fn hours_ago(n: i64) -> String {
    (Utc::now() - Duration::hours(n)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An `api.call` event.
pub fn call(tenant: &str, model: &str, endpoint: &str, plan: &str, tokens: f64, hours: i64) -> Value {
    json!({
        "tenant_id": tenant, "event_name": "api.call", "timestamp": hours_ago(hours),
        "user_id": format!("u-{tenant}-{}", tokens as i64 % 3),
        "string_props": { "model": model, "endpoint": endpoint, "plan": plan },
        "numeric_props": { "tokens": tokens, "latency_ms": tokens / 2.0 },
    })
}

/// A widget JSON.
pub fn widget(id: &str, kind: &str, query: Value, viz: &str, layout: [u32; 4]) -> Value {
    json!({
        "id": id, "kind": kind, "title": format!("Widget {id}"), "query": query, "viz": { "type": viz },
        "layout": { "x": layout[0], "y": layout[1], "w": layout[2], "h": layout[3] },
    })
}

/// One widget of each kind over `api.call`, split by model, endpoint and plan.
pub fn standard_widgets() -> Value {
    json!([
        widget(
            "calls",
            "metric",
            json!({ "event_name": "api.call", "metric": "count" }),
            "number",
            [0, 0, 4, 2]
        ),
        widget(
            "tokens",
            "metric",
            json!({ "event_name": "api.call", "metric": "sum", "numeric_prop": "tokens" }),
            "number",
            [4, 0, 4, 2]
        ),
        widget(
            "by_model",
            "timeseries",
            json!({ "event_name": "api.call", "metric": "count", "granularity": "day", "group_by": "model" }),
            "line",
            [0, 2, 8, 4]
        ),
        widget(
            "by_endpoint",
            "breakdown",
            json!({ "event_name": "api.call", "metric": "count", "group_by": "endpoint" }),
            "pie",
            [8, 2, 4, 4]
        ),
        widget(
            "by_plan",
            "table",
            json!({ "event_name": "api.call", "metric": "count", "group_by": "plan" }),
            "table",
            [0, 6, 12, 4]
        ),
        widget(
            "internal",
            "metric",
            json!({ "event_name": "api.call", "metric": "count_unique" }),
            "number",
            [8, 0, 4, 2]
        ),
    ])
}

/// The events of `tenant`: `pro` of plan pro on gpt-4 /chat, `free` of plan free on claude
/// /embeddings, all with 100 tokens, within the last day.
pub fn tenant_events(tenant: &str, pro: usize, free: usize) -> Vec<Value> {
    let mut events = Vec::new();
    for i in 0..pro {
        events.push(call(tenant, "gpt-4", "/chat", "pro", 100.0, 1 + (i as i64 % 20)));
    }
    for i in 0..free {
        events.push(call(tenant, "claude-3", "/embeddings", "free", 100.0, 1 + (i as i64 % 20)));
    }
    events
}

/// The single value of a metric widget's answer.
#[track_caller]
pub fn value(resp: &Resp) -> f64 {
    resp.ok(StatusCode::OK)["data"][0]["value"].as_f64().unwrap_or_else(|| panic!("no value: {}", resp.text))
}

/// The groups of a grouped answer, deduplicated, in order.
pub fn groups(resp: &Resp) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for row in resp.body["data"].as_array().into_iter().flatten() {
        let g = row["group"].as_str().unwrap_or("<null>").to_owned();
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// Sum of every row's value.
pub fn total(resp: &Resp) -> f64 {
    resp.body["data"].as_array().into_iter().flatten().filter_map(|r| r["value"].as_f64()).sum()
}
