//! One evaluation of an alert: the widget's own query (through `analytics::widget`, the planner
//! and store the API uses) over the lookback window for each of its tenants, the state machine
//! ok → pending → firing → resolved (plus error), and the notifications of each change.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use contract::{
    dashboard::Widget,
    query::{Metric, Period},
};
use serde_json::json;

use crate::{
    alerts::{compare, find_widget, not_evaluable},
    analytics::{
        query::shape,
        widget::{ResolvedFilters, widget_spec},
    },
    error::{AppError, Result},
    events::{EventStore, StoreScope},
    meta::alerts::{AlertEvent, AlertRule, AlertState},
    outbox,
    state::AppState,
    time::timestamp,
};

/// What one tenant's evaluation read.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// The condition holds; the value it compared (the change, for `delta`).
    Met(Option<f64>),
    /// The condition does not hold.
    NotMet(Option<f64>),
    /// The query failed, or the widget is gone.
    Failed(String),
}

/// The result of one step of the state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The new state.
    pub state: &'static str,
    /// Since when it holds.
    pub since: DateTime<Utc>,
    /// The event to record (`firing`, `resolved`, `error`).
    pub event: Option<&'static str>,
    /// Whether the event is notified.
    pub notify: bool,
    /// A repeated firing notification.
    pub repeat: bool,
}

/// The state machine: where a tenant goes from `prev` on `reading` at `now`.
pub fn step(prev: Option<&AlertState>, reading: &Reading, rule: &AlertRule, now: DateTime<Utc>) -> Step {
    let prev_state = prev.map_or("ok", |p| p.state.as_str());
    let prev_since = prev.map_or(now, |p| p.since);
    let stay =
        |state: &'static str| Step { state, since: prev_since, event: None, notify: false, repeat: false };
    let go = |state: &'static str, event: Option<&'static str>, notify: bool| Step {
        state,
        since: now,
        event,
        notify,
        repeat: false,
    };
    match reading {
        Reading::Failed(_) if prev_state == "error" => stay("error"),
        Reading::Failed(_) => go("error", Some("error"), false),
        Reading::Met(_) => match prev_state {
            "firing" => {
                let due = rule.repeat_interval_minutes.is_some_and(|every| {
                    prev.and_then(|p| p.last_notified_at)
                        .is_none_or(|last| now - last >= Duration::minutes(every))
                });
                Step {
                    state: "firing",
                    since: prev_since,
                    event: due.then_some("firing"),
                    notify: due,
                    repeat: due,
                }
            }
            "pending" if now - prev_since >= Duration::minutes(rule.pending_minutes) => {
                go("firing", Some("firing"), true)
            }
            "pending" => stay("pending"),
            _ if rule.pending_minutes == 0 => go("firing", Some("firing"), true),
            _ => go("pending", None, false),
        },
        Reading::NotMet(_) => match prev_state {
            "firing" => go("resolved", Some("resolved"), rule.notify_on_resolve),
            "ok" => stay("ok"),
            _ => go("ok", None, false),
        },
    }
}

/// The widget's value over `[from, to)` for one tenant: its own query, ungrouped and unbucketed
/// (`metric` replaces the widget's, for `no_data`).
pub async fn measure(
    events: &dyn EventStore,
    scope: StoreScope,
    tenant: &str,
    widget: &Widget,
    metric: Option<Metric>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<f64>> {
    let filters = ResolvedFilters {
        period: Period::H24,
        dimensions: Vec::new(),
        numeric_ranges: Vec::new(),
        date_range: None,
        max_range_days: None,
    };
    let (mut request, mut spec) = widget_spec(tenant, widget, &filters, to);
    request.granularity = None;
    request.group_by = None;
    spec.granularity = None;
    spec.group_by = None;
    spec.from = from;
    spec.to = to;
    if let Some(metric) = metric {
        request.metric = metric;
        spec.metric = metric;
        request.numeric_prop = None;
        spec.numeric_prop = None;
    }
    let answer = events.query_with_ranges(scope, &spec, &[]).await?;
    Ok(shape(&request, &spec, answer, Instant::now()).data.first().and_then(|r| r.value))
}

/// Reads the condition for one tenant at `now`.
pub async fn read(
    events: &dyn EventStore,
    rule: &AlertRule,
    widget: &Widget,
    tenant: &str,
    now: DateTime<Utc>,
) -> Reading {
    let scope = StoreScope { org_id: rule.org_id, env_id: rule.env_id };
    let window = Duration::minutes(rule.lookback_minutes);
    let from = now - window;
    let result: Result<Reading> = async {
        Ok(match rule.condition_type.as_str() {
            "no_data" => {
                let n = measure(events, scope, tenant, widget, Some(Metric::Count), from, now).await?;
                let n = n.unwrap_or(0.0);
                if n == 0.0 { Reading::Met(Some(n)) } else { Reading::NotMet(Some(n)) }
            }
            "delta" => {
                let (current, before) = tokio::try_join!(
                    measure(events, scope, tenant, widget, None, from, now),
                    measure(events, scope, tenant, widget, None, from - window, from),
                )?;
                match (current, before) {
                    (Some(c), Some(b)) => {
                        let change = c - b;
                        if compare(&rule.operator, change, rule.threshold_value) {
                            Reading::Met(Some(change))
                        } else {
                            Reading::NotMet(Some(change))
                        }
                    }
                    _ => Reading::NotMet(None),
                }
            }
            _ => match measure(events, scope, tenant, widget, None, from, now).await? {
                Some(v) if compare(&rule.operator, v, rule.threshold_value) => Reading::Met(Some(v)),
                v => Reading::NotMet(v),
            },
        })
    }
    .await;
    result.unwrap_or_else(|e| Reading::Failed(e.to_string()))
}

/// Whether an evaluation ran or its rule is gone (deleted or disabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// Evaluated.
    Evaluated,
    /// Nothing to do: the rule is gone or disabled.
    Gone,
}

