//! `POST /v1/auth/register`, `/login`, `/logout` and `GET /v1/auth/me`: console sessions in the
//! `emban_session` cookie (HttpOnly, SameSite=Lax, Secure behind https).

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    accounts::{
        self, create_account,
        members::{self, AcceptRequest},
    },
    auth::{
        Caller, Principal,
        sessions::{self, SESSION_COOKIE, SESSION_DAYS},
    },
    error::{ApiJson, AppError, Result},
    meta::Role,
    routes::extract::{AuthAttempt, session_cookie},
    state::AppState,
};

/// Largest sign-in or sign-up body: a few short fields.
const AUTH_BODY_LIMIT: usize = 16 * 1024;

/// Register, login, logout, me.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/register", post(post_register).layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT)))
        .route("/v1/auth/login", post(post_login).layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT)))
        .route("/v1/auth/logout", post(post_logout))
        .route("/v1/auth/me", get(get_me))
        .route(
            "/v1/auth/accept-invite",
            post(post_accept_invite).layer(DefaultBodyLimit::max(AUTH_BODY_LIMIT)),
        )
        .route("/v1/auth/switch-org", post(post_switch_org))
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
    let token = sessions::start(&*state.meta, user_id, org_id).await?;
    cookie_header(state, &token, SESSION_DAYS * 86_400)
}

fn cookie_header(state: &AppState, token: &str, max_age: i64) -> Result<HeaderValue> {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|e| AppError::Internal(e.into()))
}

async fn post_login(
    State(state): State<AppState>,
    _: AuthAttempt,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response> {
    let (user, org, role) = accounts::login(&state, &body.email, body.password).await?;
    let cookie = start_session(&state, user.id, org.id).await?;
    let body = json!({ "user": user, "org": org, "role": role });
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

async fn post_logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let token = session_cookie(&headers)
        .ok_or_else(|| AppError::Unauthorized("not signed in: no session cookie".into()))?;
    sessions::end(&*state.meta, &token).await?;
    let cookie = cookie_header(&state, "", 0)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn get_me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>> {
    Ok(Json(accounts::me(&state, &caller).await?))
}

/// Accepts an invite: with the session cookie of the invited user, the token alone; otherwise a
/// new account for the invite's email with the password given. Either way the answer carries a
/// session cookie for the org joined.
async fn post_accept_invite(
    State(state): State<AppState>,
    _: AuthAttempt,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AcceptRequest>,
) -> Result<Response> {
    let signed_in = match session_cookie(&headers) {
        Some(token) => match sessions::resolve(&*state.meta, &state.members, &token, None).await {
            Ok(Caller { principal: Principal::User { user, .. }, .. }) => Some(user),
            _ => None,
        },
        None => None,
    };
    let joined = members::accept(&state, body, signed_in).await?;
    let cookie = start_session(&state, joined.user.id, joined.org.id).await?;
    let body = json!({ "user": joined.user, "org": joined.org, "role": joined.role });
    Ok(([(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Body of `POST /v1/auth/switch-org`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchOrgRequest {
    org_id: i64,
}

/// Moves the console session to another org of the user (an extension: a session works in one
/// org at a time); answers like `GET /v1/auth/me`.
async fn post_switch_org(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SwitchOrgRequest>,
) -> Result<Json<Value>> {
    let token = session_cookie(&headers)
        .ok_or_else(|| AppError::Unauthorized("not signed in: no session cookie".into()))?;
    if !state.members.switch_session_org(&sessions::token_hash(&token), body.org_id).await? {
        return Err(AppError::NotFound(format!("you are not a member of an org with id {}", body.org_id)));
    }
    // The access table admitted a console session (`caller`); it now works in the new org.
    let moved = sessions::resolve(&*state.meta, &state.members, &token, None).await?;
    debug_assert_eq!(moved.principal_user_id(), caller.principal_user_id());
    Ok(Json(accounts::me(&state, &moved).await?))
}
