//! The DuckDB store's daily rollup: event counts per (org, env, tenant, event, day, model,
//! endpoint, status, plan, source), kept current by the writer in the same transaction as the
//! events it counts, and answering the planner's `count` routes (see `events::planner`).
//!
//! Counts only: DuckDB has no mergeable HyperLogLog state, and its `count_unique_approx` is exact
//! (so it cannot come from a rollup either). No hourly rollup: hour-granularity windows are short,
//! and for sparse tenants an hourly rollup holds about as many rows as the events it counts.
//! Optional (`--duckdb-daily-rollup`, off by default), because it is a trade (BENCHMARKS.md):
//! 3.5-48x faster dashboard counts for a large tenant at 10M events, for 30-40% of the writer's
//! throughput when commits spread over many small tenants (few events share a rollup row).

use std::{collections::HashMap, sync::Arc};

use duckdb::{
    Connection,
    arrow::{
        array::{ArrayRef, Int64Builder, StringBuilder, TimestampMicrosecondBuilder, UInt8Builder},
        record_batch::RecordBatch,
    },
    types::{TimeUnit, Value},
};

use crate::{
    error::{AppError, Result},
    events::{
        MATERIALIZED_STRING_PROPS, NewEvent, QuerySpec, StoreScope,
        planner::{null_bit, null_bits},
    },
};

/// The rollup table.
pub const TABLE: &str = "events_daily";
/// Where a commit stages its aggregated rows before upserting them (empty between commits).
const STAGE: &str = "rollup_stage";

/// The rollup's tables.
pub fn relation_names() -> [String; 2] {
    [TABLE.to_owned(), STAGE.to_owned()]
}
const DAY_MICROS: i64 = 86_400 * 1_000_000;
const DIMS: usize = MATERIALIZED_STRING_PROPS.len();

fn dim_columns() -> Vec<String> {
    MATERIALIZED_STRING_PROPS.iter().map(|k| format!("\"{k}\"")).collect()
}

fn key_columns() -> String {
    format!("org_id, env_id, tenant_id, event_name, bucket, {}, nulls", dim_columns().join(", "))
}

fn columns() -> String {
    let dims: Vec<String> = dim_columns().iter().map(|c| format!("{c} VARCHAR NOT NULL")).collect();
    format!(
        "org_id BIGINT NOT NULL, env_id BIGINT NOT NULL, tenant_id VARCHAR NOT NULL, \
         event_name VARCHAR NOT NULL, bucket TIMESTAMP NOT NULL, {}, nulls UTINYINT NOT NULL, \
         events BIGINT NOT NULL",
        dims.join(", ")
    )
}

/// Creates the rollup and its staging table; returns whether the rollup is new (and so must be
/// backfilled from the events already stored).
pub fn create(conn: &Connection) -> anyhow::Result<bool> {
    let existed: i64 = conn.query_row(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
        [TABLE],
        |r| r.get(0),
    )?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} ({}, PRIMARY KEY ({}));\n\
         CREATE TABLE IF NOT EXISTS {STAGE} ({});",
        columns(),
        key_columns(),
        columns()
    ))?;
    Ok(existed == 0)
}

/// Drops the rollup (the store runs without it; turning it on again rebuilds it).
pub fn remove(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {TABLE};\nDROP TABLE IF EXISTS {STAGE};"))?;
    Ok(())
}

/// Counts every stored event into the (new, empty) rollup.
pub fn backfill(conn: &Connection) -> anyhow::Result<()> {
    let dims: Vec<String> =
        MATERIALIZED_STRING_PROPS.iter().map(|k| format!("coalesce(s_{k}, '')")).collect();
    let nulls: Vec<String> =
        null_bits().map(|(k, bit)| format!("(CASE WHEN s_{k} IS NULL THEN {bit} ELSE 0 END)")).collect();
    conn.execute_batch(&format!(
        "INSERT INTO {TABLE} SELECT org_id, env_id, tenant_id, event_name, date_trunc('day', ts), {}, \
         CAST({} AS UTINYINT), count(*) FROM events GROUP BY ALL",
        dims.join(", "),
        nulls.join(" + ")
    ))?;
    Ok(())
}

type Key<'a> = (StoreScope, &'a str, &'a str, i64, [Option<&'a str>; DIMS]);

