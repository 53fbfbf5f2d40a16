//! The events database's checkpointer: a thread of its own that writes DuckDB's WAL into the
//! table files, so the loader never does it inside a commit.
//!
//! DuckDB checkpoints inside the commit that takes the WAL past `checkpoint_threshold`, and that
//! commit returns only when the checkpoint is done: 1.2-2.6 s at 200k events/s, during which
//! nothing is loaded and the visibility lag grows by as much (`BENCHMARKS.md`). Since DuckDB 1.5,
//! commits that only insert into tables without indexes go on while another connection
//! checkpoints (new rows go to new row groups and a WAL of their own). The loader's commits are
//! such (events, `dedup_ids`, `ingest_journal` are appended to, never updated), so this thread
//! checkpoints when the WAL passes the configured threshold and after a second of idle ingest.
//!
//! DuckDB never checkpoints on its own here (its threshold is set to 1 TB): a checkpoint that
//! cannot get memory fails, and DuckDB then invalidates the whole database until a restart. An
//! ad-hoc SQL query is the one read allowed to run into DuckDB's memory limit (it gets a 413), so
//! no checkpoint may overlap one: both go through the [`MemoryGate`], which only this thread
//! honours.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use duckdb::Connection;
use tokio::sync::watch;

/// How often the checkpointer looks at the WAL's size.
const POLL: Duration = Duration::from_millis(100);
/// Loads idle this long, with a WAL left, checkpoint it (so a crash then replays nothing).
const IDLE: Duration = Duration::from_secs(1);
/// After a refused checkpoint (another connection's update or schema change in the way).
const RETRY: Duration = Duration::from_secs(1);
/// Refused this long in a row (an update's transaction in the way, as the daily rollup's loads
/// hold), the checkpointer waits for the lock instead (`FORCE CHECKPOINT`).
const FORCE_AFTER: Duration = Duration::from_secs(10);
/// DuckDB's own `checkpoint_threshold`: never reached, so only the checkpointer checkpoints.
pub const DUCKDB_THRESHOLD: &str = "1TB";

/// Held shared by every ad-hoc SQL query and exclusively by each checkpoint, so the two never
/// overlap (see the module's doc). std's `RwLock` prefers writers: a waiting checkpoint holds
/// back new ad-hoc queries, and waits at most for the running ones' time limit.
pub type MemoryGate = Arc<std::sync::RwLock<()>>;

