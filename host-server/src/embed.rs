//! Signed embed sessions: minting (`POST /v1/embed-sessions`, the demo's
//! `GET /v1/demo/embed-url`), listing, and the embed data API the runtime calls with the token
//! (`GET /v1/embed/dashboard`, `POST /v1/embed/query`), where every permission is enforced.
//!
//! The token is an HS256 JWT signed with the server's signing secret. The tenant, org,
//! environment, dashboard and permissions come only from it; nothing in a request can widen them.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, LazyLock, RwLock},
    time::Instant,
};

use axum::{
    Json, Router,
    extract::{FromRequestParts, Path, RawQuery, State},
    http::{HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use chrono::{DateTime, Duration, Utc};
use contract::{
    ErrorBody,
    dashboard::{Widget, WidgetData},
    embed::{
        CreateEmbedSessionRequest, CreateEmbedSessionResponse, DEFAULT_EXPIRES_IN, EmbedDashboard,
        EmbedDashboardResponse, EmbedFilters, EmbedPermissions, EmbedQueryRequest, MAX_EXPIRES_IN,
        MIN_EXPIRES_IN,
    },
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{
    auth::{ConsoleOrAdminKey, EmbedMinter},
    dashboards::{DEMO_DASHBOARD_NAME, clip, config_uses, timestamp, valid_widget_id},
    demo::DEMO_TENANT,
    error::{ApiJson, AppError, Result},
    events::{StoreScope, check_tenant_id, valid_prop_key},
    limits::ClientIp,
    meta::{
        dashboards::{DashboardRecord, EMBED_SESSION_CREATE, NewAuditRow},
        revocations::RevocationStore,
    },
    query::window,
    secrets::{Secret, sha256_hex},
    settings,
    state::AppState,
    usage::QUERIES,
    widgets::{ResolvedFilters, evaluate, resolve_filters},
};

/// The `aud` of every embed token.
pub const AUDIENCE: &str = "emban-embed";
/// The `iss` of every embed token.
pub const ISSUER: &str = "emban";
/// Clock skew tolerated on `exp` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 5;
/// Most dimensions in `allowed_dimensions` plus `locked_filters`.
const MAX_DIMENSIONS: usize = 50;
/// Most ids in `hidden_widgets`.
const MAX_HIDDEN: usize = 100;
/// Longest `max_date_range_days`: ten years.
const MAX_RANGE_DAYS: u32 = 3_650;
/// Longest token the extractor reads.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Newest audit rows `GET /v1/embed-sessions` reads.
const SESSION_LIST_LIMIT: i64 = 1_000;

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

static VALIDATION: LazyLock<Validation> = LazyLock::new(|| {
    let mut v = Validation::new(Algorithm::HS256);
    v.algorithms = vec![Algorithm::HS256];
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.set_audience(&[AUDIENCE]);
    v.set_issuer(&[ISSUER]);
    v.set_required_spec_claims(&["exp", "aud", "iss"]);
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
        if state.revocations.is_revoked(&claims).await? {
            return Err(AppError::Unauthorized("the embed session has been revoked".into()));
        }
        Ok(EmbedSession(claims))
    }
}

// ---------------------------------------------------------------------------------------------
// Revocation

/// Revoked sessions and tenants, in memory: loaded from the metadata store on first use and
/// written through on every revoke (this process is the only writer of its metadata file), so
/// checking a token costs a read lock and two hash lookups.
pub struct Revocations {
    store: Arc<dyn RevocationStore>,
    cache: tokio::sync::OnceCell<RwLock<RevokedSets>>,
}

#[derive(Default)]
struct RevokedSets {
    /// `(org, env, jti)`.
    sessions: HashSet<(i64, i64, String)>,
    /// `(org, env, tenant)` → sessions issued (iat) before this Unix second are revoked.
    tenants: HashMap<(i64, i64, String), i64>,
}

impl Revocations {
    /// Revocations kept in `store`.
    pub fn new(store: Arc<dyn RevocationStore>) -> Self {
        Revocations { store, cache: tokio::sync::OnceCell::new() }
    }

    async fn sets(&self) -> Result<&RwLock<RevokedSets>> {
        self.cache
            .get_or_try_init(|| async {
                // Nothing older than the longest session plus the leeway can refuse a live token.
                let now = Utc::now().timestamp();
                let leeway = LEEWAY_SECS as i64;
                let live =
                    self.store.live_revocations(now - leeway, now - MAX_EXPIRES_IN - 2 * leeway).await?;
                let mut sets = RevokedSets::default();
                sets.sessions.extend(live.sessions);
                for (org, env, tenant, before) in live.tenants {
                    sets.tenants.insert((org, env, tenant), before);
                }
                Ok::<_, AppError>(RwLock::new(sets))
            })
            .await
    }

    fn poisoned() -> AppError {
        AppError::Internal(anyhow::anyhow!("the revocation cache lock is poisoned"))
    }

    /// Whether a session (org, env, jti, tenant, issued at) has been revoked.
    pub async fn is_revoked_parts(
        &self,
        org: i64,
        env: i64,
        jti: &str,
        tenant: &str,
        iat: i64,
    ) -> Result<bool> {
        let sets = self.sets().await?.read().map_err(|_| Self::poisoned())?;
        if sets.tenants.is_empty() && sets.sessions.is_empty() {
            return Ok(false);
        }
        let tenant_cut = sets.tenants.get(&(org, env, tenant.to_owned())).is_some_and(|before| iat < *before);
        Ok(tenant_cut || sets.sessions.contains(&(org, env, jti.to_owned())))
    }

    /// Whether the token's session has been revoked.
    pub async fn is_revoked(&self, claims: &EmbedClaims) -> Result<bool> {
        self.is_revoked_parts(claims.org, claims.env, &claims.jti, &claims.tenant, claims.iat).await
    }

    /// The Unix second before which the tenant's sessions are revoked, if ever revoked.
    pub async fn tenant_revoked_before(&self, org: i64, env: i64, tenant: &str) -> Result<Option<i64>> {
        let sets = self.sets().await?.read().map_err(|_| Self::poisoned())?;
        Ok(sets.tenants.get(&(org, env, tenant.to_owned())).copied())
    }

    /// Revokes one session.
    pub async fn revoke_session(&self, org: i64, env: i64, jti: &str, expires_at_unix: i64) -> Result<()> {
        let sets = self.sets().await?;
        self.store.revoke_session(org, env, jti, expires_at_unix).await?;
        sets.write().map_err(|_| Self::poisoned())?.sessions.insert((org, env, jti.to_owned()));
        Ok(())
    }

    /// Revokes every session of the tenant issued up to now (token times are whole seconds, so
    /// up to the end of this second; [`mint`] issues later sessions from the next second on).
    pub async fn revoke_tenant(&self, org: i64, env: i64, tenant: &str) -> Result<i64> {
        let sets = self.sets().await?;
        let before = Utc::now().timestamp() + 1;
        self.store.revoke_tenant(org, env, tenant, before).await?;
        let mut sets = sets.write().map_err(|_| Self::poisoned())?;
        let entry = sets.tenants.entry((org, env, tenant.to_owned())).or_insert(before);
        *entry = (*entry).max(before);
        Ok(*entry)
    }
}

/// Embed sessions, the embed data API and the demo's embed URL.
pub fn router() -> Router<AppState> {
    let data = Router::new()
        .route("/v1/embed/dashboard", get(get_embed_dashboard))
        .route("/v1/embed/query", post(post_embed_query))
        // Handlers set the session's own policy; errors before a session is known get this one.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ));
    Router::new()
        .route(
            "/v1/embed-sessions",
            get(list_embed_sessions).post(create_embed_session).delete(revoke_tenant_sessions),
        )
        .route("/v1/embed-sessions/{jti}", delete(revoke_embed_session))
        .route("/v1/demo/embed-url", get(get_demo_embed_url))
        .merge(data)
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// The data API's answers are JSON for the runtime's `fetch`, never a page to frame.
fn with_csp(_claims: &EmbedClaims, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    response
}

// ---------------------------------------------------------------------------------------------
// Minting

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

/// Checks and normalizes permissions against the dashboard: dimensions must be used by the
/// dashboard or seen in the environment's string props.
async fn validate_permissions(
    state: &AppState,
    scope: StoreScope,
    dashboard: &DashboardRecord,
    perms: &mut EmbedPermissions,
) -> Result<()> {
    if perms.hidden_widgets.len() > MAX_HIDDEN {
        return Err(AppError::invalid(format!("permissions.hidden_widgets: at most {MAX_HIDDEN} ids")));
    }
    for (i, id) in perms.hidden_widgets.iter().enumerate() {
        if !valid_widget_id(id) {
            return Err(AppError::invalid(format!(
                "permissions.hidden_widgets[{i}]: {:?} is not a widget id",
                clip(id)
            )));
        }
    }
    if let Some(max) = perms.max_date_range_days
        && !(1..=MAX_RANGE_DAYS).contains(&max)
    {
        return Err(AppError::invalid(format!(
            "permissions.max_date_range_days: must be between 1 and {MAX_RANGE_DAYS}"
        )));
    }
    // The bound alone, so the rule can be asked while the periods are being deduplicated.
    let bound = EmbedPermissions { max_date_range_days: perms.max_date_range_days, ..Default::default() };
    if let Some(periods) = &mut perms.allowed_periods {
        if periods.is_empty() {
            return Err(AppError::invalid(
                "permissions.allowed_periods: must not be empty; leave it out to allow every period",
            ));
        }
        let mut seen = HashSet::new();
        periods.retain(|p| seen.insert(*p));
        if let Some(p) = periods.iter().find(|p| !bound.period_fits(**p)) {
            return Err(AppError::invalid(format!(
                "permissions.allowed_periods: {p} is longer than max_date_range_days ({} days)",
                perms.max_date_range_days.unwrap_or_default()
            )));
        }
    }
    if let Some(dims) = &mut perms.allowed_dimensions {
        let mut seen = HashSet::new();
        dims.retain(|d| seen.insert(d.clone()));
    }
    let allowed = perms.allowed_dimensions.iter().flatten().map(|d| ("permissions.allowed_dimensions", d));
    let locked = perms.locked_filters.keys().map(|d| ("permissions.locked_filters", d));
    let requested: Vec<(&str, &String)> = allowed.chain(locked).collect();
    if requested.len() > MAX_DIMENSIONS {
        return Err(AppError::invalid(format!("permissions: at most {MAX_DIMENSIONS} dimensions in all")));
    }
    for (field, dim) in &requested {
        if !valid_prop_key(dim) {
            return Err(AppError::invalid(format!("{field}: {:?} is not a dimension name", clip(dim))));
        }
    }
    for (key, value) in &perms.locked_filters {
        if value.is_empty() || value.chars().count() > 1_000 {
            return Err(AppError::invalid(format!(
                "permissions.locked_filters.{key}: must be 1 to 1000 characters"
            )));
        }
    }
    let used = |dim: &str| {
        config_uses(&dashboard.config, dim)
            || dashboard.published_config.as_ref().is_some_and(|c| config_uses(c, dim))
    };
    let unknown: Vec<&(&str, &String)> = requested.iter().filter(|(_, d)| !used(d)).collect();
    if !unknown.is_empty() {
        // Only dimensions the dashboard does not use need the (slower) look at the events.
        let seen: HashSet<String> = state
            .events
            .discover(scope, None)
            .await?
            .into_iter()
            .flat_map(|e| e.string_props.into_iter().map(|p| p.key))
            .collect();
        if let Some((field, dim)) = unknown.iter().find(|(_, d)| !seen.contains(*d)) {
            return Err(AppError::invalid(format!(
                "{field}: unknown dimension {:?}: the dashboard does not use it and no event in this environment has it",
                clip(dim)
            )));
        }
    }
    Ok(())
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
    let row = NewAuditRow {
        org_id,
        actor: actor.to_owned(),
        action: EMBED_SESSION_CREATE.to_owned(),
        resource: format!("dashboard:{}", dashboard.id),
        details: serde_json::to_string(&SessionAudit {
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
        .map_err(|e| AppError::Internal(anyhow::anyhow!("encoding an audit row: {e}")))?,
        created_at: issued,
    };
    state.dashboards.append_audit(vec![row]).await?;
    Ok(CreateEmbedSessionResponse {
        embed_url: format!("{}/embed/{}?token={token}", state.public_url, dashboard.id),
        token,
        expires_at: timestamp(expires),
    })
}

async fn create_embed_session(
    State(state): State<AppState>,
    EmbedMinter(caller): EmbedMinter,
    ApiJson(request): ApiJson<CreateEmbedSessionRequest>,
) -> Result<(StatusCode, Json<CreateEmbedSessionResponse>)> {
    caller.require_mint_access()?;
    let session = mint(&state, caller.org_id, caller.env.id, &caller.actor(), request).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

async fn list_embed_sessions(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<Value>> {
    caller.require_admin_access()?;
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
            .is_revoked_parts(caller.org_id, caller.env.id, &text("jti"), &text("tenant_id"), iat)
            .await?;
        if !revoked {
            live.push(row);
        }
    }
    let sessions: Vec<Value> = live
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
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}

/// `DELETE /v1/embed-sessions/{jti}`: revokes one session of the caller's org and environment.
/// A jti it never minted (another org's included) is a 404 that says nothing more.
async fn revoke_embed_session(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(jti): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin_access()?;
    let unknown = || AppError::NotFound(format!("no embed session with id {:?}", clip(&jti)));
    if jti.is_empty() || jti.len() > 100 {
        return Err(unknown());
    }
    let expires = state
        .revocations
        .store
        .minted_session_expiry(caller.org_id, caller.env.id, &jti)
        .await?
        .ok_or_else(unknown)?;
    state.revocations.revoke_session(caller.org_id, caller.env.id, &jti, expires).await?;
    state
        .meta
        .audit(
            caller.org_id,
            &caller.actor(),
            EMBED_SESSION_REVOKE,
            &format!("embed_session:{jti}"),
            json!({ "jti": jti, "env_id": caller.env.id }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/embed-sessions?tenant_id=`: revokes every session of the tenant minted so far in
/// the caller's org and environment; sessions minted afterwards work.
async fn revoke_tenant_sessions(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    RawQuery(raw): RawQuery,
) -> Result<StatusCode> {
    caller.require_admin_access()?;
    let mut tenant_id = None;
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "tenant_id" if tenant_id.is_none() => tenant_id = Some(value.into_owned()),
            "tenant_id" => return Err(AppError::invalid("tenant_id: given more than once")),
            other => return Err(AppError::invalid(format!("{}: unknown query parameter", clip(other)))),
        }
    }
    let tenant_id = tenant_id.ok_or_else(|| {
        AppError::invalid("tenant_id: required (DELETE /v1/embed-sessions/{jti} revokes one session)")
    })?;
    check_tenant_id(&tenant_id).map_err(|m| AppError::invalid(format!("tenant_id: {m}")))?;
    let before = state.revocations.revoke_tenant(caller.org_id, caller.env.id, &tenant_id).await?;
    state
        .meta
        .audit(
            caller.org_id,
            &caller.actor(),
            EMBED_SESSION_REVOKE_TENANT,
            &format!("tenant:{tenant_id}"),
            json!({ "tenant_id": tenant_id, "env_id": caller.env.id, "revoked_before_unix": before }),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Audit action of `DELETE /v1/embed-sessions/{jti}`.
pub const EMBED_SESSION_REVOKE: &str = "embed_session.revoke";
/// Audit action of `DELETE /v1/embed-sessions?tenant_id=`.
pub const EMBED_SESSION_REVOKE_TENANT: &str = "embed_session.revoke_tenant";

// ---------------------------------------------------------------------------------------------
// The embed data API

/// How a token names a hidden widget: a keyed hash of the dashboard and widget id, so the
/// viewer, who can read the token, cannot learn the ids of widgets kept from them.
pub fn hidden_tag(secret: &Secret, dashboard_id: &str, widget_id: &str) -> String {
    let digest =
        sha256_hex(&format!("{}\0emban-hidden-widget\0{dashboard_id}\0{widget_id}", secret.expose()));
    format!("h:{}", &digest[..32])
}

/// Whether the session hides a widget (tokens minted before tags named ids in clear).
fn is_hidden(secret: &Secret, claims: &EmbedClaims, widget_id: &str) -> bool {
    let hidden = &claims.permissions.hidden_widgets;
    !hidden.is_empty()
        && (hidden.iter().any(|h| h == widget_id)
            || hidden.contains(&hidden_tag(secret, &claims.dashboard, widget_id)))
}

fn other_dashboard() -> AppError {
    AppError::Unauthorized("invalid embed token: it was issued for another dashboard".into())
}

/// The session's dashboard, or 404 when it has been deleted since.
async fn session_dashboard(state: &AppState, claims: &EmbedClaims) -> Result<Arc<DashboardRecord>> {
    state
        .dashboards
        .dashboard(claims.org, claims.env, &claims.dashboard)
        .await?
        .ok_or_else(|| AppError::NotFound("the dashboard of this embed session no longer exists".into()))
}

/// The published widgets the session may see.
fn visible_widgets(secret: &Secret, dashboard: &DashboardRecord, claims: &EmbedClaims) -> Vec<Widget> {
    match (&dashboard.published_config, dashboard.is_published) {
        (Some(config), true) => {
            config.widgets.iter().filter(|w| !is_hidden(secret, claims, &w.id)).cloned().collect()
        }
        _ => Vec::new(),
    }
}

/// The filter state an embed starts from.
pub fn initial_filters(perms: &EmbedPermissions) -> EmbedFilters {
    EmbedFilters {
        period: Some(perms.default_period()),
        dimensions: perms.locked_filters.clone(),
        ..EmbedFilters::default()
    }
}

async fn get_embed_dashboard(
    State(state): State<AppState>,
    EmbedSession(claims): EmbedSession,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "dashboard_id" if value != claims.dashboard => return Err(other_dashboard()),
            "dashboard_id" => {}
            other => return Err(AppError::invalid(format!("{}: unknown query parameter", clip(other)))),
        }
    }
    let dashboard = session_dashboard(&state, &claims).await?;
    let published = dashboard.is_published && dashboard.published_config.is_some();
    let body = EmbedDashboardResponse {
        published,
        message: (!published).then(|| "This dashboard is not published.".to_owned()),
        dashboard: EmbedDashboard {
            id: dashboard.id.clone(),
            name: dashboard.name.clone(),
            widgets: visible_widgets(&state.signing_secret, &dashboard, &claims),
            published_at: if published { dashboard.published_at.map(timestamp) } else { None },
        },
        tenant_id: claims.tenant.clone(),
        // What the viewer needs: hidden widgets are simply absent, not listed.
        permissions: EmbedPermissions { hidden_widgets: Vec::new(), ..claims.permissions.clone() },
        filters: initial_filters(&claims.permissions),
        locale: claims.locale.clone(),
        expires_at: DateTime::from_timestamp(claims.exp, 0).map(timestamp).unwrap_or_default(),
    };
    Ok(with_csp(&claims, Json(body)))
}

fn check_dimension(field: &str, key: &str, value: &str, perms: &EmbedPermissions) -> Result<()> {
    if let Some(locked) = perms.locked_value(key) {
        if locked != value {
            return Err(AppError::Forbidden(format!(
                "{field}: dimension {:?} is locked to {:?} in this embed session",
                clip(key),
                clip(locked)
            )));
        }
        return Ok(());
    }
    if !perms.dimension_listed(key) {
        return Err(AppError::Forbidden(format!(
            "{field}: dimension {:?} is not allowed in this embed session",
            clip(key)
        )));
    }
    Ok(())
}

/// Applies the session's permissions to a query: 403 for anything they do not allow; locked
/// filters are always added.
pub fn enforce(
    perms: &EmbedPermissions,
    widget: &Widget,
    request: &EmbedQueryRequest,
) -> Result<ResolvedFilters> {
    let mut resolved = resolve_filters(&request.filters, perms.default_period())?;
    if !perms.period_allowed(resolved.period) {
        return Err(AppError::Forbidden(format!(
            "filters.period: {} is not allowed in this embed session",
            resolved.period
        )));
    }
    if !perms.period_fits(resolved.period) {
        return Err(AppError::Forbidden(format!(
            "filters.period: {} is longer than this session's {}-day limit",
            resolved.period,
            perms.max_date_range_days.unwrap_or_default()
        )));
    }
    for (key, value) in &resolved.dimensions {
        check_dimension("filters.dimensions", key, value, perms)?;
    }
    if let Some(drill) = &request.drill {
        if !perms.allow_drill_down {
            return Err(AppError::Forbidden("drill: drill-down is not allowed in this embed session".into()));
        }
        if !valid_prop_key(&drill.dimension) || drill.value.chars().count() > 1_000 {
            return Err(AppError::invalid(
                "drill: dimension must be a prop name and value at most 1000 characters",
            ));
        }
        check_dimension("drill", &drill.dimension, &drill.value, perms)?;
        resolved.dimensions.push((drill.dimension.clone(), drill.value.clone()));
    }
    if let Some(group_by) = &widget.query.group_by
        && !perms.dimension_listed(group_by)
    {
        return Err(AppError::Forbidden(format!(
            "widget {:?} groups by {:?}, which is not allowed in this embed session",
            widget.id, group_by
        )));
    }
    if let (Some(max), Some((from, to))) = (perms.max_date_range_days, resolved.date_range) {
        // Open ends take the period window's; the part after now holds no data.
        let (window_from, window_to) = window(resolved.period, widget.query.granularity, Utc::now());
        let length = to.map_or(window_to, |t| t.min(window_to)) - from.unwrap_or(window_from);
        if length > Duration::days(i64::from(max)) {
            return Err(AppError::Forbidden(format!(
                "filters.dateRanges.timestamp: longer than this session's {max}-day limit"
            )));
        }
    }
    for (key, value) in &perms.locked_filters {
        resolved.dimensions.push((key.clone(), value.clone()));
    }
    resolved.max_range_days = perms.max_date_range_days;
    Ok(resolved)
}

fn not_published() -> Response {
    let body = ErrorBody { error: "this dashboard is not published".into(), code: "not_published".into() };
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn post_embed_query(
    State(state): State<AppState>,
    EmbedSession(claims): EmbedSession,
    ApiJson(request): ApiJson<EmbedQueryRequest>,
) -> Result<Response> {
    let started = Instant::now();
    if request.dashboard_id.as_ref().is_some_and(|d| *d != claims.dashboard) {
        return Err(other_dashboard());
    }
    let dashboard = session_dashboard(&state, &claims).await?;
    let Some(config) = dashboard.published_config.as_ref().filter(|_| dashboard.is_published) else {
        return Ok(with_csp(&claims, not_published()));
    };
    let widget = config
        .widgets
        .iter()
        .find(|w| w.id == request.widget_id && !is_hidden(&state.signing_secret, &claims, &w.id))
        .ok_or_else(|| {
            AppError::NotFound(format!("no widget {:?} on this dashboard", clip(&request.widget_id)))
        })?;
    let filters = enforce(&claims.permissions, widget, &request)?;
    let scope = StoreScope { org_id: claims.org, env_id: claims.env };
    let data: WidgetData = evaluate(&state, scope, &claims.tenant, widget, &filters, started).await?;
    state.usage.add(claims.org, claims.env, QUERIES, 1);
    Ok(with_csp(&claims, Json(data)))
}

// ---------------------------------------------------------------------------------------------
// The public demo

/// The demo's session: drill-down on, the demo dashboard's dimensions, every period.
fn demo_permissions() -> EmbedPermissions {
    EmbedPermissions {
        allow_drill_down: true,
        allowed_dimensions: Some(["model", "endpoint", "plan"].map(String::from).to_vec()),
        ..EmbedPermissions::default()
    }
}

/// The actor of the demo route's audit rows, which are kept to the newest `--demo-audit-rows`.
const DEMO_ACTOR: &str = "demo";

async fn get_demo_embed_url(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    RawQuery(raw): RawQuery,
) -> Result<(StatusCode, Json<CreateEmbedSessionResponse>)> {
    let no_demo = || AppError::NotFound("this server has no demo org".into());
    if !state.demo {
        return Err(no_demo());
    }
    state.limits.check_demo(ip)?;
    let mut tenant_id = DEMO_TENANT.to_owned();
    for (key, value) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match &*key {
            "tenant_id" => tenant_id = value.into_owned(),
            other => return Err(AppError::invalid(format!("{}: unknown query parameter", clip(other)))),
        }
    }
    let org = state.meta.demo_org().await?.ok_or_else(no_demo)?;
    let env = state
        .meta
        .environments(org.id)
        .await?
        .into_iter()
        .find(|e| e.name == "production")
        .ok_or_else(no_demo)?;
    let dashboard = state
        .dashboards
        .list_dashboards(org.id, env.id)
        .await?
        .into_iter()
        .find(|d| d.name == DEMO_DASHBOARD_NAME && d.is_published)
        .ok_or_else(|| AppError::NotFound("the demo dashboard is not published".into()))?;
    if tenant_id != DEMO_TENANT {
        check_tenant_id(&tenant_id).map_err(|m| AppError::invalid(format!("tenant_id: {m}")))?;
        let scope = StoreScope { org_id: org.id, env_id: env.id };
        if state.events.discover(scope, Some(tenant_id.as_str())).await?.is_empty() {
            return Err(AppError::NotFound(format!("no demo tenant {:?}", clip(&tenant_id))));
        }
    }
    let request = CreateEmbedSessionRequest {
        tenant_id,
        dashboard_id: dashboard.id,
        expires_in: None,
        permissions: demo_permissions(),
        allowed_origins: Vec::new(),
        locale: None,
    };
    let session = mint(&state, org.id, env.id, DEMO_ACTOR, request).await?;
    if state.limits.demo_prune_due() {
        state.dashboards.prune_audit(org.id, DEMO_ACTOR, state.limits.demo_audit_rows).await?;
    }
    Ok((StatusCode::CREATED, Json(session)))
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
