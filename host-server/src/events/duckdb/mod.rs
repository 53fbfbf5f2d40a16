//! The embedded events store: one DuckDB file in the data dir.
//!
//! Writes are journaled, then loaded ([`ingest`]): a request is answered once its batch is in
//! the fsynced ingest journal, and one loader thread, owning the write connection, appends the
//! journal's batches in large transactions. Reads use a small pool of connections to the same
//! database, and first wait for the loads to catch up with what was acknowledged.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    thread::JoinHandle,
};

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use contract::{
    discover::{DiscoveredEvent, DiscoveredNumericProp, DiscoveredStringProp, SampleValue},
    query::{Granularity, Metric},
};
use duckdb::{
    Config, Connection, ToSql,
    arrow::record_batch::RecordBatch,
    types::{TimeUnit, Value},
};

use super::{
    EventStore, InsertOutcome, MATERIALIZED_NUMERIC_PROPS, MATERIALIZED_STRING_PROPS, NewEvent,
    NumericRangeFilter, QuerySpec, StoreAnswer, StoreRow, StoreScope,
    dedup::{self, DedupWindow},
    journal::{Journal, record::EncodedEvents},
    planner::{self, Plan, RollupMetrics},
    queue::WriteQueue,
};
use crate::error::{AppError, Result};

mod adhoc;
pub mod checkpoint;
pub mod dedup_ids;
pub mod ingest;
pub mod rollup;

/// Rows per Arrow batch handed to the appender.
const APPEND_BATCH_ROWS: usize = 16_384;
/// Read connections kept open.
const READERS: usize = 4;

/// Tenant shards. Events live in `SHARDS` tables, each holding the tenants whose hash falls in
/// it, behind one `events` view: a tenant's query reads one shard, about 1/8 of the rows,
/// instead of every row group of one table in arrival order (DuckDB cannot skip row groups by
/// tenant when tenants are interleaved). Each commit opens one appender per shard it touches:
/// 64 shards measured 2.5x slower ingest than 8, for little more query speed.
pub const SHARDS: u64 = 8;

/// The shard table holding `tenant_id` of the org and environment.
pub fn shard_table(scope: StoreScope, tenant_id: &str) -> String {
    shard_name(shard_index(scope, tenant_id))
}

/// The number of the shard holding `tenant_id` of the org and environment.
pub fn shard_index(scope: StoreScope, tenant_id: &str) -> usize {
    let mut key = Vec::with_capacity(tenant_id.len() + 16);
    key.extend_from_slice(&scope.org_id.to_le_bytes());
    key.extend_from_slice(&scope.env_id.to_le_bytes());
    key.extend_from_slice(tenant_id.as_bytes());
    (xxhash_rust::xxh3::xxh3_64(&key) % SHARDS) as usize
}

fn shard_name(shard: usize) -> String {
    format!("events_s{shard:02}")
}

fn column_definitions() -> String {
    let mut columns = vec![
        "org_id BIGINT NOT NULL".to_owned(),
        "env_id BIGINT NOT NULL".to_owned(),
        "tenant_id VARCHAR NOT NULL".to_owned(),
        "event_name VARCHAR NOT NULL".to_owned(),
        "ts TIMESTAMP NOT NULL".to_owned(),
        "event_id VARCHAR NOT NULL".to_owned(),
        "client_event_id BOOLEAN NOT NULL".to_owned(),
        "user_id VARCHAR".to_owned(),
    ];
    columns.extend(MATERIALIZED_STRING_PROPS.iter().map(|k| format!("{} VARCHAR", string_column(k))));
    columns.extend(MATERIALIZED_NUMERIC_PROPS.iter().map(|k| format!("{} DOUBLE", numeric_column(k))));
    columns.extend(
        ["sp_keys VARCHAR[]", "sp_vals VARCHAR[]", "np_keys VARCHAR[]", "np_vals DOUBLE[]"].map(String::from),
    );
    columns.join(",\n  ")
}

