//! The demo, in one place: the org seeded on first start (an account, keys, 90 days of
//! realistic events and its dashboard, `dashboard`), the sample generator the benchmarks share
//! (`sample`), and the public demo session behind `GET /v1/demo/embed-url`.

pub mod dashboard;
pub mod sample;

use std::{io::Write, os::unix::fs::OpenOptionsExt};

use chrono::Utc;
use contract::{
    embed::{CreateEmbedSessionRequest, CreateEmbedSessionResponse, EmbedPermissions},
    events::IngestRequest,
};

use crate::{
    accounts::create_account,
    auth::api_keys::create_key,
    embed::sessions::mint,
    error::{AppError, Result, clip},
    events::{StoreScope, check_tenant_id},
    ingest::validate,
    meta::Scope,
    secrets::random_token,
    state::AppState,
};
use dashboard::{DEMO_DASHBOARD_NAME, ensure_demo_dashboard};
use sample::SampleGenerator;

/// The demo account's email.
pub const DEMO_EMAIL: &str = "demo@emban.local";
/// The tenant the live demo embeds by default.
pub const DEMO_TENANT: &str = "demo_workspace";
const DEMO_EVENTS: usize = 150_000;

/// Tenants of very different sizes; `demo_workspace` is mid-sized.
fn demo_tenants() -> Vec<(String, f64)> {
    [
        ("acme", 40.0),
        ("globex", 18.0),
        (DEMO_TENANT, 12.0),
        ("initech", 8.0),
        ("umbrella", 6.0),
        ("hooli", 4.0),
        ("stark", 3.0),
        ("wayne", 2.0),
        ("tyrell", 1.0),
        ("cyberdyne", 0.5),
        ("soylent", 0.2),
        ("wonka", 0.05),
    ]
    .into_iter()
    .map(|(t, w)| (t.to_owned(), w))
    .collect()
}

/// Seeds the demo org unless one exists. Prints the sign-in and keys once, and keeps a copy in
/// `demo-credentials.txt` (mode 0600) in the data dir.
pub async fn seed_if_missing(state: &AppState, data_dir: &std::path::Path) -> Result<()> {
    if let Some(org) = state.meta.demo_org().await? {
        // A demo seeded before dashboards existed gets its dashboard now.
        let envs = state.meta.environments(org.id).await?;
        if let Some(production) = envs.iter().find(|e| e.name == "production") {
            ensure_demo_dashboard(&*state.dashboards, org.id, production.id).await?;
        }
        return Ok(());
    }
    let started = std::time::Instant::now();
    let password = random_token(20);
    let (account, admin) =
        create_account(state, DEMO_EMAIL, &password, Some("Demo".into()), Some("Emban Demo".into()), true)
            .await?;
    let production = account.environments[0].clone();
    let ingest =
        create_key(&*state.meta, account.org.id, &production, "Demo ingest key", Scope::Ingest).await?;
    let scope = StoreScope { org_id: account.org.id, env_id: production.id };
    let mut generator = SampleGenerator::new(7, &demo_tenants(), 90, Utc::now());
    let mut stored = 0;
    while stored < DEMO_EVENTS {
        let events = (0..10_000.min(DEMO_EVENTS - stored)).map(|_| generator.next_event()).collect();
        let rows = validate(IngestRequest { events }, Utc::now(), state.ingest_bounds)?;
        stored += state.events.insert(scope, rows).await?.stored;
    }
    ensure_demo_dashboard(&*state.dashboards, account.org.id, production.id).await?;
    let text = format!(
        "Demo org seeded with {stored} events in {:.1}s.\n  sign in:    {DEMO_EMAIL} / {password}\n  admin key:  {}\n  ingest key: {}\n",
        started.elapsed().as_secs_f64(),
        admin.secret.expose(),
        ingest.secret.expose(),
    );
    print!("{text}");
    let path = data_dir.join("demo-credentials.txt");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not keep a copy of the demo credentials");
    }
    Ok(())
}

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

/// A session on the demo dashboard for `tenant_id` (the default demo tenant when `None`): 404
/// when the server runs without the demo or the tenant has no events. Rate limits are the
/// caller's to apply; the demo's own audit rows are pruned to `--demo-audit-rows`.
pub async fn mint_demo_session(
    state: &AppState,
    tenant_id: Option<String>,
) -> Result<CreateEmbedSessionResponse> {
    let no_demo = || AppError::NotFound("this server has no demo org".into());
    if !state.demo {
        return Err(no_demo());
    }
    let tenant_id = tenant_id.unwrap_or_else(|| DEMO_TENANT.to_owned());
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
    let session = mint(state, org.id, env.id, DEMO_ACTOR, request).await?;
    if state.limits.demo_prune_due() {
        state.dashboards.prune_audit(org.id, DEMO_ACTOR, state.limits.demo_audit_rows).await?;
    }
    Ok(session)
}
