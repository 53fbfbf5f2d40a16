//! Org settings: the org's details, the rules a change follows, and who may frame its embeds.
//!
//! Framing is decided in two places that must agree: at mint (a session's `allowed_origins` must
//! lie within the org's list) and at serve time (`GET /embed/{id}` computes the page's
//! `frame-ancestors` and the runtime's message policy from the org's *current* list and the
//! session's), so narrowing the org's list takes effect on live sessions at their next load.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, RwLock},
};

use contract::origins::{ANY_ORIGIN, origin_matches, pattern_covers};

use contract::settings::OrgSettingsPatch;
use serde_json::json;

use crate::{
    error::{AppError, Result},
    meta::org_settings::{OrgSettingsChange, OrgSettingsStore},
};

/// Most origins in one list (an org's or a session's).
pub const MAX_ORIGINS: usize = 20;

/// Orgs whose framing lists are kept in memory; past it the cache starts over (a list is one
/// indexed read away).
const CACHE_ORGS: usize = 10_000;

/// Who may frame an embed page, once the org's list and the session's are combined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// Neither restricts: any page may frame it; the runtime talks to its actual parent only.
    Any,
    /// Only the Emban server's own origin (a page without a valid session token).
    OwnOrigin,
    /// Exactly these patterns (never empty).
    Only(Vec<String>),
    /// No page at all: the session's origins all left the org's list after it was minted.
    Nobody,
}

impl Framing {
    /// The effective framing of a session with `session` origins in an org with `org` origins.
    /// The session narrows the org's list; what it names outside the org's current list drops.
    pub fn of(org: &[String], session: &[String]) -> Framing {
        match (org.is_empty(), session.is_empty()) {
            (true, true) => Framing::Any,
            (false, true) => Framing::Only(org.to_vec()),
            (true, false) => Framing::Only(session.to_vec()),
            (false, false) => {
                let kept: Vec<String> =
                    session.iter().filter(|s| org.iter().any(|o| pattern_covers(o, s))).cloned().collect();
                if kept.is_empty() { Framing::Nobody } else { Framing::Only(kept) }
            }
        }
    }

    /// The `Content-Security-Policy` that enforces it in the browser (validated origins only, so
    /// always a valid header value).
    pub fn csp(&self) -> String {
        let sources = match self {
            Framing::Any => "*".to_owned(),
            Framing::OwnOrigin => "'self'".to_owned(),
            Framing::Only(origins) => origins.join(" "),
            Framing::Nobody => "'none'".to_owned(),
        };
        format!("frame-ancestors {sources}")
    }

    /// The `<meta name="emban-allowed-origins">` content the runtime reads: `*` for any parent,
    /// the patterns, or nothing (only its own origin).
    pub fn meta_content(&self) -> String {
        match self {
            Framing::Any => ANY_ORIGIN.to_owned(),
            Framing::Only(origins) => origins.join(" "),
            Framing::OwnOrigin | Framing::Nobody => String::new(),
        }
    }
}

/// Validates and normalizes an origin list named `field` (`allowed_origins`,
/// `embedding.allowed_origins`): each an origin or subdomain wildcard, lower case, no trailing
/// slash, de-duplicated and sorted.
pub fn validate_origins(field: &str, origins: &[String]) -> Result<Vec<String>> {
    if origins.len() > MAX_ORIGINS {
        return Err(AppError::invalid(format!(
            "{field}: at most {MAX_ORIGINS} origins (got {})",
            origins.len()
        )));
    }
    Ok(origins
        .iter()
        .enumerate()
        .map(|(i, o)| validate_origin(&format!("{field}[{i}]"), o))
        .collect::<Result<BTreeSet<_>>>()?
        .into_iter()
        .collect())
}

