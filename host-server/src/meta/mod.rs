//! Metadata (orgs, users, memberships, environments, sessions, API keys, audit, usage) behind
//! one trait; SQLite is the embedded engine.

pub mod alerts;
pub mod audit;
pub mod billing;
pub mod dashboards;
pub mod jobs;
pub mod members;
pub mod org_settings;
pub mod reports;
pub mod revocations;
pub mod saved_queries;
pub mod sqlite;
pub mod usage;
pub mod webhooks;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::Result;

/// A member's role in an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Created the org; everything, including ownership changes.
    Owner,
    /// Everything but ownership changes.
    Admin,
    /// Builds dashboards.
    Editor,
    /// Reads.
    Viewer,
}

impl Role {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "editor" => Role::Editor,
            "viewer" => Role::Viewer,
            _ => return None,
        })
    }

    /// Owners and admins hold admin access.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Everything in its org and environment.
    Admin,
    /// Only `POST /v1/events`.
    Ingest,
    /// Only `POST /v1/embed-sessions`: the key a customer's web tier holds to mint sessions.
    Embed,
}

impl Scope {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Ingest => "ingest",
            Scope::Embed => "embed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Scope::Admin),
            "ingest" => Some(Scope::Ingest),
            "embed" => Some(Scope::Embed),
            _ => None,
        }
    }
}

/// An org.
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    /// Id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// The seeded demo org.
    pub is_demo: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// A user.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Login email.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// An environment: events and keys live in exactly one.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// Id.
    pub id: i64,
    /// `production`, `development`, ...
    pub name: String,
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, Serialize)]
pub struct ApiKey {
    /// Id.
    pub id: i64,
    /// Free text.
    pub label: String,
    /// `admin`, `ingest` or `embed`.
    pub scope: Scope,
    /// The first characters of the key, enough to recognise it.
    pub prefix: String,
    /// The environment its events go to.
    pub environment: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last time it authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Set once revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a valid API key resolves to.
#[derive(Debug, Clone)]
pub struct KeyGrant {
    /// The key's id.
    pub key_id: i64,
    /// Its org.
    pub org_id: i64,
    /// Its environment.
    pub env: Environment,
    /// Its scope.
    pub scope: Scope,
    /// Its listed prefix (`emb_admin_AbCd…`), what audit rows name it by.
    pub prefix: String,
    /// When it was last marked used.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a valid session cookie resolves to.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    /// The signed-in user.
    pub user: User,
    /// The org the session is for.
    pub org_id: i64,
    /// The user's role there.
    pub role: Role,
    /// When the member last used the console there, if ever.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// Everything `register` creates.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The owner.
    pub user: User,
    /// The org.
    pub org: Org,
    /// `production` then `development`.
    pub environments: Vec<Environment>,
}

/// One audit row.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// Id.
    pub id: i64,
    /// `user:<email>` or `api_key:<prefix>`.
    pub actor: String,
    /// E.g. `api_key.create`.
    pub action: String,
    /// What it acted on.
    pub resource: String,
    /// Action-specific details.
    pub details: serde_json::Value,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A usage counter for one day.
#[derive(Debug, Clone, Serialize)]
pub struct UsageRow {
    /// UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// Counter name.
    pub metric: String,
    /// Value.
    pub value: i64,
}

/// The metadata store.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Creates user, org, owner membership and the `production` and `development`
    /// environments in one transaction. `Conflict` when the email is taken.
    async fn create_account(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
        org_name: &str,
        is_demo: bool,
    ) -> Result<NewAccount>;
    /// A user and their password hash, by email (case-insensitive).
    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>>;
    /// The org a user belongs to (their first membership) and their role there.
    async fn primary_membership(&self, user_id: i64) -> Result<Option<(i64, Role)>>;
    /// An org.
    async fn org(&self, org_id: i64) -> Result<Option<Org>>;
    /// The demo org, if seeded.
    async fn demo_org(&self) -> Result<Option<Org>>;
    /// The org's environments.
    async fn environments(&self, org_id: i64) -> Result<Vec<Environment>>;

    /// Stores a session by token hash.
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        org_id: i64,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// The unexpired session with this token hash.
    async fn session(&self, token_hash: &str) -> Result<Option<SessionGrant>>;
    /// Deletes a session.
    async fn delete_session(&self, token_hash: &str) -> Result<()>;

    /// Stores a new API key by hash, unless the org already has `cap` unrevoked keys.
    #[allow(clippy::too_many_arguments)]
    async fn create_api_key(
        &self,
        org_id: i64,
        env_id: i64,
        label: &str,
        scope: Scope,
        prefix: &str,
        key_hash: &str,
        cap: Option<i64>,
    ) -> Result<billing::Capped<ApiKey>>;
    /// The unrevoked key with this hash.
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<KeyGrant>>;
    /// Records that a key was used.
    async fn touch_api_key(&self, key_id: i64) -> Result<()>;
    /// All of an org's keys, newest first.
    async fn list_api_keys(&self, org_id: i64) -> Result<Vec<ApiKey>>;
    /// Revokes a key of the org; `false` when there is no such key.
    async fn revoke_api_key(&self, org_id: i64, key_id: i64) -> Result<bool>;

    /// The org's newest audit rows, newest first: only ids below `before` when given, only
    /// `action` when given.
    async fn list_audit(
        &self,
        org_id: i64,
        limit: i64,
        before: Option<i64>,
        action: Option<&str>,
    ) -> Result<Vec<AuditEntry>>;

    /// Adds to usage counters: `(org_id, env_id, day, metric, delta)`.
    async fn add_usage(&self, increments: &[(i64, i64, String, String, i64)]) -> Result<()>;
    /// The org's counters from `since_day` (inclusive), all environments summed.
    async fn usage_since(&self, org_id: i64, since_day: &str) -> Result<Vec<UsageRow>>;
    /// All-time total of one counter for the org.
    async fn usage_total(&self, org_id: i64, metric: &str) -> Result<i64>;

    /// Closes the store.
    async fn close(&self);
}
