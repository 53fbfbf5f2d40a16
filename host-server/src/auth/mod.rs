//! Who is calling and what they may do: the principal behind a request (an API key or a
//! console session), the narrow credential kinds routes accept, and the role and scope checks,
//! as methods on [`Caller`]. Resolving credentials is `api_keys` and `sessions`; passwords are
//! `passwords`; which origins a cookie change may come from is `origins`.

pub mod access;
pub mod api_keys;
pub mod origins;
pub mod passwords;
pub mod sessions;

use serde_json::Value;

use crate::{
    error::AppError,
    events::StoreScope,
    limits::IngestKey,
    meta::{Environment, Role, Scope, User, audit::Entry},
};

/// The authenticated principal behind a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A Bearer API key.
    ApiKey {
        /// Key id.
        id: i64,
        /// Key scope.
        scope: Scope,
        /// Key prefix, as listed (never the key).
        prefix: String,
    },
    /// A console session.
    User {
        /// The user.
        user: User,
        /// Their role in the org.
        role: Role,
    },
}

/// An authenticated caller: any valid credential, whatever its scope.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The org every data path is confined to.
    pub org_id: i64,
    /// The environment (the key's, or the session's chosen one).
    pub env: Environment,
    /// Who.
    pub principal: Principal,
}

impl Caller {
    /// How audit rows name this caller: `user:<email>`, or `api_key:<id>:<prefix>`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::ApiKey { id, prefix, .. } => format!("api_key:{id}:{prefix}"),
            Principal::User { user, .. } => format!("user:{}", user.email),
        }
    }
}

/// The 403 of a key used outside its scope.
pub fn scope_forbidden(scope: Scope) -> AppError {
    AppError::Forbidden(match scope {
        Scope::Ingest => "this API key has ingest scope, which may only POST /v1/events".into(),
        Scope::Embed => "this API key has embed scope, which may only POST /v1/embed-sessions".into(),
        Scope::Admin => "this action needs admin access".into(),
    })
}

impl Caller {
    /// The org and environment every data path of this caller is confined to.
    pub fn scope(&self) -> StoreScope {
        StoreScope { org_id: self.org_id, env_id: self.env.id }
    }

    /// Whose ingest allowance this caller spends: its key, or the signed-in user.
    pub fn ingest_key(&self) -> IngestKey {
        match &self.principal {
            Principal::ApiKey { id, .. } => IngestKey::ApiKey(*id),
            Principal::User { user, .. } => IngestKey::User(user.id),
        }
    }

    /// The signed-in user's id (`None` for an API key).
    pub fn principal_user_id(&self) -> Option<i64> {
        match &self.principal {
            Principal::User { user, .. } => Some(user.id),
            Principal::ApiKey { .. } => None,
        }
    }

    /// An audit row of an action this caller took.
    pub fn audit<'a>(&self, action: &'a str, resource: impl Into<String>, details: Value) -> Entry<'a> {
        Entry::new(self.org_id, self.actor(), action, resource, details)
    }
}
