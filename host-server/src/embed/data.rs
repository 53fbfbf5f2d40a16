//! What the runtime may read with a session: the dashboard as the session sees it (hidden
//! widgets absent) and one widget's data under the session's permissions.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Utc};
use contract::{
    dashboard::{Widget, WidgetData, WidgetKind},
    embed::{EmbedDashboard, EmbedDashboardResponse, EmbedPermissions, EmbedQueryRequest},
    query::QueryRow,
};

use crate::{
    analytics::{
        query::shape,
        widget::{ResolvedFilters, earliest_allowed, evaluate, widget_spec},
    },
    embed::{
        permissions::{enforce, initial_filters, is_hidden, visible_widgets},
        token::EmbedClaims,
    },
    error::{AppError, Result, clip},
    events::StoreScope,
    meta::{dashboards::DashboardRecord, usage::QUERIES},
    state::AppState,
    time::timestamp,
};

/// The 401 of a token used for another dashboard than its own.
pub fn other_dashboard() -> AppError {
    AppError::Unauthorized("invalid embed token: it was issued for another dashboard".into())
}

/// The session's dashboard, or 404 when it has been deleted since.
async fn session_dashboard(state: &AppState, claims: &EmbedClaims) -> Result<Arc<DashboardRecord>> {
    state
        .dashboards
        .dashboard(claims.org, claims.env, &claims.dashboard)
        .await?
        .ok_or_else(|| AppError::NotFound("the dashboard of this embed session no longer exists".into()))
}

/// `GET /v1/embed/dashboard`: the published widgets the session may see, its permissions (hidden
/// widgets simply absent, not listed) and the filter state it starts from.
pub async fn dashboard(state: &AppState, claims: &EmbedClaims) -> Result<EmbedDashboardResponse> {
    let dashboard = session_dashboard(state, claims).await?;
    let published = dashboard.is_published && dashboard.published_config.is_some();
    Ok(EmbedDashboardResponse {
        published,
        message: (!published).then(|| "This dashboard is not published.".to_owned()),
        dashboard: EmbedDashboard {
            id: dashboard.id.clone(),
            name: dashboard.name.clone(),
            widgets: visible_widgets(&state.signing_secret, &dashboard, claims),
            published_at: if published { dashboard.published_at.map(timestamp) } else { None },
        },
        tenant_id: claims.tenant.clone(),
        permissions: EmbedPermissions { hidden_widgets: Vec::new(), ..claims.permissions.clone() },
        filters: initial_filters(&claims.permissions),
        locale: claims.locale.clone(),
        expires_at: DateTime::from_timestamp(claims.exp, 0).map(timestamp).unwrap_or_default(),
    })
}

/// `POST /v1/embed/query`: one widget's data for the session's tenant, with every permission
/// enforced; `None` when the dashboard is not published.
pub async fn query(
    state: &AppState,
    claims: &EmbedClaims,
    request: &EmbedQueryRequest,
) -> Result<Option<WidgetData>> {
    let started = Instant::now();
    if request.dashboard_id.as_ref().is_some_and(|d| *d != claims.dashboard) {
        return Err(other_dashboard());
    }
    let dashboard = session_dashboard(state, claims).await?;
    let Some(config) = dashboard.published_config.as_ref().filter(|_| dashboard.is_published) else {
        return Ok(None);
    };
    let widget = config
        .widgets
        .iter()
        .find(|w| w.id == request.widget_id && !is_hidden(&state.signing_secret, claims, &w.id))
        .ok_or_else(|| {
            AppError::NotFound(format!("no widget {:?} on this dashboard", clip(&request.widget_id)))
        })?;
    let filters = enforce(&claims.permissions, widget, request)?;
    let scope = StoreScope { org_id: claims.org, env_id: claims.env };
    let mut data = evaluate(&*state.events, scope, &claims.tenant, widget, &filters, started).await?;
    if compares_previous_period(widget) {
        data.previous_series =
            previous_series(state, scope, &claims.tenant, widget, &filters, started).await?;
    }
    state.usage.add(claims.org, claims.env, QUERIES, 1);
    Ok(Some(data))
}

/// Whether `widget` asks for the previous period's series: an ungrouped time series with
/// `viz.options.compare == "previous_period"` (docs/dashboards.md).
pub fn compares_previous_period(widget: &Widget) -> bool {
    widget.kind == WidgetKind::Timeseries
        && widget.query.group_by.is_none()
        && widget.viz.options.get("compare").and_then(|v| v.as_str()) == Some("previous_period")
}

/// The widget's rows over the window just before its current one (same length, same filters
/// and permissions), or `None` when the session's `max_date_range_days` does not reach that
/// whole window (a cut window would compare unequal spans), as for a metric's `previous`.
async fn previous_series(
    state: &AppState,
    scope: StoreScope,
    tenant: &str,
    widget: &Widget,
    filters: &ResolvedFilters,
    started: Instant,
) -> Result<Option<Vec<QueryRow>>> {
    let now = Utc::now();
    let (request, spec) = widget_spec(tenant, widget, filters, now);
    let mut before = spec.clone();
    before.to = spec.from;
    before.from = spec.from - (spec.to - spec.from);
    if filters.max_range_days.is_some_and(|days| before.from < earliest_allowed(days, now)) {
        return Ok(None);
    }
    let answer = state.events.query_with_ranges(scope, &before, &filters.numeric_ranges).await?;
    Ok(Some(shape(&request, &before, answer, started).data))
}
