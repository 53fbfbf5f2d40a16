//! `/v1/webhooks`: delivery observability (reference) and, as extensions, the signing secret
//! (`POST /v1/webhooks/secret`, created or rotated, shown once) and a test message
//! (`POST /v1/webhooks/test`). Admin access (`auth/access.rs`).

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    error::{ApiJson, AppError, Result},
    meta::audit,
    outbox::{self, SECRET_GRACE, fields::check_webhook_url},
    state::AppState,
    time::timestamp,
};

/// `/v1/webhooks`, `/v1/webhooks/secret` and `/v1/webhooks/test`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", get(list_webhooks))
        .route("/v1/webhooks/secret", post(rotate_webhook_secret))
        .route("/v1/webhooks/test", post(test_webhook))
}

async fn list_webhooks(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    Ok(Json(outbox::overview(&*state.webhooks, caller.org_id, state.clock.now()).await?))
}

async fn rotate_webhook_secret(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<Value>)> {
    let now = state.clock.now();
    let secret = outbox::rotate_secret(&*state.webhooks, caller.org_id, now).await?;
    audit::record(&*state.dashboards, caller.audit("webhook_secret.rotate", "webhook_secret", json!({})))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "secret": secret,
            "created_at": timestamp(now),
            "previous_valid_until": timestamp(now + SECRET_GRACE),
        })),
    ))
}

async fn test_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>)> {
    let url = body
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| AppError::invalid("url: required (the webhook URL to send a test message to)"))?;
    let url = check_webhook_url(&state.webhook_policy.sender.guard, url).await?;
    let now = state.clock.now();
    let data = json!({ "message": "a test message from Emban", "at": timestamp(now) });
    let id =
        outbox::enqueue(&*state.webhooks, caller.org_id, &url, "test", data, "test".to_owned(), now).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "delivery_id": id, "url": url, "status": "pending" }))))
}
