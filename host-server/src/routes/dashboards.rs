//! `/v1/dashboards`: dashboards with a draft config and a published snapshot, their inline
//! widgets, and publishing.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, patch, post},
};
use chrono::Utc;
use contract::dashboard::{
    CreateDashboardRequest, Dashboard, DashboardConfig, DashboardList, UpdateDashboardRequest,
    UpdateWidgetRequest, Widget,
};
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    billing::limits::Gate,
    dashboards::{
        insert_dashboard, load, new_widget_id, next_slot, save, save_capped, to_wire,
        validate::{from_body, validate_config, validate_name},
    },
    error::{ApiJson, AppError, Result, clip},
    meta::audit,
    state::AppState,
};

/// `/v1/dashboards` and its inline widgets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dashboards", get(list_dashboards).post(create_dashboard))
        .route("/v1/dashboards/{id}", get(get_dashboard).patch(update_dashboard).delete(delete_dashboard))
        .route("/v1/dashboards/{id}/publish", post(publish_dashboard))
        .route("/v1/dashboards/{id}/unpublish", post(unpublish_dashboard))
        .route("/v1/dashboards/{id}/restore-published", post(restore_published))
        .route("/v1/dashboards/{id}/widgets", post(add_widget))
        .route("/v1/dashboards/{id}/widgets/{widget_id}", patch(update_widget).delete(delete_widget))
}

async fn list_dashboards(State(state): State<AppState>, caller: Caller) -> Result<Json<DashboardList>> {
    let records = state.dashboards.list_dashboards(caller.org_id, caller.env.id).await?;
    Ok(Json(DashboardList { dashboards: records.iter().map(to_wire).collect() }))
}

async fn get_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Dashboard>> {
    Ok(Json(to_wire(&load(&*state.dashboards, caller.scope(), &id).await?)))
}

async fn create_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Dashboard>)> {
    let request: CreateDashboardRequest = from_body(&body, None)?;
    let name = validate_name("name", &request.name)?;
    let mut config = DashboardConfig { widgets: request.widgets };
    validate_config(&mut config)?;
    let record = insert_dashboard(&*state.dashboards, caller.org_id, caller.env.id, name, config).await?;
    let details = json!({ "name": record.name, "widgets": record.config.widgets.len() });
    audit::record(
        &*state.dashboards,
        caller.audit("dashboard.create", format!("dashboard:{}", record.id), details),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(to_wire(&record))))
}

async fn update_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Dashboard>> {
    let request: UpdateDashboardRequest = from_body(&body, None)?;
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    if let Some(name) = request.name {
        record.name = validate_name("name", &name)?;
    }
    if let Some(widgets) = request.widgets {
        let mut config = DashboardConfig { widgets };
        validate_config(&mut config)?;
        record.config = config;
    }
    let record = save(&*state.dashboards, record).await?;
    let details =
        json!({ "name": record.name, "widgets": record.config.widgets.len(), "version": record.version });
    audit::record(&*state.dashboards, caller.audit("dashboard.update", format!("dashboard:{id}"), details))
        .await?;
    Ok(Json(to_wire(&record)))
}

async fn delete_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    if !state.dashboards.delete_dashboard(caller.org_id, caller.env.id, &id).await? {
        return Err(AppError::NotFound(format!("no dashboard with id {:?}", clip(&id))));
    }
    audit::record(&*state.dashboards, caller.audit("dashboard.delete", format!("dashboard:{id}"), json!({})))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn publish_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    // Saved configs are valid, but rules may have tightened since: check before going live.
    let mut snapshot = record.config.clone();
    validate_config(&mut snapshot)?;
    let widgets = snapshot.widgets.len();
    record.published_config = Some(snapshot);
    record.is_published = true;
    record.published_at = Some(Utc::now());
    let cap = state.billing.cap(caller.org_id, Gate::PublishedDashboards).await?;
    cap.enforce(save_capped(&*state.dashboards, record, cap.limit()).await?)?;
    audit::record(
        &*state.dashboards,
        caller.audit("dashboard.publish", format!("dashboard:{id}"), json!({ "widgets": widgets })),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unpublish_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    record.is_published = false;
    save(&*state.dashboards, record).await?;
    audit::record(
        &*state.dashboards,
        caller.audit("dashboard.unpublish", format!("dashboard:{id}"), json!({})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restore_published(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    let snapshot = record.published_config.clone().ok_or_else(|| {
        AppError::Conflict(format!("dashboard {id:?} has never been published: nothing to restore"))
    })?;
    record.config = snapshot;
    save(&*state.dashboards, record).await?;
    audit::record(
        &*state.dashboards,
        caller.audit("dashboard.restore_published", format!("dashboard:{id}"), json!({})),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_widget(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Widget>)> {
    // The reference names admin access for this route.
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    let Some(object) = body.as_object_mut() else {
        return Err(AppError::invalid("body: must be a widget object"));
    };
    object.entry("id").or_insert_with(|| Value::String(new_widget_id()));
    if !object.contains_key("layout") {
        object.insert("layout".into(), next_slot(&record.config));
    }
    let widget: Widget = from_body(&body, Some("widget"))?;
    let widget_id = widget.id.clone();
    record.config.widgets.push(widget);
    validate_config(&mut record.config)?;
    let record = save(&*state.dashboards, record).await?;
    let widget = record
        .config
        .widgets
        .into_iter()
        .find(|w| w.id == widget_id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("added widget vanished")))?;
    let resource = format!("dashboard:{id}/widget:{}", widget.id);
    audit::record(
        &*state.dashboards,
        caller.audit("dashboard.widget_add", resource, json!({ "kind": widget.kind })),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(widget)))
}

async fn update_widget(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, widget_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Widget>> {
    let patch: UpdateWidgetRequest = from_body(&body, None)?;
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    let widget =
        record.config.widgets.iter_mut().find(|w| w.id == widget_id).ok_or_else(|| {
            AppError::NotFound(format!("no widget {:?} on dashboard {id:?}", clip(&widget_id)))
        })?;
    if let Some(title) = patch.title {
        widget.title = title;
    }
    if let Some(viz) = patch.viz {
        widget.viz = viz;
    }
    if let Some(layout) = patch.layout {
        widget.layout = layout;
    }
    if let Some(kind) = patch.kind {
        widget.kind = kind;
    }
    if let Some(query) = patch.query {
        widget.query = query;
    }
    validate_config(&mut record.config)?;
    let record = save(&*state.dashboards, record).await?;
    let widget = record
        .config
        .widgets
        .into_iter()
        .find(|w| w.id == widget_id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("updated widget vanished")))?;
    let resource = format!("dashboard:{id}/widget:{widget_id}");
    audit::record(&*state.dashboards, caller.audit("dashboard.widget_update", resource, json!({}))).await?;
    Ok(Json(widget))
}

async fn delete_widget(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, widget_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    let before = record.config.widgets.len();
    record.config.widgets.retain(|w| w.id != widget_id);
    if record.config.widgets.len() == before {
        return Err(AppError::NotFound(format!("no widget {:?} on dashboard {id:?}", clip(&widget_id))));
    }
    save(&*state.dashboards, record).await?;
    let resource = format!("dashboard:{id}/widget:{widget_id}");
    audit::record(&*state.dashboards, caller.audit("dashboard.widget_delete", resource, json!({}))).await?;
    Ok(StatusCode::NO_CONTENT)
}
