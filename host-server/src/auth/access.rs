//! Who may call what: one table with a rule for every `/v1` route, checked by the caller
//! extractor before any handler runs. A route without a rule is refused (fail closed), and a
//! test holds the table against every route the router serves.
//!
//! Roles, from the least: `viewer` reads (dashboards, widgets, query results, saved queries,
//! usage, members); `editor` also builds (dashboards, widgets, saved queries, ad-hoc SQL);
//! `admin` also publishes, mints embed sessions, manages API keys, invites, members below owner
//! and settings; `owner` also changes roles and deletes the org. An `admin` API key acts as an
//! admin (never as an owner); `ingest` keys may only send events, `embed` keys only mint
//! sessions.

use crate::{
    auth::{Caller, Principal, scope_forbidden},
    error::{AppError, Result},
    meta::{Role, Scope},
};

/// What a route needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nobody in particular (sign-up, sign-in, the public demo): no credential is read.
    Public,
    /// An embed session token (the runtime's data API), checked by its own extractor.
    EmbedToken,
    /// A signed-in console user, whatever their role (no API key).
    Session,
    /// Reads: any member, or an admin key.
    Viewer,
    /// Builds: an editor, admin or owner, or an admin key.
    Editor,
    /// Administers: an admin or owner, or an admin key.
    Admin,
    /// Owner-only changes: an owner's console session.
    Owner,
    /// Sends events: an editor or above, an admin key or an ingest key.
    Ingest,
    /// Mints embed sessions: an admin or owner, an admin key or an embed key.
    Mint,
}

/// One route's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// The route's path as the router spells it (`{id}` for parameters).
    pub path: &'static str,
    /// Who may call it.
    pub need: Need,
}

const fn rule(method: &'static str, path: &'static str, need: Need) -> Rule {
    Rule { method, path, need }
}

/// Every `/v1` route and who may call it.
pub const RULES: &[Rule] = &[
    rule("POST", "/v1/auth/register", Need::Public),
    rule("POST", "/v1/auth/login", Need::Public),
    rule("POST", "/v1/auth/logout", Need::Public),
    rule("POST", "/v1/auth/accept-invite", Need::Public),
    rule("GET", "/v1/auth/me", Need::Viewer),
    rule("POST", "/v1/auth/switch-org", Need::Session),
    rule("POST", "/v1/events", Need::Ingest),
    rule("GET", "/v1/query", Need::Viewer),
    rule("POST", "/v1/query/adhoc", Need::Editor),
    rule("GET", "/v1/datasets", Need::Editor),
    rule("GET", "/v1/datasets/{name}/ddl", Need::Editor),
    rule("GET", "/v1/saved-queries", Need::Viewer),
    rule("POST", "/v1/saved-queries", Need::Editor),
    rule("PATCH", "/v1/saved-queries/{id}", Need::Editor),
    rule("DELETE", "/v1/saved-queries/{id}", Need::Editor),
    rule("GET", "/v1/dashboards", Need::Viewer),
    rule("POST", "/v1/dashboards", Need::Editor),
    rule("GET", "/v1/dashboards/{id}", Need::Viewer),
    rule("PATCH", "/v1/dashboards/{id}", Need::Editor),
    rule("DELETE", "/v1/dashboards/{id}", Need::Editor),
    rule("POST", "/v1/dashboards/{id}/publish", Need::Admin),
    rule("POST", "/v1/dashboards/{id}/unpublish", Need::Admin),
    rule("POST", "/v1/dashboards/{id}/restore-published", Need::Admin),
    rule("POST", "/v1/dashboards/{id}/widgets", Need::Editor),
    rule("PATCH", "/v1/dashboards/{id}/widgets/{widget_id}", Need::Editor),
    rule("DELETE", "/v1/dashboards/{id}/widgets/{widget_id}", Need::Editor),
    rule("GET", "/v1/widgets", Need::Viewer),
    rule("POST", "/v1/widgets", Need::Editor),
    rule("POST", "/v1/widgets/preview/data", Need::Editor),
    rule("GET", "/v1/widgets/{id}", Need::Viewer),
    rule("PATCH", "/v1/widgets/{id}", Need::Editor),
    rule("DELETE", "/v1/widgets/{id}", Need::Editor),
    rule("POST", "/v1/widgets/{id}/publish", Need::Admin),
    rule("GET", "/v1/discover", Need::Viewer),
    rule("POST", "/v1/discover/auto-create", Need::Editor),
    rule("POST", "/v1/embed-sessions", Need::Mint),
    rule("GET", "/v1/embed-sessions", Need::Admin),
    rule("DELETE", "/v1/embed-sessions", Need::Admin),
    rule("DELETE", "/v1/embed-sessions/{jti}", Need::Admin),
    rule("GET", "/v1/embed/dashboard", Need::EmbedToken),
    rule("POST", "/v1/embed/query", Need::EmbedToken),
    rule("POST", "/v1/embed/export", Need::EmbedToken),
    rule("GET", "/v1/demo/embed-url", Need::Public),
    rule("GET", "/v1/api-keys", Need::Admin),
    rule("POST", "/v1/api-keys", Need::Admin),
    rule("DELETE", "/v1/api-keys/{id}", Need::Admin),
    rule("GET", "/v1/usage", Need::Viewer),
    rule("GET", "/v1/onboarding/status", Need::Viewer),
    rule("GET", "/v1/audit", Need::Admin),
    rule("GET", "/v1/billing", Need::Admin),
    rule("GET", "/v1/billing/plans", Need::Public),
    rule("GET", "/v1/billing/checkout-config", Need::Viewer),
    rule("GET", "/v1/billing/portal", Need::Admin),
    rule("GET", "/v1/settings/org", Need::Admin),
    rule("PATCH", "/v1/settings/org", Need::Admin),
    rule("DELETE", "/v1/settings/org", Need::Owner),
    rule("GET", "/v1/members", Need::Viewer),
    rule("POST", "/v1/members/invite", Need::Admin),
    rule("GET", "/v1/members/invites", Need::Admin),
    rule("DELETE", "/v1/members/invites/{id}", Need::Admin),
    rule("PATCH", "/v1/members/{id}", Need::Owner),
    rule("DELETE", "/v1/members/{id}", Need::Admin),
    rule("GET", "/v1/alerts", Need::Viewer),
    rule("POST", "/v1/alerts", Need::Admin),
    rule("GET", "/v1/alerts/{id}", Need::Viewer),
    rule("PATCH", "/v1/alerts/{id}", Need::Admin),
    rule("DELETE", "/v1/alerts/{id}", Need::Admin),
    rule("GET", "/v1/alerts/{id}/events", Need::Viewer),
    rule("GET", "/v1/reports", Need::Viewer),
    rule("POST", "/v1/reports", Need::Admin),
    rule("GET", "/v1/reports/{id}", Need::Viewer),
    rule("PATCH", "/v1/reports/{id}", Need::Admin),
    rule("DELETE", "/v1/reports/{id}", Need::Admin),
    rule("GET", "/v1/reports/{id}/runs", Need::Viewer),
    rule("GET", "/v1/webhooks", Need::Admin),
    rule("POST", "/v1/webhooks/secret", Need::Admin),
    rule("POST", "/v1/webhooks/test", Need::Admin),
];