/// The logical events table as readers see it (the `events` view has exactly these columns).
/// Column order is the appender's order.
pub fn create_table_sql() -> String {
    format!("CREATE TABLE events (\n  {}\n)", column_definitions())
}

/// The shard tables' names.
fn shard_names() -> Vec<String> {
    (0..SHARDS as usize).map(shard_name).collect()
}

/// Every relation this engine's schema creates: the shards, the `events` view and the rollup's
/// tables (ad-hoc SQL reserves them on every engine, see `adhoc::Catalog`).
pub fn relation_names() -> Vec<String> {
    let mut names = shard_names();
    names.push("events".to_owned());
    names.push(dedup_ids::TABLE.to_owned());
    names.push(ingest::JOURNAL_TABLE.to_owned());
    names.extend(rollup::relation_names());
    names
}

/// The physical schema: the shard tables and the `events` view over them.
pub fn create_schema_sql() -> String {
    let columns = column_definitions();
    let shards = shard_names();
    let mut sql: String =
        shards.iter().map(|t| format!("CREATE TABLE IF NOT EXISTS {t} (\n  {columns}\n);\n")).collect();
    let union: Vec<String> = shards.iter().map(|t| format!("SELECT * FROM {t}")).collect();
    sql.push_str(&format!("CREATE OR REPLACE VIEW events AS {};\n", union.join(" UNION ALL ")));
    sql
}

/// Appends rows in one transaction's worth of Arrow batches, each to its tenant's shard (the
/// benchmark's raw baseline; the writer appends [`PreparedBatch`]es).
pub fn append_rows(conn: &Connection, rows: &[(StoreScope, &NewEvent)]) -> anyhow::Result<()> {
    let mut by_shard: Vec<Vec<(StoreScope, &NewEvent)>> = vec![Vec::new(); SHARDS as usize];
    for (scope, event) in rows {
        by_shard[shard_index(*scope, &event.tenant_id)].push((*scope, *event));
    }
    for (shard, rows) in by_shard.into_iter().enumerate().filter(|(_, rows)| !rows.is_empty()) {
        let mut appender = conn.appender(&shard_name(shard))?;
        for chunk in rows.chunks(APPEND_BATCH_ROWS) {
            appender.append_record_batch(super::columnar::record_batch(chunk.iter().copied())?)?;
        }
        appender.flush()?;
    }
    Ok(())
}

/// A request's batch as the writer takes it, prepared on the request's own task (so in parallel,
/// off the single writer): each event's de-duplication key, and one Arrow batch per shard the
/// request touches, and the events as the journal writes them. The journal thread is left with the
/// dedup check and the journal write, the loader with the appends and the commit.
pub struct PreparedBatch {
    events: Vec<NewEvent>,
    keys: Vec<Option<u128>>,
    encoded: EncodedEvents,
    /// (shard, the indices of its events in `events`, those events as one Arrow batch).
    shards: Vec<(usize, Vec<u32>, RecordBatch)>,
}

impl PreparedBatch {
    /// Prepares `events` of `scope`.
    pub fn new(scope: StoreScope, events: Vec<NewEvent>) -> anyhow::Result<PreparedBatch> {
        let keys = dedup::keys(scope, &events);
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); SHARDS as usize];
        for (i, event) in events.iter().enumerate() {
            members[shard_index(scope, &event.tenant_id)].push(i as u32);
        }
        let mut shards = Vec::new();
        for (shard, members) in members.into_iter().enumerate().filter(|(_, m)| !m.is_empty()) {
            let batch = super::columnar::record_batch(members.iter().map(|&i| (scope, &events[i as usize])))?;
            shards.push((shard, members, batch));
        }
        let encoded = EncodedEvents::new(&events, None);
        Ok(PreparedBatch { events, keys, encoded, shards })
    }
}

fn string_column(key: &str) -> String {
    format!("s_{key}")
}

fn numeric_column(key: &str) -> String {
    format!("n_{key}")
}

