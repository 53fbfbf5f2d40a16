//! The permissions of an embed session: checked and normalized when it is minted, and enforced
//! on every query it makes (the pure rules are the contract's `EmbedPermissions` methods, shared
//! with the runtime's filter bar so the two cannot drift).

use std::collections::HashSet;

use chrono::{Duration, Utc};
use contract::{
    dashboard::Widget,
    embed::{EmbedFilters, EmbedPermissions, EmbedQueryRequest},
};

use crate::{
    analytics::{
        query::window,
        widget::{ResolvedFilters, resolve_filters},
    },
    dashboards::validate::{config_uses, valid_widget_id},
    embed::token::EmbedClaims,
    error::{AppError, Result, clip},
    events::{StoreScope, valid_prop_key},
    meta::dashboards::DashboardRecord,
    secrets::{Secret, sha256_hex},
    state::AppState,
};

/// Most dimensions in `allowed_dimensions` plus `locked_filters`.
const MAX_DIMENSIONS: usize = 50;

/// Most ids in `hidden_widgets`.
const MAX_HIDDEN: usize = 100;

/// Longest `max_date_range_days`: ten years.
const MAX_RANGE_DAYS: u32 = 3_650;

/// Checks and normalizes permissions against the dashboard: dimensions must be used by the
/// dashboard or seen in the environment's string props.
pub async fn validate_permissions(
    state: &AppState,
    scope: StoreScope,
    dashboard: &DashboardRecord,
    perms: &mut EmbedPermissions,
) -> Result<()> {
    if perms.hidden_widgets.len() > MAX_HIDDEN {
        return Err(AppError::invalid(format!("permissions.hidden_widgets: at most {MAX_HIDDEN} ids")));
    }
    for (i, id) in perms.hidden_widgets.iter().enumerate() {
        if !valid_widget_id(id) {
            return Err(AppError::invalid(format!(
                "permissions.hidden_widgets[{i}]: {:?} is not a widget id",
                clip(id)
            )));
        }
    }
    if let Some(max) = perms.max_date_range_days
        && !(1..=MAX_RANGE_DAYS).contains(&max)
    {
        return Err(AppError::invalid(format!(
            "permissions.max_date_range_days: must be between 1 and {MAX_RANGE_DAYS}"
        )));
    }
    // The bound alone, so the rule can be asked while the periods are being deduplicated.
    let bound = EmbedPermissions { max_date_range_days: perms.max_date_range_days, ..Default::default() };
    if let Some(periods) = &mut perms.allowed_periods {
        if periods.is_empty() {
            return Err(AppError::invalid(
                "permissions.allowed_periods: must not be empty; leave it out to allow every period",
            ));
        }
        let mut seen = HashSet::new();
        periods.retain(|p| seen.insert(*p));
        if let Some(p) = periods.iter().find(|p| !bound.period_fits(**p)) {
            return Err(AppError::invalid(format!(
                "permissions.allowed_periods: {p} is longer than max_date_range_days ({} days)",
                perms.max_date_range_days.unwrap_or_default()
            )));
        }
    }
    if let Some(dims) = &mut perms.allowed_dimensions {
        let mut seen = HashSet::new();
        dims.retain(|d| seen.insert(d.clone()));
    }
    let allowed = perms.allowed_dimensions.iter().flatten().map(|d| ("permissions.allowed_dimensions", d));
    let locked = perms.locked_filters.keys().map(|d| ("permissions.locked_filters", d));
    let requested: Vec<(&str, &String)> = allowed.chain(locked).collect();
    if requested.len() > MAX_DIMENSIONS {
        return Err(AppError::invalid(format!("permissions: at most {MAX_DIMENSIONS} dimensions in all")));
    }
    for (field, dim) in &requested {
        if !valid_prop_key(dim) {
            return Err(AppError::invalid(format!("{field}: {:?} is not a dimension name", clip(dim))));
        }
    }
    for (key, value) in &perms.locked_filters {
        if value.is_empty() || value.chars().count() > 1_000 {
            return Err(AppError::invalid(format!(
                "permissions.locked_filters.{key}: must be 1 to 1000 characters"
            )));
        }
    }
    let used = |dim: &str| {
        config_uses(&dashboard.config, dim)
            || dashboard.published_config.as_ref().is_some_and(|c| config_uses(c, dim))
    };
    let unknown: Vec<&(&str, &String)> = requested.iter().filter(|(_, d)| !used(d)).collect();
    if !unknown.is_empty() {
        // Only dimensions the dashboard does not use need the (slower) look at the events.
        let seen: HashSet<String> = state
            .events
            .discover(scope, None)
            .await?
            .into_iter()
            .flat_map(|e| e.string_props.into_iter().map(|p| p.key))
            .collect();
        if let Some((field, dim)) = unknown.iter().find(|(_, d)| !seen.contains(*d)) {
            return Err(AppError::invalid(format!(
                "{field}: unknown dimension {:?}: the dashboard does not use it and no event in this environment has it",
                clip(dim)
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The embed data API

/// How a token names a hidden widget: a keyed hash of the dashboard and widget id, so the
/// viewer, who can read the token, cannot learn the ids of widgets kept from them.
pub fn hidden_tag(secret: &Secret, dashboard_id: &str, widget_id: &str) -> String {
    let digest =
        sha256_hex(&format!("{}\0emban-hidden-widget\0{dashboard_id}\0{widget_id}", secret.expose()));
    format!("h:{}", &digest[..32])
}

/// Whether the session hides a widget (tokens minted before tags named ids in clear).
pub fn is_hidden(secret: &Secret, claims: &EmbedClaims, widget_id: &str) -> bool {
    let hidden = &claims.permissions.hidden_widgets;
    !hidden.is_empty()
        && (hidden.iter().any(|h| h == widget_id)
            || hidden.contains(&hidden_tag(secret, &claims.dashboard, widget_id)))
}

/// The published widgets the session may see.
pub fn visible_widgets(secret: &Secret, dashboard: &DashboardRecord, claims: &EmbedClaims) -> Vec<Widget> {
    match (&dashboard.published_config, dashboard.is_published) {
        (Some(config), true) => {
            config.widgets.iter().filter(|w| !is_hidden(secret, claims, &w.id)).cloned().collect()
        }
        _ => Vec::new(),
    }
}

/// The filter state an embed starts from.
pub fn initial_filters(perms: &EmbedPermissions) -> EmbedFilters {
    EmbedFilters {
        period: Some(perms.default_period()),
        dimensions: perms.locked_filters.clone(),
        ..EmbedFilters::default()
    }
}

fn check_dimension(field: &str, key: &str, value: &str, perms: &EmbedPermissions) -> Result<()> {
    if let Some(locked) = perms.locked_value(key) {
        if locked != value {
            return Err(AppError::Forbidden(format!(
                "{field}: dimension {:?} is locked to {:?} in this embed session",
                clip(key),
                clip(locked)
            )));
        }
        return Ok(());
    }
    if !perms.dimension_listed(key) {
        return Err(AppError::Forbidden(format!(
            "{field}: dimension {:?} is not allowed in this embed session",
            clip(key)
        )));
    }
    Ok(())
}

/// Applies the session's permissions to a query: 403 for anything they do not allow; locked
/// filters are always added.
pub fn enforce(
    perms: &EmbedPermissions,
    widget: &Widget,
    request: &EmbedQueryRequest,
) -> Result<ResolvedFilters> {
    let mut resolved = resolve_filters(&request.filters, perms.default_period())?;
    if !perms.period_allowed(resolved.period) {
        return Err(AppError::Forbidden(format!(
            "filters.period: {} is not allowed in this embed session",
            resolved.period
        )));
    }
    if !perms.period_fits(resolved.period) {
        return Err(AppError::Forbidden(format!(
            "filters.period: {} is longer than this session's {}-day limit",
            resolved.period,
            perms.max_date_range_days.unwrap_or_default()
        )));
    }
    for (key, value) in &resolved.dimensions {
        check_dimension("filters.dimensions", key, value, perms)?;
    }
    if let Some(drill) = &request.drill {
        if !perms.allow_drill_down {
            return Err(AppError::Forbidden("drill: drill-down is not allowed in this embed session".into()));
        }
        if !valid_prop_key(&drill.dimension) || drill.value.chars().count() > 1_000 {
            return Err(AppError::invalid(
                "drill: dimension must be a prop name and value at most 1000 characters",
            ));
        }
        check_dimension("drill", &drill.dimension, &drill.value, perms)?;
        resolved.dimensions.push((drill.dimension.clone(), drill.value.clone()));
    }
    if let Some(group_by) = &widget.query.group_by
        && !perms.dimension_listed(group_by)
    {
        return Err(AppError::Forbidden(format!(
            "widget {:?} groups by {:?}, which is not allowed in this embed session",
            widget.id, group_by
        )));
    }
    if let (Some(max), Some((from, to))) = (perms.max_date_range_days, resolved.date_range) {
        // Open ends take the period window's; the part after now holds no data.
        let (window_from, window_to) = window(resolved.period, widget.query.granularity, Utc::now());
        let length = to.map_or(window_to, |t| t.min(window_to)) - from.unwrap_or(window_from);
        if length > Duration::days(i64::from(max)) {
            return Err(AppError::Forbidden(format!(
                "filters.dateRanges.timestamp: longer than this session's {max}-day limit"
            )));
        }
    }
    for (key, value) in &perms.locked_filters {
        resolved.dimensions.push((key.clone(), value.clone()));
    }
    resolved.max_range_days = perms.max_date_range_days;
    Ok(resolved)
}