/// The rule of `method path` (the router's spelling of the path), if the table has one.
pub fn rule_for(method: &str, path: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.method == method && r.path == path)
}

impl Role {
    /// Viewer 0, editor 1, admin 2, owner 3.
    pub fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Editor => 1,
            Role::Admin => 2,
            Role::Owner => 3,
        }
    }
}

fn needs_role(least: Role, role: Role) -> Result<()> {
    if role.rank() >= least.rank() {
        return Ok(());
    }
    let roles = match least {
        Role::Owner => "the owner role",
        Role::Admin => "the admin or owner role",
        Role::Editor => "the editor, admin or owner role",
        Role::Viewer => "membership",
    };
    Err(AppError::Forbidden(format!("this action needs {roles}; you are {}", role.as_str())))
}

impl Caller {
    /// Fails with 403 unless the caller holds what `need` asks (401s are the extractor's).
    pub fn may(&self, need: Need) -> Result<()> {
        match (&self.principal, need) {
            (_, Need::Public | Need::EmbedToken) => Ok(()),
            (Principal::User { .. }, Need::Session | Need::Viewer) => Ok(()),
            (Principal::User { role, .. }, Need::Editor | Need::Ingest) => needs_role(Role::Editor, *role),
            (Principal::User { role, .. }, Need::Admin | Need::Mint) => needs_role(Role::Admin, *role),
            (Principal::User { role, .. }, Need::Owner) => needs_role(Role::Owner, *role),
            (Principal::ApiKey { scope: Scope::Admin, .. }, Need::Viewer | Need::Editor | Need::Admin)
            | (Principal::ApiKey { scope: Scope::Admin | Scope::Ingest, .. }, Need::Ingest)
            | (Principal::ApiKey { scope: Scope::Admin | Scope::Embed, .. }, Need::Mint) => Ok(()),
            (Principal::ApiKey { .. }, Need::Owner) => Err(AppError::Forbidden(
                "this action needs the owner's console session, not an API key".into(),
            )),
            (Principal::ApiKey { .. }, Need::Session) => {
                Err(AppError::Forbidden("this route needs a console session, not an API key".into()))
            }
            (Principal::ApiKey { scope, .. }, _) => Err(scope_forbidden(*scope)),
        }
    }
}
