//! `/v1/dashboards`: dashboards with a draft config and a published snapshot, their inline
//! widgets, publishing, and the validation every save runs (400s name the widget and field).

use std::collections::HashSet;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, patch, post},
};
use chrono::{DateTime, SecondsFormat, Utc};
use contract::{
    dashboard::{
        CreateDashboardRequest, Dashboard, DashboardConfig, DashboardList, GRID_COLUMNS, Layout,
        MAX_WIDGET_HEIGHT, MAX_WIDGETS, UpdateDashboardRequest, UpdateWidgetRequest, Widget, WidgetKind,
        WidgetQuery,
    },
    query::{Granularity, Metric},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{
    audit,
    auth::{Caller, ConsoleOrAdminKey, Principal},
    error::{ApiJson, AppError, Result},
    events::valid_prop_key,
    meta::{Role, Scope, dashboards::DashboardRecord},
    secrets::random_token,
    state::AppState,
};

/// Longest widget id.
pub const MAX_WIDGET_ID_CHARS: usize = 64;
/// Most exact-match filters on one widget.
const MAX_WIDGET_FILTERS: usize = 20;
/// Most keys in a widget's viz options.
const MAX_VIZ_OPTIONS: usize = 50;
/// Largest serialized viz options, in bytes.
const MAX_VIZ_OPTIONS_BYTES: usize = 8 * 1024;
/// Lowest row a widget may start on.
const MAX_LAYOUT_Y: u32 = 10_000;
/// Most groups a grouped widget may show.
pub const MAX_WIDGET_LIMIT: u32 = 1_000;

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

/// Fails with 403 unless the caller may build dashboards: an admin-scope key, or a session of
/// an owner, admin or editor.
pub fn require_editor(caller: &Caller) -> Result<()> {
    match &caller.principal {
        Principal::ApiKey { scope: Scope::Admin, .. } => Ok(()),
        Principal::User { role, .. } if *role != Role::Viewer => Ok(()),
        Principal::User { role, .. } => Err(AppError::Forbidden(format!(
            "this action needs the editor, admin or owner role; you are {}",
            role.as_str()
        ))),
        Principal::ApiKey { scope, .. } => Err(crate::auth::scope_forbidden(*scope)),
    }
}

/// RFC 3339 with milliseconds, `Z` for UTC.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

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

/// Deserializes a JSON body; on failure the 400 names the field by its path, with the widget's
/// id after any `widgets[i]` (`widgets[2] (id "latency").layout.w: ...`). `root` prefixes the
/// path for bodies that are a single widget.
pub fn from_body<T: DeserializeOwned>(body: &Value, root: Option<&str>) -> Result<T> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let mut path = String::new();
        if let Some(root) = root {
            path.push_str(root);
            if let Some(id) = body.get("id").and_then(Value::as_str) {
                path.push_str(&format!(" (id {:?})", clip(id)));
            }
        }
        let mut at = Some(body);
        let mut parent_key: Option<String> = None;
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => {
                    path.push_str(&format!("[{index}]"));
                    at = at.and_then(|v| v.get(*index));
                    if parent_key.as_deref() == Some("widgets")
                        && let Some(id) = at.and_then(|w| w.get("id")).and_then(Value::as_str)
                    {
                        path.push_str(&format!(" (id {:?})", clip(id)));
                    }
                }
                serde_path_to_error::Segment::Map { key }
                | serde_path_to_error::Segment::Enum { variant: key } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    at = at.and_then(|v| v.get(key.as_str()));
                    parent_key = Some(key.clone());
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        if path.is_empty() {
            path.push_str("body");
        }
        AppError::invalid(format!("{path}: {}", e.inner()))
    })
}

/// Shortens user text quoted in error messages.
pub fn clip(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(64).collect::<String>())
    }
}

