//! Shared application state: the stores, chosen once at start-up, and settings.

use std::{ops::Deref, sync::Arc};

use crate::{
    events::EventStore,
    meta::{MetaStore, dashboards::DashboardStore},
    secrets::Secret,
    usage::UsageRecorder,
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
    pub adhoc: crate::adhoc::AdhocGuard,
    /// Dashboards, standalone widgets and embed-session audit rows (cached, group-committed).
    pub dashboards: Arc<dyn DashboardStore>,
    /// Saved ad-hoc SQL snippets.
    pub saved_queries: Arc<dyn crate::meta::saved_queries::SavedQueryStore>,
    /// Org settings (details, embedding).
    pub org_settings: Arc<dyn crate::meta::org_settings::OrgSettingsStore>,
    /// The orgs' framing lists, cached for the embed page.
    pub framing: crate::settings::FramingCache,
    /// Signs embed tokens.
    pub signing_secret: Secret,
    /// Base URL browsers use, without a trailing slash.
    pub public_url: String,
    /// Whether cookies get `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Buffered usage counters.
    pub usage: UsageRecorder,
    /// Verified API keys (see `keys::KeyCache`).
    pub key_cache: crate::keys::KeyCache,
    /// Event times ingest accepts (`--ingest-max-age-days`, `--ingest-max-future-secs`).
    pub ingest_bounds: crate::ingest::IngestBounds,
    /// Embed-session revocations, cached (see `embed::revocation`).
    pub revocations: crate::embed::Revocations,
    /// The built embed runtime's directory (`--runtime-dir`).
    pub runtime_dir: std::path::PathBuf,
    /// The live demo's pages (`--www-dir`), served at `/`.
    pub www_dir: std::path::PathBuf,
    /// The helper's built npm package (`--helper-dir`), served at `/helper/`.
    pub helper_dir: std::path::PathBuf,
    /// Whether the demo is on (`--demo`): its public embed URL answers only then.
    pub demo: bool,
    /// Rate limits, the password-hashing pool and failed-login backoff.
    pub limits: crate::limits::Limits,
    /// Which `Origin` a cookie-authenticated change must come from.
    pub origins: crate::csrf::OriginPolicy,
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
