//! Alert rules (`/v1/alerts`): one widget of a dashboard, a condition over a lookback window,
//! evaluated by the scheduler for one tenant or each of a bounded list (`evaluate`), with
//! notifications by mail and signed webhook on firing and resolution (docs/alerts.md).

pub mod evaluate;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use contract::dashboard::Widget;
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    billing::limits::Gate,
    dashboards::effective_config,
    error::{AppError, Result, clip},
    meta::{
        alerts::{AlertEvent, AlertRule, AlertState},
        audit,
        dashboards::DashboardRecord,
        jobs::JobKind,
    },
    outbox::fields::{Body, check_email_to, check_webhook_url},
    state::AppState,
    time::timestamp,
};

/// The conditions.
pub const CONDITIONS: &[&str] = &["threshold", "delta", "no_data"];
/// The comparison operators: `value <op> threshold_value`.
pub const OPERATORS: &[&str] = &["gt", "gte", "lt", "lte", "eq", "ne"];
/// Most tenants one alert evaluates.
pub const MAX_TENANTS: usize = 100;
/// The lookback used when none (or one ≤ 0) is given.
pub const DEFAULT_LOOKBACK_MINUTES: i64 = 60;
/// The longest lookback: a week.
pub const MAX_LOOKBACK_MINUTES: i64 = 7 * 24 * 60;
/// Events `GET /v1/alerts/{id}/events` lists.
pub const EVENTS_LISTED: u32 = 100;

const FIELDS: &[&str] = &[
    "dashboard_id",
    "widget_id",
    "name",
    "condition_type",
    "operator",
    "threshold_value",
    "lookback_minutes",
    "email_to",
    "webhook_url",
    "enabled",
    "tenant_id",
    "tenant_ids",
    "pending_minutes",
    "notify_on_resolve",
    "repeat_interval_minutes",
];

/// `value <op> threshold`.
pub fn compare(operator: &str, value: f64, threshold: f64) -> bool {
    match operator {
        "gt" => value > threshold,
        "gte" => value >= threshold,
        "lt" => value < threshold,
        "lte" => value <= threshold,
        "eq" => value == threshold,
        "ne" => value != threshold,
        _ => false,
    }
}

/// Why a widget cannot be alerted on, if it cannot: alerts compare one number, so grouped
/// widgets (breakdowns, tables) are refused.
pub fn not_evaluable(widget: &Widget) -> Option<String> {
    widget.query.group_by.as_ref().map(|g| {
        format!(
            "widget_id: widget {:?} is split by {:?}; alerts compare one number, so pick a metric or an \
             ungrouped timeseries widget",
            widget.id,
            clip(g)
        )
    })
}

fn check_tenant(field: &str, tenant: &str) -> Result<String> {
    let t = tenant.trim();
    if t.is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control) {
        return Err(AppError::invalid(format!("{field}: a tenant id is 1 to 200 characters")));
    }
    Ok(t.to_owned())
}

