//! Serves the live demo (`www/`, `--www-dir`) at `/`: a host page driving the demo session through
//! the helper, and `/raw.html` doing the same with hand-written postMessage; and the helper's npm
//! package (`embed-helper/pkg`, `--helper-dir`, built by `scripts/build-helper.sh`) at `/helper/`.

use axum::{
    Router,
    body::Body,
    extract::{Path as UrlPath, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::state::AppState;

/// The demo pages and the helper package.
pub fn router() -> Router<AppState> {
    let mut router = Router::new().route(
        "/helper/{*file}",
        get(|State(state): State<AppState>, UrlPath(file): UrlPath<String>, request: Request| async move {
            let mut response = serve(&state.helper_dir, &file, request).await;
            // A public package, like a CDN's copy: host pages on any origin may import it.
            response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            response
        }),
    );
    for (path, file) in PAGES {
        router = router.route(
            path,
            get(move |State(state): State<AppState>, request: Request| async move {
                serve(&state.www_dir, file, request).await
            }),
        );
    }
    router
}

/// The demo's files and their paths: only these, so the rest of `/` stays the API's.
const PAGES: [(&str, &str); 4] =
    [("/", "index.html"), ("/raw.html", "raw.html"), ("/demo.js", "demo.js"), ("/demo.css", "demo.css")];

/// One file of `dir`, revalidated on every load (the demo and a fresh helper build change in place).
async fn serve(dir: &std::path::Path, file: &str, request: Request) -> Response {
    let mut inner = Request::builder().method(request.method()).uri(format!("/{file}"));
    for (name, value) in request.headers() {
        inner = inner.header(name, value);
    }
    let Ok(inner) = inner.body(Body::empty()) else { return StatusCode::BAD_REQUEST.into_response() };
    let mut response = match ServeDir::new(dir).oneshot(inner).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status() == StatusCode::NOT_FOUND {
        tracing::debug!(dir = %dir.display(), file, "not found (is the helper built? scripts/build-helper.sh)");
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
