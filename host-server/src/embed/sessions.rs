//! Embed sessions: minting (validated against the org's framing list and the dashboard),
//! listing the live ones, and revoking one session or every session of a tenant.

use chrono::{DateTime, Duration, Utc};
use contract::embed::{
    CreateEmbedSessionRequest, CreateEmbedSessionResponse, DEFAULT_EXPIRES_IN, EmbedPermissions,
    MAX_EXPIRES_IN, MIN_EXPIRES_IN,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    auth::Caller,
    embed::{
        permissions::{hidden_tag, validate_permissions},
        token::{AUDIENCE, EmbedClaims, ISSUER, sign},
    },
    error::{AppError, Result, clip},
    events::{StoreScope, check_tenant_id},
    meta::{
        audit::{self, Entry},
        dashboards::EMBED_SESSION_CREATE,
    },
    settings,
    state::AppState,
    time::timestamp,
};

/// Newest audit rows `GET /v1/embed-sessions` reads.
const SESSION_LIST_LIMIT: i64 = 1_000;

fn validate_locale(locale: &str) -> Result<String> {
    let ok = locale.len() <= 35 && {
        let mut parts = locale.split('-');
        parts.next().is_some_and(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()))
            && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
    };
    if !ok {
        return Err(AppError::invalid(format!(
            "locale: must be a language tag like en-US (got {:?})",
            clip(locale)
        )));
    }
    Ok(locale.to_owned())
}

/// The details of an `embed_session.create` audit row: everything but the token.
#[derive(Serialize)]
struct SessionAudit<'a> {
    jti: &'a str,
    tenant_id: &'a str,
    dashboard_id: &'a str,
    env_id: i64,
    scope: &'a EmbedPermissions,
    origins: &'a [String],
    expires_in: i64,
    issued_at: String,
    expires_at: String,
    expires_at_unix: i64,
}

