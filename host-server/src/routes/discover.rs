//! `GET /v1/discover` (event types with their props, sample values and counts) and
//! `POST /v1/discover/auto-create` (a first dashboard built from them).

use axum::{
    Json, Router,
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use contract::{
    dashboard::DashboardConfig,
    discover::{AutoCreateRequest, AutoCreateResponse, DiscoverResponse},
};
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    dashboards::{
        auto::{AUTO_DASHBOARD_NAME, auto_widgets},
        insert_dashboard,
        validate::{from_body, validate_config, validate_name},
    },
    error::{AppError, Result, clip},
    meta::audit,
    routes::extract::require_json,
    state::AppState,
};

/// `/v1/discover`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/discover", get(get_discover))
        .route("/v1/discover/auto-create", post(post_auto_create))
}

async fn get_discover(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<DiscoverResponse>> {
    let mut tenant: Option<String> = None;
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "tenant_id" => {
                crate::events::check_tenant_id(&value)
                    .map_err(|m| AppError::invalid(format!("tenant_id: {m}")))?;
                tenant = Some(value.into_owned())
            }
            other => return Err(AppError::invalid(format!("{}: unknown query parameter", clip(other)))),
        }
    }
    let scope = caller.scope();
    let events = state.events.discover(scope, tenant.as_deref()).await?;
    Ok(Json(DiscoverResponse { events_found: events.len(), events }))
}

async fn post_auto_create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<AutoCreateResponse>)> {
    let request: AutoCreateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AutoCreateRequest::default()
    } else {
        require_json(&headers)?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| AppError::invalid(format!("malformed JSON: {e}")))?;
        from_body(&value, None)?
    };
    let name = validate_name("name", request.name.as_deref().unwrap_or(AUTO_DASHBOARD_NAME))?;
    let scope = caller.scope();
    let events = state.events.discover(scope, None).await?;
    if events.is_empty() {
        return Err(AppError::Conflict(
            "no events in this environment yet: send some events, then auto-create a dashboard".into(),
        ));
    }
    let mut config = DashboardConfig { widgets: auto_widgets(&events)? };
    validate_config(&mut config)?;
    let widgets = config.widgets.len();
    let record =
        insert_dashboard(&*state.dashboards, caller.org_id, caller.env.id, name.clone(), config).await?;
    audit::record(
        &*state.dashboards,
        caller.audit(
            "dashboard.auto_create",
            format!("dashboard:{}", record.id),
            json!({ "widgets": widgets, "events_found": events.len() }),
        ),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(AutoCreateResponse { dashboard_id: record.id, name, widgets, events_found: events.len() }),
    ))
}
