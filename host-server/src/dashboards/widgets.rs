//! Standalone widgets (`/v1/widgets`): a draft and a published snapshot each, loaded and saved
//! like dashboards.

use chrono::Utc;
use contract::dashboard::StandaloneWidget;
use serde_json::{Value, json};

use crate::{
    error::{AppError, Result, clip},
    events::StoreScope,
    meta::dashboards::{DashboardStore, SaveOutcome, WidgetRecord},
    time::timestamp,
};

/// The wire form of a stored widget.
pub fn to_wire(r: &WidgetRecord) -> StandaloneWidget {
    StandaloneWidget {
        id: r.id.clone(),
        widget: r.config.clone(),
        published: r.published_config.clone(),
        published_at: r.published_at.map(timestamp),
        created_at: timestamp(r.created_at),
        updated_at: timestamp(r.updated_at),
    }
}

/// Fills what a widget body may leave out: `id` and `layout`.
pub fn fill_widget_defaults(body: &mut Value, id: &str) -> Result<()> {
    let object = body.as_object_mut().ok_or_else(|| AppError::invalid("widget: must be an object"))?;
    object.entry("id").or_insert_with(|| Value::String(id.to_owned()));
    object.entry("layout").or_insert_with(|| json!({ "x": 0, "y": 0, "w": 6, "h": 4 }));
    Ok(())
}

/// Loads a standalone widget of the org and environment of `scope`; 404 otherwise.
pub async fn load(store: &dyn DashboardStore, scope: StoreScope, id: &str) -> Result<WidgetRecord> {
    store
        .widget(scope.org_id, scope.env_id, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no widget with id {:?}", clip(id))))
}

/// Saves a modified widget, bumping its version; 404 when it is gone, 409 when another request
/// saved first.
pub async fn save(store: &dyn DashboardStore, mut record: WidgetRecord) -> Result<WidgetRecord> {
    let expected = record.version;
    record.version += 1;
    record.updated_at = Utc::now();
    match store.save_widget(&record, expected).await? {
        SaveOutcome::Saved => Ok(record),
        SaveOutcome::Missing => Err(AppError::NotFound(format!("no widget with id {:?}", clip(&record.id)))),
        SaveOutcome::Stale => {
            Err(AppError::Conflict("the widget was changed by another request; reload and retry".into()))
        }
    }
}