/// The DuckDB settings of the events database (the benchmark opens its raw baseline with the
/// same): 2 threads and `memory_limit`.
pub fn duckdb_config(memory_limit: &str) -> duckdb::Result<Config> {
    Config::default().threads(2)?.max_memory(memory_limit)
}

/// The WAL size at which the events database is checkpointed unless configured
/// (`--duckdb-checkpoint-threshold`). While DuckDB checkpointed inside the loader's commits,
/// larger thresholds paid (256 MB); with the [`checkpoint`] thread beside the loads, 64 MB
/// ingests as fast and halves a crash's WAL replay (`BENCHMARKS.md`, issue 19).
pub const DEFAULT_CHECKPOINT_THRESHOLD: &str = "64MB";

/// How to open the embedded store.
#[derive(Debug, Clone)]
pub struct DuckOptions {
    /// DuckDB's `memory_limit` (`512MB`).
    pub memory_limit: String,
    /// The WAL size at which the [`checkpoint`] thread checkpoints (`64MB`); DuckDB's own
    /// default (16 MiB) when `None`. DuckDB's own `checkpoint_threshold` is
    /// [`checkpoint::DUCKDB_THRESHOLD`]: it never checkpoints by itself.
    pub checkpoint_threshold: Option<String>,
    /// Whether the daily rollup is kept (and so may answer queries).
    pub daily_rollup: bool,
    /// How long client `event_id`s are remembered.
    pub dedup_window: DedupWindow,
}

impl DuckOptions {
    /// Defaults (no rollup, the default window and checkpoint threshold) with this memory limit.
    pub fn new(memory_limit: &str) -> Self {
        DuckOptions {
            memory_limit: memory_limit.to_owned(),
            checkpoint_threshold: Some(DEFAULT_CHECKPOINT_THRESHOLD.to_owned()),
            daily_rollup: false,
            dedup_window: DedupWindow::DEFAULT,
        }
    }
}

/// DuckDB-backed [`EventStore`].
pub struct DuckStore {
    /// Whether the daily rollup is kept (and so may answer queries).
    daily_rollup: bool,
    jobs: WriteQueue<PreparedBatch>,
    readers: Arc<Mutex<Vec<Connection>>>,
    template: Arc<Mutex<Connection>>,
    /// The journal thread, the loader and the checkpointer, joined in that order on close.
    threads: Mutex<Vec<JoinHandle<()>>>,
    visibility: ingest::Visibility,
    /// Taken shared by ad-hoc SQL, exclusively by checkpoints ([`checkpoint::MemoryGate`]).
    memory_gate: checkpoint::MemoryGate,
}

/// DuckDB's own default `checkpoint_threshold`.
const DUCKDB_CHECKPOINT_THRESHOLD: u64 = 16 << 20;

/// DuckDB's WAL beside the database file (`events.duckdb.wal`).
fn wal_file(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wal");
    name.into()
}

/// The ingest journal's directory beside the DuckDB file (`events.journal` for `events.duckdb`).
pub fn journal_dir(path: &Path) -> std::path::PathBuf {
    path.with_extension("journal")
}

impl DuckStore {
    /// Opens (creating if needed) the DuckDB file at `path`, without the daily rollup.
    pub fn open(path: &Path, memory_limit: &str) -> anyhow::Result<Self> {
        Self::open_with(path, memory_limit, false)
    }

    /// Opens the DuckDB file at `path`; `daily_rollup` keeps the [`rollup`] (created and
    /// backfilled when missing) or drops it.
    pub fn open_with(path: &Path, memory_limit: &str, daily_rollup: bool) -> anyhow::Result<Self> {
        Self::open_opts(path, &DuckOptions { daily_rollup, ..DuckOptions::new(memory_limit) })
    }

