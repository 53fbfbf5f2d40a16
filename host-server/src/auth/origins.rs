//! Which origin a change made with the session cookie must come from: this server's own
//! (the configured public URL, or without one the `Host` the request names).

/// The origin state-changing cookie requests must come from.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    /// This server's origin.
    pub origin: String,
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

    /// Whether `origin` is this server's; `host` is the request's `Host` header.
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin_of(origin);
        if origin == self.origin {
            return true;
        }
        self.also_host && host.is_some_and(|host| origin == origin_of(&format!("http://{host}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_without_default_ports_case_or_paths() {
        assert_eq!(origin_of("HTTPS://Example.com:443/emban/"), "https://example.com");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin_of("http://example.com:80"), "http://example.com");
        let policy = OriginPolicy::new("https://analytics.example.com", false);
        assert!(policy.allows("https://analytics.example.com", None));
        assert!(!policy.allows("https://analytics.example.com.evil.test", None));
        assert!(!policy.allows("http://analytics.example.com", None));
        assert!(!policy.allows("null", None));
    }

    #[test]
    fn the_host_counts_only_without_a_configured_public_url() {
        let host = Some("localhost:8080");
        assert!(OriginPolicy::new("http://127.0.0.1:8080", true).allows("http://localhost:8080", host));
        assert!(!OriginPolicy::new("http://127.0.0.1:8080", false).allows("http://localhost:8080", host));
        assert!(!OriginPolicy::new("http://127.0.0.1:8080", true).allows("http://evil.test", host));
    }
}
