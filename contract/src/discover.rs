//! `GET /v1/discover` and `POST /v1/discover/auto-create`: what the events hold, and a
//! dashboard built from it.

use serde::{Deserialize, Serialize};

/// One value of a string prop and how many events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleValue {
    /// The value.
    pub value: String,
    /// Events with this value.
    pub count: u64,
}

/// A string prop (a dimension) of an event type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveredStringProp {
    /// Prop key.
    pub key: String,
    /// Events that carry it.
    pub count: u64,
    /// Distinct values seen.
    pub distinct_values: u64,
    /// The most frequent values (at most 5), most frequent first.
    pub sample_values: Vec<SampleValue>,
}

/// A numeric prop (a measure) of an event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredNumericProp {
    /// Prop key.
    pub key: String,
    /// Events that carry it.
    pub count: u64,
    /// Smallest value seen.
    pub min: Option<f64>,
    /// Largest value seen.
    pub max: Option<f64>,
}

/// One event type and its props.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredEvent {
    /// Event name.
    pub event_name: String,
    /// Events stored with this name.
    pub count: u64,
    /// Distinct tenants that sent it.
    pub tenants: u64,
    /// Its string props, most common first.
    pub string_props: Vec<DiscoveredStringProp>,
    /// Its numeric props, most common first.
    pub numeric_props: Vec<DiscoveredNumericProp>,
}

/// The 200 answer to `GET /v1/discover`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoverResponse {
    /// Event types, most frequent first (at most 100).
    pub events: Vec<DiscoveredEvent>,
    /// How many event types were found.
    pub events_found: usize,
}

/// Body of `POST /v1/discover/auto-create` (may be empty or absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoCreateRequest {
    /// Name of the new dashboard; `Auto-generated Dashboard` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The 201 answer to `POST /v1/discover/auto-create`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoCreateResponse {
    /// The new dashboard (a draft; publish it to embed it).
    pub dashboard_id: String,
    /// Its name.
    pub name: String,
    /// How many widgets it got.
    pub widgets: usize,
    /// How many event types it was built from.
    pub events_found: usize,
}
