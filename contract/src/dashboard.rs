//! Dashboards and widgets: a draft config that editors change, and a published snapshot that
//! embeds show. `docs/dashboards.md` describes the rules the server applies on save.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::query::{Granularity, Metric, QueryMeta, QueryRow};

/// Columns of the layout grid.
pub const GRID_COLUMNS: u32 = 12;
/// Tallest widget, in grid rows.
pub const MAX_WIDGET_HEIGHT: u32 = 24;
/// Most widgets on one dashboard.
pub const MAX_WIDGETS: usize = 50;

/// What a widget shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WidgetKind {
    /// One number, with its change against the previous period.
    Metric,
    /// A series over time (one per group when grouped).
    Timeseries,
    /// The metric split by a dimension, as bars or a pie.
    Breakdown,
    /// The top rows by a dimension.
    Table,
}

impl WidgetKind {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WidgetKind::Metric => "metric",
            WidgetKind::Timeseries => "timeseries",
            WidgetKind::Breakdown => "breakdown",
            WidgetKind::Table => "table",
        }
    }

    /// The visualizations this kind can be drawn with.
    pub fn allowed_viz(self) -> &'static [VizType] {
        match self {
            WidgetKind::Metric => &[VizType::Number],
            WidgetKind::Timeseries => &[VizType::Line, VizType::Area, VizType::Bar],
            WidgetKind::Breakdown => &[VizType::Bar, VizType::Pie],
            WidgetKind::Table => &[VizType::Table],
        }
    }
}

/// How a widget is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VizType {
    /// Line chart (time series).
    Line,
    /// Area chart (time series).
    Area,
    /// Bar chart (time series or breakdown).
    Bar,
    /// Pie chart (breakdown).
    Pie,
    /// A single big number (metric).
    Number,
    /// Rows and columns (table).
    Table,
}

impl VizType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VizType::Line => "line",
            VizType::Area => "area",
            VizType::Bar => "bar",
            VizType::Pie => "pie",
            VizType::Number => "number",
            VizType::Table => "table",
        }
    }
}

/// The query a widget runs: the query API's spec without tenant and period, which come from
/// the embed session and the dashboard's filter state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetQuery {
    /// Event name, e.g. `api.call`.
    pub event_name: String,
    /// What to compute.
    pub metric: Metric,
    /// The numeric prop for `sum`, `avg`, `p95`, `p99`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric_prop: Option<String>,
    /// Bucket width; `timeseries` widgets get `day` when it is left out, other kinds take none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    /// The dimension (string prop) to split by; required for `breakdown` and `table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// Exact-match filters always applied to this widget, `{prop: value}`.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Most groups shown (1..=1000); grouped widgets show 10 when it is left out. Added after
    /// the first release, hence optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// How a widget is drawn: a `type` plus free-form drawing options (colours, stacking, units).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viz {
    /// The visualization.
    #[serde(rename = "type")]
    pub viz_type: VizType,
    /// Any other keys, kept as given (at most 50 keys and 8 KiB of JSON).
    #[serde(flatten)]
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// Where a widget sits on the 12-column grid: `x + w <= 12`, `1 <= w`, `1 <= h <= 24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Column of the left edge, from 0.
    pub x: u32,
    /// Row of the top edge, from 0.
    pub y: u32,
    /// Width in columns.
    pub w: u32,
    /// Height in rows.
    pub h: u32,
}

/// One widget of a dashboard (or a standalone widget).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Widget {
    /// Unique within its dashboard: 1 to 64 of `A-Z a-z 0-9 _ -`.
    pub id: String,
    /// What it shows.
    pub kind: WidgetKind,
    /// Heading, 1 to 200 characters.
    pub title: String,
    /// The query it runs.
    pub query: WidgetQuery,
    /// How it is drawn.
    pub viz: Viz,
    /// Where it sits.
    pub layout: Layout,
}

/// A dashboard's content: what the draft holds and what publishing snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// At most 50 widgets with unique ids.
    pub widgets: Vec<Widget>,
}

/// A dashboard as the admin API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// UUID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The draft: what editors change.
    pub config: DashboardConfig,
    /// Whether embeds show `published_config` (false before the first publish and after an
    /// unpublish).
    pub published: bool,
    /// The last published snapshot; kept after an unpublish so it can be restored.
    pub published_config: Option<DashboardConfig>,
    /// When it was last published (RFC 3339).
    pub published_at: Option<String>,
    /// Whether the draft differs from the published snapshot.
    pub has_unpublished_changes: bool,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change to name or draft (RFC 3339).
    pub updated_at: String,
}

