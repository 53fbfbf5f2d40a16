//! The demo org's dashboard: every widget kind over the sample events, published on seeding.

use chrono::Utc;
use contract::dashboard::DashboardConfig;
use serde_json::{Value, json};

use crate::{
    dashboards::{
        insert_dashboard, save,
        validate::{from_body, validate_config},
    },
    error::Result,
    meta::dashboards::DashboardStore,
};

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
    let mut widgets = json!([
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
    // Latency: lower is better, in milliseconds (docs/dashboards.md, "viz.options").
    widgets[1]["viz"] = json!({ "type": "number", "unit": "ms", "decimals": 0, "higher_is_better": false });
    let mut config = DashboardConfig { widgets: from_body(&widgets, None)? };
    validate_config(&mut config)?;
    Ok(config)
}

/// Creates and publishes the demo dashboard in the demo org unless it exists. Returns its id.
pub async fn ensure_demo_dashboard(store: &dyn DashboardStore, org_id: i64, env_id: i64) -> Result<String> {
    let existing = store.list_dashboards(org_id, env_id).await?;
    if let Some(found) = existing.iter().find(|d| d.name == DEMO_DASHBOARD_NAME) {
        return Ok(found.id.clone());
    }
    let mut record =
        insert_dashboard(store, org_id, env_id, DEMO_DASHBOARD_NAME.to_owned(), demo_config()?).await?;
    record.published_config = Some(record.config.clone());
    record.is_published = true;
    record.published_at = Some(Utc::now());
    let record = save(store, record).await?;
    Ok(record.id)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::dashboards::validate::config_dimensions;

    #[test]
    fn demo_config_is_valid_and_has_every_kind() {
        let config = demo_config().expect("valid");
        let kinds: HashSet<_> = config.widgets.iter().map(|w| w.kind).collect();
        assert_eq!(kinds.len(), 4);
        assert_eq!(config_dimensions(&config), ["model", "endpoint", "plan"].map(String::from).into());
    }
}
