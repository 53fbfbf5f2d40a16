//! One error type for every SDK call: a variant per outcome a caller handles differently, built
//! from the server's `{"error", "code"}` envelope in one place ([`Error::from_response`]).

use contract::events::IngestEvent;

/// What the server said about a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status.
    pub status: u16,
    /// The stable code from the envelope (`invalid_request`, `unauthorized`...).
    pub code: String,
    /// The message from the envelope; for validation failures it names the field.
    pub message: String,
    /// The request's `X-Request-Id`, the same across retries.
    pub request_id: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} {}, request {})", self.message, self.status, self.code, self.request_id)
    }
}

/// The body of a 402: which plan limit was hit.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanLimit {
    /// The envelope.
    pub failure: ApiFailure,
    /// The org's plan, e.g. `free`.
    pub plan: Option<String>,
    /// The plan that lifts the limit, e.g. `starter`.
    pub upgrade_to: Option<String>,
    /// The limit.
    pub limit: Option<f64>,
    /// How much of it is used.
    pub used: Option<f64>,
}

/// Every way an SDK call can fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401: the API key is missing, malformed, unknown or revoked.
    #[error("authentication failed: {0}")]
    Auth(ApiFailure),
    /// 403: the key's scope or role does not allow this (an ingest key on an admin route).
    #[error("permission denied: {0}")]
    Permission(ApiFailure),
    /// 402: the org hit a plan limit (boxed: the details are large and rare).
    #[error("plan limit: {}", .0.failure)]
    PlanLimit(Box<PlanLimit>),
    /// 404: no such resource, or not visible to this key.
    #[error("not found: {0}")]
    NotFound(ApiFailure),
    /// 409: the request collides with existing state.
    #[error("conflict: {0}")]
    Conflict(ApiFailure),
    /// 400, 413, 415: the request is malformed (or, with status 0, refused by the SDK before
    /// sending); `field` names the offending field when known.
    #[error("invalid request: {failure}")]
    Validation {
        /// The envelope.
        failure: ApiFailure,
        /// The field, e.g. `events[3].tenant_id`.
        field: Option<String>,
    },
    /// 429 after the retries.
    #[error("rate limited: {failure}")]
    RateLimit {
        /// The envelope.
        failure: ApiFailure,
        /// Seconds the server asked to wait (`Retry-After`).
        retry_after: Option<f64>,
    },
    /// 5xx after the retries.
    #[error("server error: {0}")]
    Api(ApiFailure),
    /// Another non-2xx status.
    #[error("unexpected answer: {0}")]
    Status(ApiFailure),
    /// The server could not be reached, dropped the connection or did not answer in time,
    /// after the retries.
    #[error("connection failed (request {request_id}): {source}")]
    Connection {
        /// The request's id.
        request_id: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx answer whose body is not what the route returns.
    #[error("unexpected response body (request {request_id}): {source}")]
    Decode {
        /// The request's id.
        request_id: String,
        /// Why it did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// `track()` refused an event: the queue is full or the client is shut down. Counted in
    /// [`crate::Client::dropped`].
    #[error("event dropped: {reason} ({dropped_total} dropped so far)")]
    Queue {
        /// `queue_full` or `client_closed`.
        reason: &'static str,
        /// Every event dropped by this client so far.
        dropped_total: u64,
    },
    /// A background batch failed after the retries; `events` are the undelivered events, with
    /// their `event_id`s, so resending them cannot double count.
    #[error("{} events were not delivered: {source}", events.len())]
    Delivery {
        /// Why.
        #[source]
        source: Box<Error>,
        /// The undelivered events.
        events: Vec<IngestEvent>,
    },
    /// The client was configured wrongly (an empty key, a bad base URL).
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl Error {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        self.failure().map(|f| f.status).filter(|s| *s != 0)
    }

    /// The envelope's code (or the SDK's own for local refusals).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Queue { reason, .. } => Some(reason),
            Error::Delivery { source, .. } => source.code(),
            _ => self.failure().map(|f| f.code.as_str()),
        }
    }

    /// The request's id, when a request was made.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Connection { request_id, .. } | Error::Decode { request_id, .. } => Some(request_id),
            Error::Delivery { source, .. } => source.request_id(),
            _ => self.failure().map(|f| f.request_id.as_str()).filter(|id| !id.is_empty()),
        }
    }

    /// The server's envelope, for answered requests.
    pub fn failure(&self) -> Option<&ApiFailure> {
        match self {
            Error::Auth(f)
            | Error::Permission(f)
            | Error::NotFound(f)
            | Error::Conflict(f)
            | Error::Api(f)
            | Error::Status(f)
            | Error::Validation { failure: f, .. }
            | Error::RateLimit { failure: f, .. } => Some(f),
            Error::PlanLimit(limit) => Some(&limit.failure),
            Error::Delivery { source, .. } => source.failure(),
            _ => None,
        }
    }

    /// Whether retrying the same request may succeed: connection failures, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Connection { .. } | Error::RateLimit { .. } | Error::Api(_))
    }

    /// A refusal by the SDK before anything was sent.
    pub(crate) fn local(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        let field = field.into();
        Error::Validation {
            failure: ApiFailure {
                status: 0,
                code: code.to_owned(),
                message: message.into(),
                request_id: String::new(),
            },
            field: Some(field),
        }
    }

    /// The error for a non-2xx answer.
    pub(crate) fn from_response(
        status: u16,
        body: &[u8],
        request_id: String,
        retry_after: Option<f64>,
    ) -> Self {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let message = text("error").filter(|m| !m.is_empty()).unwrap_or_else(|| {
            let raw = String::from_utf8_lossy(body);
            if raw.trim().is_empty() { format!("HTTP {status}") } else { raw.chars().take(500).collect() }
        });
        let failure = ApiFailure { status, code: text("code").unwrap_or_default(), message, request_id };
        match status {
            400 | 413 | 415 | 422 => {
                let field = field_of(&failure.message);
                Error::Validation { failure, field }
            }
            401 => Error::Auth(failure),
            402 => Error::PlanLimit(Box::new(PlanLimit {
                plan: text("plan"),
                upgrade_to: text("upgrade_to"),
                limit: value.get("limit").and_then(|v| v.as_f64()),
                used: value.get("used").and_then(|v| v.as_f64()),
                failure,
            })),
            403 => Error::Permission(failure),
            404 => Error::NotFound(failure),
            409 => Error::Conflict(failure),
            429 => Error::RateLimit { failure, retry_after },
            500..=599 => Error::Api(failure),
            _ => Error::Status(failure),
        }
    }
}

