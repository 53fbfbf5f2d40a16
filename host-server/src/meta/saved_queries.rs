//! Saved ad-hoc SQL snippets (`/v1/saved-queries`), per org: the records and their store trait
//! (SQLite: `sqlite/saved_queries.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;

/// One saved query.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SavedQuery {
    /// Id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The SQL text, as written.
    pub sql: String,
    /// The dataset it reads (`events`, `events_hourly`, `events_daily`).
    pub dataset: String,
    /// Pinned in the console.
    pub starred: bool,
    /// Who created it (`user:<email>` or `api_key:<id>`).
    pub created_by: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A change to a saved query; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct SavedQueryPatch {
    /// New name.
    pub name: Option<String>,
    /// New SQL.
    pub sql: Option<String>,
    /// New dataset.
    pub dataset: Option<String>,
    /// New starred state.
    pub starred: Option<bool>,
}

/// Storage of saved queries; every method is confined to one org.
#[async_trait]
pub trait SavedQueryStore: Send + Sync + 'static {
    /// The org's saved queries, starred first, then newest.
    async fn list_saved_queries(&self, org_id: i64) -> Result<Vec<SavedQuery>>;
    /// Creates one.
    async fn create_saved_query(
        &self,
        org_id: i64,
        name: &str,
        sql: &str,
        dataset: &str,
        created_by: &str,
    ) -> Result<SavedQuery>;
    /// Applies a patch; `None` when the org has no such query.
    async fn update_saved_query(
        &self,
        org_id: i64,
        id: i64,
        patch: SavedQueryPatch,
    ) -> Result<Option<SavedQuery>>;
    /// Deletes one; whether it existed.
    async fn delete_saved_query(&self, org_id: i64, id: i64) -> Result<bool>;
}
