//! The scheduler's durable jobs: every alert evaluation and report run is one row with its due
//! time, lease, attempts and outcome (SQLite: `sqlite/jobs.rs`; rules in docs/alerts.md).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Evaluate an alert.
    Alert,
    /// Run a report.
    Report,
}

impl JobKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Alert => "alert",
            JobKind::Report => "report",
        }
    }
}

/// One job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// Alert or report.
    pub kind: JobKind,
    /// The alert's or report's id.
    pub target_id: i64,
    /// Org.
    pub org_id: i64,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Attempts so far (this one included, once claimed).
    pub attempts: i64,
}

/// Storage of the scheduler's jobs. A target has at most one open job.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Makes the target's open job due at `due_at` (creating it when there is none).
    async fn schedule_job(
        &self,
        kind: JobKind,
        target_id: i64,
        org_id: i64,
        due_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Closes the target's open job as `cancelled` (the rule was disabled or deleted).
    async fn cancel_jobs(&self, kind: JobKind, target_id: i64, now: DateTime<Utc>) -> Result<()>;
    /// The target's open job's due time.
    async fn open_job_due(&self, kind: JobKind, target_id: i64) -> Result<Option<DateTime<Utc>>>;
    /// Claims up to `limit` due jobs whose lease is free or expired, for `owner` until
    /// `lease_until`, in one statement (so two processes never both hold one).
    async fn claim_jobs(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Job>>;
    /// Closes a claimed job with `outcome` (`done`, `failed`, `cancelled`); false when `owner`
    /// no longer holds it.
    async fn finish_job(
        &self,
        id: i64,
        owner: &str,
        outcome: &str,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Gives a claimed job back, due again at `retry_at` (a failed attempt).
    async fn retry_job(&self, id: i64, owner: &str, error: &str, retry_at: DateTime<Utc>) -> Result<()>;
    /// Deletes closed jobs finished before `before`.
    async fn prune_jobs(&self, before: DateTime<Utc>) -> Result<u64>;
}
