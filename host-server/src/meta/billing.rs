//! Billing state behind a trait: each org's plan and Paddle customer, and the Paddle events
//! already processed (so a replayed webhook is a no-op). Plan rules live in `billing/`.

use async_trait::async_trait;

use crate::error::Result;

/// A write that a plan limit may refuse: done, or refused with how much was in use. The store
/// checks and writes in one statement or transaction, so concurrent writes cannot both pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capped<T> {
    /// The write happened (or was not a counted write at all).
    Done(T),
    /// The limit was reached: nothing was written.
    OverLimit {
        /// What counted against the limit at the time.
        used: i64,
    },
}

/// An org's stored billing state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillingAccount {
    /// The seeded demo org (never limited).
    pub is_demo: bool,
    /// Stored plan id, when a subscription event set one.
    pub plan: Option<String>,
    /// Stored billing status (Paddle's subscription status), when known.
    pub status: Option<String>,
    /// The org's Paddle customer (`ctm_...`), once known.
    pub customer_id: Option<String>,
    /// The org's Paddle subscription (`sub_...`), once known.
    pub subscription_id: Option<String>,
}

/// A subscription's state as of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChange {
    /// `sub_...`.
    pub subscription_id: String,
    /// The plan it grants now.
    pub plan: String,
    /// Paddle's status (`active`, `past_due`, `paused`, `canceled`, `trialing`).
    pub status: String,
    /// The event's `occurred_at`, in microseconds since the epoch.
    pub occurred_us: i64,
}

/// What one Paddle event changes for one org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    /// The org.
    pub org_id: i64,
    /// Links the org to this Paddle customer.
    pub customer_id: Option<String>,
    /// The subscription's new state, applied only if no newer event was applied before.
    pub subscription: Option<SubscriptionChange>,
}

/// A Paddle event as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddleEvent {
    /// `evt_...`: unique per event.
    pub event_id: String,
    /// E.g. `subscription.updated`.
    pub event_type: String,
    /// As Paddle sent it.
    pub occurred_at: String,
}

/// What recording an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Recorded and applied.
    Applied,
    /// Recorded; its subscription state was older than what is stored, so the plan stood.
    Stale,
    /// Recorded; it names no org that exists (nothing changed).
    UnknownOrg,
    /// Recorded before: nothing done.
    Duplicate,
}

impl EventOutcome {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventOutcome::Applied => "applied",
            EventOutcome::Stale => "stale",
            EventOutcome::UnknownOrg => "unknown_org",
            EventOutcome::Duplicate => "duplicate",
        }
    }
}

/// The billing store.
#[async_trait]
pub trait BillingStore: Send + Sync + 'static {
    /// The org's billing state; `None` when there is no such org.
    async fn billing_account(&self, org_id: i64) -> Result<Option<BillingAccount>>;
    /// The org linked to a Paddle customer, if any.
    async fn org_for_customer(&self, customer_id: &str) -> Result<Option<i64>>;
    /// Records `event` and applies `change`, atomically and at most once per event id: a
    /// duplicate (also one delivered concurrently) is `Duplicate` and changes nothing.
    async fn record_paddle_event(
        &self,
        event: &PaddleEvent,
        change: Option<&AccountChange>,
    ) -> Result<EventOutcome>;
    /// How many members and pending, unexpired invites the org has (what the members limit counts).
    async fn seats_used(&self, org_id: i64) -> Result<i64>;
    /// How many unrevoked API keys the org has.
    async fn api_keys_used(&self, org_id: i64) -> Result<i64>;
    /// How many published dashboards the org has, all environments together.
    async fn published_dashboards(&self, org_id: i64) -> Result<i64>;
    /// How many alerts the org has (what the alerts limit counts).
    async fn alerts_used(&self, org_id: i64) -> Result<i64>;
    /// How many scheduled reports the org has (what the reports limit counts).
    async fn reports_used(&self, org_id: i64) -> Result<i64>;
}
