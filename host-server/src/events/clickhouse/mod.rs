//! The scale-out events store: ClickHouse over its HTTP interface.
//!
//! Runs on Debian's ClickHouse 18.16 and on current releases, so it uses only what both accept:
//! no `Map`, no `DateTime64`, no query parameters (values are spliced as escaped literals; prop
//! names never reach SQL except as escaped literals), no window functions.
//!
//! - Writes: one writer task drains every batch waiting in its queue into a group commit: one
//!   `INSERT … FORMAT RowBinary` per org and month partition (so one org's data can never fail
//!   another org's insert, and no insert spans partitions), keeps up to two groups under way (one
//!   being written while the next accumulates and is sent), and answers each request only after
//!   ClickHouse acknowledged its org's inserts (synchronous inserts, never `async_insert`).
//! - De-duplication of client `event_id`s: as in the DuckDB store, the writer keeps the
//!   fingerprints of the (org, env, client event id)s that arrived within the window, read back
//!   from `dedup_ids` at start (a view on `events` fills it in the same INSERT), and drops repeats
//!   before inserting. This assumes one Emban writer per ClickHouse database.
//! - Rollups: `events_hourly` and `events_daily` (AggregatingMergeTree) kept up to date by
//!   materialized views, keyed by (org, env, tenant, event, bucket, model, endpoint, status, plan,
//!   source) with `countState` and `uniqCombinedStateIf(14)` of `user_id`. The planner
//!   ([`plan`]) routes queries to them only when the answer is the same as from raw events.
//!
//! Rooms, as in the DuckDB store: `client` (HTTP, literals), `schema` (tables, views,
//! migrations), `writer` (RowBinary, group commit), `query` (planning, SQL, discovery), `adhoc`
//! (ad-hoc SQL and its engine filters); this file holds the store and the trait.

mod adhoc;
mod client;
mod query;
mod schema;
mod writer;

pub use adhoc::{MAX_BYTES_TO_READ, MAX_MEMORY_BYTES, MAX_ROWS_TO_READ, ScopedTable, table_filters};
pub use client::{ClickHouseClient, ClickHouseUrl, JsonAnswer, ServerError, literal, parse_json_compact};
use client::{json_f64, json_i64, json_string, json_u64};
pub use query::{plan, query_sql};
use schema::combinator;
pub use schema::{
    APPROX_UNIQ, DEDUP_TABLE, MIGRATIONS, ROLLUP_SCHEMA, ROLLUPS, RollupSchema, create_events_sql,
    create_rollup_sql, migrate, migrate_to, relation_names,
};
use writer::writer_loop;
pub use writer::{encode_event, insert_columns};

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use contract::{
    discover::{DiscoveredEvent, DiscoveredNumericProp, DiscoveredStringProp, SampleValue},
    query::{Granularity, Metric},
};
use serde_json::Value as Json;
use tokio::{sync::mpsc, task::JoinSet};

use super::{
    AdhocLimits, AdhocResult, DatasetInfo, EventStore, InsertOutcome, MATERIALIZED_NUMERIC_PROPS,
    MATERIALIZED_STRING_PROPS, NewEvent, NumericRangeFilter, QuerySpec, SqlDialect, StoreAnswer, StoreRow,
    StoreScope,
    dedup::{self, DedupSet, DedupWindow, GroupPlan},
    planner::{self, RollupMetrics},
    queue::{WriteJob, WriteQueue},
};

pub use super::planner::Plan;
use crate::error::{AppError, Result};

/// ClickHouse-backed [`EventStore`].
pub struct ClickHouseStore {
    client: ClickHouseClient,
    jobs: WriteQueue,
    writer: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// `SELECT version()` at start.
    version: String,
    /// Tables for `additional_table_filters`, once read (`adhoc::engine_filter_tables`).
    engine_filters: tokio::sync::OnceCell<Option<Vec<adhoc::ScopedTable>>>,
}

impl ClickHouseStore {
    /// Deletes the org's rows from the events table and every rollup, then waits (up to a
    /// minute) until ClickHouse has applied the mutations, so no query sees them afterwards.
    async fn delete_org_rows(&self, org_id: i64) -> Result<()> {
        let mut tables = vec!["events".to_owned()];
        tables.extend(schema::ROLLUPS.iter().map(|(table, _, _)| (*table).to_owned()));
        tables.push(DEDUP_TABLE.to_owned());
        for table in &tables {
            self.client.execute(&format!("ALTER TABLE {table} DELETE WHERE org_id = {org_id}")).await?;
        }
        let database = client::literal(self.client.database());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let pending = self
                .client
                .select(
                    &format!(
                        "SELECT count() FROM system.mutations WHERE database = {database} AND is_done = 0"
                    ),
                    &[],
                )
                .await?;
            if pending.rows.first().and_then(|r| r.first()).and_then(json_u64).unwrap_or(0) == 0 {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "ClickHouse has not applied the org's deletion after a minute; it continues in the background"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Connects and creates or migrates the schema, with the default de-duplication window.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, DedupWindow::DEFAULT).await
    }

