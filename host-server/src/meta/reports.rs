//! Scheduled report rules and their runs (`/v1/reports`): the records and their store trait
//! (SQLite: `sqlite/reports.rs`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{error::Result, meta::billing::Capped};

/// One report rule, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRule {
    /// Id (0 before it is created).
    pub id: i64,
    /// Owning org.
    pub org_id: i64,
    /// The environment whose dashboard and events it reads.
    pub env_id: i64,
    /// Dashboard.
    pub dashboard_id: String,
    /// Whose data.
    pub tenant_id: String,
    /// Display name (the mail subject).
    pub name: String,
    /// The filter period (`24h`, `7d`...).
    pub period: String,
    /// Exact-match dimension filters.
    pub filters: BTreeMap<String, String>,
    /// Cron expression (5 or 6 fields).
    pub schedule: String,
    /// IANA time zone the schedule is read in.
    pub timezone: String,
    /// `csv` (`png`, `pdf` later).
    pub format: String,
    /// Mail recipients.
    pub email_to: Vec<String>,
    /// Webhook target.
    pub webhook_url: Option<String>,
    /// Runs at all.
    pub enabled: bool,
    /// Skip delivery when every widget is empty.
    pub skip_if_empty: bool,
    /// Who created it.
    pub created_by: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One run of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRun {
    /// Id (0 before it is stored).
    pub id: i64,
    /// Report.
    pub report_id: i64,
    /// Org.
    pub org_id: i64,
    /// The schedule's instant this run is for.
    pub scheduled_for: DateTime<Utc>,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// `running`, `succeeded`, `failed`, `skipped`.
    pub status: String,
    /// Mail outcome.
    pub email_status: Option<String>,
    /// The webhook delivery's status, read from the outbox.
    pub webhook_status: Option<String>,
    /// What went wrong, summed up.
    pub error: Option<String>,
    /// Size of the rendered export.
    pub bytes: Option<i64>,
}

/// Storage of report rules and runs; rule methods are confined to one org.
#[async_trait]
pub trait ReportStore: Send + Sync + 'static {
    /// The org's reports, newest first.
    async fn list_reports(&self, org_id: i64) -> Result<Vec<ReportRule>>;
    /// One of the org's reports.
    async fn report(&self, org_id: i64, id: i64) -> Result<Option<ReportRule>>;
    /// Any org's report, for the scheduler.
    async fn report_by_id(&self, id: i64) -> Result<Option<ReportRule>>;
    /// Stores a new rule and returns it with its id.
    async fn create_report(&self, rule: &ReportRule, cap: Option<i64>) -> Result<Capped<ReportRule>>;
    /// Replaces a rule's fields; whether it existed.
    async fn update_report(&self, rule: &ReportRule) -> Result<bool>;
    /// Deletes one (runs with it); whether it existed.
    async fn delete_report(&self, org_id: i64, id: i64) -> Result<bool>;
    /// Stores a run; returns its id.
    async fn add_report_run(&self, run: &ReportRun) -> Result<i64>;
    /// Writes a run's outcome (status, finish, mail outcome, error, size).
    async fn finish_report_run(&self, run: &ReportRun) -> Result<()>;
    /// The report's newest runs, with their webhook outcome.
    async fn report_runs(&self, report_id: i64, limit: u32) -> Result<Vec<ReportRun>>;
}
