//! The de-duplication window on ClickHouse (issue 19), as on DuckDB: a view on `events` records
//! each stored client id with its UTC arrival day in `dedup_ids`; a start reads back only the
//! window's days and drops older partitions; deleting an org deletes its ids.

use emban_host_server::events::{EventStore, StoreScope, clickhouse::ClickHouseStore, dedup::DedupWindow};

use crate::{
    parity::{OTHER, SCOPE, generate},
    server::ClickHouse,
};

async fn count(store: &ClickHouseStore, sql: &str) -> u64 {
    let answer = store.client().select(sql, &[]).await.expect(sql);
    let cell = &answer.rows[0][0];
    cell.as_u64().or_else(|| cell.as_str()?.parse().ok()).expect("count")
}

async fn insert(store: &ClickHouseStore, scope: StoreScope, ids: &[&str]) -> (usize, usize) {
    let template = generate(1, 3, "acme").pop().expect("event");
    let events = ids
        .iter()
        .map(|id| emban_host_server::events::NewEvent { event_id: (*id).to_owned(), ..template.clone() })
        .collect();
    let outcome = store.insert(scope, events).await.expect("insert");
    (outcome.stored, outcome.duplicates)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_survive_a_restart_within_the_window_and_old_days_are_dropped() {
    let ch = ClickHouse::start();
    let url = ch.url("dedup");
    let window = DedupWindow { days: 7 };
    let store = ClickHouseStore::open_with(&url, window).await.expect("open");
    assert_eq!(insert(&store, SCOPE, &["a", "b", "a"]).await, (2, 1));
    assert_eq!(insert(&store, OTHER, &["a"]).await, (1, 0), "another org's ids are its own");
    assert_eq!(count(&store, "SELECT count() FROM dedup_ids WHERE day = toDate(now(), 'UTC')").await, 3);
    // As if "recent" arrived 2 days ago and "stale" 9 days ago (outside the window).
    store
        .client()
        .execute(
            "INSERT INTO dedup_ids VALUES (1, 1, 'recent', toDate(now(), 'UTC') - 2), \
             (1, 1, 'stale', toDate(now(), 'UTC') - 9)",
        )
        .await
        .expect("aged ids");
    store.close().await;

    let store = ClickHouseStore::open_with(&url, window).await.expect("reopen");
    assert_eq!(insert(&store, SCOPE, &["a", "recent", "stale", "c"]).await, (2, 2));
    assert_eq!(
        count(&store, "SELECT count() FROM dedup_ids WHERE day < toDate(now(), 'UTC') - 7").await,
        0,
        "the partitions of days before the window are dropped at start"
    );

    store.delete_org(SCOPE.org_id).await.expect("delete org");
    assert_eq!(count(&store, "SELECT count() FROM dedup_ids WHERE org_id = 1").await, 0);
    assert_eq!(count(&store, "SELECT count() FROM dedup_ids WHERE org_id = 2").await, 1);
    store.close().await;
}
