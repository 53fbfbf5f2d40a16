//! The host-page helper of the Emban embed, published to npm as `@emban/embed-helper`: mounts a
//! signed embed URL in an iframe and drives it over the postMessage contract
//! (`contract::messages`), adding what the raw iframe leaves to the host: queued commands,
//! auto-resize, origin checks, and in-place session rotation (`setEmbedUrl`, `session-swapped`).
//!
//! This module holds the pure logic (checked natively by `cargo test`); the browser binding,
//! `EmbanEmbed`, lives in `wasm` and exists only on `wasm32`.
//!
//! Size matters more here than anywhere else in Emban (the package ships to every host page), so
//! the code avoids what pulls in large parts of `core`/`std` on wasm: `format!` and
//! `core::fmt`, float formatting, serde, and ordered maps. Messages are built by concatenating
//! `&str`s; commands are plain JS objects built field by field (see `wasm`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The published wasm (feature `bare`, set by scripts/build-helper.sh) is `no_std`: std's panic
// and allocation-error hooks format their messages, which drags ~30 KB of `core::fmt` into the
// module even though nothing here formats anything.
#![cfg_attr(all(target_arch = "wasm32", feature = "bare"), no_std)]

extern crate alloc;

use alloc::{borrow::ToOwned, string::String, vec::Vec};
use core::fmt;

#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub use wasm::EmbanEmbed;

/// Events a host may subscribe to with `on(type, callback)`: the runtime's, then the helper's own.
pub const EVENT_NAMES: &[&str] = &[
    "ready",
    "resize",
    "filter",
    "period-change",
    "drill",
    "error",
    "theme",
    "export",
    "session-swapped",
    "session-expiring",
];

/// The keys of a `setFilters` payload (`contract::messages::FilterRequest` on the wire).
pub const FILTER_KEYS: [&str; 4] = ["period", "dimensions", "numericRanges", "dateRanges"];

/// The six theme tokens of `setTheme` (`contract::messages::Theme` on the wire), each a CSS colour.
pub const THEME_KEYS: [&str; 6] =
    ["primaryColor", "backgroundColor", "cardBackground", "cardBorder", "textColor", "mutedColor"];

/// The `setTheme` extension token naming the built-in scheme under the colours
/// (`contract::messages::Theme::color_scheme`), and the values it takes.
pub const COLOR_SCHEME_KEY: &str = "colorScheme";

/// The values of [`COLOR_SCHEME_KEY`].
pub const COLOR_SCHEMES: [&str; 2] = ["light", "dark"];

/// Every key a `setTheme` payload may hold: the colour tokens, then `colorScheme`.
pub const THEME_PAYLOAD_KEYS: [&str; 7] = [
    THEME_KEYS[0],
    THEME_KEYS[1],
    THEME_KEYS[2],
    THEME_KEYS[3],
    THEME_KEYS[4],
    THEME_KEYS[5],
    COLOR_SCHEME_KEY,
];

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

impl HelperError {
    /// The message a host sees (the `message` of the thrown `Error`).
    pub fn message(&self) -> String {
        match self {
            HelperError::BadEmbedUrl(url) => [
                "EmbanEmbed: embedUrl must be an absolute http(s) URL (the signed embed_url from \
                 POST /v1/embed-sessions), got \"",
                url,
                "\"",
            ]
            .concat(),
            HelperError::UnknownEvent(name) => {
                ["EmbanEmbed: unknown event \"", name, "\"; expected one of ", &EVENT_NAMES.join(", ")]
                    .concat()
            }
            HelperError::Destroyed(method) => {
                ["EmbanEmbed: ", method, "() called after destroy(); mount a new embed instead"].concat()
            }
            HelperError::MissingContainer(what) => ["EmbanEmbed.mount: ", what].concat(),
            HelperError::BadOption(what) => ["EmbanEmbed: ", what].concat(),
        }
    }
}

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for HelperError {}

