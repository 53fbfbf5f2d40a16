//! Revoked embed sessions: single sessions by `jti`, and whole tenants ("every session issued
//! before"), each scoped to an org and environment; their store trait (SQLite:
//! `sqlite/revocations.rs`), and [`Revocations`], the in-memory copy every embed request is
//! checked against.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use async_trait::async_trait;
use chrono::Utc;
use contract::embed::MAX_EXPIRES_IN;

use crate::error::{AppError, Result};

/// Every revocation still able to refuse a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationSet {
    /// `(org_id, env_id, jti)` of revoked sessions.
    pub sessions: Vec<(i64, i64, String)>,
    /// `(org_id, env_id, tenant_id, revoked_before_unix)`.
    pub tenants: Vec<(i64, i64, String, i64)>,
}

/// Storage of revocations.
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// The expiry (Unix seconds) of the session `jti` minted in this org and environment, from
    /// its `embed_session.create` audit row; `None` when it minted no such session.
    async fn minted_session_expiry(&self, org_id: i64, env_id: i64, jti: &str) -> Result<Option<i64>>;
    /// Records a revoked session.
    async fn revoke_session(&self, org_id: i64, env_id: i64, jti: &str, expires_at_unix: i64) -> Result<()>;
    /// Records that the tenant's sessions issued before `before_unix` are revoked (a later
    /// revocation of the same tenant moves the time forward, never back).
    async fn revoke_tenant(&self, org_id: i64, env_id: i64, tenant_id: &str, before_unix: i64) -> Result<()>;
    /// Forgets revocations that can no longer refuse anything (sessions expired before
    /// `expired_before_unix`, tenant times before `tenant_before_unix`), then answers the rest.
    async fn live_revocations(
        &self,
        expired_before_unix: i64,
        tenant_before_unix: i64,
    ) -> Result<RevocationSet>;
}

// ---------------------------------------------------------------------------------------------
// Revocation

/// Revoked sessions and tenants, in memory: loaded from the metadata store on first use and
/// written through on every revoke (this process is the only writer of its metadata file), so
/// checking a token costs a read lock and two hash lookups.
pub struct Revocations {
    /// Where revocations are kept.
    pub store: Arc<dyn RevocationStore>,
    /// Clock skew tolerated on tokens, in seconds (the embed token's leeway).
    leeway: i64,
    cache: tokio::sync::OnceCell<RwLock<RevokedSets>>,
}

#[derive(Default)]
struct RevokedSets {
    /// `(org, env, jti)`.
    sessions: HashSet<(i64, i64, String)>,
    /// `(org, env, tenant)` → sessions issued (iat) before this Unix second are revoked.
    tenants: HashMap<(i64, i64, String), i64>,
}

impl Revocations {
    /// Revocations kept in `store`, for tokens checked with `leeway_secs` of clock skew.
    pub fn new(store: Arc<dyn RevocationStore>, leeway_secs: u64) -> Self {
        Revocations { store, leeway: leeway_secs as i64, cache: tokio::sync::OnceCell::new() }
    }

    async fn sets(&self) -> Result<&RwLock<RevokedSets>> {
        self.cache
            .get_or_try_init(|| async {
                // Nothing older than the longest session plus the leeway can refuse a live token.
                let now = Utc::now().timestamp();
                let leeway = self.leeway;
                let live =
                    self.store.live_revocations(now - leeway, now - MAX_EXPIRES_IN - 2 * leeway).await?;
                let mut sets = RevokedSets::default();
                sets.sessions.extend(live.sessions);
                for (org, env, tenant, before) in live.tenants {
                    sets.tenants.insert((org, env, tenant), before);
                }
                Ok::<_, AppError>(RwLock::new(sets))
            })
            .await
    }

    fn poisoned() -> AppError {
        AppError::Internal(anyhow::anyhow!("the revocation cache lock is poisoned"))
    }

    /// Whether a session (org, env, jti, tenant, issued at) has been revoked.
    pub async fn is_revoked(&self, org: i64, env: i64, jti: &str, tenant: &str, iat: i64) -> Result<bool> {
        let sets = self.sets().await?.read().map_err(|_| Self::poisoned())?;
        if sets.tenants.is_empty() && sets.sessions.is_empty() {
            return Ok(false);
        }
        let tenant_cut = sets.tenants.get(&(org, env, tenant.to_owned())).is_some_and(|before| iat < *before);
        Ok(tenant_cut || sets.sessions.contains(&(org, env, jti.to_owned())))
    }

    /// The Unix second before which the tenant's sessions are revoked, if ever revoked.
    pub async fn tenant_revoked_before(&self, org: i64, env: i64, tenant: &str) -> Result<Option<i64>> {
        let sets = self.sets().await?.read().map_err(|_| Self::poisoned())?;
        Ok(sets.tenants.get(&(org, env, tenant.to_owned())).copied())
    }

    /// Revokes one session.
    pub async fn revoke_session(&self, org: i64, env: i64, jti: &str, expires_at_unix: i64) -> Result<()> {
        let sets = self.sets().await?;
        self.store.revoke_session(org, env, jti, expires_at_unix).await?;
        sets.write().map_err(|_| Self::poisoned())?.sessions.insert((org, env, jti.to_owned()));
        Ok(())
    }

    /// Revokes every session of the tenant issued up to now (token times are whole seconds, so
    /// up to the end of this second; `embed::sessions::mint` issues later sessions from the next second on).
    pub async fn revoke_tenant(&self, org: i64, env: i64, tenant: &str) -> Result<i64> {
        let sets = self.sets().await?;
        let before = Utc::now().timestamp() + 1;
        self.store.revoke_tenant(org, env, tenant, before).await?;
        let mut sets = sets.write().map_err(|_| Self::poisoned())?;
        let entry = sets.tenants.entry((org, env, tenant.to_owned())).or_insert(before);
        *entry = (*entry).max(before);
        Ok(*entry)
    }
}
