//! Usage counters (events stored through the API, queries answered), buffered in memory and
//! flushed to the metadata store every two seconds, at shutdown and before every read; plus the
//! `/v1/usage` and `/v1/onboarding/status` endpoints built on them.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{RawQuery, State},
    routing::get,
};
use chrono::{Days, NaiveDate, Utc};
use contract::query::Period;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::{
    auth::ConsoleOrAdminKey,
    error::{AppError, Result},
    meta::MetaStore,
    state::AppState,
};

/// Counter names.
pub const EVENTS_INGESTED: &str = "events_ingested";
/// Counter names.
pub const QUERIES: &str = "queries";

type Key = (i64, i64, String, String);

/// In-memory usage increments waiting to be written.
#[derive(Clone)]
pub struct UsageRecorder {
    pending: Arc<std::sync::Mutex<HashMap<Key, i64>>>,
    meta: Arc<dyn MetaStore>,
    flushing: Arc<Mutex<()>>,
}

impl UsageRecorder {
    /// A recorder writing to `meta`.
    pub fn new(meta: Arc<dyn MetaStore>) -> Self {
        UsageRecorder { pending: Default::default(), meta, flushing: Default::default() }
    }

    /// Adds `delta` to today's `metric` for the org and environment.
    pub fn add(&self, org_id: i64, env_id: i64, metric: &str, delta: i64) {
        if delta == 0 {
            return;
        }
        let day = Utc::now().format("%Y-%m-%d").to_string();
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry((org_id, env_id, day, metric.to_owned())).or_default() += delta;
        }
    }

    /// Writes pending increments. On failure they are put back for the next try.
    pub async fn flush(&self) -> Result<()> {
        let _one_at_a_time = self.flushing.lock().await;
        let batch: Vec<_> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Err(AppError::Internal(anyhow::anyhow!("usage counters poisoned"))),
        };
        let rows: Vec<_> = batch.iter().map(|((o, e, d, m), v)| (*o, *e, d.clone(), m.clone(), *v)).collect();
        if let Err(e) = self.meta.add_usage(&rows).await {
            if let Ok(mut pending) = self.pending.lock() {
                for (key, v) in batch {
                    *pending.entry(key).or_default() += v;
                }
            }
            return Err(e);
        }
        Ok(())
    }

    /// Flushes every two seconds until the returned task is aborted.
    pub fn spawn_flusher(&self) -> tokio::task::JoinHandle<()> {
        let recorder = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tick.tick().await;
                if let Err(e) = recorder.flush().await {
                    tracing::warn!(error = %e, "flushing usage counters failed; will retry");
                }
            }
        })
    }
}

/// `/v1/usage` and `/v1/onboarding/status`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/usage", get(get_usage))
        .route("/v1/onboarding/status", get(get_onboarding_status))
}

async fn get_usage(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let mut period = Period::D30;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*key {
            "period" => {
                period = Period::parse(&value).ok_or_else(|| {
                    AppError::invalid(format!("period: must be one of 1h, 24h, 7d, 30d, 90d (got {value:?})"))
                })?;
            }
            other => return Err(AppError::invalid(format!("unknown query parameter {other:?}"))),
        }
    }
    state.usage.flush().await?;
    let today = Utc::now().date_naive();
    let days = (period.hours() / 24).max(1) as u64;
    let first = today.checked_sub_days(Days::new(days - 1)).unwrap_or(today);
    let rows = state.meta.usage_since(caller.org_id, &first.format("%Y-%m-%d").to_string()).await?;
    let mut by_day: HashMap<(String, String), i64> = HashMap::new();
    for r in rows {
        by_day.insert((r.day, r.metric), r.value);
    }
    let mut totals = (0i64, 0i64);
    let daily: Vec<Value> = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d: NaiveDate| {
            let day = d.format("%Y-%m-%d").to_string();
            let events = by_day.get(&(day.clone(), EVENTS_INGESTED.to_owned())).copied().unwrap_or(0);
            let queries = by_day.get(&(day.clone(), QUERIES.to_owned())).copied().unwrap_or(0);
            totals.0 += events;
            totals.1 += queries;
            json!({ "day": day, EVENTS_INGESTED: events, QUERIES: queries })
        })
        .collect();
    Ok(Json(json!({
        "period": period,
        "from": first.format("%Y-%m-%d").to_string(),
        "to": today.format("%Y-%m-%d").to_string(),
        "totals": { EVENTS_INGESTED: totals.0, QUERIES: totals.1 },
        "daily": daily,
    })))
}

async fn get_onboarding_status(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<Value>> {
    state.usage.flush().await?;
    let org =
        state.meta.org(caller.org_id).await?.ok_or_else(|| AppError::NotFound("org not found".into()))?;
    let real_events = state.meta.usage_total(caller.org_id, EVENTS_INGESTED).await?;
    let queries = state.meta.usage_total(caller.org_id, QUERIES).await?;
    let total_events = state.events.count_org_events(caller.org_id).await?;
    let keys = state.meta.list_api_keys(caller.org_id).await?;
    let sample_events = total_events.saturating_sub(real_events.max(0) as u64);
    Ok(Json(json!({
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
    })))
}
