//! Cross-site request forgery: a change made with the session cookie must come from the
//! server's own pages, which browsers prove with `Origin` (or `Sec-Fetch-Site: same-origin`).
//!
//! Checked once, as a layer over every route, so a new handler cannot forget it. API-key and
//! embed-token requests (`Authorization`) carry no ambient credential and pass untouched.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{auth, error::AppError, state::AppState};

/// Routes that start a session rather than use one: checked only when the browser says where
/// the request comes from (a script without `Origin` is not a browser on another site).
const SESSION_STARTS: [&str; 3] = ["/v1/auth/login", "/v1/auth/register", "/v1/auth/accept-invite"];

/// The origin state-changing cookie requests must come from.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    origin: String,
    /// Without an explicit `--public-url`, the server does not know its public name; it then
    /// also accepts the origin the request itself names in `Host` (a foreign page's request
    /// names this server in `Host` and its own site in `Origin`, so they never match).
    also_host: bool,
}

impl OriginPolicy {
    /// The policy of a server reached at `public_url`; `implicit` when it was not configured.
    pub fn new(public_url: &str, implicit: bool) -> OriginPolicy {
        OriginPolicy { origin: origin_of(public_url), also_host: implicit }
    }

    /// Whether `origin` is this server's.
    fn allows(&self, origin: &str, headers: &HeaderMap) -> bool {
        let origin = origin_of(origin);
        if origin == self.origin {
            return true;
        }
        self.also_host
            && headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|host| origin == origin_of(&format!("http://{host}")))
    }
}

/// `scheme://host[:port]` in lower case, without a default port or any path.
fn origin_of(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let Some((scheme, rest)) = url.split_once("://") else { return url };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = match (scheme, authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host,
        _ => authority,
    };
    format!("{scheme}://{authority}")
}

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
    if !starts_session && !auth::has_session_cookie(headers) {
        return next.run(request).await;
    }
    let origin = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("?"));
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let allowed = match origin {
        Some(origin) => state.origins.allows(origin, headers),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_without_default_ports_case_or_paths() {
        assert_eq!(origin_of("HTTPS://Example.com:443/emban/"), "https://example.com");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin_of("http://example.com:80"), "http://example.com");
        let policy = OriginPolicy::new("https://analytics.example.com", false);
        let headers = HeaderMap::new();
        assert!(policy.allows("https://analytics.example.com", &headers));
        assert!(!policy.allows("https://analytics.example.com.evil.test", &headers));
        assert!(!policy.allows("http://analytics.example.com", &headers));
        assert!(!policy.allows("null", &headers));
    }

    #[test]
    fn the_host_counts_only_without_a_configured_public_url() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "localhost:8080".parse().expect("header"));
        assert!(OriginPolicy::new("http://127.0.0.1:8080", true).allows("http://localhost:8080", &headers));
        assert!(!OriginPolicy::new("http://127.0.0.1:8080", false).allows("http://localhost:8080", &headers));
        assert!(!OriginPolicy::new("http://127.0.0.1:8080", true).allows("http://evil.test", &headers));
    }
}
