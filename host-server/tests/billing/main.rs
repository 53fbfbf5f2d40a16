//! Plans and billing (issue 17), over HTTP against real servers on `127.0.0.1:0` with their own
//! data dirs: every 402 gate at its limit and one below (concurrent publishes included, and the
//! ingest cap storing nothing of a refused batch), billing off firing no gate, the Paddle
//! webhook (signed here with an independent HMAC) and the customer portal against a local
//! stand-in for Paddle's API.
// A failed expectation in a test is a test failure, not a server panic.
#![allow(clippy::expect_used, clippy::unwrap_used)]
#![recursion_limit = "256"]

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use emban_host_server::{RunningServer, config::ServeArgs};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

const NOTIFICATION_KEY: &str = "pdl_ntfset_01test_secretkeyfortests";
const API_KEY: &str = "pdl_sdbx_apikey_test";
const PRICE_STARTER: &str = "pri_starter_monthly";
const PRICE_PRO: &str = "pri_pro_monthly";

/// A data dir under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join("emban-billing-tests").join(format!(
            "{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A response, read whole.
struct Resp {
    status: StatusCode,
    text: String,
    body: Value,
}

impl Resp {
    #[track_caller]
    fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        &self.body
    }

    /// Asserts the reference's plan-limit body exactly.
    #[track_caller]
    fn plan_limit(&self, code: &str, plan: &str, upgrade_to: Value, limit: i64, used: i64) {
        assert_eq!(self.status, StatusCode::PAYMENT_REQUIRED, "body: {}", self.text);
        let object = self.body.as_object().expect("a JSON object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["code", "error", "limit", "plan", "upgrade_to", "used"], "{}", self.text);
        assert!(self.body["error"].as_str().is_some_and(|e| !e.is_empty()), "{}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        assert_eq!(self.body["plan"], plan, "{}", self.text);
        assert_eq!(self.body["upgrade_to"], upgrade_to, "{}", self.text);
        assert_eq!(self.body["limit"], limit, "{}", self.text);
        assert_eq!(self.body["used"], used, "{}", self.text);
    }

    #[track_caller]
    fn error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.body["code"], code, "{}", self.text);
        self.body["error"].as_str().expect("error message").to_owned()
    }
}

/// A server and an org registered on it.
struct App {
    server: RunningServer,
    http: reqwest::Client,
    _dir: TempDir,
    key: String,
    org_id: i64,
}

impl App {
    async fn start(configure: impl FnOnce(&mut ServeArgs)) -> App {
        let dir = TempDir::new();
        let mut args = ServeArgs::for_data_dir(&dir.0);
        configure(&mut args);
        let server = emban_host_server::start(args).await.expect("server starts");
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        let mut app = App { server, http, _dir: dir, key: String::new(), org_id: 0 };
        let (key, org_id) = app.register().await;
        app.key = key;
        app.org_id = org_id;
        app
    }

    /// A new org; its admin key and id.
    async fn register(&self) -> (String, i64) {
        let email = format!("billing-{}@example.com", uuid::Uuid::new_v4().simple());
        let resp = self
            .send(
                Method::POST,
                "/v1/auth/register",
                None,
                Some(&json!({ "email": email, "password": "long enough pw" })),
            )
            .await;
        let body = resp.ok(StatusCode::CREATED);
        (
            body["api_key"]["key"].as_str().expect("key").to_owned(),
            body["org"]["id"].as_i64().expect("org id"),
        )
    }

