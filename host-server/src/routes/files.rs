//! The one way the server answers with a file from disk (the runtime's assets, the demo pages,
//! the helper package), so caching and content-type rules live in one place.

use std::path::Path;

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// How long browsers may keep a served file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Hashed build outputs: their names change with their content, so they are kept a year.
    Immutable,
    /// Files that change in place (the demo pages, a fresh helper build): revalidated every load.
    Revalidate,
}

/// `Cache-Control` of [`Caching::Immutable`] files.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Serves `file` from `dir` (conditional requests and ranges included, nothing outside `dir`).
///
/// Precompressed copies beside it (`file.br`, `file.gz`, which `build_runtime` in
/// `scripts/setup.sh` writes for the runtime's wasm, JS and CSS) are sent instead when the
/// request's `Accept-Encoding` takes them (brotli first), with `Content-Encoding` and the original
/// file's `Content-Type` (`application/wasm` for the wasm, so browsers compile while it streams).
/// Every answer says `Vary: Accept-Encoding`, since the same URL may answer different bytes.
pub async fn serve_file(dir: &Path, file: &str, request: Request, caching: Caching) -> Response {
    let mut inner = Request::builder().method(request.method()).uri(format!("/{file}"));
    for (name, value) in request.headers() {
        inner = inner.header(name, value);
    }
    let Ok(inner) = inner.body(Body::empty()) else { return StatusCode::BAD_REQUEST.into_response() };
    let mut response = match ServeDir::new(dir).precompressed_br().precompressed_gzip().oneshot(inner).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    let status = response.status();
    match caching {
        Caching::Immutable if status.is_success() || status == StatusCode::NOT_MODIFIED => {
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        }
        Caching::Immutable => {}
        Caching::Revalidate => {
            if status == StatusCode::NOT_FOUND {
                tracing::debug!(dir = %dir.display(), file, "not found (is it built? scripts/build-helper.sh, trunk build)");
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
    }
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}
