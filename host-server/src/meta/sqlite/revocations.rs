//! [`RevocationStore`] on the SQLite metadata store.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;

use super::SqliteMeta;
use crate::{
    error::Result,
    meta::{
        dashboards::EMBED_SESSION_CREATE,
        revocations::{RevocationSet, RevocationStore},
    },
};

#[async_trait]
impl RevocationStore for SqliteMeta {
    async fn minted_session_expiry(&self, org_id: i64, env_id: i64, jti: &str) -> Result<Option<i64>> {
        let expiry: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT json_extract(details, '$.expires_at_unix') FROM audit \
             WHERE org_id = ? AND action = ? AND json_extract(details, '$.env_id') = ? \
             AND json_extract(details, '$.jti') = ? LIMIT 1",
        )
        .bind(org_id)
        .bind(EMBED_SESSION_CREATE)
        .bind(env_id)
        .bind(jti)
        .fetch_optional(self.pool())
        .await?;
        Ok(expiry.map(|e| e.unwrap_or(i64::MAX)))
    }

    async fn revoke_session(&self, org_id: i64, env_id: i64, jti: &str, expires_at_unix: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO embed_session_revocations (org_id, env_id, jti, expires_at_unix, revoked_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, env_id, jti) DO NOTHING",
        )
        .bind(org_id)
        .bind(env_id)
        .bind(jti)
        .bind(expires_at_unix)
        .bind(Utc::now())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn revoke_tenant(&self, org_id: i64, env_id: i64, tenant_id: &str, before_unix: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO embed_tenant_revocations (org_id, env_id, tenant_id, revoked_before_unix) \
             VALUES (?, ?, ?, ?) ON CONFLICT (org_id, env_id, tenant_id) DO UPDATE SET \
             revoked_before_unix = MAX(revoked_before_unix, excluded.revoked_before_unix)",
        )
        .bind(org_id)
        .bind(env_id)
        .bind(tenant_id)
        .bind(before_unix)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn live_revocations(
        &self,
        expired_before_unix: i64,
        tenant_before_unix: i64,
    ) -> Result<RevocationSet> {
        sqlx::query("DELETE FROM embed_session_revocations WHERE expires_at_unix < ?")
            .bind(expired_before_unix)
            .execute(self.pool())
            .await?;
        sqlx::query("DELETE FROM embed_tenant_revocations WHERE revoked_before_unix < ?")
            .bind(tenant_before_unix)
            .execute(self.pool())
            .await?;
        let sessions = sqlx::query("SELECT org_id, env_id, jti FROM embed_session_revocations")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("org_id")?, r.try_get("env_id")?, r.try_get("jti")?)))
            .collect::<Result<_>>()?;
        let tenants = sqlx::query(
            "SELECT org_id, env_id, tenant_id, revoked_before_unix FROM embed_tenant_revocations",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("org_id")?,
                r.try_get("env_id")?,
                r.try_get("tenant_id")?,
                r.try_get("revoked_before_unix")?,
            ))
        })
        .collect::<Result<_>>()?;
        Ok(RevocationSet { sessions, tenants })
    }
}
