//! Who is calling: API keys (Bearer) and console sessions (the `emban_session` cookie), as
//! extractors so a handler's signature says who may call it; plus register, login, logout, me.

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, FromRequestParts, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    error::{ApiJson, AppError, Result},
    keys,
    limits::AuthAttempt,
    meta::{Environment, Role, Scope, User},
    secrets::{random_token, sha256_hex},
    state::AppState,
};

/// Name of the console session cookie.
pub const SESSION_COOKIE: &str = "emban_session";
/// Header a console session uses to pick an environment other than `production`.
pub const ENVIRONMENT_HEADER: &str = "x-emban-environment";
const SESSION_DAYS: i64 = 30;

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

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    AppError::Unauthorized(
                        "malformed Authorization header: expected `Bearer <api key>`".into(),
                    )
                })?;
            return keys::authenticate(state, token).await;
        }
        if let Some(token) = session_cookie(&parts.headers) {
            let grant =
                state.meta.session(&sha256_hex(&token)).await?.ok_or_else(|| {
                    AppError::Unauthorized("the session has expired or was signed out".into())
                })?;
            let env = pick_environment(state, grant.org_id, &parts.headers).await?;
            return Ok(Caller {
                org_id: grant.org_id,
                env,
                principal: Principal::User { user: grant.user, role: grant.role },
            });
        }
        Err(AppError::Unauthorized(
            "missing credentials: send `Authorization: Bearer <api key>` or sign in".into(),
        ))
    }
}

impl FromRequestParts<AppState> for ConsoleOrAdminKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if let Principal::ApiKey { scope: scope @ (Scope::Ingest | Scope::Embed), .. } = caller.principal {
            return Err(scope_forbidden(scope));
        }
        Ok(ConsoleOrAdminKey(caller))
    }
}

impl FromRequestParts<AppState> for EventWriter {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if let Principal::ApiKey { scope: Scope::Embed, .. } = caller.principal {
            return Err(scope_forbidden(Scope::Embed));
        }
        Ok(EventWriter(caller))
    }
}

impl FromRequestParts<AppState> for EmbedMinter {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if let Principal::ApiKey { scope: Scope::Ingest, .. } = caller.principal {
            return Err(scope_forbidden(Scope::Ingest));
        }
        Ok(EmbedMinter(caller))
    }
}

async fn pick_environment(state: &AppState, org_id: i64, headers: &HeaderMap) -> Result<Environment> {
    let wanted = match headers.get(ENVIRONMENT_HEADER) {
        Some(v) => v
            .to_str()
            .map_err(|_| AppError::invalid(format!("{ENVIRONMENT_HEADER}: must be an environment name")))?,
        None => "production",
    };
    state
        .meta
        .environments(org_id)
        .await?
        .into_iter()
        .find(|e| e.name == wanted)
        .ok_or_else(|| AppError::invalid(format!("{ENVIRONMENT_HEADER}: no environment named {wanted:?}")))
}

/// Whether the request carries a session cookie (checked or not).
pub fn has_session_cookie(headers: &HeaderMap) -> bool {
    session_cookie(headers).is_some()
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// Argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password in the bounded hashing pool (argon2 is deliberately slow and takes 19 MiB,
/// so a flood of sign-ups queues or gets 429 instead of exhausting memory).
pub async fn hash_password(state: &AppState, password: String) -> Result<String> {
    state
        .limits
        .hashing
        .run(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing password: {e}")))
        })
        .await?
}

async fn verify_password(state: &AppState, password: String, hash: String) -> Result<bool> {
    state
        .limits
        .hashing
        .run(move || {
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("stored hash: {e}")))?;
            Ok(argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await?
}

/// Largest sign-in or sign-up body: a few short fields.
const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// Register, login, logout, me.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/register", post(post_register).layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT)))
        .route("/v1/auth/login", post(post_login).layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT)))
        .route("/v1/auth/logout", post(post_logout))
        .route("/v1/auth/me", get(get_me))
}

/// Body of `POST /v1/auth/register`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    org_name: Option<String>,
}

/// Body of `POST /v1/auth/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

fn validate_email(email: &str) -> Result<String> {
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

fn validate_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(8..=256).contains(&n) {
        return Err(AppError::invalid("password: must be between 8 and 256 characters"));
    }
    Ok(())
}

