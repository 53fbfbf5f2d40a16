//! `GET /v1/query`: a metric over time or by group, for the caller's org and environment.

use std::time::Instant;

use axum::{
    Json, Router,
    extract::{RawQuery, State},
    routing::get,
};
use chrono::Utc;
use contract::query::QueryResponse;

use crate::{
    analytics::query::{QueryRequest, shape},
    auth::Caller,
    error::Result,
    meta::usage::QUERIES,
    state::AppState,
};

/// `/v1/query`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/query", get(get_query))
}

async fn get_query(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<QueryResponse>> {
    let started = Instant::now();
    let request = QueryRequest::parse(raw.as_deref().unwrap_or(""))?;
    let spec = request.spec(Utc::now());
    let scope = caller.scope();
    let answer = state.events.query(scope, &spec).await?;
    let response = shape(&request, &spec, answer, started);
    state.usage.add(caller.org_id, caller.env.id, QUERIES, 1);
    Ok(Json(response))
}