    /// Opens (creating if needed) the DuckDB file at `path` with `options`. Returns before the
    /// de-duplication window is read back: the writer reads it first, so queries are served at
    /// once and the first batches wait for it (at most about a second at 10M ids).
    pub fn open_opts(path: &Path, options: &DuckOptions) -> anyhow::Result<Self> {
        let daily_rollup = options.daily_rollup;
        let checkpoint_bytes = match &options.checkpoint_threshold {
            None => DUCKDB_CHECKPOINT_THRESHOLD,
            Some(text) => checkpoint::parse_bytes(text).ok_or_else(|| {
                anyhow!("--duckdb-checkpoint-threshold {text:?}: not a size (for example 256MB or 1GiB)")
            })?,
        };
        let config = duckdb_config(&options.memory_limit)?
            .with("checkpoint_threshold", checkpoint::DUCKDB_THRESHOLD)
            .context("DuckDB's checkpoint_threshold")?;
        let started = std::time::Instant::now();
        let conn = Connection::open_with_flags(path, config)
            .with_context(|| format!("opening {}", path.display()))?;
        // Opening replays DuckDB's WAL: after a crash under load, most of the time to listening.
        let duckdb_ms = started.elapsed().as_millis() as u64;
        conn.execute_batch(&create_schema_sql())?;
        if !daily_rollup {
            rollup::remove(&conn)?;
        } else if rollup::create(&conn)? {
            rollup::backfill(&conn).context("backfilling the daily rollup")?;
        }
        let backfill = dedup_ids::create(&conn)?;
        let applied = ingest::applied_lsn(&conn)?;
        let scanned = std::time::Instant::now();
        let journal = Journal::open(&journal_dir(path), applied)?;
        tracing::info!(
            duckdb_ms,
            journal_ms = scanned.elapsed().as_millis() as u64,
            records_to_load = journal.1.len(),
            "events store opened"
        );
        let memory_gate = checkpoint::MemoryGate::default();
        let start = ingest::Start {
            reader: conn.try_clone()?,
            writer: conn.try_clone()?,
            journal,
            applied,
            window: options.dedup_window,
            backfill,
            rollup: daily_rollup,
            checkpointer: [conn.try_clone()?, conn.try_clone()?],
            wal: wal_file(path),
            checkpoint_bytes,
            gate: memory_gate.clone(),
        };
        let readers = (0..READERS).map(|_| conn.try_clone()).collect::<duckdb::Result<Vec<_>>>()?;
        let (jobs, rx) = WriteQueue::new();
        let threads = ingest::start(start, rx)?;
        Ok(DuckStore {
            daily_rollup,
            jobs,
            readers: Arc::new(Mutex::new(readers)),
            template: Arc::new(Mutex::new(conn)),
            threads: Mutex::new(threads.handles),
            visibility: threads.visibility,
            memory_gate,
        })
    }

    /// Runs `f` on a pooled read connection on the blocking pool, once every batch acknowledged
    /// before the call is loaded.
    async fn with_reader<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.visibility.settle().await;
        self.with_reader_now(f).await
    }

    /// Runs `f` on a pooled read connection at once, without waiting for the loads: for reads
    /// of the schema only (the server's start reads the catalog, and must not wait for the
    /// journal's replay after a crash).
    async fn with_reader_now<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let template = self.template.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().map_err(|_| anyhow!("reader pool poisoned"))?.pop();
            let conn = match pooled {
                Some(c) => c,
                None => template.lock().map_err(|_| anyhow!("template poisoned"))?.try_clone()?,
            };
            let out = f(&conn);
            if let Ok(mut pool) = readers.lock()
                && pool.len() < READERS
            {
                pool.push(conn);
            }
            out
        })
        .await?
    }
}

/// Whether table `name` exists in this file.
fn table_exists(conn: &Connection, name: &str) -> duckdb::Result<bool> {
    let n: i64 =
        conn.query_row("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name], |r| {
            r.get(0)
        })?;
    Ok(n > 0)
}

