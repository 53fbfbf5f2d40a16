//! `GET /v1/embed/dashboard` and `POST /v1/embed/query`: the data API the runtime calls with its
//! session token.

use axum::{
    Json,
    extract::{RawQuery, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use contract::{
    ErrorBody,
    embed::{EmbedExportRequest, EmbedQueryRequest},
};

use crate::{
    embed::{
        data::{self, other_dashboard},
        export::export_csv,
    },
    error::{ApiJson, AppError, Result, clip},
    routes::extract::EmbedSession,
    state::AppState,
};

pub(super) async fn get_embed_dashboard(
    State(state): State<AppState>,
    EmbedSession(claims): EmbedSession,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "dashboard_id" if value != claims.dashboard => return Err(other_dashboard()),
            "dashboard_id" => {}
            other => return Err(AppError::invalid(format!("{}: unknown query parameter", clip(other)))),
        }
    }
    let body = data::dashboard(&state, &claims).await?;
    Ok(with_csp(Json(body)))
}

pub(super) async fn post_embed_query(
    State(state): State<AppState>,
    EmbedSession(claims): EmbedSession,
    ApiJson(request): ApiJson<EmbedQueryRequest>,
) -> Result<Response> {
    Ok(match data::query(&state, &claims, &request).await? {
        Some(data) => with_csp(Json(data)),
        None => with_csp(not_published()),
    })
}

pub(super) async fn post_embed_export(
    State(state): State<AppState>,
    EmbedSession(claims): EmbedSession,
    ApiJson(request): ApiJson<EmbedExportRequest>,
) -> Result<Response> {
    Ok(match export_csv(&state, &claims, &request).await? {
        Some(csv) => {
            let mut response = with_csp(csv);
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
            response
        }
        None => with_csp(not_published()),
    })
}

/// The data API's answers are JSON for the runtime's `fetch`, never a page to frame.
fn with_csp(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    response
}

fn not_published() -> Response {
    let body = ErrorBody { error: "this dashboard is not published".into(), code: "not_published".into() };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
