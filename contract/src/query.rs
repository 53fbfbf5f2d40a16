//! `GET /v1/query`: metrics, periods, granularities and the response shape.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses the wire spelling.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// What to compute over the matching events.
    Metric {
        /// Number of events.
        Count = "count",
        /// Exact number of distinct `user_id`s.
        CountUnique = "count_unique",
        /// Distinct `user_id`s within 2%: HyperLogLog where the engine's sketch is that accurate,
        /// else exact.
        CountUniqueApprox = "count_unique_approx",
        /// Sum of a numeric prop.
        Sum = "sum",
        /// Mean of a numeric prop.
        Avg = "avg",
        /// 95th percentile of a numeric prop.
        P95 = "p95",
        /// 99th percentile of a numeric prop.
        P99 = "p99",
    }
}

impl Metric {
    /// Whether the metric aggregates a numeric prop (and so needs `numeric_prop`).
    pub fn needs_numeric_prop(self) -> bool {
        matches!(self, Metric::Sum | Metric::Avg | Metric::P95 | Metric::P99)
    }

    /// Whether an empty bucket is a zero (counts and sums) rather than no value (`null`).
    pub fn zero_fills(self) -> bool {
        matches!(self, Metric::Count | Metric::CountUnique | Metric::CountUniqueApprox | Metric::Sum)
    }
}

wire_enum! {
    /// The window a query covers, ending now.
    Period {
        /// One hour.
        H1 = "1h",
        /// 24 hours.
        H24 = "24h",
        /// Seven days.
        D7 = "7d",
        /// 30 days.
        D30 = "30d",
        /// 90 days.
        D90 = "90d",
    }
}

impl Period {
    /// The period's length in hours.
    pub fn hours(self) -> i64 {
        match self {
            Period::H1 => 1,
            Period::H24 => 24,
            Period::D7 => 7 * 24,
            Period::D30 => 30 * 24,
            Period::D90 => 90 * 24,
        }
    }
}

wire_enum! {
    /// The width of a time-series bucket (UTC).
    Granularity {
        /// Hours.
        Hour = "hour",
        /// UTC days.
        Day = "day",
        /// ISO weeks, starting Monday.
        Week = "week",
        /// Calendar months.
        Month = "month",
    }
}

/// One row of a query answer. Which fields are present depends on the query:
/// `bucket` with a `granularity`, `group` with a `group_by`, `value` always.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRow {
    /// Start of the UTC bucket, RFC 3339 (`2026-11-20T00:00:00Z`); only with `granularity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The `group_by` prop's value; `null` for events without that prop. Only with `group_by`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Option<String>>,
    /// The metric; `null` where a non-additive metric has no events. Whole numbers are written
    /// without a fraction (`42`, not `42.0`).
    #[serde(serialize_with = "whole_as_integer")]
    pub value: Option<f64>,
}

pub(crate) fn whole_as_integer<S: serde::Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: beyond it f64 no longer holds every integer
    match value {
        Some(v) if v.fract() == 0.0 && v.abs() < EXACT => s.serialize_i64(*v as i64),
        Some(v) => s.serialize_f64(*v),
        None => s.serialize_none(),
    }
}

/// Facts about how a query ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryMeta {
    /// Server-side time to plan and run the query, in milliseconds.
    pub query_time_ms: f64,
    /// Rows the store read to answer (raw events, or rollup rows).
    pub rows_scanned: u64,
    /// The queried event name.
    pub event_name: String,
    /// The metric computed.
    pub metric: Metric,
    /// The period covered.
    pub period: Period,
    /// The table that answered: `events` or a rollup.
    pub source_table: String,
    /// `raw`, `hourly_rollup` or `daily_rollup`.
    pub planned_by: String,
    /// Present when a rollup answered: `hour` or `day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollup_granularity: Option<String>,
    /// The bucket width, when the query asked for a time series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
    /// The `group_by` prop, when grouped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<String>,
    /// Start of the covered window (inclusive, UTC).
    pub from: String,
    /// End of the covered window (exclusive, UTC).
    pub to: String,
    /// True when more groups matched than the response carries (see `docs/api.md`).
    #[serde(default)]
    pub groups_truncated: bool,
}

/// The 200 answer to `GET /v1/query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResponse {
    /// The rows, ordered by bucket, then by group.
    pub data: Vec<QueryRow>,
    /// How the query ran.
    pub meta: QueryMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.as_str()), Some(*m));
            let json = serde_json::to_string(m).expect("serialize");
            assert_eq!(json, format!("\"{}\"", m.as_str()));
        }
        for p in Period::ALL {
            assert_eq!(Period::parse(p.as_str()), Some(*p));
        }
        for g in Granularity::ALL {
            assert_eq!(Granularity::parse(g.as_str()), Some(*g));
        }
        assert_eq!(Period::parse("2d"), None);
    }

    #[test]
    fn row_omits_absent_fields_but_keeps_null_group() {
        let row = QueryRow { bucket: None, group: Some(None), value: Some(3.0) };
        assert_eq!(serde_json::to_string(&row).expect("serialize"), r#"{"group":null,"value":3}"#);
    }
}
