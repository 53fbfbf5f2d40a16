//! `/v1/widgets`: standalone widgets and the builder's preview.

use std::time::Instant;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use chrono::Utc;
use contract::{
    dashboard::{StandaloneWidget, StandaloneWidgetList, UpdateWidgetRequest, Widget, WidgetData},
    embed::EmbedFilters,
    query::Period,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    analytics::widget::{evaluate, resolve_filters},
    auth::Caller,
    dashboards::{
        validate::{from_body, validate_widget},
        widgets::{fill_widget_defaults, load, save, to_wire},
    },
    error::{ApiJson, AppError, Result, clip},
    meta::{audit, dashboards::WidgetRecord, usage::QUERIES},
    state::AppState,
};

/// `/v1/widgets`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/widgets", get(list_widgets).post(create_widget))
        .route("/v1/widgets/preview/data", post(preview_widget))
        .route("/v1/widgets/{id}", get(get_widget).patch(update_widget).delete(delete_widget))
        .route("/v1/widgets/{id}/publish", post(publish_widget))
}

async fn list_widgets(State(state): State<AppState>, caller: Caller) -> Result<Json<StandaloneWidgetList>> {
    let records = state.dashboards.list_widgets(caller.org_id, caller.env.id).await?;
    Ok(Json(StandaloneWidgetList { widgets: records.iter().map(to_wire).collect() }))
}

async fn get_widget(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StandaloneWidget>> {
    Ok(Json(to_wire(&load(&*state.dashboards, caller.scope(), &id).await?)))
}

async fn create_widget(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<(StatusCode, Json<StandaloneWidget>)> {
    let id = uuid::Uuid::new_v4().to_string();
    if body.get("id").is_some() {
        return Err(AppError::invalid("widget.id: assigned by the server; leave it out"));
    }
    fill_widget_defaults(&mut body, &id)?;
    let mut widget: Widget = from_body(&body, Some("widget"))?;
    validate_widget("widget", &mut widget)?;
    let now = Utc::now();
    let record = WidgetRecord {
        id,
        org_id: caller.org_id,
        env_id: caller.env.id,
        config: widget,
        published_config: None,
        published_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    state.dashboards.create_widget(&record).await?;
    audit::record(
        &*state.dashboards,
        caller.audit("widget.create", format!("widget:{}", record.id), json!({})),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(to_wire(&record))))
}

async fn update_widget(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<StandaloneWidget>> {
    let patch: UpdateWidgetRequest = from_body(&body, None)?;
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    let w = &mut record.config;
    if let Some(title) = patch.title {
        w.title = title;
    }
    if let Some(viz) = patch.viz {
        w.viz = viz;
    }
    if let Some(layout) = patch.layout {
        w.layout = layout;
    }
    if let Some(kind) = patch.kind {
        w.kind = kind;
    }
    if let Some(query) = patch.query {
        w.query = query;
    }
    validate_widget("widget", w)?;
    let record = save(&*state.dashboards, record).await?;
    audit::record(&*state.dashboards, caller.audit("widget.update", format!("widget:{id}"), json!({})))
        .await?;
    Ok(Json(to_wire(&record)))
}

async fn publish_widget(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let mut record = load(&*state.dashboards, caller.scope(), &id).await?;
    record.published_config = Some(record.config.clone());
    record.published_at = Some(Utc::now());
    save(&*state.dashboards, record).await?;
    audit::record(&*state.dashboards, caller.audit("widget.publish", format!("widget:{id}"), json!({})))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_widget(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    if !state.dashboards.delete_widget(caller.org_id, caller.env.id, &id).await? {
        return Err(AppError::NotFound(format!("no widget with id {:?}", clip(&id))));
    }
    audit::record(&*state.dashboards, caller.audit("widget.delete", format!("widget:{id}"), json!({})))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of `POST /v1/widgets/preview/data`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    tenant_id: String,
    widget: Value,
    #[serde(default)]
    filters: EmbedFilters,
}

async fn preview_widget(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<WidgetData>> {
    let started = Instant::now();
    let PreviewRequest { tenant_id, widget: mut raw, filters } = from_body(&body, None)?;
    crate::events::check_tenant_id(&tenant_id).map_err(|m| AppError::invalid(format!("tenant_id: {m}")))?;
    fill_widget_defaults(&mut raw, "preview")?;
    let mut widget: Widget = from_body(&raw, Some("widget"))?;
    validate_widget("widget", &mut widget)?;
    let filters = resolve_filters(&filters, Period::D30)?;
    let scope = caller.scope();
    let data = evaluate(&*state.events, scope, &tenant_id, &widget, &filters, started).await?;
    state.usage.add(caller.org_id, caller.env.id, QUERIES, 1);
    Ok(Json(data))
}
