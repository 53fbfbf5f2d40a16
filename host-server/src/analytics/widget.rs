//! Widget evaluation, shared by the builder's preview and embeds: a widget plus a filter state
//! (period, dimensions, numeric and date ranges, drill) becomes a store query and the rows the
//! widget draws.

use std::{collections::HashSet, time::Instant};

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use contract::{
    dashboard::{PreviousPeriod, Widget, WidgetData, WidgetKind},
    embed::EmbedFilters,
    query::{Granularity, Period, QueryResponse},
};

use crate::{
    analytics::query::{QueryRequest, next_bucket, shape, truncate},
    error::{AppError, Result, clip},
    events::{EventStore, NumericRangeFilter, QuerySpec, StoreScope, valid_prop_key},
    time::bucket,
};

/// Groups a grouped widget shows when its query sets no `limit`.
pub const DEFAULT_GROUP_LIMIT: usize = 10;
/// The `dateRanges` key of the event time, and the aliases accepted for it.
pub const DATE_RANGE_KEYS: &[&str] = &["timestamp", "date", "day", "time", "ts"];
/// Most dimension filters or numeric ranges in one filter state.
const MAX_FILTERS: usize = 20;

/// A date range's `(from, to)`, either end optional.
pub type DateBounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A filter state after syntax checks: what [`evaluate`] applies.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFilters {
    /// The period.
    pub period: Period,
    /// Exact-match dimension filters (user filters, locked filters, a drill).
    pub dimensions: Vec<(String, String)>,
    /// Inclusive numeric prop ranges.
    pub numeric_ranges: Vec<NumericRangeFilter>,
    /// The `timestamp` date range, either end optional.
    pub date_range: Option<DateBounds>,
    /// An embed session's `max_date_range_days`: no row older than `now - days` is read, by the
    /// window or by a metric's comparison window (see [`earliest_allowed`]).
    pub max_range_days: Option<u32>,
}

fn parse_instant(field: &str, text: &str, is_end: bool) -> Result<DateTime<Utc>> {
    let bad = || {
        AppError::invalid(format!(
            "{field}: must be an RFC 3339 time or a YYYY-MM-DD date (got {:?})",
            clip(text)
        ))
    };
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        t.with_timezone(&Utc)
    } else {
        let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
        // A `to` date includes that whole day.
        let day = if is_end { day.checked_add_days(Days::new(1)).ok_or_else(bad)? } else { day };
        Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).ok_or_else(bad)?)
    };
    if !(1970..=2101).contains(&t.year()) {
        return Err(AppError::invalid(format!("{field}: must be between 1970 and 2100")));
    }
    Ok(t)
}

/// Checks a filter state's syntax (400s); permissions are checked by the caller.
pub fn resolve_filters(filters: &EmbedFilters, default_period: Period) -> Result<ResolvedFilters> {
    if filters.dimensions.len() > MAX_FILTERS || filters.numeric_ranges.len() > MAX_FILTERS {
        return Err(AppError::invalid(format!(
            "filters: at most {MAX_FILTERS} dimensions and {MAX_FILTERS} numericRanges"
        )));
    }
    let mut dimensions = Vec::with_capacity(filters.dimensions.len());
    for (key, value) in &filters.dimensions {
        if !valid_prop_key(key) {
            return Err(AppError::invalid(format!(
                "filters.dimensions: {:?} is not a dimension name of 1 to 200 characters",
                clip(key)
            )));
        }
        if value.chars().count() > 1_000 {
            return Err(AppError::invalid(format!("filters.dimensions.{key}: at most 1000 characters")));
        }
        dimensions.push((key.clone(), value.clone()));
    }
    let mut numeric_ranges = Vec::with_capacity(filters.numeric_ranges.len());
    for (key, range) in &filters.numeric_ranges {
        let field = format!("filters.numericRanges.{}", clip(key));
        if !valid_prop_key(key) {
            return Err(AppError::invalid(format!("{field}: not a prop name of 1 to 200 characters")));
        }
        if range.min.is_none() && range.max.is_none() {
            return Err(AppError::invalid(format!("{field}: give min, max or both")));
        }
        if range.min.is_some_and(|v| !v.is_finite()) || range.max.is_some_and(|v| !v.is_finite()) {
            return Err(AppError::invalid(format!("{field}: bounds must be finite numbers")));
        }
        if let (Some(min), Some(max)) = (range.min, range.max)
            && min > max
        {
            return Err(AppError::invalid(format!("{field}: min must not exceed max")));
        }
        numeric_ranges.push(NumericRangeFilter { key: key.clone(), min: range.min, max: range.max });
    }
    if filters.date_ranges.len() > 1 {
        return Err(AppError::invalid(
            "filters.dateRanges: one range at most, keyed \"timestamp\" (the event time)",
        ));
    }
    let mut date_range = None;
    for (key, range) in &filters.date_ranges {
        if !DATE_RANGE_KEYS.contains(&key.as_str()) {
            return Err(AppError::invalid(format!(
                "filters.dateRanges.{}: the only date field is \"timestamp\" (the event time)",
                clip(key)
            )));
        }
        let from = range
            .from
            .as_deref()
            .map(|t| parse_instant(&format!("filters.dateRanges.{key}.from"), t, false))
            .transpose()?;
        let to = range
            .to
            .as_deref()
            .map(|t| parse_instant(&format!("filters.dateRanges.{key}.to"), t, true))
            .transpose()?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(AppError::invalid(format!("filters.dateRanges.{key}: from must be before to")));
        }
        date_range = Some((from, to));
    }
    Ok(ResolvedFilters {
        period: filters.period.unwrap_or(default_period),
        dimensions,
        numeric_ranges,
        date_range,
        max_range_days: None,
    })
}

