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
//! - De-duplication of client `event_id`s: as in the DuckDB store, the writer keeps the set of
//!   stored (org, env, client event id) fingerprints, loaded from ClickHouse at start, and drops
//!   repeats before inserting. This assumes one Emban writer per ClickHouse database.
//! - Rollups: `events_hourly` and `events_daily` (AggregatingMergeTree) kept up to date by
//!   materialized views, keyed by (org, env, tenant, event, bucket, model, endpoint, status, plan,
//!   source) with `countState` and `uniqCombinedState(14)` of `user_id`. The planner
//!   ([`plan`]) routes queries to them only when the answer is the same as from raw events.

mod adhoc;

pub use adhoc::{MAX_BYTES_TO_READ, MAX_MEMORY_BYTES, MAX_ROWS_TO_READ, ScopedTable, table_filters};

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
    dedup::{DedupSet, GroupPlan},
    planner::{self, RollupMetrics},
    queue::{WriteJob, WriteQueue},
};

pub use super::planner::Plan;
use crate::error::{AppError, Result};

/// Most rows one group commit (one INSERT) takes.
const GROUP_COMMIT_ROWS: usize = 500_000;
/// Group commits under way at once: one being written by ClickHouse while the next is encoded
/// and sent keeps both sides busy; more would only add small parts for ClickHouse to merge.
const INSERTS_IN_FLIGHT: usize = 2;
/// How long a group commit waits for more batches after its first one.
const GROUP_COMMIT_LINGER: Duration = Duration::from_millis(20);
/// The rollup tables (as in [`planner::ROLLUPS`]), finest first: (table, granularity name,
/// bucket function).
pub const ROLLUPS: &[(&str, &str, &str)] =
    &[("events_hourly", "hour", "toStartOfHour"), ("events_daily", "day", "toStartOfDay")];

/// Where a ClickHouse database is: `http://host:port/db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseUrl {
    /// `http://host:port`, without a trailing slash.
    pub base: String,
    /// Database name.
    pub database: String,
}

impl ClickHouseUrl {
    /// Parses `http(s)://host:port[/database]`; the database defaults to `default`.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| anyhow!("events URL must start with http:// or https:// (got {url:?})"))?;
        let scheme_len = url.len() - rest.len();
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() {
            return Err(anyhow!("events URL has no host: {url:?}"));
        }
        let database = path.trim_matches('/');
        let database = if database.is_empty() { "default" } else { database };
        if !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(anyhow!("events URL database name must be letters, digits and _ (got {database:?})"));
        }
        Ok(ClickHouseUrl { base: format!("{}{host}", &url[..scheme_len]), database: database.to_owned() })
    }
}

/// A ClickHouse string literal: backslash and quote escaped, so any text is safe to splice.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The raw events table: the same columns as the DuckDB store's (materialized props as
/// `s_*`/`n_*`, the rest as parallel key/value arrays), time in whole seconds.
pub fn create_events_sql() -> String {
    let mut columns = vec![
        "org_id Int64".to_owned(),
        "env_id Int64".to_owned(),
        "tenant_id String".to_owned(),
        "event_name String".to_owned(),
        "ts DateTime('UTC')".to_owned(),
        "event_id String".to_owned(),
        "client_event_id UInt8".to_owned(),
        "user_id Nullable(String)".to_owned(),
    ];
    columns.extend(MATERIALIZED_STRING_PROPS.iter().map(|k| format!("s_{k} Nullable(String)")));
    columns.extend(MATERIALIZED_NUMERIC_PROPS.iter().map(|k| format!("n_{k} Nullable(Float64)")));
    columns.extend(
        ["sp_keys Array(String)", "sp_vals Array(String)", "np_keys Array(String)", "np_vals Array(Float64)"]
            .map(String::from),
    );
    format!(
        "CREATE TABLE IF NOT EXISTS events (\n  {}\n) ENGINE = MergeTree\nPARTITION BY toYYYYMM(ts)\n\
         ORDER BY (org_id, env_id, tenant_id, event_name, ts)",
        columns.join(",\n  ")
    )
}

/// The dimension columns of a rollup: the materialized string props, NULL stored as `''` with its
/// bit set in `nulls` (18.16 cannot put Nullable columns in a sort key).
fn rollup_dims() -> String {
    MATERIALIZED_STRING_PROPS.iter().map(|k| format!("{k} String")).collect::<Vec<_>>().join(",\n  ")
}

/// The HyperLogLog behind `count_unique_approx`, in rollups and on raw events alike (so a rollup
/// answer equals the raw one): `uniqCombined` at precision 14 is exact for small sets and within
/// about 2% beyond, in states of at most ~12 KB; the default precision (17) keeps states of up to
/// ~80 KB, whose merging made the rollup route slower than raw events.
pub const APPROX_UNIQ: &str = "uniqCombined(14)";

/// What a version of the rollup tables holds (migrations name the one of their time: the schema
/// of a version never changes).
#[derive(Debug, Clone, Copy)]
pub struct RollupSchema {
    /// The HyperLogLog aggregate of `users_approx`.
    pub approx: &'static str,
    /// Whether rows carry `users_exact` (`uniqExactState`): version 1 did; measured at 100M events
    /// its merges were ~20x slower than exact counts over raw events, so exact `count_unique`
    /// reads raw events and the column is gone.
    pub exact: bool,
    /// Rows per granule (ClickHouse reads whole granules): small, because a dashboard query wants
    /// a few hundred rows of one tenant, and each row's states weigh kilobytes. With the default
    /// 8,192, an HLL query read and merged ~100 MB of states; with 256 it reads a few MB.
    pub index_granularity: u32,
}

