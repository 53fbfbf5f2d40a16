//! [`SavedQueryStore`] on the SQLite metadata store.

use async_trait::async_trait;
use chrono::Utc;
use sqlx::{Row, sqlite::SqliteRow};

use super::SqliteMeta;
use crate::{
    error::Result,
    meta::saved_queries::{SavedQuery, SavedQueryPatch, SavedQueryStore},
};

const COLUMNS: &str = "id, name, sql, dataset, starred, created_by, created_at, updated_at";

fn saved_from(row: &SqliteRow) -> Result<SavedQuery> {
    Ok(SavedQuery {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        sql: row.try_get("sql")?,
        dataset: row.try_get("dataset")?,
        starred: row.try_get::<i64, _>("starred")? != 0,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn get(meta: &SqliteMeta, org_id: i64, id: i64) -> Result<Option<SavedQuery>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM saved_queries WHERE org_id = ? AND id = ?"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(meta.pool())
        .await?;
    row.as_ref().map(saved_from).transpose()
}

#[async_trait]
impl SavedQueryStore for SqliteMeta {
    async fn list_saved_queries(&self, org_id: i64) -> Result<Vec<SavedQuery>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM saved_queries WHERE org_id = ? ORDER BY starred DESC, id DESC"
        ))
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(saved_from).collect()
    }

    async fn create_saved_query(
        &self,
        org_id: i64,
        name: &str,
        sql: &str,
        dataset: &str,
        created_by: &str,
    ) -> Result<SavedQuery> {
        let now = Utc::now();
        let row = sqlx::query(&format!(
            "INSERT INTO saved_queries (org_id, name, sql, dataset, starred, created_by, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 0, ?, ?, ?) RETURNING {COLUMNS}"
        ))
        .bind(org_id)
        .bind(name)
        .bind(sql)
        .bind(dataset)
        .bind(created_by)
        .bind(now)
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        saved_from(&row)
    }

    async fn update_saved_query(
        &self,
        org_id: i64,
        id: i64,
        patch: SavedQueryPatch,
    ) -> Result<Option<SavedQuery>> {
        let done = sqlx::query(
            "UPDATE saved_queries SET name = coalesce(?, name), sql = coalesce(?, sql), \
             dataset = coalesce(?, dataset), starred = coalesce(?, starred), updated_at = ? \
             WHERE org_id = ? AND id = ?",
        )
        .bind(patch.name)
        .bind(patch.sql)
        .bind(patch.dataset)
        .bind(patch.starred.map(i64::from))
        .bind(Utc::now())
        .bind(org_id)
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        get(self, org_id, id).await
    }

    async fn delete_saved_query(&self, org_id: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM saved_queries WHERE org_id = ? AND id = ?")
            .bind(org_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