    async fn send(&self, method: Method, path: &str, key: Option<&str>, body: Option<&Value>) -> Resp {
        let mut request = self.http.request(method, format!("{}{path}", self.server.url()));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await.expect("request")).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, Some(&self.key), None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(&self.key), Some(body)).await
    }

    async fn dashboard(&self) -> String {
        let resp = self.post("/v1/dashboards", &json!({ "name": "d", "widgets": [] })).await;
        resp.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned()
    }

    async fn publish(&self, id: &str) -> Resp {
        self.send(Method::POST, &format!("/v1/dashboards/{id}/publish"), Some(&self.key), None).await
    }

    async fn new_key(&self) -> Resp {
        self.post("/v1/api-keys", &json!({ "label": "k", "scope": "ingest" })).await
    }

    async fn invite(&self) -> Resp {
        let email = format!("invitee-{}@example.com", uuid::Uuid::new_v4().simple());
        self.post("/v1/members/invite", &json!({ "email": email, "role": "viewer" })).await
    }

    async fn ingest(&self, tenant: &str, n: usize) -> Resp {
        let events: Vec<Value> =
            (0..n).map(|_| json!({ "tenant_id": tenant, "event_name": "api.call" })).collect();
        self.post("/v1/events", &json!({ "events": events })).await
    }

    async fn count(&self, tenant: &str) -> u64 {
        let resp = self
            .get(&format!("/v1/query?event_name=api.call&tenant_id={tenant}&metric=count&period=7d"))
            .await;
        resp.ok(StatusCode::OK)["data"][0]["value"].as_u64().unwrap_or(0)
    }

    async fn mint(&self, dashboard: &str, permissions: Value) -> Resp {
        self.post(
            "/v1/embed-sessions",
            &json!({ "tenant_id": "acme", "dashboard_id": dashboard, "permissions": permissions }),
        )
        .await
    }

    async fn billing(&self) -> Value {
        self.get("/v1/billing").await.ok(StatusCode::OK).clone()
    }

    /// `POST /webhooks/paddle` with a raw body and this `Paddle-Signature` (if any).
    async fn webhook(&self, body: &[u8], signature: Option<String>) -> Resp {
        let mut request = self
            .http
            .post(format!("{}/webhooks/paddle", self.server.url()))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("Paddle-Signature", signature);
        }
        read(request.send().await.expect("request")).await
    }

    /// Sends `event` signed now with the notification key.
    async fn deliver(&self, event: &Value) -> Resp {
        let body = serde_json::to_vec(event).expect("json");
        let signature = sign(NOTIFICATION_KEY, chrono::Utc::now().timestamp(), &body);
        self.webhook(&body, Some(signature)).await
    }
}

async fn read(response: reqwest::Response) -> Resp {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, text, body }
}