/// Applies a create or patch body to `rule`, checking every field (errors name it) and that the
/// widget exists on the dashboard and can be evaluated.
async fn apply(state: &AppState, rule: &mut AlertRule, body: &Value, creating: bool) -> Result<()> {
    let body = Body::new(body, FIELDS)?;
    let required = |field: &str, what: &str| AppError::invalid(format!("{field}: required ({what})"));
    if let Some(v) = body.string("dashboard_id", 64)? {
        rule.dashboard_id = v;
    } else if creating {
        return Err(required("dashboard_id", "the dashboard holding the widget"));
    }
    if let Some(v) = body.string("widget_id", 64)? {
        rule.widget_id = v;
    } else if creating {
        return Err(required("widget_id", "the widget whose value is watched"));
    }
    if let Some(v) = body.string("name", 200)? {
        rule.name = v;
    } else if creating {
        return Err(required("name", "a display name"));
    }
    if let Some(v) = body.string("condition_type", 32)? {
        if !CONDITIONS.contains(&v.as_str()) {
            return Err(AppError::invalid(format!(
                "condition_type: must be one of {} (got {:?})",
                CONDITIONS.join(", "),
                clip(&v)
            )));
        }
        rule.condition_type = v;
    } else if creating {
        return Err(required("condition_type", "one of threshold, delta, no_data"));
    }
    if let Some(v) = body.string("operator", 8)? {
        if !OPERATORS.contains(&v.as_str()) {
            return Err(AppError::invalid(format!(
                "operator: must be one of {} (got {:?})",
                OPERATORS.join(", "),
                clip(&v)
            )));
        }
        rule.operator = v;
    }
    let threshold = body.number("threshold_value")?;
    if let Some(v) = threshold {
        rule.threshold_value = v;
    }
    if rule.condition_type != "no_data" {
        if rule.operator.is_empty() {
            return Err(required(
                "operator",
                "threshold and delta alerts compare with gt, gte, lt, lte, eq or ne",
            ));
        }
        if creating && threshold.is_none() {
            return Err(required("threshold_value", "the number the value is compared with"));
        }
    } else if rule.operator.is_empty() {
        rule.operator = "eq".to_owned();
    }
    if let Some(v) = body.integer("lookback_minutes")? {
        if v > MAX_LOOKBACK_MINUTES {
            return Err(AppError::invalid(format!(
                "lookback_minutes: at most {MAX_LOOKBACK_MINUTES} (a week)"
            )));
        }
        rule.lookback_minutes = if v <= 0 { DEFAULT_LOOKBACK_MINUTES } else { v };
    } else if body.has("lookback_minutes") || creating {
        rule.lookback_minutes = DEFAULT_LOOKBACK_MINUTES;
    }
    match (body.has("tenant_id"), body.has("tenant_ids")) {
        (true, true) => {
            return Err(AppError::invalid("tenant_ids: give tenant_id or tenant_ids, not both"));
        }
        (true, false) => {
            let t = body.string("tenant_id", 200)?.ok_or_else(|| {
                AppError::invalid("tenant_id: must be a tenant id (alerts always read one tenant's data)")
            })?;
            rule.tenant_ids = vec![check_tenant("tenant_id", &t)?];
        }
        (false, true) => {
            let list = body.strings("tenant_ids")?.unwrap_or_default();
            if list.is_empty() || list.len() > MAX_TENANTS {
                return Err(AppError::invalid(format!("tenant_ids: 1 to {MAX_TENANTS} tenant ids")));
            }
            let mut tenants =
                list.iter().map(|t| check_tenant("tenant_ids", t)).collect::<Result<Vec<_>>>()?;
            tenants.sort();
            tenants.dedup();
            rule.tenant_ids = tenants;
        }
        (false, false) if creating => {
            return Err(required(
                "tenant_id",
                "the tenant whose data is watched; or tenant_ids, up to 100 tenants each evaluated on its own",
            ));
        }
        (false, false) => {}
    }
    if let Some(list) = body.strings("email_to")? {
        rule.email_to = check_email_to(list)?;
    } else if body.has("email_to") {
        rule.email_to.clear();
    }
    if body.has("webhook_url") {
        rule.webhook_url = match body.raw("webhook_url").filter(|v| !v.is_null()) {
            None => None,
            Some(v) => {
                let url = v.as_str().ok_or_else(|| AppError::invalid("webhook_url: must be a URL string"))?;
                let url = check_webhook_url(&state.webhook_policy.sender.guard, url).await?;
                state.webhooks.enable_target(rule.org_id, &url).await?;
                Some(url)
            }
        };
    }
    if let Some(v) = body.boolean("enabled")? {
        rule.enabled = v;
    }
    if let Some(v) = body.integer("pending_minutes")? {
        if !(0..=1440).contains(&v) {
            return Err(AppError::invalid("pending_minutes: 0 to 1440"));
        }
        rule.pending_minutes = v;
    }
    if let Some(v) = body.boolean("notify_on_resolve")? {
        rule.notify_on_resolve = v;
    }
    if body.has("repeat_interval_minutes") {
        rule.repeat_interval_minutes = match body.integer("repeat_interval_minutes")? {
            None | Some(0) => None,
            Some(v) if (1..=MAX_LOOKBACK_MINUTES).contains(&v) => Some(v),
            Some(_) => {
                return Err(AppError::invalid(format!(
                    "repeat_interval_minutes: 1 to {MAX_LOOKBACK_MINUTES}, or 0 or null for no repeats"
                )));
            }
        };
    }
    // The widget exists on that dashboard and yields one number.
    let dashboard =
        state.dashboards.dashboard(rule.org_id, rule.env_id, &rule.dashboard_id).await?.ok_or_else(|| {
            AppError::invalid(format!(
                "dashboard_id: no dashboard {:?} in this environment",
                clip(&rule.dashboard_id)
            ))
        })?;
    let widget = find_widget(&dashboard, &rule.widget_id)?;
    if let Some(why) = not_evaluable(widget) {
        return Err(AppError::invalid(why));
    }
    Ok(())
}

