//! [`ReportStore`] on the SQLite metadata store.

use async_trait::async_trait;
use sqlx::{Row, sqlite::SqliteRow};

use super::{
    SqliteMeta,
    alerts::{json_list, list_json},
    fixed_time,
};
use crate::{
    error::{AppError, Result},
    meta::{
        billing::Capped,
        reports::{ReportRule, ReportRun, ReportStore},
    },
};

const COLUMNS: &str = "id, org_id, env_id, dashboard_id, tenant_id, name, period, filters, schedule, \
    timezone, format, email_to, webhook_url, enabled, skip_if_empty, created_by, created_at, updated_at";

fn rule_from(row: &SqliteRow) -> Result<ReportRule> {
    let filters: String = row.try_get("filters")?;
    Ok(ReportRule {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        env_id: row.try_get("env_id")?,
        dashboard_id: row.try_get("dashboard_id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        period: row.try_get("period")?,
        filters: serde_json::from_str(&filters)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("stored report filters: {e}")))?,
        schedule: row.try_get("schedule")?,
        timezone: row.try_get("timezone")?,
        format: row.try_get("format")?,
        email_to: json_list(row.try_get("email_to")?)?,
        webhook_url: row.try_get("webhook_url")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        skip_if_empty: row.try_get::<i64, _>("skip_if_empty")? != 0,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn run_from(row: &SqliteRow) -> Result<ReportRun> {
    Ok(ReportRun {
        id: row.try_get("id")?,
        report_id: row.try_get("report_id")?,
        org_id: row.try_get("org_id")?,
        scheduled_for: row.try_get("scheduled_for")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        status: row.try_get("status")?,
        email_status: row.try_get("email_status")?,
        webhook_status: row.try_get("webhook_status")?,
        error: row.try_get("error")?,
        bytes: row.try_get("bytes")?,
    })
}

fn filters_json(r: &ReportRule) -> String {
    serde_json::to_string(&r.filters).unwrap_or_else(|_| "{}".to_owned())
}

#[async_trait]
impl ReportStore for SqliteMeta {
    async fn list_reports(&self, org_id: i64) -> Result<Vec<ReportRule>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM reports WHERE org_id = ? ORDER BY id DESC"))
            .bind(org_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(rule_from).collect()
    }

    async fn report(&self, org_id: i64, id: i64) -> Result<Option<ReportRule>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM reports WHERE org_id = ? AND id = ?"))
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(rule_from).transpose()
    }

    async fn report_by_id(&self, id: i64) -> Result<Option<ReportRule>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM reports WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(rule_from).transpose()
    }

    async fn create_report(&self, r: &ReportRule, cap: Option<i64>) -> Result<Capped<ReportRule>> {
        // One statement counts the org's reports and inserts (the plan's cap holds under races).
        let row = sqlx::query(&format!(
            "INSERT INTO reports (org_id, env_id, dashboard_id, tenant_id, name, period, filters, schedule, \
             timezone, format, email_to, webhook_url, enabled, skip_if_empty, created_by, created_at, \
             updated_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? \
             WHERE ? IS NULL OR (SELECT count(*) FROM reports WHERE org_id = ?) < ? RETURNING {COLUMNS}"
        ))
        .bind(r.org_id)
        .bind(r.env_id)
        .bind(&r.dashboard_id)
        .bind(&r.tenant_id)
        .bind(&r.name)
        .bind(&r.period)
        .bind(filters_json(r))
        .bind(&r.schedule)
        .bind(&r.timezone)
        .bind(&r.format)
        .bind(list_json(&r.email_to))
        .bind(&r.webhook_url)
        .bind(r.enabled)
        .bind(r.skip_if_empty)
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
                let used = sqlx::query_scalar(super::billing::REPORTS_SQL)
                    .bind(r.org_id)
                    .fetch_one(self.pool())
                    .await?;
                Ok(Capped::OverLimit { used })
            }
        }
    }

    async fn update_report(&self, r: &ReportRule) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE reports SET dashboard_id = ?, tenant_id = ?, name = ?, period = ?, filters = ?, \
             schedule = ?, timezone = ?, format = ?, email_to = ?, webhook_url = ?, enabled = ?, \
             skip_if_empty = ?, updated_at = ? WHERE org_id = ? AND id = ?",
        )
        .bind(&r.dashboard_id)
        .bind(&r.tenant_id)
        .bind(&r.name)
        .bind(&r.period)
        .bind(filters_json(r))
        .bind(&r.schedule)
        .bind(&r.timezone)
        .bind(&r.format)
        .bind(list_json(&r.email_to))
        .bind(&r.webhook_url)
        .bind(r.enabled)
        .bind(r.skip_if_empty)
        .bind(r.updated_at)
        .bind(r.org_id)
        .bind(r.id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_report(&self, org_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM reports WHERE org_id = ? AND id = ?")
            .bind(org_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_report_run(&self, run: &ReportRun) -> Result<i64> {
        let done = sqlx::query(
            "INSERT INTO report_runs (report_id, org_id, scheduled_for, started_at, status) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(run.report_id)
        .bind(run.org_id)
        .bind(fixed_time(run.scheduled_for))
        .bind(fixed_time(run.started_at))
        .bind(&run.status)
        .execute(self.pool())
        .await?;
        Ok(done.last_insert_rowid())
    }

    async fn finish_report_run(&self, run: &ReportRun) -> Result<()> {
        sqlx::query(
            "UPDATE report_runs SET finished_at = ?, status = ?, email_status = ?, error = ?, bytes = ? \
             WHERE id = ?",
        )
        .bind(run.finished_at.map(fixed_time))
        .bind(&run.status)
        .bind(&run.email_status)
        .bind(&run.error)
        .bind(run.bytes)
        .bind(run.id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn report_runs(&self, report_id: i64, limit: u32) -> Result<Vec<ReportRun>> {
        let rows = sqlx::query(
            "SELECT r.id, r.report_id, r.org_id, r.scheduled_for, r.started_at, r.finished_at, r.status, \
             r.email_status, d.status AS webhook_status, r.error, r.bytes FROM report_runs r \
             LEFT JOIN webhook_deliveries d ON d.source = 'report_run:' || r.id \
             WHERE r.report_id = ? ORDER BY r.id DESC LIMIT ?",
        )
        .bind(report_id)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_from).collect()
    }
}
