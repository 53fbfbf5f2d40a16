//! The one way an audit row is written: every change the server records (keys, sessions,
//! dashboards, settings) goes through [`record`], group-committed and durable before it answers.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::{
    error::Result,
    meta::dashboards::{DashboardStore, NewAuditRow},
};

/// One row to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The org the row belongs to.
    pub org_id: i64,
    /// `user:<email>`, `api_key:<id>` or `demo`.
    pub actor: String,
    /// E.g. `api_key.create`.
    pub action: &'a str,
    /// What it acted on, e.g. `dashboard:<id>`.
    pub resource: String,
    /// Action-specific details (never a token or a secret).
    pub details: Value,
    /// When; now unless the action has its own time (a session's issue time).
    pub at: DateTime<Utc>,
}

impl<'a> Entry<'a> {
    /// A row dated now.
    pub fn new(
        org_id: i64,
        actor: impl Into<String>,
        action: &'a str,
        resource: impl Into<String>,
        details: Value,
    ) -> Self {
        Entry { org_id, actor: actor.into(), action, resource: resource.into(), details, at: Utc::now() }
    }

    /// The same row dated `at`.
    pub fn at(self, at: DateTime<Utc>) -> Self {
        Entry { at, ..self }
    }
}

/// Appends `entry`; answered once it is durable.
pub async fn record(store: &dyn DashboardStore, entry: Entry<'_>) -> Result<()> {
    let row = NewAuditRow {
        org_id: entry.org_id,
        actor: entry.actor,
        action: entry.action.to_owned(),
        resource: entry.resource,
        details: entry.details.to_string(),
        created_at: entry.at,
    };
    store.append_audit(vec![row]).await
}
