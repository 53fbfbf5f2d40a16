//! [`AlertStore`] on the SQLite metadata store.

use async_trait::async_trait;
use sqlx::{Row, sqlite::SqliteRow};

use super::{SqliteMeta, fixed_time};
use crate::{
    error::{AppError, Result},
    meta::{
        alerts::{AlertEvent, AlertRule, AlertState, AlertStore},
        billing::Capped,
    },
};

const COLUMNS: &str = "id, org_id, env_id, dashboard_id, widget_id, name, condition_type, operator, \
    threshold_value, lookback_minutes, tenant_ids, email_to, webhook_url, enabled, pending_minutes, \
    notify_on_resolve, repeat_interval_minutes, created_by, created_at, updated_at";

pub(super) fn json_list(text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| AppError::Internal(anyhow::anyhow!("a stored list: {e}")))
}

pub(super) fn list_json(list: &[String]) -> String {
    serde_json::Value::from(list.to_vec()).to_string()
}

fn rule_from(row: &SqliteRow) -> Result<AlertRule> {
    Ok(AlertRule {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        env_id: row.try_get("env_id")?,
        dashboard_id: row.try_get("dashboard_id")?,
        widget_id: row.try_get("widget_id")?,
        name: row.try_get("name")?,
        condition_type: row.try_get("condition_type")?,
        operator: row.try_get("operator")?,
        threshold_value: row.try_get("threshold_value")?,
        lookback_minutes: row.try_get("lookback_minutes")?,
        tenant_ids: json_list(row.try_get("tenant_ids")?)?,
        email_to: json_list(row.try_get("email_to")?)?,
        webhook_url: row.try_get("webhook_url")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        pending_minutes: row.try_get("pending_minutes")?,
        notify_on_resolve: row.try_get::<i64, _>("notify_on_resolve")? != 0,
        repeat_interval_minutes: row.try_get("repeat_interval_minutes")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn state_from(row: &SqliteRow) -> Result<AlertState> {
    Ok(AlertState {
        alert_id: row.try_get("alert_id")?,
        tenant_id: row.try_get("tenant_id")?,
        state: row.try_get("state")?,
        since: row.try_get("since")?,
        value: row.try_get("value")?,
        error: row.try_get("error")?,
        last_notified_at: row.try_get("last_notified_at")?,
        evaluated_at: row.try_get("evaluated_at")?,
    })
}

fn event_from(row: &SqliteRow) -> Result<AlertEvent> {
    Ok(AlertEvent {
        id: row.try_get("id")?,
        alert_id: row.try_get("alert_id")?,
        org_id: row.try_get("org_id")?,
        tenant_id: row.try_get("tenant_id")?,
        kind: row.try_get("kind")?,
        value: row.try_get("value")?,
        threshold_value: row.try_get("threshold_value")?,
        message: row.try_get("message")?,
        email_status: row.try_get("email_status")?,
        webhook_status: row.try_get("webhook_status")?,
        webhook_attempts: row.try_get("webhook_attempts")?,
        created_at: row.try_get("created_at")?,
    })
}

#[async_trait]
impl AlertStore for SqliteMeta {
    async fn list_alerts(&self, org_id: i64) -> Result<Vec<AlertRule>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM alerts WHERE org_id = ? ORDER BY id DESC"))
            .bind(org_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(rule_from).collect()
    }

    async fn alert(&self, org_id: i64, id: i64) -> Result<Option<AlertRule>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM alerts WHERE org_id = ? AND id = ?"))
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(rule_from).transpose()
    }

    async fn alert_by_id(&self, id: i64) -> Result<Option<AlertRule>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM alerts WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(rule_from).transpose()
    }

    async fn create_alert(&self, r: &AlertRule, cap: Option<i64>) -> Result<Capped<AlertRule>> {
        // One statement counts the org's alerts and inserts, so concurrent creates cannot both
        // pass the plan's cap.
        let row = sqlx::query(&format!(
            "INSERT INTO alerts (org_id, env_id, dashboard_id, widget_id, name, condition_type, operator, \
             threshold_value, lookback_minutes, tenant_ids, email_to, webhook_url, enabled, pending_minutes, \
             notify_on_resolve, repeat_interval_minutes, created_by, created_at, updated_at) \
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? \
             WHERE ? IS NULL OR (SELECT count(*) FROM alerts WHERE org_id = ?) < ? RETURNING {COLUMNS}"
        ))
        .bind(r.org_id)
        .bind(r.env_id)
        .bind(&r.dashboard_id)
        .bind(&r.widget_id)
        .bind(&r.name)
        .bind(&r.condition_type)
        .bind(&r.operator)
        .bind(r.threshold_value)
        .bind(r.lookback_minutes)
        .bind(list_json(&r.tenant_ids))
        .bind(list_json(&r.email_to))
        .bind(&r.webhook_url)
        .bind(r.enabled)
        .bind(r.pending_minutes)
        .bind(r.notify_on_resolve)
        .bind(r.repeat_interval_minutes)
        .bind(&r.created_by)
        .bind(r.created_at)
        .bind(r.updated_at)
        .bind(cap)
        .bind(r.org_id)
        .bind(cap)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => rule_from(&row).map(Capped::Done),
            None => {
                let used = sqlx::query_scalar(super::billing::ALERTS_SQL)
                    .bind(r.org_id)
                    .fetch_one(self.pool())
                    .await?;
                Ok(Capped::OverLimit { used })
            }
        }
    }

    async fn update_alert(&self, r: &AlertRule) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE alerts SET dashboard_id = ?, widget_id = ?, name = ?, condition_type = ?, operator = ?, \
             threshold_value = ?, lookback_minutes = ?, tenant_ids = ?, email_to = ?, webhook_url = ?, \
             enabled = ?, pending_minutes = ?, notify_on_resolve = ?, repeat_interval_minutes = ?, \
             updated_at = ? WHERE org_id = ? AND id = ?",
        )
        .bind(&r.dashboard_id)
        .bind(&r.widget_id)
        .bind(&r.name)
        .bind(&r.condition_type)
        .bind(&r.operator)
        .bind(r.threshold_value)
        .bind(r.lookback_minutes)
        .bind(list_json(&r.tenant_ids))
        .bind(list_json(&r.email_to))
        .bind(&r.webhook_url)
        .bind(r.enabled)
        .bind(r.pending_minutes)
        .bind(r.notify_on_resolve)
        .bind(r.repeat_interval_minutes)
        .bind(r.updated_at)
        .bind(r.org_id)
        .bind(r.id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_alert(&self, org_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM alerts WHERE org_id = ? AND id = ?")
            .bind(org_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn alert_states(&self, alert_id: i64) -> Result<Vec<AlertState>> {
        let rows = sqlx::query("SELECT * FROM alert_states WHERE alert_id = ? ORDER BY tenant_id")
            .bind(alert_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(state_from).collect()
    }

    async fn save_alert_state(&self, s: &AlertState) -> Result<()> {
        sqlx::query(
            "INSERT INTO alert_states (alert_id, tenant_id, state, since, value, error, last_notified_at, \
             evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (alert_id, tenant_id) DO UPDATE SET \
             state = excluded.state, since = excluded.since, value = excluded.value, error = excluded.error, \
             last_notified_at = excluded.last_notified_at, evaluated_at = excluded.evaluated_at",
        )
        .bind(s.alert_id)
        .bind(&s.tenant_id)
        .bind(&s.state)
        .bind(fixed_time(s.since))
        .bind(s.value)
        .bind(&s.error)
        .bind(s.last_notified_at.map(fixed_time))
        .bind(fixed_time(s.evaluated_at))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn clear_alert_states(&self, alert_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM alert_states WHERE alert_id = ?")
            .bind(alert_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn add_alert_event(&self, e: &AlertEvent) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO alert_events (alert_id, org_id, tenant_id, kind, value, threshold_value, message, \
             email_status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.alert_id)
        .bind(e.org_id)
        .bind(&e.tenant_id)
        .bind(&e.kind)
        .bind(e.value)
        .bind(e.threshold_value)
        .bind(&e.message)
        .bind(&e.email_status)
        .bind(fixed_time(e.created_at))
        .execute(self.pool())
        .await?;
        Ok(done.last_insert_rowid())
    }

    async fn set_alert_event_email(&self, id: i64, email_status: &str) -> Result<()> {
        sqlx::query("UPDATE alert_events SET email_status = ? WHERE id = ?")
            .bind(email_status)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn alert_events(&self, alert_id: i64, limit: u32) -> Result<Vec<AlertEvent>> {
        let rows = sqlx::query(
            "SELECT e.id, e.alert_id, e.org_id, e.tenant_id, e.kind, e.value, e.threshold_value, e.message, \
             e.email_status, d.status AS webhook_status, d.attempts AS webhook_attempts, e.created_at \
             FROM alert_events e LEFT JOIN webhook_deliveries d ON d.source = 'alert_event:' || e.id \
             WHERE e.alert_id = ? ORDER BY e.id DESC LIMIT ?",
        )
        .bind(alert_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(event_from).collect()
    }
}