/// The commit's events counted per rollup key, as a record batch in the rollup's column order.
fn stage_batch(rows: &[(StoreScope, &NewEvent)]) -> anyhow::Result<Option<RecordBatch>> {
    let mut counts: HashMap<Key<'_>, i64> = HashMap::new();
    for (scope, e) in rows {
        let mut dims: [Option<&str>; DIMS] = [None; DIMS];
        for (k, v) in &e.string_props {
            if let Some(i) = MATERIALIZED_STRING_PROPS.iter().position(|m| m == k) {
                dims[i] = Some(v);
            }
        }
        let day = e.timestamp.timestamp_micros().div_euclid(DAY_MICROS) * DAY_MICROS;
        *counts.entry((*scope, &e.tenant_id, &e.event_name, day, dims)).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(None);
    }
    let n = counts.len();
    let (mut org, mut env) = (Int64Builder::with_capacity(n), Int64Builder::with_capacity(n));
    let (mut tenant, mut name) = (StringBuilder::new(), StringBuilder::new());
    let mut bucket = TimestampMicrosecondBuilder::with_capacity(n);
    let mut dims: [StringBuilder; DIMS] = std::array::from_fn(|_| StringBuilder::new());
    let mut nulls = UInt8Builder::with_capacity(n);
    let mut events = Int64Builder::with_capacity(n);
    for ((scope, t, e, day, values), count) in counts {
        org.append_value(scope.org_id);
        env.append_value(scope.env_id);
        tenant.append_value(t);
        name.append_value(e);
        bucket.append_value(day);
        let mut bits = 0u8;
        for ((builder, value), (_, bit)) in dims.iter_mut().zip(values).zip(null_bits()) {
            builder.append_value(value.unwrap_or(""));
            if value.is_none() {
                bits |= bit;
            }
        }
        nulls.append_value(bits);
        events.append_value(count);
    }
    let mut columns: Vec<(String, ArrayRef)> = vec![
        ("org_id".into(), Arc::new(org.finish())),
        ("env_id".into(), Arc::new(env.finish())),
        ("tenant_id".into(), Arc::new(tenant.finish())),
        ("event_name".into(), Arc::new(name.finish())),
        ("bucket".into(), Arc::new(bucket.finish())),
    ];
    for (key, mut builder) in MATERIALIZED_STRING_PROPS.iter().zip(dims) {
        columns.push(((*key).to_owned(), Arc::new(builder.finish())));
    }
    columns.push(("nulls".into(), Arc::new(nulls.finish())));
    columns.push(("events".into(), Arc::new(events.finish())));
    Ok(Some(RecordBatch::try_from_iter(columns)?))
}

/// Adds a commit's events to the rollup; call inside the commit's transaction.
pub fn add(conn: &Connection, rows: &[(StoreScope, &NewEvent)]) -> anyhow::Result<()> {
    let Some(batch) = stage_batch(rows)? else {
        return Ok(());
    };
    let mut appender = conn.appender(STAGE)?;
    appender.append_record_batch(batch)?;
    appender.flush()?;
    drop(appender);
    conn.execute_batch(&format!(
        "INSERT INTO {TABLE} SELECT * FROM {STAGE} ON CONFLICT ({}) DO UPDATE SET events = events + excluded.events;\n\
         DELETE FROM {STAGE};",
        key_columns()
    ))?;
    Ok(())
}

/// The SQL and parameters answering a `count` query from the rollup, in the raw query's shape:
/// `b` (bucket, epoch µs), `g` (group), `v` (value), `n` (rollup rows read).
pub fn query_sql(
    scope: StoreScope,
    spec: &QuerySpec,
    bucket_unit: Option<&str>,
) -> Result<(String, Vec<Value>)> {
    let bucket = match bucket_unit {
        Some(unit) => format!("epoch_us(date_trunc('{unit}', bucket))"),
        None => "NULL::BIGINT".to_owned(),
    };
    let column = |key: &str| -> Result<(String, u8)> {
        let bit = null_bit(key)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("{key} is not a rollup dimension")))?;
        Ok((format!("\"{key}\""), bit))
    };
    let group = match spec.group_by.as_deref() {
        Some(key) => {
            let (col, bit) = column(key)?;
            format!("CASE WHEN nulls & {bit} != 0 THEN NULL ELSE {col} END")
        }
        None => "NULL::VARCHAR".to_owned(),
    };
    let mut params = vec![
        Value::BigInt(scope.org_id),
        Value::BigInt(scope.env_id),
        Value::Text(spec.tenant_id.clone()),
        Value::Text(spec.event_name.clone()),
        Value::Timestamp(TimeUnit::Microsecond, spec.from.timestamp_micros()),
        Value::Timestamp(TimeUnit::Microsecond, spec.to.timestamp_micros()),
    ];
    let mut sql = format!(
        "SELECT {bucket} AS b, {group} AS g, CAST(sum(events) AS DOUBLE) AS v, count(*) AS n FROM {TABLE} \
         WHERE org_id = ? AND env_id = ? AND tenant_id = ? AND event_name = ? AND bucket >= ? AND bucket < ?"
    );
    for (key, value) in &spec.filters {
        let (col, bit) = column(key)?;
        sql.push_str(&format!(" AND {col} = ? AND nulls & {bit} = 0"));
        params.push(Value::Text(value.clone()));
    }
    sql.push_str(" GROUP BY ALL");
    Ok((sql, params))
}
