//! `/v1/reports`: reading needs any member; writing needs admin access (`auth/access.rs`).

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::get,
};
use serde_json::Value;

use crate::{
    auth::Caller,
    error::{ApiJson, Result},
    reports,
    state::AppState,
};

/// `/v1/reports`, `/v1/reports/{id}` and `/v1/reports/{id}/runs`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/reports", get(list_reports).post(create_report))
        .route("/v1/reports/{id}", get(get_report).patch(update_report).delete(delete_report))
        .route("/v1/reports/{id}/runs", get(list_report_runs))
}

async fn list_reports(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    Ok(Json(reports::list(&state, &caller).await?))
}

async fn get_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(reports::get(&state, &caller, &id).await?))
}

async fn list_report_runs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(reports::runs(&state, &caller, &id).await?))
}

async fn create_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    Ok((StatusCode::CREATED, Json(reports::create(&state, &caller, &body).await?)))
}

async fn update_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>> {
    Ok(Json(reports::update(&state, &caller, &id, &body).await?))
}

async fn delete_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    reports::delete(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
