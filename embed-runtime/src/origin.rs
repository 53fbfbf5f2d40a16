//! Which host origins the runtime talks to: messages are accepted only from an allowed origin,
//! and events are posted only to a verified one, never `"*"`.
//!
//! The server writes the page's framing into `<meta name="emban-allowed-origins">` (the same
//! rule it enforces with `frame-ancestors`): `*` when neither the org nor the session restricts
//! framing, the allowed patterns, or nothing when only the server's own origin may frame it.
//! The matching rules themselves are `contract::origins`, shared with the server.

use contract::origins::ANY_ORIGIN;
pub use contract::origins::origin_matches;

/// Who may frame this page, as the server said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Allowed {
    /// Any parent: the runtime then talks only to its actual parent's origin.
    Any,
    /// Only the page's own origin (no valid session: `frame-ancestors 'self'`).
    #[default]
    OwnOrigin,
    /// These patterns (exact origins or `scheme://*.domain`).
    Patterns(Vec<String>),
}

impl Allowed {
    /// Reads the meta tag's content.
    pub fn parse(content: &str) -> Allowed {
        let items: Vec<String> = content.split_whitespace().map(str::to_owned).collect();
        match items.as_slice() {
            [] => Allowed::OwnOrigin,
            [only] if only == ANY_ORIGIN => Allowed::Any,
            _ => Allowed::Patterns(items.into_iter().filter(|i| i != ANY_ORIGIN).collect()),
        }
    }
}

/// The origins this runtime exchanges messages with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OriginPolicy {
    /// Who may frame the page.
    pub allowed: Allowed,
    /// The framing page's origin, when known: from the browser (`location.ancestorOrigins`, else
    /// the referrer's origin), or else learnt from the first accepted command from the parent.
    pub framing: Option<String>,
    /// This page's own origin.
    pub own: String,
}

impl OriginPolicy {
    /// Whether `origin` may frame the page at all.
    fn permits(&self, origin: &str) -> bool {
        match &self.allowed {
            Allowed::Any => !origin.is_empty() && origin != "null",
            Allowed::OwnOrigin => origin == self.own,
            Allowed::Patterns(patterns) => patterns.iter().any(|p| origin_matches(p, origin)),
        }
    }

    /// Whether a message from the parent at `origin` is accepted: a permitted origin, and the
    /// parent's own once that is known.
    pub fn accepts(&self, origin: &str) -> bool {
        self.permits(origin) && self.framing.as_deref().is_none_or(|f| f == origin)
    }

    /// Records the parent's origin from an accepted command when the browser did not tell it.
    /// Answers whether it was learnt now (so events held back can be delivered).
    pub fn learn(&mut self, origin: &str) -> bool {
        if self.framing.is_some() || !self.accepts(origin) {
            return false;
        }
        self.framing = Some(origin.to_owned());
        true
    }

    /// Where events are posted. The framing origin when it is permitted. When the browser does
    /// not tell it: the own origin (own-origin pages), each exact allowed origin (the browser
    /// delivers only to the one that matches the parent), and nothing at all for `Any` (events
    /// wait for the host's first command to reveal the origin); never `"*"`.
    pub fn targets(&self) -> Vec<String> {
        if let Some(framing) = &self.framing {
            return if self.permits(framing) { vec![framing.clone()] } else { Vec::new() };
        }
        match &self.allowed {
            Allowed::Any => Vec::new(),
            Allowed::OwnOrigin => vec![self.own.clone()],
            Allowed::Patterns(patterns) => patterns
                .iter()
                .filter(|p| !p.contains('*'))
                .map(|p| p.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether events must wait until the parent's origin is learnt.
    pub fn awaits_origin(&self) -> bool {
        self.framing.is_none() && self.allowed == Allowed::Any
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

    fn patterns(items: &[&str]) -> Allowed {
        Allowed::Patterns(items.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn the_meta_tag_names_the_mode() {
        assert_eq!(Allowed::parse("*"), Allowed::Any);
        assert_eq!(Allowed::parse("  "), Allowed::OwnOrigin);
        assert_eq!(
            Allowed::parse("https://a.com https://*.b.com"),
            patterns(&["https://a.com", "https://*.b.com"])
        );
        assert_eq!(Allowed::parse("https://a.com *"), patterns(&["https://a.com"]), "`*` only alone");
    }

    #[test]
    fn allowed_origins_gate_messages_and_targets() {
        let policy = OriginPolicy {
            allowed: patterns(&["https://app.example.com", "https://*.partner.io"]),
            framing: Some("https://app.example.com".into()),
            own: "https://emban.test".into(),
        };
        assert!(policy.accepts("https://app.example.com"));
        assert!(!policy.accepts("https://x.partner.io"), "allowed, but not the parent");
        assert!(!policy.accepts("https://evil.com"));
        assert!(!policy.accepts("https://emban.test"), "our own origin is not a host unless allowed");
        assert_eq!(policy.targets(), ["https://app.example.com"]);
        let unknown_parent = OriginPolicy { framing: None, ..policy.clone() };
        assert!(unknown_parent.accepts("https://x.partner.io"));
        assert_eq!(unknown_parent.targets(), ["https://app.example.com"], "exact origins only, never *");
        let framed_elsewhere = OriginPolicy { framing: Some("https://evil.com".into()), ..policy };
        assert!(framed_elsewhere.targets().is_empty());
        assert!(!framed_elsewhere.accepts("https://evil.com"));
    }

    #[test]
    fn without_a_session_only_our_own_origin_counts() {
        let policy =
            OriginPolicy { allowed: Allowed::OwnOrigin, framing: None, own: "http://127.0.0.1:8080".into() };
        assert!(policy.accepts("http://127.0.0.1:8080"));
        assert!(!policy.accepts("http://127.0.0.1:9999"));
        assert_eq!(policy.targets(), ["http://127.0.0.1:8080"]);
        let framed = OriginPolicy { framing: Some("http://other.test".into()), ..policy };
        assert!(!framed.accepts("http://127.0.0.1:8080"));
        assert!(framed.targets().is_empty());
    }

    #[test]
    fn any_parent_means_the_actual_parent_only() {
        let known = OriginPolicy {
            allowed: Allowed::Any,
            framing: Some("https://customer.example".into()),
            own: "https://emban.test".into(),
        };
        assert_eq!(known.targets(), ["https://customer.example"]);
        assert!(known.accepts("https://customer.example"));
        assert!(!known.accepts("https://evil.example"), "only the parent's origin");
        assert!(!known.awaits_origin());

        let mut unknown = OriginPolicy { framing: None, ..known };
        assert!(unknown.targets().is_empty(), "nothing is posted before the origin is known");
        assert!(unknown.awaits_origin());
        assert!(!unknown.learn("null"), "an opaque origin is never learnt");
        assert!(unknown.learn("https://customer.example"));
        assert!(!unknown.learn("https://evil.example"), "learnt once");
        assert_eq!(unknown.targets(), ["https://customer.example"]);
        assert!(!unknown.accepts("https://evil.example"));
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
