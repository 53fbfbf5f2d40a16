//! The webhook outbox of alerts and reports: messages are queued in the metadata store with
//! their exact body, then delivered by the scheduler's ticks with retries (exponential backoff
//! with jitter on a configurable schedule, `Retry-After` honoured), until a 2xx, a 410 (which
//! disables the target), a refused URL, or the last attempt. Every attempt is logged for
//! `GET /v1/webhooks`. Also the orgs' signing secrets: created on first use, rotated with a
//! grace period in which both sign.

pub mod fields;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::{
    delivery::webhook::{WebhookSender, new_secret},
    error::Result,
    meta::webhooks::{WebhookAttempt, WebhookDelivery, WebhookStore},
    time::timestamp,
};

/// How long a rotated-out secret keeps signing.
pub const SECRET_GRACE: chrono::Duration = chrono::Duration::hours(24);
/// Messages one tick delivers at most.
const BATCH: u32 = 20;

/// How webhooks are sent and retried.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    /// The signed sender behind the SSRF guard.
    pub sender: WebhookSender,
    /// Delays between attempts (attempts = delays + 1).
    pub retry_delays: Vec<Duration>,
}

/// Parses a retry schedule: comma-separated delays such as `30s,5m,1h,1d`.
pub fn parse_schedule(text: &str) -> std::result::Result<Vec<Duration>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (number, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit()).unwrap_or(part.len()));
        let n: u64 = number.parse().map_err(|_| format!("{part:?} is not a delay like 30s, 5m, 1h or 1d"))?;
        let secs = match unit {
            "s" | "" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return Err(format!("{part:?} is not a delay like 30s, 5m, 1h or 1d")),
        };
        out.push(Duration::from_secs(secs));
    }
    if out.len() > 20 {
        return Err("at most 20 retries".to_owned());
    }
    Ok(out)
}

/// The delay before retry `n` (1-based): the schedule's, ±10% jitter, and at least the
/// target's `Retry-After` (capped at a day).
pub fn retry_delay(delays: &[Duration], n: usize, retry_after: Option<Duration>) -> Option<Duration> {
    let base = *delays.get(n.checked_sub(1)?)?;
    let jitter = 0.9 + rand::random::<f64>() * 0.2;
    let delay = base.mul_f64(jitter);
    let floor = retry_after.unwrap_or_default().min(Duration::from_secs(86_400));
    Some(delay.max(floor))
}

/// The org's valid signing secrets, newest first; one is created when it has none.
pub async fn signing_secrets(
    store: &dyn WebhookStore,
    org_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let secrets = store.signing_secrets(org_id, now).await?;
    if !secrets.is_empty() {
        return Ok(secrets);
    }
    store.add_signing_secret(org_id, &new_secret(), now, now).await?;
    store.signing_secrets(org_id, now).await
}

/// A new signing secret for the org (returned once); the old ones keep signing for
/// [`SECRET_GRACE`].
pub async fn rotate_secret(store: &dyn WebhookStore, org_id: i64, now: DateTime<Utc>) -> Result<String> {
    let secret = new_secret();
    store.add_signing_secret(org_id, &secret, now, now + SECRET_GRACE).await?;
    Ok(secret)
}

/// The body of a message: `{"type", "timestamp", "data"}`.
pub fn envelope(event_type: &str, now: DateTime<Utc>, data: Value) -> String {
    json!({ "type": event_type, "timestamp": timestamp(now), "data": data }).to_string()
}

/// Queues a message to `url`, due now.
pub async fn enqueue(
    store: &dyn WebhookStore,
    org_id: i64,
    url: &str,
    event_type: &str,
    data: Value,
    source: String,
    now: DateTime<Utc>,
) -> Result<i64> {
    let delivery = WebhookDelivery {
        id: 0,
        org_id,
        message_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
        url: url.to_owned(),
        event_type: event_type.to_owned(),
        payload: envelope(event_type, now, data),
        status: "pending".to_owned(),
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
        source,
    };
    store.enqueue_webhook(&delivery).await
}

