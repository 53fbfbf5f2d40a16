//! The host-page helper of the Emban embed, published to npm as `@emban/embed-helper`: mounts a
//! signed embed URL in an iframe and drives it over the postMessage contract
//! ([`contract::messages`]), adding what the raw iframe leaves to the host: queued commands,
//! auto-resize, origin checks, and in-place session rotation (`setEmbedUrl`, `session-swapped`).
//!
//! This module holds the pure logic (checked natively by `cargo test`); the browser binding,
//! `EmbanEmbed`, lives in `wasm` and exists only on `wasm32`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;

use contract::messages::FilterRequest;

#[cfg(target_arch = "wasm32")]
mod wasm;

/// Events a host may subscribe to with `on(type, callback)`: the runtime's, then the helper's own.
pub const EVENT_NAMES: &[&str] =
    &["ready", "resize", "filter", "period-change", "drill", "error", "session-swapped", "session-expiring"];

/// How long before the token's expiry the helper asks `fetchEmbedUrl` for a fresh URL, at most.
pub const REFRESH_LEAD_MS: f64 = 60_000.0;

/// The longest wait between two failed `fetchEmbedUrl` attempts.
pub const MAX_BACKOFF_MS: u32 = 30_000;

/// Ways a host can misuse the helper; each message says what was wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelperError {
    /// The embed URL is not an absolute `http(s)://` URL.
    BadEmbedUrl(String),
    /// `on`/`off` named an event that does not exist.
    UnknownEvent(String),
    /// A method was called after `destroy()`.
    Destroyed(&'static str),
    /// The container (an element or a selector) was not found.
    MissingContainer(String),
    /// An option or argument had the wrong shape.
    BadOption(String),
}

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HelperError::BadEmbedUrl(url) => write!(
                f,
                "EmbanEmbed: embedUrl must be an absolute http(s) URL (the signed embed_url from \
                 POST /v1/embed-sessions), got {url:?}"
            ),
            HelperError::UnknownEvent(name) => {
                write!(f, "EmbanEmbed: unknown event {name:?}; expected one of {}", EVENT_NAMES.join(", "))
            }
            HelperError::Destroyed(method) => {
                write!(f, "EmbanEmbed: {method}() called after destroy(); mount a new embed instead")
            }
            HelperError::MissingContainer(what) => write!(f, "EmbanEmbed.mount: {what}"),
            HelperError::BadOption(what) => write!(f, "EmbanEmbed: {what}"),
        }
    }
}

impl std::error::Error for HelperError {}

/// Checks that `url` is an absolute http(s) URL with a host, and returns its origin
/// (`scheme://host[:port]`, lower-cased, default port dropped).
pub fn embed_origin(url: &str) -> Result<String, HelperError> {
    let bad = || HelperError::BadEmbedUrl(url.to_owned());
    let trimmed = url.trim();
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(bad());
    }
    let authority = authority.to_ascii_lowercase();
    let default_port = if scheme == "http" { ":80" } else { ":443" };
    let host = authority.strip_suffix(default_port).unwrap_or(&authority);
    if host.is_empty() || host.starts_with(':') {
        return Err(bad());
    }
    Ok(format!("{scheme}://{host}"))
}

/// Checks an event name given to `on`/`off`.
pub fn check_event_name(name: &str) -> Result<(), HelperError> {
    if EVENT_NAMES.contains(&name) { Ok(()) } else { Err(HelperError::UnknownEvent(name.to_owned())) }
}

