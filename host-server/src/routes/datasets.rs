//! `GET /v1/datasets` and `GET /v1/datasets/{name}/ddl`.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};

use crate::{
    analytics::datasets::{self, DatasetsResponse, DdlResponse},
    auth::ConsoleOrAdminKey,
    error::Result,
    state::AppState,
};

/// The dataset routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/datasets", get(list_datasets))
        .route("/v1/datasets/{name}/ddl", get(get_dataset_ddl))
}

async fn list_datasets(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<DatasetsResponse>> {
    caller.require_admin_access()?;
    let scope = caller.scope();
    let datasets = datasets::list(&*state.events, scope).await?;
    Ok(Json(DatasetsResponse { datasets }))
}

async fn get_dataset_ddl(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(name): Path<String>,
) -> Result<Json<DdlResponse>> {
    caller.require_admin_access()?;
    let scope = caller.scope();
    Ok(Json(datasets::ddl(&*state.events, scope, &name).await?))
}
