//! Ad-hoc SQL and datasets on the DuckDB store: the rewritten query (see `crate::adhoc`) runs on a
//! pooled read connection with external access (files, network, extensions) switched off, an
//! interrupt after the timeout, and a row cap.

use std::{sync::mpsc, time::Duration};

use anyhow::anyhow;
use duckdb::{
    Connection,
    arrow::datatypes::DataType,
    types::{TimeUnit, Value},
};
use serde_json::Value as Json;

use super::{DuckStore, create_table_sql, rollup};
use crate::{
    error::{AppError, Result},
    events::{AdhocLimits, AdhocResult, DatasetInfo, StoreScope, json_row_size},
};

/// Every table and view name DuckDB knows in this database, internal catalog views included.
pub(super) fn catalog_names(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT table_name FROM duckdb_tables() UNION SELECT view_name FROM duckdb_views() \
         UNION SELECT schema_name FROM duckdb_schemas() UNION SELECT database_name FROM duckdb_databases()",
    )?;
    Ok(stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<std::result::Result<Vec<_>, _>>()?)
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "UTINYINT".into(),
        DataType::UInt16 => "USMALLINT".into(),
        DataType::UInt32 => "UINTEGER".into(),
        DataType::UInt64 => "UBIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Timestamp(..) => "TIMESTAMP".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        DataType::List(f) | DataType::LargeList(f) => format!("{}[]", type_name(f.data_type())),
        DataType::Null => "NULL".into(),
        other => format!("{other:?}"),
    }
}

fn micros(unit: TimeUnit, v: i64) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => v.saturating_mul(1_000),
        TimeUnit::Microsecond => v,
        TimeUnit::Nanosecond => v / 1_000,
    }
}

fn to_json(v: Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(b),
        Value::TinyInt(i) => i.into(),
        Value::SmallInt(i) => i.into(),
        Value::Int(i) => i.into(),
        Value::BigInt(i) => i.into(),
        Value::UTinyInt(i) => i.into(),
        Value::USmallInt(i) => i.into(),
        Value::UInt(i) => i.into(),
        Value::UBigInt(i) => i.into(),
        Value::HugeInt(i) => i64::try_from(i).map_or_else(|_| Json::String(i.to_string()), Json::from),
        Value::UHugeInt(i) => u64::try_from(i).map_or_else(|_| Json::String(i.to_string()), Json::from),
        Value::Float(f) => serde_json::Number::from_f64(f64::from(f)).map_or(Json::Null, Json::Number),
        Value::Double(f) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        Value::Decimal(d) => {
            let text = d.to_string();
            text.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(Json::String(text), Json::Number)
        }
        Value::Timestamp(unit, v) => chrono::DateTime::from_timestamp_micros(micros(unit, v))
            .map_or(Json::Null, |t| Json::String(t.format("%Y-%m-%d %H:%M:%S%.f").to_string())),
        Value::Date32(days) => chrono::DateTime::from_timestamp(i64::from(days) * 86_400, 0)
            .map_or(Json::Null, |t| Json::String(t.format("%Y-%m-%d").to_string())),
        Value::Text(s) | Value::Enum(s) => Json::String(s),
        Value::Blob(b) | Value::Geometry(b) => Json::String(hex::encode(b)),
        Value::List(items) | Value::Array(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Value::Struct(fields) => {
            Json::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v.clone()))).collect())
        }
        Value::Union(inner) => to_json(*inner),
        other => Json::String(format!("{other:?}")),
    }
}

fn user_error(e: duckdb::Error, timed_out: bool) -> AppError {
    if timed_out {
        return AppError::invalid("sql: the query ran past its time limit");
    }
    let text: String = e.to_string().chars().take(500).collect();
    if text.contains("Out of Memory") {
        return AppError::TooLarge(format!(
            "sql: the query needs more memory than ad-hoc queries may use: {text}"
        ));
    }
    AppError::invalid(format!("sql: DuckDB refused the query: {text}"))
}

