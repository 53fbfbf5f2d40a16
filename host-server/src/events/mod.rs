//! The events store: ingest and analytics queries behind one trait, one module per engine.
//!
//! Frequent props live in their own columns ("materialized"), the rest in key/value lists, so the
//! common dashboards read narrow, well-compressed columns.

pub mod duckdb;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use contract::query::{Granularity, Metric};

use crate::error::Result;

/// String props stored as their own columns: the dimensions SaaS dashboards group and filter by.
pub const MATERIALIZED_STRING_PROPS: &[&str] = &["model", "endpoint", "status", "plan", "source"];
/// Numeric props stored as their own columns.
pub const MATERIALIZED_NUMERIC_PROPS: &[&str] = &["tokens", "latency_ms", "duration_ms", "cost", "amount"];

/// The org and environment every store operation is confined to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreScope {
    /// Org id.
    pub org_id: i64,
    /// Environment id.
    pub env_id: i64,
}

/// A validated event, ready to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Tenant.
    pub tenant_id: String,
    /// Event name.
    pub event_name: String,
    /// Event time, UTC.
    pub timestamp: DateTime<Utc>,
    /// The id: the client's, or generated.
    pub event_id: String,
    /// Whether `event_id` came from the client (only those take part in de-duplication).
    pub client_event_id: bool,
    /// End user.
    pub user_id: Option<String>,
    /// String props, sorted by key.
    pub string_props: Vec<(String, String)>,
    /// Numeric props, sorted by key.
    pub numeric_props: Vec<(String, f64)>,
}

/// How an insert went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InsertOutcome {
    /// Newly stored.
    pub stored: usize,
    /// Skipped as already stored.
    pub duplicates: usize,
}

/// A validated analytics query over `[from, to)`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySpec {
    /// Tenant (always required: every data path is tenant-scoped).
    pub tenant_id: String,
    /// Event name.
    pub event_name: String,
    /// What to compute.
    pub metric: Metric,
    /// The numeric prop for `sum`, `avg`, `p95`, `p99`.
    pub numeric_prop: Option<String>,
    /// Window start (inclusive).
    pub from: DateTime<Utc>,
    /// Window end (exclusive).
    pub to: DateTime<Utc>,
    /// Time-series bucket width.
    pub granularity: Option<Granularity>,
    /// String prop to group by.
    pub group_by: Option<String>,
    /// Exact-match string prop filters, sorted by key.
    pub filters: Vec<(String, String)>,
}

/// One aggregated row from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreRow {
    /// Bucket start, microseconds since the epoch (UTC).
    pub bucket: Option<i64>,
    /// Group value.
    pub group: Option<String>,
    /// Metric value.
    pub value: Option<f64>,
}

/// A store's answer to a [`QuerySpec`].
#[derive(Debug, Clone)]
pub struct StoreAnswer {
    /// Rows, unordered.
    pub rows: Vec<StoreRow>,
    /// Rows read to answer.
    pub rows_scanned: u64,
    /// Table that answered.
    pub source_table: String,
    /// `raw`, `hourly_rollup` or `daily_rollup`.
    pub planned_by: &'static str,
    /// The rollup's granularity, when one answered.
    pub rollup_granularity: Option<&'static str>,
}

/// Per-event-name facts for `/v1/onboarding/status` and discovery.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    /// Events stored for the org (all environments).
    pub events: u64,
}

/// An events store.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores a batch atomically and durably (all or none), skipping events whose client
    /// `event_id` is already stored for the scope or repeated in the batch.
    async fn insert(&self, scope: StoreScope, events: Vec<NewEvent>) -> Result<InsertOutcome>;
    /// Runs an analytics query.
    async fn query(&self, scope: StoreScope, spec: &QuerySpec) -> Result<StoreAnswer>;
    /// Counts an org's events across environments.
    async fn count_org_events(&self, org_id: i64) -> Result<u64>;
    /// Flushes and closes.
    async fn close(&self);
}

/// Whether `key` is usable as a prop name in a query: non-empty, at most 200 characters,
/// no control characters. (Values are always bound as parameters, never spliced.)
pub fn valid_prop_key(key: &str) -> bool {
    !key.is_empty() && key.chars().count() <= 200 && !key.chars().any(char::is_control)
}
