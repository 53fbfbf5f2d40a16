//! The query API's rules: parameters (`GET /v1/query`), the UTC window of a period, bucket
//! arithmetic, and zero-filled, ordered answers.

use std::{
    collections::{BTreeMap, HashMap},
    time::Instant,
};

use chrono::{DateTime, Datelike, Duration, Months, TimeZone, Timelike, Utc};
use contract::query::{Granularity, Metric, Period, QueryMeta, QueryResponse, QueryRow};

use crate::{
    error::{AppError, Result},
    events::{QuerySpec, StoreAnswer, valid_prop_key},
    time::bucket,
};

/// Most groups a grouped answer carries; the rest are reported by `groups_truncated`.
pub const MAX_GROUPS: usize = 1_000;

/// The parsed query string.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    /// Event name.
    pub event_name: String,
    /// Tenant.
    pub tenant_id: String,
    /// Metric.
    pub metric: Metric,
    /// Period.
    pub period: Period,
    /// Optional bucket width.
    pub granularity: Option<Granularity>,
    /// Optional group-by prop.
    pub group_by: Option<String>,
    /// Numeric prop for sum/avg/p95/p99.
    pub numeric_prop: Option<String>,
    /// `f_<key>=value` filters, sorted.
    pub filters: BTreeMap<String, String>,
}

fn invalid(msg: impl Into<String>) -> AppError {
    AppError::invalid(msg)
}

fn name_param(name: &str, value: &str) -> Result<String> {
    if value.is_empty() || value.chars().count() > 200 {
        return Err(invalid(format!("{name}: must be a non-empty string of at most 200 characters")));
    }
    Ok(value.to_owned())
}

fn prop_param(name: &str, value: &str) -> Result<String> {
    if !valid_prop_key(value) {
        return Err(invalid(format!("{name}: must be a prop name of 1 to 200 characters")));
    }
    Ok(value.to_owned())
}

