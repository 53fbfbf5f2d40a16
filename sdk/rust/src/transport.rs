//! One HTTP exchange with retries: connection failures, timeouts, 429 (after `Retry-After`) and
//! 5xx are retried with exponential backoff and jitter; every other 4xx fails at once.

use std::time::Duration;

use rand::Rng;
use reqwest::{Method, header};
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The SDK's version, sent in `User-Agent`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How requests are sent and retried.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
    pub max_retries: u32,
    pub timeout: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

/// One request.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// JSON body, already serialized.
    pub body: Option<&'a [u8]>,
}

/// `Retry-After` in seconds: delta-seconds or an HTTP date.
pub(crate) fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<f64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite()).then_some(seconds.max(0.0));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(((at.timestamp_millis() - now.timestamp_millis()) as f64 / 1000.0).max(0.0))
}

/// The delay before retry number `retry` (from 0): `base * 2^retry`, capped at `max`, half of it
/// fixed and half random.
pub(crate) fn backoff(retry: u32, base: Duration, max: Duration) -> Duration {
    let ceiling = base.saturating_mul(2u32.saturating_pow(retry.min(20))).min(max);
    let half = ceiling / 2;
    half + half.mul_f64(rand::thread_rng().r#gen::<f64>())
}

impl Transport {
    /// Sends `request`, retrying as configured; the parsed body (`null` for 204).
    pub async fn send<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<T, Error> {
        let (request_id, bytes) = self.send_raw(request).await?;
        let bytes = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
        serde_json::from_slice(bytes).map_err(|source| Error::Decode { request_id, source })
    }

    /// Sends `request`, retrying as configured; the request id and raw body.
    pub async fn send_raw(&self, request: Request<'_>) -> Result<(String, Vec<u8>), Error> {
        let request_id = uuid::Uuid::now_v7().to_string();
        let mut attempt = 0;
        loop {
            let error = match self.attempt(&request, &request_id).await {
                Ok(body) => return Ok((request_id, body)),
                Err(e) => e,
            };
            if !error.is_retryable() || attempt >= self.max_retries {
                return Err(error);
            }
            let wait = match &error {
                Error::RateLimit { retry_after: Some(seconds), .. } => {
                    let wait = Duration::from_secs_f64(*seconds);
                    if wait > self.retry_max {
                        return Err(error); // longer than we may wait
                    }
                    wait
                }
                _ => backoff(attempt, self.retry_base, self.retry_max),
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, request: &Request<'_>, request_id: &str) -> Result<Vec<u8>, Error> {
        let connection = |source| Error::Connection { request_id: request_id.to_owned(), source };
        let mut builder = self
            .http
            .request(request.method.clone(), format!("{}{}", self.base_url, request.path))
            .bearer_auth(&self.api_key)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, format!("emban-sdk-rust/{SDK_VERSION}"))
            .header("x-request-id", request_id)
            .timeout(self.timeout);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = request.body {
            builder = builder.header(header::CONTENT_TYPE, "application/json").body(body.to_vec());
        }
        let response = builder.send().await.map_err(connection)?;
        let status = response.status();
        let answered_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map_or_else(|| request_id.to_owned(), str::to_owned);
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let body = response.bytes().await.map_err(connection)?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        Err(Error::from_response(status.as_u16(), &body, answered_id, retry_after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").map(|t| t.to_utc());
        let Ok(now) = now else { panic!("time") };
        assert_eq!(parse_retry_after("3", now), Some(3.0));
        assert_eq!(parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now), Some(10.0));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_within_the_cap() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        for retry in 0..6 {
            let d = backoff(retry, base, max);
            let ceiling = (base * 2u32.pow(retry)).min(max);
            assert!(d >= ceiling / 2 && d <= ceiling, "{retry}: {d:?}");
        }
    }
}