/// Whether the daily rollup's table exists in this file.
fn self_has_rollup(conn: &Connection) -> Result<bool> {
    Ok(table_exists(conn, rollup::TABLE)?)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// The SQL expression reading string prop `key`; unmaterialized keys are looked up by a bound
/// parameter, so no prop name is ever spliced into SQL.
fn string_prop_expr(key: &str, params: &mut Vec<Value>) -> String {
    if MATERIALIZED_STRING_PROPS.contains(&key) {
        string_column(key)
    } else {
        params.push(text(key));
        "sp_vals[list_position(sp_keys, ?)]".to_owned()
    }
}

fn numeric_prop_expr(key: &str, params: &mut Vec<Value>) -> String {
    if MATERIALIZED_NUMERIC_PROPS.contains(&key) {
        numeric_column(key)
    } else {
        params.push(text(key));
        "np_vals[list_position(np_keys, ?)]".to_owned()
    }
}

/// Builds the SQL and parameters for a query: columns `b` (bucket, epoch µs), `g` (group),
/// `v` (value) and `n` (rows aggregated). Public so benchmarks can run the same SQL directly.
pub fn query_sql(scope: StoreScope, spec: &QuerySpec) -> Result<(String, Vec<Value>)> {
    let mut select_params = Vec::new();
    let bucket = match spec.granularity {
        Some(g) => format!("epoch_us(date_trunc('{}', ts))", granularity_unit(g)),
        None => "NULL::BIGINT".to_owned(),
    };
    let group = match &spec.group_by {
        Some(key) => string_prop_expr(key, &mut select_params),
        None => "NULL::VARCHAR".to_owned(),
    };
    let value = match spec.metric {
        Metric::Count => "count(*)".to_owned(),
        Metric::CountUnique => "count(DISTINCT user_id)".to_owned(),
        // DuckDB's approx_count_distinct is off by up to ~20% on small sets (15 users read as
        // 12), outside the API's 2% promise; its exact distinct count is fast enough at this
        // scale (86 ms over 10M rows), so the embedded engine answers exactly.
        Metric::CountUniqueApprox => "count(DISTINCT user_id)".to_owned(),
        numeric => {
            let key = spec
                .numeric_prop
                .as_deref()
                .ok_or_else(|| AppError::invalid("numeric_prop is required for this metric"))?;
            let x = numeric_prop_expr(key, &mut select_params);
            match numeric {
                Metric::Sum => format!("sum({x})"),
                Metric::Avg => format!("avg({x})"),
                Metric::P95 => format!("quantile_cont({x}, 0.95)"),
                _ => format!("quantile_cont({x}, 0.99)"),
            }
        }
    };
    let mut params = select_params;
    params.extend([
        Value::BigInt(scope.org_id),
        Value::BigInt(scope.env_id),
        text(&spec.tenant_id),
        text(&spec.event_name),
        Value::Timestamp(TimeUnit::Microsecond, spec.from.timestamp_micros()),
        Value::Timestamp(TimeUnit::Microsecond, spec.to.timestamp_micros()),
    ]);
    let table = shard_table(scope, &spec.tenant_id);
    let mut sql = format!(
        "SELECT {bucket} AS b, {group} AS g, CAST({value} AS DOUBLE) AS v, count(*) AS n \
         FROM {table} WHERE org_id = ? AND env_id = ? AND tenant_id = ? AND event_name = ? \
         AND ts >= ? AND ts < ?"
    );
    for (key, val) in &spec.filters {
        let expr = string_prop_expr(key, &mut params);
        sql.push_str(&format!(" AND {expr} = ?"));
        params.push(text(val));
    }
    sql.push_str(" GROUP BY ALL");
    Ok((sql, params))
}

/// [`query_sql`] plus inclusive numeric range conditions; bounds are bound as parameters and
/// prop keys go through the same column / `list_position` lookup.
pub fn query_sql_with_ranges(
    scope: StoreScope,
    spec: &QuerySpec,
    ranges: &[NumericRangeFilter],
) -> Result<(String, Vec<Value>)> {
    let (sql, mut params) = query_sql(scope, spec)?;
    if ranges.is_empty() {
        return Ok((sql, params));
    }
    let Some(head) = sql.strip_suffix(" GROUP BY ALL") else {
        return Err(AppError::Internal(anyhow!("query SQL has an unexpected shape")));
    };
    let mut sql = head.to_owned();
    for range in ranges {
        for (bound, op) in [(range.min, ">="), (range.max, "<=")] {
            if let Some(bound) = bound {
                let expr = numeric_prop_expr(&range.key, &mut params);
                sql.push_str(&format!(" AND {expr} {op} ?"));
                params.push(Value::Double(bound));
            }
        }
    }
    sql.push_str(" GROUP BY ALL");
    Ok((sql, params))
}

/// Most event types discovery reports.
const MAX_DISCOVERED_EVENTS: usize = 100;
/// Sample values per string prop.
const DISCOVERY_SAMPLES: usize = 5;

/// The scope's events (one tenant's, when given) as a subquery, with its parameters.
fn discovery_base(scope: StoreScope, tenant_id: Option<&str>, params: &mut Vec<Value>) -> String {
    params.extend([Value::BigInt(scope.org_id), Value::BigInt(scope.env_id)]);
    let mut sql = "SELECT * FROM events WHERE org_id = ? AND env_id = ?".to_owned();
    if let Some(tenant) = tenant_id {
        sql.push_str(" AND tenant_id = ?");
        params.push(text(tenant));
    }
    sql
}

/// `(event_name, key, value)` rows of every string (or numeric) prop: the materialized columns
/// (names from our own constant lists, never from requests) and the key/value lists.
fn prop_pairs(numeric: bool) -> String {
    let (props, column, lists): (&[&str], fn(&str) -> String, &str) = if numeric {
        (
            MATERIALIZED_NUMERIC_PROPS,
            numeric_column,
            "unnest(np_keys) AS k, unnest(np_vals) AS v FROM base WHERE np_keys IS NOT NULL",
        )
    } else {
        (
            MATERIALIZED_STRING_PROPS,
            string_column,
            "unnest(sp_keys) AS k, unnest(sp_vals) AS v FROM base WHERE sp_keys IS NOT NULL",
        )
    };
    let mut parts: Vec<String> = props
        .iter()
        .map(|k| {
            format!(
                "SELECT event_name, '{k}' AS k, {col} AS v FROM base WHERE {col} IS NOT NULL",
                col = column(k)
            )
        })
        .collect();
    parts.push(format!("SELECT event_name, {lists}"));
    parts.join(" UNION ALL ")
}

fn discover_events(
    conn: &Connection,
    scope: StoreScope,
    tenant_id: Option<&str>,
) -> Result<Vec<DiscoveredEvent>> {
    let to_u64 = |n: i64| u64::try_from(n).unwrap_or_default();
    let mut params = Vec::new();
    let base = discovery_base(scope, tenant_id, &mut params);
    let sql = format!(
        "SELECT event_name, count(*) AS n, count(DISTINCT tenant_id) AS t FROM ({base}) \
         GROUP BY event_name ORDER BY n DESC, event_name LIMIT {MAX_DISCOVERED_EVENTS}"
    );
    let mut events: Vec<DiscoveredEvent> = Vec::new();
    {
        let mut stmt = conn.prepare(&sql)?;
        let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
        let mut rows = stmt.query(refs.as_slice())?;
        while let Some(row) = rows.next()? {
            events.push(DiscoveredEvent {
                event_name: row.get(0)?,
                count: to_u64(row.get(1)?),
                tenants: to_u64(row.get(2)?),
                string_props: Vec::new(),
                numeric_props: Vec::new(),
            });
        }
    }
    if events.is_empty() {
        return Ok(events);
    }
    let index: std::collections::HashMap<String, usize> =
        events.iter().enumerate().map(|(i, e)| (e.event_name.clone(), i)).collect();

    let mut params = Vec::new();
    let base = discovery_base(scope, tenant_id, &mut params);
    let sql = format!(
        "WITH base AS ({base}), pairs AS ({pairs}), \
         counted AS (SELECT event_name, k, v, count(*) AS n FROM pairs GROUP BY ALL), \
         ranked AS (SELECT event_name, k, v, n, \
             row_number() OVER (PARTITION BY event_name, k ORDER BY n DESC, v) AS rn, \
             CAST(sum(n) OVER (PARTITION BY event_name, k) AS BIGINT) AS total, \
             count(*) OVER (PARTITION BY event_name, k) AS distinct_values FROM counted) \
         SELECT event_name, k, v, n, total, distinct_values FROM ranked WHERE rn <= {DISCOVERY_SAMPLES} \
         ORDER BY event_name, total DESC, k, rn",
        pairs = prop_pairs(false)
    );
    {
        let mut stmt = conn.prepare(&sql)?;
        let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
        let mut rows = stmt.query(refs.as_slice())?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            let Some(event) = index.get(&name).and_then(|i| events.get_mut(*i)) else { continue };
            let key: String = row.get(1)?;
            let sample = SampleValue { value: row.get(2)?, count: to_u64(row.get(3)?) };
            match event.string_props.last_mut() {
                Some(prop) if prop.key == key => prop.sample_values.push(sample),
                _ => event.string_props.push(DiscoveredStringProp {
                    key,
                    count: to_u64(row.get(4)?),
                    distinct_values: to_u64(row.get(5)?),
                    sample_values: vec![sample],
                }),
            }
        }
    }

    let mut params = Vec::new();
    let base = discovery_base(scope, tenant_id, &mut params);
    let sql = format!(
        "WITH base AS ({base}), pairs AS ({pairs}) \
         SELECT event_name, k, count(*) AS n, min(v), max(v) FROM pairs GROUP BY event_name, k \
         ORDER BY event_name, n DESC, k",
        pairs = prop_pairs(true)
    );
    let mut stmt = conn.prepare(&sql)?;
    let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
    let mut rows = stmt.query(refs.as_slice())?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let Some(event) = index.get(&name).and_then(|i| events.get_mut(*i)) else { continue };
        event.numeric_props.push(DiscoveredNumericProp {
            key: row.get(1)?,
            count: to_u64(row.get(2)?),
            min: row.get(3)?,
            max: row.get(4)?,
        });
    }
    Ok(events)
}

