//! The demo org seeded on first start: an account, keys and 90 days of realistic events.

use std::{io::Write, os::unix::fs::OpenOptionsExt};

use chrono::Utc;
use contract::events::IngestRequest;

use crate::{
    auth::create_account, error::Result, events::StoreScope, ingest::validate, keys::create_key, meta::Scope,
    sample::SampleGenerator, secrets::random_token, state::AppState,
};

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
            crate::dashboards::ensure_demo_dashboard(state, org.id, production.id).await?;
        }
        return Ok(());
    }
    let started = std::time::Instant::now();
    let password = random_token(20);
    let (account, admin) =
        create_account(state, DEMO_EMAIL, &password, Some("Demo".into()), Some("Emban Demo".into()), true)
            .await?;
    let production = account.environments[0].clone();
    let ingest = create_key(state, account.org.id, &production, "Demo ingest key", Scope::Ingest).await?;
    let scope = StoreScope { org_id: account.org.id, env_id: production.id };
    let mut generator = SampleGenerator::new(7, &demo_tenants(), 90, Utc::now());
    let mut stored = 0;
    while stored < DEMO_EVENTS {
        let events = (0..10_000.min(DEMO_EVENTS - stored)).map(|_| generator.next_event()).collect();
        let rows = validate(IngestRequest { events }, Utc::now(), state.ingest_bounds)?;
        stored += state.events.insert(scope, rows).await?.stored;
    }
    crate::dashboards::ensure_demo_dashboard(state, account.org.id, production.id).await?;
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
