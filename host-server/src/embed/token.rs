//! Embed tokens: HS256 JWTs signed with the server's secret. The tenant, org, environment,
//! dashboard and permissions of a session come only from its token; one validation rule (ours
//! alone: algorithm, issuer, audience) serves the data API and the page alike.

use std::sync::LazyLock;

use chrono::Utc;
use contract::embed::{EmbedPermissions, MAX_EXPIRES_IN};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::{
    error::{AppError, Result},
    secrets::Secret,
};

/// The `aud` of every embed token.
pub const AUDIENCE: &str = "emban-embed";

/// The `iss` of every embed token.
pub const ISSUER: &str = "emban";

/// Clock skew tolerated on `exp` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 5;

/// The claims of an embed token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedClaims {
    /// Always [`ISSUER`].
    pub iss: String,
    /// Always [`AUDIENCE`].
    pub aud: String,
    /// Org id.
    pub org: i64,
    /// Environment id.
    pub env: i64,
    /// The tenant whose data the session shows.
    pub tenant: String,
    /// The dashboard id.
    pub dashboard: String,
    /// What the viewer may do.
    pub permissions: EmbedPermissions,
    /// Host origins allowed to frame the embed.
    #[serde(default)]
    pub origins: Vec<String>,
    /// Locale for labels and numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Session id (UUID), as listed by `GET /v1/embed-sessions`.
    pub jti: String,
}

/// What makes a token ours: HS256 only, our issuer and audience.
fn ours() -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.algorithms = vec![Algorithm::HS256];
    v.set_audience(&[AUDIENCE]);
    v.set_issuer(&[ISSUER]);
    v
}

/// The data API's rule: ours, and live (expiry checked within the leeway).
static VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
    let mut v = ours();
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.set_required_spec_claims(&["exp", "aud", "iss"]);
    v
});

/// The page's rule: ours, expired or not.
static PAGE_VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
    let mut v = ours();
    v.validate_exp = false;
    v.required_spec_claims.clear();
    v
});

/// Signs claims as an HS256 JWT.
pub fn sign(secret: &Secret, claims: &EmbedClaims) -> Result<String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("signing an embed token: {e}")))
}

/// Verifies a token: HS256 with our secret only, our audience and issuer, not expired beyond
/// the leeway, not issued in the future. Every failure is a 401 that says nothing more.
pub fn verify(secret: &Secret, token: &str) -> Result<EmbedClaims> {
    let key = DecodingKey::from_secret(secret.expose().as_bytes());
    let claims = jsonwebtoken::decode::<EmbedClaims>(token, &key, &VALIDATION)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AppError::Unauthorized("the embed session has expired".into()),
            _ => AppError::Unauthorized("invalid embed token".into()),
        })?
        .claims;
    let now = Utc::now().timestamp();
    let leeway = LEEWAY_SECS as i64;
    if claims.iat > now + leeway
        || claims.exp - claims.iat > MAX_EXPIRES_IN + leeway
        || claims.tenant.is_empty()
    {
        return Err(AppError::Unauthorized("invalid embed token".into()));
    }
    Ok(claims)
}

/// The session behind `token` when it is ours (signature, issuer, audience) and for this
/// dashboard. Expiry is not checked here: an expired session's page must still load in its host
/// to say so (the data API refuses it with a 401).
pub fn page_session(secret: &Secret, token: &str, dashboard_id: &str) -> Option<EmbedClaims> {
    let key = DecodingKey::from_secret(secret.expose().as_bytes());
    match jsonwebtoken::decode::<EmbedClaims>(token, &key, &PAGE_VALIDATION) {
        Ok(data) if data.claims.dashboard == dashboard_id => Some(data.claims),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_offset: i64) -> EmbedClaims {
        let now = Utc::now().timestamp();
        EmbedClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            org: 1,
            env: 1,
            tenant: "t".into(),
            dashboard: "d".into(),
            permissions: EmbedPermissions::default(),
            origins: vec![],
            locale: None,
            iat: now - 10,
            exp: now + exp_offset,
            jti: "j".into(),
        }
    }

    #[test]
    fn tokens_round_trip_and_expire_after_the_leeway() {
        let secret = Secret::new("0123456789abcdef0123456789abcdef0123");
        let token = sign(&secret, &claims(60)).expect("sign");
        assert_eq!(verify(&secret, &token).expect("valid").tenant, "t");
        assert!(verify(&Secret::new("another-secret-another-secret-another"), &token).is_err());
        assert!(verify(&secret, &sign(&secret, &claims(-3)).expect("sign")).is_ok(), "within leeway");
        assert!(verify(&secret, &sign(&secret, &claims(-30)).expect("sign")).is_err(), "beyond leeway");
    }
}
