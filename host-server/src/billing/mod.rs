//! Plans and billing: which plan an org is on, the limits every gate enforces (402s), the
//! month's event cap checked in memory on ingest, and Paddle (checkout settings, the customer
//! portal, the verified, idempotent webhook). Off by default: without `--billing-enforce` or a
//! Paddle setting every org is `self_hosted` and no gate ever fires. docs/billing.md.

pub mod limits;
pub mod paddle;
pub mod plans;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Datelike, Utc};
use contract::embed::EmbedPermissions;
use serde_json::{Value, json};

use crate::{
    config::{BillingArgs, PaddleEnvironment},
    error::{AppError, Result},
    meta::{
        MetaStore,
        billing::{
            AccountChange, BillingAccount, BillingStore, EventOutcome, PaddleEvent, SubscriptionChange,
        },
        usage::{EVENTS_INGESTED, UsageRecorder},
    },
};
use limits::{Cap, Gate, disallowed_permissions, refusal};
use paddle::{Meaning, PaddleConfig};
use plans::{PlanId, Plans};

/// A calendar month (UTC): `(year, month)`.
type Month = (i32, u32);

fn month_of(t: DateTime<Utc>) -> Month {
    (t.year(), t.month())
}

/// One org's events this month, and its plan, kept in memory for the ingest cap.
#[derive(Debug, Clone, Copy)]
struct EventCounter {
    month: Month,
    plan: PlanId,
    /// Stored this month plus batches in flight.
    events: i64,
}

/// Events a batch holds against the month's cap until it is stored (see [`Billing::settle`]).
#[must_use = "settle the reservation with what the batch stored"]
#[derive(Debug)]
pub struct EventReservation {
    org_id: i64,
    month: Month,
    reserved: i64,
}

/// The billing service every handler shares (`AppState::billing`).
pub struct Billing {
    plans: Plans,
    enforced: bool,
    paddle: PaddleConfig,
    store: Arc<dyn BillingStore>,
    meta: Arc<dyn MetaStore>,
    usage: UsageRecorder,
    http: reqwest::Client,
    counters: Mutex<HashMap<i64, EventCounter>>,
    /// One load of a month's count from the usage store at a time.
    loading: tokio::sync::Mutex<()>,
}

impl Billing {
    /// The service for `args`: plans loaded (and the plans file checked) now.
    pub fn new(
        args: &BillingArgs,
        store: Arc<dyn BillingStore>,
        meta: Arc<dyn MetaStore>,
        usage: UsageRecorder,
    ) -> anyhow::Result<Billing> {
        let plans = Plans::load(args.billing_plans.as_deref())?;
        let environment = match args.paddle_environment {
            PaddleEnvironment::Sandbox => paddle::Environment::Sandbox,
            PaddleEnvironment::Production => paddle::Environment::Production,
        };
        let mut prices = Vec::new();
        if let Some(price) = &args.paddle_price_starter {
            prices.push((PlanId::Starter, price.clone()));
        }
        if let Some(price) = &args.paddle_price_pro {
            prices.push((PlanId::Pro, price.clone()));
        }
        let paddle = PaddleConfig {
            api_key: args.paddle_api_key.clone().filter(|k| !k.expose().is_empty()),
            client_token: args.paddle_client_token.clone().filter(|t| !t.is_empty()),
            notification_key: args.paddle_notification_key.clone().filter(|k| !k.expose().is_empty()),
            environment,
            prices,
            api_url: args
                .paddle_api_url
                .clone()
                .unwrap_or_else(|| environment.api_url().to_owned())
                .trim_end_matches('/')
                .to_owned(),
            tolerance_secs: args.paddle_webhook_tolerance_secs,
        };
        let enforced = args.billing_enforce || paddle.any();
        let http = reqwest::Client::builder().no_proxy().build()?;
        Ok(Billing {
            plans,
            enforced,
            paddle,
            store,
            meta,
            usage,
            http,
            counters: Default::default(),
            loading: Default::default(),
        })
    }

