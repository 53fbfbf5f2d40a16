//! Paddle Billing: its settings, the `Paddle-Signature` check, what each webhook event means
//! for an org, and the one API call the server makes (a customer portal session).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

use crate::{billing::plans::PlanId, error::AppError, secrets::Secret};

/// Default tolerance of a webhook's `ts`, in seconds (5 minutes).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Largest webhook body, in bytes (1 MiB).
pub const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

/// Paddle's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `sandbox-api.paddle.com`, test cards.
    Sandbox,
    /// `api.paddle.com`, real money.
    Production,
}

impl Environment {
    /// Paddle's API base URL for this environment.
    pub fn api_url(self) -> &'static str {
        match self {
            Environment::Sandbox => "https://sandbox-api.paddle.com",
            Environment::Production => "https://api.paddle.com",
        }
    }
}

/// Paddle settings (`--paddle-*`); each part may be missing, and what needs it answers 503.
#[derive(Debug, Clone)]
pub struct PaddleConfig {
    /// Server-side API key (`PADDLE_API_KEY`): the portal call.
    pub api_key: Option<Secret>,
    /// Client-side token for Paddle.js (`PADDLE_CLIENT_TOKEN`): checkout.
    pub client_token: Option<String>,
    /// The notification destination's secret key (`PADDLE_NOTIFICATION_KEY`): webhooks.
    pub notification_key: Option<Secret>,
    /// Sandbox or production.
    pub environment: Environment,
    /// Price id of each paid plan (`pri_...`).
    pub prices: Vec<(PlanId, String)>,
    /// API base URL, without a trailing slash.
    pub api_url: String,
    /// Accepted age (and skew) of a webhook's `ts`, in seconds.
    pub tolerance_secs: u64,
}

impl PaddleConfig {
    /// Whether any Paddle setting is given (then billing is on).
    pub fn any(&self) -> bool {
        self.api_key.is_some() || self.client_token.is_some() || self.notification_key.is_some()
    }

    /// The plan a price id buys.
    pub fn plan_for_price(&self, price_id: &str) -> Option<PlanId> {
        self.prices.iter().find(|(_, p)| p == price_id).map(|(plan, _)| *plan)
    }
}

/// The 503 of a missing Paddle setting.
pub fn not_configured(what: &str) -> AppError {
    AppError::Unavailable {
        code: "paddle_not_configured",
        message: format!("Paddle billing is not configured on this server ({what} is not set)"),
    }
}

/// Checks `Paddle-Signature` (`ts=...;h1=...`, one or more `h1`) against HMAC-SHA256 of
/// `ts:body` under `key`, in constant time, and that `ts` is within `tolerance_secs` of `now`.
pub fn verify_signature(
    header: Option<&str>,
    body: &[u8],
    key: &Secret,
    now: DateTime<Utc>,
    tolerance_secs: u64,
) -> Result<(), AppError> {
    let header = header.ok_or_else(|| AppError::Unauthorized("missing Paddle-Signature header".into()))?;
    let mut ts = None;
    let mut signatures = Vec::new();
    for part in header.split(';') {
        match part.trim().split_once('=') {
            Some(("ts", value)) => ts = Some(value),
            Some(("h1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let malformed =
        || AppError::Unauthorized("malformed Paddle-Signature header: expected ts=...;h1=...".into());
    let ts_text = ts.ok_or_else(malformed)?;
    let ts: i64 = ts_text.parse().map_err(|_| malformed())?;
    if signatures.is_empty() {
        return Err(malformed());
    }
    let age = now.timestamp().saturating_sub(ts).unsigned_abs();
    if age > tolerance_secs {
        return Err(AppError::Unauthorized(format!(
            "stale Paddle-Signature timestamp: {age} s from the server's clock (tolerance {tolerance_secs} s)"
        )));
    }
    for signature in signatures {
        let Ok(expected) = hex::decode(signature) else { continue };
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("HMAC key: {e}")))?;
        mac.update(ts_text.as_bytes());
        mac.update(b":");
        mac.update(body);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(AppError::Unauthorized("Paddle-Signature does not match the body".into()))
}

/// The parts of a Paddle event the server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// `evt_...`.
    pub event_id: String,
    /// E.g. `subscription.updated`.
    pub event_type: String,
    /// As sent.
    pub occurred_at: String,
    /// `occurred_at` in microseconds since the epoch.
    pub occurred_us: i64,
    /// What it says about an org.
    pub meaning: Meaning,
}

/// What an event means for billing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    /// A subscription's current state.
    Subscription {
        /// `sub_...`.
        subscription_id: String,
        /// Paddle's status.
        status: String,
        /// The plan its prices buy, if one of them is configured.
        plan: Option<PlanId>,
        /// Its customer.
        customer_id: Option<String>,
        /// `custom_data.org_id`, if given at checkout.
        org_id: Option<i64>,
    },
    /// A customer or transaction event: links a customer to an org.
    Customer {
        /// `ctm_...`.
        customer_id: Option<String>,
        /// `custom_data.org_id`, if given at checkout.
        org_id: Option<i64>,
    },
    /// A type the server does not act on.
    Ignored,
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn org_id_in(data: &Value) -> Option<i64> {
    match data.get("custom_data")?.get("org_id")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Parses a verified webhook body; 400 naming what is missing.
pub fn parse_notification(body: &[u8], config: &PaddleConfig) -> Result<Notification, AppError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| AppError::invalid(format!("malformed JSON in the webhook body: {e}")))?;
    let field = |key: &str| {
        text(&value, key).ok_or_else(|| AppError::invalid(format!("{key}: missing from the Paddle event")))
    };
    let event_id = field("event_id")?;
    let event_type = field("event_type")?;
    let occurred_at = field("occurred_at")?;
    let occurred_us = DateTime::parse_from_rfc3339(&occurred_at)
        .map_err(|_| AppError::invalid(format!("occurred_at: not an RFC 3339 time ({occurred_at:?})")))?
        .with_timezone(&Utc)
        .timestamp_micros();
    let data = value.get("data").cloned().unwrap_or(Value::Null);
    let meaning = match event_type.as_str() {
        "subscription.created"
        | "subscription.updated"
        | "subscription.activated"
        | "subscription.trialing"
        | "subscription.past_due"
        | "subscription.paused"
        | "subscription.resumed"
        | "subscription.canceled" => {
            let subscription_id = text(&data, "id")
                .ok_or_else(|| AppError::invalid("data.id: missing from the subscription event"))?;
            let status = text(&data, "status")
                .ok_or_else(|| AppError::invalid("data.status: missing from the subscription event"))?;
            let plan = data
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|item| item.get("price").and_then(|p| p.get("id")).and_then(Value::as_str))
                .find_map(|price| config.plan_for_price(price));
            Meaning::Subscription {
                subscription_id,
                status,
                plan,
                customer_id: text(&data, "customer_id"),
                org_id: org_id_in(&data),
            }
        }
        "customer.created" | "customer.updated" => {
            Meaning::Customer { customer_id: text(&data, "id"), org_id: org_id_in(&data) }
        }
        "transaction.completed" | "transaction.paid" => {
            Meaning::Customer { customer_id: text(&data, "customer_id"), org_id: org_id_in(&data) }
        }
        _ => Meaning::Ignored,
    };
    Ok(Notification { event_id, event_type, occurred_at, occurred_us, meaning })
}

