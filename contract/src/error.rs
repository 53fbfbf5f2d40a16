//! The one error envelope every endpoint answers with.

use serde::{Deserialize, Serialize};

/// `{"error": "...", "code": "..."}`: the body of every non-2xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A human-readable message; for validation failures it names the offending field.
    pub error: String,
    /// A stable machine-readable code, e.g. `invalid_request` or `unauthorized`.
    pub code: String,
}
