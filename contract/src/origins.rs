//! Origin patterns: who may frame an embed and exchange messages with it. One set of rules for
//! the server (validating lists, computing `frame-ancestors`) and the runtime (gating messages).
//!
//! A pattern is an origin (`https://app.example.com`, `http://localhost:3000`) or a subdomain
//! wildcard (`https://*.example.com`: any subdomain, not the apex), as in CSP's `frame-ancestors`.

/// The `<meta name="emban-allowed-origins">` content that means "any parent may frame this
/// embed": neither the org nor the session restricts framing. The runtime then talks only to
/// the parent's actual origin.
pub const ANY_ORIGIN: &str = "*";

/// Whether `origin` (`scheme://host[:port]`, as `MessageEvent.origin` gives it) matches `pattern`:
/// the same origin, or for `scheme://*.example.com[:port]` any subdomain of `example.com`.
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    let pattern = normalize(pattern);
    let origin = origin.trim().to_ascii_lowercase();
    if origin == "null" || origin.is_empty() || origin.contains('*') {
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
    p_port == o_port && is_subdomain(o_host, p_host)
}

/// Whether every origin `inner` matches is also matched by `outer`: how a session's list is
/// checked against its org's (a session may narrow the org's list, never widen it).
pub fn pattern_covers(outer: &str, inner: &str) -> bool {
    let inner = normalize(inner);
    let Some((i_scheme, i_rest)) = inner.split_once("://") else { return false };
    let Some(i_suffix) = i_rest.strip_prefix("*.") else {
        return origin_matches(outer, &inner);
    };
    // A wildcard is covered by the same wildcard or by a wildcard over a parent domain.
    let outer = normalize(outer);
    let Some((o_scheme, o_rest)) = outer.split_once("://") else { return false };
    let Some(o_suffix) = o_rest.strip_prefix("*.") else { return false };
    let (i_host, i_port) = split_port(i_suffix);
    let (o_host, o_port) = split_port(o_suffix);
    i_scheme == o_scheme && i_port == o_port && (i_host == o_host || is_subdomain(i_host, o_host))
}

/// Whether `host` is a strict subdomain of `parent`.
fn is_subdomain(host: &str, parent: &str) -> bool {
    host.len() > parent.len() + 1
        && host.ends_with(parent)
        && host.as_bytes()[host.len() - parent.len() - 1] == b'.'
}

fn normalize(pattern: &str) -> String {
    pattern.trim().trim_end_matches('/').to_ascii_lowercase()
}

fn split_port(host_port: &str) -> (&str, Option<&str>) {
    match host_port.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            (host, Some(port))
        }
        _ => (host_port, None),
    }
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
        assert!(
            !origin_matches("https://*.example.com", "https://*.example.com"),
            "a pattern is not an origin"
        );
        assert!(!origin_matches(ANY_ORIGIN, "https://a.com"), "`*` is a page marker, never a pattern");
    }

    #[test]
    fn a_session_list_may_narrow_an_org_list_never_widen_it() {
        assert!(pattern_covers("https://app.example.com", "https://app.example.com/"));
        assert!(pattern_covers("https://*.example.com", "https://app.example.com"));
        assert!(pattern_covers("https://*.example.com", "https://*.example.com"));
        assert!(pattern_covers("https://*.example.com", "https://*.eu.example.com"));
        assert!(!pattern_covers("https://*.eu.example.com", "https://*.example.com"), "wider");
        assert!(!pattern_covers("https://app.example.com", "https://*.example.com"), "wider");
        assert!(!pattern_covers("https://*.example.com", "https://example.com"), "the apex");
        assert!(!pattern_covers("https://*.example.com", "http://app.example.com"), "the scheme");
        assert!(!pattern_covers("https://*.example.com", "https://app.example.com:8443"), "the port");
        assert!(!pattern_covers("https://*.example.com", "https://*.badexample.com"));
        assert!(!pattern_covers("https://*.example.com:443", "https://*.example.com"), "the port");
    }
}
