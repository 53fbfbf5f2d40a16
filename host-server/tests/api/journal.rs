//! The ingest journal under the embedded store (issue 19): a batch is acknowledged once it is in
//! the fsynced journal and loaded into DuckDB in the background. These tests write journal
//! records the way a crash leaves them (journaled, never loaded) and open the store over them.

use chrono::Utc;
use duckdb::Connection;
use emban_host_server::events::{
    EventStore, NewEvent, StoreScope,
    duckdb::{DuckOptions, DuckStore, journal_dir},
    journal::{Entry, Journal, record::EncodedEvents},
};

use crate::common::TempDir;

const SCOPE: StoreScope = StoreScope { org_id: 1, env_id: 1 };

fn events(prefix: &str, n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent {
            tenant_id: "acme".to_owned(),
            event_name: "api.call".to_owned(),
            timestamp: Utc::now(),
            event_id: format!("{prefix}-{i}"),
            client_event_id: true,
            user_id: Some(format!("u{i}")),
            string_props: vec![("plan".to_owned(), "pro".to_owned())],
            numeric_props: vec![("latency_ms".to_owned(), i as f64)],
        })
        .collect()
}

/// Journals `batches` after LSN `after`, as the journal thread does, without loading them.
fn journal(path: &std::path::Path, after: u64, batches: &[Vec<NewEvent>]) -> Vec<u64> {
    let (mut journal, _) = Journal::open(&journal_dir(path), after).expect("journal");
    let encoded: Vec<EncodedEvents> = batches.iter().map(|b| EncodedEvents::new(b, None)).collect();
    let entries: Vec<Entry<'_>> = encoded.iter().map(|e| Entry { scope: SCOPE, events: e }).collect();
    journal.append(&entries, emban_host_server::events::dedup::today()).expect("append")
}

fn open(path: &std::path::Path) -> DuckStore {
    DuckStore::open_opts(path, &DuckOptions::new("512MB")).expect("open")
}

/// A scratch dir and the events file's path in it.
fn scratch() -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new();
    let path = dir.path().join("events.duckdb");
    (dir, path)
}

/// The org's events as a read sees them (after the loads caught up).
async fn count(store: &DuckStore) -> u64 {
    store.count_org_events(SCOPE.org_id).await.expect("count")
}

/// Stops the store (its loads finished) and lets go of the file.
async fn shut(store: DuckStore) {
    store.close().await;
    drop(store);
}

fn stored(path: &std::path::Path) -> (i64, i64, u64) {
    let conn = Connection::open(path).expect("raw connection");
    let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
    let lsn: u64 = conn.query_row("SELECT max(lsn) FROM ingest_journal", [], |r| r.get(0)).expect("lsn");
    (q("SELECT count(*) FROM events"), q("SELECT count(DISTINCT event_id) FROM events"), lsn)
}