/// The `exp` (seconds since the epoch) of the JWT in the URL's `token` query parameter, when
/// there is one that reads. The signature is not checked: this only schedules a refresh.
pub fn token_expiry(url: &str) -> Option<u64> {
    let query = url.split('#').next()?.split_once('?')?.1;
    let token = query.split('&').find_map(|pair| pair.strip_prefix("token="))?;
    let payload = base64url_decode(token.split('.').nth(1)?)?;
    let text = std::str::from_utf8(&payload).ok()?;
    let at = text.find("\"exp\"")? + 5;
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Decodes unpadded (or padded) base64url.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Milliseconds from `now_ms` until the helper should ask for a fresh URL for a token expiring
/// at `exp_secs`: [`REFRESH_LEAD_MS`] ahead, or half the remaining lifetime when that is shorter.
pub fn refresh_delay_ms(exp_secs: u64, now_ms: f64) -> f64 {
    let remaining = exp_secs as f64 * 1000.0 - now_ms;
    if remaining <= 0.0 {
        return 0.0;
    }
    let lead = REFRESH_LEAD_MS.min(remaining / 2.0);
    (remaining - lead).max(0.0)
}

/// The wait before retry number `attempt` (0-based) of a failed `fetchEmbedUrl`: 1 s, doubling,
/// capped at [`MAX_BACKOFF_MS`].
pub fn backoff_ms(attempt: u32) -> u32 {
    1000u32.saturating_mul(1u32 << attempt.min(15)).min(MAX_BACKOFF_MS)
}

/// Folds a `setFilters` request into the filters the helper carries to the next session: each
/// part the request names replaces the carried one, so a swap restores what the host set last.
pub fn merge_filters(carried: &mut FilterRequest, next: &FilterRequest) {
    if next.period.is_some() {
        carried.period.clone_from(&next.period);
    }
    if next.dimensions.is_some() {
        carried.dimensions.clone_from(&next.dimensions);
    }
    if next.numeric_ranges.is_some() {
        carried.numeric_ranges.clone_from(&next.numeric_ranges);
    }
    if next.date_ranges.is_some() {
        carried.date_ranges.clone_from(&next.date_ranges);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn origins_come_from_absolute_http_urls_only() {
        assert_eq!(embed_origin("https://Emban.example/embed/d?token=x").unwrap(), "https://emban.example");
        assert_eq!(embed_origin("http://127.0.0.1:8080/embed/d").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(embed_origin("https://a.example:443/x").unwrap(), "https://a.example");
        assert_eq!(embed_origin("http://a.example:80?x").unwrap(), "http://a.example");
        for bad in
            ["/embed/d", "embed/d", "javascript:alert(1)", "ftp://a/x", "https:///x", "http://u@a/x", ""]
        {
            let err = embed_origin(bad).unwrap_err();
            assert!(err.to_string().contains("absolute http(s) URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn event_names_are_checked() {
        for name in EVENT_NAMES {
            check_event_name(name).unwrap();
        }
        let err = check_event_name("redy").unwrap_err().to_string();
        assert!(err.contains("\"redy\"") && err.contains("session-swapped"), "{err}");
    }

    #[test]
    fn token_expiry_reads_the_jwt_payload() {
        // {"alg":"HS256"} . {"sub":"t","exp":1790000000} . sig
        let payload = "eyJzdWIiOiJ0IiwiZXhwIjoxNzkwMDAwMDAwfQ";
        let url = format!("https://e.example/embed/d?token=eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln#x");
        assert_eq!(token_expiry(&url), Some(1_790_000_000));
        assert_eq!(token_expiry("https://e.example/embed/d"), None);
        assert_eq!(token_expiry("https://e.example/embed/d?token=garbage"), None);
    }

    #[test]
    fn refresh_is_scheduled_ahead_of_expiry_with_backoff() {
        let now = 1_000_000.0;
        assert_eq!(refresh_delay_ms(1_000 + 600, now), 540_000.0);
        assert_eq!(refresh_delay_ms(1_000 + 20, now), 10_000.0);
        assert_eq!(refresh_delay_ms(999, now), 0.0);
        assert_eq!([0, 1, 2, 5, 40].map(backoff_ms), [1000, 2000, 4000, 30_000, 30_000]);
    }

    #[test]
    fn carried_filters_take_what_each_request_names() {
        let mut carried = FilterRequest::default();
        merge_filters(&mut carried, &FilterRequest { period: Some("7d".into()), ..Default::default() });
        let dims = BTreeMap::from([("model".to_owned(), "gpt-4".to_owned())]);
        merge_filters(&mut carried, &FilterRequest { dimensions: Some(dims.clone()), ..Default::default() });
        assert_eq!(carried.period.as_deref(), Some("7d"));
        assert_eq!(carried.dimensions, Some(dims));
    }
}
