//! The ClickHouse writer keeps two inserts in flight: concurrent batches that repeat each other's
//! client ids still store every id exactly once, and every request learns its own outcome; and
//! what one org sends never fails another org's batches in the same group commit.

use std::sync::Arc;

use emban_host_server::events::{EventStore, NewEvent, clickhouse::ClickHouseStore};

use crate::{
    parity::{OTHER, SCOPE, generate, now},
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

/// Events of `tenant` at `now() - days[i]` days, with client ids `prefix-i`.
fn at_days(tenant: &str, prefix: &str, days: impl IntoIterator<Item = i64>) -> Vec<NewEvent> {
    let mut events = generate(1, 7, tenant);
    let template = events.pop().expect("one event");
    days.into_iter()
        .enumerate()
        .map(|(i, d)| NewEvent {
            timestamp: now() - chrono::Duration::days(d),
            event_id: format!("{prefix}-{i}"),
            client_event_id: true,
            ..template.clone()
        })
        .collect()
}

/// Sends `noisy` for `SCOPE` and, at the same moment (so the writer groups them), ten small
/// batches for `OTHER`; answers the noisy batch's outcome and asserts every other batch stored.
async fn alongside_other_org(store: &Arc<ClickHouseStore>, noisy: Vec<NewEvent>) -> Result<usize, String> {
    let first = {
        let store = store.clone();
        tokio::spawn(async move { store.insert(SCOPE, noisy).await })
    };
    let mut others = Vec::new();
    for batch in 0..10 {
        let store = store.clone();
        let events = at_days("globex", &format!("other-{batch}"), 0..5);
        others.push(tokio::spawn(async move { store.insert(OTHER, events).await }));
    }
    for other in others {
        let outcome =
            other.await.expect("task").unwrap_or_else(|e| panic!("the other org's batch failed: {e}"));
        assert_eq!(outcome.stored, 5);
    }
    first.await.expect("task").map(|o| o.stored).map_err(|e| e.to_string())
}

// ClickHouse 18.16 has no `max_partitions_per_insert_block`; a materialized view that refuses any
// insert block spanning more than 3 month partitions stands in for it (current releases refuse
// blocks over 100 partitions by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_orgs_batch_over_many_partitions_fails_no_other_org() {
    let ch = ClickHouse::start();
    let store = Arc::new(ClickHouseStore::open(&ch.url("partitions")).await.expect("open"));
    store
        .client()
        .execute(
            "CREATE MATERIALIZED VIEW partition_limit ENGINE = Null AS \
             SELECT throwIf(uniqExact(toYYYYMM(ts)) > 3) AS too_many_partitions FROM events",
        )
        .await
        .expect("limit view");
    // A year of events, one a month: twelve partitions in one request.
    let noisy = at_days("acme", "noisy", (0..12).map(|m| m * 31));
    let stored = alongside_other_org(&store, noisy).await.expect("the many-partition batch itself is stored");
    assert_eq!(stored, 12);
    assert_eq!(store.count_org_events(SCOPE.org_id).await.expect("count"), 12);
    assert_eq!(store.count_org_events(OTHER.org_id).await.expect("count"), 50);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_clickhouse_refuses_fails_only_its_own_org() {
    let ch = ClickHouse::start();
    let store = Arc::new(ClickHouseStore::open(&ch.url("isolation")).await.expect("open"));
    store
        .client()
        .execute(
            "CREATE MATERIALIZED VIEW refuse_poison ENGINE = Null AS \
             SELECT throwIf(countIf(tenant_id = 'poison') > 0) AS refused FROM events",
        )
        .await
        .expect("refusing view");
    let poisoned = at_days("poison", "bad", 0..3);
    let error =
        alongside_other_org(&store, poisoned).await.expect_err("ClickHouse refuses the poisoned batch");
    assert!(!error.is_empty());
    assert_eq!(store.count_org_events(OTHER.org_id).await.expect("count"), 50);
    // The refused batch's ids were not remembered: once ClickHouse accepts, they are stored.
    store.client().execute("DROP TABLE refuse_poison").await.expect("drop view");
    let outcome = store.insert(SCOPE, at_days("poison", "bad", 0..3)).await.expect("retry");
    assert_eq!(outcome.stored, 3);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn months_written_before_a_failure_are_not_stored_again_on_retry() {
    let ch = ClickHouse::start();
    let store = Arc::new(ClickHouseStore::open(&ch.url("partial")).await.expect("open"));
    // Refuses inserts into the newest month while the view exists; months go in oldest first.
    store
        .client()
        .execute(
            "CREATE MATERIALIZED VIEW refuse_march ENGINE = Null AS \
             SELECT throwIf(countIf(toYYYYMM(ts) = 202603) > 0) AS refused FROM events",
        )
        .await
        .expect("refusing view");
    // now() is 2026-03-18: days 0, 31, 62 and 93 ago are March, February, January and December.
    let batch = at_days("acme", "partial", [0, 31, 62, 93]);
    store.insert(SCOPE, batch.clone()).await.expect_err("March is refused");
    store.client().execute("DROP TABLE refuse_march").await.expect("drop view");
    let outcome = store.insert(SCOPE, batch).await.expect("retry");
    assert_eq!((outcome.stored, outcome.duplicates), (1, 3), "only March is stored again");
    store.close().await;
}
