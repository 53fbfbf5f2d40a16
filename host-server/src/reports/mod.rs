//! Scheduled reports (`/v1/reports`): a dashboard's widgets for one tenant, filter period and
//! dimension filters, run on a cron schedule in a time zone by the scheduler, rendered (CSV:
//! one section per widget, `csv`) and delivered by mail (attached) and signed webhook
//! (docs/alerts.md, "Scheduled reports"). PNG and PDF are refused until the chart code is
//! shared with the runtime.

pub mod csv;

use std::{collections::BTreeMap, str::FromStr, time::Instant};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use contract::query::Period;
use croner::Cron;
use serde_json::{Value, json};

use crate::{
    analytics::widget::{ResolvedFilters, evaluate_at},
    auth::Caller,
    billing::limits::Gate,
    dashboards::effective_config,
    error::{AppError, Result, clip},
    events::{StoreScope, valid_prop_key},
    meta::{
        audit,
        dashboards::DashboardRecord,
        jobs::JobKind,
        reports::{ReportRule, ReportRun},
    },
    outbox::{
        self,
        fields::{Body, check_email_to, check_webhook_url},
    },
    render,
    state::AppState,
    time::timestamp,
};

/// Runs `GET /v1/reports/{id}/runs` lists.
pub const RUNS_LISTED: u32 = 100;
/// Upcoming run times shown in a report's JSON.
pub const NEXT_RUNS_SHOWN: usize = 3;
/// Largest export put inline in the webhook payload.
pub const MAX_INLINE_BYTES: usize = 256 * 1024;
/// The formats a report is delivered in: CSV (one section per widget), or the dashboard drawn as
/// the embed draws it (`render`) as a PNG or a one-page PDF.
pub const FORMATS: &[&str] = &["csv", "png", "pdf"];

const FIELDS: &[&str] = &[
    "dashboard_id",
    "tenant_id",
    "name",
    "period",
    "filters",
    "schedule",
    "timezone",
    "format",
    "email_to",
    "webhook_url",
    "enabled",
    "skip_if_empty",
];

/// Parses a 5-field cron expression (or a nickname such as `@daily`).
pub fn parse_schedule(text: &str) -> Result<Cron> {
    Cron::new(text).parse().map_err(|e| {
        AppError::invalid(format!(
            "schedule: not a cron expression of 5 fields (minute hour day-of-month month day-of-week): {e}"
        ))
    })
}

/// Parses an IANA time zone name.
pub fn parse_timezone(text: &str) -> Result<Tz> {
    Tz::from_str(text).map_err(|_| {
        AppError::invalid(format!("timezone: {:?} is not an IANA time zone such as Europe/Paris", clip(text)))
    })
}

/// The next `n` run times strictly after `after`.
pub fn next_runs(rule: &ReportRule, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    let (Ok(cron), Ok(tz)) = (parse_schedule(&rule.schedule), parse_timezone(&rule.timezone)) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(n);
    let mut t = after.with_timezone(&tz);
    while out.len() < n {
        match cron.find_next_occurrence(&t, false) {
            Ok(next) => {
                out.push(next.with_timezone(&Utc));
                t = next;
            }
            Err(_) => break,
        }
    }
    out
}

async fn load_dashboard(
    state: &AppState,
    rule: &ReportRule,
) -> Result<Option<std::sync::Arc<DashboardRecord>>> {
    state.dashboards.dashboard(rule.org_id, rule.env_id, &rule.dashboard_id).await
}