/// Parses a size as DuckDB does (`256MB`, `1 GiB`, `512kb`, `100 bytes`): decimal units for
/// KB/MB/GB/TB, binary for KiB/MiB/GiB/TiB. `None` when it is not one.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "b" | "byte" | "bytes" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    let bytes = number * multiplier as f64;
    (bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Checkpoints on `conn` while the loader's commits go on. A checkpoint that starts with no
/// write transaction open takes DuckDB's vacuum lock, and every append then waits for it to end;
/// one that finds another transaction's uncommitted insert is a concurrent checkpoint, which
/// appends do not wait for (it does not vacuum deleted rows: the idle checkpoint does). So
/// `pin` holds such an insert into `table` (one `UBIGINT` column), never committed, while `conn`
/// checkpoints.
pub fn concurrent(conn: &Connection, pin: &Connection, table: &str) -> duckdb::Result<()> {
    pin.execute_batch("BEGIN TRANSACTION")?;
    // Whatever fails, the pin's transaction ends here: left open, it would make every later
    // checkpoint concurrent (no vacuum) and every later `BEGIN` on it fail.
    let checkpointed = pin
        .execute(&format!("INSERT INTO {table} VALUES (0)"), [])
        .and_then(|_| conn.execute_batch("CHECKPOINT"));
    let rolled_back = pin.execute_batch("ROLLBACK");
    checkpointed.and(rolled_back)
}

/// What the checkpointer watches.
pub struct Checkpointer {
    /// A connection of its own (a `CHECKPOINT` needs no transaction open on it).
    pub conn: Connection,
    /// The connection holding a write transaction open during a [`concurrent`] checkpoint.
    pub pin: Connection,
    /// The table it inserts into (and rolls back).
    pub pin_table: &'static str,
    /// DuckDB's WAL file (`events.duckdb.wal`).
    pub wal: PathBuf,
    /// The WAL size that starts a checkpoint.
    pub threshold: u64,
    /// The last LSN loaded: unchanged for [`IDLE`] means the loads are idle.
    pub loaded: watch::Receiver<u64>,
    /// The last LSN acknowledged: loads are idle only once they caught up with it.
    pub acked: Arc<AtomicU64>,
    /// Set once the loader has stopped (DuckDB checkpoints at close itself).
    pub stop: Arc<AtomicBool>,
    /// Taken exclusively for each checkpoint.
    pub gate: MemoryGate,
}

impl Checkpointer {
    /// Runs until `stop`.
    pub fn run(self) {
        let mut last_loaded = *self.loaded.borrow();
        let mut loads_changed = Instant::now();
        let mut not_before = Instant::now();
        let mut refused_since: Option<Instant> = None;
        while !self.stop.load(Ordering::Acquire) {
            std::thread::sleep(POLL);
            let loaded = *self.loaded.borrow();
            if loaded != last_loaded {
                (last_loaded, loads_changed) = (loaded, Instant::now());
            }
            let wal = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
            if wal == 0 || Instant::now() < not_before {
                continue;
            }
            let idle = loads_changed.elapsed() >= IDLE && self.acked.load(Ordering::Acquire) <= loaded;
            if wal < self.threshold && !idle {
                continue;
            }
            let force = refused_since.is_some_and(|t| t.elapsed() >= FORCE_AFTER);
            let gate = self.gate.write().unwrap_or_else(|p| p.into_inner());
            let started = Instant::now();
            // Under load, a concurrent checkpoint; once idle, a full one (it also vacuums).
            let checkpointed = if force {
                self.conn.execute_batch("FORCE CHECKPOINT")
            } else if idle {
                self.conn.execute_batch("CHECKPOINT")
            } else {
                concurrent(&self.conn, &self.pin, self.pin_table)
            };
            drop(gate);
            match checkpointed {
                Ok(()) => {
                    refused_since = None;
                    tracing::info!(
                        wal_bytes = wal,
                        ms = started.elapsed().as_millis() as u64,
                        reason = if force {
                            "forced"
                        } else if wal >= self.threshold {
                            "threshold"
                        } else {
                            "idle"
                        },
                        "checkpointed the events database"
                    )
                }
                Err(e) => {
                    tracing::info!(error = %format!("{e:#}"), "checkpoint refused; retried in a second");
                    refused_since.get_or_insert_with(Instant::now);
                    not_before = Instant::now() + RETRY;
                }
            }
            if idle {
                // A WAL that a checkpoint leaves behind (written during it) waits for the next
                // idle second rather than being checkpointed again at once.
                loads_changed = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint waits while an ad-hoc query holds the gate, and runs once it is let go.
    #[test]
    fn no_checkpoint_runs_while_the_gate_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.duckdb");
        let config = super::super::duckdb_config("256MB")
            .unwrap()
            .with("checkpoint_threshold", DUCKDB_THRESHOLD)
            .unwrap();
        let conn = Connection::open_with_flags(&path, config).unwrap();
        conn.execute_batch(
            "CREATE TABLE pin (lsn UBIGINT); CREATE TABLE t AS SELECT range AS i FROM range(1000); \
             INSERT INTO t SELECT range FROM range(10000);",
        )
        .unwrap();
        let wal = dir.path().join("events.duckdb.wal");
        let wal_bytes = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        assert!(wal_bytes() > 0);
        let (gate, stop) = (MemoryGate::default(), Arc::new(AtomicBool::new(false)));
        let held = gate.read().unwrap();
        let (_loaded_tx, loaded) = watch::channel(0);
        let checkpointer = Checkpointer {
            conn: conn.try_clone().unwrap(),
            pin: conn.try_clone().unwrap(),
            pin_table: "pin",
            wal: wal.clone(),
            threshold: 1,
            loaded,
            acked: Arc::new(AtomicU64::new(0)),
            stop: stop.clone(),
            gate: gate.clone(),
        };
        let thread = std::thread::spawn(move || checkpointer.run());
        std::thread::sleep(Duration::from_millis(600));
        assert!(wal_bytes() > 0, "checkpointed while an ad-hoc query held the gate");
        drop(held);
        let released = Instant::now();
        while wal_bytes() > 0 {
            assert!(released.elapsed() < Duration::from_secs(5), "no checkpoint after the gate was let go");
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Release);
        thread.join().unwrap();
    }

    #[test]
    fn sizes_parse_as_duckdb_reads_them() {
        assert_eq!(parse_bytes("256MB"), Some(256_000_000));
        assert_eq!(parse_bytes("1 GiB"), Some(1 << 30));
        assert_eq!(parse_bytes("512kb"), Some(512_000));
        assert_eq!(parse_bytes("1.5gb"), Some(1_500_000_000));
        assert_eq!(parse_bytes("100 bytes"), Some(100));
        for bad in ["", "MB", "256", "256 parsecs", "-1MB", "0MB", "1e400GB"] {
            assert_eq!(parse_bytes(bad), None, "{bad:?}");
        }
    }
}
