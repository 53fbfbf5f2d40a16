//! Who is calling and what they may do: the principal behind a request (an API key or a
//! console session), the narrow credential kinds routes accept, and the role and scope checks,
//! as methods on [`Caller`]. Resolving credentials is `api_keys` and `sessions`; passwords are
//! `passwords`; which origins a cookie change may come from is `origins`.

pub mod api_keys;
pub mod origins;
pub mod passwords;
pub mod sessions;

use serde_json::Value;

use crate::{
    error::{AppError, Result},
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
    /// How audit rows name this caller.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::ApiKey { id, .. } => format!("api_key:{id}"),
            Principal::User { user, .. } => format!("user:{}", user.email),
        }
    }

    /// Fails with 403 unless the caller holds admin access: an admin-scope key, or a session
    /// of an owner or admin.
    pub fn require_admin_access(&self) -> Result<()> {
        match &self.principal {
            Principal::ApiKey { scope: Scope::Admin, .. } => Ok(()),
            Principal::User { role, .. } if role.is_admin() => Ok(()),
            Principal::User { role, .. } => Err(AppError::Forbidden(format!(
                "this action needs the admin or owner role; you are {}",
                role.as_str()
            ))),
            Principal::ApiKey { scope, .. } => Err(scope_forbidden(*scope)),
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

/// A console user (session cookie) or an admin-scope key: any caller but a narrow-scope key
/// (ingest, embed). Every route but `POST /v1/events` and `POST /v1/embed-sessions` takes this;
/// roles (`require_admin_access`) narrow it further.
#[derive(Debug, Clone)]
pub struct ConsoleOrAdminKey(pub Caller);

/// A caller that may write events (`POST /v1/events`): anything but an embed-scope key.
#[derive(Debug, Clone)]
pub struct EventWriter(pub Caller);

/// A caller that may mint embed sessions (`POST /v1/embed-sessions`): anything but an
/// ingest-scope key; the handler still asks for admin access or the embed scope.
#[derive(Debug, Clone)]
pub struct EmbedMinter(pub Caller);

impl Caller {
    /// Fails with 403 unless the caller may mint embed sessions: admin access or an embed key.
    pub fn require_mint_access(&self) -> Result<()> {
        match &self.principal {
            Principal::ApiKey { scope: Scope::Embed, .. } => Ok(()),
            _ => self.require_admin_access(),
        }
    }
}

impl Caller {
    /// Fails with 403 unless the caller may build dashboards: an admin-scope key, or a session
    /// of an owner, admin or editor.
    pub fn require_editor(&self) -> Result<()> {
        match &self.principal {
            Principal::ApiKey { scope: Scope::Admin, .. } => Ok(()),
            Principal::User { role, .. } if *role != Role::Viewer => Ok(()),
            Principal::User { role, .. } => Err(AppError::Forbidden(format!(
                "this action needs the editor, admin or owner role; you are {}",
                role.as_str()
            ))),
            Principal::ApiKey { scope, .. } => Err(scope_forbidden(*scope)),
        }
    }

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

    /// An audit row of an action this caller took.
    pub fn audit<'a>(&self, action: &'a str, resource: impl Into<String>, details: Value) -> Entry<'a> {
        Entry::new(self.org_id, self.actor(), action, resource, details)
    }
}
