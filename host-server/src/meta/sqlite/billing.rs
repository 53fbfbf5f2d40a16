//! [`BillingStore`] on SQLite: plans and Paddle state in `billing_accounts`, processed events in
//! `paddle_events` (migration 0007).

use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;

use super::{SqliteMeta, is_unique_violation};
use crate::{
    error::Result,
    meta::billing::{AccountChange, BillingAccount, BillingStore, EventOutcome, PaddleEvent},
};

/// Members plus pending, unexpired invites: what the members limit counts (an invite holds a seat).
pub(super) const SEATS_SQL: &str = "SELECT (SELECT COUNT(*) FROM memberships WHERE org_id = ?1) + \
     (SELECT COUNT(*) FROM invites WHERE org_id = ?1 AND accepted_at IS NULL AND cancelled_at IS NULL \
      AND expires_at > ?2)";

/// Unrevoked API keys of the org.
pub(super) const API_KEYS_SQL: &str = "SELECT COUNT(*) FROM api_keys WHERE org_id = ? AND revoked_at IS NULL";

/// Published dashboards of the org, every environment.
pub(super) const ALERTS_SQL: &str = "SELECT count(*) FROM alerts WHERE org_id = ?";
pub(super) const REPORTS_SQL: &str = "SELECT count(*) FROM reports WHERE org_id = ?";
pub(super) const PUBLISHED_SQL: &str = "SELECT COUNT(*) FROM dashboards WHERE org_id = ? AND is_published";

#[async_trait]
impl BillingStore for SqliteMeta {
    async fn billing_account(&self, org_id: i64) -> Result<Option<BillingAccount>> {
        let row = sqlx::query(
            "SELECT o.is_demo, b.plan, b.status, b.paddle_customer_id, b.paddle_subscription_id \
             FROM orgs o LEFT JOIN billing_accounts b ON b.org_id = o.id WHERE o.id = ?",
        )
        .bind(org_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(BillingAccount {
                is_demo: row.try_get("is_demo")?,
                plan: row.try_get("plan")?,
                status: row.try_get("status")?,
                customer_id: row.try_get("paddle_customer_id")?,
                subscription_id: row.try_get("paddle_subscription_id")?,
            })
        })
        .transpose()
    }

    async fn org_for_customer(&self, customer_id: &str) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(
            "SELECT org_id FROM billing_accounts WHERE paddle_customer_id = ? ORDER BY updated_at DESC LIMIT 1",
        )
        .bind(customer_id)
        .fetch_optional(self.pool())
        .await?)
    }

    async fn record_paddle_event(
        &self,
        event: &PaddleEvent,
        change: Option<&AccountChange>,
    ) -> Result<EventOutcome> {
        let now = Utc::now();
        // The first statement writes, so the transaction holds the write lock from the start: a
        // concurrent delivery of the same event waits here, then finds the id taken.
        let mut tx = self.pool().begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO paddle_events (event_id, event_type, occurred_at, org_id, outcome, received_at) \
             VALUES (?, ?, ?, ?, 'pending', ?)",
        )
        .bind(&event.event_id)
        .bind(&event.event_type)
        .bind(&event.occurred_at)
        .bind(change.map(|c| c.org_id))
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Ok(EventOutcome::Duplicate),
            Err(e) => return Err(e.into()),
        }
        let outcome = match change {
            None => EventOutcome::UnknownOrg,
            Some(change) => {
                let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ?)")
                    .bind(change.org_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if !exists {
                    EventOutcome::UnknownOrg
                } else {
                    sqlx::query(
                        "INSERT INTO billing_accounts (org_id, updated_at) VALUES (?, ?) \
                         ON CONFLICT (org_id) DO NOTHING",
                    )
                    .bind(change.org_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(customer_id) = &change.customer_id {
                        sqlx::query(
                            "UPDATE billing_accounts SET paddle_customer_id = ?, updated_at = ? WHERE org_id = ?",
                        )
                        .bind(customer_id)
                        .bind(now)
                        .bind(change.org_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    match &change.subscription {
                        None => EventOutcome::Applied,
                        Some(sub) => {
                            // Only a state at least as new as the stored one is applied.
                            let done = sqlx::query(
                                "UPDATE billing_accounts SET plan = ?, status = ?, paddle_subscription_id = ?, \
                                 subscription_event_us = ?, updated_at = ? WHERE org_id = ? \
                                 AND (subscription_event_us IS NULL OR subscription_event_us <= ?)",
                            )
                            .bind(&sub.plan)
                            .bind(&sub.status)
                            .bind(&sub.subscription_id)
                            .bind(sub.occurred_us)
                            .bind(now)
                            .bind(change.org_id)
                            .bind(sub.occurred_us)
                            .execute(&mut *tx)
                            .await?;
                            if done.rows_affected() > 0 { EventOutcome::Applied } else { EventOutcome::Stale }
                        }
                    }
                }
            }
        };
        sqlx::query("UPDATE paddle_events SET outcome = ?, org_id = ? WHERE event_id = ?")
            .bind(outcome.as_str())
            .bind(change.filter(|_| outcome != EventOutcome::UnknownOrg).map(|c| c.org_id))
            .bind(&event.event_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn seats_used(&self, org_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(SEATS_SQL).bind(org_id).bind(Utc::now()).fetch_one(self.pool()).await?)
    }

    async fn api_keys_used(&self, org_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(API_KEYS_SQL).bind(org_id).fetch_one(self.pool()).await?)
    }

    async fn published_dashboards(&self, org_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(PUBLISHED_SQL).bind(org_id).fetch_one(self.pool()).await?)
    }

    async fn alerts_used(&self, org_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(ALERTS_SQL).bind(org_id).fetch_one(self.pool()).await?)
    }

    async fn reports_used(&self, org_id: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(REPORTS_SQL).bind(org_id).fetch_one(self.pool()).await?)
    }
}