fn granularity_unit(g: Granularity) -> &'static str {
    match g {
        Granularity::Hour => "hour",
        Granularity::Day => "day",
        Granularity::Week => "week",
        Granularity::Month => "month",
    }
}

/// Picks the table for a query: the daily rollup answers `count` (see [`rollup`]).
pub fn plan(spec: &QuerySpec, ranges: &[NumericRangeFilter]) -> Plan {
    planner::plan(spec, ranges, RollupMetrics { hourly: false, approx_unique: false, exact_unique: false })
}

impl DuckStore {
    /// Runs a query on a chosen route (tests and benchmarks compare the rollup with raw events
    /// this way).
    pub async fn query_with_plan(
        &self,
        scope: StoreScope,
        spec: &QuerySpec,
        route: Plan,
    ) -> Result<StoreAnswer> {
        let (sql, params) = match route {
            Plan::Raw => query_sql(scope, spec)?,
            Plan::Rollup(_) => rollup::query_sql(scope, spec, spec.granularity.map(granularity_unit))?,
        };
        let (rows, rows_scanned) = self.with_reader(move |conn| run_query_sql(conn, &sql, &params)).await?;
        let (source_table, planned_by, rollup_granularity) = route.meta();
        Ok(StoreAnswer {
            rows,
            rows_scanned,
            source_table: source_table.to_owned(),
            planned_by,
            rollup_granularity,
        })
    }
}

