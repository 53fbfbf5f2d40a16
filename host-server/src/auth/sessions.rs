//! Console sessions: a random token the browser keeps in the `emban_session` cookie, stored as
//! its SHA-256 hash, valid for 30 days or until signed out.

use std::sync::Arc;

use chrono::{Duration, Utc};

use crate::{
    auth::{Caller, Principal},
    error::{AppError, Result},
    meta::{Environment, MetaStore, members::MemberStore},
    secrets::{random_token, sha256_hex},
};

/// Name of the console session cookie.
pub const SESSION_COOKIE: &str = "emban_session";
/// Header a console session uses to pick an environment other than `production`.
pub const ENVIRONMENT_HEADER: &str = "x-emban-environment";
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

/// Starts a session for the user in the org; returns the token for the cookie.
pub async fn start(meta: &dyn MetaStore, user_id: i64, org_id: i64) -> Result<String> {
    let token = random_token(43);
    let expires = Utc::now() + Duration::days(SESSION_DAYS);
    meta.create_session(&sha256_hex(&token), user_id, org_id, expires).await?;
    Ok(token)
}

/// How a session token is stored.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token)
}

/// Ends the session behind `token`.
pub async fn end(meta: &dyn MetaStore, token: &str) -> Result<()> {
    meta.delete_session(&sha256_hex(token)).await
}

/// How often a member's `last_seen_at` is written, at most.
const SEEN_EVERY_SECS: i64 = 60;

/// The caller behind a session token, working in the environment named `environment`
/// (`production` when `None`); 401 for an expired or signed-out session, or one whose user is
/// no longer a member of its org. Records the member as seen (at most once a minute).
pub async fn resolve(
    meta: &dyn MetaStore,
    members: &Arc<dyn MemberStore>,
    token: &str,
    environment: Option<&str>,
) -> Result<Caller> {
    let grant = meta
        .session(&sha256_hex(token))
        .await?
        .ok_or_else(|| AppError::Unauthorized("the session has expired or was signed out".into()))?;
    let env = pick_environment(meta, grant.org_id, environment.unwrap_or("production")).await?;
    let stale = grant.last_seen_at.is_none_or(|t| (Utc::now() - t).num_seconds() >= SEEN_EVERY_SECS);
    if stale {
        let (members, org_id, user_id) = (members.clone(), grant.org_id, grant.user.id);
        tokio::spawn(async move {
            if let Err(e) = members.touch_member(org_id, user_id).await {
                tracing::warn!(error = %e, "recording a member's last visit failed");
            }
        });
    }
    Ok(Caller {
        org_id: grant.org_id,
        env,
        principal: Principal::User { user: grant.user, role: grant.role },
    })
}

async fn pick_environment(meta: &dyn MetaStore, org_id: i64, wanted: &str) -> Result<Environment> {
    meta.environments(org_id)
        .await?
        .into_iter()
        .find(|e| e.name == wanted)
        .ok_or_else(|| AppError::invalid(format!("{ENVIRONMENT_HEADER}: no environment named {wanted:?}")))
}
