//! Serves the live demo (`www/`, `--www-dir`) at `/`: a host page driving the demo session through
//! the helper, and `/raw.html` doing the same with hand-written postMessage; and the helper's npm
//! package (`embed-helper/pkg`, `--helper-dir`, built by `scripts/build-helper.sh`) at `/helper/`.

use axum::{
    Router,
    extract::{Path as UrlPath, Request, State},
    http::{HeaderValue, header},
    routing::get,
};

use crate::{
    routes::files::{Caching, serve_file},
    state::AppState,
};

/// The demo pages and the helper package.
pub fn router() -> Router<AppState> {
    let mut router = Router::new().route(
        "/helper/{*file}",
        get(|State(state): State<AppState>, UrlPath(file): UrlPath<String>, request: Request| async move {
            let mut response = serve_file(&state.helper_dir, &file, request, Caching::Revalidate).await;
            // A public package, like a CDN's copy: host pages on any origin may import it.
            response.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            response
        }),
    );
    for (path, file) in PAGES {
        router = router.route(
            path,
            get(move |State(state): State<AppState>, request: Request| async move {
                serve_file(&state.www_dir, file, request, Caching::Revalidate).await
            }),
        );
    }
    router
}

/// The demo's files and their paths: only these, so the rest of `/` stays the API's.
const PAGES: [(&str, &str); 4] =
    [("/", "index.html"), ("/raw.html", "raw.html"), ("/demo.js", "demo.js"), ("/demo.css", "demo.css")];