/// Runs [`query_sql`]'s output on a connection.
pub fn run_query_sql(conn: &Connection, sql: &str, params: &[Value]) -> Result<(Vec<StoreRow>, u64)> {
    let mut stmt = conn.prepare_cached(sql)?;
    let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
    let mut rows = stmt.query(refs.as_slice())?;
    let mut out = Vec::new();
    let mut scanned = 0u64;
    while let Some(row) = rows.next()? {
        let n: i64 = row.get(3)?;
        scanned += n as u64;
        out.push(StoreRow { bucket: row.get(0)?, group: row.get(1)?, value: row.get(2)? });
    }
    Ok((out, scanned))
}

#[async_trait]
impl EventStore for DuckStore {
    async fn insert(&self, scope: StoreScope, events: Vec<NewEvent>) -> Result<InsertOutcome> {
        let prepared = PreparedBatch::new(scope, events).map_err(AppError::Internal)?;
        self.jobs.submit(scope, prepared).await
    }

    async fn query(&self, scope: StoreScope, spec: &QuerySpec) -> Result<StoreAnswer> {
        let route = if self.daily_rollup { plan(spec, &[]) } else { Plan::Raw };
        self.query_with_plan(scope, spec, route).await
    }

    async fn query_with_ranges(
        &self,
        scope: StoreScope,
        spec: &QuerySpec,
        ranges: &[NumericRangeFilter],
    ) -> Result<StoreAnswer> {
        if !ranges.is_empty() {
            let (sql, params) = query_sql_with_ranges(scope, spec, ranges)?;
            let (rows, rows_scanned) =
                self.with_reader(move |conn| run_query_sql(conn, &sql, &params)).await?;
            return Ok(StoreAnswer {
                rows,
                rows_scanned,
                source_table: "events".to_owned(),
                planned_by: "raw",
                rollup_granularity: None,
            });
        }
        self.query(scope, spec).await
    }

