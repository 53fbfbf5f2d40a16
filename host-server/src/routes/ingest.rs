//! `POST /v1/events`: a validated batch, stored durably, atomically and de-duplicated.

use axum::{Json, Router, body::Body, extract::State, http::HeaderMap, routing::post};
use chrono::Utc;
use contract::events::IngestResponse;

use crate::{
    auth::Caller,
    error::{AppError, Result},
    ingest::{MAX_BODY_BYTES, parse_events},
    meta::usage::EVENTS_INGESTED,
    routes::extract::require_json,
    state::AppState,
};

/// `/v1/events`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(post_events))
}

async fn post_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>> {
    state.limits.check_ingest(caller.ingest_key())?;
    require_json(&headers)?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        AppError::TooLarge(format!("request body is over the limit of {MAX_BODY_BYTES} bytes (10 MiB)"))
    })?;
    let events = parse_events(&bytes, Utc::now(), state.ingest_bounds)?;
    let scope = caller.scope();
    // The month's cap refuses the whole batch before anything is stored.
    let reservation = state.billing.reserve_events(caller.org_id, events.len()).await?;
    let outcome = state.events.insert(scope, events).await;
    state.billing.settle(reservation, outcome.as_ref().map_or(0, |o| o.stored));
    let outcome = outcome?;
    state.usage.add(caller.org_id, caller.env.id, EVENTS_INGESTED, outcome.stored as i64);
    Ok(Json(IngestResponse {
        accepted: outcome.stored,
        status: "ok".to_owned(),
        duplicates: outcome.duplicates,
    }))
}