/// Version 1's rollups.
const ROLLUPS_V1: RollupSchema =
    RollupSchema { approx: "uniqCombined", exact: true, index_granularity: 8192 };
/// The current rollups.
pub const ROLLUP_SCHEMA: RollupSchema =
    RollupSchema { approx: APPROX_UNIQ, exact: false, index_granularity: 256 };

/// One rollup table.
pub fn create_rollup_sql(table: &str, schema: RollupSchema) -> String {
    let keys = MATERIALIZED_STRING_PROPS.join(", ");
    let exact = if schema.exact { ",\n  users_exact AggregateFunction(uniqExact, String)" } else { "" };
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\n  org_id Int64,\n  env_id Int64,\n  tenant_id String,\n  \
         event_name String,\n  bucket DateTime('UTC'),\n  {dims},\n  nulls UInt8,\n  \
         events AggregateFunction(count),\n  users_approx AggregateFunction({approx}, String){exact}\n) \
         ENGINE = AggregatingMergeTree\nPARTITION BY toYYYYMM(bucket)\n\
         ORDER BY (org_id, env_id, tenant_id, event_name, bucket, {keys}, nulls)\n\
         SETTINGS index_granularity = {granularity}",
        dims = rollup_dims(),
        approx = schema.approx,
        granularity = schema.index_granularity,
    )
}

/// The SELECT that turns raw events (those matching `filter`) into rollup rows (used by the view
/// and by backfill).
fn rollup_select(bucket_fn: &str, schema: RollupSchema, filter: &str) -> String {
    let dims: Vec<String> =
        MATERIALIZED_STRING_PROPS.iter().map(|k| format!("ifNull(s_{k}, '') AS {k}")).collect();
    let nulls: Vec<String> =
        planner::null_bits().map(|(k, bit)| format!("toUInt8(isNull(s_{k})) * {bit}")).collect();
    let keys = MATERIALIZED_STRING_PROPS.join(", ");
    // `-StateIf` over `assumeNotNull`, not `-State` over the Nullable column: current releases
    // type the latter `AggregateFunction(f, Nullable(String))`, which the `String` state column
    // refuses on every insert (18.16 stripped the Nullable). Same users counted: NULLs never were.
    let approx_state = combinator(schema.approx, "StateIf");
    let exact = if schema.exact {
        ", uniqExactStateIf(assumeNotNull(user_id), isNotNull(user_id)) AS users_exact"
    } else {
        ""
    };
    format!(
        "SELECT org_id, env_id, tenant_id, event_name, {bucket_fn}(ts) AS bucket, {dims}, \
         toUInt8({nulls}) AS nulls, countState() AS events, \
         {approx_state}(assumeNotNull(user_id), isNotNull(user_id)) AS users_approx{exact} \
         FROM events {filter}\
         GROUP BY org_id, env_id, tenant_id, event_name, bucket, {keys}, nulls",
        dims = dims.join(", "),
        nulls = nulls.join(" + ")
    )
}

/// `uniqCombined(14)` with a combinator: `uniqCombinedState(14)`.
fn combinator(function: &str, suffix: &str) -> String {
    match function.split_once('(') {
        Some((name, params)) => format!("{name}{suffix}({params}"),
        None => format!("{function}{suffix}"),
    }
}

/// (Re)builds every rollup with `approx`: drops what exists, creates the table and its view, and
/// backfills from the events already stored, one month partition at a time with grouping allowed
/// to spill to disk (one statement over 100M events needed more than 7 GiB).
async fn build_rollups(client: &ClickHouseClient, schema: RollupSchema) -> anyhow::Result<()> {
    let months: Vec<u64> = client
        .select("SELECT DISTINCT toYYYYMM(ts) AS m FROM events ORDER BY m", &[])
        .await?
        .rows
        .iter()
        .filter_map(|r| r.first().and_then(json_u64))
        .collect();
    let spill = [("max_bytes_before_external_group_by", "1000000000".to_owned())];
    for (table, _, bucket_fn) in ROLLUPS {
        client.execute(&format!("DROP TABLE IF EXISTS {table}_mv")).await?;
        client.execute(&format!("DROP TABLE IF EXISTS {table}")).await?;
        client.execute(&create_rollup_sql(table, schema)).await?;
        client
            .execute(&format!(
                "CREATE MATERIALIZED VIEW IF NOT EXISTS {table}_mv TO {table} AS {}",
                rollup_select(bucket_fn, schema, "")
            ))
            .await?;
        for month in &months {
            let filter = format!("WHERE toYYYYMM(ts) = {month} ");
            client
                .execute_with(
                    &format!("INSERT INTO {table} {}", rollup_select(bucket_fn, schema, &filter)),
                    &spill,
                )
                .await?;
        }
    }
    Ok(())
}

/// The schema's versions, applied in order on start and recorded in `emban_migrations`. A
/// version is never edited once released: a change is a new version.
pub const MIGRATIONS: &[(u32, &str)] = &[
    (1, "events table; hourly and daily rollups (uniqCombined)"),
    (2, "rollups rebuilt: uniqCombined(14), no exact sets, 256-row granules"),
    (3, "rollup views recreated with -StateIf, so current ClickHouse releases accept their rows"),
];

