//! `/v1/members`: the org's members, their roles, and invites.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get, patch, post},
};
use serde_json::{Value, json};

use crate::{
    accounts::members::{self, InviteRequest, RoleRequest, invite_json, member_json},
    auth::Caller,
    error::{ApiJson, AppError, Result},
    state::AppState,
};

/// `/v1/members` and `/v1/members/invites`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/members", get(list_members))
        .route("/v1/members/invite", post(create_invite))
        .route("/v1/members/invites", get(list_invites))
        .route("/v1/members/invites/{id}", delete(cancel_invite))
        .route("/v1/members/{id}", patch(update_member).delete(remove_member))
}

fn parse_id(field: &str, id: &str) -> Result<i64> {
    id.parse().map_err(|_| AppError::invalid(format!("{field}: {:?} is not an id", crate::error::clip(id))))
}

async fn list_members(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    let members = state.members.members(caller.org_id).await?;
    Ok(Json(json!({ "members": members.iter().map(member_json).collect::<Vec<_>>() })))
}

async fn create_invite(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<Value>)> {
    let created = members::invite(&state, &caller, body).await?;
    let mut answer = invite_json(&created.invite);
    answer["token"] = json!(created.token);
    answer["invite_url"] = json!(created.invite_url);
    answer["email_sent"] = json!(created.email_sent);
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn list_invites(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    let invites = state.members.pending_invites(caller.org_id).await?;
    Ok(Json(json!({ "invites": invites.iter().map(invite_json).collect::<Vec<_>>() })))
}

async fn cancel_invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    members::cancel_invite(&state, &caller, parse_id("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn update_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleRequest>,
) -> Result<Json<Value>> {
    let member = members::set_role(&state, &caller, parse_id("id", &id)?, body).await?;
    Ok(Json(member_json(&member)))
}

async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    members::remove(&state, &caller, parse_id("id", &id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