/// Fails with a 400 naming the first of a session's origins outside the org's list.
pub fn require_within(org: &[String], session: &[String]) -> Result<()> {
    if org.is_empty() {
        return Ok(());
    }
    match session.iter().position(|s| !org.iter().any(|o| pattern_covers(o, s))) {
        None => Ok(()),
        Some(i) => Err(AppError::invalid(format!(
            "allowed_origins: {:?} is not within the org's embedding.allowed_origins ({}); a session \
             may narrow the org's list, never widen it (GET /v1/settings/org shows it)",
            session[i],
            org.join(", ")
        ))),
    }
}

fn validate_origin(field: &str, origin: &str) -> Result<String> {
    let shown: String = origin.chars().take(80).collect();
    let bad = |why: &str| AppError::invalid(format!("{field}: {why} (got {shown:?})"));
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    if origin.len() > 255 {
        return Err(bad("at most 255 characters"));
    }
    let (scheme, rest) =
        origin.split_once("://").ok_or_else(|| bad("must look like https://app.example.com"))?;
    if scheme != "https" && scheme != "http" {
        return Err(bad("the scheme must be https or http"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (rest, None),
    };
    let host_body = host.strip_prefix("*.").unwrap_or(host);
    let host_ok = !host_body.is_empty()
        && host_body
            .split('.')
            .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !host_ok {
        return Err(bad("must be an origin: scheme, host and optional port, no path"));
    }
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("the port must be a number"));
    }
    Ok(origin)
}

/// Whether a concrete `origin` may frame embeds under `framing` (used by tests and tooling; the
/// browser enforces the CSP and the runtime its own copy of the rule).
pub fn allows(framing: &Framing, own: &str, origin: &str) -> bool {
    match framing {
        Framing::Any => true,
        Framing::OwnOrigin => origin == own,
        Framing::Only(patterns) => patterns.iter().any(|p| origin_matches(p, origin)),
        Framing::Nobody => false,
    }
}

/// The orgs' framing lists, read through from the settings store and dropped on change.
#[derive(Default)]
pub struct FramingCache {
    orgs: RwLock<HashMap<i64, Arc<[String]>>>,
}

impl FramingCache {
    /// The org's `embedding.allowed_origins` (empty when it has none or does not exist).
    pub async fn org_origins(&self, store: &dyn OrgSettingsStore, org_id: i64) -> Result<Arc<[String]>> {
        if let Some(hit) = self.orgs.read().ok().and_then(|m| m.get(&org_id).cloned()) {
            return Ok(hit);
        }
        let origins: Arc<[String]> =
            store.org_settings(org_id).await?.map(|s| s.embedding_allowed_origins).unwrap_or_default().into();
        if let Ok(mut map) = self.orgs.write() {
            if map.len() >= CACHE_ORGS {
                map.clear();
            }
            map.insert(org_id, origins.clone());
        }
        Ok(origins)
    }

    /// Forgets the org's list (after a change).
    pub fn invalidate(&self, org_id: i64) {
        if let Ok(mut map) = self.orgs.write() {
            map.remove(&org_id);
        }
    }
}

/// Audit action of a settings change.
pub const ORG_SETTINGS_UPDATE: &str = "org.settings.update";

/// Checks a `PATCH /v1/settings/org` body; 400s name the field.
pub fn validate_patch(patch: OrgSettingsPatch) -> Result<OrgSettingsChange> {
    let name = patch
        .name
        .map(|name| {
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
                Err(AppError::invalid("name: must be 1 to 200 characters"))
            } else {
                Ok(name)
            }
        })
        .transpose()?;
    let email = patch
        .email
        .map(|email| {
            email
                .map(|email| {
                    let email = email.trim().to_owned();
                    let ok = email.len() <= 254
                        && email.split_once('@').is_some_and(|(local, domain)| {
                            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
                        })
                        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
                    if ok { Ok(email) } else { Err(AppError::invalid("email: must be an email address")) }
                })
                .transpose()
        })
        .transpose()?;
    let embedding_allowed_origins = patch
        .embedding
        .and_then(|e| e.allowed_origins)
        .map(|origins| validate_origins("embedding.allowed_origins", &origins))
        .transpose()?;
    Ok(OrgSettingsChange { name, email, embedding_allowed_origins })
}