fn run(conn: &Connection, sql: &str, limits: AdhocLimits) -> Result<AdhocResult> {
    // A global, one-way switch: this store never reads files, so it may stay off for good.
    let _ = conn.execute_batch("SET enable_external_access = false");
    let off: bool =
        conn.query_row("SELECT NOT current_setting('enable_external_access')", [], |r| r.get(0))?;
    if !off {
        return Err(AppError::Internal(anyhow!("could not switch off DuckDB external access")));
    }
    let handle = conn.interrupt_handle();
    let (done, wait) = mpsc::channel::<()>();
    let timeout = limits.timeout;
    let timer = std::thread::spawn(move || {
        if wait.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
            handle.interrupt();
            return true;
        }
        false
    });
    let result = (|| -> std::result::Result<AdhocResult, duckdb::Error> {
        let mut stmt = conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        let columns: Vec<(String, String)> = match rows.as_ref() {
            Some(st) => {
                let names = st.column_names();
                names.into_iter().enumerate().map(|(i, n)| (n, type_name(&st.column_type(i)))).collect()
            }
            None => Vec::new(),
        };
        let mut out = Vec::new();
        let mut truncated = false;
        let mut bytes = 0usize;
        while let Some(row) = rows.next()? {
            if out.len() == limits.max_rows {
                truncated = true;
                break;
            }
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(to_json(row.get::<_, Value>(i)?));
            }
            bytes = bytes.saturating_add(json_row_size(&values));
            if bytes > limits.max_bytes {
                truncated = true;
                break;
            }
            out.push(values);
        }
        Ok(AdhocResult { columns, rows: out, truncated })
    })();
    let _ = done.send(());
    let timed_out = timer.join().unwrap_or(false);
    result.map_err(|e| user_error(e, timed_out))
}

fn table_columns(conn: &Connection, table: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
    )?;
    Ok(stmt
        .query_map([table], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<std::result::Result<Vec<_>, _>>()?)
}

fn datasets(conn: &Connection, scope: StoreScope, daily_rollup: bool) -> Result<Vec<DatasetInfo>> {
    let visible = |name: &str, ddl: String| {
        format!(
            "-- {name}: rows visible to this org and environment only: org_id = {}, env_id = {}.\n{ddl}",
            scope.org_id, scope.env_id
        )
    };
    let (rows, newest): (i64, Option<String>) = conn.query_row(
        "SELECT count(*), CAST(max(ts) AS VARCHAR) FROM events WHERE org_id = ? AND env_id = ?",
        [scope.org_id, scope.env_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut out = vec![DatasetInfo {
        name: "events".to_owned(),
        kind: "table".to_owned(),
        engine: "DuckDB".to_owned(),
        rows: u64::try_from(rows).unwrap_or(0),
        bytes: None,
        updated_at: newest,
        columns: table_columns(conn, "events")?,
        ddl: visible("events", create_table_sql()),
    }];
    if !daily_rollup {
        return Ok(out);
    }
    let (rollup_rows, rollup_newest): (i64, Option<String>) = conn.query_row(
        &format!(
            "SELECT count(*), CAST(max(bucket) AS VARCHAR) FROM {} WHERE org_id = ? AND env_id = ?",
            rollup::TABLE
        ),
        [scope.org_id, scope.env_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let rollup_ddl: String =
        conn.query_row("SELECT sql FROM duckdb_tables() WHERE table_name = ?", [rollup::TABLE], |r| {
            r.get(0)
        })?;
    out.push(DatasetInfo {
        name: rollup::TABLE.to_owned(),
        kind: "rollup".to_owned(),
        engine: "DuckDB (kept current at ingest)".to_owned(),
        rows: u64::try_from(rollup_rows).unwrap_or(0),
        bytes: None,
        updated_at: rollup_newest,
        columns: table_columns(conn, rollup::TABLE)?,
        ddl: visible(rollup::TABLE, rollup_ddl),
    });
    Ok(out)
}

impl DuckStore {
    /// Runs checked, org-confined ad-hoc SQL.
    pub(super) async fn run_adhoc(&self, sql: String, limits: AdhocLimits) -> Result<AdhocResult> {
        let overall = limits.timeout + Duration::from_secs(5);
        let gate = self.memory_gate.clone();
        let query = move |conn: &Connection| {
            // No checkpoint runs while this query may take all of DuckDB's memory.
            let _shared = gate.read().unwrap_or_else(|p| p.into_inner());
            run(conn, &sql, limits)
        };
        tokio::time::timeout(overall, self.with_reader(query))
            .await
            .map_err(|_| AppError::invalid("sql: the query ran past its time limit"))?
    }

    /// The datasets an org may read.
    pub(super) async fn list_datasets(&self, scope: StoreScope) -> Result<Vec<DatasetInfo>> {
        let daily_rollup = self.daily_rollup;
        self.with_reader(move |conn| datasets(conn, scope, daily_rollup)).await
    }
}
