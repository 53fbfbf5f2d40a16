//! The embedded store's write path: two threads and the journal between them.
//!
//! - The **journal thread** drains every request waiting in the queue (group commit), decides
//!   which events are duplicates (`DedupSet`), writes the rest to the [`Journal`] and syncs it,
//!   then answers the requests: an acknowledged event is on disk before DuckDB has it.
//! - The **loader thread** owns DuckDB's write connection. It takes every journaled batch not yet
//!   loaded, up to [`LOAD_ROWS`], and appends them, their client ids (`dedup_ids`) and the last
//!   LSN (`ingest_journal`) in one transaction. While it commits, the next batches queue up: the
//!   busier the ingest, the larger each load, which is where DuckDB appends fastest.
//!
//! Readers wait for the loads to catch up with what was acknowledged when they start
//! ([`Visibility::settle`]), so a query after a 2xx still sees that batch. A third thread
//! checkpoints DuckDB while the loads go on ([`checkpoint`]).
//! At start, the journal's records after the stored LSN are loaded again (`docs/ingest.md`).

use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::{
        Arc, Condvar, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::anyhow;
use duckdb::{
    Connection,
    arrow::{compute::concat_batches, record_batch::RecordBatch},
};
use tokio::sync::{mpsc, watch};

use super::{
    APPEND_BATCH_ROWS, PreparedBatch, SHARDS, checkpoint::Checkpointer, dedup_ids, rollup, shard_name,
};
use crate::{
    error::AppError,
    events::{
        NewEvent, StoreScope,
        dedup::{self, DedupSet, DedupWindow},
        journal::{Entry, Journal, Replayed},
        queue::WriteJob,
    },
};

/// Most rows the journal thread takes into one group (one journal sync).
const GROUP_COMMIT_ROWS: usize = 200_000;
/// Most rows one load appends in one DuckDB transaction.
pub const LOAD_ROWS: usize = 150_000;
/// Journaled rows waiting for the loader at most; beyond, the journal thread (and so ingest)
/// waits. Bounds memory and the lag between a 2xx and the event being queryable.
const LOAD_BACKLOG_ROWS: usize = 80_000;
/// How long a reader waits at most for the loads to catch up before it reads anyway.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// After this long without a batch, a journal whose records are all loaded starts a new segment
/// and deletes the old.
const IDLE_ROLL: Duration = Duration::from_secs(1);

/// A load taking this long is logged.
const SLOW_LOAD_MS: u64 = 1000;

/// The table holding the LSNs loaded into DuckDB: each load appends its last one (an update
/// would keep DuckDB from checkpointing while it commits), the loader deletes all but the
/// newest when idle, and the newest is where the journal's replay starts.
pub const JOURNAL_TABLE: &str = "ingest_journal";

/// Creates the LSN table when missing and reads the last LSN loaded.
pub fn applied_lsn(conn: &Connection) -> anyhow::Result<u64> {
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {JOURNAL_TABLE} (lsn UBIGINT NOT NULL);
         INSERT INTO {JOURNAL_TABLE} SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {JOURNAL_TABLE});"
    ))?;
    Ok(conn.query_row(&format!("SELECT max(lsn) FROM {JOURNAL_TABLE}"), [], |r| r.get(0))?)
}

/// What readers consult: the last LSN acknowledged and the last loaded.
#[derive(Clone)]
pub struct Visibility {
    acked: Arc<AtomicU64>,
    loaded: watch::Receiver<u64>,
}

impl Visibility {
    /// Waits until every batch acknowledged before the call is loaded (at most
    /// [`SETTLE_TIMEOUT`]; then the read goes ahead, with a warning).
    pub async fn settle(&self) {
        let target = self.acked.load(Ordering::Acquire);
        if *self.loaded.borrow() >= target {
            return;
        }
        let mut loaded = self.loaded.clone();
        match tokio::time::timeout(SETTLE_TIMEOUT, loaded.wait_for(|l| *l >= target)).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => {
                tracing::warn!(target, "events loader has stopped; reading without the latest batches")
            }
            Err(_) => tracing::warn!(target, "events loads are behind; reading without the latest batches"),
        }
    }
}

