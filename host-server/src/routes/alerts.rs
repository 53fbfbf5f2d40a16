//! `/v1/alerts`: reading needs any member; writing needs admin access (`auth/access.rs`).

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::get,
};
use serde_json::Value;

use crate::{
    alerts,
    auth::Caller,
    error::{ApiJson, Result},
    state::AppState,
};

/// `/v1/alerts`, `/v1/alerts/{id}` and `/v1/alerts/{id}/events`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/alerts", get(list_alerts).post(create_alert))
        .route("/v1/alerts/{id}", get(get_alert).patch(update_alert).delete(delete_alert))
        .route("/v1/alerts/{id}/events", get(list_alert_events))
}

async fn list_alerts(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    Ok(Json(alerts::list(&state, &caller).await?))
}

async fn get_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(alerts::get(&state, &caller, &id).await?))
}

async fn list_alert_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(alerts::events(&state, &caller, &id).await?))
}

async fn create_alert(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    Ok((StatusCode::CREATED, Json(alerts::create(&state, &caller, &body).await?)))
}

async fn update_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>> {
    Ok(Json(alerts::update(&state, &caller, &id, &body).await?))
}

async fn delete_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    alerts::delete(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