/// The earliest instant a session limited to `days` may read at `now`: `now - days`, moved up
/// to the next whole hour so hourly rows stay whole.
pub fn earliest_allowed(days: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    let limit = now - chrono::Duration::days(i64::from(days));
    let hour = truncate(limit, Granularity::Hour);
    if hour < limit { next_bucket(hour, Granularity::Hour) } else { hour }
}

/// The store query of `widget` for `tenant_id` under `filters`, at `now`, with the request
/// `shape` needs.
pub fn widget_spec(
    tenant_id: &str,
    widget: &Widget,
    filters: &ResolvedFilters,
    now: DateTime<Utc>,
) -> (QueryRequest, QuerySpec) {
    let q = &widget.query;
    let request = QueryRequest {
        event_name: q.event_name.clone(),
        tenant_id: tenant_id.to_owned(),
        metric: q.metric,
        period: filters.period,
        granularity: q.granularity,
        group_by: q.group_by.clone(),
        numeric_prop: q.numeric_prop.clone(),
        filters: q.filters.clone(),
    };
    let mut spec = request.spec(now);
    if !filters.dimensions.is_empty() {
        spec.filters.extend(filters.dimensions.iter().cloned());
        spec.filters.sort();
        spec.filters.dedup();
    }
    if let Some((from, to)) = filters.date_range {
        narrow(&mut spec, from, to);
    }
    if let Some(days) = filters.max_range_days {
        // Whole buckets would reach back to the start of the week or month holding the limit:
        // the first bucket keeps its start as its label but counts only rows from the limit on.
        let earliest = earliest_allowed(days, now);
        if spec.from < earliest {
            spec.from = earliest;
        }
        if spec.to < spec.from {
            spec.to = spec.from;
        }
    }
    (request, spec)
}

/// Narrows the window to a date range, widened to whole buckets so answers stay aligned.
fn narrow(spec: &mut QuerySpec, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) {
    let g = spec.granularity.unwrap_or(Granularity::Hour);
    if let Some(from) = from {
        let from = truncate(from, g);
        if from > spec.from {
            spec.from = from;
        }
    }
    if let Some(to) = to {
        let start = truncate(to, g);
        let to = if start == to { to } else { next_bucket(start, g) };
        if to < spec.to {
            spec.to = to;
        }
    }
    if spec.to < spec.from {
        spec.to = spec.from;
    }
}

/// Keeps the top `limit` groups (the answer lists groups best first).
fn limit_groups(response: &mut QueryResponse, limit: usize) {
    if response.meta.group_by.is_none() {
        return;
    }
    let mut kept: HashSet<Option<String>> = HashSet::new();
    let mut dropped = false;
    for row in &response.data {
        if let Some(group) = &row.group
            && !kept.contains(group)
        {
            if kept.len() < limit {
                kept.insert(group.clone());
            } else {
                dropped = true;
            }
        }
    }
    if dropped {
        response.data.retain(|row| row.group.as_ref().is_some_and(|g| kept.contains(g)));
        response.meta.groups_truncated = true;
    }
}

/// Runs a widget's query for one tenant: the rows of `GET /v1/query`, the top groups only, and
/// for `metric` widgets the previous window's value and the change.
pub async fn evaluate(
    events: &dyn EventStore,
    scope: StoreScope,
    tenant_id: &str,
    widget: &Widget,
    filters: &ResolvedFilters,
    started: Instant,
) -> Result<WidgetData> {
    evaluate_at(events, scope, tenant_id, widget, filters, started, Utc::now()).await
}