fn segments(path: &std::path::Path) -> usize {
    std::fs::read_dir(journal_dir(path)).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn journaled_batches_never_loaded_are_loaded_at_start_and_their_ids_stay_duplicates() {
    let (_dir, path) = scratch();
    assert_eq!(journal(&path, 0, &[events("a", 300), events("b", 200)]), vec![1, 2]);

    let store = open(&path);
    // A read waits for the replayed batches, so it sees them at once.
    assert_eq!(count(&store).await, 500);
    // Their ids were remembered before any new batch was taken.
    let again = store.insert(SCOPE, events("a", 301)).await.expect("insert");
    assert_eq!((again.stored, again.duplicates), (1, 300));
    assert_eq!(count(&store).await, 501);
    shut(store).await;
    assert_eq!(stored(&path), (501, 501, 3), "each event stored once; the LSN is the last loaded");

    // A clean restart loads nothing again, and the journal keeps only its current segment.
    let store = open(&path);
    assert_eq!(count(&store).await, 501);
    shut(store).await;
    assert_eq!(segments(&path), 1);
}

#[tokio::test]
async fn records_already_loaded_are_not_loaded_twice() {
    let (_dir, path) = scratch();
    let store = open(&path);
    assert_eq!(store.insert(SCOPE, events("a", 100)).await.expect("insert").stored, 100);
    assert_eq!(count(&store).await, 100);
    shut(store).await;
    assert_eq!(stored(&path).2, 1);

    // The crash came after DuckDB's commit of LSN 1 and before its segment was deleted: the
    // journal still holds it, then LSN 2 (journaled, not loaded).
    assert_eq!(journal(&path, 0, &[events("b", 40)]), vec![2]);

    let store = open(&path);
    assert_eq!(count(&store).await, 140);
    shut(store).await;
    assert_eq!(stored(&path), (140, 140, 2));
}

#[tokio::test]
async fn a_torn_last_record_is_dropped_and_the_store_starts_cleanly() {
    let (_dir, path) = scratch();
    journal(&path, 0, &[events("a", 50), events("torn", 50)]);
    let segment = std::fs::read_dir(journal_dir(&path)).unwrap().next().unwrap().unwrap().path();
    let bytes = std::fs::read(&segment).unwrap();
    // The crash cut the second record's write short: it was never fsynced, so never acknowledged.
    std::fs::write(&segment, &bytes[..bytes.len() - 100]).unwrap();

    let store = open(&path);
    assert_eq!(count(&store).await, 50);
    // The torn batch's ids were never acknowledged: a retry stores them.
    let retry = store.insert(SCOPE, events("torn", 50)).await.expect("insert");
    assert_eq!((retry.stored, retry.duplicates), (50, 0));
    assert_eq!(count(&store).await, 100);
    shut(store).await;
    assert_eq!(stored(&path), (100, 100, 2));
}

#[tokio::test]
async fn once_ingest_is_idle_the_journal_keeps_no_loaded_events_so_a_deleted_org_leaves_none() {
    let (_dir, path) = scratch();
    let store = open(&path);
    let mut secret = events("s", 20);
    for e in &mut secret {
        e.tenant_id = "tenant-of-a-deleted-org".to_owned();
    }
    assert_eq!(store.insert(SCOPE, secret).await.expect("insert").stored, 20);
    let journal_bytes = || -> Vec<u8> {
        std::fs::read_dir(journal_dir(&path))
            .unwrap()
            .flat_map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect()
    };
    let holds = |bytes: &[u8]| bytes.windows(23).any(|w| w == b"tenant-of-a-deleted-org");
    assert!(holds(&journal_bytes()), "the batch is journaled before its 2xx");
    store.delete_org(SCOPE.org_id).await.expect("delete");
    assert_eq!(count(&store).await, 0);

    let started = std::time::Instant::now();
    while holds(&journal_bytes()) {
        assert!(started.elapsed().as_secs() < 5, "the journal still holds the deleted org's events");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shut(store).await;
}

#[tokio::test]
async fn once_loads_are_idle_duckdb_checkpoints_so_a_crash_has_little_wal_to_replay() {
    let (dir, path) = scratch();
    let options = DuckOptions { checkpoint_threshold: Some("1GB".to_owned()), ..DuckOptions::new("512MB") };
    let store = DuckStore::open_opts(&path, &options).expect("open");
    assert_eq!(store.insert(SCOPE, events("a", 2000)).await.expect("insert").stored, 2000);
    assert_eq!(count(&store).await, 2000);
    let wal = || std::fs::metadata(dir.path().join("events.duckdb.wal")).map(|m| m.len()).unwrap_or(0);
    assert!(wal() > 0, "the load is in DuckDB's WAL first (1GB threshold)");
    let started = std::time::Instant::now();
    while wal() > 0 {
        assert!(started.elapsed().as_secs() < 5, "DuckDB's WAL still holds {} bytes", wal());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    shut(store).await;
}

#[tokio::test]
async fn under_sustained_loads_the_checkpointer_keeps_duckdbs_wal_near_its_threshold() {
    let (dir, path) = scratch();
    // DuckDB never checkpoints by itself (its threshold is 1 TB): only the checkpointer does.
    let options = DuckOptions { checkpoint_threshold: Some("2MB".to_owned()), ..DuckOptions::new("512MB") };
    let store = DuckStore::open_opts(&path, &options).expect("open");
    let wal = || std::fs::metadata(dir.path().join("events.duckdb.wal")).map(|m| m.len()).unwrap_or(0);
    let (mut largest, mut written, mut previous, mut checkpoints) = (0u64, 0u64, 0u64, 0);
    let mut batch = 0;
    while written < 16 << 20 {
        // Spread over the shards, as real loads are.
        let mut spread = events(&format!("b{batch}"), 1_000);
        for (i, e) in spread.iter_mut().enumerate() {
            e.tenant_id = format!("t{}", i % 64);
        }
        assert_eq!(store.insert(SCOPE, spread).await.expect("insert").stored, 1_000);
        batch += 1;
        // Loaded before the next: small loads, which DuckDB writes to its WAL (a load of whole
        // row groups goes to the table file).
        assert_eq!(count(&store).await, batch * 1_000);
        let now = wal();
        if now < previous {
            checkpoints += 1;
            written += previous;
        }
        (largest, previous) = (largest.max(now), now);
        assert!(batch < 1_000, "16 MB of WAL not reached after {batch} batches");
    }
    assert!(checkpoints >= 3, "{checkpoints} checkpoints while 16 MB went through the WAL");
    assert!(largest < 5 << 20, "DuckDB's WAL reached {largest} bytes (threshold 2 MB)");
    assert_eq!(count(&store).await, batch * 1_000);
    // Once idle, the loader keeps only the newest LSN.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    shut(store).await;
    let conn = Connection::open(&path).expect("raw connection");
    let rows: i64 = conn.query_row("SELECT count(*) FROM ingest_journal", [], |r| r.get(0)).expect("rows");
    assert_eq!((rows, stored(&path).2), (1, batch));
}

#[tokio::test]
async fn the_catalog_is_read_without_waiting_for_the_replay_so_a_crashed_server_listens_at_once() {
    let (_dir, path) = scratch();
    let batches: Vec<Vec<NewEvent>> = (0..300).map(|b| events(&format!("r{b}"), 1_000)).collect();
    journal(&path, 0, &batches);
    let store = open(&path);
    // The server reads the catalog before it listens.
    let started = std::time::Instant::now();
    assert!(store.catalog().await.expect("catalog").iter().any(|name| name == "events"));
    let catalog = started.elapsed();
    assert_eq!(count(&store).await, 300_000);
    let loaded = started.elapsed();
    assert!(catalog * 2 < loaded, "the catalog took {catalog:?}; the replay was loaded after {loaded:?}");
    shut(store).await;
}