    /// Whether plan limits apply (`--billing-enforce` or Paddle configured).
    pub fn enforced(&self) -> bool {
        self.enforced
    }

    /// The plans.
    pub fn plans(&self) -> &Plans {
        &self.plans
    }

    fn plan_in(&self, account: &BillingAccount) -> PlanId {
        if !self.enforced || account.is_demo {
            return PlanId::SelfHosted;
        }
        account.plan.as_deref().and_then(PlanId::parse).unwrap_or(PlanId::Free)
    }

    async fn account(&self, org_id: i64) -> Result<BillingAccount> {
        self.store
            .billing_account(org_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no org with id {org_id}")))
    }

    /// The org's plan: `self_hosted` when billing is off (and for the demo org), else the stored
    /// plan, `free` until a subscription sets one.
    pub async fn plan_of(&self, org_id: i64) -> Result<PlanId> {
        if !self.enforced {
            return Ok(PlanId::SelfHosted);
        }
        Ok(self.plan_in(&self.account(org_id).await?))
    }

    /// The org's limit at a counted gate, for a gated write (see `limits`).
    pub async fn cap(&self, org_id: i64, gate: Gate) -> Result<Cap> {
        let plan = self.plan_of(org_id).await?;
        Ok(Cap::new(plan, gate, gate.limit_in(self.plans.spec(plan))))
    }

    /// Refuses with the gate's 402 when `used` already reaches the org's limit: for gates whose
    /// store cannot count and write in one step (prefer [`Billing::cap`] and a capped write).
    pub async fn check(&self, org_id: i64, gate: Gate, used: i64) -> Result<()> {
        self.cap(org_id, gate).await?.check(used)
    }

    /// Refuses a session asking for advanced permissions the org's plan does not include.
    pub async fn check_embed_permissions(&self, org_id: i64, permissions: &EmbedPermissions) -> Result<()> {
        if !self.enforced {
            return Ok(());
        }
        let plan = self.plan_of(org_id).await?;
        let refused = disallowed_permissions(permissions, &self.plans.spec(plan).features);
        if refused.is_empty() {
            return Ok(());
        }
        let detail = format!("{} (permissions.{})", plan.as_str(), refused.join(", permissions."));
        Err(refusal(plan, Gate::AdvancedEmbedPermissions, 0, refused.len() as i64, Some(detail)))
    }

    /// Holds `events` against the org's monthly cap, or refuses the whole batch (402). Checked in
    /// memory; the month's count is read from the usage counters once per org and month.
    pub async fn reserve_events(&self, org_id: i64, events: usize) -> Result<Option<EventReservation>> {
        if !self.enforced {
            return Ok(None);
        }
        let events = i64::try_from(events).unwrap_or(i64::MAX);
        let month = month_of(Utc::now());
        if let Some(outcome) = self.try_reserve(org_id, month, events)? {
            return outcome.map(Some);
        }
        {
            let _one = self.loading.lock().await;
            let loaded = self.counters.lock().ok().and_then(|c| c.get(&org_id).copied());
            if loaded.is_none_or(|c| c.month != month) {
                let counter = self.load_counter(org_id, month).await?;
                if let Ok(mut counters) = self.counters.lock() {
                    counters.insert(org_id, counter);
                }
            }
        }
        match self.try_reserve(org_id, month, events)? {
            Some(outcome) => outcome.map(Some),
            None => Err(AppError::Internal(anyhow::anyhow!("the month's event count did not load"))),
        }
    }

    /// `None` when the org's count for `month` is not in memory yet.
    fn try_reserve(
        &self,
        org_id: i64,
        month: Month,
        events: i64,
    ) -> Result<Option<Result<EventReservation>>> {
        let mut counters = self
            .counters
            .lock()
            .map_err(|_| AppError::Internal(anyhow::anyhow!("event counters poisoned")))?;
        let Some(counter) = counters.get_mut(&org_id).filter(|c| c.month == month) else {
            return Ok(None);
        };
        let limit = self.plans.spec(counter.plan).limits.events_per_month;
        if let Some(limit) = limit
            && counter.events.saturating_add(events) > limit
        {
            return Ok(Some(Err(refusal(counter.plan, Gate::EventsMonthly, limit, counter.events, None))));
        }
        counter.events = counter.events.saturating_add(events);
        Ok(Some(Ok(EventReservation { org_id, month, reserved: events })))
    }

    async fn load_counter(&self, org_id: i64, month: Month) -> Result<EventCounter> {
        let plan = self.plan_of(org_id).await?;
        // Counts still buffered in memory are written first, so the read sees them.
        self.usage.flush().await?;
        let since = format!("{:04}-{:02}-01", month.0, month.1);
        let events = self
            .meta
            .usage_since(org_id, &since)
            .await?
            .into_iter()
            .filter(|row| row.metric == EVENTS_INGESTED)
            .map(|row| row.value)
            .sum();
        Ok(EventCounter { month, plan, events })
    }

    /// Replaces a reservation with what the batch stored (0 when it failed; duplicates are not
    /// counted, as in the usage counters).
    pub fn settle(&self, reservation: Option<EventReservation>, stored: usize) {
        let Some(r) = reservation else { return };
        let stored = i64::try_from(stored).unwrap_or(i64::MAX);
        if let Ok(mut counters) = self.counters.lock()
            && let Some(counter) = counters.get_mut(&r.org_id)
            && counter.month == r.month
        {
            counter.events = counter.events.saturating_add(stored - r.reserved).max(0);
        }
    }

    /// Events counted against the org's cap this month.
    async fn events_this_month(&self, org_id: i64) -> Result<i64> {
        let month = month_of(Utc::now());
        let cached = self.counters.lock().ok().and_then(|c| c.get(&org_id).copied());
        match cached {
            Some(counter) if counter.month == month => Ok(counter.events),
            _ => Ok(self.load_counter(org_id, month).await?.events),
        }
    }

    /// `GET /v1/billing/plans`.
    pub fn plans_json(&self) -> Value {
        json!({ "plans": self.plans.all() })
    }

    /// `GET /v1/billing`: plan, status, usage against limits, limits and every plan.
    pub async fn overview(&self, org_id: i64) -> Result<Value> {
        let account = self.account(org_id).await?;
        let plan = self.plan_in(&account);
        let spec = self.plans.spec(plan);
        let status = match (&account.status, self.enforced) {
            (_, false) => "self_hosted",
            (Some(status), true) => status.as_str(),
            (None, true) => "none",
        };
        let usage = json!({
            "published_dashboards": self.store.published_dashboards(org_id).await?,
            "api_keys": self.store.api_keys_used(org_id).await?,
            "members": self.store.seats_used(org_id).await?,
            "alerts": self.store.alerts_used(org_id).await?,
            "reports": self.store.reports_used(org_id).await?,
            "events_this_month": self.events_this_month(org_id).await?,
        });
        Ok(json!({
            "plan": plan,
            "billing_enabled": self.enforced,
            "status": status,
            "paddle_customer": account.customer_id.is_some(),
            "usage": usage,
            "limits": spec.limits,
            "features": spec.features,
            "upgrade_to": spec.upgrade_to,
            "plans": self.plans.all(),
        }))
    }

    /// `GET /v1/billing/checkout-config`: what Paddle.js needs; 503 without a client token.
    pub fn checkout_config(&self, org_id: i64) -> Result<Value> {
        let token = self
            .paddle
            .client_token
            .as_deref()
            .ok_or_else(|| paddle::not_configured("PADDLE_CLIENT_TOKEN"))?;
        let prices: serde_json::Map<String, Value> =
            self.paddle.prices.iter().map(|(plan, price)| (plan.as_str().to_owned(), json!(price))).collect();
        Ok(json!({
            "environment": self.paddle.environment,
            "client_token": token,
            "prices": prices,
            "org_id": org_id,
            "custom_data": { "org_id": org_id.to_string() },
        }))
    }

    /// `GET /v1/billing/portal`: a fresh customer portal URL from Paddle's API.
    pub async fn portal(&self, org_id: i64) -> Result<Value> {
        let api_key = self.paddle.api_key.as_ref().ok_or_else(|| paddle::not_configured("PADDLE_API_KEY"))?;
        let account = self.account(org_id).await?;
        let customer = account.customer_id.as_deref().ok_or_else(|| {
            AppError::NotFound("this org has no Paddle customer yet: subscribe through checkout first".into())
        })?;
        let url = paddle::portal_url(
            &self.http,
            &self.paddle,
            api_key,
            customer,
            account.subscription_id.as_deref(),
        )
        .await?;
        Ok(json!({ "url": url }))
    }

    /// `POST /webhooks/paddle`: verifies the signature (401, nothing done), then records and
    /// applies the event once. The answer's `outcome` says what happened.
    pub async fn webhook(&self, signature: Option<&str>, body: &[u8]) -> Result<Value> {
        let key = self
            .paddle
            .notification_key
            .as_ref()
            .ok_or_else(|| paddle::not_configured("PADDLE_NOTIFICATION_KEY"))?;
        paddle::verify_signature(signature, body, key, Utc::now(), self.paddle.tolerance_secs)?;
        let note = paddle::parse_notification(body, &self.paddle)?;
        let event = PaddleEvent {
            event_id: note.event_id.clone(),
            event_type: note.event_type.clone(),
            occurred_at: note.occurred_at.clone(),
        };
        let (org_hint, customer_id, subscription) = match &note.meaning {
            Meaning::Ignored => {
                tracing::info!(event_id = %note.event_id, event_type = %note.event_type, "Paddle event type not handled; acknowledged");
                return Ok(json!({ "received": true, "outcome": "ignored" }));
            }
            Meaning::Customer { customer_id, org_id } => (*org_id, customer_id.clone(), None),
            Meaning::Subscription { subscription_id, status, plan, customer_id, org_id } => {
                let subscription = match plan {
                    Some(plan) => Some(SubscriptionChange {
                        subscription_id: subscription_id.clone(),
                        plan: paddle::plan_for_status(status, *plan).as_str().to_owned(),
                        status: status.clone(),
                        occurred_us: note.occurred_us,
                    }),
                    None => {
                        tracing::warn!(event_id = %note.event_id, "Paddle subscription with no configured price id; plan unchanged");
                        None
                    }
                };
                (*org_id, customer_id.clone(), subscription)
            }
        };
        let org_id = match org_hint {
            Some(org_id) => Some(org_id),
            None => match &customer_id {
                Some(customer) => self.store.org_for_customer(customer).await?,
                None => None,
            },
        };
        let change = org_id.map(|org_id| AccountChange { org_id, customer_id, subscription });
        let outcome = self.store.record_paddle_event(&event, change.as_ref()).await?;
        match outcome {
            EventOutcome::UnknownOrg => tracing::warn!(
                event_id = %note.event_id, event_type = %note.event_type,
                "Paddle event names no known org (custom_data.org_id or a stored customer id); acknowledged"
            ),
            EventOutcome::Stale => tracing::info!(
                event_id = %note.event_id, "Paddle event older than the applied subscription state; plan kept"
            ),
            EventOutcome::Applied | EventOutcome::Duplicate => {}
        }
        if outcome == EventOutcome::Applied
            && let Some(change) = &change
        {
            self.refresh_plan(change.org_id).await?;
        }
        Ok(json!({ "received": true, "outcome": outcome.as_str() }))
    }

    /// Picks up a plan change in the in-memory ingest counters.
    async fn refresh_plan(&self, org_id: i64) -> Result<()> {
        let plan = self.plan_of(org_id).await?;
        if let Ok(mut counters) = self.counters.lock()
            && let Some(counter) = counters.get_mut(&org_id)
        {
            counter.plan = plan;
        }
        Ok(())
    }
}
