//! Ad-hoc SQL: at least 50 escape attempts, each refused on both backends, and proof that what
//! does run sees only the caller's org and environment.

use emban_host_server::{
    adhoc::restrict,
    events::{
        AdhocLimits, AdhocResult, EventStore, SqlDialect, clickhouse::ClickHouseStore, duckdb::DuckStore,
    },
};

use crate::{
    parity::{OTHER, SCOPE, load},
    server::{ClickHouse, TempDir},
};

const ESCAPES: &[&str] = &[
    // Table functions.
    "SELECT * FROM numbers(10)",
    "SELECT * FROM file('/etc/passwd', 'TSV', 'line String')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'TSV', 'x String')",
    "SELECT * FROM remote('127.0.0.1', default, events)",
    "SELECT * FROM merge(currentDatabase(), '^events')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM generate_series(1, 10)",
    "SELECT * FROM events e JOIN numbers(5) n ON 1 = 1",
    "SELECT * FROM (SELECT * FROM file('x'))",
    "SELECT * FROM UNNEST([1, 2])",
    // System tables and catalogs.
    "SELECT * FROM system.tables",
    "SELECT * FROM system.processes",
    "SELECT name FROM system.users",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_tables",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM main.events",
    "SELECT * FROM default.events",
    "SELECT * FROM parity.events",
    "SELECT * FROM \"system\".\"tables\"",
    "SELECT * FROM `system`.`tables`",
    "SELECT (SELECT count() FROM system.tables)",
    "SELECT * FROM events WHERE event_name IN (SELECT name FROM system.tables)",
    // Other tables.
    "SELECT * FROM events_raw",
    "SELECT * FROM saved_queries",
    "SELECT * FROM events_hourly_mv",
    // Settings, format, output.
    "SELECT * FROM events SETTINGS readonly = 0",
    "SELECT * FROM events SETTINGS max_execution_time = 100000",
    "SELECT * FROM events FORMAT TSV",
    "SELECT * FROM events INTO OUTFILE '/tmp/x'",
    "SELECT * INTO copy_of_events FROM events",
    "SET readonly = 0",
    "SET enable_external_access = true",
    // Multiple statements.
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE events",
    "SELECT 1;; DELETE FROM events",
    // Writes and DDL, also inside CTEs.
    "DROP TABLE events",
    "TRUNCATE TABLE events",
    "INSERT INTO events SELECT * FROM events",
    "DELETE FROM events WHERE 1 = 1",
    "UPDATE events SET tenant_id = 'x'",
    "ALTER TABLE events DELETE WHERE 1 = 1",
    "CREATE TABLE x AS SELECT * FROM events",
    "ATTACH DATABASE 'x.db' AS x",
    "COPY events TO '/tmp/x.csv'",
    "PRAGMA database_list",
    "WITH x AS (DELETE FROM events RETURNING *) SELECT * FROM x",
    "WITH x AS (INSERT INTO events SELECT * FROM events RETURNING *) SELECT 1",
    "WITH x AS (SELECT * FROM system.tables) SELECT * FROM x",
    "WITH events AS (SELECT 1) SELECT * FROM events",
    "WITH x AS (SELECT * FROM x) SELECT * FROM x",
    "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",
    "WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT * FROM r) SELECT * FROM r",
    "TABLE events",
    "SELECT * FROM events FOR UPDATE",
    // Dangerous functions.
    "SELECT dictGet('d', 'x', toUInt64(1))",
    "SELECT joinGet('j', 'x', 1)",
    "SELECT getSetting('readonly')",
    "SELECT current_setting('threads')",
    "SELECT getenv('HOME')",
    "SELECT sleep(3)",
    "SELECT hasColumnInTable('system', 'tables', 'name')",
    "SELECT system.fn(1)",
    "SELECT count() FROM events WHERE event_name IN (events)",
    // Comments and unicode tricks.
    "SELECT * FROM events /* */ ; SELECT * FROM system.tables",
    "SELECT * FROM events -- comment\n; DROP TABLE events",
    "SELECT * FROM sys/**/tem.tables",
    "SELECT * FROM system . tables",
    "SELECT * FROM ｓｙｓｔｅｍ.tables",
    "SELECT * FROM eve\u{200b}nts",
    "SELECT * FROM \"events\u{0}\"",
    "SELECT '\\' , (SELECT name FROM system.tables) --' FROM system.tables",
    "SELECT * FROM `events` AS e, `sys\\`tem`.tables",
    "SELECT E'\\x41'",
    "SELECT $$x$$",
    "",
    "   ",
    "-- only a comment",
];

