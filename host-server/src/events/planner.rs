//! The query planner both events stores share: a query goes to an hourly or daily rollup only
//! when the rollup's answer is provably the same as raw events' (every filter and the group_by
//! are rollup dimensions, the window is whole rollup buckets, each query bucket is a union of
//! rollup buckets, and the metric merges exactly on that store); everything else reads raw events.

use contract::query::{Granularity, Metric};

use super::{MATERIALIZED_STRING_PROPS, NumericRangeFilter, QuerySpec};

/// The rollup tables, finest first: (table, granularity, `planned_by`).
pub const ROLLUPS: &[(&str, &str, &str)] =
    &[("events_hourly", "hour", "hourly_rollup"), ("events_daily", "day", "daily_rollup")];

/// The route a query takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Raw events.
    Raw,
    /// A rollup: index into [`ROLLUPS`].
    Rollup(usize),
}

impl Plan {
    /// `(source_table, planned_by, rollup_granularity)` for the query's `meta`.
    pub fn meta(self) -> (&'static str, &'static str, Option<&'static str>) {
        match self {
            Plan::Rollup(i) => match ROLLUPS.get(i) {
                Some((table, granularity, planned_by)) => (table, planned_by, Some(granularity)),
                None => ("events", "raw", None),
            },
            Plan::Raw => ("events", "raw", None),
        }
    }
}

/// Which rollups a store keeps, and what they answer besides `count`.
#[derive(Debug, Clone, Copy)]
pub struct RollupMetrics {
    /// Whether the hourly rollup exists (the daily one always does).
    pub hourly: bool,
    /// `count_unique_approx` by merging HyperLogLog states (any union of buckets).
    pub approx_unique: bool,
    /// Exact `count_unique` from exact sets (only when query buckets are rollup buckets).
    pub exact_unique: bool,
}

fn aligned(t: chrono::DateTime<chrono::Utc>, secs: i64) -> bool {
    t.timestamp().rem_euclid(secs) == 0
}

/// Picks the table for a query on a store whose rollups answer `metrics`.
pub fn plan(spec: &QuerySpec, ranges: &[NumericRangeFilter], metrics: RollupMetrics) -> Plan {
    let dims_ok = spec.filters.iter().all(|(k, _)| MATERIALIZED_STRING_PROPS.contains(&k.as_str()))
        && spec.group_by.as_deref().is_none_or(|g| MATERIALIZED_STRING_PROPS.contains(&g))
        && ranges.is_empty();
    if !dims_ok {
        return Plan::Raw;
    }
    let day_window = aligned(spec.from, 86_400) && aligned(spec.to, 86_400);
    let hour_window = aligned(spec.from, 3_600) && aligned(spec.to, 3_600);
    let union_of_buckets = match spec.granularity {
        Some(Granularity::Hour) if hour_window => Plan::Rollup(0),
        Some(Granularity::Day | Granularity::Week | Granularity::Month) if day_window => Plan::Rollup(1),
        None if day_window => Plan::Rollup(1),
        None if hour_window => Plan::Rollup(0),
        _ => Plan::Raw,
    };
    let route = match spec.metric {
        Metric::Count => union_of_buckets,
        Metric::CountUniqueApprox if metrics.approx_unique => union_of_buckets,
        Metric::CountUnique if metrics.exact_unique => match spec.granularity {
            Some(Granularity::Hour) if hour_window => Plan::Rollup(0),
            Some(Granularity::Day) if day_window => Plan::Rollup(1),
            _ => Plan::Raw,
        },
        _ => Plan::Raw,
    };
    match route {
        Plan::Rollup(0) if !metrics.hourly => Plan::Raw,
        other => other,
    }
}

/// The rollup dimensions with the bit of the rollup's `nulls` column that marks each as absent
/// (rollup keys cannot be NULL, so an absent prop is stored as `''` with its bit set).
pub fn null_bits() -> impl Iterator<Item = (&'static str, u8)> {
    MATERIALIZED_STRING_PROPS.iter().enumerate().map(|(i, k)| (*k, 1u8 << i))
}

/// The `nulls` bit of dimension `key` (see [`null_bits`]).
pub fn null_bit(key: &str) -> Option<u8> {
    null_bits().find(|(k, _)| *k == key).map(|(_, bit)| bit)
}
