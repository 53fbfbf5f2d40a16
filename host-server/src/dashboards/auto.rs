//! A first dashboard built from what the events hold: one widget per frequent event type and
//! its most telling breakdown.

use contract::{
    dashboard::{GRID_COLUMNS, Widget},
    discover::DiscoveredEvent,
};
use serde_json::{Value, json};

use crate::{dashboards::validate::from_body, error::Result};

/// Name of an auto-created dashboard unless the request names it.
pub const AUTO_DASHBOARD_NAME: &str = "Auto-generated Dashboard";
/// Event types an auto-created dashboard covers (the most frequent).
const AUTO_EVENTS: usize = 4;

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

#[cfg(test)]
mod tests {
    use contract::dashboard::DashboardConfig;

    use super::*;
    use crate::dashboards::validate::validate_config;
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
