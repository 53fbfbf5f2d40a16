//! The layers every request passes: the cross-site request forgery check, request logging, and
//! the envelope for errors axum answers itself.
//!
//! Cross-site request forgery: a change made with the session cookie must come from the
//! server's own pages, which browsers prove with `Origin` (or `Sec-Fetch-Site: same-origin`).
//! Checked once, as a layer over every route, so a new handler cannot forget it. API-key and
//! embed-token requests (`Authorization`) carry no ambient credential and pass untouched.

use axum::{
    extract::{Request, State},
    http::{Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{
    error::{AppError, InternalCause},
    routes::extract::session_cookie,
    state::AppState,
};

/// Routes that start a session rather than use one: checked only when the browser says where
/// the request comes from (a script without `Origin` is not a browser on another site).
const SESSION_STARTS: [&str; 3] = ["/v1/auth/login", "/v1/auth/register", "/v1/auth/accept-invite"];

/// Refuses (403) a POST, PUT, PATCH or DELETE that relies on the session cookie unless it
/// comes from the server's own origin; and a sign-in or sign-up that says it comes from
/// another one.
pub async fn require_same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
    let headers = request.headers();
    if !changes || headers.contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let starts_session = SESSION_STARTS.contains(&request.uri().path());
    if !starts_session && session_cookie(headers).is_none() {
        return next.run(request).await;
    }
    let origin = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("?"));
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let allowed = match origin {
        Some(origin) => state.origins.allows(origin, headers.get(header::HOST).and_then(|h| h.to_str().ok())),
        None if fetch_site == Some("same-origin") => true,
        // A sign-in from a script, not a browser: nothing ambient to forge.
        None => starts_session && fetch_site.is_none_or(|s| s == "none"),
    };
    if allowed {
        return next.run(request).await;
    }
    let message = match origin {
        Some(origin) => format!(
            "cross-origin request refused: Origin {:?} is not this server's ({})",
            origin.chars().take(100).collect::<String>(),
            state.origins.origin
        ),
        None => format!(
            "a change made with the session cookie must come from this server's pages: send Origin: {} \
             (browsers do), or use an API key",
            state.origins.origin
        ),
    };
    AppError::Forbidden(message).into_response()
}

/// Logs method, path (never the query string: embed URLs carry tokens), status and latency,
/// and the cause of every 500.
pub async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Some(InternalCause(cause)) = response.extensions().get::<InternalCause>() {
        tracing::error!(%method, %path, status = status.as_u16(), ms, cause = %cause, "request failed");
    } else {
        tracing::debug!(%method, %path, status = status.as_u16(), ms, "request");
    }
    response
}

/// Rewrites API errors that axum's own extractors answer in plain text (a malformed path or
/// query string, say) into the `{"error", "code"}` envelope, so every `/v1` error has one shape.
pub async fn envelope_plain_errors(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/v1/");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_api || is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("request failed").to_owned()
    } else {
        message
    };
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "invalid_request",
    };
    let body = contract::ErrorBody { error: message, code: code.to_owned() };
    let mut rebuilt = (status, axum::Json(body)).into_response();
    for (name, value) in
        parts.headers.iter().filter(|(n, _)| *n != header::CONTENT_TYPE && *n != header::CONTENT_LENGTH)
    {
        rebuilt.headers_mut().insert(name, value.clone());
    }
    rebuilt
}
