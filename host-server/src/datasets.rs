//! `GET /v1/datasets` and `GET /v1/datasets/{name}/ddl`: what an org's admins may read with
//! ad-hoc SQL, described as they see it (only their org's and environment's rows).

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};
use serde::{Deserialize, Serialize};

use crate::{
    adhoc::AdhocColumn,
    auth::ConsoleOrAdminKey,
    error::{AppError, Result},
    events::StoreScope,
    state::AppState,
};

/// The dataset routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/datasets", get(list_datasets))
        .route("/v1/datasets/{name}/ddl", get(get_dataset_ddl))
}

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

async fn list_datasets(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<DatasetsResponse>> {
    caller.require_admin_access()?;
    let scope = StoreScope { org_id: caller.org_id, env_id: caller.env.id };
    let datasets = state
        .events
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
        .collect();
    Ok(Json(DatasetsResponse { datasets }))
}

async fn get_dataset_ddl(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(name): Path<String>,
) -> Result<Json<DdlResponse>> {
    caller.require_admin_access()?;
    let scope = StoreScope { org_id: caller.org_id, env_id: caller.env.id };
    let dataset = state
        .events
        .datasets(scope)
        .await?
        .into_iter()
        .find(|d| d.name == name)
        .ok_or_else(|| AppError::NotFound(format!("no dataset {name:?}")))?;
    Ok(Json(DdlResponse { name: dataset.name, ddl: dataset.ddl }))
}