/// `GET /v1/dashboards`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardList {
    /// Newest first.
    pub dashboards: Vec<Dashboard>,
}

/// Body of `POST /v1/dashboards`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDashboardRequest {
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// The initial draft widgets; none when left out.
    #[serde(default)]
    pub widgets: Vec<Widget>,
}

/// Body of `PATCH /v1/dashboards/:id`: each field given replaces the draft's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateDashboardRequest {
    /// New name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New draft widgets (the whole list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widgets: Option<Vec<Widget>>,
}

/// Body of `PATCH /v1/dashboards/:id/widgets/:widgetId`: each field given replaces the
/// widget's. The id cannot change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWidgetRequest {
    /// New heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// New visualization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viz: Option<Viz>,
    /// New position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// New kind (checked against the viz and query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WidgetKind>,
    /// New query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<WidgetQuery>,
}

/// A standalone widget: one widget with its own draft and published snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandaloneWidget {
    /// UUID (also the inner widget's `id`).
    pub id: String,
    /// The draft.
    pub widget: Widget,
    /// The last published snapshot.
    pub published: Option<Widget>,
    /// When it was last published (RFC 3339).
    pub published_at: Option<String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

/// `GET /v1/widgets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandaloneWidgetList {
    /// Newest first.
    pub widgets: Vec<StandaloneWidget>,
}

/// The previous period's value of a `metric` widget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviousPeriod {
    /// The metric over the previous window (`null` when a non-additive metric had no events);
    /// whole numbers are written without a fraction, as in query rows.
    #[serde(serialize_with = "crate::query::whole_as_integer")]
    pub value: Option<f64>,
    /// Start of the previous window (inclusive, RFC 3339).
    pub from: String,
    /// End of the previous window (exclusive, RFC 3339).
    pub to: String,
}

/// A widget's data: the rows of `GET /v1/query`, plus the comparison for `metric` widgets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetData {
    /// The widget evaluated.
    pub widget_id: String,
    /// Its kind.
    pub kind: WidgetKind,
    /// Rows in `GET /v1/query`'s shape.
    pub data: Vec<QueryRow>,
    /// How the query ran, as `GET /v1/query` reports it.
    pub meta: QueryMeta,
    /// `metric` widgets only: the same metric over the window just before (left out when an
    /// embed session's `max_date_range_days` does not cover that whole window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousPeriod>,
    /// `metric` widgets only: `(value - previous) / |previous|`; `null` when either is missing
    /// or the previous value is zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<f64>,
    /// Ungrouped `timeseries` widgets whose `viz` options ask for it (`"compare":
    /// "previous_period"`), in embeds: the same series over the window just before, one row per
    /// bucket of that window (the runtime draws it by position, as a faint line). Left out like
    /// `previous` when the session's `max_date_range_days` does not cover that whole window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_series: Option<Vec<QueryRow>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widget_round_trips_with_viz_options() {
        let json = r##"{"id":"latency","kind":"timeseries","title":"Latency","query":{"event_name":"api.call","metric":"p95","numeric_prop":"latency_ms","granularity":"day","group_by":"model","filters":{"plan":"pro"}},"viz":{"type":"line","color":"#0f9d58"},"layout":{"x":0,"y":0,"w":6,"h":4}}"##;
        let widget: Widget = serde_json::from_str(json).expect("parse");
        assert_eq!(widget.viz.viz_type, VizType::Line);
        assert_eq!(widget.viz.options.get("color").and_then(|v| v.as_str()), Some("#0f9d58"));
        let back: Widget =
            serde_json::from_str(&serde_json::to_string(&widget).expect("write")).expect("reparse");
        assert_eq!(back, widget);
    }

    #[test]
    fn unknown_widget_fields_are_refused() {
        let json = r#"{"id":"a","kind":"metric","title":"t","query":{"event_name":"e","metric":"count"},"viz":{"type":"number"},"layout":{"x":0,"y":0,"w":1,"h":1},"colour":1}"#;
        assert!(serde_json::from_str::<Widget>(json).is_err());
    }
}
