//! Wiring: which stores a server runs on (SQLite metadata; DuckDB or ClickHouse events), chosen
//! once from the flags, and the state every handler shares.

use std::sync::Arc;

use anyhow::Context;

use crate::{
    analytics::adhoc::{AdhocGuard, Catalog},
    auth::origins::OriginPolicy,
    billing::Billing,
    clock::Clock,
    config::{EventsBackend, ServeArgs},
    delivery::{ssrf::SsrfGuard, webhook::WebhookSender},
    embed::LEEWAY_SECS,
    events::{self, EventStore, duckdb::DuckStore},
    ingest::IngestBounds,
    limits::Limits,
    meta::{
        self, MetaStore,
        dashboards::{CachedDashboards, DashboardStore},
        revocations::Revocations,
        sqlite::SqliteMeta,
        usage::UsageRecorder,
    },
    outbox::{self, WebhookPolicy},
    secrets,
    settings::FramingCache,
    state::{App, AppState},
};

/// Opens the stores named by `args` and loads secrets.
pub async fn build_state(args: &ServeArgs, public_url: String) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data dir {}", args.data_dir.display()))?;
    let signing_secret = secrets::load_signing_secret(args.signing_secret.as_ref(), &args.data_dir)?;
    let sqlite = Arc::new(SqliteMeta::open(&args.data_dir.join("meta.sqlite")).await?);
    let meta: Arc<dyn MetaStore> = sqlite.clone();
    let saved_queries: Arc<dyn meta::saved_queries::SavedQueryStore> = sqlite.clone();
    let members: Arc<dyn meta::members::MemberStore> = sqlite.clone();
    let org_settings: Arc<dyn meta::org_settings::OrgSettingsStore> = sqlite.clone();
    let billing_store: Arc<dyn meta::billing::BillingStore> = sqlite.clone();
    let alerts: Arc<dyn meta::alerts::AlertStore> = sqlite.clone();
    let reports: Arc<dyn meta::reports::ReportStore> = sqlite.clone();
    let jobs: Arc<dyn meta::jobs::JobStore> = sqlite.clone();
    let webhooks: Arc<dyn meta::webhooks::WebhookStore> = sqlite.clone();
    let revocations = Revocations::new(sqlite.clone(), LEEWAY_SECS);
    let dashboards: Arc<dyn DashboardStore> = Arc::new(CachedDashboards::new(sqlite));
    let dedup_window = events::dedup::DedupWindow { days: args.dedup_window_days };
    let events: Arc<dyn EventStore> = match (&args.events_url, args.events_store) {
        (Some(url), _) => Arc::new(events::clickhouse::ClickHouseStore::open_with(url, dedup_window).await?),
        (None, EventsBackend::Duckdb) => {
            let path = args.data_dir.join("events.duckdb");
            let options = events::duckdb::DuckOptions {
                memory_limit: args.duckdb_memory_limit.clone(),
                checkpoint_threshold: Some(args.duckdb_checkpoint_threshold.clone()),
                daily_rollup: args.duckdb_daily_rollup,
                dedup_window,
            };
            Arc::new(tokio::task::spawn_blocking(move || DuckStore::open_opts(&path, &options)).await??)
        }
    };
    // The catalog is read after the store ran its migrations, so every relation is in it.
    let adhoc = AdhocGuard::new(
        Catalog::new(events.catalog().await?),
        args.adhoc_concurrency.unwrap_or_else(AdhocGuard::default_global),
        args.adhoc_concurrency_per_org,
    );
    let public_url = public_url.trim_end_matches('/').to_owned();
    let clock = match args.test_clock.as_deref() {
        None => Clock::System,
        Some("now") => Clock::manual(chrono::Utc::now()),
        Some(t) => Clock::manual(
            chrono::DateTime::parse_from_rfc3339(t).context("--test-clock: not an RFC 3339 time")?.to_utc(),
        ),
    };
    let webhook_policy = WebhookPolicy {
        sender: WebhookSender::new(SsrfGuard::new(args.webhook_allow_cidrs.clone())),
        retry_delays: outbox::parse_schedule(&args.webhook_retry_schedule)
            .map_err(|e| anyhow::anyhow!("--webhook-retry-schedule: {e}"))?,
    };
    let origins = OriginPolicy::new(&public_url, args.public_url.is_none());
    let usage = UsageRecorder::new(meta.clone());
    let billing = Arc::new(Billing::new(&args.billing, billing_store, meta.clone(), usage.clone())?);
    Ok(AppState(Arc::new(App {
        billing,
        adhoc,
        demo: args.demo,
        mailer: args
            .smtp_url
            .as_deref()
            .map(|url| crate::delivery::email::Mailer::new(url, &args.smtp_from))
            .transpose()?,
        invite_ttl: chrono::Duration::days(i64::from(args.invite_ttl_days)),
        limits: Limits::new(&args.limits),
        origins,
        secure_cookies: public_url.starts_with("https://"),
        usage,
        key_cache: Default::default(),
        meta,
        events,
        dashboards,
        saved_queries,
        members,
        org_settings,
        framing: FramingCache::default(),
        signing_secret,
        public_url,
        ingest_bounds: IngestBounds {
            max_age_days: args.ingest_max_age_days,
            max_future_secs: args.ingest_max_future_secs,
        },
        revocations,
        runtime_dir: args.runtime_dir.clone(),
        www_dir: args.www_dir.clone(),
        helper_dir: args.helper_dir.clone(),
        alerts,
        reports,
        jobs,
        webhooks,
        clock: Arc::new(clock),
        webhook_policy,
        scheduler_owner: format!("emban-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        alert_interval: chrono::Duration::seconds(i64::from(args.alert_interval_secs)),
    })))
}