/// [`evaluate`] with the window ending at `now` (scheduled reports run on the scheduler's clock).
pub async fn evaluate_at(
    events: &dyn EventStore,
    scope: StoreScope,
    tenant_id: &str,
    widget: &Widget,
    filters: &ResolvedFilters,
    started: Instant,
    now: DateTime<Utc>,
) -> Result<WidgetData> {
    let (request, spec) = widget_spec(tenant_id, widget, filters, now);
    let ranges = &filters.numeric_ranges;
    let mut before = spec.clone();
    before.to = spec.from;
    before.from = spec.from - (spec.to - spec.from);
    // A comparison is only made with a whole previous window the session may read: a cut one
    // would compare unequal spans.
    let comparable = filters.max_range_days.is_none_or(|days| before.from >= earliest_allowed(days, now));
    let (mut response, previous) = if widget.kind == WidgetKind::Metric && comparable {
        let (current, then) = tokio::try_join!(
            events.query_with_ranges(scope, &spec, ranges),
            events.query_with_ranges(scope, &before, ranges),
        )?;
        let then_value = shape(&request, &before, then, started).data.first().and_then(|r| r.value);
        let previous = PreviousPeriod { value: then_value, from: bucket(before.from), to: bucket(before.to) };
        (shape(&request, &spec, current, started), Some(previous))
    } else {
        let answer = events.query_with_ranges(scope, &spec, ranges).await?;
        (shape(&request, &spec, answer, started), None)
    };
    if request.group_by.is_some() {
        let limit = widget.query.limit.map_or(DEFAULT_GROUP_LIMIT, |l| l as usize);
        limit_groups(&mut response, limit);
    }
    let change = previous.as_ref().and_then(|p| {
        let current = response.data.first().and_then(|r| r.value)?;
        let before = p.value.filter(|v| *v != 0.0)?;
        Some(((current - before) / before.abs() * 1e6).round() / 1e6)
    });
    Ok(WidgetData {
        widget_id: widget.id.clone(),
        kind: widget.kind,
        data: response.data,
        meta: response.meta,
        previous,
        change,
        previous_series: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dashboards::validate::from_body;
    use contract::messages::{DateRange, NumericRange};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn date_ranges_narrow_to_whole_buckets() {
        let mut filters = EmbedFilters::default();
        filters.date_ranges.insert(
            "timestamp".into(),
            DateRange { from: Some("2026-11-10".into()), to: Some("2026-11-12T05:30:00Z".into()) },
        );
        let resolved = resolve_filters(&filters, Period::D30).expect("valid");
        let widget: Widget = from_body(
            &json!({ "id": "t", "kind": "timeseries", "title": "T",
                "query": { "event_name": "e", "metric": "count", "granularity": "day" },
                "viz": { "type": "line" }, "layout": { "x": 0, "y": 0, "w": 6, "h": 4 } }),
            None,
        )
        .expect("widget");
        let (_, spec) = widget_spec("t", &widget, &resolved, at("2026-11-21T05:00:00Z"));
        assert_eq!((spec.from, spec.to), (at("2026-11-10T00:00:00Z"), at("2026-11-13T00:00:00Z")));
    }

    fn series(granularity: &str) -> Widget {
        from_body(
            &json!({ "id": "t", "kind": "timeseries", "title": "T",
                "query": { "event_name": "e", "metric": "count", "granularity": granularity },
                "viz": { "type": "line" }, "layout": { "x": 0, "y": 0, "w": 6, "h": 4 } }),
            None,
        )
        .expect("widget")
    }

    #[test]
    fn a_date_limit_cuts_the_first_week_or_month_bucket() {
        let mut filters = resolve_filters(&EmbedFilters::default(), Period::D30).expect("valid");
        // 30 days by month in February reach back to January 1st: 59 days.
        let now = at("2026-02-10T12:00:00Z");
        let (_, spec) = widget_spec("t", &series("month"), &filters, now);
        assert_eq!((spec.from, spec.to), (at("2026-01-01T00:00:00Z"), at("2026-03-01T00:00:00Z")));
        filters.max_range_days = Some(30);
        let (_, spec) = widget_spec("t", &series("month"), &filters, now);
        assert_eq!((spec.from, spec.to), (at("2026-01-11T12:00:00Z"), at("2026-03-01T00:00:00Z")));
        // 30 days by week on a Saturday reach back 33 days; the limit moves up to a whole hour.
        let now = at("2026-11-21T05:30:00Z");
        let (_, spec) = widget_spec("t", &series("week"), &filters, now);
        assert_eq!(spec.from, at("2026-10-22T06:00:00Z"));
        // Date ranges are widened to whole buckets, then cut the same way.
        let mut ranged = EmbedFilters::default();
        ranged
            .date_ranges
            .insert("timestamp".into(), DateRange { from: Some("2026-10-22T05:31:00Z".into()), to: None });
        let mut ranged = resolve_filters(&ranged, Period::D30).expect("valid");
        ranged.max_range_days = Some(30);
        let (_, spec) = widget_spec("t", &series("week"), &ranged, now);
        assert_eq!(spec.from, at("2026-10-22T06:00:00Z"));
        // Windows inside the limit are left whole.
        let (_, spec) = widget_spec("t", &series("day"), &filters, now);
        assert_eq!(spec.from, at("2026-10-23T00:00:00Z"));
    }

    #[test]
    fn filter_syntax_errors_name_the_field() {
        let mut filters = EmbedFilters::default();
        filters.date_ranges.insert("created".into(), DateRange::default());
        assert!(
            resolve_filters(&filters, Period::D7)
                .expect_err("key")
                .to_string()
                .starts_with("filters.dateRanges.created")
        );
        let mut filters = EmbedFilters::default();
        filters.numeric_ranges.insert("tokens".into(), NumericRange { min: Some(5.0), max: Some(1.0) });
        assert!(
            resolve_filters(&filters, Period::D7)
                .expect_err("min>max")
                .to_string()
                .contains("min must not exceed max")
        );
    }
}
