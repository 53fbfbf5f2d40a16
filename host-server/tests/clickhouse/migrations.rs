//! Schema migrations: a database at an older version (or from before versions were recorded) is
//! brought to the newest on start, its data kept and its rollups rebuilt from it.

use std::time::Instant;

use emban_host_server::{
    analytics::query::{QueryRequest, shape},
    events::{
        EventStore,
        clickhouse::{
            ClickHouseClient, ClickHouseStore, ClickHouseUrl, MIGRATIONS, Plan, encode_event, insert_columns,
            migrate, migrate_to, plan,
        },
    },
};

use crate::{
    parity::{SCOPE, generate, now},
    server::ClickHouse,
};

async fn show_create(client: &ClickHouseClient, table: &str) -> String {
    let answer = client.select(&format!("SHOW CREATE TABLE {table}"), &[]).await.expect("show create");
    answer.rows[0][0].as_str().expect("statement").to_owned()
}

async fn versions(client: &ClickHouseClient) -> Vec<u64> {
    let answer =
        client.select("SELECT version FROM emban_migrations ORDER BY version", &[]).await.expect("versions");
    answer.rows.iter().map(|r| r[0].as_u64().or_else(|| r[0].as_str()?.parse().ok()).expect("u64")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_database_is_migrated_on_start_and_keeps_its_data() {
    let ch = ClickHouse::start();
    let url = ch.url("migrating");
    let bootstrap =
        ClickHouseClient::new(ClickHouseUrl::parse(&ch.url("default")).expect("url")).expect("client");
    bootstrap.execute("CREATE DATABASE migrating").await.expect("create database");
    let client = ClickHouseClient::new(ClickHouseUrl::parse(&url).expect("url")).expect("client");

    // Version 1, as the first release created it, then forget the record of it: a database from
    // before versions were recorded.
    assert_eq!(migrate_to(&client, 1).await.expect("v1"), vec![1]);
    assert!(show_create(&client, "events_daily").await.contains("AggregateFunction(uniqCombined, String)"));
    client.execute("DROP TABLE emban_migrations").await.expect("drop record");

    // Events written by that release (straight into the table: its views fill the v1 rollups).
    let events = generate(6_000, 21, "acme");
    let mut data = Vec::new();
    for event in &events {
        encode_event(SCOPE, event, &mut data);
    }
    client.insert_row_binary("events", &insert_columns(), data).await.expect("insert");

    // Start: recognised as version 1, migrated to the newest, data kept.
    let store = ClickHouseStore::open(&url).await.expect("open migrates");
    let newest = MIGRATIONS.last().expect("migrations").0 as u64;
    assert_eq!(versions(&client).await, (1..=newest).collect::<Vec<_>>());
    let daily = show_create(&client, "events_daily").await;
    assert!(daily.contains("AggregateFunction(uniqCombined(14), String)"), "{daily}");
    assert!(daily.contains("index_granularity = 256") && !daily.contains("users_exact"), "{daily}");
    assert_eq!(store.count_org_events(SCOPE.org_id).await.expect("count"), 6_000);
    // Their client ids were copied into the de-duplication window (migration 4): a resend of
    // them is skipped.
    let resend = store.insert(SCOPE, events[..100].to_vec()).await.expect("resend");
    assert_eq!((resend.stored, resend.duplicates), (0, 100));

    // The rebuilt rollups were backfilled: they answer as raw events do, and the views still feed
    // them (a new event shows up on both routes).
    let more = generate(500, 22, "acme");
    assert_eq!(store.insert(SCOPE, more).await.expect("insert").stored, 500);
    for raw in [
        "event_name=api.call&tenant_id=acme&metric=count&period=90d&granularity=day&group_by=model",
        "event_name=api.call&tenant_id=acme&metric=count_unique_approx&period=30d&granularity=week",
        "event_name=api.call&tenant_id=acme&metric=count&period=7d&granularity=hour&f_status=error",
    ] {
        let request = QueryRequest::parse(raw).expect("request");
        let spec = request.spec(now());
        let route = plan(&spec, &[]);
        assert!(matches!(route, Plan::Rollup(_)), "{raw} should use a rollup");
        let rollup = store.query_with_plan(SCOPE, &spec, &[], route).await.expect("rollup");
        let raw_answer = store.query_with_plan(SCOPE, &spec, &[], Plan::Raw).await.expect("raw");
        let (a, b) = (
            shape(&request, &spec, rollup, Instant::now()),
            shape(&request, &spec, raw_answer, Instant::now()),
        );
        assert!(a.data.iter().any(|r| r.value.unwrap_or(0.0) > 0.0), "{raw}: no data");
        assert_eq!(
            a.data.iter().map(|r| (&r.bucket, &r.group, r.value)).collect::<Vec<_>>(),
            b.data.iter().map(|r| (&r.bucket, &r.group, r.value)).collect::<Vec<_>>(),
            "{raw}"
        );
    }

    // Starting again applies nothing.
    store.close().await;
    let again = ClickHouseStore::open(&url).await.expect("reopen");
    assert_eq!(migrate(&client).await.expect("migrate"), Vec::<u32>::new());
    assert_eq!(versions(&client).await.len(), MIGRATIONS.len());
    assert_eq!(again.count_org_events(SCOPE.org_id).await.expect("count"), 6_500);
    again.close().await;
}
