//! Dashboards, standalone widgets and embed-session audit rows behind one trait, plus
//! [`CachedDashboards`], the wrapper the server runs on: embeds read dashboards from memory and
//! thousands of embed-session audit rows share one durable commit.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use contract::dashboard::{DashboardConfig, Widget};
use tokio::sync::{mpsc, oneshot};

use super::AuditEntry;
use crate::error::{AppError, Result};

/// A stored dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardRecord {
    /// UUID.
    pub id: String,
    /// Owning org.
    pub org_id: i64,
    /// Owning environment.
    pub env_id: i64,
    /// Display name.
    pub name: String,
    /// The draft.
    pub config: DashboardConfig,
    /// The last published snapshot (kept after an unpublish).
    pub published_config: Option<DashboardConfig>,
    /// Whether embeds show `published_config`.
    pub is_published: bool,
    /// Last publish time.
    pub published_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency counter, bumped by every save.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A stored standalone widget.
#[derive(Debug, Clone, PartialEq)]
pub struct WidgetRecord {
    /// UUID.
    pub id: String,
    /// Owning org.
    pub org_id: i64,
    /// Owning environment.
    pub env_id: i64,
    /// The draft.
    pub config: Widget,
    /// The last published snapshot.
    pub published_config: Option<Widget>,
    /// Last publish time.
    pub published_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency counter, bumped by every save.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What an optimistic save found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Stored with the new version.
    Saved,
    /// No such record (deleted, or never in this org and environment).
    Missing,
    /// Another write changed it first: its version is no longer the expected one.
    Stale,
}

/// An audit row to append.
#[derive(Debug, Clone)]
pub struct NewAuditRow {
    /// Org.
    pub org_id: i64,
    /// `user:<email>`, `api_key:<id>` or `demo`.
    pub actor: String,
    /// E.g. `embed_session.create`.
    pub action: String,
    /// What it acted on, e.g. `dashboard:<id>`.
    pub resource: String,
    /// Action-specific details as JSON text (never a token).
    pub details: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The audit action of a minted embed session.
pub const EMBED_SESSION_CREATE: &str = "embed_session.create";

/// Dashboards, standalone widgets and the audit reads embed sessions need. Every method is
/// confined to one org and environment.
#[async_trait]
pub trait DashboardStore: Send + Sync + 'static {
    /// The environment's dashboards, newest first.
    async fn list_dashboards(&self, org_id: i64, env_id: i64) -> Result<Vec<DashboardRecord>>;
    /// One dashboard (shared: embeds read it on every request).
    async fn dashboard(&self, org_id: i64, env_id: i64, id: &str) -> Result<Option<Arc<DashboardRecord>>>;
    /// Stores a new dashboard.
    async fn create_dashboard(&self, record: &DashboardRecord) -> Result<()>;
    /// Replaces a dashboard's mutable fields if its stored version is still `expected_version`
    /// (the record carries the new version); says whether it was saved, is gone, or changed.
    async fn save_dashboard(&self, record: &DashboardRecord, expected_version: i64) -> Result<SaveOutcome>;
    /// Deletes a dashboard; `false` when there is none.
    async fn delete_dashboard(&self, org_id: i64, env_id: i64, id: &str) -> Result<bool>;
    /// Like `save_dashboard`, for a publish: refused (nothing written) when the dashboard is not
    /// published yet and the org already has `published_cap` published dashboards, counted and
    /// written in one statement so concurrent publishes cannot both pass.
    async fn save_dashboard_capped(
        &self,
        record: &DashboardRecord,
        expected_version: i64,
        published_cap: Option<i64>,
    ) -> Result<super::billing::Capped<SaveOutcome>>;

    /// The environment's standalone widgets, newest first.
    async fn list_widgets(&self, org_id: i64, env_id: i64) -> Result<Vec<WidgetRecord>>;
    /// One standalone widget.
    async fn widget(&self, org_id: i64, env_id: i64, id: &str) -> Result<Option<WidgetRecord>>;
    /// Stores a new standalone widget.
    async fn create_widget(&self, record: &WidgetRecord) -> Result<()>;
    /// Like [`DashboardStore::save_dashboard`], for a standalone widget.
    async fn save_widget(&self, record: &WidgetRecord, expected_version: i64) -> Result<SaveOutcome>;
    /// Deletes a standalone widget; `false` when there is none.
    async fn delete_widget(&self, org_id: i64, env_id: i64, id: &str) -> Result<bool>;

    /// Appends audit rows in one transaction, durably.
    async fn append_audit(&self, rows: Vec<NewAuditRow>) -> Result<()>;
    /// Deletes the org's audit rows by `actor` but the newest `keep`; returns how many went.
    async fn prune_audit(&self, org_id: i64, actor: &str, keep: u32) -> Result<u64>;
    /// The org's newest `embed_session.create` rows for the environment whose session expires
    /// after `now_unix`, newest first.
    async fn active_embed_sessions(
        &self,
        org_id: i64,
        env_id: i64,
        now_unix: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>>;
    /// Drops what this store keeps in memory for the org, after the org was deleted (the
    /// database itself already forgot it).
    fn forget_org(&self, org_id: i64);
}

type CacheKey = (i64, i64, String);

/// Most dashboards kept in memory; the cache is emptied when it fills.
const CACHE_CAPACITY: usize = 10_000;
/// Most audit rows one group commit takes.
const AUDIT_BATCH_ROWS: usize = 2_000;

struct AuditJob {
    rows: Vec<NewAuditRow>,
    reply: oneshot::Sender<Result<(), String>>,
}

/// Wraps a [`DashboardStore`]: dashboards read through a cache invalidated by every write made
/// through this wrapper (the server is the only writer), and audit rows are group-committed by
/// one background task, each caller answered once its row is durable.
pub struct CachedDashboards {
    inner: Arc<dyn DashboardStore>,
    cache: Mutex<HashMap<CacheKey, Arc<DashboardRecord>>>,
    /// Bumped by every invalidation, so a read that raced a write does not cache stale data.
    generation: AtomicU64,
    audit: mpsc::Sender<AuditJob>,
}

impl CachedDashboards {
    /// Wraps `inner`; spawns the audit writer on the current Tokio runtime.
    pub fn new(inner: Arc<dyn DashboardStore>) -> Self {
        let (audit, rx) = mpsc::channel(4096);
        tokio::spawn(audit_writer(inner.clone(), rx));
        CachedDashboards { inner, cache: Mutex::new(HashMap::new()), generation: AtomicU64::new(0), audit }
    }

