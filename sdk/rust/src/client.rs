//! [`Client`]: one per process, built once at start-up and cloned freely (an `Arc` inside).
//! Every call goes through `call`, which takes its method and path from [`crate::ROUTES`].

use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use contract::{
    dashboard::{
        CreateDashboardRequest, Dashboard, DashboardList, StandaloneWidget, StandaloneWidgetList,
        UpdateDashboardRequest, UpdateWidgetRequest, Widget, WidgetData,
    },
    discover::{AutoCreateRequest, AutoCreateResponse, DiscoverResponse},
    embed::{CreateEmbedSessionRequest, CreateEmbedSessionResponse},
    events::{IngestEvent, IngestResponse},
    query::{Granularity, Metric, Period, QueryResponse},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{
    error::Error,
    queue::{ErrorHandler, FlushResult, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, Next, Pending, Queue, batch_body},
    routes::{RouteName, route},
    transport::{Request, Transport},
};

/// Configures a [`Client`]; see [`Client::builder`].
pub struct ClientBuilder {
    api_key: String,
    base_url: String,
    max_retries: u32,
    timeout: Duration,
    retry_base: Duration,
    retry_max: Duration,
    flush_at: usize,
    flush_bytes: usize,
    flush_interval: Duration,
    max_queue_size: usize,
    on_error: Option<ErrorHandler>,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// The server, e.g. `https://emban.example.com`. Default `http://127.0.0.1:8080`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }
    /// Retries after a connection failure, timeout, 429 or 5xx. Default 3.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    /// Per-attempt timeout. Default 10 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// First retry delay (doubled per retry, with jitter). Default 250 ms.
    pub fn retry_base(mut self, delay: Duration) -> Self {
        self.retry_base = delay;
        self
    }
    /// Longest retry delay, and the longest `Retry-After` waited for. Default 30 s.
    pub fn retry_max(mut self, delay: Duration) -> Self {
        self.retry_max = delay;
        self
    }
    /// `track()` flushes at this many queued events (at most 10,000). Default 1,000.
    pub fn flush_at(mut self, n: usize) -> Self {
        self.flush_at = n.clamp(1, MAX_BATCH_EVENTS);
        self
    }
    /// `track()` flushes at this many bytes of queued JSON. Default 500,000.
    pub fn flush_bytes(mut self, n: usize) -> Self {
        self.flush_bytes = n.clamp(1, MAX_BATCH_BYTES);
        self
    }
    /// `track()` flushes this long after the first queued event. Default 5 s.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }
    /// Most events `track()` holds; more are refused and reported. Default 10,000.
    pub fn max_queue_size(mut self, n: usize) -> Self {
        self.max_queue_size = n.max(1);
        self
    }
    /// Receives background failures: undelivered batches ([`Error::Delivery`]) and refused
    /// events ([`Error::Queue`]). Default: logged to stderr.
    pub fn on_error(mut self, handler: impl Fn(Error) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(handler));
        self
    }
    /// The `reqwest::Client` to send with (for TLS, proxies, connection pools of your own).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the client; [`Error::Config`] for an empty key or a base URL that is not http(s).
    pub fn build(self) -> Result<Client, Error> {
        let api_key = self.api_key.trim().to_owned();
        if api_key.is_empty() {
            return Err(Error::Config("api_key is required (an emb_admin_… or emb_ingest_… key)".into()));
        }
        let base_url = self.base_url.trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(Error::Config(format!(
                "base_url must start with http:// or https:// (got {base_url:?})"
            )));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .build()
                .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?,
        };
        let on_error = self.on_error.unwrap_or_else(|| Arc::new(|e: Error| eprintln!("[emban] {e}")));
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Transport {
                    http,
                    base_url,
                    api_key,
                    max_retries: self.max_retries,
                    timeout: self.timeout,
                    retry_base: self.retry_base,
                    retry_max: self.retry_max,
                },
                queue: Queue {
                    pending: std::sync::Mutex::new(Pending::default()),
                    flushing: tokio::sync::Mutex::new(()),
                    closed: Default::default(),
                    dropped: Default::default(),
                    flush_at: self.flush_at,
                    flush_bytes: self.flush_bytes,
                    flush_interval: self.flush_interval,
                    max_queue_size: self.max_queue_size,
                    on_error,
                },
            }),
        })
    }
}

