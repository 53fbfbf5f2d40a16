//! Usage counters (events stored through the API, queries answered), buffered in memory and
//! flushed to the metadata store every two seconds, at shutdown and before every read.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::Utc;
use tokio::sync::Mutex;

use crate::{
    error::{AppError, Result},
    meta::MetaStore,
    time::day,
};

/// Counter names.
pub const EVENTS_INGESTED: &str = "events_ingested";
/// Counter names.
pub const QUERIES: &str = "queries";

type Key = (i64, i64, String, String);

/// In-memory usage increments waiting to be written.
#[derive(Clone)]
pub struct UsageRecorder {
    pending: Arc<std::sync::Mutex<HashMap<Key, i64>>>,
    meta: Arc<dyn MetaStore>,
    flushing: Arc<Mutex<()>>,
}

impl UsageRecorder {
    /// A recorder writing to `meta`.
    pub fn new(meta: Arc<dyn MetaStore>) -> Self {
        UsageRecorder { pending: Default::default(), meta, flushing: Default::default() }
    }

    /// Adds `delta` to today's `metric` for the org and environment.
    pub fn add(&self, org_id: i64, env_id: i64, metric: &str, delta: i64) {
        if delta == 0 {
            return;
        }
        let day = day(Utc::now().date_naive());
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry((org_id, env_id, day, metric.to_owned())).or_default() += delta;
        }
    }

    /// Writes pending increments. On failure they are put back for the next try.
    pub async fn flush(&self) -> Result<()> {
        let _one_at_a_time = self.flushing.lock().await;
        let batch: Vec<_> = match self.pending.lock() {
            Ok(mut pending) => pending.drain().collect(),
            Err(_) => return Err(AppError::Internal(anyhow::anyhow!("usage counters poisoned"))),
        };
        let rows: Vec<_> = batch.iter().map(|((o, e, d, m), v)| (*o, *e, d.clone(), m.clone(), *v)).collect();
        if let Err(e) = self.meta.add_usage(&rows).await {
            if let Ok(mut pending) = self.pending.lock() {
                for (key, v) in batch {
                    *pending.entry(key).or_default() += v;
                }
            }
            return Err(e);
        }
        Ok(())
    }

    /// Flushes every two seconds until the returned task is aborted.
    pub fn spawn_flusher(&self) -> tokio::task::JoinHandle<()> {
        let recorder = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(2));
            loop {
                tick.tick().await;
                if let Err(e) = recorder.flush().await {
                    tracing::warn!(error = %e, "flushing usage counters failed; will retry");
                }
            }
        })
    }
}