/// Applies a create or patch body to `rule`; every error names its field.
async fn apply(state: &AppState, rule: &mut ReportRule, body: &Value, creating: bool) -> Result<()> {
    let body = Body::new(body, FIELDS)?;
    let required = |field: &str, what: &str| AppError::invalid(format!("{field}: required ({what})"));
    if let Some(v) = body.string("dashboard_id", 64)? {
        rule.dashboard_id = v;
    } else if creating {
        return Err(required("dashboard_id", "the dashboard to export"));
    }
    if let Some(v) = body.string("tenant_id", 200)? {
        rule.tenant_id = v;
    } else if creating {
        return Err(required("tenant_id", "the tenant whose data the report shows"));
    }
    if let Some(v) = body.string("name", 200)? {
        rule.name = v;
    }
    if let Some(v) = body.string("period", 8)? {
        let period = Period::parse(&v).ok_or_else(|| {
            AppError::invalid(format!(
                "period: must be one of {} (got {:?})",
                Period::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "),
                clip(&v)
            ))
        })?;
        rule.period = period.as_str().to_owned();
    }
    if body.has("filters") {
        let mut filters = BTreeMap::new();
        if let Some(v) = body.raw("filters").filter(|v| !v.is_null()) {
            let map = v.as_object().ok_or_else(|| {
                AppError::invalid("filters: must be an object of dimension filters, {\"plan\": \"pro\"}")
            })?;
            if map.len() > 20 {
                return Err(AppError::invalid("filters: at most 20 dimension filters"));
            }
            for (key, value) in map {
                if !valid_prop_key(key) {
                    return Err(AppError::invalid(format!(
                        "filters: {:?} is not a dimension name of 1 to 200 characters",
                        clip(key)
                    )));
                }
                let value = value.as_str().filter(|s| s.chars().count() <= 1000).ok_or_else(|| {
                    AppError::invalid(format!("filters.{key}: must be a string of at most 1000 characters"))
                })?;
                filters.insert(key.clone(), value.to_owned());
            }
        }
        rule.filters = filters;
    }
    if let Some(v) = body.string("schedule", 200)? {
        parse_schedule(&v)?;
        rule.schedule = v;
    } else if creating {
        return Err(required("schedule", "a cron expression such as \"0 9 * * 1\" (Mondays at 09:00)"));
    }
    if let Some(v) = body.string("timezone", 64)? {
        rule.timezone = parse_timezone(&v)?.name().to_owned();
    }
    if let Some(v) = body.string("format", 8)? {
        let v = v.to_ascii_lowercase();
        if !FORMATS.contains(&v.as_str()) {
            return Err(AppError::invalid(format!("format: must be csv, png or pdf (got {:?})", clip(&v))));
        }
        rule.format = v;
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
    if let Some(v) = body.boolean("skip_if_empty")? {
        rule.skip_if_empty = v;
    }
    if rule.email_to.is_empty() && rule.webhook_url.is_none() {
        return Err(AppError::invalid(
            "email_to: give email_to, webhook_url or both: a report needs somewhere to go",
        ));
    }
    let dashboard = load_dashboard(state, rule).await?.ok_or_else(|| {
        AppError::invalid(format!(
            "dashboard_id: no dashboard {:?} in this environment",
            clip(&rule.dashboard_id)
        ))
    })?;
    if rule.name.is_empty() {
        rule.name = dashboard.name.clone();
    }
    Ok(())
}

fn run_json(run: &ReportRun) -> Value {
    json!({
        "id": run.id,
        "report_id": run.report_id,
        "status": run.status,
        "scheduled_for": timestamp(run.scheduled_for),
        "started_at": timestamp(run.started_at),
        "finished_at": run.finished_at.map(timestamp),
        "delivery": { "email": run.email_status, "webhook": run.webhook_status },
        "error": run.error,
        "bytes": run.bytes,
    })
}

/// A report as the API shows it, with its next run times.
pub async fn to_json(state: &AppState, rule: &ReportRule) -> Result<Value> {
    let next = state.jobs.open_job_due(JobKind::Report, rule.id).await?;
    let upcoming = next_runs(rule, state.clock.now(), NEXT_RUNS_SHOWN);
    let last = state.reports.report_runs(rule.id, 1).await?.into_iter().next();
    Ok(json!({
        "id": rule.id,
        "dashboard_id": rule.dashboard_id,
        "tenant_id": rule.tenant_id,
        "name": rule.name,
        "period": rule.period,
        "filters": rule.filters,
        "schedule": rule.schedule,
        "timezone": rule.timezone,
        "format": rule.format,
        "email_to": rule.email_to,
        "webhook_url": rule.webhook_url,
        "enabled": rule.enabled,
        "skip_if_empty": rule.skip_if_empty,
        "next_run_at": if rule.enabled { next.map(timestamp) } else { None },
        "next_runs": if rule.enabled { upcoming.into_iter().map(timestamp).collect::<Vec<_>>() } else { Vec::new() },
        "last_run": last.as_ref().map(run_json),
        "created_by": rule.created_by,
        "created_at": timestamp(rule.created_at),
        "updated_at": timestamp(rule.updated_at),
    }))
}

/// The 404 of a report id the org does not have.
pub fn missing(id: &str) -> AppError {
    AppError::NotFound(format!("no report {:?}", clip(id)))
}

fn parse_id(id: &str) -> Result<i64> {
    id.parse::<i64>().ok().filter(|i| *i > 0).ok_or_else(|| missing(id))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> Result<ReportRule> {
    state.reports.report(caller.org_id, parse_id(id)?).await?.ok_or_else(|| missing(id))
}

/// The next due time of report `id` after `now` (`None`: gone or disabled).
pub async fn next_due(state: &AppState, id: i64, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    let Some(rule) = state.reports.report_by_id(id).await? else { return Ok(None) };
    if !rule.enabled {
        return Ok(None);
    }
    Ok(next_runs(&rule, now, 1).into_iter().next())
}

async fn reschedule(state: &AppState, rule: &ReportRule) -> Result<()> {
    let now = state.clock.now();
    match next_runs(rule, now, 1).into_iter().next().filter(|_| rule.enabled) {
        Some(due) => state.jobs.schedule_job(JobKind::Report, rule.id, rule.org_id, due).await,
        None => state.jobs.cancel_jobs(JobKind::Report, rule.id, now).await,
    }
}

/// `GET /v1/reports`.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Value> {
    let mut out = Vec::new();
    for rule in state.reports.list_reports(caller.org_id).await? {
        out.push(to_json(state, &rule).await?);
    }
    Ok(json!({ "reports": out }))
}

/// `GET /v1/reports/{id}`.
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> Result<Value> {
    to_json(state, &load(state, caller, id).await?).await
}

/// `POST /v1/reports`.
pub async fn create(state: &AppState, caller: &Caller, body: &Value) -> Result<Value> {
    let now = Utc::now();
    let mut rule = ReportRule {
        id: 0,
        org_id: caller.org_id,
        env_id: caller.env.id,
        dashboard_id: String::new(),
        tenant_id: String::new(),
        name: String::new(),
        period: Period::D7.as_str().to_owned(),
        filters: BTreeMap::new(),
        schedule: String::new(),
        timezone: "UTC".to_owned(),
        format: "csv".to_owned(),
        email_to: Vec::new(),
        webhook_url: None,
        enabled: true,
        skip_if_empty: false,
        created_by: caller.actor(),
        created_at: now,
        updated_at: now,
    };
    apply(state, &mut rule, body, true).await?;
    let cap = state.billing.cap(caller.org_id, Gate::Reports).await?;
    let rule = cap.enforce(state.reports.create_report(&rule, cap.limit()).await?)?;
    reschedule(state, &rule).await?;
    audit::record(
        &*state.dashboards,
        caller.audit("report.create", format!("report:{}", rule.id), json!({ "name": rule.name })),
    )
    .await?;
    to_json(state, &rule).await
}

/// `PATCH /v1/reports/{id}`.
pub async fn update(state: &AppState, caller: &Caller, id: &str, body: &Value) -> Result<Value> {
    let mut rule = load(state, caller, id).await?;
    apply(state, &mut rule, body, false).await?;
    rule.updated_at = Utc::now();
    if !state.reports.update_report(&rule).await? {
        return Err(missing(id));
    }
    reschedule(state, &rule).await?;
    audit::record(
        &*state.dashboards,
        caller.audit("report.update", format!("report:{}", rule.id), json!({ "name": rule.name })),
    )
    .await?;
    to_json(state, &rule).await
}

/// `DELETE /v1/reports/{id}`.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    let n = parse_id(id)?;
    if !state.reports.delete_report(caller.org_id, n).await? {
        return Err(missing(id));
    }
    state.jobs.cancel_jobs(JobKind::Report, n, state.clock.now()).await?;
    audit::record(&*state.dashboards, caller.audit("report.delete", format!("report:{n}"), json!({})))
        .await?;
    Ok(())
}