struct Inner {
    transport: Transport,
    queue: Queue,
}

/// Events, queries, dashboards, embed sessions and the rest of the Emban API, for one key.
///
/// ```no_run
/// # async fn run() -> Result<(), emban_sdk::Error> {
/// use emban_sdk::{Client, contract::events::IngestEvent};
///
/// let emban = Client::builder(std::env::var("EMBAN_INGEST_KEY").unwrap_or_default())
///     .base_url("https://emban.example.com")
///     .build()?;
/// emban.ingest(vec![IngestEvent {
///     tenant_id: "customer_1".into(),
///     event_name: "api.call".into(),
///     string_props: Some([("model".to_owned(), "gpt-4".to_owned())].into()),
///     numeric_props: Some([("tokens".to_owned(), 150.0)].into()),
///     ..Default::default()
/// }])
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Client").field("base_url", &self.inner.transport.base_url).finish_non_exhaustive()
    }
}

/// Parameters of [`Client::query`].
#[derive(Debug, Clone, PartialEq)]
pub struct QueryParams {
    /// The tenant.
    pub tenant_id: String,
    /// Event name.
    pub event_name: String,
    /// What to compute.
    pub metric: Metric,
    /// The window, ending now.
    pub period: Period,
    /// Bucket width, for a time series.
    pub granularity: Option<Granularity>,
    /// String prop to group by.
    pub group_by: Option<String>,
    /// Numeric prop, for `sum`, `avg`, `p95`, `p99`.
    pub numeric_prop: Option<String>,
    /// Exact-match string prop filters, sent as `f_<prop>=<value>`.
    pub filters: BTreeMap<String, String>,
}

impl QueryParams {
    /// A query with the required parameters.
    pub fn new(
        tenant_id: impl Into<String>,
        event_name: impl Into<String>,
        metric: Metric,
        period: Period,
    ) -> Self {
        QueryParams {
            tenant_id: tenant_id.into(),
            event_name: event_name.into(),
            metric,
            period,
            granularity: None,
            group_by: None,
            numeric_prop: None,
            filters: BTreeMap::new(),
        }
    }
    /// Buckets of this width.
    pub fn granularity(mut self, g: Granularity) -> Self {
        self.granularity = Some(g);
        self
    }
    /// Grouped by this string prop.
    pub fn group_by(mut self, prop: impl Into<String>) -> Self {
        self.group_by = Some(prop.into());
        self
    }
    /// Aggregating this numeric prop.
    pub fn numeric_prop(mut self, prop: impl Into<String>) -> Self {
        self.numeric_prop = Some(prop.into());
        self
    }
    /// Only events whose `prop` is `value`.
    pub fn filter(mut self, prop: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.insert(prop.into(), value.into());
        self
    }

    fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            ("tenant_id".to_owned(), self.tenant_id.clone()),
            ("event_name".to_owned(), self.event_name.clone()),
            ("metric".to_owned(), self.metric.as_str().to_owned()),
            ("period".to_owned(), self.period.as_str().to_owned()),
        ];
        if let Some(g) = self.granularity {
            pairs.push(("granularity".into(), g.as_str().into()));
        }
        if let Some(g) = &self.group_by {
            pairs.push(("group_by".into(), g.clone()));
        }
        if let Some(n) = &self.numeric_prop {
            pairs.push(("numeric_prop".into(), n.clone()));
        }
        pairs.extend(self.filters.iter().map(|(k, v)| (format!("f_{k}"), v.clone())));
        pairs
    }
}

