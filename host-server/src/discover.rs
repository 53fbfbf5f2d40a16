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
    dashboard::{DashboardConfig, GRID_COLUMNS, Widget},
    discover::{AutoCreateRequest, AutoCreateResponse, DiscoverResponse, DiscoveredEvent},
};
use serde_json::{Value, json};

use crate::{
    audit,
    auth::ConsoleOrAdminKey,
    dashboards::{clip, from_body, insert_dashboard, require_editor, validate_config, validate_name},
    error::{AppError, Result},
    events::StoreScope,
    ingest::require_json,
    state::AppState,
};

/// Name of an auto-created dashboard unless the request names it.
pub const AUTO_DASHBOARD_NAME: &str = "Auto-generated Dashboard";
/// Event types an auto-created dashboard covers (the most frequent).
const AUTO_EVENTS: usize = 4;

/// `/v1/discover`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/discover", get(get_discover))
        .route("/v1/discover/auto-create", post(post_auto_create))
}

async fn get_discover(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
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
    let scope = StoreScope { org_id: caller.org_id, env_id: caller.env.id };
    let events = state.events.discover(scope, tenant.as_deref()).await?;
    Ok(Json(DiscoverResponse { events_found: events.len(), events }))
}

/// Lowercase `A-Z a-z 0-9 _`, at most `max` characters, for widget ids.
fn slug(text: &str, max: usize) -> String {
    let s: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .take(max)
        .collect();
    if s.is_empty() { "x".to_owned() } else { s }
}

/// Widgets for the most frequent event types: volume per day, a breakdown by the most useful
/// string prop, and the average and p95 of the first numeric props.
pub fn auto_widgets(events: &[DiscoveredEvent]) -> Result<Vec<Widget>> {
    let mut widgets: Vec<Value> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut unique = |id: String| {
        let mut candidate = id.clone();
        let mut n = 2;
        while !ids.insert(candidate.clone()) {
            candidate = format!("{id}_{n}");
            n += 1;
        }
        candidate
    };
    let mut y = 0u32;
    for event in events.iter().take(AUTO_EVENTS) {
        let name = &event.event_name;
        let e = slug(name, 24);
        let split = event
            .string_props
            .iter()
            .find(|p| (2..=50).contains(&p.distinct_values))
            .or_else(|| event.string_props.first());
        let volume_width = if split.is_some() { 8 } else { GRID_COLUMNS };
        widgets.push(json!({
            "id": unique(format!("{e}_volume")), "kind": "timeseries", "title": format!("{name} per day"),
            "query": { "event_name": name, "metric": "count", "granularity": "day" },
            "viz": { "type": "line" }, "layout": { "x": 0, "y": y, "w": volume_width, "h": 4 },
        }));
        if let Some(prop) = split {
            widgets.push(json!({
                "id": unique(format!("{e}_by_{}", slug(&prop.key, 24))), "kind": "breakdown",
                "title": format!("{name} by {}", prop.key),
                "query": { "event_name": name, "metric": "count", "group_by": prop.key },
                "viz": { "type": "bar" }, "layout": { "x": 8, "y": y, "w": 4, "h": 4 },
            }));
        }
        y += 4;
        let mut x = 0;
        for prop in event.numeric_props.iter().take(2) {
            for (metric, label) in [("avg", "average"), ("p95", "p95")] {
                widgets.push(json!({
                    "id": unique(format!("{e}_{}_{metric}", slug(&prop.key, 24))), "kind": "metric",
                    "title": format!("{} {label} ({name})", prop.key),
                    "query": { "event_name": name, "metric": metric, "numeric_prop": prop.key },
                    "viz": { "type": "number" }, "layout": { "x": x, "y": y, "w": 3, "h": 2 },
                }));
                x += 3;
            }
        }
        if x > 0 {
            y += 2;
        }
    }
    from_body(&Value::Array(widgets), None)
}

async fn post_auto_create(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<AutoCreateResponse>)> {
    require_editor(&caller)?;
    let request: AutoCreateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        AutoCreateRequest::default()
    } else {
        require_json(&headers)?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| AppError::invalid(format!("malformed JSON: {e}")))?;
        from_body(&value, None)?
    };
    let name = validate_name("name", request.name.as_deref().unwrap_or(AUTO_DASHBOARD_NAME))?;
    let scope = StoreScope { org_id: caller.org_id, env_id: caller.env.id };
    let events = state.events.discover(scope, None).await?;
    if events.is_empty() {
        return Err(AppError::Conflict(
            "no events in this environment yet: send some events, then auto-create a dashboard".into(),
        ));
    }
    let mut config = DashboardConfig { widgets: auto_widgets(&events)? };
    validate_config(&mut config)?;
    let widgets = config.widgets.len();
    let record = insert_dashboard(&state, caller.org_id, caller.env.id, name.clone(), config).await?;
    audit::record(
        &state,
        &caller,
        "dashboard.auto_create",
        &format!("dashboard:{}", record.id),
        json!({ "widgets": widgets, "events_found": events.len() }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(AutoCreateResponse { dashboard_id: record.id, name, widgets, events_found: events.len() }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::discover::{DiscoveredNumericProp, DiscoveredStringProp, SampleValue};

    #[test]
    fn auto_widgets_are_valid_and_unique() {
        let event = |name: &str| DiscoveredEvent {
            event_name: name.into(),
            count: 10,
            tenants: 1,
            string_props: vec![DiscoveredStringProp {
                key: "model".into(),
                count: 10,
                distinct_values: 3,
                sample_values: vec![SampleValue { value: "gpt-4".into(), count: 5 }],
            }],
            numeric_props: vec![DiscoveredNumericProp {
                key: "latency ms".into(),
                count: 10,
                min: Some(1.0),
                max: Some(9.0),
            }],
        };
        // Two names that slug the same must still get distinct ids.
        let mut config = DashboardConfig {
            widgets: auto_widgets(&[event("api.call"), event("api call")]).expect("widgets"),
        };
        validate_config(&mut config).expect("valid");
        assert_eq!(config.widgets.len(), 8);
    }
}
