//! Signed embed sessions and the embed data API the runtime calls with them.
//! `docs/embed.md` describes how the server enforces each permission.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    dashboard::Widget,
    query::Period,
    ranges::{DateRange, NumericRange},
};

/// Default lifetime of an embed session, in seconds.
pub const DEFAULT_EXPIRES_IN: i64 = 3600;
/// Shortest allowed lifetime, in seconds.
pub const MIN_EXPIRES_IN: i64 = 60;
/// Longest allowed lifetime, in seconds (one day).
pub const MAX_EXPIRES_IN: i64 = 86_400;

/// What the holder of an embed session may see and do. Every field is enforced by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedPermissions {
    /// Whether the viewer may drill into a dimension value. Off unless granted.
    #[serde(default)]
    pub allow_drill_down: bool,
    /// Filters always applied; asking for another value of these dimensions is refused.
    #[serde(default)]
    pub locked_filters: BTreeMap<String, String>,
    /// Widget ids left out of the embed; querying them is a 404.
    #[serde(default)]
    pub hidden_widgets: Vec<String>,
    /// The dimensions the viewer may filter, drill and group by; all when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_dimensions: Option<Vec<String>>,
    /// The periods the viewer may pick; all when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_periods: Option<Vec<Period>>,
    /// Longest period or date range the viewer may ask for, in days; unbounded when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_date_range_days: Option<u32>,
    /// Whether the viewer may export (CSV, SVG, PNG; `POST /v1/embed/export` answers 403
    /// without it, and the runtime shows no export controls). On unless refused; written out
    /// only when off, so sessions that never mention it read as before.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub allow_export: bool,
}

fn yes() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

impl Default for EmbedPermissions {
    /// The most restrictive session, except for export, which is on unless refused.
    fn default() -> Self {
        EmbedPermissions {
            allow_drill_down: false,
            locked_filters: BTreeMap::new(),
            hidden_widgets: Vec::new(),
            allowed_dimensions: None,
            allowed_periods: None,
            max_date_range_days: None,
            allow_export: true,
        }
    }
}

/// The permission rules, written once: the server enforces them on every query and the runtime
/// offers only what they allow (so its filter bar and the server can never disagree).
impl EmbedPermissions {
    /// Whether `period` fits `max_date_range_days`.
    pub fn period_fits(&self, period: Period) -> bool {
        self.max_date_range_days.is_none_or(|max| period.hours() <= i64::from(max) * 24)
    }

    /// Whether `period` is one of `allowed_periods` (every period when left out).
    pub fn period_allowed(&self, period: Period) -> bool {
        self.allowed_periods.as_ref().is_none_or(|allowed| allowed.contains(&period))
    }

    /// Whether `dimension` is one of `allowed_dimensions` (every one when left out). Locked
    /// filters are checked apart: see [`locked_value`](Self::locked_value).
    pub fn dimension_listed(&self, dimension: &str) -> bool {
        self.allowed_dimensions.as_ref().is_none_or(|dims| dims.iter().any(|d| d == dimension))
    }

    /// The value `dimension` is locked to, if it is locked.
    pub fn locked_value(&self, dimension: &str) -> Option<&str> {
        self.locked_filters.get(dimension).map(String::as_str)
    }

    /// Whether a viewer or host may set a filter on `dimension`: listed and not locked.
    pub fn dimension_free(&self, dimension: &str) -> bool {
        self.locked_value(dimension).is_none() && self.dimension_listed(dimension)
    }

    /// Whether a click on a value of `dimension` drills down.
    pub fn can_drill(&self, dimension: &str) -> bool {
        self.allow_drill_down && self.dimension_free(dimension)
    }

    /// Whether a custom date range of `days` days (both ends counted) fits `max_date_range_days`.
    pub fn range_fits(&self, days: i64) -> bool {
        days >= 1 && self.max_date_range_days.is_none_or(|max| days <= i64::from(max))
    }

    /// The shortest period the viewer may pick whose window reaches back to the start of the
    /// day `days_back` days before today (UTC; 0 is today): the period a custom date range from
    /// that day narrows. `None` when no allowed period reaches that far.
    pub fn period_reaching(&self, days_back: i64) -> Option<Period> {
        let hours = (days_back.max(0) + 1) * 24;
        Period::ALL
            .iter()
            .copied()
            .find(|p| p.hours() >= hours && self.period_allowed(*p) && self.period_fits(*p))
    }

