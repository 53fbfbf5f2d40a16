//! `GET /v1/demo/embed-url`: a public session on the demo dashboard, rate limited per address.

use axum::{
    Json,
    extract::{RawQuery, State},
    http::StatusCode,
};
use contract::embed::CreateEmbedSessionResponse;

use crate::{
    demo::mint_demo_session,
    error::{AppError, Result, clip},
    routes::extract::ClientIp,
    state::AppState,
};

pub(super) async fn get_demo_embed_url(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> Result<(StatusCode, Json<CreateEmbedSessionResponse>)> {
    if !state.demo {
        return Err(AppError::NotFound("this server has no demo org".into()));
    }
    state.limits.check_demo(ip)?;
    let mut tenant_id = None;
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "tenant_id" => tenant_id = Some(value.into_owned()),
            other => return Err(AppError::invalid(format!("{}: unknown query parameter", clip(other)))),
        }
    }
    Ok((StatusCode::CREATED, Json(mint_demo_session(&state, tenant_id).await?)))
}
