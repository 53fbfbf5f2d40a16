//! The webhook outbox, its attempts and the orgs' signing secrets (SQLite: `sqlite/webhooks.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;

/// A message waiting for (or done with) delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    /// Id (0 before it is stored).
    pub id: i64,
    /// Org.
    pub org_id: i64,
    /// `msg_...`: the `webhook-id` header, the same on every attempt.
    pub message_id: String,
    /// Target.
    pub url: String,
    /// `alert.firing`, `alert.resolved`, `report.completed`, `test`.
    pub event_type: String,
    /// The exact JSON body sent.
    pub payload: String,
    /// `pending`, `delivered`, `failed`, `disabled`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// What sent it: `alert_event:<id>`, `report_run:<id>` or `test`.
    pub source: String,
}

/// One attempt's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookAttempt {
    /// Delivery.
    pub delivery_id: i64,
    /// Org.
    pub org_id: i64,
    /// Target.
    pub url: String,
    /// When.
    pub attempted_at: DateTime<Utc>,
    /// 2xx within the timeout.
    pub ok: bool,
    /// HTTP status, when one came back.
    pub status_code: Option<u16>,
    /// What failed.
    pub error: Option<String>,
    /// The response body's start.
    pub response_excerpt: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// Per-target delivery figures over a window (`GET /v1/webhooks`).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStats {
    /// Target.
    pub url: String,
    /// Successful attempts in the window.
    pub success_count: i64,
    /// Failed attempts in the window.
    pub failure_count: i64,
    /// Messages still waiting.
    pub pending: i64,
    /// The newest attempt.
    pub last: Option<WebhookAttempt>,
    /// Since when it is disabled (it answered 410).
    pub disabled_at: Option<DateTime<Utc>>,
}

/// Storage of the outbox and secrets; every method is confined to one org except the
/// scheduler's claim.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// The org's valid signing secrets at `now`, newest first.
    async fn signing_secrets(&self, org_id: i64, now: DateTime<Utc>) -> Result<Vec<String>>;
    /// Adds a new secret; the current ones stay valid until `previous_until`.
    async fn add_signing_secret(
        &self,
        org_id: i64,
        secret: &str,
        now: DateTime<Utc>,
        previous_until: DateTime<Utc>,
    ) -> Result<()>;
    /// Queues a message; returns its id.
    async fn enqueue_webhook(&self, delivery: &WebhookDelivery) -> Result<i64>;
    /// Claims up to `limit` due pending messages for `owner` until `lease_until`.
    async fn claim_webhooks(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;
    /// Logs an attempt and moves the message to `status` (due again at `next_attempt_at` when
    /// still pending), releasing the lease.
    async fn record_webhook_attempt(
        &self,
        attempt: &WebhookAttempt,
        status: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Marks a target disabled (it answered 410): its pending messages become `disabled`.
    async fn disable_target(&self, org_id: i64, url: &str, now: DateTime<Utc>) -> Result<()>;
    /// Since when a target is disabled.
    async fn target_disabled(&self, org_id: i64, url: &str) -> Result<Option<DateTime<Utc>>>;
    /// Re-enables a target (a rule was saved with it again).
    async fn enable_target(&self, org_id: i64, url: &str) -> Result<()>;
    /// Figures for each target the org sent to, attempts counted since `since`.
    async fn target_stats(&self, org_id: i64, since: DateTime<Utc>) -> Result<Vec<TargetStats>>;
    /// The org's newest attempts to `url`.
    async fn recent_attempts(&self, org_id: i64, url: &str, limit: u32) -> Result<Vec<WebhookAttempt>>;
}