/// Validates a request, signs a session for the org and environment, and records it in the
/// audit log (never the token). Shared by `POST /v1/embed-sessions` and the demo route.
pub async fn mint(
    state: &AppState,
    org_id: i64,
    env_id: i64,
    actor: &str,
    request: CreateEmbedSessionRequest,
) -> Result<CreateEmbedSessionResponse> {
    let CreateEmbedSessionRequest {
        tenant_id,
        dashboard_id,
        expires_in,
        mut permissions,
        allowed_origins,
        locale,
    } = request;
    check_tenant_id(&tenant_id).map_err(|m| AppError::invalid(format!("tenant_id: {m}")))?;
    if dashboard_id.is_empty() || dashboard_id.len() > 200 {
        return Err(AppError::invalid("dashboard_id: must be a dashboard id"));
    }
    let expires_in = expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
    if !(MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&expires_in) {
        return Err(AppError::invalid(format!(
            "expires_in: must be between {MIN_EXPIRES_IN} and {MAX_EXPIRES_IN} seconds (got {expires_in})"
        )));
    }
    let origins = settings::validate_origins("allowed_origins", &allowed_origins)?;
    let org_origins = state.framing.org_origins(&*state.org_settings, org_id).await?;
    settings::require_within(&org_origins, &origins)?;
    let locale = locale.as_deref().map(validate_locale).transpose()?;
    let dashboard = state
        .dashboards
        .dashboard(org_id, env_id, &dashboard_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no dashboard with id {:?}", clip(&dashboard_id))))?;
    validate_permissions(state, StoreScope { org_id, env_id }, &dashboard, &mut permissions).await?;
    state.billing.check_embed_permissions(org_id, &permissions).await?;

    let mut issued = Utc::now();
    // A tenant revoked within this second: issue from the next one, so the revocation (which
    // covers whole seconds) cannot catch a session minted after it.
    if let Some(before) = state.revocations.tenant_revoked_before(org_id, env_id, &tenant_id).await?
        && issued.timestamp() < before
    {
        issued = DateTime::from_timestamp(before, 0).unwrap_or(issued);
    }
    // The token is readable by the viewer: it names hidden widgets only by keyed tags.
    let mut token_permissions = permissions.clone();
    token_permissions.hidden_widgets = permissions
        .hidden_widgets
        .iter()
        .map(|w| hidden_tag(&state.signing_secret, &dashboard.id, w))
        .collect();
    let expires = issued + Duration::seconds(expires_in);
    let claims = EmbedClaims {
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        org: org_id,
        env: env_id,
        tenant: tenant_id,
        dashboard: dashboard.id.clone(),
        permissions: token_permissions,
        origins,
        locale,
        iat: issued.timestamp(),
        exp: expires.timestamp(),
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let token = sign(&state.signing_secret, &claims)?;
    let details = serde_json::to_value(SessionAudit {
        jti: &claims.jti,
        tenant_id: &claims.tenant,
        dashboard_id: &dashboard.id,
        env_id,
        scope: &permissions,
        origins: &claims.origins,
        expires_in,
        issued_at: timestamp(issued),
        expires_at: timestamp(expires),
        expires_at_unix: claims.exp,
    })
    .map_err(|e| AppError::Internal(anyhow::anyhow!("encoding an audit row: {e}")))?;
    let entry =
        Entry::new(org_id, actor, EMBED_SESSION_CREATE, format!("dashboard:{}", dashboard.id), details);
    audit::record(&*state.dashboards, entry.at(issued)).await?;
    Ok(CreateEmbedSessionResponse {
        embed_url: format!("{}/embed/{}?token={token}", state.public_url, dashboard.id),
        token,
        expires_at: timestamp(expires),
    })
}

/// Audit action of `DELETE /v1/embed-sessions/{jti}`.
pub const EMBED_SESSION_REVOKE: &str = "embed_session.revoke";

/// Audit action of `DELETE /v1/embed-sessions?tenant_id=`.
pub const EMBED_SESSION_REVOKE_TENANT: &str = "embed_session.revoke_tenant";

/// The caller's environment's live sessions (not expired, not revoked), newest first, as
/// `GET /v1/embed-sessions` lists them.
pub async fn list_live(state: &AppState, caller: &Caller) -> Result<Vec<Value>> {
    let now = Utc::now();
    let rows = state
        .dashboards
        .active_embed_sessions(caller.org_id, caller.env.id, now.timestamp(), SESSION_LIST_LIMIT)
        .await?;
    let mut live = Vec::with_capacity(rows.len());
    for row in rows {
        let d = &row.details;
        let text = |key: &str| d.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
        let iat = DateTime::parse_from_rfc3339(&text("issued_at")).map(|t| t.timestamp()).unwrap_or(0);
        let revoked = state
            .revocations
            .is_revoked(caller.org_id, caller.env.id, &text("jti"), &text("tenant_id"), iat)
            .await?;
        if !revoked {
            live.push(row);
        }
    }
    Ok(live
        .into_iter()
        .map(|row| {
            let d = &row.details;
            let expires_unix = d.get("expires_at_unix").and_then(Value::as_i64).unwrap_or_default();
            json!({
                "jti": d.get("jti"),
                "tenant_id": d.get("tenant_id"),
                "dashboard_id": d.get("dashboard_id"),
                "resource": row.resource,
                "scope": d.get("scope"),
                "origins": d.get("origins"),
                "actor": row.actor,
                "issued_at": d.get("issued_at"),
                "expires_at": d.get("expires_at"),
                "remaining_ttl_seconds": (expires_unix - now.timestamp()).max(0),
            })
        })
        .collect())
}

/// Revokes one session of the caller's org and environment. A jti it never minted (another
/// org's included) is a 404 that says nothing more.
pub async fn revoke_one(state: &AppState, caller: &Caller, jti: &str) -> Result<()> {
    let unknown = || AppError::NotFound(format!("no embed session with id {:?}", clip(jti)));
    if jti.is_empty() || jti.len() > 100 {
        return Err(unknown());
    }
    let expires = state
        .revocations
        .store
        .minted_session_expiry(caller.org_id, caller.env.id, jti)
        .await?
        .ok_or_else(unknown)?;
    state.revocations.revoke_session(caller.org_id, caller.env.id, jti, expires).await?;
    let details = json!({ "jti": jti, "env_id": caller.env.id });
    audit::record(
        &*state.dashboards,
        caller.audit(EMBED_SESSION_REVOKE, format!("embed_session:{jti}"), details),
    )
    .await
}

/// Revokes every session of the tenant minted so far in the caller's org and environment;
/// sessions minted afterwards work.
pub async fn revoke_tenant(state: &AppState, caller: &Caller, tenant_id: &str) -> Result<()> {
    check_tenant_id(tenant_id).map_err(|m| AppError::invalid(format!("tenant_id: {m}")))?;
    let before = state.revocations.revoke_tenant(caller.org_id, caller.env.id, tenant_id).await?;
    let details = json!({ "tenant_id": tenant_id, "env_id": caller.env.id, "revoked_before_unix": before });
    let entry = caller.audit(EMBED_SESSION_REVOKE_TENANT, format!("tenant:{tenant_id}"), details);
    audit::record(&*state.dashboards, entry).await
}
