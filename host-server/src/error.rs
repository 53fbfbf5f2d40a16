//! One error type for every handler, written as the `{"error", "code"}` envelope.

use axum::{
    Json,
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use contract::ErrorBody;
use serde::de::DeserializeOwned;

/// `Result` with [`AppError`] as the default error.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// Every way a request can fail, each with its status code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request is malformed; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// 400 with its own code: a token (an invite's) that can no longer be used, and why.
    #[error("{message}")]
    Refused {
        /// Stable code, e.g. `invite_expired`.
        code: &'static str,
        /// What happened, for the caller.
        message: String,
    },
    /// 401: missing, malformed, unknown, revoked or expired credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but the scope, role or permission does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource (or not visible to this caller).
    #[error("{0}")]
    NotFound(String),
    /// 409: collides with existing state.
    #[error("{0}")]
    Conflict(String),
    /// 402: the org's plan does not allow this (a limit reached or a feature not included); the
    /// body adds `plan`, `upgrade_to`, `limit` and `used` to the envelope.
    #[error("{}", .0.message)]
    PaymentRequired(Box<PlanLimit>),
    /// 413: the body or batch is over a stated limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: the body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: over a rate or concurrency limit; the response carries `Retry-After`.
    #[error("{message}")]
    TooManyRequests {
        /// What was limited, for the caller.
        message: String,
        /// Seconds after which a retry may succeed (at least 1).
        retry_after_secs: u64,
    },
    /// 502: a service the server called (Paddle's API) failed; the message says which, never
    /// its details.
    #[error("{0}")]
    BadGateway(String),
    /// 503 with its own code: a feature this server is not configured for.
    #[error("{message}")]
    Unavailable {
        /// Stable code, e.g. `paddle_not_configured`.
        code: &'static str,
        /// What is missing, for the caller.
        message: String,
    },
    /// 500: a bug or an unavailable store. The cause is logged, never sent.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// The HTTP status and stable code of this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            AppError::Refused { code, .. } => (StatusCode::BAD_REQUEST, code),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::PaymentRequired(limit) => (StatusCode::PAYMENT_REQUIRED, limit.code),
            AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            AppError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::BadGateway(_) => (StatusCode::BAD_GATEWAY, "upstream_failed"),
            AppError::Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// A 429 asking the caller to retry after `retry_after_secs` (rounded up to at least 1).
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> Self {
        AppError::TooManyRequests { message: message.into(), retry_after_secs: retry_after_secs.max(1) }
    }

    /// Shorthand for [`AppError::Invalid`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        AppError::Invalid(msg.into())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<duckdb::Error> for AppError {
    fn from(e: duckdb::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(e.into())
    }
}

/// What a 402 says: the reference's "Plan-limit response shape".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanLimit {
    /// What was refused, for the caller.
    #[serde(rename = "error")]
    pub message: String,
    /// The gate, e.g. `published_dashboards_limit`.
    pub code: &'static str,
    /// The org's plan.
    pub plan: &'static str,
    /// The next plan up, if there is one.
    pub upgrade_to: Option<&'static str>,
    /// The plan's limit at this gate.
    pub limit: i64,
    /// How much of it is in use.
    pub used: i64,
}

/// Carries the cause of a 500 to the logging middleware, which runs outside the handler.
#[derive(Clone)]
pub struct InternalCause(pub std::sync::Arc<String>);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let AppError::PaymentRequired(limit) = &self {
            return (status, Json(limit)).into_response();
        }
        let message = match &self {
            AppError::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        };
        let mut response =
            (status, Json(ErrorBody { error: message, code: code.to_owned() })).into_response();
        if let AppError::TooManyRequests { retry_after_secs, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(*retry_after_secs));
        }
        if let AppError::Internal(cause) = self {
            response.extensions_mut().insert(InternalCause(std::sync::Arc::new(format!("{cause:#}"))));
        }
        response
    }
}

/// A JSON body extractor whose failures use our envelope: 415 for a missing or wrong
/// `Content-Type`, 413 over the body limit, 400 naming the problem for malformed JSON.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Maps axum's JSON rejections onto our envelope.
pub fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(format!(
            "expected a request body with {}: application/json",
            header::CONTENT_TYPE
        )),
        JsonRejection::JsonDataError(e) => AppError::Invalid(format!("invalid body: {}", source_text(&e))),
        JsonRejection::JsonSyntaxError(e) => {
            AppError::Invalid(format!("malformed JSON: {}", source_text(&e)))
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::TooLarge("request body is over the size limit".to_owned())
        }
        other => AppError::Invalid(other.body_text()),
    }
}

fn source_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

/// Shortens user text quoted in error messages.
pub fn clip(s: &str) -> String {
    if s.chars().count() <= 64 {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(64).collect::<String>())
    }
}