/// One active embed session, from `GET /v1/embed-sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedSessionInfo {
    /// Token id.
    pub jti: Option<String>,
    /// The tenant it is bound to.
    pub tenant_id: Option<String>,
    /// The dashboard.
    pub dashboard_id: Option<String>,
    /// Audit resource, `dashboard:<id>`.
    pub resource: String,
    /// Who minted it.
    pub actor: String,
    /// Issued (RFC 3339).
    pub issued_at: Option<String>,
    /// Expires (RFC 3339).
    pub expires_at: Option<String>,
    /// Seconds left.
    pub remaining_ttl_seconds: i64,
    /// The other fields (scope, origins).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// An API key as listed (the secret only in [`CreatedApiKey`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Id.
    pub id: i64,
    /// Free text.
    pub label: String,
    /// `admin` or `ingest`.
    pub scope: String,
    /// The first characters of the key.
    pub prefix: String,
    /// Its environment.
    pub environment: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last used.
    #[serde(default)]
    pub last_used_at: Option<String>,
    /// Revoked.
    #[serde(default)]
    pub revoked_at: Option<String>,
}

/// A key just created: `key` is shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    /// The listed fields.
    #[serde(flatten)]
    pub info: ApiKey,
    /// The secret.
    pub key: String,
}

/// Body of [`Client::create_api_key`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateApiKeyRequest {
    /// Free text.
    pub label: String,
    /// `admin` or `ingest`.
    pub scope: String,
    /// The environment; the calling key's when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// A saved SQL query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedQuery {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// SQL text.
    pub sql: String,
    /// Dataset.
    pub dataset: String,
    /// Pinned.
    pub starred: bool,
    /// Creator, created and updated times.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// Body of [`Client::create_saved_query`] and [`Client::update_saved_query`] (absent fields unchanged).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SavedQueryFields {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// SQL text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Pinned (update only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starred: Option<bool>,
}

/// The answer to [`Client::sql`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SqlResult {
    /// Columns, `{name, type}`.
    pub columns: Vec<Value>,
    /// Rows of values.
    pub rows: Vec<Vec<Value>>,
    /// `{wall_ms, rows_returned, truncated}`.
    pub stats: Value,
}

/// Body of [`Client::preview_widget`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewRequest {
    /// The tenant whose events to evaluate.
    pub tenant_id: String,
    /// The widget config (id and layout may be left out).
    pub widget: Value,
    /// The embed filter state `{period, dimensions, numericRanges, dateRanges}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Value>,
}

#[derive(Deserialize)]
struct Sessions {
    sessions: Vec<EmbedSessionInfo>,
}
#[derive(Deserialize)]
struct Keys {
    api_keys: Vec<ApiKey>,
}
#[derive(Deserialize)]
struct Entries {
    entries: Vec<Value>,
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|source| Error::Decode { request_id: String::new(), source })
}

