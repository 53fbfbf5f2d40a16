//! Ad-hoc SQL on ClickHouse: the rewritten query (see `crate::adhoc`) runs read-only under
//! time, memory, read and result limits, and, on releases that have `additional_table_filters`,
//! with every table of the database filtered to the caller's org and environment by the engine
//! itself, so a rewrite bug alone leaks nothing.

use std::time::Duration;

use super::{ClickHouseStore, ServerError, json_string, literal};
use crate::{
    error::{AppError, Result},
    events::{AdhocLimits, AdhocResult, StoreScope, json_row_size},
};

/// Memory one ad-hoc query may use on the ClickHouse server.
pub const MAX_MEMORY_BYTES: u64 = 1 << 30;
/// Rows one ad-hoc query may read.
pub const MAX_ROWS_TO_READ: u64 = 1_000_000_000;
/// Bytes one ad-hoc query may read.
pub const MAX_BYTES_TO_READ: u64 = 64 << 30;

/// A table of the events database and which scope columns it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedTable {
    /// Table (or view) name.
    pub name: String,
    /// Has `org_id`.
    pub org: bool,
    /// Has `env_id`.
    pub env: bool,
}

/// The `additional_table_filters` map for `scope`: every table of `database`, under its plain and
/// its qualified name, keeps only the scope's rows; a table without `org_id` keeps none.
pub fn table_filters(database: &str, tables: &[ScopedTable], scope: StoreScope) -> String {
    let mut entries = Vec::new();
    for t in tables {
        let filter = match (t.org, t.env) {
            (true, true) => format!("org_id = {} AND env_id = {}", scope.org_id, scope.env_id),
            (true, false) => format!("org_id = {}", scope.org_id),
            _ => "0".to_owned(),
        };
        for key in [t.name.clone(), format!("{database}.{}", t.name)] {
            entries.push(format!("{}: {}", literal(&key), literal(&filter)));
        }
    }
    format!("{{{}}}", entries.join(", "))
}

/// Whether a ClickHouse error is one of the ad-hoc resource limits.
fn over_limit(text: &str) -> bool {
    [
        "MEMORY_LIMIT_EXCEEDED",
        "TOO_MANY_ROWS",
        "TOO_MANY_BYTES",
        "Memory limit",
        "Limit for rows",
        "Limit for bytes",
    ]
    .iter()
    .any(|m| text.contains(m))
}

/// Maps a ClickHouse failure on a user's ad-hoc SQL to a 400 (or 413 over a resource limit)
/// naming ClickHouse's reason.
fn adhoc_error(e: anyhow::Error) -> AppError {
    match e.downcast_ref::<ServerError>() {
        Some(ServerError(text)) => {
            let short: String = text.chars().take(500).collect();
            if text.contains("Timeout exceeded") || text.contains("TIMEOUT_EXCEEDED") {
                AppError::invalid(format!("sql: the query ran past its time limit: {short}"))
            } else if over_limit(text) {
                AppError::TooLarge(format!("sql: the query needs more than ad-hoc queries may use: {short}"))
            } else {
                AppError::invalid(format!("sql: ClickHouse refused the query: {short}"))
            }
        }
        None => AppError::Internal(e),
    }
}

