//! Alert rules, their per-tenant states and their events (`/v1/alerts`): the records and their
//! store trait (SQLite: `sqlite/alerts.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{error::Result, meta::billing::Capped};

/// One alert rule, as stored. The enums are kept in their wire spelling; `alerts` parses them.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// Id (0 before it is created).
    pub id: i64,
    /// Owning org.
    pub org_id: i64,
    /// The environment whose dashboard and events it reads.
    pub env_id: i64,
    /// Dashboard.
    pub dashboard_id: String,
    /// Widget of that dashboard.
    pub widget_id: String,
    /// Display name.
    pub name: String,
    /// `threshold`, `delta` or `no_data`.
    pub condition_type: String,
    /// `gt`, `gte`, `lt`, `lte`, `eq`, `ne`.
    pub operator: String,
    /// What the value is compared with.
    pub threshold_value: f64,
    /// The evaluation window.
    pub lookback_minutes: i64,
    /// Whose data: one tenant, or each of up to 100.
    pub tenant_ids: Vec<String>,
    /// Mail recipients.
    pub email_to: Vec<String>,
    /// Webhook target.
    pub webhook_url: Option<String>,
    /// Evaluated at all.
    pub enabled: bool,
    /// How long the condition must hold before the alert fires.
    pub pending_minutes: i64,
    /// Whether resolutions are notified too.
    pub notify_on_resolve: bool,
    /// Re-notify while firing this often.
    pub repeat_interval_minutes: Option<i64>,
    /// Who created it.
    pub created_by: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where one tenant of an alert stands.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertState {
    /// Alert.
    pub alert_id: i64,
    /// Tenant.
    pub tenant_id: String,
    /// `ok`, `pending`, `firing`, `resolved` or `error`.
    pub state: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// The last evaluated value.
    pub value: Option<f64>,
    /// The last evaluation error, in `error`.
    pub error: Option<String>,
    /// When a firing notification last went out.
    pub last_notified_at: Option<DateTime<Utc>>,
    /// Last evaluation.
    pub evaluated_at: DateTime<Utc>,
}

/// A firing, resolution or error event.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    /// Id (0 before it is stored).
    pub id: i64,
    /// Alert.
    pub alert_id: i64,
    /// Org.
    pub org_id: i64,
    /// Tenant.
    pub tenant_id: String,
    /// `firing`, `resolved` or `error`.
    pub kind: String,
    /// The value that caused it.
    pub value: Option<f64>,
    /// The rule's threshold at the time.
    pub threshold_value: f64,
    /// What happened, for people (the error, or a repeat note).
    pub message: Option<String>,
    /// Mail outcome: `sent`, `failed: ...`, `not_configured`, or none when no mail was due.
    pub email_status: Option<String>,
    /// The webhook delivery's status (`pending`, `delivered`, `failed`, `disabled`), read from
    /// the outbox.
    pub webhook_status: Option<String>,
    /// Attempts the webhook delivery made so far.
    pub webhook_attempts: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Storage of alert rules, states and events; rule methods are confined to one org.
#[async_trait]
pub trait AlertStore: Send + Sync + 'static {
    /// The org's alerts, newest first.
    async fn list_alerts(&self, org_id: i64) -> Result<Vec<AlertRule>>;
    /// One of the org's alerts.
    async fn alert(&self, org_id: i64, id: i64) -> Result<Option<AlertRule>>;
    /// Any org's alert, for the scheduler.
    async fn alert_by_id(&self, id: i64) -> Result<Option<AlertRule>>;
    /// Stores a new rule (its `id` is ignored) and returns it with its id.
    async fn create_alert(&self, rule: &AlertRule, cap: Option<i64>) -> Result<Capped<AlertRule>>;
    /// Replaces a rule's fields; whether it existed.
    async fn update_alert(&self, rule: &AlertRule) -> Result<bool>;
    /// Deletes one (states and events with it); whether it existed.
    async fn delete_alert(&self, org_id: i64, id: i64) -> Result<bool>;
    /// The alert's per-tenant states.
    async fn alert_states(&self, alert_id: i64) -> Result<Vec<AlertState>>;
    /// Writes one tenant's state.
    async fn save_alert_state(&self, state: &AlertState) -> Result<()>;
    /// Forgets every state of an alert (its condition changed).
    async fn clear_alert_states(&self, alert_id: i64) -> Result<()>;
    /// Stores an event; returns its id.
    async fn add_alert_event(&self, event: &AlertEvent) -> Result<i64>;
    /// Sets an event's mail outcome.
    async fn set_alert_event_email(&self, id: i64, email_status: &str) -> Result<()>;
    /// The alert's newest events, with their webhook outcome.
    async fn alert_events(&self, alert_id: i64, limit: u32) -> Result<Vec<AlertEvent>>;
}