    fn invalidate(&self, key: &CacheKey) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(key);
        }
    }
}

async fn audit_writer(store: Arc<dyn DashboardStore>, mut rx: mpsc::Receiver<AuditJob>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut rows = jobs[0].rows.len();
        while rows < AUDIT_BATCH_ROWS {
            match rx.try_recv() {
                Ok(job) => {
                    rows += job.rows.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let mut all = Vec::with_capacity(rows);
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            all.extend(job.rows);
            replies.push(job.reply);
        }
        let outcome = store.append_audit(all).await.map_err(|e| format!("{e:#}"));
        for reply in replies {
            let _ = reply.send(outcome.clone());
        }
    }
}

#[async_trait]
impl DashboardStore for CachedDashboards {
    fn forget_org(&self, org_id: i64) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(org, _, _), _| *org != org_id);
        }
        self.inner.forget_org(org_id);
    }

    async fn list_dashboards(&self, org_id: i64, env_id: i64) -> Result<Vec<DashboardRecord>> {
        self.inner.list_dashboards(org_id, env_id).await
    }

    async fn dashboard(&self, org_id: i64, env_id: i64, id: &str) -> Result<Option<Arc<DashboardRecord>>> {
        let key = (org_id, env_id, id.to_owned());
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(Some(hit));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let found = self.inner.dashboard(org_id, env_id, id).await?;
        if let Some(record) = &found
            && let Ok(mut cache) = self.cache.lock()
            && self.generation.load(Ordering::SeqCst) == generation
        {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key, record.clone());
        }
        Ok(found)
    }

    async fn create_dashboard(&self, record: &DashboardRecord) -> Result<()> {
        self.inner.create_dashboard(record).await
    }

    async fn save_dashboard(&self, record: &DashboardRecord, expected_version: i64) -> Result<SaveOutcome> {
        let key = (record.org_id, record.env_id, record.id.clone());
        self.invalidate(&key);
        let saved = self.inner.save_dashboard(record, expected_version).await;
        self.invalidate(&key);
        saved
    }

    async fn save_dashboard_capped(
        &self,
        record: &DashboardRecord,
        expected_version: i64,
        published_cap: Option<i64>,
    ) -> Result<super::billing::Capped<SaveOutcome>> {
        let key = (record.org_id, record.env_id, record.id.clone());
        self.invalidate(&key);
        let saved = self.inner.save_dashboard_capped(record, expected_version, published_cap).await;
        self.invalidate(&key);
        saved
    }

    async fn delete_dashboard(&self, org_id: i64, env_id: i64, id: &str) -> Result<bool> {
        let key = (org_id, env_id, id.to_owned());
        self.invalidate(&key);
        let deleted = self.inner.delete_dashboard(org_id, env_id, id).await;
        self.invalidate(&key);
        deleted
    }

    async fn list_widgets(&self, org_id: i64, env_id: i64) -> Result<Vec<WidgetRecord>> {
        self.inner.list_widgets(org_id, env_id).await
    }

    async fn widget(&self, org_id: i64, env_id: i64, id: &str) -> Result<Option<WidgetRecord>> {
        self.inner.widget(org_id, env_id, id).await
    }

    async fn create_widget(&self, record: &WidgetRecord) -> Result<()> {
        self.inner.create_widget(record).await
    }

    async fn save_widget(&self, record: &WidgetRecord, expected_version: i64) -> Result<SaveOutcome> {
        self.inner.save_widget(record, expected_version).await
    }

    async fn delete_widget(&self, org_id: i64, env_id: i64, id: &str) -> Result<bool> {
        self.inner.delete_widget(org_id, env_id, id).await
    }

    async fn append_audit(&self, rows: Vec<NewAuditRow>) -> Result<()> {
        let (reply, done) = oneshot::channel();
        self.audit
            .send(AuditJob { rows, reply })
            .await
            .map_err(|_| AppError::Internal(anyhow!("audit writer has stopped")))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(AppError::Internal(anyhow!("writing audit rows: {message}"))),
            Err(_) => Err(AppError::Internal(anyhow!("audit writer dropped the rows"))),
        }
    }

    async fn prune_audit(&self, org_id: i64, actor: &str, keep: u32) -> Result<u64> {
        self.inner.prune_audit(org_id, actor, keep).await
    }

    async fn active_embed_sessions(
        &self,
        org_id: i64,
        env_id: i64,
        now_unix: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        self.inner.active_embed_sessions(org_id, env_id, now_unix, limit).await
    }
}