/// How error messages name a widget: `widgets[2] (id "latency")`.
pub fn widget_label(index: usize, id: &str) -> String {
    format!("widgets[{index}] (id {:?})", clip(id))
}

/// Whether `id` is a valid widget id: 1 to 64 of `A-Z a-z 0-9 _ -`.
pub fn valid_widget_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_WIDGET_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Trims and checks a display name (1..=200 characters).
pub fn validate_name(field: &str, name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(format!(
            "{field}: must be 1 to 200 characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

fn validate_query(label: &str, kind: WidgetKind, q: &mut WidgetQuery) -> Result<()> {
    let bad = |field: &str, msg: String| AppError::invalid(format!("{label}.query.{field}: {msg}"));
    if q.event_name.is_empty()
        || q.event_name.chars().count() > 200
        || q.event_name.chars().any(char::is_control)
    {
        return Err(bad("event_name", "must be 1 to 200 characters".into()));
    }
    match (q.metric.needs_numeric_prop(), &q.numeric_prop) {
        (true, None) => return Err(bad("numeric_prop", format!("required for metric {}", q.metric))),
        (false, Some(_)) => {
            return Err(bad(
                "numeric_prop",
                format!("only applies to sum, avg, p95 and p99, not {}", q.metric),
            ));
        }
        (true, Some(p)) if !valid_prop_key(p) => {
            return Err(bad("numeric_prop", "must be a prop name of 1 to 200 characters".into()));
        }
        _ => {}
    }
    if let Some(g) = &q.group_by
        && !valid_prop_key(g)
    {
        return Err(bad("group_by", "must be a prop name of 1 to 200 characters".into()));
    }
    if q.filters.len() > MAX_WIDGET_FILTERS {
        return Err(bad("filters", format!("at most {MAX_WIDGET_FILTERS} filters")));
    }
    for (key, value) in &q.filters {
        if !valid_prop_key(key) {
            return Err(bad("filters", format!("{:?} is not a prop name of 1 to 200 characters", clip(key))));
        }
        if value.chars().count() > 1_000 {
            return Err(bad(&format!("filters.{key}"), "at most 1000 characters".into()));
        }
    }
    if let Some(limit) = q.limit
        && !(1..=MAX_WIDGET_LIMIT).contains(&limit)
    {
        return Err(bad("limit", format!("must be between 1 and {MAX_WIDGET_LIMIT}")));
    }
    match kind {
        WidgetKind::Metric => {
            if q.group_by.is_some() {
                return Err(bad(
                    "group_by",
                    "a metric widget shows one number; use a breakdown or table widget to split by a dimension".into(),
                ));
            }
            if q.granularity.is_some() {
                return Err(bad(
                    "granularity",
                    "a metric widget shows one number; use a timeseries widget".into(),
                ));
            }
        }
        WidgetKind::Timeseries => {
            q.granularity.get_or_insert(Granularity::Day);
        }
        WidgetKind::Breakdown | WidgetKind::Table => {
            if q.group_by.is_none() {
                return Err(bad("group_by", format!("required for a {} widget", kind.as_str())));
            }
            if q.granularity.is_some() {
                return Err(bad(
                    "granularity",
                    format!("a {} widget is not a time series; use a timeseries widget", kind.as_str()),
                ));
            }
        }
    }
    if q.metric == Metric::CountUniqueApprox && kind == WidgetKind::Table && q.limit.is_some_and(|l| l > 100)
    {
        return Err(bad("limit", "count_unique_approx tables show at most 100 rows".into()));
    }
    Ok(())
}

fn validate_layout(label: &str, l: &Layout) -> Result<()> {
    let bad = |field: &str, msg: String| AppError::invalid(format!("{label}.layout.{field}: {msg}"));
    if l.w < 1 || l.w > GRID_COLUMNS {
        return Err(bad("w", format!("must be between 1 and {GRID_COLUMNS} columns (got {})", l.w)));
    }
    if l.x >= GRID_COLUMNS || l.x + l.w > GRID_COLUMNS {
        return Err(bad("x", format!("x + w must be at most {GRID_COLUMNS} (got x = {}, w = {})", l.x, l.w)));
    }
    if l.h < 1 || l.h > MAX_WIDGET_HEIGHT {
        return Err(bad("h", format!("must be between 1 and {MAX_WIDGET_HEIGHT} rows (got {})", l.h)));
    }
    if l.y > MAX_LAYOUT_Y {
        return Err(bad("y", format!("must be at most {MAX_LAYOUT_Y} (got {})", l.y)));
    }
    Ok(())
}

/// Checks one widget and fills in defaults (a timeseries' granularity, a trimmed title).
/// `label` names the widget in errors.
pub fn validate_widget(label: &str, w: &mut Widget) -> Result<()> {
    if !valid_widget_id(&w.id) {
        return Err(AppError::invalid(format!(
            "{label}.id: must be 1 to {MAX_WIDGET_ID_CHARS} characters of A-Z, a-z, 0-9, _ and -"
        )));
    }
    w.title = validate_name(&format!("{label}.title"), &w.title)?;
    validate_query(label, w.kind, &mut w.query)?;
    if !w.kind.allowed_viz().contains(&w.viz.viz_type) {
        let allowed: Vec<&str> = w.kind.allowed_viz().iter().map(|v| v.as_str()).collect();
        return Err(AppError::invalid(format!(
            "{label}.viz.type: a {} widget is drawn as {}, not {}",
            w.kind.as_str(),
            allowed.join(" or "),
            w.viz.viz_type.as_str()
        )));
    }
    if w.viz.options.len() > MAX_VIZ_OPTIONS
        || Value::Object(w.viz.options.clone()).to_string().len() > MAX_VIZ_OPTIONS_BYTES
    {
        return Err(AppError::invalid(format!(
            "{label}.viz: at most {MAX_VIZ_OPTIONS} options and {MAX_VIZ_OPTIONS_BYTES} bytes of JSON"
        )));
    }
    validate_layout(label, &w.layout)
}

/// Checks a whole config: every widget, at most 50, ids unique.
pub fn validate_config(config: &mut DashboardConfig) -> Result<()> {
    if config.widgets.len() > MAX_WIDGETS {
        return Err(AppError::invalid(format!(
            "widgets: at most {MAX_WIDGETS} widgets per dashboard (got {})",
            config.widgets.len()
        )));
    }
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, w) in config.widgets.iter_mut().enumerate() {
        let label = widget_label(i, &w.id);
        validate_widget(&label, w)?;
        if let Some(first) = seen.insert(w.id.clone(), i) {
            return Err(AppError::invalid(format!("{label}.id: duplicates the id of widgets[{first}]")));
        }
    }
    Ok(())
}

/// Whether a config uses `dimension` as a group-by or filter key.
pub fn config_uses(config: &DashboardConfig, dimension: &str) -> bool {
    config
        .widgets
        .iter()
        .any(|w| w.query.group_by.as_deref() == Some(dimension) || w.query.filters.contains_key(dimension))
}

/// The dimensions a config uses: group-bys and filter keys.
pub fn config_dimensions(config: &DashboardConfig) -> HashSet<String> {
    let mut dims = HashSet::new();
    for w in &config.widgets {
        dims.extend(w.query.group_by.iter().cloned());
        dims.extend(w.query.filters.keys().cloned());
    }
    dims
}

/// Loads a dashboard of the caller's org and environment; 404 otherwise.
pub async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<DashboardRecord> {
    state
        .dashboards
        .dashboard(caller.org_id, caller.env.id, id)
        .await?
        .map(std::sync::Arc::unwrap_or_clone)
        .ok_or_else(|| AppError::NotFound(format!("no dashboard with id {:?}", clip(id))))
}

/// Saves a modified dashboard, bumping its version; 409 when another request saved first.
async fn save(state: &AppState, mut record: DashboardRecord) -> Result<DashboardRecord> {
    let expected = record.version;
    record.version += 1;
    record.updated_at = Utc::now();
    if state.dashboards.save_dashboard(&record, expected).await? {
        return Ok(record);
    }
    match state.dashboards.dashboard(record.org_id, record.env_id, &record.id).await? {
        None => Err(AppError::NotFound(format!("no dashboard with id {:?}", record.id))),
        Some(_) => {
            Err(AppError::Conflict("the dashboard was changed by another request; reload and retry".into()))
        }
    }
}

async fn list_dashboards(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<DashboardList>> {
    let records = state.dashboards.list_dashboards(caller.org_id, caller.env.id).await?;
    Ok(Json(DashboardList { dashboards: records.iter().map(to_wire).collect() }))
}

async fn get_dashboard(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
) -> Result<Json<Dashboard>> {
    Ok(Json(to_wire(&load(&state, &caller, &id).await?)))
}

/// Creates and stores a dashboard from a validated config.
pub async fn insert_dashboard(
    state: &AppState,
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
    state.dashboards.create_dashboard(&record).await?;
    Ok(record)
}

async fn create_dashboard(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Dashboard>)> {
    require_editor(&caller)?;
    let request: CreateDashboardRequest = from_body(&body, None)?;
    let name = validate_name("name", &request.name)?;
    let mut config = DashboardConfig { widgets: request.widgets };
    validate_config(&mut config)?;
    let record = insert_dashboard(&state, caller.org_id, caller.env.id, name, config).await?;
    Ok((StatusCode::CREATED, Json(to_wire(&record))))
}

async fn update_dashboard(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Dashboard>> {
    require_editor(&caller)?;
    let request: UpdateDashboardRequest = from_body(&body, None)?;
    let mut record = load(&state, &caller, &id).await?;
    if let Some(name) = request.name {
        record.name = validate_name("name", &name)?;
    }
    if let Some(widgets) = request.widgets {
        let mut config = DashboardConfig { widgets };
        validate_config(&mut config)?;
        record.config = config;
    }
    let record = save(&state, record).await?;
    Ok(Json(to_wire(&record)))
}

async fn delete_dashboard(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    require_editor(&caller)?;
    if !state.dashboards.delete_dashboard(caller.org_id, caller.env.id, &id).await? {
        return Err(AppError::NotFound(format!("no dashboard with id {:?}", clip(&id))));
    }
    audit::record(&state, &caller, "dashboard.delete", &format!("dashboard:{id}"), json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn publish_dashboard(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin_access()?;
    let mut record = load(&state, &caller, &id).await?;
    // Saved configs are valid, but rules may have tightened since: check before going live.
    let mut snapshot = record.config.clone();
    validate_config(&mut snapshot)?;
    let widgets = snapshot.widgets.len();
    record.published_config = Some(snapshot);
    record.is_published = true;
    record.published_at = Some(Utc::now());
    save(&state, record).await?;
    audit::record(
        &state,
        &caller,
        "dashboard.publish",
        &format!("dashboard:{id}"),
        json!({ "widgets": widgets }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unpublish_dashboard(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin_access()?;
    let mut record = load(&state, &caller, &id).await?;
    record.is_published = false;
    save(&state, record).await?;
    audit::record(&state, &caller, "dashboard.unpublish", &format!("dashboard:{id}"), json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restore_published(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin_access()?;
    let mut record = load(&state, &caller, &id).await?;
    let snapshot = record.published_config.clone().ok_or_else(|| {
        AppError::Conflict(format!("dashboard {id:?} has never been published: nothing to restore"))
    })?;
    record.config = snapshot;
    save(&state, record).await?;
    audit::record(&state, &caller, "dashboard.restore_published", &format!("dashboard:{id}"), json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A fresh widget id: `w_` and ten random characters.
pub fn new_widget_id() -> String {
    format!("w_{}", random_token(10).to_ascii_lowercase())
}

/// The first free full-width slot under the existing widgets, half the grid wide.
fn next_slot(config: &DashboardConfig) -> Value {
    let y = config.widgets.iter().map(|w| w.layout.y.saturating_add(w.layout.h)).max().unwrap_or(0);
    json!({ "x": 0, "y": y.min(MAX_LAYOUT_Y), "w": GRID_COLUMNS / 2, "h": 4 })
}

async fn add_widget(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Widget>)> {
    // The reference names admin access for this route.
    caller.require_admin_access()?;
    let mut record = load(&state, &caller, &id).await?;
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
    let record = save(&state, record).await?;
    let widget = record
        .config
        .widgets
        .into_iter()
        .find(|w| w.id == widget_id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("added widget vanished")))?;
    Ok((StatusCode::CREATED, Json(widget)))
}

async fn update_widget(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path((id, widget_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Widget>> {
    require_editor(&caller)?;
    let patch: UpdateWidgetRequest = from_body(&body, None)?;
    let mut record = load(&state, &caller, &id).await?;
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
    let record = save(&state, record).await?;
    let widget = record
        .config
        .widgets
        .into_iter()
        .find(|w| w.id == widget_id)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("updated widget vanished")))?;
    Ok(Json(widget))
}

async fn delete_widget(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path((id, widget_id)): Path<(String, String)>,
) -> Result<StatusCode> {
    require_editor(&caller)?;
    let mut record = load(&state, &caller, &id).await?;
    let before = record.config.widgets.len();
    record.config.widgets.retain(|w| w.id != widget_id);
    if record.config.widgets.len() == before {
        return Err(AppError::NotFound(format!("no widget {:?} on dashboard {id:?}", clip(&widget_id))));
    }
    save(&state, record).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Name of the demo org's seeded dashboard.
pub const DEMO_DASHBOARD_NAME: &str = "AI API usage (demo)";

fn demo_widget(id: &str, kind: &str, title: &str, query: Value, viz: &str, layout: [u32; 4]) -> Value {
    json!({
        "id": id, "kind": kind, "title": title, "query": query, "viz": { "type": viz },
        "layout": { "x": layout[0], "y": layout[1], "w": layout[2], "h": layout[3] },
    })
}

/// The demo dashboard: one widget of each kind over the sample `api.call` events, split by
/// model, endpoint and plan.
pub fn demo_config() -> Result<DashboardConfig> {
    let widgets = json!([
        demo_widget(
            "calls",
            "metric",
            "API calls",
            json!({ "event_name": "api.call", "metric": "count" }),
            "number",
            [0, 0, 4, 2]
        ),
        demo_widget(
            "p95_latency",
            "metric",
            "p95 latency (ms)",
            json!({ "event_name": "api.call", "metric": "p95", "numeric_prop": "latency_ms" }),
            "number",
            [4, 0, 4, 2],
        ),
        demo_widget(
            "active_users",
            "metric",
            "Active users",
            json!({ "event_name": "api.call", "metric": "count_unique" }),
            "number",
            [8, 0, 4, 2],
        ),
        demo_widget(
            "calls_by_model",
            "timeseries",
            "Calls per day by model",
            json!({ "event_name": "api.call", "metric": "count", "granularity": "day", "group_by": "model" }),
            "line",
            [0, 2, 8, 5],
        ),
        demo_widget(
            "calls_by_endpoint",
            "breakdown",
            "Calls by endpoint",
            json!({ "event_name": "api.call", "metric": "count", "group_by": "endpoint" }),
            "pie",
            [8, 2, 4, 5],
        ),
        demo_widget(
            "tokens_by_plan",
            "table",
            "Tokens by plan",
            json!({ "event_name": "api.call", "metric": "sum", "numeric_prop": "tokens", "group_by": "plan", "limit": 10 }),
            "table",
            [0, 7, 12, 4],
        ),
    ]);
    let mut config = DashboardConfig { widgets: from_body(&widgets, None)? };
    validate_config(&mut config)?;
    Ok(config)
}

/// Creates and publishes the demo dashboard in the demo org unless it exists. Returns its id.
pub async fn ensure_demo_dashboard(state: &AppState, org_id: i64, env_id: i64) -> Result<String> {
    let existing = state.dashboards.list_dashboards(org_id, env_id).await?;
    if let Some(found) = existing.iter().find(|d| d.name == DEMO_DASHBOARD_NAME) {
        return Ok(found.id.clone());
    }
    let mut record =
        insert_dashboard(state, org_id, env_id, DEMO_DASHBOARD_NAME.to_owned(), demo_config()?).await?;
    record.published_config = Some(record.config.clone());
    record.is_published = true;
    record.published_at = Some(Utc::now());
    let record = save(state, record).await?;
    Ok(record.id)
}

#[cfg(test)]
mod tests {
    use contract::dashboard::VizType;

    use super::*;

    fn widget(json: Value) -> Result<Widget> {
        from_body(&json, None)
    }

    #[test]
    fn demo_config_is_valid_and_has_every_kind() {
        let config = demo_config().expect("valid");
        let kinds: HashSet<_> = config.widgets.iter().map(|w| w.kind).collect();
        assert_eq!(kinds.len(), 4);
        assert_eq!(config_dimensions(&config), ["model", "endpoint", "plan"].map(String::from).into());
    }

    #[test]
    fn errors_name_the_widget_and_field() {
        let body = json!({ "name": "x", "widgets": [
            { "id": "a", "kind": "metric", "title": "A", "query": { "event_name": "e", "metric": "count" },
              "viz": { "type": "number" }, "layout": { "x": 0, "y": 0, "w": 3, "h": 2 } },
            { "id": "latency", "kind": "metric", "title": "B", "query": { "event_name": "e", "metric": "count" },
              "viz": { "type": "number" }, "layout": { "x": 0, "y": 0, "w": -1, "h": 2 } },
        ]});
        let err = from_body::<CreateDashboardRequest>(&body, None).expect_err("negative w").to_string();
        assert!(err.starts_with("widgets[1] (id \"latency\").layout.w:"), "{err}");

        let mut config = DashboardConfig {
            widgets: vec![
                widget(json!({ "id": "a", "kind": "breakdown", "title": "A", "query": { "event_name": "e", "metric": "count" },
                    "viz": { "type": "pie" }, "layout": { "x": 0, "y": 0, "w": 3, "h": 2 } }))
                .expect("parse"),
            ],
        };
        let err = validate_config(&mut config).expect_err("group_by").to_string();
        assert!(err.starts_with("widgets[0] (id \"a\").query.group_by:"), "{err}");

        config.widgets[0].query.group_by = Some("model".into());
        config.widgets[0].layout.x = 10;
        let err = validate_config(&mut config).expect_err("grid").to_string();
        assert!(err.starts_with("widgets[0] (id \"a\").layout.x:"), "{err}");
    }

    #[test]
    fn timeseries_defaults_to_days_and_kind_checks_viz() {
        let mut w = widget(json!({ "id": "t", "kind": "timeseries", "title": " T ", "query": { "event_name": "e", "metric": "count" },
            "viz": { "type": "area", "stacked": true }, "layout": { "x": 6, "y": 0, "w": 6, "h": 24 } }))
        .expect("parse");
        validate_widget("w", &mut w).expect("valid");
        assert_eq!(w.query.granularity, Some(Granularity::Day));
        assert_eq!(w.title, "T");
        w.viz.viz_type = VizType::Pie;
        assert!(validate_widget("w", &mut w).expect_err("pie").to_string().starts_with("w.viz.type:"));
    }
}