fn bounded_text(field: &str, value: Option<String>, default: String) -> Result<String> {
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
) -> Result<(crate::meta::NewAccount, keys::CreatedKey)> {
    let email = validate_email(email)?;
    validate_password(password)?;
    let local = email.split('@').next().unwrap_or("user").to_owned();
    let name = bounded_text("name", name, local)?;
    let org_name = bounded_text("org_name", org_name, format!("{name}'s org"))?;
    let hash = hash_password(state, password.to_owned()).await?;
    let account = state.meta.create_account(&email, &name, &hash, &org_name, is_demo).await?;
    let production = account
        .environments
        .iter()
        .find(|e| e.name == "production")
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("account created without production")))?;
    let key = keys::create_key(state, account.org.id, production, "Default admin key", Scope::Admin).await?;
    state
        .meta
        .audit(
            account.org.id,
            &format!("user:{email}"),
            "api_key.create",
            &format!("api_key:{}", key.key.id),
            json!({ "scope": "admin", "label": key.key.label, "prefix": key.key.prefix }),
        )
        .await?;
    Ok((account, key))
}

async fn post_register(
    State(state): State<AppState>,
    _: AuthAttempt,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<Response> {
    let (account, key) =
        create_account(&state, &body.email, &body.password, body.name, body.org_name, false).await?;
    let cookie = start_session(&state, account.user.id, account.org.id).await?;
    let body = json!({
        "user": account.user,
        "org": account.org,
        "role": Role::Owner,
        "environments": account.environments,
        "api_key": key.to_json(),
    });
    Ok((StatusCode::CREATED, [(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

async fn start_session(state: &AppState, user_id: i64, org_id: i64) -> Result<HeaderValue> {
    let token = random_token(43);
    let expires = Utc::now() + Duration::days(SESSION_DAYS);
    state.meta.create_session(&sha256_hex(&token), user_id, org_id, expires).await?;
    cookie_header(state, &token, SESSION_DAYS * 86_400)
}

fn cookie_header(state: &AppState, token: &str, max_age: i64) -> Result<HeaderValue> {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| AppError::Internal(e.into()))
}

/// A hash to verify against when the email is unknown, so both failures take the same time.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$ZP0J5X3mWvX2dqgrh6Xkk5nmSMO9N8yqvS2uEYKvH4M";

/// Signs in. An unknown email and a wrong password take the same path (a hash is verified
/// either way, and both count towards the email's backoff), so neither the answer nor its
/// timing says whether the account exists.
async fn post_login(
    State(state): State<AppState>,
    _: AuthAttempt,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response> {
    let bad = || AppError::Unauthorized("invalid email or password".into());
    state.limits.backoff.check(&body.email)?;
    let found = state.meta.user_by_email(body.email.trim()).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, DUMMY_HASH.to_owned()),
    };
    let ok = verify_password(&state, body.password, hash).await?;
    let Some(user) = user.filter(|_| ok) else {
        state.limits.backoff.failed(&body.email);
        return Err(bad());
    };
    state.limits.backoff.succeeded(&body.email);
    let (org_id, role) = state.meta.primary_membership(user.id).await?.ok_or_else(bad)?;
    let org = state.meta.org(org_id).await?.ok_or_else(bad)?;
    let cookie = start_session(&state, user.id, org_id).await?;
    let body = json!({ "user": user, "org": org, "role": role });
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

async fn post_logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let token = session_cookie(&headers)
        .ok_or_else(|| AppError::Unauthorized("not signed in: no session cookie".into()))?;
    state.meta.delete_session(&sha256_hex(&token)).await?;
    let cookie = cookie_header(&state, "", 0)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn get_me(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<Value>> {
    let org = state
        .meta
        .org(caller.org_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the org no longer exists".into()))?;
    let body = match &caller.principal {
        Principal::User { user, role } => json!({
            "auth": "session", "user": user, "org": org, "role": role, "scope": "admin",
            "environment": caller.env,
        }),
        Principal::ApiKey { id, scope } => json!({
            "auth": "api_key", "user": null, "org": org, "role": null, "scope": scope,
            "api_key_id": id, "environment": caller.env,
        }),
    };
    Ok(Json(body))
}