async fn apply_migration(client: &ClickHouseClient, version: u32) -> anyhow::Result<()> {
    match version {
        1 => {
            client.execute(&create_events_sql()).await?;
            build_rollups(client, ROLLUPS_V1).await
        }
        2 => build_rollups(client, ROLLUP_SCHEMA).await,
        3 => {
            // The tables keep their rows; only the views' SELECT changes.
            for (table, _, bucket_fn) in ROLLUPS {
                client.execute(&format!("DROP TABLE IF EXISTS {table}_mv")).await?;
                client
                    .execute(&format!(
                        "CREATE MATERIALIZED VIEW {table}_mv TO {table} AS {}",
                        rollup_select(bucket_fn, ROLLUP_SCHEMA, "")
                    ))
                    .await?;
            }
            Ok(())
        }
        other => Err(anyhow!("no migration {other}")),
    }
}

/// A ClickHouse HTTP client bound to one database.
#[derive(Clone)]
pub struct ClickHouseClient {
    http: reqwest::Client,
    url: ClickHouseUrl,
}

/// A parsed `FORMAT JSONCompact` answer.
#[derive(Debug, Default)]
pub struct JsonAnswer {
    /// (name, type) per column.
    pub columns: Vec<(String, String)>,
    /// Rows.
    pub rows: Vec<Vec<Json>>,
    /// `statistics.rows_read`.
    pub rows_read: u64,
}

/// An error ClickHouse reported for a statement (as opposed to a transport failure).
#[derive(Debug, thiserror::Error)]
#[error("ClickHouse: {0}")]
pub struct ServerError(pub String);

impl ClickHouseClient {
    /// A client for `url`.
    pub fn new(url: ClickHouseUrl) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().pool_max_idle_per_host(16).build()?;
        Ok(ClickHouseClient { http, url })
    }

    /// The database this client uses.
    pub fn database(&self) -> &str {
        &self.url.database
    }

    /// Sends `body` with `query` in the URL (or `query` as the body when `body` is `None`).
    async fn send(
        &self,
        query: &str,
        body: Option<Vec<u8>>,
        settings: &[(&str, String)],
    ) -> anyhow::Result<Vec<u8>> {
        let mut params: Vec<(&str, String)> = vec![("database", self.url.database.clone())];
        params.extend(settings.iter().cloned());
        let request = self.http.post(format!("{}/", self.url.base));
        let request = match body {
            Some(data) => {
                params.push(("query", query.to_owned()));
                request.body(data)
            }
            None => request.body(query.to_owned()),
        };
        let response = request.query(&params).send().await.context("reaching ClickHouse")?;
        let status = response.status();
        let bytes = response.bytes().await.context("reading ClickHouse's answer")?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            return Err(ServerError(text).into());
        }
        Ok(bytes.to_vec())
    }

    /// Runs a statement that returns nothing.
    pub async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        self.execute_with(sql, &[]).await
    }

    /// [`execute`](Self::execute) with query-level settings.
    pub async fn execute_with(&self, sql: &str, settings: &[(&str, String)]) -> anyhow::Result<()> {
        self.send(sql, None, settings)
            .await
            .map(|_| ())
            .with_context(|| format!("running {}", first_line(sql)))
    }

    /// Runs a SELECT and parses its `JSONCompact` output.
    pub async fn select(&self, sql: &str, settings: &[(&str, String)]) -> anyhow::Result<JsonAnswer> {
        let bytes = self.send(&format!("{sql}\nFORMAT JSONCompact"), None, settings).await?;
        parse_json_compact(&bytes)
    }

    /// Inserts RowBinary `data` into `table (columns)`.
    pub async fn insert_row_binary(&self, table: &str, columns: &str, data: Vec<u8>) -> anyhow::Result<()> {
        self.send(&format!("INSERT INTO {table} ({columns}) FORMAT RowBinary"), Some(data), &[])
            .await
            .map(|_| ())
    }
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or_default()
}