/// The plan a subscription in `status` grants: its price's plan while it is live (`active`,
/// `trialing`, `past_due`: Paddle is still collecting), `free` once `paused` or `canceled`.
pub fn plan_for_status(status: &str, priced: PlanId) -> PlanId {
    match status {
        "paused" | "canceled" => PlanId::Free,
        _ => priced,
    }
}

/// Asks Paddle for a customer portal session and returns its overview URL; 502 on any failure.
pub async fn portal_url(
    http: &reqwest::Client,
    config: &PaddleConfig,
    api_key: &Secret,
    customer_id: &str,
    subscription_id: Option<&str>,
) -> Result<String, AppError> {
    let url = format!("{}/customers/{}/portal-sessions", config.api_url, urlencode(customer_id));
    let body = match subscription_id {
        Some(id) => serde_json::json!({ "subscription_ids": [id] }),
        None => serde_json::json!({}),
    };
    let response = http
        .post(&url)
        .bearer_auth(api_key.expose())
        .json(&body)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "Paddle's API could not be reached");
            AppError::BadGateway("Paddle's API could not be reached; try again later".into())
        })?;
    let status = response.status();
    if !status.is_success() {
        tracing::warn!(%status, "Paddle refused a customer portal session");
        return Err(AppError::BadGateway(format!(
            "Paddle's API refused the customer portal session (HTTP {})",
            status.as_u16()
        )));
    }
    let value: Value = response
        .json()
        .await
        .map_err(|_| AppError::BadGateway("Paddle's API answered with a body that is not JSON".into()))?;
    value
        .pointer("/data/urls/general/overview")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| AppError::BadGateway("Paddle's API answered without a portal URL".into()))
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(key: &str, ts: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("key");
        mac.update(format!("{ts}:").as_bytes());
        mac.update(body);
        format!("ts={ts};h1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn signatures_are_checked_with_their_timestamp() {
        let key = Secret::new("pdl_ntfset_test");
        let now = Utc::now();
        let body = br#"{"event_id":"evt_1"}"#;
        let good = sign("pdl_ntfset_test", now.timestamp(), body);
        assert!(verify_signature(Some(&good), body, &key, now, 300).is_ok());
        assert!(verify_signature(Some(&good), b"{}", &key, now, 300).is_err(), "another body");
        assert!(verify_signature(Some(&sign("other", now.timestamp(), body)), body, &key, now, 300).is_err());
        let old = sign("pdl_ntfset_test", now.timestamp() - 301, body);
        assert!(verify_signature(Some(&old), body, &key, now, 300).is_err(), "stale");
        assert!(verify_signature(None, body, &key, now, 300).is_err());
        assert!(verify_signature(Some("h1=abc"), body, &key, now, 300).is_err());
        let rotated = format!("{good};h1=00ff");
        assert!(verify_signature(Some(&rotated), body, &key, now, 300).is_ok(), "any h1 may match");
    }
}
