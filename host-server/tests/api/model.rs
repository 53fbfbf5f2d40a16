//! The tests' own view of the data: a deterministic event generator, and the window, bucket,
//! grouping and metric rules of `docs/api.md` computed independently of the server.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Datelike, Duration, SecondsFormat, TimeZone, Timelike, Utc};
use serde_json::{Map, Value, json};

/// SplitMix64: tiny, deterministic, and plenty to spread test data.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// An index picked with the given integer weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.next_u64() % total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// One event as the tests send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Tenant.
    pub tenant_id: String,
    /// Name.
    pub event_name: String,
    /// Time; omitted from the JSON when `None` (the server then uses its clock).
    pub timestamp: Option<DateTime<Utc>>,
    /// Client event id.
    pub event_id: Option<String>,
    /// End user.
    pub user_id: Option<String>,
    /// String props.
    pub string_props: BTreeMap<String, String>,
    /// Numeric props.
    pub numeric_props: BTreeMap<String, f64>,
}

impl Event {
    /// An event at `ts`.
    pub fn new(tenant_id: &str, event_name: &str, ts: DateTime<Utc>) -> Event {
        Event {
            tenant_id: tenant_id.to_owned(),
            event_name: event_name.to_owned(),
            timestamp: Some(whole_millis(ts)),
            event_id: None,
            user_id: None,
            string_props: BTreeMap::new(),
            numeric_props: BTreeMap::new(),
        }
    }

    /// With a user.
    pub fn user(mut self, user_id: &str) -> Event {
        self.user_id = Some(user_id.to_owned());
        self
    }

    /// With a client event id.
    pub fn id(mut self, event_id: &str) -> Event {
        self.event_id = Some(event_id.to_owned());
        self
    }

    /// With a string prop.
    pub fn s(mut self, key: &str, value: &str) -> Event {
        self.string_props.insert(key.to_owned(), value.to_owned());
        self
    }

    /// With a numeric prop.
    pub fn n(mut self, key: &str, value: f64) -> Event {
        self.numeric_props.insert(key.to_owned(), value);
        self
    }

    /// The event's JSON, shaped like the reference's ingest example.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("tenant_id".into(), json!(self.tenant_id));
        o.insert("event_name".into(), json!(self.event_name));
        if let Some(ts) = self.timestamp {
            o.insert("timestamp".into(), json!(iso(ts)));
        }
        if let Some(id) = &self.event_id {
            o.insert("event_id".into(), json!(id));
        }
        if let Some(user) = &self.user_id {
            o.insert("user_id".into(), json!(user));
        }
        if !self.string_props.is_empty() {
            o.insert("string_props".into(), json!(self.string_props));
        }
        if !self.numeric_props.is_empty() {
            o.insert("numeric_props".into(), json!(self.numeric_props));
        }
        Value::Object(o)
    }
}

/// `{"events": [...]}`.
pub fn batch(events: &[Event]) -> Value {
    json!({ "events": events.iter().map(Event::to_json).collect::<Vec<_>>() })
}

/// JavaScript's `Date.prototype.toISOString()` format: `2026-11-21T05:30:00.123Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `t` truncated to whole milliseconds (what the JSON carries).
pub fn whole_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("in range")
}

/// Models of the generated `api.call` events, with uneven weights so groups rarely tie.
pub const MODELS: [&str; 4] = ["gpt-4", "gpt-4o-mini", "claude-3", "llama-3"];
const MODEL_WEIGHTS: [u64; 4] = [50, 25, 15, 10];
/// Regions (a prop the server does not materialize); 15% of events have none.
pub const REGIONS: [&str; 3] = ["eu", "us", "apac"];
const REGION_WEIGHTS: [u64; 3] = [45, 35, 20];
const ENDPOINTS: [&str; 3] = ["/chat", "/completions", "/embeddings"];