/// Evaluates alert `id` at `now`: every tenant's reading, state and notifications.
pub async fn run(state: &AppState, id: i64, now: DateTime<Utc>) -> Result<Ran> {
    let Some(rule) = state.alerts.alert_by_id(id).await? else { return Ok(Ran::Gone) };
    if !rule.enabled {
        return Ok(Ran::Gone);
    }
    let dashboard = state.dashboards.dashboard(rule.org_id, rule.env_id, &rule.dashboard_id).await?;
    let widget: std::result::Result<Widget, String> = match &dashboard {
        None => Err(format!("dashboard_id: dashboard {:?} no longer exists", rule.dashboard_id)),
        Some(d) => find_widget(d, &rule.widget_id)
            .map_err(|e| e.to_string())
            .and_then(|w| not_evaluable(w).map_or(Ok(w.clone()), Err)),
    };
    let states = state.alerts.alert_states(rule.id).await?;
    for tenant in &rule.tenant_ids {
        let reading = match &widget {
            Ok(w) => read(&*state.events, &rule, w, tenant, now).await,
            Err(why) => Reading::Failed(why.clone()),
        };
        let prev = states.iter().find(|s| &s.tenant_id == tenant);
        let next = step(prev, &reading, &rule, now);
        let (value, error) = match &reading {
            Reading::Met(v) | Reading::NotMet(v) => (*v, None),
            Reading::Failed(e) => (None, Some(e.clone())),
        };
        let mut last_notified_at = prev.and_then(|p| p.last_notified_at);
        if let Some(kind) = next.event {
            let message = match (&error, next.repeat) {
                (Some(e), _) => Some(e.clone()),
                (None, true) => Some("still firing (repeat notification)".to_owned()),
                (None, false) => None,
            };
            let event = AlertEvent {
                id: 0,
                alert_id: rule.id,
                org_id: rule.org_id,
                tenant_id: tenant.clone(),
                kind: kind.to_owned(),
                value,
                threshold_value: rule.threshold_value,
                message,
                email_status: None,
                webhook_status: None,
                webhook_attempts: None,
                created_at: now,
            };
            let event_id = state.alerts.add_alert_event(&event).await?;
            if next.notify {
                notify(state, &rule, &AlertEvent { id: event_id, ..event }, now).await?;
                if kind == "firing" {
                    last_notified_at = Some(now);
                }
            }
        }
        if next.state == "ok" {
            last_notified_at = None;
        }
        state
            .alerts
            .save_alert_state(&AlertState {
                alert_id: rule.id,
                tenant_id: tenant.clone(),
                state: next.state.to_owned(),
                since: next.since,
                value,
                error,
                last_notified_at,
                evaluated_at: now,
            })
            .await?;
    }
    Ok(Ran::Evaluated)
}

