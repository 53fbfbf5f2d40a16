//! [`OrgSettingsStore`] on the SQLite metadata store.

use async_trait::async_trait;
use sqlx::{Row, sqlite::SqliteRow};

use super::SqliteMeta;
use crate::{
    error::{AppError, Result},
    meta::org_settings::{OrgSettingsChange, OrgSettingsRecord, OrgSettingsStore},
};

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
