//! HTTP: one router over every resource, the fallbacks that keep every error in the envelope,
//! and the layers every request passes (Origin check, logging, security headers). Handlers are
//! thin: extract (`extract`), call the domain, shape the response.

mod accounts;
mod adhoc;
mod alerts;
mod api_keys;
mod audit;
mod billing;
mod dashboards;
mod datasets;
mod discover;
pub mod embed;
pub mod extract;
pub mod files;
mod ingest;
pub mod middleware;
mod query;
mod reports;
mod saved_queries;
mod settings;
mod team;
mod usage;
mod webhooks;
mod widgets;
mod www;

use axum::{
    Router,
    http::{HeaderValue, StatusCode, header},
    middleware::from_fn,
    middleware::from_fn_with_state,
};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{error::AppError, state::AppState};

/// Every route.
pub fn app(state: AppState) -> Router {
    // Behind an https public URL, browsers are told to use https only (a year, subdomains not
    // included: the operator's other hosts are not ours to pin).
    let hsts = state.secure_cookies.then(|| {
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });
    Router::new()
        .merge(accounts::router())
        .merge(api_keys::router())
        .merge(ingest::router())
        .merge(query::router())
        .merge(usage::router())
        .merge(adhoc::router())
        .merge(datasets::router())
        .merge(saved_queries::router())
        .merge(settings::router())
        .merge(team::router())
        .merge(dashboards::router())
        .merge(widgets::router())
        .merge(embed::router())
        .merge(discover::router())
        .merge(audit::router())
        .merge(billing::router())
        .merge(alerts::router())
        .merge(reports::router())
        .merge(webhooks::router())
        .merge(embed::page::router())
        .merge(www::router())
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(|| async { AppError::NotFound("no such route".into()) })
        .method_not_allowed_fallback(|| async {
            (
                StatusCode::METHOD_NOT_ALLOWED,
                axum::Json(contract::ErrorBody {
                    error: "method not allowed on this route".into(),
                    code: "method_not_allowed".into(),
                }),
            )
        })
        .layer(from_fn_with_state(state.clone(), middleware::require_same_origin))
        .layer(from_fn(middleware::envelope_plain_errors))
        .layer(from_fn(middleware::log_requests))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(tower::util::option_layer(hsts))
        .with_state(state)
}
