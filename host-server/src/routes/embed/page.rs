//! Serves the built embed runtime (Trunk's `dist/`, see `Trunk.toml`): `GET /embed/{dashboard_id}`
//! answers the app's HTML, never cached, framed as the org's settings and the session allow;
//! `/embed-assets/*` answers its content-hashed wasm, JS and CSS, cached for a year.

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Path as UrlPath, Query, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::StreamExt;
use serde::Deserialize;
use tower_http::compression::CompressionLayer;

use crate::{
    embed::page::{answers_script, first_paint, page_csp, page_framing, page_with_framing, stream_page},
    routes::files::{Caching, serve_file},
    state::AppState,
};

/// The runtime's page and assets.
pub fn router() -> Router<AppState> {
    Router::new()
        // The page carries the dashboard and its first answers inline (about 14 KB for the
        // demo): compressed per request, brotli or gzip as accepted (the assets come
        // precompressed instead). Its content is fixed by the signed session, not by the
        // request, so there is no attacker-chosen text to mix with it (BREACH).
        .route(
            "/embed/{dashboard_id}",
            get(get_embed_page).layer(CompressionLayer::new().br(true).gzip(true)),
        )
        .route("/embed-assets/{*file}", get(get_asset))
}

#[derive(Deserialize)]
struct PageQuery {
    token: Option<String>,
}

async fn get_embed_page(
    State(state): State<AppState>,
    UrlPath(dashboard_id): UrlPath<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let framing = page_framing(&state, query.token.as_deref(), &dashboard_id).await;
    let index = state.runtime_dir.join("index.html");
    let mut csp = format!("default-src 'none'; {}", framing.csp());
    let (status, body, content_type) = match tokio::fs::read_to_string(&index).await {
        Ok(html) => {
            // The policy is the built page's: the inlined data is not script it has to allow.
            csp = page_csp(&html, &framing);
            let page = page_with_framing(&html, &framing);
            // Streamed in two parts. At once: the head with the runtime's preloads, its loader
            // (started without waiting for the rest) and the dashboard, so the runtime loads and
            // posts `ready` while the server queries. Then the widgets' first answers and the
            // end of the page. The compression layer flushes its encoder each time the body
            // waits, so the first part is not held back by it.
            let first = first_paint(&state, query.token.as_deref(), &dashboard_id).await;
            let parts = stream_page(&page, &first.as_ref().map(|f| f.dashboard_script()).unwrap_or_default());
            let head = Bytes::from(parts.head);
            let tail = async move {
                let answers = match &first {
                    Some(first) => answers_script(first.answers(&state).await),
                    None => String::new(),
                };
                Ok::<_, std::convert::Infallible>(Bytes::from(answers + &parts.tail))
            };
            let stream =
                futures_util::stream::once(async move { Ok(head) }).chain(futures_util::stream::once(tail));
            (StatusCode::OK, Body::from_stream(stream), "text/html; charset=utf-8")
        }
        Err(e) => {
            tracing::error!(path = %index.display(), error = %e, "embed runtime not built (run `trunk build --release`)");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Body::from("The embed runtime is not built on this server."),
                "text/plain; charset=utf-8",
            )
        }
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let csp = HeaderValue::from_str(&csp)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    response
}

async fn get_asset(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    request: Request,
) -> Response {
    // Only the hashed build outputs: the page itself is served (uncached) at /embed/{id}.
    if file == "index.html" || file.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    serve_file(&state.runtime_dir, &file, request, Caching::Immutable).await
}