/// `n` `api.call` events for `tenant_id`, spread over the past 100 days (denser near `now`),
/// with a few up to 23 hours in the future (ingest refuses more than a day ahead). Every event carries `tokens` (materialized) and
/// `score` (not materialized); whole and quarter values keep sums exact in binary.
pub fn api_calls(rng: &mut Rng, tenant_id: &str, n: usize, now: DateTime<Utc>) -> Vec<Event> {
    (0..n)
        .map(|_| {
            let seconds_ago = match rng.weighted(&[30, 30, 34, 6]) {
                0 => rng.range(1, 2 * 3600),
                1 => rng.range(1, 8 * 86_400),
                2 => rng.range(1, 100 * 86_400),
                _ => -rng.range(60, 23 * 3600),
            };
            let ts = now - Duration::seconds(seconds_ago) - Duration::milliseconds(rng.range(0, 1000));
            let mut event = Event::new(tenant_id, "api.call", ts)
                .s("model", MODELS[rng.weighted(&MODEL_WEIGHTS)])
                .s("endpoint", ENDPOINTS[rng.weighted(&[1, 1, 1])])
                .n("tokens", rng.range(1, 5000) as f64)
                .n("score", rng.range(0, 400) as f64 * 0.25);
            if rng.chance(85) {
                event = event.s("region", REGIONS[rng.weighted(&REGION_WEIGHTS)]);
            }
            if rng.chance(90) {
                event = event.user(&format!("user_{}", rng.range(0, 300)));
            }
            event
        })
        .collect()
}

/// A bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gran {
    /// Hours.
    Hour,
    /// UTC days.
    Day,
    /// Weeks starting Monday.
    Week,
    /// Calendar months.
    Month,
}

impl Gran {
    /// Parses the wire spelling.
    pub fn parse(s: &str) -> Gran {
        match s {
            "hour" => Gran::Hour,
            "day" => Gran::Day,
            "week" => Gran::Week,
            "month" => Gran::Month,
            other => panic!("not a granularity: {other}"),
        }
    }

    /// Start of the bucket holding `t`.
    pub fn start(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let midnight = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single().expect("valid date");
        match self {
            Gran::Hour => midnight(t.year(), t.month(), t.day()) + Duration::hours(i64::from(t.hour())),
            Gran::Day => midnight(t.year(), t.month(), t.day()),
            Gran::Week => {
                midnight(t.year(), t.month(), t.day())
                    - Duration::days(i64::from(t.weekday().num_days_from_monday()))
            }
            Gran::Month => midnight(t.year(), t.month(), 1),
        }
    }

    /// Start of the bucket after the one starting at `t`.
    pub fn next(self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Gran::Hour => t + Duration::hours(1),
            Gran::Day => t + Duration::days(1),
            Gran::Week => t + Duration::days(7),
            Gran::Month => {
                let (y, m) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
                Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().expect("valid date")
            }
        }
    }
}

/// A period's length.
pub fn period_length(period: &str) -> Duration {
    match period {
        "1h" => Duration::hours(1),
        "24h" => Duration::hours(24),
        "7d" => Duration::days(7),
        "30d" => Duration::days(30),
        "90d" => Duration::days(90),
        other => panic!("not a period: {other}"),
    }
}

/// The documented window: whole UTC buckets (hours without a granularity), ending with the
/// bucket holding `now` and starting with the bucket holding `end - period`.
pub fn window(period: &str, granularity: Option<Gran>, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let g = granularity.unwrap_or(Gran::Hour);
    let end = g.next(g.start(now));
    (g.start(end - period_length(period)), end)
}

/// Every bucket start in `[from, to)`.
pub fn buckets(from: DateTime<Utc>, to: DateTime<Utc>, g: Gran) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        out.push(t);
        t = g.next(t);
    }
    out
}