/// Mails the event (synchronously: its outcome is stored on the event) and queues its webhook.
async fn notify(state: &AppState, rule: &AlertRule, event: &AlertEvent, now: DateTime<Utc>) -> Result<()> {
    let title = if event.kind == "firing" { "Firing" } else { "Resolved" };
    let value = event.value.map_or("no value".to_owned(), |v| v.to_string());
    if !rule.email_to.is_empty() {
        let status = match &state.mailer {
            None => "not_configured".to_owned(),
            Some(mailer) => {
                let subject = format!("[Emban] {title}: {} (tenant {})", rule.name, event.tenant_id);
                let body = format!(
                    "Alert \"{}\" is {}.\n\nTenant: {}\nCondition: {} {} {} over the last {} minutes\n\
                     Value: {value}\nDashboard: {}/dashboards/{}\nWidget: {}\nAt: {}\n",
                    rule.name,
                    event.kind,
                    event.tenant_id,
                    rule.condition_type,
                    rule.operator,
                    rule.threshold_value,
                    rule.lookback_minutes,
                    state.public_url,
                    rule.dashboard_id,
                    rule.widget_id,
                    timestamp(now),
                );
                match mailer.send_to_all(&rule.email_to, &subject, body, None).await {
                    Ok(()) => "sent".to_owned(),
                    Err(AppError::Internal(e)) => format!("failed: {e:#}"),
                    Err(e) => format!("failed: {e}"),
                }
            }
        };
        state.alerts.set_alert_event_email(event.id, &status).await?;
    }
    if let Some(url) = &rule.webhook_url {
        let data = json!({
            "alert_id": rule.id,
            "alert_name": rule.name,
            "event_id": event.id,
            "state": event.kind,
            "tenant_id": event.tenant_id,
            "value": event.value,
            "threshold_value": rule.threshold_value,
            "condition_type": rule.condition_type,
            "operator": rule.operator,
            "lookback_minutes": rule.lookback_minutes,
            "dashboard_id": rule.dashboard_id,
            "widget_id": rule.widget_id,
            "at": timestamp(now),
        });
        let event_type = if event.kind == "firing" { "alert.firing" } else { "alert.resolved" };
        outbox::enqueue(
            &*state.webhooks,
            rule.org_id,
            url,
            event_type,
            data,
            format!("alert_event:{}", event.id),
            now,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(pending: i64, repeat: Option<i64>, resolve: bool) -> AlertRule {
        let now = Utc::now();
        AlertRule {
            id: 1,
            org_id: 1,
            env_id: 1,
            dashboard_id: "d".into(),
            widget_id: "w".into(),
            name: "n".into(),
            condition_type: "threshold".into(),
            operator: "gt".into(),
            threshold_value: 1.0,
            lookback_minutes: 60,
            tenant_ids: vec!["t".into()],
            email_to: vec![],
            webhook_url: None,
            enabled: true,
            pending_minutes: pending,
            notify_on_resolve: resolve,
            repeat_interval_minutes: repeat,
            created_by: "x".into(),
            created_at: now,
            updated_at: now,
        }
    }

    fn apply(prev: Option<AlertState>, s: &Step, now: DateTime<Utc>) -> AlertState {
        AlertState {
            alert_id: 1,
            tenant_id: "t".into(),
            state: s.state.to_owned(),
            since: s.since,
            value: None,
            error: None,
            last_notified_at: if s.notify && s.state == "firing" {
                Some(now)
            } else {
                prev.and_then(|p| p.last_notified_at)
            },
            evaluated_at: now,
        }
    }

    #[test]
    fn pending_then_firing_once_then_resolved() {
        let r = rule(5, None, true);
        let t0 = Utc::now();
        let met = Reading::Met(Some(2.0));
        let s = step(None, &met, &r, t0);
        assert_eq!((s.state, s.event), ("pending", None));
        let st = apply(None, &s, t0);
        let s = step(Some(&st), &met, &r, t0 + Duration::minutes(3));
        assert_eq!((s.state, s.event), ("pending", None));
        let s = step(Some(&st), &met, &r, t0 + Duration::minutes(5));
        assert_eq!((s.state, s.event, s.notify), ("firing", Some("firing"), true));
        let st = apply(Some(st), &s, t0 + Duration::minutes(5));
        let s = step(Some(&st), &met, &r, t0 + Duration::minutes(6));
        assert_eq!((s.state, s.event), ("firing", None), "once per state change");
        let s = step(Some(&st), &Reading::NotMet(Some(0.0)), &r, t0 + Duration::minutes(7));
        assert_eq!((s.state, s.event, s.notify), ("resolved", Some("resolved"), true));
        let st = apply(Some(st), &s, t0 + Duration::minutes(7));
        let s = step(Some(&st), &Reading::NotMet(Some(0.0)), &r, t0 + Duration::minutes(8));
        assert_eq!((s.state, s.event), ("ok", None));
    }

    #[test]
    fn repeats_while_firing_and_errors_are_recorded_once() {
        let r = rule(0, Some(10), false);
        let t0 = Utc::now();
        let met = Reading::Met(Some(2.0));
        let s = step(None, &met, &r, t0);
        assert_eq!(s.state, "firing");
        let st = apply(None, &s, t0);
        assert!(step(Some(&st), &met, &r, t0 + Duration::minutes(9)).event.is_none());
        let s = step(Some(&st), &met, &r, t0 + Duration::minutes(10));
        assert!(s.repeat && s.notify);
        let s = step(Some(&st), &Reading::NotMet(None), &r, t0 + Duration::minutes(11));
        assert_eq!((s.state, s.notify), ("resolved", false), "notify_on_resolve off");
        let failed = Reading::Failed("boom".into());
        let s = step(None, &failed, &r, t0);
        assert_eq!(s.event, Some("error"));
        let st = apply(None, &s, t0);
        assert_eq!(step(Some(&st), &failed, &r, t0).event, None);
    }
}