    /// Connects and creates or migrates the schema; the writer then reads the de-duplication
    /// window back before its first insert (queries are served at once).
    pub async fn open_with(url: &str, window: DedupWindow) -> anyhow::Result<Self> {
        let url = ClickHouseUrl::parse(url)?;
        let database = url.database.clone();
        let client = ClickHouseClient::new(url)?;
        // The database may not exist yet: create it from the always-present `default`.
        let bootstrap = client.for_database("default");
        bootstrap.execute(&format!("CREATE DATABASE IF NOT EXISTS {database}")).await?;
        let version = bootstrap
            .select("SELECT version()", &[])
            .await?
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(json_string)
            .unwrap_or_default();
        migrate(&client).await?;
        let (jobs, rx) = WriteQueue::new();
        let writer = tokio::spawn(writer_loop(client.clone(), rx, window));
        tracing::info!(%version, database = %client.database(), "ClickHouse events store ready");
        Ok(ClickHouseStore {
            client,
            jobs,
            writer: Mutex::new(Some(writer)),
            version,
            engine_filters: Default::default(),
        })
    }

    /// The server's version, as `SELECT version()` reported it at start.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The HTTP client (benchmarks and tests run SQL with it).
    pub fn client(&self) -> &ClickHouseClient {
        &self.client
    }
}

#[async_trait]
impl EventStore for ClickHouseStore {
    async fn insert(&self, scope: StoreScope, events: Vec<NewEvent>) -> Result<InsertOutcome> {
        self.jobs.submit(scope, events).await
    }

    async fn query(&self, scope: StoreScope, spec: &QuerySpec) -> Result<StoreAnswer> {
        self.run_query(scope, spec, &[]).await
    }

    async fn query_with_ranges(
        &self,
        scope: StoreScope,
        spec: &QuerySpec,
        ranges: &[NumericRangeFilter],
    ) -> Result<StoreAnswer> {
        self.run_query(scope, spec, ranges).await
    }

    async fn discover(&self, scope: StoreScope, tenant_id: Option<&str>) -> Result<Vec<DiscoveredEvent>> {
        self.discover_events(scope, tenant_id).await
    }

    async fn count_org_events(&self, org_id: i64) -> Result<u64> {
        let answer =
            self.client.select(&format!("SELECT count() FROM events WHERE org_id = {org_id}"), &[]).await?;
        Ok(answer.rows.first().and_then(|r| r.first()).and_then(json_u64).unwrap_or(0))
    }

    async fn delete_org(&self, org_id: i64) -> Result<()> {
        self.delete_org_rows(org_id).await
    }

    fn sql_dialect(&self) -> SqlDialect {
        SqlDialect::ClickHouse
    }

    async fn adhoc(&self, scope: StoreScope, sql: String, limits: AdhocLimits) -> Result<AdhocResult> {
        self.run_adhoc(scope, sql, limits).await
    }

    async fn catalog(&self) -> Result<Vec<String>> {
        self.catalog_names().await
    }

    async fn datasets(&self, scope: StoreScope) -> Result<Vec<DatasetInfo>> {
        let mut out = Vec::new();
        let cols = self
            .client
            .select(
                &format!(
                    "SELECT table, name, type FROM system.columns WHERE database = {} \
                     AND table IN ('events', 'events_hourly', 'events_daily')",
                    literal(self.client.database())
                ),
                &[],
            )
            .await?;
        let filter = format!("org_id = {} AND env_id = {}", scope.org_id, scope.env_id);
        for (name, engine, count_sql) in [
            ("events", "MergeTree", format!("SELECT count(), max(ts) FROM events WHERE {filter}")),
            (
                "events_hourly",
                "AggregatingMergeTree",
                format!("SELECT count(), max(bucket) FROM events_hourly WHERE {filter}"),
            ),
            (
                "events_daily",
                "AggregatingMergeTree",
                format!("SELECT count(), max(bucket) FROM events_daily WHERE {filter}"),
            ),
        ] {
            // The statement ClickHouse holds (after every migration), not our idea of it.
            let ddl = self
                .client
                .select(&format!("SHOW CREATE TABLE {name}"), &[])
                .await?
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(json_string)
                .unwrap_or_default()
                .replacen(&format!(" {}.{name} ", self.client.database()), &format!(" {name} "), 1);
            let stats = self.client.select(&count_sql, &[]).await?;
            let row = stats.rows.first();
            let rows = row.and_then(|r| r.first()).and_then(json_u64).unwrap_or(0);
            let updated_at = row.and_then(|r| r.get(1)).and_then(json_string).filter(|_| rows > 0);
            let columns = cols
                .rows
                .iter()
                .filter(|r| r.first().and_then(json_string).as_deref() == Some(name))
                .map(|r| {
                    (
                        r.get(1).and_then(json_string).unwrap_or_default(),
                        r.get(2).and_then(json_string).unwrap_or_default(),
                    )
                })
                .collect();
            let kind = if name == "events" { "table" } else { "materialized_view" };
            out.push(DatasetInfo {
                name: name.to_owned(),
                kind: kind.to_owned(),
                engine: engine.to_owned(),
                rows,
                bytes: None,
                updated_at,
                columns,
                ddl: format!(
                    "-- Rows visible to this org and environment only: org_id = {}, env_id = {}.\n{ddl}",
                    scope.org_id, scope.env_id
                ),
            });
        }
        Ok(out)
    }

    async fn close(&self) {
        self.jobs.close();
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }
}