impl Client {
    /// A builder for a client with this key.
    pub fn builder(api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            api_key: api_key.into(),
            base_url: "http://127.0.0.1:8080".into(),
            max_retries: 3,
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_millis(250),
            retry_max: Duration::from_secs(30),
            flush_at: 1000,
            flush_bytes: 500_000,
            flush_interval: Duration::from_secs(5),
            max_queue_size: 10_000,
            on_error: None,
            http: None,
        }
    }

    /// The server this client talks to.
    pub fn base_url(&self) -> &str {
        &self.inner.transport.base_url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        name: RouteName,
        params: &[&str],
        query: Vec<(String, String)>,
        body: Option<Vec<u8>>,
    ) -> Result<T, Error> {
        let (method, path) = route(name, params)?;
        self.inner.transport.send(Request { method, path, query, body: body.as_deref() }).await
    }

    async fn call_unit(&self, name: RouteName, params: &[&str], body: Option<Vec<u8>>) -> Result<(), Error> {
        let _: Value = self.call(name, params, Vec::new(), body).await?;
        Ok(())
    }

    // -- Events ---------------------------------------------------------------------------------

    /// Sends events now (not queued), split into batches the server accepts; resolves once they
    /// are durable. Events without an `event_id` get a UUIDv7 first, so retries never double
    /// count.
    pub async fn ingest(&self, events: Vec<IngestEvent>) -> Result<IngestResponse, Error> {
        let events = events
            .into_iter()
            .enumerate()
            .map(|(i, e)| complete(e, &format!("events[{i}]"), false))
            .collect::<Result<Vec<_>, _>>()?;
        self.ingest_complete(events).await
    }

    pub(crate) async fn ingest_complete(&self, events: Vec<IngestEvent>) -> Result<IngestResponse, Error> {
        if events.is_empty() {
            return Err(Error::local("events", "invalid_request", "events: give at least one event"));
        }
        let mut total = IngestResponse { accepted: 0, status: "ok".into(), duplicates: 0 };
        let mut queued = std::collections::VecDeque::with_capacity(events.len());
        for event in events {
            let json = serde_json::to_string(&event)
                .map_err(|source| Error::Decode { request_id: String::new(), source })?;
            queued.push_back(crate::queue::Queued { event, json });
        }
        while !queued.is_empty() {
            // As many as fit one request: at most 10,000 events and 10 MiB (at least one event).
            let mut count = 0;
            let mut bytes = 0;
            for q in &queued {
                if count > 0 && (count >= MAX_BATCH_EVENTS || bytes + q.json.len() + 1 > MAX_BATCH_BYTES) {
                    break;
                }
                count += 1;
                bytes += q.json.len() + 1;
            }
            let batch: Vec<_> = queued.drain(..count).collect();
            let answer = self.send_batch(&batch).await?;
            total.accepted += answer.accepted;
            total.duplicates += answer.duplicates;
            total.status = answer.status;
        }
        Ok(total)
    }

    async fn send_batch(&self, batch: &[crate::queue::Queued]) -> Result<IngestResponse, Error> {
        let body = batch_body(batch);
        self.call(RouteName::Ingest, &[], Vec::new(), Some(body)).await
    }

    /// Queues an event for the next batch, stamping its `timestamp` and `event_id` now. The
    /// automatic flushes run as Tokio tasks; called outside a runtime, events wait for an explicit
    /// [`Client::flush`] or [`Client::shutdown`]. Refusals (queue full, shut down) are returned
    /// *and* reported through `on_error`, and counted in [`Client::dropped`].
    pub fn track(&self, event: IngestEvent) -> Result<(), Error> {
        let event = complete(event, "event", true)?;
        self.track_complete(event)
    }

    pub(crate) fn track_complete(&self, event: IngestEvent) -> Result<(), Error> {
        let next = self.inner.queue.enqueue(event)?;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return Ok(()) };
        match next {
            Next::Nothing => {}
            Next::FlushNow => {
                let client = self.clone();
                runtime.spawn(async move {
                    client.flush().await;
                });
            }
            Next::ArmTimer => {
                let client = self.clone();
                let interval = self.inner.queue.flush_interval;
                runtime.spawn(async move {
                    tokio::time::sleep(interval).await;
                    client.flush().await;
                });
            }
        }
        Ok(())
    }

    /// Sends every queued event; returns once they are delivered or reported through `on_error`.
    pub async fn flush(&self) -> FlushResult {
        let queue = &self.inner.queue;
        let _one_at_a_time = queue.flushing.lock().await;
        queue.flush_started();
        let mut result = FlushResult::default();
        loop {
            let batch = queue.take_batch();
            if batch.is_empty() {
                return result;
            }
            match self.send_batch(&batch).await {
                Ok(_) => result.sent += batch.len(),
                Err(e) => {
                    result.failed += batch.len();
                    (queue.on_error)(Error::Delivery {
                        source: Box::new(e),
                        events: batch.into_iter().map(|q| q.event).collect(),
                    });
                }
            }
        }
    }

    /// Refuses further `track()` calls and delivers what is queued. Call it before exiting.
    pub async fn shutdown(&self) -> FlushResult {
        self.inner.queue.closed.store(true, Ordering::SeqCst);
        self.flush().await
    }

    /// Events waiting in the `track()` queue.
    pub fn queued(&self) -> usize {
        self.inner.queue.len()
    }

    /// Events `track()` refused so far.
    pub fn dropped(&self) -> u64 {
        self.inner.queue.dropped.load(Ordering::SeqCst)
    }

    // -- Querying -------------------------------------------------------------------------------

    /// Runs an analytics query (`GET /v1/query`).
    pub async fn query(&self, params: &QueryParams) -> Result<QueryResponse, Error> {
        self.call(RouteName::Query, &[], params.pairs(), None).await
    }

    /// Read-only SQL over the org's datasets (admin key).
    pub async fn sql(&self, sql: &str) -> Result<SqlResult, Error> {
        self.call(RouteName::SqlRun, &[], Vec::new(), Some(json(&serde_json::json!({ "sql": sql }))?)).await
    }

    /// The datasets ad-hoc SQL can read (`{"datasets": [...]}`).
    pub async fn list_datasets(&self) -> Result<Value, Error> {
        self.call(RouteName::DatasetsList, &[], Vec::new(), None).await
    }

    /// One dataset's `CREATE` statement (`{"name", "ddl"}`).
    pub async fn dataset_ddl(&self, name: &str) -> Result<Value, Error> {
        self.call(RouteName::DatasetsDdl, &[name], Vec::new(), None).await
    }

    /// Saved SQL snippets.
    pub async fn list_saved_queries(&self) -> Result<Vec<SavedQuery>, Error> {
        self.call(RouteName::SavedQueriesList, &[], Vec::new(), None).await
    }

    /// Saves a query (`name` and `sql` required).
    pub async fn create_saved_query(&self, fields: &SavedQueryFields) -> Result<SavedQuery, Error> {
        self.call(RouteName::SavedQueriesCreate, &[], Vec::new(), Some(json(fields)?)).await
    }

    /// Changes a saved query.
    pub async fn update_saved_query(&self, id: i64, fields: &SavedQueryFields) -> Result<SavedQuery, Error> {
        self.call(RouteName::SavedQueriesUpdate, &[&id.to_string()], Vec::new(), Some(json(fields)?)).await
    }

    /// Deletes a saved query.
    pub async fn delete_saved_query(&self, id: i64) -> Result<(), Error> {
        self.call_unit(RouteName::SavedQueriesDelete, &[&id.to_string()], None).await
    }

    // -- Dashboards and widgets -----------------------------------------------------------------

    /// Every dashboard, newest first.
    pub async fn list_dashboards(&self) -> Result<Vec<Dashboard>, Error> {
        let list: DashboardList = self.call(RouteName::DashboardsList, &[], Vec::new(), None).await?;
        Ok(list.dashboards)
    }

    /// One dashboard.
    pub async fn get_dashboard(&self, id: &str) -> Result<Dashboard, Error> {
        self.call(RouteName::DashboardsGet, &[id], Vec::new(), None).await
    }

    /// Creates a dashboard (a draft).
    pub async fn create_dashboard(&self, request: &CreateDashboardRequest) -> Result<Dashboard, Error> {
        self.call(RouteName::DashboardsCreate, &[], Vec::new(), Some(json(request)?)).await
    }

    /// Changes a dashboard's name or draft widgets.
    pub async fn update_dashboard(
        &self,
        id: &str,
        request: &UpdateDashboardRequest,
    ) -> Result<Dashboard, Error> {
        self.call(RouteName::DashboardsUpdate, &[id], Vec::new(), Some(json(request)?)).await
    }

    /// Deletes a dashboard.
    pub async fn delete_dashboard(&self, id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::DashboardsDelete, &[id], None).await
    }

    /// Publishes the draft to embeds.
    pub async fn publish_dashboard(&self, id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::DashboardsPublish, &[id], None).await
    }

    /// Embeds show "not published" until the next publish.
    pub async fn unpublish_dashboard(&self, id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::DashboardsUnpublish, &[id], None).await
    }

    /// Replaces the draft with the last published snapshot.
    pub async fn restore_draft(&self, id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::DashboardsRestoreDraft, &[id], None).await
    }

    /// Adds a widget to a dashboard's draft.
    pub async fn add_dashboard_widget(&self, id: &str, widget: &Widget) -> Result<Widget, Error> {
        self.call(RouteName::DashboardsAddWidget, &[id], Vec::new(), Some(json(widget)?)).await
    }

    /// Changes a widget of a dashboard's draft.
    pub async fn update_dashboard_widget(
        &self,
        id: &str,
        widget_id: &str,
        request: &UpdateWidgetRequest,
    ) -> Result<Widget, Error> {
        self.call(RouteName::DashboardsUpdateWidget, &[id, widget_id], Vec::new(), Some(json(request)?)).await
    }

    /// Removes a widget from a dashboard's draft.
    pub async fn delete_dashboard_widget(&self, id: &str, widget_id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::DashboardsDeleteWidget, &[id, widget_id], None).await
    }

    /// Standalone widgets.
    pub async fn list_widgets(&self) -> Result<Vec<StandaloneWidget>, Error> {
        let list: StandaloneWidgetList = self.call(RouteName::WidgetsList, &[], Vec::new(), None).await?;
        Ok(list.widgets)
    }

    /// One standalone widget.
    pub async fn get_widget(&self, id: &str) -> Result<StandaloneWidget, Error> {
        self.call(RouteName::WidgetsGet, &[id], Vec::new(), None).await
    }

    /// Creates a standalone widget; the server assigns the id, so `widget` has none.
    pub async fn create_widget(&self, widget: &Value) -> Result<StandaloneWidget, Error> {
        self.call(RouteName::WidgetsCreate, &[], Vec::new(), Some(json(widget)?)).await
    }

    /// Changes a standalone widget.
    pub async fn update_widget(
        &self,
        id: &str,
        request: &UpdateWidgetRequest,
    ) -> Result<StandaloneWidget, Error> {
        self.call(RouteName::WidgetsUpdate, &[id], Vec::new(), Some(json(request)?)).await
    }

    /// Deletes a standalone widget.
    pub async fn delete_widget(&self, id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::WidgetsDelete, &[id], None).await
    }

    /// Publishes a standalone widget's draft.
    pub async fn publish_widget(&self, id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::WidgetsPublish, &[id], None).await
    }

    /// Evaluates a widget config for one tenant without saving it.
    pub async fn preview_widget(&self, request: &PreviewRequest) -> Result<WidgetData, Error> {
        self.call(RouteName::WidgetsPreview, &[], Vec::new(), Some(json(request)?)).await
    }

    // -- Embed sessions -------------------------------------------------------------------------

    /// Mints a signed embed session (admin key); `embed_url` goes to your frontend.
    pub async fn create_embed_session(
        &self,
        request: &CreateEmbedSessionRequest,
    ) -> Result<CreateEmbedSessionResponse, Error> {
        self.call(RouteName::CreateEmbedSession, &[], Vec::new(), Some(json(request)?)).await
    }

    /// Active embed sessions of the org (admin key).
    pub async fn list_embed_sessions(&self) -> Result<Vec<EmbedSessionInfo>, Error> {
        let list: Sessions = self.call(RouteName::ListEmbedSessions, &[], Vec::new(), None).await?;
        Ok(list.sessions)
    }

    /// Revokes one embed session by its `jti` (admin key): its next data request gets 401.
    pub async fn revoke_embed_session(&self, jti: &str) -> Result<(), Error> {
        self.call_unit(RouteName::RevokeEmbedSession, &[jti], None).await
    }

    /// Revokes every embed session of a tenant minted so far (admin key); later ones work.
    pub async fn revoke_tenant_embed_sessions(&self, tenant_id: &str) -> Result<(), Error> {
        let query = vec![("tenant_id".to_owned(), tenant_id.to_owned())];
        let _: Value = self.call(RouteName::RevokeTenantEmbedSessions, &[], query, None).await?;
        Ok(())
    }

    // -- Discovery, keys, usage, audit ----------------------------------------------------------

    /// What the stored events hold, for every tenant or one.
    pub async fn discover(&self, tenant_id: Option<&str>) -> Result<DiscoverResponse, Error> {
        let query = tenant_id.map(|t| vec![("tenant_id".to_owned(), t.to_owned())]).unwrap_or_default();
        self.call(RouteName::DiscoveryDiscover, &[], query, None).await
    }

    /// Builds a dashboard from the discovered events.
    pub async fn auto_create_dashboard(
        &self,
        request: &AutoCreateRequest,
    ) -> Result<AutoCreateResponse, Error> {
        self.call(RouteName::DiscoveryAutoCreate, &[], Vec::new(), Some(json(request)?)).await
    }

    /// API keys (prefixes only).
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, Error> {
        let list: Keys = self.call(RouteName::ApiKeysList, &[], Vec::new(), None).await?;
        Ok(list.api_keys)
    }

    /// Creates a key; the answer's `key` is shown only this once.
    pub async fn create_api_key(&self, request: &CreateApiKeyRequest) -> Result<CreatedApiKey, Error> {
        self.call(RouteName::ApiKeysCreate, &[], Vec::new(), Some(json(request)?)).await
    }

    /// Revokes a key.
    pub async fn revoke_api_key(&self, id: i64) -> Result<(), Error> {
        self.call_unit(RouteName::ApiKeysRevoke, &[&id.to_string()], None).await
    }

    /// Usage counters over a period (30 days when `None`).
    pub async fn usage(&self, period: Option<Period>) -> Result<Value, Error> {
        let query = period.map(|p| vec![("period".to_owned(), p.as_str().to_owned())]).unwrap_or_default();
        self.call(RouteName::UsageGet, &[], query, None).await
    }

    /// Onboarding progress.
    pub async fn onboarding_status(&self) -> Result<Value, Error> {
        self.call(RouteName::UsageOnboarding, &[], Vec::new(), None).await
    }

    /// The last 100 audit entries.
    pub async fn audit_log(&self) -> Result<Vec<Value>, Error> {
        let list: Entries = self.call(RouteName::AuditList, &[], Vec::new(), None).await?;
        Ok(list.entries)
    }

    /// Who this key is: org, environment, scope.
    pub async fn me(&self) -> Result<Value, Error> {
        self.call(RouteName::AuthMe, &[], Vec::new(), None).await
    }

    // -- Team, settings, alerts, reports, billing ------------------------------------------------
    // The reference's routes, ahead of the server (see `RouteName`): bodies pass through as JSON,
    // and until the server serves a route its call is `Error::NotFound`.

    /// The org's settings.
    pub async fn get_org_settings(&self) -> Result<Value, Error> {
        self.call(RouteName::SettingsGetOrg, &[], Vec::new(), None).await
    }

    /// Changes the org's name or email.
    pub async fn update_org_settings(&self, body: &Value) -> Result<Value, Error> {
        self.call(RouteName::SettingsUpdateOrg, &[], Vec::new(), Some(json(body)?)).await
    }

    /// Deletes the org (owner only). Irreversible.
    pub async fn delete_org(&self) -> Result<(), Error> {
        self.call_unit(RouteName::SettingsDeleteOrg, &[], None).await
    }

    /// Team members.
    pub async fn list_members(&self) -> Result<Value, Error> {
        self.call(RouteName::MembersList, &[], Vec::new(), None).await
    }

    /// Invites a member (`{"email", "role"}`); the answer carries the invite token.
    pub async fn invite_member(&self, body: &Value) -> Result<Value, Error> {
        self.call(RouteName::MembersInvite, &[], Vec::new(), Some(json(body)?)).await
    }

    /// Pending invites.
    pub async fn list_invites(&self) -> Result<Value, Error> {
        self.call(RouteName::MembersInvites, &[], Vec::new(), None).await
    }

    /// Changes a member's role (`{"role"}`; owner only).
    pub async fn update_member_role(&self, id: &str, body: &Value) -> Result<Value, Error> {
        self.call(RouteName::MembersUpdateRole, &[id], Vec::new(), Some(json(body)?)).await
    }

    /// Removes a member.
    pub async fn remove_member(&self, id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::MembersRemove, &[id], None).await
    }

    /// Cancels a pending invite; its link stops working.
    pub async fn cancel_invite(&self, id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::MembersCancelInvite, &[id], None).await
    }

    /// Alert rules.
    pub async fn list_alerts(&self) -> Result<Value, Error> {
        self.call(RouteName::AlertsList, &[], Vec::new(), None).await
    }

    /// One alert rule.
    pub async fn get_alert(&self, alert_id: &str) -> Result<Value, Error> {
        self.call(RouteName::AlertsGet, &[alert_id], Vec::new(), None).await
    }

    /// An alert's recent firing and resolution events.
    pub async fn alert_events(&self, alert_id: &str) -> Result<Value, Error> {
        self.call(RouteName::AlertsEvents, &[alert_id], Vec::new(), None).await
    }

    /// Creates an alert rule.
    pub async fn create_alert(&self, body: &Value) -> Result<Value, Error> {
        self.call(RouteName::AlertsCreate, &[], Vec::new(), Some(json(body)?)).await
    }

    /// Changes an alert rule.
    pub async fn update_alert(&self, alert_id: &str, body: &Value) -> Result<Value, Error> {
        self.call(RouteName::AlertsUpdate, &[alert_id], Vec::new(), Some(json(body)?)).await
    }

    /// Deletes an alert rule.
    pub async fn delete_alert(&self, alert_id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::AlertsDelete, &[alert_id], None).await
    }

    /// Scheduled reports.
    pub async fn list_reports(&self) -> Result<Value, Error> {
        self.call(RouteName::ReportsList, &[], Vec::new(), None).await
    }

    /// One report rule.
    pub async fn get_report(&self, report_id: &str) -> Result<Value, Error> {
        self.call(RouteName::ReportsGet, &[report_id], Vec::new(), None).await
    }

    /// A report's recent runs.
    pub async fn report_runs(&self, report_id: &str) -> Result<Value, Error> {
        self.call(RouteName::ReportsRuns, &[report_id], Vec::new(), None).await
    }

    /// Creates a scheduled report.
    pub async fn create_report(&self, body: &Value) -> Result<Value, Error> {
        self.call(RouteName::ReportsCreate, &[], Vec::new(), Some(json(body)?)).await
    }

    /// Changes a scheduled report.
    pub async fn update_report(&self, report_id: &str, body: &Value) -> Result<Value, Error> {
        self.call(RouteName::ReportsUpdate, &[report_id], Vec::new(), Some(json(body)?)).await
    }

    /// Deletes a scheduled report.
    pub async fn delete_report(&self, report_id: &str) -> Result<(), Error> {
        self.call_unit(RouteName::ReportsDelete, &[report_id], None).await
    }

    /// Plan, billing status, usage counters and limits.
    pub async fn billing(&self) -> Result<Value, Error> {
        self.call(RouteName::BillingGet, &[], Vec::new(), None).await
    }

    /// The standard plans.
    pub async fn billing_plans(&self) -> Result<Value, Error> {
        self.call(RouteName::BillingPlans, &[], Vec::new(), None).await
    }

    /// Paddle checkout initialization data.
    pub async fn billing_checkout_config(&self) -> Result<Value, Error> {
        self.call(RouteName::BillingCheckoutConfig, &[], Vec::new(), None).await
    }

    /// A Paddle customer portal URL.
    pub async fn billing_portal(&self) -> Result<Value, Error> {
        self.call(RouteName::BillingPortal, &[], Vec::new(), None).await
    }

    /// Delivery observability of alert and report webhooks.
    pub async fn webhook_deliveries(&self) -> Result<Value, Error> {
        self.call(RouteName::WebhooksDeliveries, &[], Vec::new(), None).await
    }

    /// Creates or rotates the org's webhook signing secret (`whsec_…`, shown once); the old one
    /// keeps signing for 24 hours.
    pub async fn rotate_webhook_secret(&self) -> Result<Value, Error> {
        self.call(RouteName::WebhooksRotateSecret, &[], Vec::new(), Some(json(&serde_json::json!({}))?)).await
    }

    /// Queues a signed test message to `url`.
    pub async fn test_webhook(&self, url: &str) -> Result<Value, Error> {
        self.call(RouteName::WebhooksTest, &[], Vec::new(), Some(json(&serde_json::json!({ "url": url }))?))
            .await
    }
}

/// Checks an event and fills in its `event_id` (and, when `stamp_time`, its `timestamp`).
pub(crate) fn complete(mut event: IngestEvent, field: &str, stamp_time: bool) -> Result<IngestEvent, Error> {
    if event.tenant_id.is_empty() {
        return Err(Error::local(
            format!("{field}.tenant_id"),
            "invalid_request",
            format!("{field}.tenant_id: required"),
        ));
    }
    if event.event_name.is_empty() {
        return Err(Error::local(
            format!("{field}.event_name"),
            "invalid_request",
            format!("{field}.event_name: required"),
        ));
    }
    if event.event_id.as_deref().is_none_or(str::is_empty) {
        event.event_id = Some(uuid::Uuid::now_v7().to_string());
    }
    if stamp_time && event.timestamp.is_none() {
        event.timestamp = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    }
    Ok(event)
}
