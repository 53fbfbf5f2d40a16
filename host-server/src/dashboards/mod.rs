//! Dashboards as the domain sees them: loaded within the caller's org and environment, saved
//! with optimistic versions (`SaveOutcome`), validated (`validate`), built from discovered events
//! (`auto`), and standalone widgets (`widgets`).

pub mod auto;
pub mod validate;
pub mod widgets;

use chrono::Utc;
use contract::dashboard::{Dashboard, DashboardConfig, GRID_COLUMNS};
use serde_json::{Value, json};

use crate::{
    error::{AppError, Result, clip},
    events::StoreScope,
    meta::{
        billing::Capped,
        dashboards::{DashboardRecord, DashboardStore, SaveOutcome},
    },
    secrets::random_token,
    time::timestamp,
};
use validate::MAX_LAYOUT_Y;

/// The wire form of a stored dashboard.
pub fn to_wire(r: &DashboardRecord) -> Dashboard {
    Dashboard {
        id: r.id.clone(),
        name: r.name.clone(),
        has_unpublished_changes: r.published_config.as_ref() != Some(&r.config),
        config: r.config.clone(),
        published: r.is_published && r.published_config.is_some(),
        published_config: r.published_config.clone(),
        published_at: r.published_at.map(timestamp),
        created_at: timestamp(r.created_at),
        updated_at: timestamp(r.updated_at),
    }
}

/// Loads a dashboard of the org and environment of `scope`; 404 otherwise.
pub async fn load(store: &dyn DashboardStore, scope: StoreScope, id: &str) -> Result<DashboardRecord> {
    store
        .dashboard(scope.org_id, scope.env_id, id)
        .await?
        .map(std::sync::Arc::unwrap_or_clone)
        .ok_or_else(|| AppError::NotFound(format!("no dashboard with id {:?}", clip(id))))
}

/// Saves a modified dashboard, bumping its version; 404 when it is gone, 409 when another
/// request saved first.
pub async fn save(store: &dyn DashboardStore, mut record: DashboardRecord) -> Result<DashboardRecord> {
    let expected = record.version;
    record.version += 1;
    record.updated_at = Utc::now();
    match store.save_dashboard(&record, expected).await? {
        SaveOutcome::Saved => Ok(record),
        SaveOutcome::Missing => {
            Err(AppError::NotFound(format!("no dashboard with id {:?}", clip(&record.id))))
        }
        SaveOutcome::Stale => {
            Err(AppError::Conflict("the dashboard was changed by another request; reload and retry".into()))
        }
    }
}

/// [`save`] for a publish, refused when the org already has `published_cap` published
/// dashboards and this one is not one of them (checked and written atomically by the store).
pub async fn save_capped(
    store: &dyn DashboardStore,
    mut record: DashboardRecord,
    published_cap: Option<i64>,
) -> Result<Capped<DashboardRecord>> {
    let expected = record.version;
    record.version += 1;
    record.updated_at = Utc::now();
    match store.save_dashboard_capped(&record, expected, published_cap).await? {
        Capped::Done(SaveOutcome::Saved) => Ok(Capped::Done(record)),
        Capped::Done(SaveOutcome::Missing) => {
            Err(AppError::NotFound(format!("no dashboard with id {:?}", clip(&record.id))))
        }
        Capped::Done(SaveOutcome::Stale) => {
            Err(AppError::Conflict("the dashboard was changed by another request; reload and retry".into()))
        }
        Capped::OverLimit { used } => Ok(Capped::OverLimit { used }),
    }
}

/// Creates and stores a dashboard from a validated config.
pub async fn insert_dashboard(
    store: &dyn DashboardStore,
    org_id: i64,
    env_id: i64,
    name: String,
    config: DashboardConfig,
) -> Result<DashboardRecord> {
    let now = Utc::now();
    let record = DashboardRecord {
        id: uuid::Uuid::new_v4().to_string(),
        org_id,
        env_id,
        name,
        config,
        published_config: None,
        is_published: false,
        published_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store.create_dashboard(&record).await?;
    Ok(record)
}

/// A fresh widget id: `w_` and ten random characters.
pub fn new_widget_id() -> String {
    format!("w_{}", random_token(10).to_ascii_lowercase())
}

/// The first free full-width slot under the existing widgets, half the grid wide.
pub fn next_slot(config: &DashboardConfig) -> Value {
    let y = config.widgets.iter().map(|w| w.layout.y.saturating_add(w.layout.h)).max().unwrap_or(0);
    json!({ "x": 0, "y": y.min(MAX_LAYOUT_Y), "w": GRID_COLUMNS / 2, "h": 4 })
}

/// The content alerts and reports read: the published snapshot when the dashboard is published
/// (what tenants see), else the draft.
pub fn effective_config(dashboard: &DashboardRecord) -> &DashboardConfig {
    match (&dashboard.published_config, dashboard.is_published) {
        (Some(published), true) => published,
        _ => &dashboard.config,
    }
}