/// The widget `id` of the dashboard's effective content.
pub fn find_widget<'a>(dashboard: &'a Arc<DashboardRecord>, id: &str) -> Result<&'a Widget> {
    effective_config(dashboard).widgets.iter().find(|w| w.id == id).ok_or_else(|| {
        AppError::invalid(format!("widget_id: dashboard {:?} has no widget {:?}", dashboard.id, clip(id)))
    })
}

/// The overall state of an alert: the worst of its tenants'.
fn overall(states: &[AlertState]) -> &'static str {
    for s in ["firing", "error", "pending", "resolved"] {
        if states.iter().any(|st| st.state == s) {
            return s;
        }
    }
    "ok"
}

fn state_json(s: &AlertState) -> Value {
    json!({
        "tenant_id": s.tenant_id,
        "state": s.state,
        "since": timestamp(s.since),
        "value": s.value,
        "error": s.error,
        "last_notified_at": s.last_notified_at.map(timestamp),
        "evaluated_at": timestamp(s.evaluated_at),
    })
}

/// An alert as the API shows it, with its states and next evaluation.
pub async fn to_json(state: &AppState, rule: &AlertRule) -> Result<Value> {
    let states = state.alerts.alert_states(rule.id).await?;
    let next = state.jobs.open_job_due(JobKind::Alert, rule.id).await?;
    Ok(json!({
        "id": rule.id,
        "dashboard_id": rule.dashboard_id,
        "widget_id": rule.widget_id,
        "name": rule.name,
        "condition_type": rule.condition_type,
        "operator": rule.operator,
        "threshold_value": rule.threshold_value,
        "lookback_minutes": rule.lookback_minutes,
        "tenant_id": (rule.tenant_ids.len() == 1).then(|| rule.tenant_ids[0].clone()),
        "tenant_ids": rule.tenant_ids,
        "email_to": rule.email_to,
        "webhook_url": rule.webhook_url,
        "enabled": rule.enabled,
        "pending_minutes": rule.pending_minutes,
        "notify_on_resolve": rule.notify_on_resolve,
        "repeat_interval_minutes": rule.repeat_interval_minutes,
        "state": overall(&states),
        "states": states.iter().map(state_json).collect::<Vec<_>>(),
        "next_evaluation_at": next.map(timestamp),
        "created_by": rule.created_by,
        "created_at": timestamp(rule.created_at),
        "updated_at": timestamp(rule.updated_at),
    }))
}

/// An event as `GET /v1/alerts/{id}/events` lists it.
pub fn event_json(e: &AlertEvent) -> Value {
    json!({
        "id": e.id,
        "alert_id": e.alert_id,
        "kind": e.kind,
        "tenant_id": e.tenant_id,
        "value": e.value,
        "threshold_value": e.threshold_value,
        "message": e.message,
        "created_at": timestamp(e.created_at),
        "delivery": {
            "email": e.email_status,
            "webhook": e.webhook_status,
            "webhook_attempts": e.webhook_attempts,
        },
    })
}

/// The 404 of an alert id the org does not have.
pub fn missing(id: &str) -> AppError {
    AppError::NotFound(format!("no alert {:?}", clip(id)))
}

/// Parses a path id: positive numbers only.
pub fn parse_id(id: &str) -> Result<i64> {
    id.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| missing(id))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<AlertRule> {
    let n = parse_id(id)?;
    state.alerts.alert(caller.org_id, n).await?.ok_or_else(|| missing(id))
}

