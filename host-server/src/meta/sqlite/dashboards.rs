//! [`DashboardStore`] on the SQLite metadata store: configs are JSON text in the contract's
//! shape, every statement filters by org and environment.

use std::sync::Arc;

use anyhow::anyhow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Serialize, de::DeserializeOwned};
use sqlx::{Row, sqlite::SqliteRow};

use super::SqliteMeta;
use crate::{
    error::{AppError, Result},
    meta::{
        AuditEntry,
        billing::Capped,
        dashboards::{
            DashboardRecord, DashboardStore, EMBED_SESSION_CREATE, NewAuditRow, SaveOutcome, WidgetRecord,
        },
    },
};

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| AppError::Internal(anyhow!("encoding config: {e}")))
}

fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| AppError::Internal(anyhow!("stored {what} is unreadable: {e}")))
}

fn optional_json<T: DeserializeOwned>(text: Option<String>, what: &str) -> Result<Option<T>> {
    text.map(|t| from_json(&t, what)).transpose()
}

const DASHBOARD_COLUMNS: &str = "id, org_id, env_id, name, config, published_config, is_published, \
                                 published_at, version, created_at, updated_at";

fn dashboard_from(row: &SqliteRow) -> Result<DashboardRecord> {
    Ok(DashboardRecord {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        env_id: row.try_get("env_id")?,
        name: row.try_get("name")?,
        config: from_json(row.try_get("config")?, "dashboard config")?,
        published_config: optional_json(row.try_get("published_config")?, "published dashboard config")?,
        is_published: row.try_get("is_published")?,
        published_at: row.try_get::<Option<DateTime<Utc>>, _>("published_at")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

const WIDGET_COLUMNS: &str =
    "id, org_id, env_id, config, published_config, published_at, version, created_at, updated_at";

fn widget_from(row: &SqliteRow) -> Result<WidgetRecord> {
    Ok(WidgetRecord {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        env_id: row.try_get("env_id")?,
        config: from_json(row.try_get("config")?, "widget config")?,
        published_config: optional_json(row.try_get("published_config")?, "published widget config")?,
        published_at: row.try_get::<Option<DateTime<Utc>>, _>("published_at")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl SqliteMeta {
    /// What an optimistic `UPDATE` of `table` that changed `updated` rows means: saved, or (one
    /// look by id, inside the store) gone or changed by someone else.
    async fn save_outcome(
        &self,
        table: &str,
        updated: u64,
        id: &str,
        org_id: i64,
        env_id: i64,
    ) -> Result<SaveOutcome> {
        if updated > 0 {
            return Ok(SaveOutcome::Saved);
        }
        let exists: bool = sqlx::query_scalar(&format!(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ? AND org_id = ? AND env_id = ?)"
        ))
        .bind(id)
        .bind(org_id)
        .bind(env_id)
        .fetch_one(self.pool())
        .await?;
        Ok(if exists { SaveOutcome::Stale } else { SaveOutcome::Missing })
    }
}

#[async_trait]
impl DashboardStore for SqliteMeta {
    fn forget_org(&self, _org_id: i64) {
        // Nothing of an org is held in memory here: every read goes to the database.
    }

    async fn list_dashboards(&self, org_id: i64, env_id: i64) -> Result<Vec<DashboardRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {DASHBOARD_COLUMNS} FROM dashboards WHERE org_id = ? AND env_id = ? \
             ORDER BY created_at DESC, id"
        ))
        .bind(org_id)
        .bind(env_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(dashboard_from).collect()
    }

    async fn dashboard(&self, org_id: i64, env_id: i64, id: &str) -> Result<Option<Arc<DashboardRecord>>> {
        let row = sqlx::query(&format!(
            "SELECT {DASHBOARD_COLUMNS} FROM dashboards WHERE id = ? AND org_id = ? AND env_id = ?"
        ))
        .bind(id)
        .bind(org_id)
        .bind(env_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(dashboard_from).transpose()?.map(Arc::new))
    }

    async fn create_dashboard(&self, r: &DashboardRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO dashboards ({DASHBOARD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&r.id)
        .bind(r.org_id)
        .bind(r.env_id)
        .bind(&r.name)
        .bind(to_json(&r.config)?)
        .bind(r.published_config.as_ref().map(to_json).transpose()?)
        .bind(r.is_published)
        .bind(r.published_at)
        .bind(r.version)
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn save_dashboard(&self, r: &DashboardRecord, expected_version: i64) -> Result<SaveOutcome> {
        let done = sqlx::query(
            "UPDATE dashboards SET name = ?, config = ?, published_config = ?, is_published = ?, \
             published_at = ?, version = ?, updated_at = ? \
             WHERE id = ? AND org_id = ? AND env_id = ? AND version = ?",
        )
        .bind(&r.name)
        .bind(to_json(&r.config)?)
        .bind(r.published_config.as_ref().map(to_json).transpose()?)
        .bind(r.is_published)
        .bind(r.published_at)
        .bind(r.version)
        .bind(r.updated_at)
        .bind(&r.id)
        .bind(r.org_id)
        .bind(r.env_id)
        .bind(expected_version)
        .execute(self.pool())
        .await?;
        self.save_outcome("dashboards", done.rows_affected(), &r.id, r.org_id, r.env_id).await
    }

    async fn save_dashboard_capped(
        &self,
        r: &DashboardRecord,
        expected_version: i64,
        published_cap: Option<i64>,
    ) -> Result<Capped<SaveOutcome>> {
        // The row's own `is_published` is its state before this write: republishing a published
        // dashboard takes no new slot.
        let done = sqlx::query(&format!(
            "UPDATE dashboards SET name = ?, config = ?, published_config = ?, is_published = ?, \
             published_at = ?, version = ?, updated_at = ? \
             WHERE id = ? AND org_id = ? AND env_id = ? AND version = ? \
             AND (is_published OR ? IS NULL OR ({}) < ?)",
            super::billing::PUBLISHED_SQL
        ))
        .bind(&r.name)
        .bind(to_json(&r.config)?)
        .bind(r.published_config.as_ref().map(to_json).transpose()?)
        .bind(r.is_published)
        .bind(r.published_at)
        .bind(r.version)
        .bind(r.updated_at)
        .bind(&r.id)
        .bind(r.org_id)
        .bind(r.env_id)
        .bind(expected_version)
        .bind(published_cap)
        .bind(r.org_id)
        .bind(published_cap)
        .execute(self.pool())
        .await?;
        let outcome =
            self.save_outcome("dashboards", done.rows_affected(), &r.id, r.org_id, r.env_id).await?;
        if outcome == SaveOutcome::Stale && published_cap.is_some() {
            // Not saved though the row exists: a newer version, or the cap. Tell which.
            let row = sqlx::query(
                "SELECT version, is_published FROM dashboards WHERE id = ? AND org_id = ? AND env_id = ?",
            )
            .bind(&r.id)
            .bind(r.org_id)
            .bind(r.env_id)
            .fetch_optional(self.pool())
            .await?;
            if let Some(row) = row {
                let version: i64 = row.try_get("version")?;
                let published: bool = row.try_get("is_published")?;
                if version == expected_version && !published {
                    let used = sqlx::query_scalar(super::billing::PUBLISHED_SQL)
                        .bind(r.org_id)
                        .fetch_one(self.pool())
                        .await?;
                    return Ok(Capped::OverLimit { used });
                }
            }
        }
        Ok(Capped::Done(outcome))
    }

    async fn delete_dashboard(&self, org_id: i64, env_id: i64, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM dashboards WHERE id = ? AND org_id = ? AND env_id = ?")
            .bind(id)
            .bind(org_id)
            .bind(env_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_widgets(&self, org_id: i64, env_id: i64) -> Result<Vec<WidgetRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {WIDGET_COLUMNS} FROM widgets WHERE org_id = ? AND env_id = ? ORDER BY created_at DESC, id"
        ))
        .bind(org_id)
        .bind(env_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(widget_from).collect()
    }

    async fn widget(&self, org_id: i64, env_id: i64, id: &str) -> Result<Option<WidgetRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {WIDGET_COLUMNS} FROM widgets WHERE id = ? AND org_id = ? AND env_id = ?"
        ))
        .bind(id)
        .bind(org_id)
        .bind(env_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(widget_from).transpose()
    }

    async fn create_widget(&self, r: &WidgetRecord) -> Result<()> {
        sqlx::query(&format!("INSERT INTO widgets ({WIDGET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"))
            .bind(&r.id)
            .bind(r.org_id)
            .bind(r.env_id)
            .bind(to_json(&r.config)?)
            .bind(r.published_config.as_ref().map(to_json).transpose()?)
            .bind(r.published_at)
            .bind(r.version)
            .bind(r.created_at)
            .bind(r.updated_at)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn save_widget(&self, r: &WidgetRecord, expected_version: i64) -> Result<SaveOutcome> {
        let done = sqlx::query(
            "UPDATE widgets SET config = ?, published_config = ?, published_at = ?, version = ?, updated_at = ? \
             WHERE id = ? AND org_id = ? AND env_id = ? AND version = ?",
        )
        .bind(to_json(&r.config)?)
        .bind(r.published_config.as_ref().map(to_json).transpose()?)
        .bind(r.published_at)
        .bind(r.version)
        .bind(r.updated_at)
        .bind(&r.id)
        .bind(r.org_id)
        .bind(r.env_id)
        .bind(expected_version)
        .execute(self.pool())
        .await?;
        self.save_outcome("widgets", done.rows_affected(), &r.id, r.org_id, r.env_id).await
    }

    async fn delete_widget(&self, org_id: i64, env_id: i64, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM widgets WHERE id = ? AND org_id = ? AND env_id = ?")
            .bind(id)
            .bind(org_id)
            .bind(env_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn append_audit(&self, rows: Vec<NewAuditRow>) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // One statement (prepared once) for any number of rows: they travel as one JSON array.
        // A row of an org deleted meanwhile is dropped, not allowed to fail the others' batch.
        #[derive(Serialize)]
        struct Row<'a> {
            o: i64,
            a: &'a str,
            c: &'a str,
            r: &'a str,
            d: &'a str,
            t: String,
        }
        let batch: Vec<Row<'_>> = rows
            .iter()
            .map(|r| Row {
                o: r.org_id,
                a: &r.actor,
                c: &r.action,
                r: &r.resource,
                d: &r.details,
                // sqlx's own text form of a `DateTime<Utc>`, so every row reads back alike.
                t: r.created_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
            })
            .collect();
        sqlx::query(
            "INSERT INTO audit (org_id, actor, action, resource, details, created_at) \
             SELECT value ->> 'o', value ->> 'a', value ->> 'c', value ->> 'r', value ->> 'd', value ->> 't' \
             FROM json_each(?) WHERE EXISTS (SELECT 1 FROM orgs WHERE orgs.id = value ->> 'o')",
        )
        .bind(to_json(&batch)?)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn prune_audit(&self, org_id: i64, actor: &str, keep: u32) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM audit WHERE org_id = ? AND actor = ? AND id <= \
             (SELECT id FROM audit WHERE org_id = ? AND actor = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        )
        .bind(org_id)
        .bind(actor)
        .bind(org_id)
        .bind(actor)
        .bind(i64::from(keep))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn active_embed_sessions(
        &self,
        org_id: i64,
        env_id: i64,
        now_unix: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, actor, action, resource, details, created_at FROM audit \
             WHERE org_id = ? AND action = ? \
             AND json_extract(details, '$.env_id') = ? AND json_extract(details, '$.expires_at_unix') > ? \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(org_id)
        .bind(EMBED_SESSION_CREATE)
        .bind(env_id)
        .bind(now_unix)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let details: String = r.try_get("details")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    resource: r.try_get("resource")?,
                    details: from_json(&details, "audit details")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }
}
