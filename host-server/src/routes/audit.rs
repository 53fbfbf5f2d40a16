//! `GET /v1/audit`: the org's newest audit rows (admins).

use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};

use crate::{auth::ConsoleOrAdminKey, error::Result, state::AppState};

/// Entries `GET /v1/audit` returns.
pub const AUDIT_PAGE: i64 = 100;

/// `/v1/audit`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(get_audit))
}

async fn get_audit(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<Value>> {
    caller.require_admin_access()?;
    let entries = state.meta.list_audit(caller.org_id, AUDIT_PAGE).await?;
    Ok(Json(json!({ "entries": entries })))
}