/// The leading `path: ` of a validation message, when it looks like a field path.
fn field_of(message: &str) -> Option<String> {
    let (head, _) = message.split_once(": ")?;
    let ok = !head.is_empty()
        && head.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && head.chars().all(|c| c.is_ascii_alphanumeric() || "_.[]-".contains(c));
    ok.then(|| head.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_variants() {
        let body = br#"{"error":"label: must be non-empty","code":"invalid_request"}"#;
        let e = Error::from_response(400, body, "r1".into(), None);
        assert!(matches!(&e, Error::Validation { field: Some(f), .. } if f == "label"));
        assert_eq!((e.status(), e.code(), e.request_id()), (Some(400), Some("invalid_request"), Some("r1")));
        let plan = br#"{"error":"limit","code":"published_dashboards_limit","plan":"free","upgrade_to":"starter","limit":1,"used":1}"#;
        let Error::PlanLimit(limit) = Error::from_response(402, plan, "r".into(), None) else {
            panic!("not 402")
        };
        assert_eq!(
            (limit.plan.as_deref(), limit.upgrade_to.as_deref(), limit.limit, limit.used),
            (Some("free"), Some("starter"), Some(1.0), Some(1.0))
        );
        assert!(matches!(
            Error::from_response(429, b"{}", "r".into(), Some(2.0)),
            Error::RateLimit { retry_after: Some(_), .. }
        ));
        assert!(
            matches!(Error::from_response(502, b"<html>", "r".into(), None), Error::Api(f) if f.message == "<html>")
        );
        assert!(
            matches!(Error::from_response(418, b"", "r".into(), None), Error::Status(f) if f.message == "HTTP 418")
        );
    }

    #[test]
    fn field_paths() {
        assert_eq!(field_of("events[3].tenant_id: required").as_deref(), Some("events[3].tenant_id"));
        assert_eq!(field_of("malformed JSON: eof"), None);
    }
}
