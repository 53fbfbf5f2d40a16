//! Usage reports built on the counters (`meta::usage`): `GET /v1/usage` by day and the
//! onboarding checklist of `GET /v1/onboarding/status`.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, Utc};
use contract::query::Period;
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    error::{AppError, Result},
    meta::usage::{EVENTS_INGESTED, QUERIES},
    state::AppState,
    time::day,
};

/// The org's counters by day over `period` (whole UTC days, today included), with totals.
pub async fn report(state: &AppState, caller: &Caller, period: Period) -> Result<Value> {
    state.usage.flush().await?;
    let today = Utc::now().date_naive();
    let days = (period.hours() / 24).max(1) as u64;
    let first = today.checked_sub_days(Days::new(days - 1)).unwrap_or(today);
    let rows = state.meta.usage_since(caller.org_id, &day(first)).await?;
    let mut by_day: HashMap<(String, String), i64> = HashMap::new();
    for r in rows {
        by_day.insert((r.day, r.metric), r.value);
    }
    let mut totals = (0i64, 0i64);
    let daily: Vec<Value> = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d: NaiveDate| {
            let day = day(d);
            let events = by_day.get(&(day.clone(), EVENTS_INGESTED.to_owned())).copied().unwrap_or(0);
            let queries = by_day.get(&(day.clone(), QUERIES.to_owned())).copied().unwrap_or(0);
            totals.0 += events;
            totals.1 += queries;
            json!({ "day": day, EVENTS_INGESTED: events, QUERIES: queries })
        })
        .collect();
    Ok(json!({
        "period": period,
        "from": day(first),
        "to": day(today),
        "totals": { EVENTS_INGESTED: totals.0, QUERIES: totals.1 },
        "daily": daily,
    }))
}

/// Where the org is in getting started, and whether its events are only the sample's.
pub async fn onboarding(state: &AppState, caller: &Caller) -> Result<Value> {
    state.usage.flush().await?;
    let org =
        state.meta.org(caller.org_id).await?.ok_or_else(|| AppError::NotFound("org not found".into()))?;
    let real_events = state.meta.usage_total(caller.org_id, EVENTS_INGESTED).await?;
    let queries = state.meta.usage_total(caller.org_id, QUERIES).await?;
    let total_events = state.events.count_org_events(caller.org_id).await?;
    let keys = state.meta.list_api_keys(caller.org_id).await?;
    let sample_events = total_events.saturating_sub(real_events.max(0) as u64);
    Ok(json!({
        "sample_only": real_events == 0 && sample_events > 0,
        "real_events": real_events,
        "sample_events": sample_events,
        "total_events": total_events,
        "is_demo": org.is_demo,
        "steps": {
            "account_created": true,
            "api_key_created": !keys.is_empty(),
            "first_event_sent": real_events > 0,
            "first_query_run": queries > 0,
        },
    }))
}
