//! The ClickHouse writer keeps two inserts in flight: concurrent batches that repeat each other's
//! client ids still store every id exactly once, and every request learns its own outcome.

use emban_host_server::events::{EventStore, clickhouse::ClickHouseStore};

use crate::{
    parity::{SCOPE, generate},
    server::ClickHouse,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_sharing_client_ids_store_each_once() {
    let ch = ClickHouse::start();
    let store = std::sync::Arc::new(ClickHouseStore::open(&ch.url("writer")).await.expect("open"));
    // 12 batches of 1,000 over 6,000 distinct ids: every id is sent twice, by different requests
    // that run at the same time (so often while the first copy's insert is still in flight).
    let events = generate(6_000, 31, "acme");
    let mut tasks = Vec::new();
    for round in 0..2 {
        for chunk in events.chunks(1_000) {
            let (store, mut chunk) = (store.clone(), chunk.to_vec());
            if round == 1 {
                chunk.reverse();
            }
            tasks.push(tokio::spawn(async move { store.insert(SCOPE, chunk).await.expect("insert") }));
        }
    }
    let (mut stored, mut duplicates) = (0, 0);
    for task in tasks {
        let outcome = task.await.expect("task");
        stored += outcome.stored;
        duplicates += outcome.duplicates;
    }
    assert_eq!((stored, duplicates), (6_000, 6_000));
    assert_eq!(store.count_org_events(SCOPE.org_id).await.expect("count"), 6_000);
    store.close().await;
}
