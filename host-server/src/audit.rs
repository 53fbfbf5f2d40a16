//! The audit log: rows for embed sessions, API keys and publishing, and `GET /v1/audit`.

use axum::{Json, Router, extract::State, routing::get};
use chrono::Utc;
use serde_json::{Value, json};

use crate::{
    auth::{Caller, ConsoleOrAdminKey},
    error::Result,
    meta::dashboards::NewAuditRow,
    state::AppState,
};

/// Entries `GET /v1/audit` returns.
pub const AUDIT_PAGE: i64 = 100;

/// `/v1/audit`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(get_audit))
}

/// Appends a row naming the caller; answered once it is durable.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    action: &str,
    resource: &str,
    details: Value,
) -> Result<()> {
    record_as(state, caller.org_id, &caller.actor(), action, resource, details).await
}

/// Appends a row for any actor (the public demo route has no caller).
pub async fn record_as(
    state: &AppState,
    org_id: i64,
    actor: &str,
    action: &str,
    resource: &str,
    details: Value,
) -> Result<()> {
    let row = NewAuditRow {
        org_id,
        actor: actor.to_owned(),
        action: action.to_owned(),
        resource: resource.to_owned(),
        details: details.to_string(),
        created_at: Utc::now(),
    };
    state.dashboards.append_audit(vec![row]).await
}

async fn get_audit(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<Value>> {
    caller.require_admin_access()?;
    let entries = state.meta.list_audit(caller.org_id, AUDIT_PAGE).await?;
    Ok(Json(json!({ "entries": entries })))
}
