//! Shared application state: the stores, chosen once at start-up, and settings.

use std::{ops::Deref, sync::Arc};

use crate::{
    analytics::adhoc::AdhocGuard,
    auth::{api_keys::KeyCache, origins::OriginPolicy},
    billing::Billing,
    clock::Clock,
    events::EventStore,
    ingest::IngestBounds,
    limits::Limits,
    meta::{
        MetaStore, alerts::AlertStore, dashboards::DashboardStore, jobs::JobStore, members::MemberStore,
        org_settings::OrgSettingsStore, reports::ReportStore, revocations::Revocations,
        saved_queries::SavedQueryStore, usage::UsageRecorder, webhooks::WebhookStore,
    },
    outbox::WebhookPolicy,
    secrets::Secret,
    settings::FramingCache,
};

/// Cheap to clone: every handler gets one.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

/// What the server runs on.
pub struct App {
    /// Metadata store.
    pub meta: Arc<dyn MetaStore>,
    /// Events store.
    pub events: Arc<dyn EventStore>,
    /// Ad-hoc SQL admission: the engine's catalog and concurrency limits.
    pub adhoc: AdhocGuard,
    /// Dashboards, standalone widgets and embed-session audit rows (cached, group-committed).
    pub dashboards: Arc<dyn DashboardStore>,
    /// Members and invites.
    pub members: Arc<dyn MemberStore>,
    /// Saved ad-hoc SQL snippets.
    pub saved_queries: Arc<dyn SavedQueryStore>,
    /// Org settings (details, embedding).
    pub org_settings: Arc<dyn OrgSettingsStore>,
    /// The orgs' framing lists, cached for the embed page.
    pub framing: FramingCache,
    /// Signs embed tokens.
    pub signing_secret: Secret,
    /// Base URL browsers use, without a trailing slash.
    pub public_url: String,
    /// Whether cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Buffered usage counters.
    pub usage: UsageRecorder,
    /// Verified API keys (see `auth::api_keys::KeyCache`).
    pub key_cache: KeyCache,
    /// Event times ingest accepts (`--ingest-max-age-days`, `--ingest-max-future-secs`).
    pub ingest_bounds: IngestBounds,
    /// Embed-session revocations, cached (see `meta::revocations`).
    pub revocations: Revocations,
    /// The built embed runtime's directory (`--runtime-dir`).
    pub runtime_dir: std::path::PathBuf,
    /// The live demo's pages (`--www-dir`), served at `/`.
    pub www_dir: std::path::PathBuf,
    /// The helper's built npm package (`--helper-dir`), served at `/helper/`.
    pub helper_dir: std::path::PathBuf,
    /// The server's mail (`--smtp-url`), if configured.
    pub mailer: Option<crate::delivery::email::Mailer>,
    /// How long invite links work.
    pub invite_ttl: chrono::Duration,
    /// Whether the demo is on (`--demo`): its public embed URL answers only then.
    pub demo: bool,
    /// Rate limits, the password-hashing pool and failed-login backoff.
    pub limits: Limits,
    /// Which `Origin` a cookie-authenticated change must come from.
    pub origins: OriginPolicy,
    /// Plans, their limits and Paddle (`billing`).
    pub billing: Arc<Billing>,
    /// Alert rules, their states and events.
    pub alerts: Arc<dyn AlertStore>,
    /// Scheduled report rules and their runs.
    pub reports: Arc<dyn ReportStore>,
    /// The scheduler's durable jobs.
    pub jobs: Arc<dyn JobStore>,
    /// The webhook outbox and signing secrets.
    pub webhooks: Arc<dyn WebhookStore>,
    /// The scheduler's clock (frozen under `--test-clock`).
    pub clock: Arc<Clock>,
    /// How webhooks are sent and retried.
    pub webhook_policy: WebhookPolicy,
    /// This process's name on the scheduler's leases.
    pub scheduler_owner: String,
    /// How often each alert is evaluated.
    pub alert_interval: chrono::Duration,
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
