//! [`WebhookStore`] on the SQLite metadata store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Row, sqlite::SqliteRow};

use super::{SqliteMeta, fixed_time};
use crate::{
    error::Result,
    meta::webhooks::{TargetStats, WebhookAttempt, WebhookDelivery, WebhookStore},
};

const DELIVERY_COLUMNS: &str =
    "id, org_id, message_id, url, event_type, payload, status, attempts, next_attempt_at, created_at, source";

fn delivery_from(row: &SqliteRow) -> Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        message_id: row.try_get("message_id")?,
        url: row.try_get("url")?,
        event_type: row.try_get("event_type")?,
        payload: row.try_get("payload")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        source: row.try_get("source")?,
    })
}

fn attempt_from(row: &SqliteRow) -> Result<WebhookAttempt> {
    Ok(WebhookAttempt {
        delivery_id: row.try_get("delivery_id")?,
        org_id: row.try_get("org_id")?,
        url: row.try_get("url")?,
        attempted_at: row.try_get("attempted_at")?,
        ok: row.try_get::<i64, _>("ok")? != 0,
        status_code: row.try_get::<Option<i64>, _>("status_code")?.and_then(|c| u16::try_from(c).ok()),
        error: row.try_get("error")?,
        response_excerpt: row.try_get("response_excerpt")?,
        duration_ms: row.try_get("duration_ms")?,
    })
}

const ATTEMPT_COLUMNS: &str =
    "delivery_id, org_id, url, attempted_at, ok, status_code, error, response_excerpt, duration_ms";

#[async_trait]
impl WebhookStore for SqliteMeta {
    async fn signing_secrets(&self, org_id: i64, now: DateTime<Utc>) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT secret FROM webhook_secrets WHERE org_id = ? AND (expires_at IS NULL OR expires_at > ?) \
             ORDER BY id DESC",
        )
        .bind(org_id)
        .bind(fixed_time(now))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(|r| r.try_get("secret")).collect::<Result<_, _>>()?)
    }

    async fn add_signing_secret(
        &self,
        org_id: i64,
        secret: &str,
        now: DateTime<Utc>,
        previous_until: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE webhook_secrets SET expires_at = ? WHERE org_id = ? AND expires_at IS NULL")
            .bind(fixed_time(previous_until))
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO webhook_secrets (org_id, secret, created_at) VALUES (?, ?, ?)")
            .bind(org_id)
            .bind(secret)
            .bind(fixed_time(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn enqueue_webhook(&self, d: &WebhookDelivery) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO webhook_deliveries (org_id, message_id, url, event_type, payload, status, attempts, \
             next_attempt_at, created_at, source) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        )
        .bind(d.org_id)
        .bind(&d.message_id)
        .bind(&d.url)
        .bind(&d.event_type)
        .bind(&d.payload)
        .bind(&d.status)
        .bind(fixed_time(d.next_attempt_at))
        .bind(fixed_time(d.created_at))
        .bind(&d.source)
        .execute(self.pool())
        .await?;
        Ok(done.last_insert_rowid())
    }

    async fn claim_webhooks(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let now = fixed_time(now);
        let rows = sqlx::query(&format!(
            "UPDATE webhook_deliveries SET lease_owner = ?, lease_expires_at = ? WHERE id IN \
             (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? \
             AND (lease_expires_at IS NULL OR lease_expires_at <= ?) ORDER BY next_attempt_at LIMIT ?) \
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(owner)
        .bind(fixed_time(lease_until))
        .bind(&now)
        .bind(&now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let mut claimed = rows.iter().map(delivery_from).collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    async fn record_webhook_attempt(
        &self,
        a: &WebhookAttempt,
        status: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(&format!(
            "INSERT INTO webhook_attempts ({ATTEMPT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(a.delivery_id)
        .bind(a.org_id)
        .bind(&a.url)
        .bind(fixed_time(a.attempted_at))
        .bind(a.ok)
        .bind(a.status_code.map(i64::from))
        .bind(&a.error)
        .bind(&a.response_excerpt)
        .bind(a.duration_ms)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, \
             lease_owner = NULL, lease_expires_at = NULL WHERE id = ?",
        )
        .bind(status)
        .bind(fixed_time(next_attempt_at))
        .bind(a.delivery_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn disable_target(&self, org_id: i64, url: &str, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT OR IGNORE INTO webhook_disabled_targets (org_id, url, disabled_at) VALUES (?, ?, ?)",
        )
        .bind(org_id)
        .bind(url)
        .bind(fixed_time(now))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = 'disabled' WHERE org_id = ? AND url = ? AND status = 'pending'",
        )
        .bind(org_id)
        .bind(url)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn target_disabled(&self, org_id: i64, url: &str) -> Result<Option<DateTime<Utc>>> {
        let row =
            sqlx::query("SELECT disabled_at FROM webhook_disabled_targets WHERE org_id = ? AND url = ?")
                .bind(org_id)
                .bind(url)
                .fetch_optional(self.pool())
                .await?;
        Ok(row.map(|r| r.try_get("disabled_at")).transpose()?)
    }

    async fn enable_target(&self, org_id: i64, url: &str) -> Result<()> {
        sqlx::query("DELETE FROM webhook_disabled_targets WHERE org_id = ? AND url = ?")
            .bind(org_id)
            .bind(url)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn target_stats(&self, org_id: i64, since: DateTime<Utc>) -> Result<Vec<TargetStats>> {
        let rows = sqlx::query(
            "SELECT u.url, \
             (SELECT COUNT(*) FROM webhook_attempts a WHERE a.org_id = ?1 AND a.url = u.url AND a.ok = 1 \
              AND a.attempted_at >= ?2) AS ok_count, \
             (SELECT COUNT(*) FROM webhook_attempts a WHERE a.org_id = ?1 AND a.url = u.url AND a.ok = 0 \
              AND a.attempted_at >= ?2) AS fail_count, \
             (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.org_id = ?1 AND d.url = u.url \
              AND d.status = 'pending') AS pending, \
             (SELECT disabled_at FROM webhook_disabled_targets t WHERE t.org_id = ?1 AND t.url = u.url) \
              AS disabled_at \
             FROM (SELECT DISTINCT url FROM webhook_deliveries WHERE org_id = ?1) u ORDER BY u.url",
        )
        .bind(org_id)
        .bind(fixed_time(since))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let url: String = row.try_get("url")?;
            let last = self.recent_attempts(org_id, &url, 1).await?.into_iter().next();
            out.push(TargetStats {
                url,
                success_count: row.try_get("ok_count")?,
                failure_count: row.try_get("fail_count")?,
                pending: row.try_get("pending")?,
                last,
                disabled_at: row.try_get("disabled_at")?,
            });
        }
        Ok(out)
    }

    async fn recent_attempts(&self, org_id: i64, url: &str, limit: u32) -> Result<Vec<WebhookAttempt>> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE org_id = ? AND url = ? ORDER BY id DESC LIMIT ?"
        ))
        .bind(org_id)
        .bind(url)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(attempt_from).collect()
    }
}
