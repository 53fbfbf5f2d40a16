//! Signed webhook requests, per the Standard Webhooks spec: headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{ts}.{body}")>`
//! (one `v1,` signature per valid secret, space-separated, during a rotation), where the key
//! is the base64 part of the org's `whsec_...` secret. One attempt per call; retries are the
//! outbox's (`outbox`). Connections go only to the address the SSRF guard checked, redirects are
//! not followed, and only the first bytes of a response are read.

use std::time::{Duration, Instant};

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::delivery::ssrf::SsrfGuard;

/// Success needs a 2xx within this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The response bytes kept for `GET /v1/webhooks`.
pub const EXCERPT_BYTES: usize = 512;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The `v1,<base64>` signature of one message with one secret.
pub fn sign(secret: &str, message_id: &str, timestamp: i64, body: &str) -> String {
    let key = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD.decode(key).unwrap_or_else(|_| key.as_bytes().to_vec());
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{message_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptOutcome {
    /// 2xx within the timeout.
    pub ok: bool,
    /// The response status, if one came.
    pub status: Option<u16>,
    /// What failed.
    pub error: Option<String>,
    /// The response body's start.
    pub excerpt: Option<String>,
    /// How long it took.
    pub duration: Duration,
    /// The target's `Retry-After`, in seconds.
    pub retry_after: Option<Duration>,
    /// Retrying cannot help (the URL is refused by the guard).
    pub permanent: bool,
}

impl AttemptOutcome {
    fn failed(error: String, started: Instant, permanent: bool) -> Self {
        AttemptOutcome {
            ok: false,
            status: None,
            error: Some(error),
            excerpt: None,
            duration: started.elapsed(),
            retry_after: None,
            permanent,
        }
    }
}

/// Sends webhook requests through the SSRF guard.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    /// The guard every target passes.
    pub guard: SsrfGuard,
    timeout: Duration,
}

impl WebhookSender {
    /// A sender with `guard` and the 10 s timeout.
    pub fn new(guard: SsrfGuard) -> Self {
        WebhookSender { guard, timeout: TIMEOUT }
    }

    /// One signed POST of `body` to `url`.
    pub async fn send(
        &self,
        url: &str,
        message_id: &str,
        timestamp: i64,
        body: &str,
        secrets: &[String],
    ) -> AttemptOutcome {
        let started = Instant::now();
        let parsed = match SsrfGuard::parse(url) {
            Ok(u) => u,
            Err(e) => return AttemptOutcome::failed(format!("webhook_url: {e}"), started, true),
        };
        let addr = match self.guard.resolve(&parsed).await {
            Ok(a) => a,
            Err(e) => return AttemptOutcome::failed(e, started, true),
        };
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let client = match reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.timeout)
            .resolve(&host, addr)
            .user_agent("Emban-Webhooks/1")
            .build()
        {
            Ok(c) => c,
            Err(e) => return AttemptOutcome::failed(format!("building the client: {e}"), started, false),
        };
        let signature =
            secrets.iter().map(|s| sign(s, message_id, timestamp, body)).collect::<Vec<_>>().join(" ");
        let sent = client
            .post(parsed)
            .header("content-type", "application/json")
            .header("webhook-id", message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_owned())
            .send()
            .await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return AttemptOutcome::failed(
                    format!("no answer within {} s", self.timeout.as_secs()),
                    started,
                    false,
                );
            }
            Err(e) => {
                return AttemptOutcome::failed(
                    format!("request failed: {}", error_chain(&e)),
                    started,
                    false,
                );
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut excerpt = Vec::new();
        let mut read_error = None;
        while excerpt.len() < EXCERPT_BYTES {
            match tokio::time::timeout(self.timeout.saturating_sub(started.elapsed()), response.chunk()).await
            {
                Ok(Ok(Some(chunk))) => excerpt.extend_from_slice(&chunk),
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    read_error = Some(format!("reading the response: {e}"));
                    break;
                }
                Err(_) => {
                    read_error = Some(format!("no complete answer within {} s", self.timeout.as_secs()));
                    break;
                }
            }
        }
        excerpt.truncate(EXCERPT_BYTES);
        let excerpt = String::from_utf8_lossy(&excerpt).into_owned();
        let ok = status.is_success() && read_error.is_none();
        let error = if ok {
            None
        } else if status.is_redirection() {
            Some(format!("HTTP {} (redirects are not followed)", status.as_u16()))
        } else if let Some(e) = read_error {
            Some(e)
        } else {
            Some(format!("HTTP {}", status.as_u16()))
        };
        AttemptOutcome {
            ok,
            status: Some(status.as_u16()),
            error,
            excerpt: (!excerpt.is_empty()).then_some(excerpt),
            duration: started.elapsed(),
            retry_after,
            permanent: false,
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        // The spec's example (standard-webhooks/spec, "Signature scheme").
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(new_secret().starts_with("whsec_"));
    }
}
