//! The org's settings (`/v1/settings/org`), on the SQLite metadata store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Row, sqlite::SqliteRow};

use super::sqlite::SqliteMeta;
use crate::error::{AppError, Result};

/// What an org's settings hold.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgSettingsRecord {
    /// Id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Contact email.
    pub email: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Origin patterns allowed to frame the org's embeds; empty = any.
    pub embedding_allowed_origins: Vec<String>,
}

/// A validated change; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct OrgSettingsChange {
    /// New name.
    pub name: Option<String>,
    /// New email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New framing list.
    pub embedding_allowed_origins: Option<Vec<String>>,
}

/// Storage of org settings.
#[async_trait]
pub trait OrgSettingsStore: Send + Sync + 'static {
    /// The org's settings; `None` when there is no such org.
    async fn org_settings(&self, org_id: i64) -> Result<Option<OrgSettingsRecord>>;
    /// Applies a change and answers the result; `None` when there is no such org.
    async fn update_org_settings(
        &self,
        org_id: i64,
        change: &OrgSettingsChange,
    ) -> Result<Option<OrgSettingsRecord>>;
}

fn record_from(row: &SqliteRow) -> Result<OrgSettingsRecord> {
    let origins: String = row.try_get("embedding_allowed_origins")?;
    let embedding_allowed_origins = serde_json::from_str(&origins).map_err(|e| {
        AppError::Internal(anyhow::anyhow!("org settings: embedding_allowed_origins is not a list: {e}"))
    })?;
    Ok(OrgSettingsRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
        embedding_allowed_origins,
    })
}

const COLUMNS: &str = "id, name, email, created_at, embedding_allowed_origins";

#[async_trait]
impl OrgSettingsStore for SqliteMeta {
    async fn org_settings(&self, org_id: i64) -> Result<Option<OrgSettingsRecord>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM orgs WHERE id = ?"))
            .bind(org_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(record_from).transpose()
    }

    async fn update_org_settings(
        &self,
        org_id: i64,
        change: &OrgSettingsChange,
    ) -> Result<Option<OrgSettingsRecord>> {
        let origins = change
            .embedding_allowed_origins
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| AppError::Internal(e.into()))?;
        // One statement: each column keeps its value unless the change names it.
        let row = sqlx::query(&format!(
            "UPDATE orgs SET name = COALESCE(?, name), \
                             email = CASE WHEN ? THEN ? ELSE email END, \
                             embedding_allowed_origins = COALESCE(?, embedding_allowed_origins) \
             WHERE id = ? RETURNING {COLUMNS}"
        ))
        .bind(change.name.as_deref())
        .bind(change.email.is_some())
        .bind(change.email.clone().flatten())
        .bind(origins)
        .bind(org_id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(record_from).transpose()
    }
}
