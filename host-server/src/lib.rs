//! Emban's server: ingest, analytics queries, accounts and keys, on an embedded DuckDB + SQLite
//! default.
#![forbid(unsafe_code)]

pub mod adhoc;
pub mod audit;
pub mod auth;
pub mod config;
pub mod csrf;
pub mod dashboards;
pub mod datasets;
pub mod demo;
pub mod discover;
pub mod embed;
pub mod error;
pub mod events;
pub mod ingest;
pub mod keys;
pub mod limits;
pub mod meta;
pub mod query;
pub mod runtime;
pub mod sample;
pub mod saved_queries;
pub mod secrets;
pub mod settings;
pub mod state;
pub mod usage;
pub mod widgets;
pub mod www;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{
    config::{EventsBackend, ServeArgs},
    error::{AppError, InternalCause},
    events::{EventStore, duckdb::DuckStore},
    meta::{
        MetaStore,
        dashboards::{CachedDashboards, DashboardStore},
        sqlite::SqliteMeta,
    },
    state::{App, AppState},
    usage::UsageRecorder,
};

/// Every route.
pub fn app(state: AppState) -> Router {
    // Behind an https public URL, browsers are told to use https only (a year, subdomains not
    // included: the operator's other hosts are not ours to pin).
    let hsts = state.secure_cookies.then(|| {
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });
    Router::new()
        .merge(auth::router())
        .merge(keys::router())
        .merge(ingest::router())
        .merge(query::router())
        .merge(usage::router())
        .merge(adhoc::router())
        .merge(datasets::router())
        .merge(saved_queries::router())
        .merge(settings::routes::router())
        .merge(dashboards::router())
        .merge(widgets::router())
        .merge(embed::router())
        .merge(discover::router())
        .merge(audit::router())
        .merge(runtime::router())
        .merge(www::router())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(|| async { AppError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(contract::ErrorBody {
                    error: "method not allowed on this route".into(),
                    code: "method_not_allowed".into(),
                }),
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), csrf::require_same_origin))
        .layer(middleware::from_fn(envelope_plain_errors))
        .layer(middleware::from_fn(log_requests))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(tower::util::option_layer(hsts))
        .with_state(state)
}

/// Logs method, path (never the query string: embed URLs carry tokens), status and latency,
/// and the cause of every 500.
async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%method, %path, status = status.as_u16(), ms, cause = %cause, "request failed");
    } else {
        tracing::debug!(%method, %path, status = status.as_u16(), ms, "request");
    }
    response
}

/// Rewrites API errors that axum's own extractors answer in plain text (a malformed path or
/// query string, say) into the `{"error", "code"}` envelope, so every `/v1` error has one shape.
async fn envelope_plain_errors(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/v1/");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("request failed").to_owned()
    } else {
        message
    };
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    };
    let body = contract::ErrorBody { error: message, code: code.to_owned() };
    let mut rebuilt = (status, axum::Json(body)).into_response();
    for (name, value) in
        parts.headers.iter().filter(|(n, _)| *n != header::CONTENT_TYPE && *n != header::CONTENT_LENGTH)
    {
        rebuilt.headers_mut().insert(name, value.clone());
    }
    rebuilt
}

/// Opens the stores named by `args` and loads secrets.
pub async fn build_state(args: &ServeArgs, public_url: String) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;
    let signing_secret = secrets::load_signing_secret(args.signing_secret.as_ref(), &args.data_dir)?;
    let sqlite = Arc::new(SqliteMeta::open(&args.data_dir.join("meta.sqlite")).await?);
    let meta: Arc<dyn MetaStore> = sqlite.clone();
    let saved_queries: Arc<dyn meta::saved_queries::SavedQueryStore> = sqlite.clone();
    let org_settings: Arc<dyn meta::org_settings::OrgSettingsStore> = sqlite.clone();
    let revocations = embed::Revocations::new(sqlite.clone());
    let dashboards: Arc<dyn DashboardStore> = Arc::new(CachedDashboards::new(sqlite));
    let events: Arc<dyn EventStore> = match (&args.events_url, args.events_store) {
        (Some(url), _) => Arc::new(events::clickhouse::ClickHouseStore::open(url).await?),
        (None, EventsBackend::Duckdb) => {
            let path = args.data_dir.join("events.duckdb");
            let limit = args.duckdb_memory_limit.clone();
            let rollup = args.duckdb_daily_rollup;
            Arc::new(tokio::task::spawn_blocking(move || DuckStore::open_with(&path, &limit, rollup)).await??)
        }
    };
    // The catalog is read after the store ran its migrations, so every relation is in it.
    let adhoc = adhoc::AdhocGuard::new(
        adhoc::Catalog::new(events.catalog().await?),
        args.adhoc_concurrency.unwrap_or_else(adhoc::AdhocGuard::default_global),
        args.adhoc_concurrency_per_org,
    );
    let public_url = public_url.trim_end_matches('/').to_owned();
    let origins = csrf::OriginPolicy::new(&public_url, args.public_url.is_none());
    Ok(AppState(Arc::new(App {
        adhoc,
        demo: args.demo,
        limits: limits::Limits::new(&args.limits),
        origins,
        secure_cookies: public_url.starts_with("https://"),
        usage: UsageRecorder::new(meta.clone()),
        key_cache: Default::default(),
        meta,
        events,
        dashboards,
        saved_queries,
        org_settings,
        framing: settings::FramingCache::default(),
        signing_secret,
        public_url,
        ingest_bounds: ingest::IngestBounds {
            max_age_days: args.ingest_max_age_days,
            max_future_secs: args.ingest_max_future_secs,
        },
        revocations,
        runtime_dir: args.runtime_dir.clone(),
        www_dir: args.www_dir.clone(),
        helper_dir: args.helper_dir.clone(),
    })))
}

/// A server running in this process.
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (stores included).
    pub state: AppState,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes in-flight requests, flushes and closes the stores.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await?
    }
}

/// Binds `args.bind`, opens the stores, seeds the demo when asked, and serves in the background.
pub async fn start(args: ServeArgs) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(args.bind).await.with_context(|| format!("binding {}", args.bind))?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let state = build_state(&args, public_url).await?;
    if args.demo {
        demo::seed_if_missing(&state, &args.data_dir)
            .await
            .map_err(|e| anyhow::anyhow!("seeding the demo: {e}"))?;
    }
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    Ok(RunningServer { addr, state, shutdown, task })
}

/// Serves until `shutdown` resolves, then drains requests and closes the stores.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let flusher = state.usage.spawn_flusher();
    let sweeper = limits::Limits::spawn_sweeper(state.clone());
    // The peer address is the client IP the rate limits key on.
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
    flusher.abort();
    sweeper.abort();
    if let Err(e) = state.usage.flush().await {
        tracing::warn!(error = %e, "final usage flush failed");
    }
    state.events.close().await;
    tokio::time::timeout(Duration::from_secs(5), state.meta.close()).await.ok();
    served.context("serving")
}
