//! `GET /v1/usage` and `GET /v1/onboarding/status`.

use axum::{
    Json, Router,
    extract::{RawQuery, State},
    routing::get,
};
use contract::query::Period;
use serde_json::Value;

use crate::{
    accounts::usage,
    auth::Caller,
    error::{AppError, Result},
    state::AppState,
};

/// `/v1/usage` and `/v1/onboarding/status`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/usage", get(get_usage))
        .route("/v1/onboarding/status", get(get_onboarding_status))
}

async fn get_usage(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let mut period = Period::D30;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "period" => {
                period = Period::parse(&value).ok_or_else(|| {
                    AppError::invalid(format!("period: must be one of 1h, 24h, 7d, 30d, 90d (got {value:?})"))
                })?;
            }
            other => return Err(AppError::invalid(format!("unknown query parameter {other:?}"))),
        }
    }
    Ok(Json(usage::report(&state, &caller, period).await?))
}

async fn get_onboarding_status(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    Ok(Json(usage::onboarding(&state, &caller).await?))
}
