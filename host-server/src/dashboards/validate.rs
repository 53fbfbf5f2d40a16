//! The rules every dashboard and widget save runs: 400s name the widget (by index and id) and
//! the field, so a builder can point at the mistake.

use std::collections::HashSet;

use contract::{
    dashboard::{
        DashboardConfig, GRID_COLUMNS, Layout, MAX_WIDGET_HEIGHT, MAX_WIDGETS, Widget, WidgetKind,
        WidgetQuery,
    },
    query::{Granularity, Metric},
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    error::{AppError, Result, clip},
    events::valid_prop_key,
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
pub const MAX_LAYOUT_Y: u32 = 10_000;
/// Most groups a grouped widget may show.
pub const MAX_WIDGET_LIMIT: u32 = 1_000;

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

#[cfg(test)]
mod tests {
    use contract::dashboard::CreateDashboardRequest;
    use contract::dashboard::VizType;
    use serde_json::json;

    use super::*;

    fn widget(json: Value) -> Result<Widget> {
        from_body(&json, None)
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