/// A journaled batch for the loader: only the events that are stored, as the Arrow batches and
/// client ids it appends (the events themselves only when the daily rollup needs them).
struct Load {
    lsn: u64,
    day: i32,
    scope: StoreScope,
    rows: usize,
    shards: Vec<(usize, RecordBatch)>,
    keys: Vec<u128>,
    events: Option<Vec<NewEvent>>,
}

impl Load {
    fn new(lsn: u64, day: i32, scope: StoreScope, batch: PreparedBatch, rollup: bool) -> Load {
        Load {
            lsn,
            day,
            scope,
            rows: batch.events.len(),
            shards: batch.shards.into_iter().map(|(shard, _, rows)| (shard, rows)).collect(),
            keys: batch.keys.into_iter().flatten().collect(),
            events: rollup.then_some(batch.events),
        }
    }
}

#[derive(Default)]
struct Backlog {
    loads: VecDeque<Load>,
    rows: usize,
    /// No more loads will come.
    closed: bool,
    /// The loader gave up (while closing): what is left stays in the journal.
    abandoned: bool,
}

/// What the loader found.
enum Taken {
    Loads(Vec<Load>),
    Idle,
    Closed,
}

/// The hand-off from the journal thread to the loader, bounded in rows.
#[derive(Default)]
struct LoadQueue {
    state: Mutex<Backlog>,
    changed: Condvar,
}

