//! What an org's admins may read with ad-hoc SQL (`GET /v1/datasets`, `…/{name}/ddl`), described
//! as they see it: only their org's and environment's rows.

use serde::{Deserialize, Serialize};

use crate::{
    analytics::adhoc::AdhocColumn,
    error::{AppError, Result},
    events::{EventStore, StoreScope},
};

/// One dataset.
#[derive(Debug, Serialize, Deserialize)]
pub struct Dataset {
    /// Name to use in ad-hoc SQL.
    pub name: String,
    /// `table` or `materialized_view`.
    pub kind: String,
    /// Storage engine.
    pub engine: String,
    /// Rows visible to the caller's org and environment.
    pub approx_rows: u64,
    /// Bytes, when known per org.
    pub approx_bytes: Option<u64>,
    /// Newest event or bucket time visible.
    pub updated_at: Option<String>,
    /// Columns.
    pub columns: Vec<AdhocColumn>,
}

/// `GET /v1/datasets` response.
#[derive(Debug, Serialize, Deserialize)]
pub struct DatasetsResponse {
    /// Datasets.
    pub datasets: Vec<Dataset>,
}

/// `GET /v1/datasets/{name}/ddl` response.
#[derive(Debug, Serialize, Deserialize)]
pub struct DdlResponse {
    /// Dataset name.
    pub name: String,
    /// CREATE statement.
    pub ddl: String,
}

/// The datasets visible to the org and environment of `scope`.
pub async fn list(events: &dyn EventStore, scope: StoreScope) -> Result<Vec<Dataset>> {
    Ok(events
        .datasets(scope)
        .await?
        .into_iter()
        .map(|d| Dataset {
            name: d.name,
            kind: d.kind,
            engine: d.engine,
            approx_rows: d.rows,
            approx_bytes: d.bytes,
            updated_at: d.updated_at,
            columns: d.columns.into_iter().map(|(name, ty)| AdhocColumn { name, ty }).collect(),
        })
        .collect())
}

/// The DDL of one dataset as the org sees it; 404 for a name that is not a dataset.
pub async fn ddl(events: &dyn EventStore, scope: StoreScope, name: &str) -> Result<DdlResponse> {
    let dataset = events
        .datasets(scope)
        .await?
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| AppError::NotFound(format!("no dataset {name:?}")))?;
    Ok(DdlResponse { name: dataset.name, ddl: dataset.ddl })
}