impl ClickHouseStore {
    /// The database's tables with their scope columns when this ClickHouse supports
    /// `additional_table_filters` (read once), `None` when it does not (18.16 and other old
    /// releases: the rewrite alone confines the query).
    pub async fn engine_filter_tables(&self) -> Result<Option<Vec<ScopedTable>>> {
        let tables = self
            .engine_filters
            .get_or_try_init(|| async {
                let supported = self
                    .client
                    .select(
                        "SELECT count() FROM system.settings WHERE name = 'additional_table_filters'",
                        &[],
                    )
                    .await?
                    .rows
                    .first()
                    .and_then(|r| r.first())
                    .and_then(json_string)
                    .is_some_and(|n| n != "0");
                if !supported {
                    return Ok::<_, anyhow::Error>(None);
                }
                let db = literal(self.client.database());
                let answer = self
                    .client
                    .select(
                        &format!(
                            "SELECT t.name, countIf(c.name = 'org_id'), countIf(c.name = 'env_id') \
                             FROM system.tables AS t LEFT JOIN system.columns AS c \
                             ON c.database = t.database AND c.table = t.name \
                             WHERE t.database = {db} GROUP BY t.name ORDER BY t.name"
                        ),
                        &[],
                    )
                    .await?;
                let count = |v: Option<&serde_json::Value>| v.and_then(json_string).is_some_and(|n| n != "0");
                Ok(Some(
                    answer
                        .rows
                        .iter()
                        .map(|r| ScopedTable {
                            name: r.first().and_then(json_string).unwrap_or_default(),
                            org: count(r.get(1)),
                            env: count(r.get(2)),
                        })
                        .collect(),
                ))
            })
            .await
            .map_err(AppError::Internal)?;
        Ok(tables.clone())
    }

    /// Every table, view and dictionary name of the database.
    pub(super) async fn catalog_names(&self) -> Result<Vec<String>> {
        let db = literal(self.client.database());
        let answer = self
            .client
            .select(
                &format!(
                    "SELECT name FROM system.tables WHERE database = {db} \
                     UNION ALL SELECT name FROM system.dictionaries \
                     UNION ALL SELECT name FROM system.databases"
                ),
                &[],
            )
            .await
            .map_err(AppError::Internal)?;
        Ok(answer.rows.iter().filter_map(|r| r.first().and_then(json_string)).collect())
    }

    /// Runs checked, org-confined ad-hoc SQL.
    pub(super) async fn run_adhoc(
        &self,
        scope: StoreScope,
        sql: String,
        limits: AdhocLimits,
    ) -> Result<AdhocResult> {
        let secs = limits.timeout.as_secs().max(1);
        let mut settings = vec![
            ("max_execution_time", secs.to_string()),
            ("timeout_overflow_mode", "throw".to_owned()),
            ("max_memory_usage", MAX_MEMORY_BYTES.to_string()),
            ("max_rows_to_read", MAX_ROWS_TO_READ.to_string()),
            ("max_bytes_to_read", MAX_BYTES_TO_READ.to_string()),
            ("read_overflow_mode", "throw".to_owned()),
            ("max_result_rows", (limits.max_rows + 1).to_string()),
            ("max_result_bytes", limits.max_bytes.to_string()),
            ("result_overflow_mode", "break".to_owned()),
        ];
        if let Some(tables) = self.engine_filter_tables().await? {
            settings
                .push(("additional_table_filters", table_filters(self.client.database(), &tables, scope)));
        }
        // `readonly` goes last: once set, ClickHouse refuses later settings in the same request.
        settings.push(("readonly", "1".to_owned()));
        let answer = tokio::time::timeout(
            limits.timeout + Duration::from_secs(5),
            self.client.select(&sql, &settings),
        )
        .await
        .map_err(|_| AppError::invalid("sql: the query ran past its time limit"))?
        .map_err(adhoc_error)?;
        let mut rows = answer.rows;
        let mut truncated = rows.len() > limits.max_rows;
        rows.truncate(limits.max_rows);
        let mut bytes = 0usize;
        if let Some(cut) = rows.iter().position(|r| {
            bytes = bytes.saturating_add(json_row_size(r));
            bytes > limits.max_bytes
        }) {
            rows.truncate(cut);
            truncated = true;
        }
        Ok(AdhocResult { columns: answer.columns, rows, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_every_table() {
        let tables = [
            ScopedTable { name: "events".into(), org: true, env: true },
            ScopedTable { name: "emban_migrations".into(), org: false, env: false },
        ];
        assert_eq!(
            table_filters("db", &tables, StoreScope { org_id: 3, env_id: 4 }),
            "{'events': 'org_id = 3 AND env_id = 4', 'db.events': 'org_id = 3 AND env_id = 4', \
             'emban_migrations': '0', 'db.emban_migrations': '0'}"
        );
    }
}
