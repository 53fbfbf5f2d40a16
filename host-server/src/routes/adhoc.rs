//! `POST /v1/query/adhoc`: read-only SQL confined to the caller's org and environment.

use axum::{Json, Router, extract::State, routing::post};

use crate::{
    analytics::adhoc::{self, AdhocRequest, AdhocResponse},
    auth::Caller,
    error::{ApiJson, Result},
    state::AppState,
};

/// `POST /v1/query/adhoc`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/query/adhoc", post(post_adhoc))
}

async fn post_adhoc(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AdhocRequest>,
) -> Result<Json<AdhocResponse>> {
    let scope = caller.scope();
    Ok(Json(adhoc::run(&*state.events, &state.adhoc, scope, &body.sql).await?))
}
