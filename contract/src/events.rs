//! `POST /v1/events`: the ingest request and response.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Longest tenant id, in characters.
pub const MAX_TENANT_ID_CHARS: usize = 200;

/// The one rule for a tenant id, shared by ingest, embed minting and every query that names a
/// tenant (and the SDKs), so no tenant can hold events that no session could ever be minted for,
/// or the other way round: 1 to 200 characters, not only whitespace, no control characters. The
/// error is the message that follows the field name.
pub fn check_tenant_id(tenant_id: &str) -> Result<(), String> {
    if tenant_id.trim().is_empty()
        || tenant_id.chars().count() > MAX_TENANT_ID_CHARS
        || tenant_id.chars().any(char::is_control)
    {
        return Err(format!(
            "must be 1 to {MAX_TENANT_ID_CHARS} characters, not only whitespace, without control characters"
        ));
    }
    Ok(())
}

/// The body of `POST /v1/events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// Between 1 and 10,000 events; the batch is stored atomically.
    pub events: Vec<IngestEvent>,
}

/// One product event as a customer's backend sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestEvent {
    /// The customer's customer this event belongs to; dashboards are scoped to it.
    pub tenant_id: String,
    /// What happened, e.g. `api.call`.
    pub event_name: String,
    /// ISO 8601; the server's time when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Idempotency key: an id already stored for the org and environment is not stored again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The end user who caused the event; `count_unique` counts these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Dimensions to group and filter by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_props: Option<HashMap<String, String>>,
    /// Measures to aggregate (`sum`, `avg`, `p95`, `p99`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numeric_props: Option<HashMap<String, f64>>,
}

/// The 200 answer to `POST /v1/events`, sent once the batch is durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Events newly stored by this request.
    pub accepted: usize,
    /// Always `"ok"`.
    pub status: String,
    /// Events skipped because their `event_id` was already stored (or repeated in the batch).
    #[serde(default)]
    pub duplicates: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        for ok in ["acme", " padded ", "ü", &"x".repeat(200)] {
            assert!(check_tenant_id(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", " ", "\t", "tab\there", "nul\u{0}", &"x".repeat(201)] {
            assert!(check_tenant_id(bad).is_err(), "{bad:?}");
        }
    }
}
