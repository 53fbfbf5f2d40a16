//! The embed routes: sessions (`sessions`), the data API the runtime calls with a token
//! (`data`), the public demo's embed URL (`demo`), and the served runtime page (`page`).

mod data;
mod demo;
pub mod page;
mod sessions;

use axum::{
    Router,
    http::{HeaderValue, header},
    routing::{delete, get, post},
};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;
use data::{get_embed_dashboard, post_embed_export, post_embed_query};
use demo::get_demo_embed_url;
use sessions::{create_embed_session, list_embed_sessions, revoke_embed_session, revoke_tenant_sessions};

/// Embed sessions, the embed data API and the demo's embed URL.
pub fn router() -> Router<AppState> {
    let data = Router::new()
        .route("/v1/embed/dashboard", get(get_embed_dashboard))
        .route("/v1/embed/query", post(post_embed_query))
        .route("/v1/embed/export", post(post_embed_export))
        // Handlers set the session's own policy; errors before a session is known get this one.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ));
    Router::new()
        .route(
            "/v1/embed-sessions",
            get(list_embed_sessions).post(create_embed_session).delete(revoke_tenant_sessions),
        )
        .route("/v1/embed-sessions/{jti}", delete(revoke_embed_session))
        .route("/v1/demo/embed-url", get(get_demo_embed_url))
        .merge(data)
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}
