//! Serves the built embed runtime (Trunk's `dist/`, see `Trunk.toml`): `GET /embed/{dashboard_id}`
//! answers the app's HTML, never cached, framed as the org's settings and the session allow; `/embed-assets/*`
//! answers its content-hashed wasm, JS and CSS, cached for a year.

use std::path::Path;

use axum::{
    Router,
    body::Body,
    extract::{Path as UrlPath, Query, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use base64::{Engine, engine::general_purpose::STANDARD as B64};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::{
    embed::{AUDIENCE, EmbedClaims, ISSUER},
    secrets::Secret,
    settings::Framing,
    state::AppState,
};

/// `Cache-Control` of the hashed assets: their names change with their content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The runtime's page and assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/embed/{dashboard_id}", get(get_embed_page))
        .route("/embed-assets/{*file}", get(get_asset))
}

#[derive(Deserialize)]
struct PageQuery {
    token: Option<String>,
}

/// The session behind `token` when it is ours (signature, issuer, audience) and for this
/// dashboard. Expiry is not checked here: an expired session's page must still load in its host
/// to say so (the data API refuses it with a 401).
pub fn page_session(secret: &Secret, token: &str, dashboard_id: &str) -> Option<EmbedClaims> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.algorithms = vec![Algorithm::HS256];
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    let key = DecodingKey::from_secret(secret.expose().as_bytes());
    match jsonwebtoken::decode::<EmbedClaims>(token, &key, &validation) {
        Ok(data) if data.claims.dashboard == dashboard_id => Some(data.claims),
        _ => None,
    }
}

/// The page's `Content-Security-Policy`: its framing, and nothing loaded or run but the
/// runtime's own assets. Trunk's loader is an inline module script, allowed by its hash
/// (computed from the built page, so a rebuild cannot drift); `'wasm-unsafe-eval'` lets the
/// browser compile the wasm. Style *elements* only from the hashed stylesheet; style
/// *attributes* are allowed (`style-src-attr`): the views position grid cells and size chart
/// marks with them, and an attribute cannot load anything or run script.
pub fn page_csp(html: &str, framing: &Framing) -> String {
    let hashes: String = inline_scripts(html)
        .map(|script| format!(" 'sha256-{}'", B64.encode(Sha256::digest(script.as_bytes()))))
        .collect();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; \
         style-src-attr 'unsafe-inline'; \
         connect-src 'self'; img-src 'self' data: blob:; font-src 'self'; base-uri 'none'; \
         object-src 'none'; form-action 'none'; {}",
        framing.csp()
    )
}

/// The text of each `<script>` element without a `src`, as the browser hashes it.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, body) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        Some(body.split_once("</script>")?.0)
    })
}

/// Escapes text for an HTML attribute value.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page with its framing in `<meta name="emban-allowed-origins">` (`*`, the patterns, or
/// empty for its own origin only), which the runtime uses to accept messages and address events.
pub fn page_with_framing(html: &str, framing: &Framing) -> String {
    let meta =
        format!("<meta name=\"emban-allowed-origins\" content=\"{}\">", attribute(&framing.meta_content()));
    match html.find("</head>") {
        Some(at) => format!("{}{meta}\n{}", &html[..at], &html[at..]),
        None => format!("{meta}\n{html}"),
    }
}

async fn get_embed_page(
    State(state): State<AppState>,
    UrlPath(dashboard_id): UrlPath<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let session = query
        .token
        .as_deref()
        .filter(|t| !t.is_empty() && t.len() <= 16 * 1024)
        .and_then(|t| page_session(&state.signing_secret, t, &dashboard_id));
    // Without a session of ours the page shows only an error: its own origin may frame it. With
    // one, the org's current list and the session's decide (see `settings::Framing`).
    let framing = match &session {
        None => Framing::OwnOrigin,
        Some(claims) => match state.framing.org_origins(&*state.org_settings, claims.org).await {
            Ok(org) => Framing::of(&org, &claims.origins),
            Err(e) => {
                tracing::error!(error = %e, "reading the org's framing list");
                Framing::Nobody
            }
        },
    };
    let index = state.runtime_dir.join("index.html");
    let mut csp = format!("default-src 'none'; {}", framing.csp());
    let (status, body, content_type) = match tokio::fs::read_to_string(&index).await {
        Ok(html) => {
            csp = page_csp(&html, &framing);
            (StatusCode::OK, page_with_framing(&html, &framing), "text/html; charset=utf-8")
        }
        Err(e) => {
            tracing::error!(path = %index.display(), error = %e, "embed runtime not built (run `trunk build --release`)");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The embed runtime is not built on this server.".to_owned(),
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
    serve_file(&state.runtime_dir, &file, request).await
}

async fn serve_file(dir: &Path, file: &str, request: Request) -> Response {
    let mut inner = Request::builder().method(request.method()).uri(format!("/{file}"));
    for (name, value) in request.headers() {
        inner = inner.header(name, value);
    }
    let Ok(inner) = inner.body(Body::empty()) else { return StatusCode::BAD_REQUEST.into_response() };
    let mut response = match ServeDir::new(dir).oneshot(inner).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    }
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_allows_only_the_runtime_and_its_loader() {
        let html = "<head><script type=\"module\">\nimport init from '/a.js';\n</script>\
                    <script src=\"/b.js\"></script><script>x()</script></head>";
        let csp = page_csp(html, &Framing::Any);
        let hash = |s: &str| format!("'sha256-{}'", B64.encode(Sha256::digest(s.as_bytes())));
        assert!(csp.contains(&hash("\nimport init from '/a.js';\n")), "{csp}");
        assert!(csp.contains(&hash("x()")), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 2, "a script with src needs no hash: {csp}");
        assert!(csp.starts_with("default-src 'none'; script-src 'self' 'wasm-unsafe-eval' 'sha256-"));
        assert!(csp.ends_with("object-src 'none'; form-action 'none'; frame-ancestors *"), "{csp}");
        assert!(csp.contains("style-src 'self'; style-src-attr 'unsafe-inline';"), "{csp}");
        assert_eq!(csp.matches("unsafe-inline").count(), 1, "only style attributes: {csp}");
    }

    #[test]
    fn origins_go_into_the_head_escaped() {
        let html = "<html><head><title>x</title></head><body></body></html>";
        let framing = Framing::Only(vec!["https://a.example".into(), "https://*.b.example".into()]);
        let page = page_with_framing(html, &framing);
        assert!(page.contains(
            "<meta name=\"emban-allowed-origins\" content=\"https://a.example https://*.b.example\">\n</head>"
        ));
        let hostile = page_with_framing(html, &Framing::Only(vec!["\"><script>".into()]));
        assert!(hostile.contains("content=\"&quot;&gt;&lt;script&gt;\""), "{hostile}");
        assert!(page_with_framing(html, &Framing::Any).contains("content=\"*\""));
    }
}
