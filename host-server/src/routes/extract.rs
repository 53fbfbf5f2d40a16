//! Who may call a route, as extractors: a handler's signature says it. Credentials are
//! resolved by the `auth` domain; these read them from the request (the `Authorization` header,
//! the session cookie, the client address) and apply each route kind's narrowing.

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts, MatchedPath},
    http::{HeaderMap, header, request::Parts},
};

use crate::{
    auth::{
        Caller,
        access::rule_for,
        api_keys,
        sessions::{self, ENVIRONMENT_HEADER, SESSION_COOKIE},
    },
    embed::token::{EmbedClaims, verify},
    error::{AppError, Result},
    limits::limit_key,
    state::AppState,
};

/// The caller, admitted by the access table's rule for the matched route (`auth::access`):
/// 401 without valid credentials, 403 when the rule does not admit them, 500 for a route the
/// table does not know (fail closed).
impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let path = parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let rule = rule_for(parts.method.as_str(), &path).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("no access rule for {} {path}", parts.method))
        })?;
        let caller = credentials(parts, state).await?;
        caller.may(rule.need)?;
        Ok(caller)
    }
}

/// The caller behind the request's credentials: a Bearer API key or the session cookie.
async fn credentials(parts: &Parts, state: &AppState) -> Result<Caller> {
    {
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
            return api_keys::authenticate(&state.meta, &state.key_cache, token).await;
        }
        if let Some(token) = session_cookie(&parts.headers) {
            let environment = match parts.headers.get(ENVIRONMENT_HEADER) {
                Some(v) => Some(v.to_str().map_err(|_| {
                    AppError::invalid(format!("{ENVIRONMENT_HEADER}: must be an environment name"))
                })?),
                None => None,
            };
            return sessions::resolve(&*state.meta, &state.members, &token, environment).await;
        }
        Err(AppError::Unauthorized(
            "missing credentials: send `Authorization: Bearer <api key>` or sign in".into(),
        ))
    }
}

/// The session cookie's token, if the request carries one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
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

/// The client's address: the connection's peer, or with `--trust-forwarded-for` the last
/// `X-Forwarded-For` entry. IPv6 clients are keyed by their /64, which one host usually holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        let forwarded = if state.limits.trust_forwarded_for { forwarded_for(&parts.headers) } else { None };
        let ip = forwarded.or(peer).unwrap_or(IpAddr::from([0, 0, 0, 0]));
        Ok(ClientIp(limit_key(ip)))
    }
}

/// The last address of the last `X-Forwarded-For` header: the one the trusted proxy appended.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?.to_str().ok()?;
    last.rsplit(',').next()?.trim().parse().ok()
}

/// An extractor that spends one sign-in attempt of the client's IP before the body is read:
/// login, register and accept-invite take it.
pub struct AuthAttempt;

impl FromRequestParts<AppState> for AuthAttempt {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        state.limits.check_auth(ip)?;
        Ok(AuthAttempt)
    }
}

/// Longest token the extractor reads.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A verified embed session from `Authorization: Bearer <embed token>`.
#[derive(Debug, Clone)]
pub struct EmbedSession(pub EmbedClaims);

impl FromRequestParts<AppState> for EmbedSession {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_BYTES)
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "missing embed token: send `Authorization: Bearer <embed token>`".into(),
                )
            })?;
        let claims = verify(&state.signing_secret, token)?;
        if state
            .revocations
            .is_revoked(claims.org, claims.env, &claims.jti, &claims.tenant, claims.iat)
            .await?
        {
            return Err(AppError::Unauthorized("the embed session has been revoked".into()));
        }
        Ok(EmbedSession(claims))
    }
}

/// 415 unless the body is declared as JSON.
pub fn require_json(headers: &HeaderMap) -> Result<()> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AppError::UnsupportedMediaType(
            "expected a request body with Content-Type: application/json".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_takes_the_entry_the_proxy_appended() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.1.1.1, 10.0.0.7".parse().expect("header"));
        assert_eq!(forwarded_for(&headers), Some(IpAddr::from([10, 0, 0, 7])));
    }
}