/// `GET /v1/reports/{id}/runs`: the newest first.
pub async fn runs(state: &AppState, caller: &Caller, id: &str) -> Result<Value> {
    let rule = load(state, caller, id).await?;
    let runs = state.reports.report_runs(rule.id, RUNS_LISTED).await?;
    Ok(json!({ "runs": runs.iter().map(run_json).collect::<Vec<_>>() }))
}

/// Runs report `id` for its occurrence `scheduled_for`: renders, delivers, records the run.
/// `false` when the report is gone or disabled.
pub async fn run(
    state: &AppState,
    id: i64,
    scheduled_for: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some(rule) = state.reports.report_by_id(id).await? else { return Ok(false) };
    if !rule.enabled {
        return Ok(false);
    }
    let mut run = ReportRun {
        id: 0,
        report_id: rule.id,
        org_id: rule.org_id,
        scheduled_for,
        started_at: now,
        finished_at: None,
        status: "running".to_owned(),
        email_status: None,
        webhook_status: None,
        error: None,
        bytes: None,
    };
    run.id = state.reports.add_report_run(&run).await?;
    let outcome = render_and_deliver(state, &rule, &mut run, now).await;
    if let Err(e) = outcome {
        run.status = "failed".to_owned();
        run.error = Some(e.to_string());
    }
    run.finished_at = Some(state.clock.now());
    state.reports.finish_report_run(&run).await?;
    Ok(true)
}

