//! The schema: the events table, the rollups and their views, and the versioned migrations that
//! bring any database to the newest of them.

use super::*;

/// The rollup tables (as in [`planner::ROLLUPS`]), finest first: (table, granularity name,
/// bucket function).
pub const ROLLUPS: &[(&str, &str, &str)] =
    &[("events_hourly", "hour", "toStartOfHour"), ("events_daily", "day", "toStartOfDay")];

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
pub(super) fn rollup_dims() -> String {
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
pub(super) const ROLLUPS_V1: RollupSchema =
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
pub(super) fn rollup_select(bucket_fn: &str, schema: RollupSchema, filter: &str) -> String {
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
pub(super) fn combinator(function: &str, suffix: &str) -> String {
    match function.split_once('(') {
        Some((name, params)) => format!("{name}{suffix}({params}"),
        None => format!("{function}{suffix}"),
    }
}

/// (Re)builds every rollup with `approx`: drops what exists, creates the table and its view, and
/// backfills from the events already stored, one month partition at a time with grouping allowed
/// to spill to disk (one statement over 100M events needed more than 7 GiB).
pub(super) async fn build_rollups(client: &ClickHouseClient, schema: RollupSchema) -> anyhow::Result<()> {
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

/// Every relation this engine's schema creates: `events`, the rollup tables and their views, and
/// the migrations table (ad-hoc SQL reserves them on every engine, see `adhoc::Catalog`).
pub fn relation_names() -> Vec<String> {
    let mut names = vec![
        "events".to_owned(),
        "emban_migrations".to_owned(),
        DEDUP_TABLE.to_owned(),
        format!("{DEDUP_TABLE}_mv"),
    ];
    for (table, _, _) in ROLLUPS {
        names.push((*table).to_owned());
        names.push(format!("{table}_mv"));
    }
    names
}

/// The schema's versions, applied in order on start and recorded in `emban_migrations`. A
/// version is never edited once released: a change is a new version.
pub const MIGRATIONS: &[(u32, &str)] = &[
    (1, "events table; hourly and daily rollups (uniqCombined)"),
    (2, "rollups rebuilt: uniqCombined(14), no exact sets, 256-row granules"),
    (3, "rollup views recreated with -StateIf, so current ClickHouse releases accept their rows"),
    (4, "dedup_ids: client event ids by UTC arrival day, kept by a view on events"),
];

/// The table of client event ids by arrival day (the de-duplication window, [`DEDUP_TABLE`]).
pub const DEDUP_TABLE: &str = "dedup_ids";

/// `dedup_ids` and the view that fills it in the events' own INSERT: a client id is recorded
/// exactly when its event is (duplicates never reach `events`), one partition per arrival day so
/// a day leaving the window is dropped whole.
fn create_dedup_sql() -> [String; 2] {
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {DEDUP_TABLE} (org_id Int64, env_id Int64, event_id String, day Date) \
             ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (org_id, env_id)"
        ),
        format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {DEDUP_TABLE}_mv TO {DEDUP_TABLE} AS \
             SELECT org_id, env_id, event_id, toDate(now(), 'UTC') AS day FROM events WHERE client_event_id = 1"
        ),
    ]
}

pub(super) async fn apply_migration(client: &ClickHouseClient, version: u32) -> anyhow::Result<()> {
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
        4 => {
            for sql in create_dedup_sql() {
                client.execute(&sql).await?;
            }
            // Ids stored before: their arrival is unknown, so they count as arriving today.
            client
                .execute(&format!(
                    "INSERT INTO {DEDUP_TABLE} SELECT org_id, env_id, event_id, toDate(now(), 'UTC') \
                     FROM events WHERE client_event_id = 1"
                ))
                .await
        }
        other => Err(anyhow!("no migration {other}")),
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

pub(super) async fn record_migration(client: &ClickHouseClient, version: u32) -> anyhow::Result<()> {
    let name = MIGRATIONS.iter().find(|(v, _)| *v == version).map_or("", |(_, n)| n);
    client
        .execute(&format!(
            "INSERT INTO emban_migrations (version, name, applied_at) VALUES ({version}, {}, now())",
            literal(name)
        ))
        .await
}
