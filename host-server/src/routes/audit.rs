//! `GET /v1/audit`: the org's newest audit rows (admins).

use axum::{
    Json, Router,
    extract::{RawQuery, State},
    routing::get,
};
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    error::{AppError, Result, clip},
    state::AppState,
};

/// Entries `GET /v1/audit` returns.
pub const AUDIT_PAGE: i64 = 100;

/// `/v1/audit`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/audit", get(get_audit))
}

/// The newest 100 rows; `?before=<id>` pages back, `?action=<action>` filters (extensions).
async fn get_audit(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>> {
    let (mut before, mut action) = (None, None);
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "before" => {
                before = Some(value.parse::<i64>().map_err(|_| {
                    AppError::invalid(format!("before: must be an audit entry id (got {:?})", clip(&value)))
                })?);
            }
            "action" if value.is_empty() || value.len() > 100 => {
                return Err(AppError::invalid("action: must be an action name such as api_key.create"));
            }
            "action" => action = Some(value.into_owned()),
            other => return Err(AppError::invalid(format!("{}: unknown query parameter", clip(other)))),
        }
    }
    let entries = state.meta.list_audit(caller.org_id, AUDIT_PAGE, before, action.as_deref()).await?;
    Ok(Json(json!({ "entries": entries })))
}