    /// The period an embed starts on: the first allowed period, else 30 days when that fits,
    /// else the longest period that does.
    pub fn default_period(&self) -> Period {
        if let Some(first) = self.allowed_periods.as_ref().and_then(|p| p.first()) {
            return *first;
        }
        if self.period_fits(Period::D30) {
            return Period::D30;
        }
        Period::ALL.iter().rev().copied().find(|p| self.period_fits(*p)).unwrap_or(Period::H1)
    }
}

/// Body of `POST /v1/embed-sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEmbedSessionRequest {
    /// The customer's customer whose data the embed shows. Nothing else can widen it.
    pub tenant_id: String,
    /// The dashboard to embed.
    pub dashboard_id: String,
    /// Lifetime in seconds, 60..=86400; 3600 when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// What the viewer may do; the most restrictive defaults apply to fields left out.
    #[serde(default)]
    pub permissions: EmbedPermissions,
    /// Host page origins (`https://app.example.com`, `https://*.example.com`) allowed to frame
    /// the embed and exchange messages with it; within the org's `embedding.allowed_origins` when
    /// the org has a list (else a 400). Left out: the org's list, or any page when it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// BCP 47 language tag for the embed's labels and number formats, e.g. `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// The 201 answer to `POST /v1/embed-sessions` (and `GET /v1/demo/embed-url`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateEmbedSessionResponse {
    /// The signed session (a JWT); send it as `Authorization: Bearer` to the embed data API.
    pub token: String,
    /// `{public url}/embed/{dashboard_id}?token=...`, ready for an iframe.
    pub embed_url: String,
    /// When the token stops working (RFC 3339).
    pub expires_at: String,
}

/// The dashboard filter state `{period, dimensions, numericRanges, dateRanges}`, as the runtime's
/// `setFilters` command carries it, with a typed period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedFilters {
    /// The period; the session's initial period when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Exact-match dimension filters, `{dimension: value}`.
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    /// Numeric prop ranges, `{prop: {min, max}}`.
    #[serde(default, rename = "numericRanges")]
    pub numeric_ranges: BTreeMap<String, NumericRange>,
    /// Ranges of the event time that narrow the period's window: one entry, keyed `timestamp`
    /// (`date`, `day`, `time` and `ts` are accepted as aliases).
    #[serde(default, rename = "dateRanges")]
    pub date_ranges: BTreeMap<String, DateRange>,
}

/// A drill into one value of a dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drill {
    /// The dimension.
    pub dimension: String,
    /// Its value.
    pub value: String,
}

/// Body of `POST /v1/embed/query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedQueryRequest {
    /// A widget of the published dashboard.
    pub widget_id: String,
    /// The active filter state.
    #[serde(default)]
    pub filters: EmbedFilters,
    /// An optional drill, applied as one more filter (needs `allow_drill_down`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<Drill>,
    /// The dashboard the runtime believes it shows; a token for another dashboard is a 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_id: Option<String>,
}

/// Body of `POST /v1/embed/export`: the CSV of some (or every) visible widget under a filter
/// state, as the session may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedExportRequest {
    /// The widgets, in this order; every visible widget in reading order when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget_ids: Option<Vec<String>>,
    /// The active filter state.
    #[serde(default)]
    pub filters: EmbedFilters,
    /// The dashboard the runtime believes it shows; a token for another dashboard is a 401.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dashboard_id: Option<String>,
}

/// The published dashboard as an embed sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedDashboard {
    /// Dashboard id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The published widgets minus hidden ones; empty when not published.
    pub widgets: Vec<Widget>,
    /// When the snapshot was published (RFC 3339); `null` when not published.
    pub published_at: Option<String>,
}

