//! API keys: `emb_admin_…` / `emb_ingest_…` / `emb_embed_…`, shown once, stored as SHA-256 hashes, revocable.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get},
};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    auth::{Caller, ConsoleOrAdminKey, Principal},
    error::{ApiJson, AppError, Result},
    meta::{ApiKey, Environment, KeyGrant, Scope},
    secrets::{Secret, random_token, sha256_hex},
    state::AppState,
};

/// Characters of a key kept (in clear) as its listed prefix.
const PREFIX_LEN: usize = 16;

/// A key just created: the only time its secret exists outside the caller.
pub struct CreatedKey {
    /// The stored key.
    pub key: ApiKey,
    /// The key itself.
    pub secret: Secret,
}

impl CreatedKey {
    /// The listed fields plus `key`.
    pub fn to_json(&self) -> Value {
        let mut v = json!(self.key);
        v["key"] = json!(self.secret.expose());
        v
    }
}

/// Mints and stores a key for the environment.
pub async fn create_key(
    state: &AppState,
    org_id: i64,
    env: &Environment,
    label: &str,
    scope: Scope,
) -> Result<CreatedKey> {
    let secret = format!("emb_{}_{}", scope.as_str(), random_token(40));
    let prefix: String = secret.chars().take(PREFIX_LEN).collect();
    let key = state.meta.create_api_key(org_id, env.id, label, scope, &prefix, &sha256_hex(&secret)).await?;
    Ok(CreatedKey { key, secret: Secret::new(secret) })
}

/// How long a verified key is trusted without asking the metadata store again.
const KEY_CACHE_SECS: u64 = 60;
/// Most keys kept; the cache is emptied when it fills.
const KEY_CACHE_CAPACITY: usize = 10_000;

/// Verified keys by hash, so busy callers (thousands of embed sessions a second) skip a metadata
/// round trip per request. This process is the only writer of keys: revoking evicts at once, and
/// entries expire after a minute for changes made behind its back.
#[derive(Default)]
pub struct KeyCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (KeyGrant, std::time::Instant)>>,
    /// Bumped by every eviction, so a lookup that raced a revoke does not cache the key.
    generation: std::sync::atomic::AtomicU64,
}

impl KeyCache {
    fn get(&self, hash: &str) -> Option<KeyGrant> {
        let entries = self.entries.lock().ok()?;
        let (grant, at) = entries.get(hash)?;
        (at.elapsed().as_secs() < KEY_CACHE_SECS).then(|| grant.clone())
    }

    fn put(&self, hash: &str, grant: &KeyGrant, generation: u64) {
        if let Ok(mut entries) = self.entries.lock()
            && self.generation.load(std::sync::atomic::Ordering::SeqCst) == generation
        {
            if entries.len() >= KEY_CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(hash.to_owned(), (grant.clone(), std::time::Instant::now()));
        }
    }

    fn mark_used(&self, hash: &str, at: chrono::DateTime<Utc>) {
        if let Ok(mut entries) = self.entries.lock()
            && let Some((grant, _)) = entries.get_mut(hash)
        {
            grant.last_used_at = Some(at);
        }
    }

    /// Forgets a key (after it is revoked).
    pub fn evict(&self, key_id: i64) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (grant, _)| grant.key_id != key_id);
        }
    }
}

/// Resolves a Bearer token to a caller; 401 for anything but a live key.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Caller> {
    let invalid = || AppError::Unauthorized("invalid or revoked API key".into());
    let known = ["emb_admin_", "emb_ingest_", "emb_embed_"].iter().any(|p| token.starts_with(p));
    if !known || token.len() > 128 {
        return Err(invalid());
    }
    let hash = sha256_hex(token);
    let grant = match state.key_cache.get(&hash) {
        Some(grant) => grant,
        None => {
            let generation = state.key_cache.generation.load(std::sync::atomic::Ordering::SeqCst);
            let grant = state.meta.api_key_by_hash(&hash).await?.ok_or_else(invalid)?;
            state.key_cache.put(&hash, &grant, generation);
            grant
        }
    };
    let stale = grant.last_used_at.is_none_or(|t| Utc::now() - t > Duration::minutes(1));
    if stale {
        state.key_cache.mark_used(&hash, Utc::now());
        let meta = state.meta.clone();
        let id = grant.key_id;
        tokio::spawn(async move {
            if let Err(e) = meta.touch_api_key(id).await {
                tracing::warn!(error = %e, key_id = id, "recording key use failed");
            }
        });
    }
    Ok(Caller {
        org_id: grant.org_id,
        env: grant.env,
        principal: Principal::ApiKey { id: grant.key_id, scope: grant.scope },
    })
}

/// `/v1/api-keys`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/api-keys", get(list_api_keys).post(create_api_key))
        .route("/v1/api-keys/{id}", delete(revoke_api_key))
}

async fn list_api_keys(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<Value>> {
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
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    ApiJson(body): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<Value>)> {
    caller.require_admin_access()?;
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
    let created = create_key(&state, caller.org_id, &env, label, scope).await?;
    state
        .meta
        .audit(
            caller.org_id,
            &caller.actor(),
            "api_key.create",
            &format!("api_key:{}", created.key.id),
            json!({ "scope": scope, "label": label, "prefix": created.key.prefix, "environment": env.name }),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created.to_json())))
}

async fn revoke_api_key(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin_access()?;
    let id: i64 = id.parse().map_err(|_| AppError::invalid(format!("id: {id:?} is not an API key id")))?;
    if !state.meta.revoke_api_key(caller.org_id, id).await? {
        return Err(AppError::NotFound(format!("no API key with id {id}")));
    }
    state.key_cache.evict(id);
    state
        .meta
        .audit(caller.org_id, &caller.actor(), "api_key.revoke", &format!("api_key:{id}"), json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