async fn attempt(store: &dyn EventStore, dialect: SqlDialect, sql: &str) -> Result<AdhocResult, String> {
    let rewritten = restrict(sql, dialect, SCOPE).map_err(|e| e.to_string())?;
    store
        .adhoc(rewritten, AdhocLimits { max_rows: 100, timeout: std::time::Duration::from_secs(5) })
        .await
        .map_err(|e| e.to_string())
}

async fn check_backend(store: &dyn EventStore, dialect: SqlDialect) {
    assert!(ESCAPES.len() >= 50, "{} attempts", ESCAPES.len());
    for sql in ESCAPES {
        let outcome = attempt(store, dialect, sql).await;
        assert!(outcome.is_err(), "{dialect:?} ran an escape attempt: {sql:?} -> {outcome:?}");
    }

    // Reading another org's rows: the queries run, but only ever see the caller's scope.
    let own = attempt(store, dialect, "SELECT count(*) AS n FROM events").await.expect("count");
    let own_n = own.rows[0][0].to_string().trim_matches('"').parse::<u64>().expect("n");
    assert_eq!(own_n, 24_000, "{dialect:?}");
    for sql in [
        "SELECT count(*) FROM events WHERE org_id = 2",
        "SELECT count(*) FROM events WHERE org_id <> 1 OR 1 = 1 AND org_id = 2",
        "SELECT count(*) FROM events e WHERE e.env_id = 2",
        "SELECT count(*) FROM (SELECT * FROM events) AS t WHERE t.org_id = 2",
        "WITH x AS (SELECT * FROM events) SELECT count(*) FROM x WHERE org_id = 2",
        "SELECT count(*) FROM events a JOIN events b ON a.event_id = b.event_id WHERE b.org_id = 2",
        "SELECT count(*) FROM events WHERE org_id = 2 UNION ALL SELECT count(*) FROM events WHERE org_id = 2",
        "SELECT count(*) FROM EVENTS WHERE org_id = 2",
    ] {
        match attempt(store, dialect, sql).await {
            Ok(result) => {
                for row in &result.rows {
                    assert_eq!(
                        row[0].to_string().trim_matches('"'),
                        "0",
                        "{dialect:?} leaked another org: {sql}"
                    );
                }
            }
            // Refusing is fine too (e.g. ClickHouse names are case-sensitive).
            Err(e) => assert!(e.starts_with("sql:"), "{sql}: {e}"),
        }
    }

    // A quote-escaping trick reads as one harmless string literal on both sides of the rewrite.
    if let Ok(result) = attempt(store, dialect, "SELECT '\\' , (SELECT name FROM system.tables) --'").await {
        assert_eq!(result.rows.len(), 1, "{dialect:?}");
        assert!(result.rows[0].iter().all(|v| v.is_string()), "{dialect:?}: {result:?}");
    }

    // Row limit and `truncated`.
    let capped = attempt(store, dialect, "SELECT event_id FROM events").await.expect("rows");
    assert_eq!(capped.rows.len(), 100);
    assert!(capped.truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adhoc_escapes_are_refused_on_both_backends() {
    let ch = ClickHouse::start();
    let dir = TempDir::new("emban-escapes");
    let duck = DuckStore::open(&dir.path().join("events.duckdb"), "512MB").expect("duckdb");
    let click = ClickHouseStore::open(&ch.url("escapes")).await.expect("clickhouse");
    load(&duck).await;
    load(&click).await;
    assert_eq!(OTHER.org_id, 2);
    check_backend(&duck, SqlDialect::DuckDb).await;
    check_backend(&click, SqlDialect::ClickHouse).await;
    // The store stays writable and intact after every attempt.
    assert_eq!(duck.count_org_events(1).await.expect("n"), 24_000);
    assert_eq!(click.count_org_events(1).await.expect("n"), 24_000);
    duck.close().await;
    click.close().await;
}