/// The 200 answer to `GET /v1/embed/dashboard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedDashboardResponse {
    /// `false` when the dashboard is not published: render `message` instead of widgets.
    pub published: bool,
    /// Shown to the viewer when not published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The dashboard.
    pub dashboard: EmbedDashboard,
    /// The tenant the session is bound to.
    pub tenant_id: String,
    /// The session's permissions, as enforced.
    pub permissions: EmbedPermissions,
    /// The filter state to start from: the initial period, locked filters applied.
    pub filters: EmbedFilters,
    /// The session's locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// When the session expires (RFC 3339).
    pub expires_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_period_respects_bounds() {
        let mut p = EmbedPermissions::default();
        assert_eq!(p.default_period(), Period::D30);
        p.max_date_range_days = Some(7);
        assert_eq!(p.default_period(), Period::D7);
        p.allowed_periods = Some(vec![Period::H24, Period::D7]);
        assert_eq!(p.default_period(), Period::H24);
    }

    #[test]
    fn one_rule_for_dimensions_periods_and_drill() {
        let mut p = EmbedPermissions {
            allow_drill_down: true,
            allowed_dimensions: Some(vec!["model".into(), "plan".into()]),
            locked_filters: [("plan".to_owned(), "pro".to_owned())].into(),
            allowed_periods: Some(vec![Period::H24, Period::D7]),
            max_date_range_days: Some(7),
            ..Default::default()
        };
        assert!(p.dimension_listed("model") && p.dimension_listed("plan") && !p.dimension_listed("region"));
        assert!(p.dimension_free("model") && !p.dimension_free("plan"), "locked is not free");
        assert_eq!(p.locked_value("plan"), Some("pro"));
        assert!(p.can_drill("model") && !p.can_drill("plan") && !p.can_drill("region"));
        assert!(p.period_allowed(Period::D7) && !p.period_allowed(Period::D30));
        assert!(p.period_fits(Period::D7) && !p.period_fits(Period::D30));
        p.allow_drill_down = false;
        assert!(!p.can_drill("model"));
    }

    #[test]
    fn custom_ranges_fit_the_longest_allowed_period_and_the_day_limit() {
        let mut p = EmbedPermissions {
            allowed_periods: Some(vec![Period::D7, Period::D30]),
            max_date_range_days: Some(10),
            ..Default::default()
        };
        assert!(p.range_fits(10) && !p.range_fits(11) && !p.range_fits(0));
        assert_eq!(p.period_reaching(0), Some(Period::D7), "24h is not allowed");
        assert_eq!(p.period_reaching(6), Some(Period::D7));
        assert_eq!(p.period_reaching(7), None, "30d is over the 10-day limit");
        p.max_date_range_days = None;
        assert_eq!(p.period_reaching(20), Some(Period::D30));
        assert_eq!(p.period_reaching(40), None, "90d is not allowed");
        assert!(p.range_fits(400));
    }

    #[test]
    fn filter_state_uses_runtime_field_names() {
        let json = r#"{"period":"7d","dimensions":{"model":"gpt-4"},"numericRanges":{"tokens":{"min":10}},"dateRanges":{"timestamp":{"from":"2026-11-01","to":"2026-11-07"}}}"#;
        let state: EmbedFilters = serde_json::from_str(json).expect("parse");
        assert_eq!(state.period, Some(Period::D7));
        assert_eq!(state.numeric_ranges["tokens"].min, Some(10.0));
        let back = serde_json::to_value(&state).expect("write");
        assert!(back.get("numericRanges").is_some() && back.get("dateRanges").is_some());
    }

    #[test]
    fn export_is_allowed_unless_refused_and_written_only_when_refused() {
        let p: EmbedPermissions = serde_json::from_str("{}").expect("parse");
        assert!(p.allow_export && EmbedPermissions::default().allow_export);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"allow_drill_down":false,"locked_filters":{},"hidden_widgets":[]}"#
        );
        let off: EmbedPermissions = serde_json::from_str(r#"{"allow_export":false}"#).expect("parse");
        assert!(!off.allow_export);
        assert!(serde_json::to_string(&off).unwrap().contains(r#""allow_export":false"#));
    }

    #[test]
    fn unknown_permission_fields_are_refused() {
        assert!(serde_json::from_str::<EmbedPermissions>(r#"{"allow_everything":true}"#).is_err());
        let p: EmbedPermissions =
            serde_json::from_str(r#"{"allow_drill_down":true,"allowed_periods":["7d","30d"]}"#)
                .expect("parse");
        assert_eq!(p.allowed_periods, Some(vec![Period::D7, Period::D30]));
    }
}
