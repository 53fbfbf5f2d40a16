//! `/v1/billing`: the org's plan and usage, the plans, Paddle checkout settings and the customer
//! portal; and `POST /webhooks/paddle`, Paddle's signed notifications (public).

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::HeaderMap,
    routing::{get, post},
};
use serde_json::Value;

use crate::{
    auth::Caller,
    billing::paddle::MAX_WEBHOOK_BYTES,
    error::{AppError, Result},
    state::AppState,
};

/// `/v1/billing...` and `/webhooks/paddle`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/billing", get(get_billing))
        .route("/v1/billing/plans", get(list_plans))
        .route("/v1/billing/checkout-config", get(get_checkout_config))
        .route("/v1/billing/portal", get(get_portal))
        .route("/webhooks/paddle", post(post_paddle_webhook))
}

async fn get_billing(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    Ok(Json(state.billing.overview(caller.org_id).await?))
}

async fn list_plans(State(state): State<AppState>) -> Json<Value> {
    Json(state.billing.plans_json())
}

async fn get_checkout_config(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    Ok(Json(state.billing.checkout_config(caller.org_id)?))
}

async fn get_portal(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    Ok(Json(state.billing.portal(caller.org_id).await?))
}

async fn post_paddle_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>> {
    // The raw bytes are what Paddle signed: read them as they came, capped.
    let bytes = axum::body::to_bytes(body, MAX_WEBHOOK_BYTES).await.map_err(|_| {
        AppError::TooLarge(format!("webhook body is over the limit of {MAX_WEBHOOK_BYTES} bytes (1 MiB)"))
    })?;
    let signature = headers.get("paddle-signature").and_then(|v| v.to_str().ok());
    Ok(Json(state.billing.webhook(signature, &bytes).await?))
}