/// How the API writes bucket and window times.
pub fn label(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Continuous quantile with linear interpolation between the closest ranks (numpy's default,
/// `numpy.quantile(values, q)`).
pub fn quantile_cont(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Whether an empty bucket of `metric` is `0` (else `null`).
pub fn zero_fills(metric: &str) -> bool {
    matches!(metric, "count" | "count_unique" | "count_unique_approx" | "sum")
}

/// `metric` over a set of events (exact, also for `count_unique_approx`).
pub fn metric_value(metric: &str, events: &[&Event], numeric_prop: Option<&str>) -> Option<f64> {
    match metric {
        "count" => Some(events.len() as f64),
        "count_unique" | "count_unique_approx" => {
            Some(events.iter().filter_map(|e| e.user_id.as_deref()).collect::<HashSet<_>>().len() as f64)
        }
        numeric => {
            let prop = numeric_prop.expect("numeric metrics need a prop");
            let values: Vec<f64> = events.iter().filter_map(|e| e.numeric_props.get(prop).copied()).collect();
            match numeric {
                // `+ 0.0`: an empty `f64` sum is -0.0.
                "sum" => Some(values.iter().sum::<f64>() + 0.0),
                "avg" if values.is_empty() => None,
                "avg" => Some(values.iter().sum::<f64>() / values.len() as f64),
                "p95" => quantile_cont(&values, 0.95),
                "p99" => quantile_cont(&values, 0.99),
                other => panic!("not a metric: {other}"),
            }
        }
    }
}

/// A `GET /v1/query` request.
#[derive(Debug, Clone)]
pub struct Query {
    /// Tenant.
    pub tenant_id: String,
    /// Event name.
    pub event_name: String,
    /// Metric.
    pub metric: String,
    /// Period.
    pub period: String,
    /// Granularity.
    pub granularity: Option<String>,
    /// Group-by prop.
    pub group_by: Option<String>,
    /// Numeric prop.
    pub numeric_prop: Option<String>,
    /// `f_` filters.
    pub filters: Vec<(String, String)>,
}

impl Query {
    /// A query without granularity, grouping or filters.
    pub fn new(tenant_id: &str, event_name: &str, metric: &str, period: &str) -> Query {
        Query {
            tenant_id: tenant_id.to_owned(),
            event_name: event_name.to_owned(),
            metric: metric.to_owned(),
            period: period.to_owned(),
            granularity: None,
            group_by: None,
            numeric_prop: None,
            filters: Vec::new(),
        }
    }

    /// With a granularity.
    pub fn granularity(mut self, g: Option<&str>) -> Query {
        self.granularity = g.map(str::to_owned);
        self
    }

    /// Grouped by a prop.
    pub fn group_by(mut self, prop: &str) -> Query {
        self.group_by = Some(prop.to_owned());
        self
    }

    /// Over a numeric prop.
    pub fn numeric_prop(mut self, prop: Option<&str>) -> Query {
        self.numeric_prop = prop.map(str::to_owned);
        self
    }

    /// With an `f_<key>=value` filter.
    pub fn filter(mut self, key: &str, value: &str) -> Query {
        self.filters.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The query string's pairs.
    pub fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("event_name".to_owned(), self.event_name.clone()),
            ("tenant_id".to_owned(), self.tenant_id.clone()),
            ("metric".to_owned(), self.metric.clone()),
            ("period".to_owned(), self.period.clone()),
        ];
        let optional = [
            ("granularity", &self.granularity),
            ("group_by", &self.group_by),
            ("numeric_prop", &self.numeric_prop),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                p.push((name.to_owned(), v.clone()));
            }
        }
        p.extend(self.filters.iter().map(|(k, v)| (format!("f_{k}"), v.clone())));
        p
    }
}

/// A (bucket, group) cell of an answer; `None` where the query has no granularity or grouping
/// (and the `null` group).
pub type Cell = (Option<DateTime<Utc>>, Option<String>);

/// The answer a query must give over `[from, to)`.
#[derive(Debug)]
pub struct Expected {
    /// Events aggregated.
    pub rows_scanned: u64,
    /// Bucket starts, with a granularity.
    pub buckets: Option<Vec<DateTime<Utc>>>,
    /// Groups that have events in the window, with `group_by` (`None` is the `null` group).
    pub groups: Option<BTreeSet<Option<String>>>,
    /// Value per (bucket, group) cell; cells without events are absent.
    pub cells: BTreeMap<Cell, Option<f64>>,
}

impl Expected {
    /// The value of a cell, zero-filled or `null` when it has no events.
    pub fn value(&self, metric: &str, bucket: Option<DateTime<Utc>>, group: &Option<String>) -> Option<f64> {
        match self.cells.get(&(bucket, group.clone())) {
            Some(v) => *v,
            None if zero_fills(metric) => Some(0.0),
            None => None,
        }
    }
}

/// Computes a query's answer from the events the test sent.
pub fn expected(events: &[Event], q: &Query, from: DateTime<Utc>, to: DateTime<Utc>) -> Expected {
    let gran = q.granularity.as_deref().map(Gran::parse);
    let matching: Vec<&Event> = events
        .iter()
        .filter(|e| e.tenant_id == q.tenant_id && e.event_name == q.event_name)
        .filter(|e| e.timestamp.is_some_and(|t| from <= t && t < to))
        .filter(|e| q.filters.iter().all(|(k, v)| e.string_props.get(k) == Some(v)))
        .collect();
    let mut cells: BTreeMap<Cell, Vec<&Event>> = BTreeMap::new();
    for e in &matching {
        let bucket = gran.map(|g| g.start(e.timestamp.expect("timestamped")));
        let group = q.group_by.as_ref().and_then(|g| e.string_props.get(g).cloned());
        cells.entry((bucket, group)).or_default().push(e);
    }
    let groups = q.group_by.as_ref().map(|_| cells.keys().map(|(_, g)| g.clone()).collect());
    Expected {
        rows_scanned: matching.len() as u64,
        buckets: gran.map(|g| buckets(from, to, g)),
        groups,
        cells: cells
            .into_iter()
            .map(|(k, evs)| (k, metric_value(&q.metric, &evs, q.numeric_prop.as_deref())))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        let one_to_ten: Vec<f64> = (1..=10).map(f64::from).collect();
        // numpy.quantile(range(1, 11), [0.5, 0.95, 0.99]) == [5.5, 9.55, 9.91]
        assert_eq!(quantile_cont(&one_to_ten, 0.5), Some(5.5));
        assert!((quantile_cont(&one_to_ten, 0.95).expect("value") - 9.55).abs() < 1e-12);
        assert!((quantile_cont(&one_to_ten, 0.99).expect("value") - 9.91).abs() < 1e-12);
        assert_eq!(quantile_cont(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile_cont(&[], 0.95), None);
    }

    #[test]
    fn windows_follow_the_documented_rule() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc);
        // 2026-11-21 is a Saturday.
        let now = at("2026-11-21T05:30:00Z");
        assert_eq!(window("24h", None, now), (at("2026-11-20T06:00:00Z"), at("2026-11-21T06:00:00Z")));
        assert_eq!(
            window("7d", Some(Gran::Day), now),
            (at("2026-11-15T00:00:00Z"), at("2026-11-22T00:00:00Z"))
        );
        assert_eq!(
            window("30d", Some(Gran::Week), now),
            (at("2026-10-19T00:00:00Z"), at("2026-11-23T00:00:00Z"))
        );
        assert_eq!(
            window("90d", Some(Gran::Month), now),
            (at("2026-09-01T00:00:00Z"), at("2026-12-01T00:00:00Z"))
        );
        assert_eq!(Gran::Month.next(at("2026-12-01T00:00:00Z")), at("2027-01-01T00:00:00Z"));
        assert_eq!(Gran::Week.start(at("2026-11-23T23:59:59Z")), at("2026-11-23T00:00:00Z"));
    }
}
