//! The filter ranges a viewer sets and a session may lock: shared by the `setFilters` message
//! and by embed permissions, so neither module depends on the other.

use serde::{Deserialize, Serialize, Serializer};

/// An inclusive numeric range; either end may be open.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NumericRange {
    /// Lower bound (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "whole_as_integer")]
    pub min: Option<f64>,
    /// Upper bound (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "whole_as_integer")]
    pub max: Option<f64>,
}

/// Writes `1` rather than `1.0`, so a range a host sent comes back in `filter` as it was written.
fn whole_as_integer<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        Some(v) if v.fract() == 0.0 && v.abs() < EXACT => s.serialize_i64(*v as i64),
        Some(v) => s.serialize_f64(*v),
        None => s.serialize_none(),
    }
}

/// A range of days, `YYYY-MM-DD`, inclusive; either end may be open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// First day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Last day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}
