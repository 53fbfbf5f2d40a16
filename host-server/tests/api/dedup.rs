//! The de-duplication window (issue 19): client `event_id`s are remembered for a window of UTC
//! arrival days, persisted beside the events in the same transaction, read back at start from
//! `dedup_ids` (not by scanning every event), forgotten whole days at a time, deleted with their
//! org, and copied once from the events of a data dir that predates the table.

use chrono::Utc;
use duckdb::Connection;
use emban_host_server::events::{
    EventStore, NewEvent, StoreScope,
    dedup::{self, DedupWindow},
    duckdb::{DuckOptions, DuckStore},
};

use crate::common::TempDir;

const SCOPE: StoreScope = StoreScope { org_id: 1, env_id: 1 };
const OTHER: StoreScope = StoreScope { org_id: 2, env_id: 1 };

fn event(id: &str) -> NewEvent {
    NewEvent {
        tenant_id: "acme".to_owned(),
        event_name: "api.call".to_owned(),
        timestamp: Utc::now(),
        event_id: id.to_owned(),
        client_event_id: true,
        user_id: None,
        string_props: Vec::new(),
        numeric_props: Vec::new(),
    }
}

fn events(ids: &[&str]) -> Vec<NewEvent> {
    ids.iter().map(|id| event(id)).collect()
}

fn open(path: &std::path::Path, days: u32) -> DuckStore {
    let options = DuckOptions { dedup_window: DedupWindow { days }, ..DuckOptions::new("512MB") };
    DuckStore::open_opts(path, &options).expect("open")
}

/// (stored, duplicates) of one insert.
async fn insert(store: &DuckStore, scope: StoreScope, ids: &[&str]) -> (usize, usize) {
    let outcome = store.insert(scope, events(ids)).await.expect("insert");
    (outcome.stored, outcome.duplicates)
}

fn raw(path: &std::path::Path) -> Connection {
    Connection::open(path).expect("raw connection")
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[tokio::test]
async fn ids_survive_a_restart_within_the_window_and_are_forgotten_after_it() {
    let dir = TempDir::new();
    let path = dir.path().join("events.duckdb");
    let store = open(&path, 7);
    assert_eq!(insert(&store, SCOPE, &["a", "b", "a"]).await, (2, 1));
    assert_eq!(insert(&store, OTHER, &["a"]).await, (1, 0), "another org's ids are its own");
    store.close().await;
    drop(store);

    // The ids are on disk with today's arrival day, one row per stored client id.
    let conn = raw(&path);
    assert_eq!(count(&conn, &format!("SELECT count(*) FROM dedup_ids WHERE day = {}", dedup::today())), 3);
    // "b" arrived 8 days ago (outside a 7-day window); a stray id 30 days old is pruned at start.
    let b = dedup::fingerprint(SCOPE, "b");
    conn.execute(
        "UPDATE dedup_ids SET day = day - 8 WHERE fp_hi = ? AND fp_lo = ?",
        [(b >> 64) as u64, b as u64],
    )
    .expect("age b");
    conn.execute("INSERT INTO dedup_ids VALUES (1, ?, 1, 1)", [dedup::today() - 30]).expect("stray");
    drop(conn);

    let store = open(&path, 7);
    assert_eq!(insert(&store, SCOPE, &["a", "b", "c"]).await, (2, 1), "a is remembered; b left the window");
    store.close().await;
    drop(store);
    let conn = raw(&path);
    assert_eq!(
        count(&conn, &format!("SELECT count(*) FROM dedup_ids WHERE day < {}", dedup::today() - 7)),
        0,
        "days before the window are deleted at start"
    );
    drop(conn);

    // A longer window on the same data remembers the aged id again: nothing but the window
    // decides, and it is read from disk each start.
    let store = open(&path, 10);
    assert_eq!(insert(&store, SCOPE, &["b"]).await, (0, 1));
    store.close().await;
}

#[tokio::test]
async fn a_data_dir_from_before_the_table_gets_its_client_ids_copied_once() {
    let dir = TempDir::new();
    let path = dir.path().join("events.duckdb");
    let store = open(&path, 7);
    assert_eq!(insert(&store, SCOPE, &["old-1", "old-2"]).await, (2, 0));
    let mut no_id = event("generated");
    no_id.client_event_id = false;
    store.insert(SCOPE, vec![no_id]).await.expect("insert without id");
    store.close().await;
    drop(store);
    // As an older release left it: events, no dedup_ids.
    raw(&path).execute_batch("DROP TABLE dedup_ids").expect("drop");

    let store = open(&path, 7);
    assert_eq!(insert(&store, SCOPE, &["old-1", "old-2", "new"]).await, (1, 2));
    store.close().await;
    drop(store);
    let conn = raw(&path);
    assert_eq!(count(&conn, "SELECT count(*) FROM dedup_ids"), 3, "two copied, one new; generated ids never");
}

#[tokio::test]
async fn deleting_an_org_deletes_its_remembered_ids() {
    let dir = TempDir::new();
    let path = dir.path().join("events.duckdb");
    let store = open(&path, 7);
    insert(&store, SCOPE, &["a", "b"]).await;
    insert(&store, OTHER, &["c"]).await;
    store.delete_org(SCOPE.org_id).await.expect("delete org");
    store.close().await;
    drop(store);
    let conn = raw(&path);
    assert_eq!(count(&conn, "SELECT count(*) FROM dedup_ids WHERE org_id = 1"), 0);
    assert_eq!(count(&conn, "SELECT count(*) FROM dedup_ids WHERE org_id = 2"), 1);
}

/// The WAL file beside `path` and its size (0 when absent).
fn wal_bytes(path: &std::path::Path) -> u64 {
    let mut wal = path.as_os_str().to_owned();
    wal.push(".wal");
    std::fs::metadata(std::path::PathBuf::from(wal)).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn the_checkpoint_threshold_is_applied_and_a_bad_one_is_refused_by_name() {
    let dir = TempDir::new();
    let ids: Vec<String> = (0..200).map(|i| format!("id-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut wal = Vec::new();
    for threshold in ["1KB", "1GB"] {
        let path = dir.path().join(format!("events-{threshold}.duckdb"));
        let options =
            DuckOptions { checkpoint_threshold: Some(threshold.to_owned()), ..DuckOptions::new("512MB") };
        let store = DuckStore::open_opts(&path, &options).expect("open");
        assert_eq!(insert(&store, SCOPE, &ids).await, (200, 0));
        // A read waits for the journaled batch to be loaded into DuckDB.
        assert_eq!(store.count_org_events(SCOPE.org_id).await.expect("count"), 200);
        let loaded = std::time::Instant::now();
        // The checkpointer looks every 100 ms; the idle checkpoint would come only after 1 s.
        while wal_bytes(&path) > 0 && loaded.elapsed() < std::time::Duration::from_millis(700) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        wal.push(wal_bytes(&path));
    }
    // A tiny threshold is checkpointed at once (the WAL is emptied); a large one keeps the
    // commit in the WAL until the loads are idle.
    assert_eq!(wal[0], 0, "1KB: the commit was checkpointed");
    assert!(wal[1] > 0, "1GB: the commit stays in the WAL");

    let options = DuckOptions { checkpoint_threshold: Some("lots".to_owned()), ..DuckOptions::new("512MB") };
    let error = DuckStore::open_opts(&dir.path().join("bad.duckdb"), &options).err().expect("refused");
    let message = format!("{error:#}");
    assert!(message.contains("--duckdb-checkpoint-threshold \"lots\""), "{message}");
}
