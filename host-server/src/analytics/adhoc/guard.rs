//! Admission for ad-hoc SQL: the engine's catalog (to refuse names that shadow real tables) and
//! the concurrency limits that keep one org's ad-hoc work from starving everyone's dashboards.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    error::{AppError, Result},
    events::{clickhouse, duckdb},
};

/// How long an ad-hoc query waits for a free slot before it gets a 429.
pub const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// The relation names (tables, views, dictionaries) of the events database, read from the
/// engine after its migrations ran. Compared without case, so neither engine's case rules can
/// make a CTE or alias and a real table look different.
#[derive(Debug, Clone)]
pub struct Catalog(HashSet<String>);

/// The engines' catalog schemas and databases, which no CTE or alias may take either.
const CATALOG_SCHEMAS: &[&str] = &["system", "information_schema", "pg_catalog", "main", "temp", "default"];

impl Catalog {
    /// A catalog of these names, plus the relations Emban's schema creates on either engine
    /// (so a name one engine has cannot be taken on the other) and [`CATALOG_SCHEMAS`].
    pub fn new(names: impl IntoIterator<Item = String>) -> Self {
        let reserved = duckdb::relation_names()
            .into_iter()
            .chain(clickhouse::relation_names())
            .chain(CATALOG_SCHEMAS.iter().map(|n| (*n).to_owned()));
        Catalog(names.into_iter().chain(reserved).map(|n| n.to_lowercase()).collect())
    }

    /// Whether `name` is one of the relations.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains(&name.to_lowercase())
    }

    /// How many relations.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::new(std::iter::empty())
    }
}

/// What may run at once, and the names the engine holds.
pub struct AdhocGuard {
    catalog: Catalog,
    global: Arc<Semaphore>,
    per_org_limit: usize,
    per_org: Mutex<HashMap<i64, Arc<Semaphore>>>,
}

/// Held while one ad-hoc query runs.
pub struct AdhocPermit {
    _global: OwnedSemaphorePermit,
    _org: OwnedSemaphorePermit,
}

impl AdhocGuard {
    /// `global` ad-hoc queries at once over all orgs and `per_org` per org (both at least 1);
    /// `catalog` is every relation name of the events database.
    pub fn new(catalog: Catalog, global: usize, per_org: usize) -> Self {
        AdhocGuard {
            catalog,
            global: Arc::new(Semaphore::new(global.max(1))),
            per_org_limit: per_org.max(1),
            per_org: Mutex::new(HashMap::new()),
        }
    }

    /// The default global limit: half the cores (at least one), so dashboards keep the rest.
    pub fn default_global() -> usize {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    }

    /// The engine's relation names.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Waits (at most [`QUEUE_WAIT`]) for a slot for `org_id`; a 429 when none frees up.
    pub async fn admit(&self, org_id: i64) -> Result<AdhocPermit> {
        let org = {
            let mut map = self.per_org.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Orgs without a running query hold no slot; forget them so the map stays small.
            if map.len() > 10_000 {
                map.retain(|_, s| s.available_permits() < self.per_org_limit);
            }
            map.entry(org_id).or_insert_with(|| Arc::new(Semaphore::new(self.per_org_limit))).clone()
        };
        let busy = || {
            AppError::too_many(
                "sql: too many ad-hoc queries are running; try again shortly",
                QUEUE_WAIT.as_secs(),
            )
        };
        let wait = async {
            let org = org.acquire_owned().await.map_err(|_| busy())?;
            let global = self.global.clone().acquire_owned().await.map_err(|_| busy())?;
            Ok::<_, AppError>(AdhocPermit { _global: global, _org: org })
        };
        tokio::time::timeout(QUEUE_WAIT, wait).await.map_err(|_| busy())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_busy_org_waits_then_gets_429_while_others_run() {
        let guard = AdhocGuard::new(Catalog::new(["Events_Raw".to_owned()]), 2, 1);
        assert!(guard.catalog().contains("events_raw") && guard.catalog().contains("EVENTS_RAW"));
        // Both engines' own relations are reserved whichever engine runs.
        for name in ["rollup_stage", "events_s07", "events_hourly_mv", "emban_migrations", "system"] {
            assert!(Catalog::default().contains(name), "{name}");
        }
        let held = guard.admit(1).await.expect("first");
        let started = std::time::Instant::now();
        let refused = guard.admit(1).await.err().expect("429");
        assert!(started.elapsed() >= QUEUE_WAIT);
        assert!(matches!(refused, AppError::TooManyRequests { .. }));
        let other = guard.admit(2).await.expect("another org runs");
        drop((held, other));
        guard.admit(1).await.expect("free again");
    }
}
