//! `POST`, `GET` and `DELETE /v1/embed-sessions`: mint, list and revoke embed sessions.

use axum::{
    Json,
    extract::{Path, RawQuery, State},
    http::StatusCode,
};
use contract::embed::{CreateEmbedSessionRequest, CreateEmbedSessionResponse};
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    embed::sessions,
    error::{ApiJson, AppError, Result, clip},
    state::AppState,
};

pub(super) async fn create_embed_session(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateEmbedSessionRequest>,
) -> Result<(StatusCode, Json<CreateEmbedSessionResponse>)> {
    let session = sessions::mint(&state, caller.org_id, caller.env.id, &caller.actor(), request).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

pub(super) async fn list_embed_sessions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Value>> {
    let sessions = sessions::list_live(&state, &caller).await?;
    Ok(Json(json!({ "sessions": sessions })))
}

/// `DELETE /v1/embed-sessions/{jti}`: one session.
pub(super) async fn revoke_embed_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(jti): Path<String>,
) -> Result<StatusCode> {
    sessions::revoke_one(&state, &caller, &jti).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/embed-sessions?tenant_id=`: every session of a tenant minted so far.
pub(super) async fn revoke_tenant_sessions(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<StatusCode> {
    let mut tenant_id = None;
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "tenant_id" if tenant_id.is_none() => tenant_id = Some(value.into_owned()),
            "tenant_id" => return Err(AppError::invalid("tenant_id: given more than once")),
            other => return Err(AppError::invalid(format!("{}: unknown query parameter", clip(other)))),
        }
    }
    let tenant_id = tenant_id.ok_or_else(|| {
        AppError::invalid("tenant_id: required (DELETE /v1/embed-sessions/{jti} revokes one session)")
    })?;
    sessions::revoke_tenant(&state, &caller, &tenant_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