impl QueryRequest {
    /// Parses and validates a query string; every failure names its parameter.
    pub fn parse(raw: &str) -> Result<Self> {
        let mut single: HashMap<&'static str, String> = HashMap::new();
        let mut filters = BTreeMap::new();
        const KNOWN: &[&str] =
            &["event_name", "tenant_id", "metric", "period", "granularity", "group_by", "numeric_prop"];
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            if let Some(prop) = key.strip_prefix("f_") {
                let prop = prop_param(&key, prop)?;
                if value.chars().count() > 1_000 {
                    return Err(invalid(format!("{key}: at most 1000 characters")));
                }
                if filters.insert(prop, value.into_owned()).is_some() {
                    return Err(invalid(format!("{key}: given more than once")));
                }
                continue;
            }
            let Some(known) = KNOWN.iter().find(|k| **k == key) else {
                return Err(invalid(format!("{key}: unknown query parameter")));
            };
            if single.insert(known, value.into_owned()).is_some() {
                return Err(invalid(format!("{key}: given more than once")));
            }
        }
        let required =
            |name: &str| single.get(name).cloned().ok_or_else(|| invalid(format!("{name}: required")));
        let event_name = name_param("event_name", &required("event_name")?)?;
        let tenant_id = required("tenant_id")?;
        crate::events::check_tenant_id(&tenant_id).map_err(|m| invalid(format!("tenant_id: {m}")))?;
        let metric_text = required("metric")?;
        let metric = Metric::parse(&metric_text).ok_or_else(|| {
            invalid(format!(
                "metric: must be one of count, count_unique, count_unique_approx, sum, avg, p95, p99 (got {metric_text:?})"
            ))
        })?;
        let period_text = required("period")?;
        let period = Period::parse(&period_text).ok_or_else(|| {
            invalid(format!("period: must be one of 1h, 24h, 7d, 30d, 90d (got {period_text:?})"))
        })?;
        let granularity = single
            .get("granularity")
            .map(|g| {
                Granularity::parse(g).ok_or_else(|| {
                    invalid(format!("granularity: must be one of hour, day, week, month (got {g:?})"))
                })
            })
            .transpose()?;
        let group_by = single.get("group_by").map(|g| prop_param("group_by", g)).transpose()?;
        let numeric_prop = single.get("numeric_prop").map(|p| prop_param("numeric_prop", p)).transpose()?;
        match (metric.needs_numeric_prop(), &numeric_prop) {
            (true, None) => return Err(invalid(format!("numeric_prop: required for metric {metric}"))),
            (false, Some(_)) => {
                return Err(invalid(format!(
                    "numeric_prop: only applies to sum, avg, p95 and p99, not {metric}"
                )));
            }
            _ => {}
        }
        Ok(QueryRequest {
            event_name,
            tenant_id,
            metric,
            period,
            granularity,
            group_by,
            numeric_prop,
            filters,
        })
    }

    /// The store query for a request made at `now`.
    pub fn spec(&self, now: DateTime<Utc>) -> QuerySpec {
        let (from, to) = window(self.period, self.granularity, now);
        QuerySpec {
            tenant_id: self.tenant_id.clone(),
            event_name: self.event_name.clone(),
            metric: self.metric,
            numeric_prop: self.numeric_prop.clone(),
            from,
            to,
            granularity: self.granularity,
            group_by: self.group_by.clone(),
            filters: self.filters.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// Start of the UTC bucket of width `g` containing `t`.
pub fn truncate(t: DateTime<Utc>, g: Granularity) -> DateTime<Utc> {
    let day = Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default());
    match g {
        Granularity::Hour => day + Duration::hours(i64::from(t.hour())),
        Granularity::Day => day,
        Granularity::Week => day - Duration::days(i64::from(t.weekday().num_days_from_monday())),
        Granularity::Month => day - Duration::days(i64::from(t.day0())),
    }
}

/// The bucket after the one starting at `t`.
pub fn next_bucket(t: DateTime<Utc>, g: Granularity) -> DateTime<Utc> {
    match g {
        Granularity::Hour => t + Duration::hours(1),
        Granularity::Day => t + Duration::days(1),
        Granularity::Week => t + Duration::days(7),
        Granularity::Month => t.checked_add_months(Months::new(1)).unwrap_or(t + Duration::days(31)),
    }
}

/// The window `[from, to)` a query covers: whole UTC buckets, ending with the bucket that holds
/// `now`, and starting with the bucket that holds `to - period`. Without a granularity the
/// buckets are hours. Whole buckets keep answers identical whichever table serves them.
pub fn window(
    period: Period,
    granularity: Option<Granularity>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let g = granularity.unwrap_or(Granularity::Hour);
    let to = next_bucket(truncate(now, g), g);
    let from = truncate(to - Duration::hours(period.hours()), g);
    (from, to)
}

/// Every bucket start in `[from, to)`.
pub fn buckets(from: DateTime<Utc>, to: DateTime<Utc>, g: Granularity) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        out.push(t);
        t = next_bucket(t, g);
    }
    out
}