/// Parses ClickHouse's `JSONCompact` output format.
pub fn parse_json_compact(bytes: &[u8]) -> anyhow::Result<JsonAnswer> {
    let doc: Json = serde_json::from_slice(bytes).context("parsing ClickHouse's JSON answer")?;
    let columns = doc
        .get("meta")
        .and_then(Json::as_array)
        .map(|meta| {
            meta.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(Json::as_str).unwrap_or_default().to_owned();
                    (s("name"), s("type"))
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = doc
        .get("data")
        .and_then(Json::as_array)
        .map(|rows| rows.iter().map(|r| r.as_array().cloned().unwrap_or_default()).collect())
        .unwrap_or_default();
    let rows_read = doc.pointer("/statistics/rows_read").and_then(json_u64).unwrap_or(0);
    Ok(JsonAnswer { columns, rows, rows_read })
}

/// A JSON number or numeric string (ClickHouse quotes 64-bit integers) as u64.
fn json_u64(v: &Json) -> Option<u64> {
    match v {
        Json::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn json_i64(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn json_f64(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn json_string(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

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

/// The RowBinary column list of [`encode_event`].
pub fn insert_columns() -> String {
    let mut cols: Vec<String> =
        ["org_id", "env_id", "tenant_id", "event_name", "ts", "event_id", "client_event_id", "user_id"]
            .map(String::from)
            .to_vec();
    cols.extend(MATERIALIZED_STRING_PROPS.iter().map(|k| format!("s_{k}")));
    cols.extend(MATERIALIZED_NUMERIC_PROPS.iter().map(|k| format!("n_{k}")));
    cols.extend(["sp_keys", "sp_vals", "np_keys", "np_vals"].map(String::from));
    cols.join(", ")
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(0);
            put_str(out, s);
        }
        None => out.push(1),
    }
}

/// Appends one event as a RowBinary row in [`insert_columns`]' order. Public so benchmarks send
/// the very bytes the server sends.
pub fn encode_event(scope: StoreScope, e: &NewEvent, out: &mut Vec<u8>) {
    out.extend_from_slice(&scope.org_id.to_le_bytes());
    out.extend_from_slice(&scope.env_id.to_le_bytes());
    put_str(out, &e.tenant_id);
    put_str(out, &e.event_name);
    // Ingest accepts 1970..=2100; DateTime holds 1970..2106.
    let secs = u32::try_from(e.timestamp.timestamp().max(0)).unwrap_or(u32::MAX);
    out.extend_from_slice(&secs.to_le_bytes());
    put_str(out, &e.event_id);
    out.push(u8::from(e.client_event_id));
    put_opt_str(out, e.user_id.as_deref());
    let mut cols_s: [Option<&str>; MATERIALIZED_STRING_PROPS.len()] = Default::default();
    let mut rest_s: Vec<&(String, String)> = Vec::new();
    for kv in &e.string_props {
        match MATERIALIZED_STRING_PROPS.iter().position(|k| *k == kv.0) {
            Some(i) => cols_s[i] = Some(&kv.1),
            None => rest_s.push(kv),
        }
    }
    let mut cols_n: [Option<f64>; MATERIALIZED_NUMERIC_PROPS.len()] = Default::default();
    let mut rest_n: Vec<&(String, f64)> = Vec::new();
    for kv in &e.numeric_props {
        match MATERIALIZED_NUMERIC_PROPS.iter().position(|k| *k == kv.0) {
            Some(i) => cols_n[i] = Some(kv.1),
            None => rest_n.push(kv),
        }
    }
    for v in cols_s {
        put_opt_str(out, v);
    }
    for v in cols_n {
        match v {
            Some(x) => {
                out.push(0);
                out.extend_from_slice(&x.to_le_bytes());
            }
            None => out.push(1),
        }
    }
    put_varint(out, rest_s.len() as u64);
    for kv in &rest_s {
        put_str(out, &kv.0);
    }
    put_varint(out, rest_s.len() as u64);
    for kv in &rest_s {
        put_str(out, &kv.1);
    }
    put_varint(out, rest_n.len() as u64);
    for kv in &rest_n {
        put_str(out, &kv.0);
    }
    put_varint(out, rest_n.len() as u64);
    for kv in &rest_n {
        out.extend_from_slice(&kv.1.to_le_bytes());
    }
}

impl ClickHouseStore {
    /// Connects, creates or migrates the schema, and loads the de-duplication set.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let url = ClickHouseUrl::parse(url)?;
        let database = url.database.clone();
        let client = ClickHouseClient::new(url)?;
        // The database may not exist yet: create it from the always-present `default`.
        let bootstrap = ClickHouseClient {
            http: client.http.clone(),
            url: ClickHouseUrl { base: client.url.base.clone(), database: "default".to_owned() },
        };
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
        let seen = load_client_ids(&client).await?;
        let (jobs, rx) = WriteQueue::new();
        let writer = tokio::spawn(writer_loop(client.clone(), rx, seen));
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

/// Brings the database's schema to the newest version (all of [`MIGRATIONS`]) and returns the
/// versions it applied. A database created before versions were recorded (an `events` table and
/// no `emban_migrations`) is at version 1. One Emban server migrates a database at a time.
pub async fn migrate(client: &ClickHouseClient) -> anyhow::Result<Vec<u32>> {
    migrate_to(client, u32::MAX).await
}

/// [`migrate`], stopping after version `target` (tests build an older schema with it).
pub async fn migrate_to(client: &ClickHouseClient, target: u32) -> anyhow::Result<Vec<u32>> {
    let tables: HashSet<String> = client
        .select(
            &format!("SELECT name FROM system.tables WHERE database = {}", literal(client.database())),
            &[],
        )
        .await?
        .rows
        .iter()
        .filter_map(|r| r.first().and_then(json_string))
        .collect();
    client
        .execute(
            "CREATE TABLE IF NOT EXISTS emban_migrations (version UInt32, name String, \
             applied_at DateTime('UTC')) ENGINE = TinyLog",
        )
        .await?;
    let mut applied: HashSet<u32> = client
        .select("SELECT version FROM emban_migrations", &[])
        .await?
        .rows
        .iter()
        .filter_map(|r| r.first().and_then(json_u64))
        .filter_map(|v| u32::try_from(v).ok())
        .collect();
    if applied.is_empty() && tables.contains("events") && !tables.contains("emban_migrations") {
        record_migration(client, 1).await?;
        applied.insert(1);
    }
    let mut done = Vec::new();
    for (version, name) in MIGRATIONS.iter().filter(|(v, _)| *v <= target && !applied.contains(v)) {
        tracing::info!(version, name, database = %client.database(), "applying ClickHouse migration");
        apply_migration(client, *version).await.with_context(|| format!("migration {version} ({name})"))?;
        record_migration(client, *version).await?;
        done.push(*version);
    }
    Ok(done)
}

async fn record_migration(client: &ClickHouseClient, version: u32) -> anyhow::Result<()> {
    let name = MIGRATIONS.iter().find(|(v, _)| *v == version).map_or("", |(_, n)| n);
    client
        .execute(&format!(
            "INSERT INTO emban_migrations (version, name, applied_at) VALUES ({version}, {}, now())",
            literal(name)
        ))
        .await
}

async fn load_client_ids(client: &ClickHouseClient) -> anyhow::Result<DedupSet> {
    let answer =
        client.select("SELECT org_id, env_id, event_id FROM events WHERE client_event_id = 1", &[]).await?;
    let mut seen = DedupSet::default();
    for row in &answer.rows {
        let (Some(org_id), Some(env_id), Some(id)) =
            (row.first().and_then(json_i64), row.get(1).and_then(json_i64), row.get(2).and_then(json_string))
        else {
            continue;
        };
        seen.insert_stored(StoreScope { org_id, env_id }, &id);
    }
    Ok(seen)
}

/// One org's batches of a group, sent as one INSERT per partition, waiting for ClickHouse's
/// answers.
struct InFlight {
    group: Vec<WriteJob>,
    plan: GroupPlan,
}

/// Drains the queue into group commits and keeps up to [`INSERTS_IN_FLIGHT`] of them under way:
/// while ClickHouse writes one group's parts, the next group accumulates (so groups grow with
/// load) and is encoded and sent. Each request is answered once its own INSERT was acknowledged.
async fn writer_loop(client: ClickHouseClient, mut rx: mpsc::Receiver<WriteJob>, mut seen: DedupSet) {
    let columns = insert_columns();
    // Each insert task answers the partitions it wrote and how it ended.
    let mut inserts: JoinSet<(Vec<i32>, Result<()>)> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, InFlight> = HashMap::new();
    let mut open = true;
    while open || !inserts.is_empty() {
        tokio::select! {
            done = inserts.join_next_with_id(), if !inserts.is_empty() => {
                settle(done, &mut in_flight, &mut seen);
            }
            job = rx.recv(), if open && inserts.len() < INSERTS_IN_FLIGHT => {
                let Some(first) = job else {
                    open = false;
                    continue;
                };
                let mut rows = first.events.len();
                let mut group = vec![first];
                // Linger briefly for more batches: concurrent clients' requests arrive a few
                // milliseconds apart, and each INSERT costs ClickHouse a fixed ~100-200 ms of part
                // writing (per partition touched, per rollup) whatever its size.
                let deadline = tokio::time::Instant::now() + GROUP_COMMIT_LINGER;
                while rows < GROUP_COMMIT_ROWS {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(job)) => {
                            rows += job.events.len();
                            group.push(job);
                        }
                        Ok(None) => {
                            open = false;
                            break;
                        }
                        Err(_) => break,
                    }
                }
                // One INSERT per org, so nothing one org sends (a batch ClickHouse refuses, a
                // limit it trips) can fail another org's requests; and within it one INSERT per
                // month partition, so no insert block spans partitions
                // (`max_partitions_per_insert_block`) and an insert costs the parts it would
                // have written anyway.
                let by_org = split_by_org(group);
                let plan_all = |seen: &DedupSet| -> Vec<GroupPlan> {
                    by_org.iter().map(|jobs| seen.plan(jobs.iter().map(|job| (job.scope, job.events.as_slice())))).collect()
                };
                let mut plans = plan_all(&seen);
                if plans.iter().any(|plan| plan.waits_on_pending) {
                    // A client id of this group is in an insert still under way, whose outcome
                    // decides whether it is a duplicate: settle everything in flight, plan again.
                    while let Some(done) = inserts.join_next_with_id().await {
                        settle(Some(done), &mut in_flight, &mut seen);
                    }
                    plans = plan_all(&seen);
                }
                for (group, plan) in by_org.into_iter().zip(plans) {
                    let blocks = encode_by_partition(&group, &plan);
                    seen.reserve(&plan);
                    let (client, columns) = (client.clone(), columns.clone());
                    let handle = inserts.spawn(async move {
                        let mut written = Vec::with_capacity(blocks.len());
                        for (partition, data) in blocks {
                            if let Err(e) = client.insert_row_binary("events", &columns, data).await {
                                return (written, Err(AppError::Internal(anyhow!("storing events: {e:#}"))));
                            }
                            written.push(partition);
                        }
                        (written, Ok(()))
                    });
                    in_flight.insert(handle.id(), InFlight { group, plan });
                }
            }
        }
    }
}

/// The batches of a group, one list per org, in arrival order.
fn split_by_org(group: Vec<WriteJob>) -> Vec<Vec<WriteJob>> {
    let mut by_org: Vec<Vec<WriteJob>> = Vec::new();
    for job in group {
        match by_org.iter_mut().find(|jobs| jobs.first().is_some_and(|j| j.scope.org_id == job.scope.org_id))
        {
            Some(jobs) => jobs.push(job),
            None => by_org.push(vec![job]),
        }
    }
    by_org
}

/// The RowBinary rows of an org's group that its plan keeps, one block per month partition
/// (`toYYYYMM(ts)`, the partition key of `events` and of the rollups' buckets).
fn encode_by_partition(group: &[WriteJob], plan: &GroupPlan) -> std::collections::BTreeMap<i32, Vec<u8>> {
    let mut blocks: std::collections::BTreeMap<i32, Vec<u8>> = std::collections::BTreeMap::new();
    for (job, mask) in group.iter().zip(&plan.keep) {
        for (event, _) in job.events.iter().zip(mask).filter(|(_, keep)| **keep) {
            let partition = partition_of(event.timestamp);
            encode_event(
                job.scope,
                event,
                blocks.entry(partition).or_insert_with(|| Vec::with_capacity(64 * 1024)),
            );
        }
    }
    blocks
}

/// The month partition (`toYYYYMM`) of an event time.
fn partition_of(t: chrono::DateTime<chrono::Utc>) -> i32 {
    use chrono::Datelike;
    t.year() * 100 + t.month() as i32
}

/// The answer of one org's insert task: the partitions written, and how it ended.
type InsertDone = std::result::Result<(tokio::task::Id, (Vec<i32>, Result<()>)), tokio::task::JoinError>;

/// Answers the requests of a finished INSERT and records (or forgets) its client ids.
fn settle(done: Option<InsertDone>, in_flight: &mut HashMap<tokio::task::Id, InFlight>, seen: &mut DedupSet) {
    let (id, written, result) = match done {
        None => return,
        Some(Ok((id, (written, result)))) => (id, written, result),
        Some(Err(e)) => (e.id(), Vec::new(), Err(AppError::Internal(anyhow!("the insert task failed: {e}")))),
    };
    let Some(InFlight { group, plan }) = in_flight.remove(&id) else {
        return;
    };
    match result {
        Ok(()) => {
            for (job, outcome) in group.into_iter().zip(seen.commit(plan)) {
                let _ = job.reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "ClickHouse insert failed");
            // Months written before the failure stay stored: remember their client ids, so a
            // retry of the batch stores only the rest.
            for (job, mask) in group.iter().zip(&plan.keep) {
                for (event, _) in job.events.iter().zip(mask).filter(|(e, keep)| **keep && e.client_event_id)
                {
                    if written.contains(&partition_of(event.timestamp)) {
                        seen.insert_stored(job.scope, &event.event_id);
                    }
                }
            }
            seen.release(plan);
            let message = e.to_string();
            for job in group {
                let _ = job.reply.send(Err(AppError::Internal(anyhow!("{message}"))));
            }
        }
    }
}

/// Picks the table for a query: ClickHouse rollups answer `count` and `count_unique_approx`
/// (merged HyperLogLog states); exact `count_unique` reads events (see [`RollupSchema::exact`]).
pub fn plan(spec: &QuerySpec, ranges: &[NumericRangeFilter]) -> Plan {
    planner::plan(spec, ranges, RollupMetrics { hourly: true, approx_unique: true, exact_unique: false })
}

/// Bucket start in epoch microseconds, from a DateTime column.
fn bucket_expr(g: Option<Granularity>, column: &str) -> String {
    let seconds = match g {
        None => return "CAST(NULL AS Nullable(Int64))".to_owned(),
        Some(Granularity::Hour) => format!("toStartOfHour({column})"),
        Some(Granularity::Day) => format!("toStartOfDay({column})"),
        Some(Granularity::Week) => format!("toDateTime(toMonday({column}), 'UTC')"),
        Some(Granularity::Month) => format!("toDateTime(toStartOfMonth({column}), 'UTC')"),
    };
    format!("toInt64(toUnixTimestamp({seconds})) * 1000000")
}

fn string_prop_expr(key: &str) -> String {
    if MATERIALIZED_STRING_PROPS.contains(&key) {
        format!("s_{key}")
    } else {
        let k = literal(key);
        format!("if(has(sp_keys, {k}), sp_vals[indexOf(sp_keys, {k})], NULL)")
    }
}

fn numeric_prop_expr(key: &str) -> String {
    if MATERIALIZED_NUMERIC_PROPS.contains(&key) {
        format!("n_{key}")
    } else {
        let k = literal(key);
        format!("if(has(np_keys, {k}), np_vals[indexOf(np_keys, {k})], NULL)")
    }
}

/// Linear-interpolation quantile (DuckDB's `quantile_cont`, R-7) over the sorted non-null values;
/// exact on 18.16, which has no `quantileExactInclusive`.
fn quantile_expr(x: &str, p: f64) -> String {
    let h = format!("((length(_qa) - 1) * {p})");
    let lo = format!("toUInt64(floor({h}))");
    format!(
        "if(length(arraySort(groupArray({x})) AS _qa) = 0, NULL, \
         _qa[{lo} + 1] + ({h} - floor({h})) * (_qa[least({lo} + 2, toUInt64(length(_qa)))] - _qa[{lo} + 1]))"
    )
}

fn scope_and_window(scope: StoreScope, spec: &QuerySpec, ts: &str) -> String {
    format!(
        "org_id = {} AND env_id = {} AND tenant_id = {} AND event_name = {} \
         AND {ts} >= toDateTime({}) AND {ts} < toDateTime({})",
        scope.org_id,
        scope.env_id,
        literal(&spec.tenant_id),
        literal(&spec.event_name),
        spec.from.timestamp().max(0),
        spec.to.timestamp().max(0),
    )
}

/// The SQL for a query on its planned table: columns `b` (bucket, epoch µs), `g` (group), `v`
/// (value). Public so benchmarks run the same SQL.
pub fn query_sql(
    scope: StoreScope,
    spec: &QuerySpec,
    ranges: &[NumericRangeFilter],
    route: Plan,
) -> Result<String> {
    let mut group_cols = Vec::new();
    if spec.granularity.is_some() {
        group_cols.push("b");
    }
    if spec.group_by.is_some() {
        group_cols.push("g");
    }
    let sql = match route {
        Plan::Rollup(i) => {
            let (table, _, _) =
                ROLLUPS.get(i).copied().ok_or_else(|| AppError::Internal(anyhow!("no rollup {i}")))?;
            let dim = |key: &str| planner::null_bit(key).map(|bit| (key.to_owned(), bit));
            let group = match spec.group_by.as_deref().and_then(dim) {
                Some((col, bit)) => format!("if(bitAnd(nulls, {bit}) != 0, NULL, {col})"),
                None => "CAST(NULL AS Nullable(String))".to_owned(),
            };
            let value = match spec.metric {
                Metric::Count => "toFloat64(countMerge(events))".to_owned(),
                Metric::CountUnique => {
                    return Err(AppError::Internal(anyhow!(
                        "rollups hold no exact sets: count_unique reads events"
                    )));
                }
                _ => format!("toFloat64({}(users_approx))", combinator(APPROX_UNIQ, "Merge")),
            };
            let mut sql = format!(
                "SELECT {b} AS b, {group} AS g, {value} AS v FROM {table} WHERE {w}",
                b = bucket_expr(spec.granularity, "bucket"),
                w = scope_and_window(scope, spec, "bucket"),
            );
            for (key, val) in &spec.filters {
                let (col, bit) = dim(key)
                    .ok_or_else(|| AppError::Internal(anyhow!("planner chose a rollup for {key}")))?;
                sql.push_str(&format!(" AND {col} = {} AND bitAnd(nulls, {bit}) = 0", literal(val)));
            }
            sql
        }
        Plan::Raw => {
            let group = match &spec.group_by {
                Some(key) => string_prop_expr(key),
                None => "CAST(NULL AS Nullable(String))".to_owned(),
            };
            let value = match spec.metric {
                Metric::Count => "toFloat64(count())".to_owned(),
                Metric::CountUnique => "toFloat64(ifNull(uniqExact(user_id), 0))".to_owned(),
                Metric::CountUniqueApprox => format!("toFloat64(ifNull({APPROX_UNIQ}(user_id), 0))"),
                numeric => {
                    let key = spec
                        .numeric_prop
                        .as_deref()
                        .ok_or_else(|| AppError::invalid("numeric_prop is required for this metric"))?;
                    let x = numeric_prop_expr(key);
                    match numeric {
                        Metric::Sum => format!("toFloat64(sum({x}))"),
                        Metric::Avg => format!("toFloat64(avg({x}))"),
                        Metric::P95 => quantile_expr(&x, 0.95),
                        _ => quantile_expr(&x, 0.99),
                    }
                }
            };
            let mut sql = format!(
                "SELECT {b} AS b, {group} AS g, {value} AS v FROM events WHERE {w}",
                b = bucket_expr(spec.granularity, "ts"),
                w = scope_and_window(scope, spec, "ts"),
            );
            for (key, val) in &spec.filters {
                sql.push_str(&format!(" AND {} = {}", string_prop_expr(key), literal(val)));
            }
            for range in ranges {
                let x = numeric_prop_expr(&range.key);
                if let Some(min) = range.min.filter(|m| m.is_finite()) {
                    sql.push_str(&format!(" AND {x} >= {min:?}"));
                }
                if let Some(max) = range.max.filter(|m| m.is_finite()) {
                    sql.push_str(&format!(" AND {x} <= {max:?}"));
                }
            }
            sql
        }
    };
    let mut sql = sql;
    if !group_cols.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", group_cols.join(", ")));
    }
    sql.push_str(" HAVING count() > 0");
    Ok(sql)
}

impl ClickHouseStore {
    async fn run_query(
        &self,
        scope: StoreScope,
        spec: &QuerySpec,
        ranges: &[NumericRangeFilter],
    ) -> Result<StoreAnswer> {
        self.query_with_plan(scope, spec, ranges, plan(spec, ranges)).await
    }

    /// Runs a query on a chosen route (tests and benchmarks compare rollups with raw this way).
    pub async fn query_with_plan(
        &self,
        scope: StoreScope,
        spec: &QuerySpec,
        ranges: &[NumericRangeFilter],
        route: Plan,
    ) -> Result<StoreAnswer> {
        let sql = query_sql(scope, spec, ranges, route)?;
        let answer = self.client.select(&sql, &[]).await?;
        let rows = answer
            .rows
            .iter()
            .map(|r| StoreRow {
                bucket: r.first().and_then(json_i64),
                group: r.get(1).and_then(json_string),
                value: r.get(2).and_then(json_f64),
            })
            .collect();
        let (source_table, planned_by, rollup_granularity) = route.meta();
        Ok(StoreAnswer {
            rows,
            rows_scanned: answer.rows_read,
            source_table: source_table.to_owned(),
            planned_by,
            rollup_granularity,
        })
    }

    async fn discover_events(
        &self,
        scope: StoreScope,
        tenant_id: Option<&str>,
    ) -> Result<Vec<DiscoveredEvent>> {
        let mut base = format!("org_id = {} AND env_id = {}", scope.org_id, scope.env_id);
        if let Some(t) = tenant_id {
            base.push_str(&format!(" AND tenant_id = {}", literal(t)));
        }
        let top = self
            .client
            .select(
                &format!(
                    "SELECT event_name, count() AS n, uniqExact(tenant_id) FROM events WHERE {base} \
                     GROUP BY event_name ORDER BY n DESC, event_name LIMIT 100"
                ),
                &[],
            )
            .await?;
        let mut events: Vec<DiscoveredEvent> = top
            .rows
            .iter()
            .map(|r| DiscoveredEvent {
                event_name: r.first().and_then(json_string).unwrap_or_default(),
                count: r.get(1).and_then(json_u64).unwrap_or(0),
                tenants: r.get(2).and_then(json_u64).unwrap_or(0),
                string_props: Vec::new(),
                numeric_props: Vec::new(),
            })
            .collect();
        if events.is_empty() {
            return Ok(events);
        }
        let index: std::collections::HashMap<String, usize> =
            events.iter().enumerate().map(|(i, e)| (e.event_name.clone(), i)).collect();
        let keys_s = format!(
            "arrayConcat([{}], sp_keys)",
            MATERIALIZED_STRING_PROPS.iter().map(|k| literal(k)).collect::<Vec<_>>().join(", ")
        );
        let vals_s = format!(
            "arrayConcat([{}], arrayMap(x -> CAST(x AS Nullable(String)), sp_vals))",
            MATERIALIZED_STRING_PROPS.iter().map(|k| format!("s_{k}")).collect::<Vec<_>>().join(", ")
        );
        // Keys and values side by side (18.16 has no `arrayZip`): ARRAY JOIN walks both at once.
        let pairs_compat = format!(
            "SELECT event_name, k, v FROM (SELECT event_name, {keys_s} AS ks, {vals_s} AS vs FROM events WHERE {base}) \
             ARRAY JOIN ks AS k, vs AS v WHERE isNotNull(v)"
        );
        let counted = format!(
            "SELECT event_name, k, assumeNotNull(v) AS v, count() AS n FROM ({pairs_compat}) GROUP BY event_name, k, v"
        );
        let totals = self
            .client
            .select(
                &format!("SELECT event_name, k, sum(n), count() FROM ({counted}) GROUP BY event_name, k ORDER BY event_name, sum(n) DESC, k"),
                &[],
            )
            .await?;
        for r in &totals.rows {
            let name = r.first().and_then(json_string).unwrap_or_default();
            let Some(event) = index.get(&name).and_then(|i| events.get_mut(*i)) else { continue };
            event.string_props.push(DiscoveredStringProp {
                key: r.get(1).and_then(json_string).unwrap_or_default(),
                count: r.get(2).and_then(json_u64).unwrap_or(0),
                distinct_values: r.get(3).and_then(json_u64).unwrap_or(0),
                sample_values: Vec::new(),
            });
        }
        let samples = self
            .client
            .select(
                &format!(
                    "SELECT event_name, k, v, n FROM ({counted}) ORDER BY n DESC, v LIMIT 5 BY event_name, k"
                ),
                &[],
            )
            .await?;
        for r in &samples.rows {
            let name = r.first().and_then(json_string).unwrap_or_default();
            let key = r.get(1).and_then(json_string).unwrap_or_default();
            let Some(event) = index.get(&name).and_then(|i| events.get_mut(*i)) else { continue };
            if let Some(prop) = event.string_props.iter_mut().find(|p| p.key == key) {
                prop.sample_values.push(SampleValue {
                    value: r.get(2).and_then(json_string).unwrap_or_default(),
                    count: r.get(3).and_then(json_u64).unwrap_or(0),
                });
            }
        }
        let keys_n = format!(
            "arrayConcat([{}], np_keys)",
            MATERIALIZED_NUMERIC_PROPS.iter().map(|k| literal(k)).collect::<Vec<_>>().join(", ")
        );
        let vals_n = format!(
            "arrayConcat([{}], arrayMap(x -> CAST(x AS Nullable(Float64)), np_vals))",
            MATERIALIZED_NUMERIC_PROPS.iter().map(|k| format!("n_{k}")).collect::<Vec<_>>().join(", ")
        );
        let numeric = self
            .client
            .select(
                &format!(
                    "SELECT event_name, k, count() AS n, min(assumeNotNull(v)), max(assumeNotNull(v)) FROM \
                     (SELECT event_name, {keys_n} AS ks, {vals_n} AS vs FROM events WHERE {base}) \
                     ARRAY JOIN ks AS k, vs AS v WHERE isNotNull(v) GROUP BY event_name, k ORDER BY event_name, n DESC, k"
                ),
                &[],
            )
            .await?;
        for r in &numeric.rows {
            let name = r.first().and_then(json_string).unwrap_or_default();
            let Some(event) = index.get(&name).and_then(|i| events.get_mut(*i)) else { continue };
            event.numeric_props.push(DiscoveredNumericProp {
                key: r.get(1).and_then(json_string).unwrap_or_default(),
                count: r.get(2).and_then(json_u64).unwrap_or(0),
                min: r.get(3).and_then(json_f64),
                max: r.get(4).and_then(json_f64),
            });
        }
        Ok(events)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ClickHouseUrl::parse("http://127.0.0.1:8123/analytics").expect("ok");
        assert_eq!((u.base.as_str(), u.database.as_str()), ("http://127.0.0.1:8123", "analytics"));
        assert_eq!(ClickHouseUrl::parse("http://h:1").expect("ok").database, "default");
        assert!(ClickHouseUrl::parse("ftp://h/db").is_err());
        assert!(ClickHouseUrl::parse("http://h/db;drop").is_err());
    }

    #[test]
    fn literals_escape() {
        assert_eq!(literal("a'b\\c"), "'a\\'b\\\\c'");
    }

    #[test]
    fn varints() {
        let mut out = Vec::new();
        put_varint(&mut out, 300);
        assert_eq!(out, vec![0xac, 0x02]);
    }
}
