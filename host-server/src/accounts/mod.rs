//! Accounts: sign-up (a user, an org, its environments and default admin key), sign-in, and what
//! `GET /v1/auth/me` says about a caller; usage reports are `usage`.

pub mod members;
pub mod org;
pub mod usage;

use serde_json::{Value, json};

use crate::{
    auth::{
        Caller, Principal,
        api_keys::{API_KEY_CREATE, CreatedKey, create_key},
        passwords::{DUMMY_HASH, hash_password, verify_password},
    },
    error::{AppError, Result},
    meta::{
        NewAccount, Org, Role, Scope, User,
        audit::{self, Entry},
    },
    state::AppState,
};

pub fn validate_email(email: &str) -> Result<String> {
    let email = email.trim();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(AppError::invalid("email: must be a valid email address"));
    }
    Ok(email.to_owned())
}

pub fn validate_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(8..=256).contains(&n) {
        return Err(AppError::invalid("password: must be between 8 and 256 characters"));
    }
    Ok(())
}

pub fn bounded_text(field: &str, value: Option<String>, default: String) -> Result<String> {
    let value = value.map(|v| v.trim().to_owned()).unwrap_or(default);
    if value.is_empty() || value.chars().count() > 200 {
        return Err(AppError::invalid(format!(
            "{field}: must be a non-empty string of at most 200 characters"
        )));
    }
    Ok(value)
}

/// Creates an account: user, org, owner membership, environments and the default admin key.
pub async fn create_account(
    state: &AppState,
    email: &str,
    password: &str,
    name: Option<String>,
    org_name: Option<String>,
    is_demo: bool,
) -> Result<(NewAccount, CreatedKey)> {
    let email = validate_email(email)?;
    validate_password(password)?;
    let local = email.split('@').next().unwrap_or("user").to_owned();
    let name = bounded_text("name", name, local)?;
    let org_name = bounded_text("org_name", org_name, format!("{name}'s org"))?;
    let hash = hash_password(&state.limits.hashing, password.to_owned()).await?;
    let account = state.meta.create_account(&email, &name, &hash, &org_name, is_demo).await?;
    let production = account
        .environments
        .iter()
        .find(|e| e.name == "production")
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("account created without production")))?;
    let key = create_key(&*state.meta, account.org.id, production, "Default admin key", Scope::Admin).await?;
    let details = json!({ "scope": "admin", "label": key.key.label, "prefix": key.key.prefix });
    let entry = Entry::new(
        account.org.id,
        format!("user:{email}"),
        API_KEY_CREATE,
        format!("api_key:{}", key.key.id),
        details,
    );
    audit::record(&*state.dashboards, entry).await?;
    Ok((account, key))
}

/// Signs in. An unknown email and a wrong password take the same path (a hash is verified
/// either way, and both count towards the email's backoff), so neither the answer nor its
/// timing says whether the account exists.
pub async fn login(state: &AppState, email: &str, password: String) -> Result<(User, Org, Role)> {
    let bad = || AppError::Unauthorized("invalid email or password".into());
    state.limits.backoff.check(email)?;
    let found = state.meta.user_by_email(email.trim()).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, DUMMY_HASH.to_owned()),
    };
    let ok = verify_password(&state.limits.hashing, password, hash).await?;
    let Some(user) = user.filter(|_| ok) else {
        state.limits.backoff.failed(email);
        return Err(bad());
    };
    state.limits.backoff.succeeded(email);
    let (org_id, role) = state.meta.primary_membership(user.id).await?.ok_or_else(bad)?;
    let org = state.meta.org(org_id).await?.ok_or_else(bad)?;
    Ok((user, org, role))
}

/// `GET /v1/auth/me`: who the caller is, in which org and environment.
pub async fn me(state: &AppState, caller: &Caller) -> Result<Value> {
    let org = state
        .meta
        .org(caller.org_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the org no longer exists".into()))?;
    Ok(match &caller.principal {
        Principal::User { user, role } => {
            let orgs: Vec<Value> = state
                .members
                .orgs_of(user.id)
                .await?
                .into_iter()
                .map(|(org, role)| json!({ "id": org.id, "name": org.name, "role": role }))
                .collect();
            json!({
                "auth": "session", "user": user, "org": org, "role": role, "scope": "admin",
                "environment": caller.env, "orgs": orgs,
            })
        }
        Principal::ApiKey { id, scope, .. } => json!({
            "auth": "api_key", "user": null, "org": org, "role": null, "scope": scope,
            "api_key_id": id, "environment": caller.env,
        }),
    })
}