/// Orders, ranks, zero-fills and wraps a store answer.
pub fn shape(
    request: &QueryRequest,
    spec: &QuerySpec,
    answer: StoreAnswer,
    started: Instant,
) -> QueryResponse {
    let empty = if request.metric.zero_fills() { Some(0.0) } else { None };
    let grouped = request.group_by.is_some();
    // Rank groups by their largest contribution (the value for totals, the sum over buckets for
    // additive series, else the row count order the store gave).
    let mut totals: HashMap<Option<String>, f64> = HashMap::new();
    for row in &answer.rows {
        *totals.entry(row.group.clone()).or_default() += row.value.unwrap_or(0.0);
    }
    let mut groups: Vec<Option<String>> = totals.keys().cloned().collect();
    groups.sort_by(|a, b| {
        let (ta, tb) = (totals[a], totals[b]);
        tb.total_cmp(&ta).then_with(|| a.is_none().cmp(&b.is_none())).then_with(|| a.cmp(b))
    });
    let groups_truncated = groups.len() > MAX_GROUPS;
    groups.truncate(MAX_GROUPS);
    if !grouped {
        groups = vec![None];
    }
    let values: HashMap<(Option<i64>, Option<String>), Option<f64>> =
        answer.rows.into_iter().map(|r| ((r.bucket, r.group), r.value)).collect();
    let group_field = |g: &Option<String>| grouped.then(|| g.clone());
    let mut data = Vec::new();
    match request.granularity {
        None => {
            for g in &groups {
                let value = values.get(&(None, g.clone())).copied().flatten().or(empty);
                data.push(QueryRow { bucket: None, group: group_field(g), value });
            }
        }
        Some(gran) => {
            // A window cut by an embed session's date limit starts inside its first bucket; the
            // stores still key that bucket by its start.
            let first = if spec.from < spec.to { truncate(spec.from, gran) } else { spec.from };
            for b in buckets(first, spec.to, gran) {
                let micros = b.timestamp_micros();
                for g in &groups {
                    let value = values.get(&(Some(micros), g.clone())).copied().flatten().or(empty);
                    data.push(QueryRow { bucket: Some(bucket(b)), group: group_field(g), value });
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    QueryResponse {
        data,
        meta: QueryMeta {
            query_time_ms: (elapsed * 1000.0).round() / 1000.0,
            rows_scanned: answer.rows_scanned,
            event_name: request.event_name.clone(),
            metric: request.metric,
            period: request.period,
            source_table: answer.source_table,
            planned_by: answer.planned_by.to_owned(),
            rollup_granularity: answer.rollup_granularity.map(str::to_owned),
            granularity: request.granularity,
            group_by: request.group_by.clone(),
            from: bucket(spec.from),
            to: bucket(spec.to),
            groups_truncated,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn windows_are_whole_buckets() {
        let now = at("2026-11-21T05:30:00Z");
        assert_eq!(
            window(Period::D7, Some(Granularity::Day), now),
            (at("2026-11-15T00:00:00Z"), at("2026-11-22T00:00:00Z"))
        );
        assert_eq!(
            window(Period::H24, Some(Granularity::Hour), now),
            (at("2026-11-20T06:00:00Z"), at("2026-11-21T06:00:00Z"))
        );
        assert_eq!(window(Period::H24, None, now), (at("2026-11-20T06:00:00Z"), at("2026-11-21T06:00:00Z")));
        // 2026-11-21 is a Saturday; weeks start on Monday.
        let (from, to) = window(Period::D30, Some(Granularity::Week), now);
        assert_eq!(to, at("2026-11-23T00:00:00Z"));
        assert_eq!(from, at("2026-10-19T00:00:00Z"));
        assert_eq!(buckets(from, to, Granularity::Week).len(), 5);
        let (from, to) = window(Period::D90, Some(Granularity::Month), now);
        assert_eq!((from, to), (at("2026-09-01T00:00:00Z"), at("2026-12-01T00:00:00Z")));
        assert_eq!(buckets(from, to, Granularity::Month).len(), 3);
    }

    #[test]
    fn parse_names_the_bad_parameter() {
        let ok = QueryRequest::parse("event_name=api.call&tenant_id=t&metric=count&period=7d&f_model=gpt-4")
            .expect("ok");
        assert_eq!(ok.filters.get("model").map(String::as_str), Some("gpt-4"));
        for (query, field) in [
            ("tenant_id=t&metric=count&period=7d", "event_name"),
            ("event_name=e&tenant_id=t&metric=nope&period=7d", "metric"),
            ("event_name=e&tenant_id=t&metric=count&period=2d", "period"),
            ("event_name=e&tenant_id=t&metric=sum&period=7d", "numeric_prop"),
            ("event_name=e&tenant_id=t&metric=count&period=7d&granularity=minute", "granularity"),
            ("event_name=e&tenant_id=t&metric=count&period=7d&colour=red", "colour"),
            ("event_name=e&tenant_id=t&metric=count&period=7d&f_=x", "f_"),
        ] {
            let err = QueryRequest::parse(query).expect_err(query).to_string();
            assert!(err.starts_with(field), "{query}: {err}");
        }
    }
}
