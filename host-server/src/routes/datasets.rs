//! `GET /v1/datasets` and `GET /v1/datasets/{name}/ddl`.

use axum::{
    Json, Router,
    extract::{Path, State},
    routing::get,
};

use crate::{
    analytics::datasets::{self, DatasetsResponse, DdlResponse},
    auth::Caller,
    error::Result,
    state::AppState,
};

/// The dataset routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/datasets", get(list_datasets))
        .route("/v1/datasets/{name}/ddl", get(get_dataset_ddl))
}

async fn list_datasets(State(state): State<AppState>, caller: Caller) -> Result<Json<DatasetsResponse>> {
    let scope = caller.scope();
    let datasets = datasets::list(&*state.events, scope).await?;
    Ok(Json(DatasetsResponse { datasets }))
}

async fn get_dataset_ddl(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<DdlResponse>> {
    let scope = caller.scope();
    Ok(Json(datasets::ddl(&*state.events, scope, &name).await?))
}
