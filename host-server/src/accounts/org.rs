//! Deleting an org, for good: its events in the events store (DuckDB or ClickHouse) and every
//! row of it in the metadata store, then whatever the server still held of it in memory.

use serde::Deserialize;

use crate::{
    auth::Caller,
    error::{AppError, Result},
    state::AppState,
};

/// Body of `DELETE /v1/settings/org`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteOrgRequest {
    /// The org's name, exactly: the confirmation that this is the org meant.
    pub confirm: String,
}

/// Deletes the caller's org (owners only, by the access table) once `confirm` names it.
/// Events go first and are swept again after the metadata, so an event that raced the
/// deletion with a key that still worked cannot outlive it.
pub async fn delete(state: &AppState, caller: &Caller, request: DeleteOrgRequest) -> Result<()> {
    let org = state
        .meta
        .org(caller.org_id)
        .await?
        .ok_or_else(|| AppError::NotFound("the org no longer exists".into()))?;
    if request.confirm != org.name {
        return Err(AppError::invalid(format!(
            "confirm: must be the org's name exactly ({:?}); deleting an org cannot be undone",
            org.name
        )));
    }
    state.events.delete_org(org.id).await?;
    state.members.delete_org(org.id).await?;
    state.key_cache.evict_org(org.id);
    state.dashboards.forget_org(org.id);
    state.framing.invalidate(org.id);
    state.events.delete_org(org.id).await?;
    // The org's audit log goes with it; the server's log keeps the fact.
    tracing::info!(org_id = org.id, actor = %caller.actor(), "org deleted");
    Ok(())
}
