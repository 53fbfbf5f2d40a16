//! The events store: ingest and analytics queries behind one trait, one module per engine.
//!
//! Frequent props live in their own columns ("materialized"), the rest in key/value lists, so the
//! common dashboards read narrow, well-compressed columns.

pub mod clickhouse;
pub mod columnar;
pub mod dedup;
pub mod duckdb;
pub mod journal;
pub mod planner;
pub mod queue;

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
#[derive(Debug, Clone, PartialEq)]
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

/// An inclusive range on a numeric prop (the embed filter state's `numericRanges`). Events
/// without the prop do not match.
#[derive(Debug, Clone, PartialEq)]
pub struct NumericRangeFilter {
    /// Prop key.
    pub key: String,
    /// Lower bound (inclusive).
    pub min: Option<f64>,
    /// Upper bound (inclusive).
    pub max: Option<f64>,
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
    /// Deletes every event of the org (all environments) and its rollup rows; returns once no
    /// query can see them.
    async fn delete_org(&self, org_id: i64) -> Result<()>;
    /// Runs an analytics query with numeric range filters on top of the spec's exact-match ones.
    /// Engines that cannot filter by ranges refuse them (400) rather than ignore them.
    async fn query_with_ranges(
        &self,
        scope: StoreScope,
        spec: &QuerySpec,
        ranges: &[NumericRangeFilter],
    ) -> Result<StoreAnswer>;
    /// The scope's event types (most frequent first, at most 100) with their string props (top
    /// values and counts) and numeric props; one tenant's when `tenant_id` is given.
    async fn discover(
        &self,
        scope: StoreScope,
        tenant_id: Option<&str>,
    ) -> Result<Vec<contract::discover::DiscoveredEvent>>;
    /// The SQL dialect ad-hoc queries are parsed with (`POST /v1/query/adhoc`).
    fn sql_dialect(&self) -> SqlDialect;
    /// Runs an ad-hoc query that `adhoc::restrict` already checked and confined to `scope`:
    /// read-only, within `limits`. Engines that can also enforce `scope` themselves do.
    async fn adhoc(&self, scope: StoreScope, sql: String, limits: AdhocLimits) -> Result<AdhocResult>;
    /// Every relation (table, view, dictionary) name of the events database, for
    /// `adhoc::Catalog`: read at start-up, after migrations.
    async fn catalog(&self) -> Result<Vec<String>>;
    /// The datasets (tables and rollups) an org's admins may query, described as they see them.
    async fn datasets(&self, scope: StoreScope) -> Result<Vec<DatasetInfo>>;
    /// Flushes and closes.
    async fn close(&self);
}

/// A SQL dialect of an events engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    /// DuckDB.
    DuckDb,
    /// ClickHouse.
    ClickHouse,
}

/// Bounds of one ad-hoc query.
#[derive(Debug, Clone, Copy)]
pub struct AdhocLimits {
    /// Most rows returned; more set `truncated`.
    pub max_rows: usize,
    /// Most bytes of JSON in the rows; rows past it are cut and set `truncated`.
    pub max_bytes: usize,
    /// Wall-clock limit.
    pub timeout: std::time::Duration,
}

/// An ad-hoc query's answer.
#[derive(Debug, Clone, Default)]
pub struct AdhocResult {
    /// (name, engine type) per column.
    pub columns: Vec<(String, String)>,
    /// Rows, as JSON values.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Whether rows past `max_rows` were cut.
    pub truncated: bool,
}

/// Bytes `value` takes as JSON text, counted without writing it out.
pub fn json_size(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Bytes one answer row takes in a JSON array of rows: its values, the commas between them, its
/// brackets and the comma after it. The ad-hoc byte cap counts rows with this.
pub fn json_row_size(row: &[serde_json::Value]) -> usize {
    row.iter().map(json_size).sum::<usize>() + row.len() + 2
}

/// One queryable dataset, as an org sees it.
#[derive(Debug, Clone)]
pub struct DatasetInfo {
    /// Name to use in ad-hoc SQL.
    pub name: String,
    /// `table`, `view` or `materialized_view`.
    pub kind: String,
    /// Engine (`MergeTree`, `AggregatingMergeTree`, `DuckDB`).
    pub engine: String,
    /// Rows visible to the org and environment.
    pub rows: u64,
    /// Bytes, when the engine reports them per org (it usually cannot).
    pub bytes: Option<u64>,
    /// Newest event (or bucket) time visible, when there are rows.
    pub updated_at: Option<String>,
    /// (name, type) per column.
    pub columns: Vec<(String, String)>,
    /// The CREATE statement.
    pub ddl: String,
}

/// Whether `key` is usable as a prop name in a query: non-empty, at most 200 characters,
/// no control characters. (Values are always bound as parameters, never spliced.)
pub fn valid_prop_key(key: &str) -> bool {
    !key.is_empty() && key.chars().count() <= 200 && !key.chars().any(char::is_control)
}

/// The one tenant id rule (ingest, embed minting, queries), kept in `contract` so the SDKs apply
/// it too.
pub use contract::events::{MAX_TENANT_ID_CHARS, check_tenant_id};