async fn render_and_deliver(
    state: &AppState,
    rule: &ReportRule,
    run: &mut ReportRun,
    now: DateTime<Utc>,
) -> Result<()> {
    let dashboard = load_dashboard(state, rule).await?.ok_or_else(|| {
        AppError::invalid(format!("dashboard_id: dashboard {:?} no longer exists", rule.dashboard_id))
    })?;
    let period = Period::parse(&rule.period).unwrap_or(Period::D7);
    let filters = ResolvedFilters {
        period,
        dimensions: rule.filters.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        numeric_ranges: Vec::new(),
        date_range: None,
        max_range_days: None,
    };
    let scope = StoreScope { org_id: rule.org_id, env_id: rule.env_id };
    let widgets = &effective_config(&dashboard).widgets;
    let mut sections = Vec::with_capacity(widgets.len());
    for widget in widgets {
        let data =
            evaluate_at(&*state.events, scope, &rule.tenant_id, widget, &filters, Instant::now(), now).await;
        sections.push((widget, data));
    }
    let empty = !sections
        .iter()
        .any(|(_, d)| matches!(d, Ok(d) if d.data.iter().any(|r| r.value.is_some_and(|v| v != 0.0))));
    if empty && rule.skip_if_empty {
        run.status = "skipped".to_owned();
        run.error = Some("every widget was empty (skip_if_empty)".to_owned());
        return Ok(());
    }
    let (document, content_type, extension) = document(rule, &dashboard, &sections, now).await?;
    run.bytes = Some(i64::try_from(document.len()).unwrap_or(i64::MAX));
    let filename =
        format!("report-{}-{}.{extension}", rule.id, scheduled_stamp(run.scheduled_for, &rule.timezone));
    let mut failures = Vec::new();
    let failed_widgets: Vec<String> = sections
        .iter()
        .filter_map(|(w, d)| d.as_ref().err().map(|e| format!("widget {}: {e}", w.id)))
        .collect();
    failures.extend(failed_widgets);
    if !rule.email_to.is_empty() {
        let status = match &state.mailer {
            None => "not_configured".to_owned(),
            Some(mailer) => {
                let subject = format!("[Emban] Report: {} ({})", rule.name, rule.tenant_id);
                let body = format!(
                    "Your scheduled report \"{}\" for tenant {} (period {}) is attached as {filename}.\n\n\
                     Dashboard: {}/dashboards/{}\nScheduled for: {}\n",
                    rule.name,
                    rule.tenant_id,
                    rule.period,
                    state.public_url,
                    rule.dashboard_id,
                    timestamp(run.scheduled_for),
                );
                match mailer
                    .send_to_all(
                        &rule.email_to,
                        &subject,
                        body,
                        Some((filename.as_str(), content_type, document.clone())),
                    )
                    .await
                {
                    Ok(()) => "sent".to_owned(),
                    Err(AppError::Internal(e)) => format!("failed: {e:#}"),
                    Err(e) => format!("failed: {e}"),
                }
            }
        };
        if status.starts_with("failed") {
            failures.push(format!("email: {status}"));
        }
        run.email_status = Some(status);
    }
    if let Some(url) = &rule.webhook_url {
        let inline = document.len() <= MAX_INLINE_BYTES;
        // CSV inline as text; a PNG or PDF as base64.
        let text = (content_type == "text/csv").then(|| String::from_utf8_lossy(&document).into_owned());
        let base64 = match &text {
            None if inline => Some(base64::engine::general_purpose::STANDARD.encode(&document)),
            _ => None,
        };
        let data = json!({
            "report_id": rule.id,
            "run_id": run.id,
            "name": rule.name,
            "dashboard_id": rule.dashboard_id,
            "tenant_id": rule.tenant_id,
            "period": rule.period,
            "scheduled_for": timestamp(run.scheduled_for),
            "format": rule.format,
            "filename": filename,
            "content_type": content_type,
            "bytes": document.len(),
            "content": if inline { text } else { None },
            "content_base64": base64,
        });
        outbox::enqueue(
            &*state.webhooks,
            rule.org_id,
            url,
            "report.completed",
            data,
            format!("report_run:{}", run.id),
            now,
        )
        .await?;
    }
    run.status = if failures.is_empty() { "succeeded" } else { "failed" }.to_owned();
    run.error = (!failures.is_empty()).then(|| failures.join("; "));
    Ok(())
}

