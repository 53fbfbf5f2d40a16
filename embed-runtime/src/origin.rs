//! Which host origins the runtime talks to: messages are accepted only from an allowed origin,
//! and events are posted only to a verified one, never `"*"`.
//!
//! The allowed origins are the session's (the server verifies the token and writes them into the
//! page); a session that names none may only be framed by the server's own origin
//! (`frame-ancestors 'self'`), so then the framing page's origin is the one allowed.

/// Whether `origin` (`scheme://host[:port]`, as `MessageEvent.origin` gives it) matches `pattern`:
/// the same origin, or for `scheme://*.example.com[:port]` any subdomain of `example.com`.
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('/').to_ascii_lowercase();
    let origin = origin.trim().to_ascii_lowercase();
    if origin == "null" || origin.is_empty() {
        return false;
    }
    if pattern == origin {
        return true;
    }
    let (Some((p_scheme, p_rest)), Some((o_scheme, o_rest))) =
        (pattern.split_once("://"), origin.split_once("://"))
    else {
        return false;
    };
    let Some(p_suffix) = p_rest.strip_prefix("*.") else { return false };
    if p_scheme != o_scheme {
        return false;
    }
    let (p_host, p_port) = split_port(p_suffix);
    let (o_host, o_port) = split_port(o_rest);
    p_port == o_port && o_host.len() > p_host.len() + 1 && o_host.ends_with(&format!(".{p_host}"))
}

fn split_port(host_port: &str) -> (&str, Option<&str>) {
    match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            (host, Some(port))
        }
        _ => (host_port, None),
    }
}

/// The origins this runtime exchanges messages with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OriginPolicy {
    /// The session's allowed origins (patterns); empty when it named none.
    pub allowed: Vec<String>,
    /// The framing page's origin, when the browser tells it (`location.ancestorOrigins`, else the
    /// referrer's origin).
    pub framing: Option<String>,
    /// This page's own origin, the only one that may frame a session without allowed origins.
    pub own: String,
}

impl OriginPolicy {
    /// Whether a message from `origin` is accepted.
    pub fn accepts(&self, origin: &str) -> bool {
        if self.allowed.is_empty() {
            // `frame-ancestors 'self'`: only our own origin can be the parent.
            origin == self.own && self.framing.as_deref().is_none_or(|f| f == self.own)
        } else {
            self.allowed.iter().any(|p| origin_matches(p, origin))
        }
    }

    /// Where events are posted. The framing origin when it is allowed; when the browser does not
    /// tell it, each exact allowed origin (the browser delivers only to the one that matches the
    /// parent). Wildcards without a known framing origin cannot be targeted: nothing is posted
    /// rather than `"*"`.
    pub fn targets(&self) -> Vec<String> {
        if let Some(framing) = &self.framing {
            return if self.accepts(framing) { vec![framing.clone()] } else { Vec::new() };
        }
        if self.allowed.is_empty() {
            return vec![self.own.clone()];
        }
        self.allowed
            .iter()
            .filter(|p| !p.contains('*'))
            .map(|p| p.trim_end_matches('/').to_ascii_lowercase())
            .collect()
    }
}

/// The origin (`scheme://host[:port]`) of a URL, e.g. of `document.referrer`.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.is_empty() {
        return None;
    }
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_wildcard_matches() {
        assert!(origin_matches("https://app.example.com", "https://app.example.com"));
        assert!(origin_matches("https://APP.example.com/", "https://app.example.com"));
        assert!(!origin_matches("https://app.example.com", "http://app.example.com"));
        assert!(!origin_matches("https://app.example.com", "https://app.example.com:8443"));
        assert!(origin_matches("https://*.example.com", "https://a.b.example.com"));
        assert!(
            !origin_matches("https://*.example.com", "https://example.com"),
            "the apex is not a subdomain"
        );
        assert!(!origin_matches("https://*.example.com", "https://evilexample.com"));
        assert!(!origin_matches("https://*.example.com", "https://example.com.evil.io"));
        assert!(origin_matches("http://*.localhost:3000", "http://a.localhost:3000"));
        assert!(!origin_matches("http://*.localhost:3000", "http://a.localhost:3001"));
        assert!(!origin_matches("https://a.com", "null"));
    }

    #[test]
    fn allowed_origins_gate_messages_and_targets() {
        let policy = OriginPolicy {
            allowed: vec!["https://app.example.com".into(), "https://*.partner.io".into()],
            framing: Some("https://app.example.com".into()),
            own: "https://emban.test".into(),
        };
        assert!(policy.accepts("https://app.example.com"));
        assert!(policy.accepts("https://x.partner.io"));
        assert!(!policy.accepts("https://evil.com"));
        assert!(!policy.accepts("https://emban.test"), "our own origin is not a host unless allowed");
        assert_eq!(policy.targets(), ["https://app.example.com"]);
        let unknown_parent = OriginPolicy { framing: None, ..policy.clone() };
        assert_eq!(unknown_parent.targets(), ["https://app.example.com"], "exact origins only, never *");
        let framed_elsewhere = OriginPolicy { framing: Some("https://evil.com".into()), ..policy };
        assert!(framed_elsewhere.targets().is_empty());
    }

    #[test]
    fn without_allowed_origins_only_our_own_origin_counts() {
        let policy = OriginPolicy { allowed: vec![], framing: None, own: "http://127.0.0.1:8080".into() };
        assert!(policy.accepts("http://127.0.0.1:8080"));
        assert!(!policy.accepts("http://127.0.0.1:9999"));
        assert_eq!(policy.targets(), ["http://127.0.0.1:8080"]);
        let framed = OriginPolicy { framing: Some("http://other.test".into()), ..policy };
        assert!(!framed.accepts("http://127.0.0.1:8080"));
        assert!(framed.targets().is_empty());
    }

    #[test]
    fn origins_of_urls() {
        assert_eq!(
            origin_of("https://App.example.com:8443/a/b?c#d").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(origin_of("http://user:pw@host/x").as_deref(), Some("http://host"));
        assert_eq!(origin_of("file:///etc/passwd"), None);
        assert_eq!(origin_of(""), None);
    }
}
