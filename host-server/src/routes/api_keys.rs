//! `GET` and `POST /v1/api-keys`, `DELETE /v1/api-keys/{id}`: an org's keys, created shown once.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    auth::{
        Caller,
        api_keys::{API_KEY_CREATE, API_KEY_REVOKE, create_key_capped},
    },
    billing::limits::Gate,
    error::{ApiJson, AppError, Result},
    meta::{Scope, audit},
    state::AppState,
};

/// `/v1/api-keys`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/api-keys", get(list_api_keys).post(create_api_key))
        .route("/v1/api-keys/{id}", delete(revoke_api_key))
}

async fn list_api_keys(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    let keys = state.meta.list_api_keys(caller.org_id).await?;
    Ok(Json(json!({ "api_keys": keys })))
}

/// Body of `POST /v1/api-keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    label: String,
    scope: String,
    /// The environment the key's events go to; the caller's when absent.
    #[serde(default)]
    environment: Option<String>,
}

async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<Value>)> {
    let label = body.label.trim();
    if label.is_empty() || label.chars().count() > 200 {
        return Err(AppError::invalid("label: must be a non-empty string of at most 200 characters"));
    }
    let scope = Scope::parse(&body.scope).ok_or_else(|| {
        AppError::invalid(format!("scope: must be \"admin\", \"ingest\" or \"embed\" (got {:?})", body.scope))
    })?;
    let env = match body.environment {
        None => caller.env.clone(),
        Some(name) => state
            .meta
            .environments(caller.org_id)
            .await?
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| AppError::invalid(format!("environment: no environment named {name:?}")))?,
    };
    let cap = state.billing.cap(caller.org_id, Gate::ApiKeys).await?;
    let created =
        cap.enforce(create_key_capped(&*state.meta, caller.org_id, &env, label, scope, cap.limit()).await?)?;
    let details =
        json!({ "scope": scope, "label": label, "prefix": created.key.prefix, "environment": env.name });
    audit::record(
        &*state.dashboards,
        caller.audit(API_KEY_CREATE, format!("api_key:{}", created.key.id), details),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created.to_json())))
}

async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let id: i64 = id.parse().map_err(|_| AppError::invalid(format!("id: {id:?} is not an API key id")))?;
    if !state.meta.revoke_api_key(caller.org_id, id).await? {
        return Err(AppError::NotFound(format!("no API key with id {id}")));
    }
    state.key_cache.evict(id);
    audit::record(&*state.dashboards, caller.audit(API_KEY_REVOKE, format!("api_key:{id}"), json!({})))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