/// `Paddle-Signature` as Paddle computes it: HMAC-SHA256 over `ts:body`, hex.
fn sign(key: &str, ts: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(format!("{ts}:").as_bytes());
    mac.update(body);
    format!("ts={ts};h1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Small limits, so every gate is reached in a few requests.
fn small_plans(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("plans.json");
    std::fs::write(
        &path,
        json!({ "plans": { "free": { "limits": {
            "published_dashboards": 2, "api_keys": 2, "members": 2, "events_per_month": 10,
            "alerts": 1, "reports": 1
        } } } })
        .to_string(),
    )
    .expect("plans file");
    path
}

fn enforce(args: &mut ServeArgs, plans: Option<PathBuf>) {
    args.billing.billing_enforce = true;
    args.billing.billing_plans = plans;
}

fn with_paddle(args: &mut ServeArgs, api_url: &str) {
    args.billing.paddle_api_key = Some(emban_host_server::secrets::Secret::new(API_KEY));
    args.billing.paddle_client_token = Some("test_client_token".into());
    args.billing.paddle_notification_key = Some(emban_host_server::secrets::Secret::new(NOTIFICATION_KEY));
    args.billing.paddle_price_starter = Some(PRICE_STARTER.into());
    args.billing.paddle_price_pro = Some(PRICE_PRO.into());
    args.billing.paddle_api_url = Some(api_url.into());
}

/// A subscription event shaped like Paddle's (`subscription.*` webhook payloads).
fn subscription_event(
    event_id: &str,
    event_type: &str,
    occurred_at: &str,
    status: &str,
    price: &str,
    org_id: Option<i64>,
    customer: &str,
) -> Value {
    json!({
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        "notification_id": format!("ntf_{event_id}"),
        "data": {
            "id": "sub_01hv8x29kz0t586xy6zn1a62ny",
            "status": status,
            "customer_id": customer,
            "address_id": "add_01hv8gq3318ktkfengj2r75gfx",
            "business_id": null,
            "currency_code": "USD",
            "created_at": "2024-04-12T10:18:47.635Z",
            "updated_at": occurred_at,
            "started_at": "2024-04-12T10:18:47.595Z",
            "first_billed_at": "2024-04-12T10:18:47.595Z",
            "next_billed_at": "2024-05-12T10:18:47.595Z",
            "paused_at": null,
            "canceled_at": null,
            "collection_mode": "automatic",
            "billing_details": null,
            "current_billing_period": { "starts_at": "2024-04-12T10:18:47.595Z", "ends_at": "2024-05-12T10:18:47.595Z" },
            "billing_cycle": { "frequency": 1, "interval": "month" },
            "scheduled_change": null,
            "items": [{
                "status": "active",
                "quantity": 1,
                "recurring": true,
                "created_at": "2024-04-12T10:18:47.635Z",
                "updated_at": "2024-04-12T10:18:47.635Z",
                "previously_billed_at": null,
                "next_billed_at": "2024-05-12T10:18:47.595Z",
                "trial_dates": null,
                "price": {
                    "id": price,
                    "product_id": "pro_01htz88xpr0mm7b3ta2pjkr7w2",
                    "description": "Monthly",
                    "billing_cycle": { "interval": "month", "frequency": 1 },
                    "unit_price": { "amount": "3000", "currency_code": "USD" },
                    "status": "active"
                }
            }],
            "custom_data": org_id.map(|id| json!({ "org_id": id.to_string() })),
            "management_urls": {
                "update_payment_method": "https://buyer-portal.paddle.com/subscriptions/sub_01/update-payment-method",
                "cancel": "https://buyer-portal.paddle.com/subscriptions/sub_01/cancel"
            },
            "discount": null
        }
    })
}

/// A `transaction.completed` event: links the org to its customer.
fn transaction_completed(event_id: &str, org_id: i64, customer: &str) -> Value {
    json!({
        "event_id": event_id,
        "event_type": "transaction.completed",
        "occurred_at": "2024-04-12T10:18:50.000000Z",
        "notification_id": format!("ntf_{event_id}"),
        "data": {
            "id": "txn_01hv8wptq8987qeep44cyrewp9",
            "status": "completed",
            "customer_id": customer,
            "subscription_id": "sub_01hv8x29kz0t586xy6zn1a62ny",
            "origin": "web",
            "collection_mode": "automatic",
            "currency_code": "USD",
            "custom_data": { "org_id": org_id.to_string() },
            "items": [{ "price": { "id": PRICE_STARTER }, "quantity": 1 }],
            "details": { "totals": { "total": "3000", "currency_code": "USD" } }
        }
    })
}

/// A stand-in for Paddle's API on loopback: answers portal sessions and records each request's
/// path and `Authorization`.
struct PaddleStandIn {
    url: String,
    seen: Arc<Mutex<Vec<(String, String, Value)>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl PaddleStandIn {
    async fn start() -> PaddleStandIn {
        use axum::{extract::Path, http::HeaderMap, routing::post};
        let seen: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
        let record = seen.clone();
        let app = axum::Router::new().route(
            "/customers/{customer_id}/portal-sessions",
            post(move |Path(customer): Path<String>, headers: HeaderMap, body: String| {
                let record = record.clone();
                async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    record.lock().unwrap().push((customer.clone(), auth, body));
                    if customer == "ctm_broken" {
                        return (
                            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                            axum::Json(json!({ "error": { "type": "api_error", "detail": "secret internals" } })),
                        );
                    }
                    (
                        axum::http::StatusCode::CREATED,
                        axum::Json(json!({
                            "data": {
                                "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
                                "customer_id": customer,
                                "urls": {
                                    "general": { "overview": format!("https://customer-portal.paddle.com/cpl_test?action=overview&customer={customer}&token=pga_abc") },
                                    "subscriptions": []
                                },
                                "created_at": "2024-10-25T06:53:58.622Z"
                            },
                            "meta": { "request_id": "8b4a0a5a-1f09-4c6e-9d6c-000000000000" }
                        })),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("stand-in serves");
        });
        PaddleStandIn { url, seen, _task: task }
    }
}

#[tokio::test]
async fn billing_off_fires_no_gate_and_paddle_routes_say_not_configured() {
    let app = App::start(|_| {}).await;
    let overview = app.billing().await;
    assert_eq!(overview["plan"], "self_hosted");
    assert_eq!(overview["billing_enabled"], false);
    assert_eq!(overview["limits"]["published_dashboards"], Value::Null);
    // Well past every free limit: nothing is refused.
    for _ in 0..4 {
        let id = app.dashboard().await;
        app.publish(&id).await.ok(StatusCode::NO_CONTENT);
        app.new_key().await.ok(StatusCode::CREATED);
        app.invite().await.ok(StatusCode::CREATED);
    }
    let id = app.dashboard().await;
    app.mint(&id, json!({ "hidden_widgets": ["w1"], "max_date_range_days": 30, "allowed_periods": ["7d"] }))
        .await
        .ok(StatusCode::CREATED);
    app.ingest("off", 500).await.ok(StatusCode::OK);
    assert_eq!(app.count("off").await, 500);
    app.get("/v1/billing/checkout-config")
        .await
        .error(StatusCode::SERVICE_UNAVAILABLE, "paddle_not_configured");
    app.get("/v1/billing/portal").await.error(StatusCode::SERVICE_UNAVAILABLE, "paddle_not_configured");
    app.webhook(b"{}", None).await.error(StatusCode::SERVICE_UNAVAILABLE, "paddle_not_configured");
    // The plans are public.
    let plans = app.send(Method::GET, "/v1/billing/plans", None, None).await;
    let ids: Vec<&str> = plans.ok(StatusCode::OK)["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["free", "starter", "pro", "self_hosted"]);
}

#[tokio::test]
async fn every_gate_refuses_at_its_limit_and_admits_one_below() {
    let dir = TempDir::new();
    let plans = small_plans(&dir.0);
    let app = App::start(|args| enforce(args, Some(plans))).await;
    let overview = app.billing().await;
    assert_eq!(overview["plan"], "free");
    assert_eq!(overview["status"], "none");
    assert_eq!(overview["limits"]["published_dashboards"], 2);

    // Published dashboards: 2.
    let (a, b, c) = (app.dashboard().await, app.dashboard().await, app.dashboard().await);
    app.publish(&a).await.ok(StatusCode::NO_CONTENT);
    app.publish(&b).await.ok(StatusCode::NO_CONTENT);
    app.publish(&c).await.plan_limit("published_dashboards_limit", "free", json!("starter"), 2, 2);
    app.publish(&a).await.ok(StatusCode::NO_CONTENT); // republishing takes no new slot
    app.send(Method::POST, &format!("/v1/dashboards/{a}/unpublish"), Some(&app.key), None)
        .await
        .ok(StatusCode::NO_CONTENT);
    app.publish(&c).await.ok(StatusCode::NO_CONTENT);

    // API keys: 2, the default admin key included.
    app.new_key().await.ok(StatusCode::CREATED);
    app.new_key().await.plan_limit("api_keys_limit", "free", json!("starter"), 2, 2);

    // Members: 2, the owner and pending invites included.
    app.invite().await.ok(StatusCode::CREATED);
    app.invite().await.plan_limit("members_limit", "free", json!("starter"), 2, 2);

    // Advanced embed permissions: none on free.
    let d = app.dashboard().await;
    app.mint(&d, json!({})).await.ok(StatusCode::CREATED);
    app.mint(&d, json!({ "allow_drill_down": true })).await.ok(StatusCode::CREATED);
    app.mint(&d, json!({ "hidden_widgets": ["w1"], "max_date_range_days": 30 })).await.plan_limit(
        "advanced_embed_permissions",
        "free",
        json!("starter"),
        0,
        2,
    );

    // Alerts and reports: 1 each (a draft dashboard with one metric widget to watch).
    let widget = json!({ "id": "calls", "kind": "metric", "title": "Calls",
                         "query": { "event_name": "api.call", "metric": "count" },
                         "viz": { "type": "number" }, "layout": { "x": 0, "y": 0, "w": 4, "h": 2 } });
    let watched = app.post("/v1/dashboards", &json!({ "name": "w", "widgets": [widget] })).await;
    let watched = watched.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let alert = json!({ "dashboard_id": watched, "widget_id": "calls", "tenant_id": "t", "name": "a",
                        "condition_type": "threshold", "operator": "gt", "threshold_value": 1,
                        "email_to": ["ops@example.com"] });
    app.post("/v1/alerts", &alert).await.ok(StatusCode::CREATED);
    app.post("/v1/alerts", &alert).await.plan_limit("alerts_limit", "free", json!("starter"), 1, 1);
    let report = json!({ "dashboard_id": watched, "tenant_id": "t", "schedule": "0 9 * * *",
                         "email_to": ["ops@example.com"] });
    app.post("/v1/reports", &report).await.ok(StatusCode::CREATED);
    app.post("/v1/reports", &report).await.plan_limit("reports_limit", "free", json!("starter"), 1, 1);

    // Events: 10 a month; a batch that would pass the cap is refused whole.
    app.ingest("t", 6).await.ok(StatusCode::OK);
    app.ingest("t", 5).await.plan_limit("events_monthly_limit", "free", json!("starter"), 10, 6);
    assert_eq!(app.count("t").await, 6, "the refused batch stored nothing");
    app.ingest("t", 4).await.ok(StatusCode::OK);
    app.ingest("t", 1).await.plan_limit("events_monthly_limit", "free", json!("starter"), 10, 10);
    assert_eq!(app.count("t").await, 10);

    let usage = app.billing().await["usage"].clone();
    assert_eq!(
        usage,
        json!({ "published_dashboards": 2, "api_keys": 2, "members": 2, "alerts": 1, "reports": 1,
                "events_this_month": 10 })
    );
}

#[tokio::test]
async fn the_ingest_cap_counts_the_month_stored_before_a_restart() {
    let dir = TempDir::new();
    let plans = small_plans(&dir.0);
    let data = TempDir::new();
    let args = |plans: PathBuf| {
        let mut args = ServeArgs::for_data_dir(&data.0);
        enforce(&mut args, Some(plans));
        args
    };
    let server = emban_host_server::start(args(plans.clone())).await.expect("start");
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let app = App { server, http, _dir: TempDir::new(), key: String::new(), org_id: 0 };
    let (key, _) = app.register().await;
    let app = App { key, ..app };
    app.ingest("r", 8).await.ok(StatusCode::OK);
    let App { server, http, key, .. } = app;
    server.stop().await.expect("stop");
    let server = emban_host_server::start(args(plans)).await.expect("restart");
    let app = App { server, http, _dir: TempDir::new(), key, org_id: 0 };
    app.ingest("r", 3).await.plan_limit("events_monthly_limit", "free", json!("starter"), 10, 8);
    app.ingest("r", 2).await.ok(StatusCode::OK);
}

#[tokio::test]
async fn concurrent_publishes_and_key_creates_cannot_pass_a_limit_of_one() {
    let dir = TempDir::new();
    let path = dir.0.join("plans.json");
    std::fs::write(&path, r#"{"plans": {"free": {"limits": {"published_dashboards": 1, "api_keys": 2}}}}"#)
        .expect("plans file");
    let app = App::start(|args| enforce(args, Some(path))).await;
    let mut ids = Vec::new();
    for _ in 0..8 {
        ids.push(app.dashboard().await);
    }
    let publishes = futures_join(ids.iter().map(|id| app.publish(id))).await;
    let ok = publishes.iter().filter(|r| r.status == StatusCode::NO_CONTENT).count();
    assert_eq!(
        ok,
        1,
        "exactly one publish fits: {:?}",
        publishes.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for refused in publishes.iter().filter(|r| r.status != StatusCode::NO_CONTENT) {
        refused.plan_limit("published_dashboards_limit", "free", json!("starter"), 1, 1);
    }
    let keys = futures_join((0..8).map(|_| app.new_key())).await;
    assert_eq!(keys.iter().filter(|r| r.status == StatusCode::CREATED).count(), 1);
    assert_eq!(app.billing().await["usage"]["published_dashboards"], 1);
    assert_eq!(app.billing().await["usage"]["api_keys"], 2);
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join<F: std::future::Future<Output = Resp>>(futures: impl Iterator<Item = F>) -> Vec<Resp> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    join_all(set).await
}

async fn join_all<F: std::future::Future<Output = Resp>>(futures: Vec<F>) -> Vec<Resp> {
    // Polled together on this task: the server handles them in parallel.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<Resp>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(r) => out[i] = Some(r),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|r| r.expect("polled to completion")).collect()
}

#[tokio::test]
async fn webhooks_are_verified_idempotent_and_never_roll_the_plan_back() {
    let paddle = PaddleStandIn::start().await;
    let app = App::start(|args| with_paddle(args, &paddle.url)).await;
    let org = app.org_id;
    assert_eq!(app.billing().await["plan"], "free", "Paddle configured: new orgs start on free");

    let created = subscription_event(
        "evt_01created",
        "subscription.created",
        "2024-04-12T10:18:49.621022Z",
        "active",
        PRICE_STARTER,
        Some(org),
        "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
    );
    let body = serde_json::to_vec(&created).expect("json");
    let now = chrono::Utc::now().timestamp();

    // Refused with 401, and nothing processed: the same event is new afterwards.
    app.webhook(&body, None).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.webhook(&body, Some(sign("not the key", now, &body)))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    app.webhook(&tampered, Some(sign(NOTIFICATION_KEY, now, &body)))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.webhook(&body, Some(sign(NOTIFICATION_KEY, now - 301, &body)))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.webhook(&body, Some("ts=abc;h1=00".into())).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(app.billing().await["plan"], "free");

    let signature = sign(NOTIFICATION_KEY, now, &body);
    assert_eq!(app.webhook(&body, Some(signature.clone())).await.ok(StatusCode::OK)["outcome"], "applied");
    let overview = app.billing().await;
    assert_eq!(overview["plan"], "starter");
    assert_eq!(overview["status"], "active");
    assert_eq!(overview["paddle_customer"], true);
    // A replay is acknowledged and does nothing.
    assert_eq!(app.webhook(&body, Some(signature)).await.ok(StatusCode::OK)["outcome"], "duplicate");

    // Newer: pro. Then an older update arrives late: acknowledged, plan kept.
    let newer = subscription_event(
        "evt_02newer",
        "subscription.updated",
        "2024-04-14T09:00:00.000000Z",
        "active",
        PRICE_PRO,
        Some(org),
        "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
    );
    assert_eq!(app.deliver(&newer).await.ok(StatusCode::OK)["outcome"], "applied");
    let older = subscription_event(
        "evt_03older",
        "subscription.past_due",
        "2024-04-13T09:00:00.000000Z",
        "past_due",
        PRICE_STARTER,
        Some(org),
        "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
    );
    assert_eq!(app.deliver(&older).await.ok(StatusCode::OK)["outcome"], "stale");
    let overview = app.billing().await;
    assert_eq!(overview["plan"], "pro");
    assert_eq!(overview["status"], "active");

    // Found by the stored customer id alone (no custom_data): canceled, back to free.
    let canceled = subscription_event(
        "evt_04canceled",
        "subscription.canceled",
        "2024-04-20T09:00:00.000000Z",
        "canceled",
        PRICE_PRO,
        None,
        "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
    );
    assert_eq!(app.deliver(&canceled).await.ok(StatusCode::OK)["outcome"], "applied");
    let overview = app.billing().await;
    assert_eq!(overview["plan"], "free");
    assert_eq!(overview["status"], "canceled");

    // Unknown types and unknown orgs are acknowledged.
    let unknown = json!({ "event_id": "evt_05", "event_type": "adjustment.created",
                          "occurred_at": "2024-04-20T09:00:00Z", "data": { "id": "adj_01" } });
    assert_eq!(app.deliver(&unknown).await.ok(StatusCode::OK)["outcome"], "ignored");
    let stranger = subscription_event(
        "evt_06stranger",
        "subscription.created",
        "2024-04-20T09:00:00Z",
        "active",
        PRICE_PRO,
        Some(987_654_321),
        "ctm_unknown",
    );
    assert_eq!(app.deliver(&stranger).await.ok(StatusCode::OK)["outcome"], "unknown_org");
    let nobody = subscription_event(
        "evt_07nobody",
        "subscription.created",
        "2024-04-20T09:00:00Z",
        "active",
        PRICE_PRO,
        None,
        "ctm_nobody",
    );
    assert_eq!(app.deliver(&nobody).await.ok(StatusCode::OK)["outcome"], "unknown_org");
    assert_eq!(app.billing().await["plan"], "free");

    // Over 1 MiB: 413 before anything else.
    let huge = vec![b' '; 1024 * 1024 + 1];
    let resp = app.webhook(&huge, Some(sign(NOTIFICATION_KEY, now, &huge))).await;
    resp.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Signed but not an event: 400 naming the field.
    let message = app
        .deliver(&json!({ "event_type": "subscription.created" }))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(message.contains("event_id"), "{message}");
}

#[tokio::test]
async fn concurrent_deliveries_of_one_event_apply_it_once() {
    let paddle = PaddleStandIn::start().await;
    let app = App::start(|args| with_paddle(args, &paddle.url)).await;
    let event = subscription_event(
        "evt_concurrent",
        "subscription.activated",
        "2024-05-01T00:00:00Z",
        "active",
        PRICE_PRO,
        Some(app.org_id),
        "ctm_concurrent",
    );
    let outcomes = join_all((0..8).map(|_| app.deliver(&event)).collect()).await;
    let mut seen: Vec<String> = outcomes
        .iter()
        .map(|r| r.ok(StatusCode::OK)["outcome"].as_str().expect("outcome").to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen.iter().filter(|o| *o == "applied").count(), 1, "{seen:?}");
    assert_eq!(seen.iter().filter(|o| *o == "duplicate").count(), 7, "{seen:?}");
    assert_eq!(app.billing().await["plan"], "pro");
}

#[tokio::test]
async fn a_paid_plan_lifts_the_gates_and_a_downgrade_deletes_nothing() {
    let paddle = PaddleStandIn::start().await;
    let app = App::start(|args| with_paddle(args, &paddle.url)).await;
    let org = app.org_id;
    let d = app.dashboard().await;
    app.publish(&d).await.ok(StatusCode::NO_CONTENT);
    let e = app.dashboard().await;
    app.publish(&e).await.plan_limit("published_dashboards_limit", "free", json!("starter"), 1, 1);
    app.mint(&d, json!({ "hidden_widgets": ["w1"] })).await.plan_limit(
        "advanced_embed_permissions",
        "free",
        json!("starter"),
        0,
        1,
    );
    let up = subscription_event(
        "evt_up",
        "subscription.created",
        "2024-05-01T00:00:00Z",
        "active",
        PRICE_STARTER,
        Some(org),
        "ctm_up",
    );
    app.deliver(&up).await.ok(StatusCode::OK);
    app.publish(&e).await.ok(StatusCode::NO_CONTENT);
    app.mint(&d, json!({ "hidden_widgets": ["w1"] })).await.ok(StatusCode::CREATED);
    app.mint(&d, json!({ "max_date_range_days": 30 })).await.plan_limit(
        "advanced_embed_permissions",
        "starter",
        json!("pro"),
        0,
        1,
    );
    // Paused: back to free, and both published dashboards stay published (and embeddable).
    let down = subscription_event(
        "evt_down",
        "subscription.paused",
        "2024-06-01T00:00:00Z",
        "paused",
        PRICE_STARTER,
        Some(org),
        "ctm_up",
    );
    app.deliver(&down).await.ok(StatusCode::OK);
    let overview = app.billing().await;
    assert_eq!(overview["plan"], "free");
    assert_eq!(overview["usage"]["published_dashboards"], 2, "nothing unpublished");
    app.mint(&e, json!({})).await.ok(StatusCode::CREATED);
    let f = app.dashboard().await;
    app.publish(&f).await.plan_limit("published_dashboards_limit", "free", json!("starter"), 1, 2);
}

#[tokio::test]
async fn checkout_config_and_the_portal_go_through_paddle() {
    let paddle = PaddleStandIn::start().await;
    let app = App::start(|args| with_paddle(args, &paddle.url)).await;
    let config = app.get("/v1/billing/checkout-config").await.ok(StatusCode::OK).clone();
    assert_eq!(config["environment"], "sandbox");
    assert_eq!(config["client_token"], "test_client_token");
    assert_eq!(config["prices"], json!({ "starter": PRICE_STARTER, "pro": PRICE_PRO }));
    assert_eq!(config["org_id"], app.org_id);
    assert_eq!(config["custom_data"], json!({ "org_id": app.org_id.to_string() }));

    // No customer yet: 404, and Paddle was not asked.
    app.get("/v1/billing/portal").await.error(StatusCode::NOT_FOUND, "not_found");
    assert!(paddle.seen.lock().unwrap().is_empty());

    app.deliver(&transaction_completed("evt_txn", app.org_id, "ctm_portal")).await.ok(StatusCode::OK);
    let portal = app.get("/v1/billing/portal").await;
    let url = portal.ok(StatusCode::OK)["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("https://customer-portal.paddle.com/") && url.contains("ctm_portal"), "{url}");
    {
        let seen = paddle.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].0, "ctm_portal");
        assert_eq!(seen[0].1, format!("Bearer {API_KEY}"));
    }

    // Paddle failing: 502 with a clear message and none of Paddle's details.
    let (key, other) = app.register().await;
    let other_app = App { key, org_id: other, ..app };
    other_app.deliver(&transaction_completed("evt_txn_broken", other, "ctm_broken")).await.ok(StatusCode::OK);
    let message = other_app.get("/v1/billing/portal").await.error(StatusCode::BAD_GATEWAY, "upstream_failed");
    assert!(message.contains("Paddle") && !message.contains("secret internals"), "{message}");

    // Paddle unreachable: 502 too.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("addr"))
    };
    let unreachable = App::start(|args| with_paddle(args, &closed)).await;
    unreachable
        .deliver(&transaction_completed("evt_txn_u", unreachable.org_id, "ctm_u"))
        .await
        .ok(StatusCode::OK);
    unreachable.get("/v1/billing/portal").await.error(StatusCode::BAD_GATEWAY, "upstream_failed");

    // Members below admin may not open the portal; the billing overview is admin-only too.
    let viewer_key = other_app.post("/v1/api-keys", &json!({ "label": "i", "scope": "ingest" })).await;
    let ingest = viewer_key.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned();
    other_app
        .send(Method::GET, "/v1/billing/portal", Some(&ingest), None)
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    other_app
        .send(Method::GET, "/v1/billing", Some(&ingest), None)
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
}