/// Checks that `url` is an absolute http(s) URL with a host, and returns its origin
/// (`scheme://host[:port]`, lower-cased, default port dropped).
pub fn embed_origin(url: &str) -> Result<String, HelperError> {
    // Checked `get`s and char searches only: `str` slicing that could panic (and `find("://")`'s
    // substring searcher) would bring the panic message's formatting tables into the wasm.
    let bad = || HelperError::BadEmbedUrl(url.to_owned());
    let trimmed = url.trim();
    let colon = trimmed.find(':').ok_or_else(bad)?;
    let scheme = trimmed.get(..colon).ok_or_else(bad)?;
    let rest = trimmed.get(colon + 1..).and_then(|r| r.strip_prefix("//")).ok_or_else(bad)?;
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("http") {
        ("http", ":80")
    } else if scheme.eq_ignore_ascii_case("https") {
        ("https", ":443")
    } else {
        return Err(bad());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(bad());
    }
    let authority = authority.to_ascii_lowercase();
    let host = authority.strip_suffix(default_port).unwrap_or(&authority);
    if host.is_empty() || host.starts_with(':') {
        return Err(bad());
    }
    Ok([scheme, "://", host].concat())
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
    // Byte-wise (no `str` slicing, whose char-boundary panic formats its message).
    let at = payload.windows(5).position(|w| w == b"\"exp\"")? + 5;
    let mut rest = payload.get(at..)?.iter().skip_while(|b| b.is_ascii_whitespace());
    if rest.next() != Some(&b':') {
        return None;
    }
    let mut value: Option<u64> = None;
    for &b in rest.skip_while(|b| b.is_ascii_whitespace()) {
        if !b.is_ascii_digit() {
            break;
        }
        value = value.unwrap_or(0).checked_mul(10)?.checked_add(u64::from(b - b'0'));
    }
    value
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

/// A CSS pixel length of `height`, rounded up to whole pixels, at least `min` and at most a
/// million: `"712px"`. Written by hand because float (or even integer) formatting through
/// `core::fmt` would add kilobytes to the module.
pub fn css_px(height: f64, min: f64) -> String {
    let height = height.max(min).min(1e6);
    // `as` truncates and saturates (NaN → 0), so the digits below always fit; rounding up by
    // hand because `f64::ceil` is not in `core`.
    let mut n = height as u32;
    if f64::from(n) < height {
        n += 1;
    }
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut out: String = digits[at..].iter().map(|&d| char::from(d)).collect();
    out.push_str("px");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn origins_come_from_absolute_http_urls_only() {
        assert_eq!(embed_origin("https://Emban.example/embed/d?token=x").unwrap(), "https://emban.example");
        assert_eq!(embed_origin("http://127.0.0.1:8080/embed/d").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(embed_origin("https://a.example:443/x").unwrap(), "https://a.example");
        assert_eq!(embed_origin("http://a.example:80?x").unwrap(), "http://a.example");
        assert_eq!(embed_origin(" HTTPS://É.example:8443#x ").unwrap(), "https://É.example:8443");
        for bad in [
            "/embed/d",
            "embed/d",
            "javascript:alert(1)",
            "ftp://a/x",
            "https:///x",
            "http://u@a/x",
            "",
            "https:",
            "https:/x",
            "http://:80/x",
            "http://a b/",
        ] {
            let err = embed_origin(bad).unwrap_err();
            assert!(err.to_string().contains("absolute http(s) URL"), "{bad}: {err}");
            assert!(err.to_string().ends_with(&format!("got \"{bad}\"")), "{bad}: {err}");
        }
    }

    #[test]
    fn event_names_are_checked() {
        for name in EVENT_NAMES {
            check_event_name(name).unwrap();
        }
        let err = check_event_name("redy").unwrap_err().to_string();
        assert_eq!(
            err,
            "EmbanEmbed: unknown event \"redy\"; expected one of ready, resize, filter, period-change, \
             drill, error, theme, export, session-swapped, session-expiring"
        );
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert_eq!(
            HelperError::Destroyed("reload").to_string(),
            "EmbanEmbed: reload() called after destroy(); mount a new embed instead"
        );
        assert_eq!(
            HelperError::MissingContainer("no element matches \"#x\"".into()).to_string(),
            "EmbanEmbed.mount: no element matches \"#x\""
        );
        assert_eq!(
            HelperError::BadOption("theme must be an object".into()).message(),
            "EmbanEmbed: theme must be an object"
        );
    }

    #[test]
    fn token_expiry_reads_the_jwt_payload() {
        // {"alg":"HS256"} . {"sub":"t","exp":1790000000} . sig
        let payload = "eyJzdWIiOiJ0IiwiZXhwIjoxNzkwMDAwMDAwfQ";
        let url = format!("https://e.example/embed/d?token=eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln#x");
        assert_eq!(token_expiry(&url), Some(1_790_000_000));
        // {"exp" : 42, "sub":"é"} (spaces around the colon, a multi-byte character after)
        let spaced = "eyJleHAiIDogNDIsICJzdWIiOiLDqSJ9";
        assert_eq!(token_expiry(&format!("https://e.example/e?a=1&token=x.{spaced}.s")), Some(42));
        // {"exp":"soon"}
        assert_eq!(token_expiry("https://e.example/e?token=x.eyJleHAiOiJzb29uIn0.s"), None);
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
    fn pixel_lengths_are_whole_and_bounded() {
        assert_eq!(css_px(712.0, 0.0), "712px");
        assert_eq!(css_px(711.2, 0.0), "712px");
        assert_eq!(css_px(0.0, 0.0), "0px");
        assert_eq!(css_px(90.0, 120.0), "120px");
        assert_eq!(css_px(5e9, 0.0), "1000000px");
        assert_eq!(css_px(f64::NAN, 0.0), "0px");
        assert_eq!(css_px(-3.0, 0.0), "0px");
        assert_eq!(css_px(90.0, 120.5), "121px");
    }

    /// The key lists the helper builds commands from are the contract's own field names.
    #[test]
    fn command_keys_match_the_contract() {
        use contract::messages::{Command, Envelope, FilterRequest, Theme};
        let filters = FilterRequest {
            period: Some("7d".into()),
            dimensions: Some(Default::default()),
            numeric_ranges: Some(Default::default()),
            date_ranges: Some(Default::default()),
        };
        let json =
            serde_json::to_value(Envelope::new(Command::SetFilters { filters, partial: None })).unwrap();
        let keys: Vec<&str> = json["filters"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = FILTER_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);

        let some = || Some("#000".to_owned());
        let theme = Theme {
            primary_color: some(),
            background_color: some(),
            card_background: some(),
            card_border: some(),
            text_color: some(),
            muted_color: some(),
            color_scheme: Some("dark".to_owned()),
        };
        let names: Vec<&str> = theme.tokens().into_iter().map(|(name, _)| name).collect();
        assert_eq!(names, THEME_KEYS);
        // Every key of the wire form is one the helper accepts, `colorScheme` included, and each
        // scheme the helper lets through is one the contract reads.
        let json = serde_json::to_value(&theme).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = THEME_PAYLOAD_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        for scheme in COLOR_SCHEMES {
            let theme: Theme = serde_json::from_value(serde_json::json!({ "colorScheme": scheme })).unwrap();
            assert_eq!(theme.color_scheme.as_deref(), Some(scheme));
        }
        // The `export` event the helper forwards is the contract's.
        use contract::messages::Event;
        let json =
            serde_json::to_value(Envelope::new(Event::Export { widget_id: None, format: "csv".into() }))
                .unwrap();
        assert!(EVENT_NAMES.contains(&json["type"].as_str().unwrap()));
        let json = serde_json::to_value(Envelope::new(Command::Reload {})).unwrap();
        assert_eq!(json, serde_json::json!({"_emban": true, "type": "reload"}));
    }
}
