//! The org's settings (`/v1/settings/org`): the record, a change, and their store trait
//! (SQLite: `sqlite/org_settings.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;

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