    async fn discover(&self, scope: StoreScope, tenant_id: Option<&str>) -> Result<Vec<DiscoveredEvent>> {
        let tenant = tenant_id.map(str::to_owned);
        self.with_reader(move |conn| discover_events(conn, scope, tenant.as_deref())).await
    }

    async fn count_org_events(&self, org_id: i64) -> Result<u64> {
        self.with_reader(move |conn| {
            let n: i64 =
                conn.query_row("SELECT count(*) FROM events WHERE org_id = ?", [org_id], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_org(&self, org_id: i64) -> Result<()> {
        // Appends never conflict with these deletes: they touch other rows.
        self.with_reader(move |conn| {
            let mut tables = shard_names();
            tables.push(dedup_ids::TABLE.to_owned());
            if self_has_rollup(conn)? {
                tables.push(rollup::TABLE.to_owned());
            }
            let mut sql = String::from("BEGIN TRANSACTION;\n");
            for table in tables {
                sql.push_str(&format!("DELETE FROM {table} WHERE org_id = {org_id};\n"));
            }
            sql.push_str("COMMIT;");
            if let Err(e) = conn.execute_batch(&sql) {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e.into());
            }
            Ok(())
        })
        .await
    }

    fn sql_dialect(&self) -> super::SqlDialect {
        super::SqlDialect::DuckDb
    }

    async fn adhoc(
        &self,
        _scope: StoreScope,
        sql: String,
        limits: super::AdhocLimits,
    ) -> Result<super::AdhocResult> {
        // DuckDB has no row policies: the rewrite alone confines the query (docs/api.md).
        self.run_adhoc(sql, limits).await
    }

    async fn catalog(&self) -> Result<Vec<String>> {
        self.with_reader_now(adhoc::catalog_names).await
    }

    async fn datasets(&self, scope: StoreScope) -> Result<Vec<super::DatasetInfo>> {
        self.list_datasets(scope).await
    }

    async fn close(&self) {
        // Dropping the sender ends the journal thread once queued batches are journaled; the
        // loader then loads what is left and stops.
        self.jobs.close();
        let handles = self.threads.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default();
        let _ = tokio::task::spawn_blocking(move || handles.into_iter().for_each(|h| drop(h.join()))).await;
    }
}