/// The run's document in the rule's format: (bytes, content type, file extension). PNG and PDF
/// are drawn by `render` (the embed runtime's chart code) on the blocking pool.
async fn document(
    rule: &ReportRule,
    dashboard: &DashboardRecord,
    sections: &[(&contract::dashboard::Widget, Result<contract::dashboard::WidgetData>)],
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, &'static str, &'static str)> {
    if !matches!(rule.format.as_str(), "png" | "pdf") {
        return Ok((csv::render(rule, dashboard, sections, now).into_bytes(), "text/csv", "csv"));
    }
    let mut subtitle = format!("Tenant {} · period {} · {}", rule.tenant_id, rule.period, timestamp(now));
    for (key, value) in &rule.filters {
        subtitle.push_str(&format!(" · {key} = {value}"));
    }
    let page = render::ReportPage {
        title: &dashboard.name,
        subtitle: &subtitle,
        locale: "en-US",
        now: now.timestamp(),
        widgets: sections
            .iter()
            .map(|(widget, data)| render::ReportWidget {
                widget,
                data: data.as_ref().map_err(|e| e.to_string()),
            })
            .collect(),
    };
    let svg = render::svg(&page);
    let pdf = rule.format == "pdf";
    let drawn =
        tokio::task::spawn_blocking(move || if pdf { render::pdf(&svg) } else { render::png(&svg, 2.0) })
            .await?
            .map_err(|e| AppError::Internal(anyhow::anyhow!(e)))?;
    Ok(if pdf { (drawn, "application/pdf", "pdf") } else { (drawn, "image/png", "png") })
}

fn scheduled_stamp(t: DateTime<Utc>, timezone: &str) -> String {
    match Tz::from_str(timezone) {
        Ok(tz) => t.with_timezone(&tz).format("%Y%m%d-%H%M").to_string(),
        Err(_) => t.format("%Y%m%d-%H%M").to_string(),
    }
}
