//! API keys: `emb_admin_…` / `emb_ingest_…` / `emb_embed_…`, shown once, stored as SHA-256
//! hashes, revocable; and the cache that spares busy callers a metadata round trip.

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{
    auth::{Caller, Principal},
    error::{AppError, Result},
    meta::{ApiKey, Environment, KeyGrant, MetaStore, Scope, billing::Capped},
    secrets::{Secret, random_token, sha256_hex},
};

/// Audit action of a key's creation.
pub const API_KEY_CREATE: &str = "api_key.create";
/// Audit action of a key's revocation.
pub const API_KEY_REVOKE: &str = "api_key.revoke";

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

/// Mints and stores a key for the environment, whatever the plan allows (sign-up, the demo).
pub async fn create_key(
    meta: &dyn MetaStore,
    org_id: i64,
    env: &Environment,
    label: &str,
    scope: Scope,
) -> Result<CreatedKey> {
    match create_key_capped(meta, org_id, env, label, scope, None).await? {
        Capped::Done(created) => Ok(created),
        Capped::OverLimit { .. } => {
            Err(AppError::Internal(anyhow::anyhow!("an uncapped key create was refused")))
        }
    }
}

/// Mints and stores a key for the environment unless the org already holds `cap` unrevoked
/// keys (the plan's API-key limit; checked and written atomically).
pub async fn create_key_capped(
    meta: &dyn MetaStore,
    org_id: i64,
    env: &Environment,
    label: &str,
    scope: Scope,
    cap: Option<i64>,
) -> Result<Capped<CreatedKey>> {
    let secret = format!("emb_{}_{}", scope.as_str(), random_token(40));
    let prefix: String = secret.chars().take(PREFIX_LEN).collect();
    Ok(match meta.create_api_key(org_id, env.id, label, scope, &prefix, &sha256_hex(&secret), cap).await? {
        Capped::Done(key) => Capped::Done(CreatedKey { key, secret: Secret::new(secret) }),
        Capped::OverLimit { used } => Capped::OverLimit { used },
    })
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

    /// Forgets every key of an org (after the org is deleted).
    pub fn evict_org(&self, org_id: i64) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (grant, _)| grant.org_id != org_id);
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
pub async fn authenticate(meta: &Arc<dyn MetaStore>, cache: &KeyCache, token: &str) -> Result<Caller> {
    let invalid = || AppError::Unauthorized("invalid or revoked API key".into());
    let known = ["emb_admin_", "emb_ingest_", "emb_embed_"].iter().any(|p| token.starts_with(p));
    if !known || token.len() > 128 {
        return Err(invalid());
    }
    let hash = sha256_hex(token);
    let grant = match cache.get(&hash) {
        Some(grant) => grant,
        None => {
            let generation = cache.generation.load(std::sync::atomic::Ordering::SeqCst);
            let grant = meta.api_key_by_hash(&hash).await?.ok_or_else(invalid)?;
            cache.put(&hash, &grant, generation);
            grant
        }
    };
    let stale = grant.last_used_at.is_none_or(|t| Utc::now() - t > Duration::minutes(1));
    if stale {
        cache.mark_used(&hash, Utc::now());
        let meta = meta.clone();
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
        principal: Principal::ApiKey { id: grant.key_id, scope: grant.scope, prefix: grant.prefix },
    })
}