/// Writes the rule's next evaluation (now) or cancels it when disabled.
async fn reschedule(state: &AppState, rule: &AlertRule, now: DateTime<Utc>) -> Result<()> {
    if rule.enabled {
        state.jobs.schedule_job(JobKind::Alert, rule.id, rule.org_id, now).await
    } else {
        state.jobs.cancel_jobs(JobKind::Alert, rule.id, now).await
    }
}

/// `GET /v1/alerts`.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Value> {
    let mut out = Vec::new();
    for rule in state.alerts.list_alerts(caller.org_id).await? {
        out.push(to_json(state, &rule).await?);
    }
    Ok(json!({ "alerts": out }))
}

/// `GET /v1/alerts/{id}`.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> Result<Value> {
    to_json(state, &load(state, caller, id).await?).await
}

/// `POST /v1/alerts`.
pub async fn create(state: &AppState, caller: &Caller, body: &Value) -> Result<Value> {
    let now = Utc::now();
    let mut rule = AlertRule {
        id: 0,
        org_id: caller.org_id,
        env_id: caller.env.id,
        dashboard_id: String::new(),
        widget_id: String::new(),
        name: String::new(),
        condition_type: String::new(),
        operator: String::new(),
        threshold_value: 0.0,
        lookback_minutes: DEFAULT_LOOKBACK_MINUTES,
        tenant_ids: Vec::new(),
        email_to: Vec::new(),
        webhook_url: None,
        enabled: true,
        pending_minutes: 0,
        notify_on_resolve: true,
        repeat_interval_minutes: None,
        created_by: caller.actor(),
        created_at: now,
        updated_at: now,
    };
    apply(state, &mut rule, body, true).await?;
    let cap = state.billing.cap(caller.org_id, Gate::Alerts).await?;
    let rule = cap.enforce(state.alerts.create_alert(&rule, cap.limit()).await?)?;
    reschedule(state, &rule, state.clock.now()).await?;
    audit::record(
        &*state.dashboards,
        caller.audit("alert.create", format!("alert:{}", rule.id), json!({ "name": rule.name })),
    )
    .await?;
    to_json(state, &rule).await
}

/// `PATCH /v1/alerts/{id}`. A change to what is evaluated starts its states afresh.
pub async fn update(state: &AppState, caller: &Caller, id: &str, body: &Value) -> Result<Value> {
    let before = load(state, caller, id).await?;
    let mut rule = before.clone();
    apply(state, &mut rule, body, false).await?;
    rule.updated_at = Utc::now();
    if !state.alerts.update_alert(&rule).await? {
        return Err(missing(id));
    }
    let evaluated = |r: &AlertRule| {
        (
            r.dashboard_id.clone(),
            r.widget_id.clone(),
            r.condition_type.clone(),
            r.operator.clone(),
            r.threshold_value.to_bits(),
            r.lookback_minutes,
            r.tenant_ids.clone(),
            r.enabled,
        )
    };
    if evaluated(&before) != evaluated(&rule) {
        state.alerts.clear_alert_states(rule.id).await?;
    }
    reschedule(state, &rule, state.clock.now()).await?;
    audit::record(
        &*state.dashboards,
        caller.audit("alert.update", format!("alert:{}", rule.id), json!({ "name": rule.name })),
    )
    .await?;
    to_json(state, &rule).await
}

/// `DELETE /v1/alerts/{id}`.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    let n = parse_id(id)?;
    if !state.alerts.delete_alert(caller.org_id, n).await? {
        return Err(missing(id));
    }
    state.jobs.cancel_jobs(JobKind::Alert, n, state.clock.now()).await?;
    audit::record(&*state.dashboards, caller.audit("alert.delete", format!("alert:{n}"), json!({}))).await?;
    Ok(())
}

/// `GET /v1/alerts/{id}/events`: the newest first.
pub async fn events(state: &AppState, caller: &Caller, id: &str) -> Result<Value> {
    let rule = load(state, caller, id).await?;
    let events = state.alerts.alert_events(rule.id, EVENTS_LISTED).await?;
    Ok(json!({ "events": events.iter().map(event_json).collect::<Vec<_>>() }))
}