impl LoadQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Backlog> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a load; waits while the backlog is full (unless `bounded` is false: replays).
    fn push(&self, load: Load, bounded: bool) {
        let mut state = self.lock();
        while bounded && state.rows >= LOAD_BACKLOG_ROWS && !state.abandoned {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        if state.abandoned {
            return;
        }
        state.rows += load.rows;
        state.loads.push_back(load);
        self.changed.notify_all();
    }

    /// Takes the waiting loads, up to `max_rows` (at least one); `Idle` when none came within
    /// `idle`, `Closed` once closed and empty.
    fn take(&self, max_rows: usize, idle: Duration) -> Taken {
        let mut state = self.lock();
        if state.loads.is_empty() && !state.closed {
            let (next, waited) = self
                .changed
                .wait_timeout_while(state, idle, |s| s.loads.is_empty() && !s.closed)
                .unwrap_or_else(|p| p.into_inner());
            state = next;
            if waited.timed_out() {
                return Taken::Idle;
            }
        }
        let mut out = Vec::new();
        let mut rows = 0;
        while let Some(n) = state.loads.front().map(|l| l.rows) {
            if !out.is_empty() && rows + n > max_rows {
                break;
            }
            rows += n;
            out.extend(state.loads.pop_front());
        }
        state.rows -= rows;
        self.changed.notify_all();
        if out.is_empty() { Taken::Closed } else { Taken::Loads(out) }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn abandon(&self) {
        let mut state = self.lock();
        state.abandoned = true;
        state.loads.clear();
        self.changed.notify_all();
    }
}

/// Everything the two threads start from.
pub struct Start {
    /// The journal thread's connection (it reads the de-duplication window).
    pub reader: Connection,
    /// The loader's write connection.
    pub writer: Connection,
    /// The opened journal and its records not yet loaded.
    pub journal: (Journal, Vec<Replayed>),
    /// The last LSN loaded.
    pub applied: u64,
    /// The de-duplication window.
    pub window: DedupWindow,
    /// Whether `dedup_ids` must first be filled from the stored events (an older data dir).
    pub backfill: bool,
    /// Whether the daily rollup is kept.
    pub rollup: bool,
    /// The checkpointer's two connections (see [`super::checkpoint::concurrent`]).
    pub checkpointer: [Connection; 2],
    /// DuckDB's WAL file.
    pub wal: PathBuf,
    /// The WAL size at which the checkpointer checkpoints.
    pub checkpoint_bytes: u64,
    /// Keeps checkpoints and ad-hoc SQL apart.
    pub gate: super::checkpoint::MemoryGate,
}

/// The running threads.
pub struct Threads {
    /// Joined on close: the journal thread, the loader, then the checkpointer.
    pub handles: Vec<std::thread::JoinHandle<()>>,
    /// What readers wait on.
    pub visibility: Visibility,
}

/// Starts the journal thread (draining `rx`) and the loader.
pub fn start(start: Start, rx: mpsc::Receiver<WriteJob<PreparedBatch>>) -> std::io::Result<Threads> {
    let Start {
        reader,
        writer,
        journal: (journal, replay),
        applied,
        window,
        backfill,
        rollup,
        checkpointer,
        wal,
        checkpoint_bytes,
        gate,
    } = start;
    let acked = Arc::new(AtomicU64::new(journal.last_lsn()));
    let (loaded_tx, loaded) = watch::channel(applied);
    let loads = Arc::new(LoadQueue::default());
    let stop = Arc::new(AtomicBool::new(false));
    let [checkpoint_conn, pin] = checkpointer;
    let checkpointer = Checkpointer {
        conn: checkpoint_conn,
        pin,
        pin_table: JOURNAL_TABLE,
        wal,
        threshold: checkpoint_bytes,
        loaded: loaded.clone(),
        acked: acked.clone(),
        stop: stop.clone(),
        gate,
    };
    let loader = {
        let loads = loads.clone();
        std::thread::Builder::new().name("duckdb-loader".into()).spawn(move || {
            loader_loop(writer, &loads, &loaded_tx, window, rollup);
            stop.store(true, Ordering::Release);
        })?
    };
    let checkpointer =
        std::thread::Builder::new().name("duckdb-ckpt".into()).spawn(move || checkpointer.run())?;
    let journaler = {
        let (acked, loaded) = (acked.clone(), loaded.clone());
        std::thread::Builder::new().name("events-journal".into()).spawn(move || {
            let mut thread = JournalThread { journal, loads: loads.clone(), acked, loaded, rollup };
            thread.run(reader, rx, replay, window, backfill);
            loads.close();
        })?
    };
    Ok(Threads { handles: vec![journaler, loader, checkpointer], visibility: Visibility { acked, loaded } })
}

/// Reads the de-duplication window back (after copying an older data dir's client ids once).
fn load_window(conn: &Connection, window: DedupWindow, backfill: bool) -> anyhow::Result<DedupSet> {
    let started = std::time::Instant::now();
    let today = dedup::today();
    if backfill {
        let copied = dedup_ids::backfill(conn, today)?;
        if copied > 0 {
            tracing::info!(ids = copied, "copied stored client event ids into dedup_ids");
        }
    }
    let seen = dedup_ids::load(conn, window, today)?;
    seen.log_loaded(started);
    Ok(seen)
}

struct JournalThread {
    journal: Journal,
    loads: Arc<LoadQueue>,
    acked: Arc<AtomicU64>,
    loaded: watch::Receiver<u64>,
    rollup: bool,
}

impl JournalThread {
    fn run(
        &mut self,
        reader: Connection,
        mut rx: mpsc::Receiver<WriteJob<PreparedBatch>>,
        replay: Vec<Replayed>,
        window: DedupWindow,
        backfill: bool,
    ) {
        let loaded = load_window(&reader, window, backfill);
        drop(reader);
        let mut seen = match loaded {
            Ok(seen) => seen,
            Err(e) => {
                // Storing without the window could store duplicates: refuse every batch instead.
                let message = format!("{e:#}");
                tracing::error!(error = %message, "cannot read the de-duplication window; refusing events");
                while let Some(job) = rx.blocking_recv() {
                    let _ = job
                        .reply
                        .send(Err(AppError::Internal(anyhow!("events store unavailable: {message}"))));
                }
                return;
            }
        };
        self.replay(replay, &mut seen);
        // A runtime of its own, only to wait for the next batch with a timeout.
        let Ok(timer) = tokio::runtime::Builder::new_current_thread().enable_time().build() else {
            tracing::error!("cannot start the journal thread's timer; refusing events");
            return;
        };
        loop {
            let first = match timer.block_on(async { tokio::time::timeout(IDLE_ROLL, rx.recv()).await }) {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(_) => {
                    // Idle: once everything journaled is loaded, the journal keeps none of it.
                    self.roll_when_loaded();
                    continue;
                }
            };
            let mut group = vec![first];
            let mut rows = group[0].events.events.len();
            while rows < GROUP_COMMIT_ROWS {
                match rx.try_recv() {
                    Ok(job) => {
                        rows += job.events.events.len();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.journal_group(group, &mut seen, dedup::today());
            let loaded = *self.loaded.borrow();
            if let Err(e) = self.journal.release(loaded) {
                tracing::warn!(error = %format!("{e:#}"), "removing loaded journal segments failed");
            }
        }
    }

    fn roll_when_loaded(&mut self) {
        let loaded = *self.loaded.borrow();
        if loaded < self.journal.last_lsn() {
            return;
        }
        if let Err(e) = self.journal.roll().and_then(|()| self.journal.release(loaded)) {
            tracing::warn!(error = %format!("{e:#}"), "removing loaded journal segments failed");
        }
    }

    /// Remembers the replayed batches' client ids and queues them for loading.
    fn replay(&mut self, replay: Vec<Replayed>, seen: &mut DedupSet) {
        if replay.is_empty() {
            return;
        }
        let (records, mut events_n) = (replay.len(), 0);
        for record in replay {
            let prepared = record.events().and_then(|events| PreparedBatch::new(record.scope, events));
            match prepared {
                Ok(batch) => {
                    for key in batch.keys.iter().flatten() {
                        seen.insert_fingerprint(*key, record.day);
                    }
                    events_n += batch.events.len();
                    let load = Load::new(record.lsn, record.day, record.scope, batch, self.rollup);
                    self.loads.push(load, false);
                }
                // The checksum held, so this is no torn write: a record this version cannot read.
                Err(e) => {
                    tracing::error!(lsn = record.lsn, error = %format!("{e:#}"), "journal record unreadable; skipped")
                }
            }
        }
        tracing::info!(records, events = events_n, "loading journaled batches not yet in DuckDB");
    }

    /// Journals a group's new events in one sync, then answers every request of it.
    fn journal_group(&mut self, group: Vec<WriteJob<PreparedBatch>>, seen: &mut DedupSet, today: i32) {
        let plan = seen.plan_keys(group.iter().map(|job| (job.scope, job.events.keys.as_slice())));
        let mut replies = Vec::with_capacity(group.len());
        let mut kept: Vec<(StoreScope, PreparedBatch)> = Vec::with_capacity(group.len());
        let mut failed = None;
        for (job, mask) in group.into_iter().zip(&plan.keep) {
            replies.push(job.reply);
            if mask.iter().all(|k| *k) {
                kept.push((job.scope, job.events));
            } else if mask.iter().any(|k| *k) {
                // Some events repeat stored ids (rare): this request's batch without them.
                let events: Vec<NewEvent> =
                    job.events.events.into_iter().zip(mask).filter(|(_, k)| **k).map(|(e, _)| e).collect();
                match PreparedBatch::new(job.scope, events) {
                    Ok(batch) => kept.push((job.scope, batch)),
                    Err(e) => failed = Some(e),
                }
            }
        }
        let written = match failed {
            Some(e) => Err(e),
            None => {
                let entries: Vec<Entry<'_>> = kept
                    .iter()
                    .map(|(scope, batch)| Entry { scope: *scope, events: &batch.encoded })
                    .collect();
                self.journal.append(&entries, today)
            }
        };
        match written {
            Ok(lsns) => {
                if let Some(last) = lsns.last() {
                    self.acked.store(*last, Ordering::Release);
                }
                for (reply, outcome) in replies.into_iter().zip(seen.commit(plan, today)) {
                    let _ = reply.send(Ok(outcome));
                }
                for (lsn, (scope, batch)) in lsns.into_iter().zip(kept) {
                    self.loads.push(Load::new(lsn, today, scope, batch, self.rollup), true);
                }
            }
            Err(e) => {
                let message = format!("{e:#}");
                tracing::error!(error = %message, "journaling events failed; nothing of the group stored");
                for reply in replies {
                    let _ = reply.send(Err(AppError::Internal(anyhow!("storing events: {message}"))));
                }
            }
        }
    }
}

fn loader_loop(
    conn: Connection,
    loads: &LoadQueue,
    loaded: &watch::Sender<u64>,
    window: DedupWindow,
    rollup: bool,
) {
    let mut pruned_on = dedup::today();
    // Loads since `ingest_journal` was last trimmed to its newest LSN.
    let mut untrimmed = false;
    loop {
        let group = match loads.take(LOAD_ROWS, IDLE_ROLL) {
            Taken::Loads(group) => group,
            Taken::Closed => break,
            Taken::Idle => {
                if untrimmed {
                    match conn.execute(
                        &format!(
                            "DELETE FROM {JOURNAL_TABLE} WHERE lsn < (SELECT max(lsn) FROM {JOURNAL_TABLE})"
                        ),
                        [],
                    ) {
                        Ok(_) => untrimmed = false,
                        Err(e) => {
                            tracing::warn!(error = %format!("{e:#}"), "trimming {JOURNAL_TABLE} failed; retried")
                        }
                    }
                }
                continue;
            }
        };
        untrimmed = true;
        let today = dedup::today();
        if today != pruned_on {
            // A new arrival day: the day that left the window leaves `dedup_ids` too.
            if let Err(e) = dedup_ids::prune(&conn, window, today) {
                tracing::warn!(error = %format!("{e:#}"), "pruning dedup_ids failed; retried tomorrow");
            }
            pruned_on = today;
        }
        let (started, rows) = (std::time::Instant::now(), group.iter().map(|l| l.rows).sum::<usize>());
        let mut attempt = 0u32;
        while let Err(e) = load_group(&conn, &group, rollup) {
            let _ = conn.execute_batch("ROLLBACK");
            attempt += 1;
            let message = format!("{e:#}");
            if loads.is_closed() && attempt >= 3 {
                tracing::error!(error = %message, "loading journaled events failed; they stay in the journal for the next start");
                loads.abandon();
                return;
            }
            tracing::error!(error = %message, attempt, "loading journaled events failed; retrying");
            std::thread::sleep(Duration::from_millis(100u64 << attempt.min(6)));
        }
        let ms = started.elapsed().as_millis() as u64;
        if ms >= SLOW_LOAD_MS {
            // A commit waiting for the checkpointer to finish a table it appends to.
            tracing::info!(rows, ms, "slow load into DuckDB");
        }
        let last = group.last().map_or(0, |l| l.lsn);
        loaded.send_replace(last);
    }
}

/// Appends a group of loads, their new client ids and the last LSN in one transaction.
fn load_group(conn: &Connection, group: &[Load], rollup: bool) -> anyhow::Result<()> {
    let mut by_shard: Vec<Vec<&RecordBatch>> = vec![Vec::new(); SHARDS as usize];
    for load in group {
        for (shard, batch) in &load.shards {
            by_shard[*shard].push(batch);
        }
    }
    conn.execute_batch("BEGIN TRANSACTION")?;
    for (shard, batches) in by_shard.iter().enumerate().filter(|(_, b)| !b.is_empty()) {
        let mut appender = conn.appender(&shard_name(shard))?;
        // Requests' small batches joined into appends of up to APPEND_BATCH_ROWS rows.
        let mut start = 0;
        while start < batches.len() {
            let (mut end, mut n) = (start, 0);
            while end < batches.len() && (end == start || n + batches[end].num_rows() <= APPEND_BATCH_ROWS) {
                n += batches[end].num_rows();
                end += 1;
            }
            appender.append_record_batch(concat_batches(
                &batches[start].schema(),
                batches[start..end].iter().copied(),
            )?)?;
            start = end;
        }
        appender.flush()?;
    }
    // Client ids by arrival day (one day, but for loads around midnight or replays).
    let mut days: Vec<(i32, Vec<(i64, u128)>)> = Vec::new();
    for load in group {
        let fresh = load.keys.iter().map(|key| (load.scope.org_id, *key));
        match days.iter_mut().find(|(d, _)| *d == load.day) {
            Some((_, rows)) => rows.extend(fresh),
            None => days.push((load.day, fresh.collect())),
        }
    }
    for (day, rows) in &days {
        dedup_ids::append(conn, rows, *day)?;
    }
    if rollup {
        let rows: Vec<(StoreScope, &NewEvent)> =
            group.iter().flat_map(|l| l.events.iter().flatten().map(move |e| (l.scope, e))).collect();
        rollup::add(conn, &rows)?;
    }
    let last = group.last().map_or(0, |l| l.lsn);
    conn.execute(&format!("INSERT INTO {JOURNAL_TABLE} VALUES (?)"), [last])?;
    conn.execute_batch("COMMIT")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::{
        super::{checkpoint, create_schema_sql},
        *,
    };

    fn load(lsn: u64, n: usize) -> Load {
        let events = (0..n)
            .map(|i| NewEvent {
                tenant_id: format!("t{}", i % 50),
                event_name: format!("event {}", i % 7),
                timestamp: chrono::Utc::now(),
                event_id: format!("{lsn}-{i}"),
                client_event_id: true,
                user_id: Some(format!("user-{lsn}-{i}")),
                string_props: vec![("plan".into(), format!("plan {}", i % 3))],
                numeric_props: vec![("amount".into(), i as f64)],
            })
            .collect();
        let scope = StoreScope { org_id: 1, env_id: 1 };
        Load::new(lsn, 0, scope, PreparedBatch::new(scope, events).unwrap(), false)
    }

    /// The loader's commit goes on while another connection checkpoints: were it to wait, the
    /// checkpoint's whole duration would again be the visibility lag's worst case.
    #[test]
    fn a_load_commits_while_another_connection_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            super::super::duckdb_config("1GB").unwrap().with("checkpoint_threshold", "100GB").unwrap();
        let conn = Connection::open_with_flags(dir.path().join("events.duckdb"), config).unwrap();
        conn.execute_batch(&create_schema_sql()).unwrap();
        dedup_ids::create(&conn).unwrap();
        applied_lsn(&conn).unwrap();
        // Many small loads: rows DuckDB has only in its WAL, which the checkpoint compresses.
        for lsn in 1..=300 {
            load_group(&conn, &[load(lsn, 1_000)], false).unwrap();
        }
        let (checkpointer, pin) = (conn.try_clone().unwrap(), conn.try_clone().unwrap());
        let started = Instant::now();
        let checkpoint = std::thread::spawn(move || {
            checkpoint::concurrent(&checkpointer, &pin, JOURNAL_TABLE).unwrap();
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(30));
        load_group(&conn, &[load(301, 1_000)], false).unwrap();
        let loaded = started.elapsed();
        let checkpointed = checkpoint.join().unwrap();
        assert!(
            checkpointed >= Duration::from_millis(120),
            "the checkpoint took {checkpointed:?}: too short to tell whether the load waited for it"
        );
        assert!(
            loaded < checkpointed,
            "the load ended at {loaded:?}, after the checkpoint ({checkpointed:?})"
        );
        let (events, lsn): (i64, u64) = conn
            .query_row(
                &format!("SELECT (SELECT count(*) FROM events), max(lsn) FROM {JOURNAL_TABLE}"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((events, lsn), (301_000, 301));
    }
}