/// Sends the due messages once each; returns how many attempts were made.
pub async fn deliver_due(
    store: &dyn WebhookStore,
    policy: &WebhookPolicy,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let lease = now + chrono::Duration::minutes(5);
    let claimed = store.claim_webhooks(owner, now, lease, BATCH).await?;
    let mut attempted = 0;
    for delivery in claimed {
        if store.target_disabled(delivery.org_id, &delivery.url).await?.is_some() {
            store.disable_target(delivery.org_id, &delivery.url, now).await?;
            continue;
        }
        let secrets = signing_secrets(store, delivery.org_id, now).await?;
        let outcome = policy
            .sender
            .send(&delivery.url, &delivery.message_id, now.timestamp(), &delivery.payload, &secrets)
            .await;
        attempted += 1;
        let attempts = usize::try_from(delivery.attempts).unwrap_or(0) + 1;
        let gone = outcome.status == Some(410);
        let (status, next) = if outcome.ok {
            ("delivered", now)
        } else if gone {
            ("disabled", now)
        } else if outcome.permanent {
            ("failed", now)
        } else {
            match retry_delay(&policy.retry_delays, attempts, outcome.retry_after) {
                Some(delay) => ("pending", now + chrono::Duration::from_std(delay).unwrap_or_default()),
                None => ("failed", now),
            }
        };
        tracing::info!(
            delivery = delivery.id,
            org = delivery.org_id,
            attempt = attempts,
            status = ?outcome.status,
            ok = outcome.ok,
            error = outcome.error.as_deref().unwrap_or(""),
            "webhook attempt"
        );
        let attempt = WebhookAttempt {
            delivery_id: delivery.id,
            org_id: delivery.org_id,
            url: delivery.url.clone(),
            attempted_at: now,
            ok: outcome.ok,
            status_code: outcome.status,
            error: outcome.error.clone(),
            response_excerpt: outcome.excerpt.clone(),
            duration_ms: i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX),
        };
        store.record_webhook_attempt(&attempt, status, next).await?;
        if gone {
            store.disable_target(delivery.org_id, &delivery.url, now).await?;
        }
    }
    Ok(attempted)
}

/// Attempts listed per target in `GET /v1/webhooks`.
pub const RECENT_ATTEMPTS: u32 = 10;

fn attempt_json(a: &WebhookAttempt) -> Value {
    json!({
        "attempted_at": timestamp(a.attempted_at),
        "ok": a.ok,
        "status_code": a.status_code,
        "error": a.error,
        "response_excerpt": a.response_excerpt,
        "duration_ms": a.duration_ms,
    })
}

/// `GET /v1/webhooks`: per target the last 24 hours' successes and failures, the last attempt's
/// status, error, response excerpt and duration, whether it is disabled, and recent attempts.
pub async fn overview(store: &dyn WebhookStore, org_id: i64, now: DateTime<Utc>) -> Result<Value> {
    let mut targets = Vec::new();
    for t in store.target_stats(org_id, now - chrono::Duration::hours(24)).await? {
        let recent = store.recent_attempts(org_id, &t.url, RECENT_ATTEMPTS).await?;
        let last = t.last.as_ref();
        targets.push(json!({
            "url": t.url,
            "success_count_24h": t.success_count,
            "failure_count_24h": t.failure_count,
            "pending": t.pending,
            "last_status_code": last.and_then(|a| a.status_code),
            "last_error": last.and_then(|a| a.error.clone()),
            "last_response_excerpt": last.and_then(|a| a.response_excerpt.clone()),
            "last_duration_ms": last.map(|a| a.duration_ms),
            "last_attempt_at": last.map(|a| timestamp(a.attempted_at)),
            "disabled": t.disabled_at.is_some(),
            "disabled_at": t.disabled_at.map(timestamp),
            "recent_attempts": recent.iter().map(attempt_json).collect::<Vec<_>>(),
        }));
    }
    Ok(json!({ "targets": targets }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_delays_jitter_within_ten_percent() {
        let delays = parse_schedule(crate::config::DEFAULT_WEBHOOK_RETRY_SCHEDULE).expect("default");
        assert_eq!(delays.len(), 7, "8 attempts");
        let total: Duration = delays.iter().sum();
        assert!(total > Duration::from_secs(20 * 3600) && total < Duration::from_secs(24 * 3600));
        assert!(parse_schedule("5x").is_err());
        for _ in 0..100 {
            let d = retry_delay(&delays, 1, None).expect("first retry");
            assert!(d >= Duration::from_secs(54) && d <= Duration::from_secs(66), "{d:?}");
        }
        assert_eq!(retry_delay(&delays, 8, None), None, "no ninth attempt");
        let d = retry_delay(&delays, 1, Some(Duration::from_secs(600))).expect("retry");
        assert_eq!(d, Duration::from_secs(600), "Retry-After wins when longer");
    }
}