/// What a change sets, for its audit row (field path to new value).
pub fn changed_fields(change: &OrgSettingsChange) -> serde_json::Value {
    let mut changed = serde_json::Map::new();
    if let Some(name) = &change.name {
        changed.insert("name".into(), json!(name));
    }
    if let Some(email) = &change.email {
        changed.insert("email".into(), json!(email));
    }
    if let Some(origins) = &change.embedding_allowed_origins {
        changed.insert("embedding.allowed_origins".into(), json!(origins));
    }
    changed.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_session_narrows_the_org_never_widens_it() {
        assert_eq!(Framing::of(&[], &[]), Framing::Any);
        assert_eq!(Framing::of(&list(&["https://*.a.com"]), &[]), Framing::Only(list(&["https://*.a.com"])));
        assert_eq!(Framing::of(&[], &list(&["https://x.b.com"])), Framing::Only(list(&["https://x.b.com"])));
        assert_eq!(
            Framing::of(&list(&["https://*.a.com"]), &list(&["https://x.a.com", "https://x.b.com"])),
            Framing::Only(list(&["https://x.a.com"])),
            "an origin the org's list no longer holds drops"
        );
        assert_eq!(Framing::of(&list(&["https://*.a.com"]), &list(&["https://x.b.com"])), Framing::Nobody);
    }

    #[test]
    fn each_framing_has_its_policy() {
        assert_eq!(Framing::Any.csp(), "frame-ancestors *");
        assert_eq!(Framing::Any.meta_content(), "*");
        assert_eq!(Framing::OwnOrigin.csp(), "frame-ancestors 'self'");
        assert_eq!(Framing::OwnOrigin.meta_content(), "");
        assert_eq!(Framing::Nobody.csp(), "frame-ancestors 'none'");
        let only = Framing::Only(list(&["https://a.com", "https://*.b.com"]));
        assert_eq!(only.csp(), "frame-ancestors https://a.com https://*.b.com");
        assert!(allows(&only, "http://emban", "https://x.b.com"));
        assert!(!allows(&only, "http://emban", "https://b.com"));
        assert!(allows(&Framing::Any, "http://emban", "https://evil.example"));
    }

    #[test]
    fn origins_are_checked_and_normalized() {
        assert_eq!(
            validate_origin("o", "https://App.Example.com/").ok().as_deref(),
            Some("https://app.example.com")
        );
        assert!(validate_origin("o", "https://a.com:8443").is_ok());
        assert!(validate_origin("o", "https://*.example.com").is_ok());
        for bad in [
            "app.example.com",
            "ftp://a.com",
            "https://a.com/path",
            "https://a.com; script-src *",
            "https://a.com 'unsafe-inline'",
            "https://",
            "https://*.*.a.com",
            "https://a.*.com",
        ] {
            assert!(validate_origin("o", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lists_are_validated_naming_the_field() {
        assert_eq!(
            validate_origins("allowed_origins", &list(&["https://B.com/", "https://a.com", "https://a.com"]))
                .ok(),
            Some(list(&["https://a.com", "https://b.com"]))
        );
        for (bad, why) in [
            ("a.com", "must look like"),
            ("ftp://a.com", "scheme"),
            ("https://a.com/path", "no path"),
            ("https://*", "no path"),
            ("https://a.com:x", "port"),
            ("*", "must look like"),
        ] {
            let err = validate_origins("embedding.allowed_origins", &list(&["https://ok.com", bad]))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("embedding.allowed_origins[1]") && err.contains(why), "{bad}: {err}");
        }
        assert!(require_within(&list(&["https://*.a.com"]), &list(&["https://x.a.com"])).is_ok());
        let err = require_within(&list(&["https://*.a.com"]), &list(&["https://x.a.com", "https://b.com"]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("\"https://b.com\" is not within"), "{err}");
    }
}
