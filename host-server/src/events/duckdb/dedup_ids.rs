//! The de-duplication window's persistence on DuckDB: the `dedup_ids` table holds the fingerprint
//! and arrival day of every client `event_id` stored within the window, appended in the same
//! transaction as the events (so the two never disagree after a crash), pruned by day, and read
//! back at start instead of scanning every event ever stored.

use std::sync::Arc;

use anyhow::Context;
use duckdb::{
    Connection,
    arrow::{
        array::{Array, Int32Array, Int32Builder, Int64Builder, StringArray, UInt64Array, UInt64Builder},
        record_batch::RecordBatch,
    },
};

use super::super::{
    StoreScope,
    dedup::{self, DedupSet, DedupWindow},
};

/// The table's name (reserved for ad-hoc SQL like the other relations).
pub const TABLE: &str = "dedup_ids";

/// Creates the table when missing; returns whether it was created (an older data dir, whose
/// client ids must then be copied from the events once).
pub fn create(conn: &Connection) -> anyhow::Result<bool> {
    let existed = super::table_exists(conn, TABLE)?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (org_id BIGINT NOT NULL, day INTEGER NOT NULL, \
         fp_hi UBIGINT NOT NULL, fp_lo UBIGINT NOT NULL)"
    ))?;
    Ok(!existed)
}

/// Appends (org, fingerprint) rows as arrived on `day`; call inside the events' transaction.
pub fn append(conn: &Connection, rows: &[(i64, u128)], day: i32) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut appender = conn.appender(TABLE)?;
    for chunk in rows.chunks(super::APPEND_BATCH_ROWS) {
        let mut org = Int64Builder::with_capacity(chunk.len());
        let mut days = Int32Builder::with_capacity(chunk.len());
        let mut hi = UInt64Builder::with_capacity(chunk.len());
        let mut lo = UInt64Builder::with_capacity(chunk.len());
        for (org_id, fp) in chunk {
            org.append_value(*org_id);
            days.append_value(day);
            hi.append_value((fp >> 64) as u64);
            lo.append_value(*fp as u64);
        }
        let batch = RecordBatch::try_from_iter([
            ("org_id", Arc::new(org.finish()) as Arc<dyn Array>),
            ("day", Arc::new(days.finish())),
            ("fp_hi", Arc::new(hi.finish())),
            ("fp_lo", Arc::new(lo.finish())),
        ])?;
        appender.append_record_batch(batch)?;
    }
    appender.flush()?;
    Ok(())
}

/// Deletes the rows of days that left the window on `today`.
pub fn prune(conn: &Connection, window: DedupWindow, today: i32) -> anyhow::Result<()> {
    conn.execute(&format!("DELETE FROM {TABLE} WHERE day < ?"), [window.first_day(today)])?;
    Ok(())
}

/// Reads the window's fingerprints (pruning older days first). Columnar reads and per-day
/// capacity reserved up front: 10M ids load in well under a second (`BENCHMARKS.md`).
pub fn load(conn: &Connection, window: DedupWindow, today: i32) -> anyhow::Result<DedupSet> {
    prune(conn, window, today)?;
    let mut set = DedupSet::new(window);
    let mut counts = conn.prepare(&format!("SELECT day, count(*) FROM {TABLE} GROUP BY day"))?;
    for row in counts.query_map([], |r| Ok((r.get::<_, i32>(0)?, r.get::<_, i64>(1)?)))? {
        let (day, n) = row?;
        set.reserve_day(day, n as usize);
    }
    let mut stmt = conn.prepare(&format!("SELECT day, fp_hi, fp_lo FROM {TABLE}"))?;
    for batch in stmt.query_arrow([])? {
        let column = |i: usize| batch.column(i).as_any();
        let (Some(days), Some(hi), Some(lo)) = (
            column(0).downcast_ref::<Int32Array>(),
            column(1).downcast_ref::<UInt64Array>(),
            column(2).downcast_ref::<UInt64Array>(),
        ) else {
            anyhow::bail!("{TABLE} has unexpected column types");
        };
        for i in 0..batch.num_rows() {
            set.insert_fingerprint((u128::from(hi.value(i)) << 64) | u128::from(lo.value(i)), days.value(i));
        }
    }
    Ok(set)
}

/// Copies the client ids of events stored before the table existed, as arrived `today` (their
/// real arrival is unknown: they stay duplicates for one more window). Runs once per data dir.
pub fn backfill(conn: &Connection, today: i32) -> anyhow::Result<usize> {
    let mut rows = Vec::new();
    let mut stmt = conn.prepare("SELECT org_id, env_id, event_id FROM events WHERE client_event_id")?;
    for batch in stmt.query_arrow([])? {
        let column = |i: usize| batch.column(i).as_any();
        let (Some(org), Some(env), Some(ids)) = (
            column(0).downcast_ref::<duckdb::arrow::array::Int64Array>(),
            column(1).downcast_ref::<duckdb::arrow::array::Int64Array>(),
            column(2).downcast_ref::<StringArray>(),
        ) else {
            anyhow::bail!("events has unexpected column types");
        };
        for i in 0..batch.num_rows() {
            let scope = StoreScope { org_id: org.value(i), env_id: env.value(i) };
            rows.push((scope.org_id, dedup::fingerprint(scope, ids.value(i))));
        }
    }
    conn.execute_batch("BEGIN TRANSACTION")?;
    let appended = append(conn, &rows, today).context("backfilling dedup_ids");
    conn.execute_batch(if appended.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    appended.map(|()| rows.len())
}
