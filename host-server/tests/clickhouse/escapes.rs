//! Ad-hoc SQL cannot read outside the caller's org and environment, on DuckDB, on ClickHouse
//! 18.16 (the Debian server these tests start) and on a current ClickHouse (26.x, embedded by
//! PyPI's `chdb-core`, see `chdb_corpus.py`).
//!
//! The oracle: two stores hold the same rows of the caller's org; one also holds another org's.
//! Every attempt of the corpus must give the same answer (or the same refusal) on both, so no row
//! of the other org can come back, whatever the attempt does. The attempts in [`ESCAPES`] must
//! also be refused outright.

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use emban_host_server::{
    analytics::adhoc::{Catalog, function_allowed, restrict},
    events::{
        AdhocLimits, EventStore, SqlDialect, StoreScope,
        clickhouse::{ClickHouseStore, ScopedTable, table_filters},
        duckdb::DuckStore,
    },
};
use serde_json::{Value, json};

use crate::{
    parity::{OTHER, SCOPE, generate},
    server::{ClickHouse, TempDir},
};

/// Attempts that must be refused (by the rewrite, or failing that by the engine).
const ESCAPES: &[&str] = &[
    // Table functions.
    "SELECT * FROM numbers(10)",
    "SELECT * FROM file('/etc/passwd', 'TSV', 'line String')",
    "SELECT * FROM url('http://127.0.0.1:1/', 'TSV', 'x String')",
    "SELECT * FROM remote('127.0.0.1', default, events)",
    "SELECT * FROM merge(currentDatabase(), '^events')",
    "SELECT * FROM merge('escapes', '^events$')",
    "SELECT * FROM cluster('default', currentDatabase(), events)",
    "SELECT * FROM input('x String')",
    "SELECT * FROM view(SELECT * FROM events)",
    "SELECT * FROM generateRandom('x UInt8')",
    "SELECT * FROM values('x UInt8', 1)",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM generate_series(1, 10)",
    "SELECT * FROM query_table('events_s00')",
    "SELECT * FROM events e JOIN numbers(5) n ON 1 = 1",
    "SELECT * FROM (SELECT * FROM file('x'))",
    "SELECT * FROM UNNEST([1, 2])",
    "SELECT (SELECT count() FROM numbers(10))",
    "SELECT count() FROM events WHERE event_id IN (SELECT toString(number) FROM numbers(10))",
    "WITH n AS (SELECT * FROM numbers(3)) SELECT * FROM n",
    "SELECT * FROM events WHERE EXISTS (SELECT 1 FROM merge(currentDatabase(), 'events'))",
    // System tables and catalogs, also through aliases.
    "SELECT * FROM system.tables",
    "SELECT * FROM system.processes",
    "SELECT name FROM system.users",
    "SELECT * FROM system.one AS events",
    "SELECT * FROM system.tables AS t",
    "WITH t AS (SELECT * FROM system.tables) SELECT * FROM t",
    "SELECT * FROM events AS system",
    "SELECT * FROM (SELECT 1) AS information_schema",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_tables",
    "SELECT * FROM sqlite_master",
    "SELECT * FROM duckdb_tables",
    "SELECT * FROM main.events",
    "SELECT * FROM default.events",
    "SELECT * FROM escapes.events",
    "SELECT * FROM \"system\".\"tables\"",
    "SELECT * FROM `system`.`tables`",
    "SELECT (SELECT count() FROM system.tables)",
    "SELECT * FROM events WHERE event_name IN (SELECT name FROM system.tables)",
    // Other relations.
    "SELECT * FROM events_s00",
    "SELECT * FROM rollup_stage",
    "SELECT * FROM emban_migrations",
    "SELECT * FROM saved_queries",
    "SELECT * FROM events_hourly_mv",
    "SELECT * FROM events_daily_mv",
    // Dictionaries and joins by name.
    "SELECT dictGet('d', 'x', toUInt64(1))",
    "SELECT dictGetString('d', 'x', toUInt64(1))",
    "SELECT dictHas('d', toUInt64(1))",
    "SELECT * FROM dictionary('d')",
    "SELECT joinGet('j', 'x', 1)",
    "SELECT joinGetOrNull('j', 'x', 1)",
    "SELECT hasColumnInTable('system', 'tables', 'name')",
    // Settings, formats, output.
    "SELECT * FROM events SETTINGS readonly = 0",
    "SELECT * FROM events SETTINGS max_execution_time = 100000",
    "SELECT * FROM events SETTINGS additional_table_filters = {'events': '1'}",
    "SELECT * FROM events FORMAT TSV",
    "SELECT * FROM events FORMAT Native",
    "SELECT * FROM events INTO OUTFILE '/tmp/x'",
    "SELECT * INTO copy_of_events FROM events",
    "SET readonly = 0",
    "SET enable_external_access = true",
    "SELECT getSetting('readonly')",
    "SELECT current_setting('threads')",
    // Multiple statements, writes, DDL, also inside CTEs.
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE events",
    "SELECT 1;; DELETE FROM events",
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
    "WITH x AS (SELECT * FROM x) SELECT * FROM x",
    "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",
    "WITH a AS (SELECT 1), a AS (SELECT 2) SELECT * FROM a",
    "WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT * FROM r) SELECT * FROM r",
    "TABLE events",
    "SELECT * FROM events FOR UPDATE",
    // Functions outside the allowlist: state, stalls, files, builders of huge values.
    "SELECT getenv('HOME')",
    "SELECT sleep(3)",
    "SELECT sleepEachRow(1) FROM events",
    "SELECT throwIf(1)",
    "SELECT currentDatabase()",
    "SELECT currentUser()",
    "SELECT version()",
    "SELECT system.fn(1)",
    "SELECT range(100000000)",
    "SELECT len(range(2000000000))",
    "SELECT list_sum(range(1000000000))",
    "SELECT repeat('x', 1000000000)",
    "SELECT arrayWithConstant(1000000000, 1)",
    "SELECT lpad('x', 1000000000, 'y')",
    "SELECT leftPad('x', 1000000000, 'y')",
    "SELECT printf('%1000000000d', 1)",
    "SELECT randomString(1000000000)",
    "SELECT arrayReduce('max', [1, 2])",
    "SELECT initializeAggregation('uniqState', 1)",
    // IN by name, and the function forms of IN.
    "SELECT count() FROM events WHERE event_name IN (events)",
    "SELECT count() FROM events WHERE event_name IN (events_hourly_mv)",
    "SELECT count() FROM events WHERE globalIn(event_name, events)",
    "SELECT count() FROM events WHERE nullIn(event_name, events_hourly_mv)",
    "SELECT count() FROM events WHERE notIn(event_name, events_daily)",
    "SELECT count() FROM events WHERE `in`(event_name, events)",
    "SELECT count() FROM events WHERE \"in\"(event_name, events)",
    "SELECT count() FROM events WHERE globalNotIn(event_name, events)",
    "SELECT count() FROM events WHERE notNullIn(event_name, events)",
    "SELECT count() FROM events WHERE globalNullIn(event_name, events)",
    "SELECT count() FROM events WHERE globalNotNullIn(event_name, events)",
    "SELECT count() FROM events WHERE IN(event_name, events)",
    "SELECT count(events_hourly_mv) FROM events",
    "SELECT toString(events_daily) FROM events",
    // Comments and unicode tricks.
    "SELECT * FROM events /* */ ; SELECT * FROM system.tables",
    "SELECT * FROM events -- comment\n; DROP TABLE events",
    "SELECT * FROM sys/**/tem.tables",
    "SELECT * FROM system . tables",
    "SELECT * FROM ｓｙｓｔｅｍ.tables",
    "SELECT * FROM eve\u{200b}nts",
    "SELECT * FROM \"events\u{0}\"",
    "SELECT * FROM \"events \"",
    "SELECT * FROM `events_hourly_mv\u{200b}`",
    "SELECT '\\' , (SELECT name FROM system.tables) --' FROM system.tables",
    "SELECT * FROM `events` AS e, `sys\\`tem`.tables",
    "SELECT E'\\x41'",
    "SELECT $$x$$",
    "",
    "   ",
    "-- only a comment",
];

/// CTE self-references in every quoting style and case: each CTE name is a real relation, so
/// each is refused; the quoted `events_hourly_mv` one read every org's rollups before.
fn shadowing() -> Vec<String> {
    let mut out = Vec::new();
    for name in
        ["events_hourly_mv", "events_daily_mv", "events_hourly", "events_daily", "events", "Events_S00"]
    {
        for quoted in [name.to_owned(), format!("\"{name}\""), format!("`{name}`"), name.to_uppercase()] {
            out.push(format!("WITH {name} AS (SELECT * FROM {quoted}) SELECT count() FROM {name}"));
        }
        if name != "events" {
            out.push(format!("WITH x AS (SELECT 1) SELECT * FROM events AS {name}"));
            out.push(format!("SELECT * FROM events AS `{name}` JOIN events AS e2 ON 1 = 0"));
        }
        out.push(format!("SELECT * FROM (SELECT * FROM events) AS \"{name}\""));
    }
    out
}

/// Queries that may run: each must agree between the two stores.
const PROBES: &[&str] = &[
    "SELECT count(*) AS n FROM events",
    "SELECT count(*) FROM events WHERE org_id = 2",
    "SELECT count(*) FROM events WHERE org_id <> 1 OR 1 = 1 AND org_id = 2",
    "SELECT count(*) FROM events e WHERE e.env_id = 2",
    "SELECT count(*) FROM (SELECT * FROM events) AS t WHERE t.org_id = 2",
    "WITH x AS (SELECT * FROM events) SELECT count(*) FROM x WHERE org_id = 2",
    "WITH x AS (SELECT * FROM \"events\") SELECT count(*) FROM x",
    "WITH x AS (SELECT * FROM `events`) SELECT count(*) FROM x",
    "SELECT count(*) FROM events a JOIN events b ON a.event_id = b.event_id WHERE b.org_id = 2",
    "SELECT count(*) FROM events WHERE org_id = 2 UNION ALL SELECT count(*) FROM events WHERE org_id = 2",
    "SELECT count(*) FROM EVENTS WHERE org_id = 2",
    "SELECT count(*) FROM \"events\"",
    "SELECT count(*) FROM `events`",
    "SELECT org_id, env_id, count(*) FROM events GROUP BY org_id, env_id",
    "SELECT count(*) FROM events WHERE event_name IN (SELECT event_name FROM events WHERE org_id = 2)",
    "SELECT (SELECT count(*) FROM events) AS n",
    "SELECT count(*) FROM events WHERE EXISTS (SELECT 1 FROM events AS o WHERE o.org_id = 2)",
    "SELECT tenant_id, count(*) FROM events GROUP BY tenant_id ORDER BY tenant_id",
    "SELECT count(*) FROM events_hourly",
    "SELECT org_id, count(*) FROM events_daily GROUP BY org_id",
    "WITH h AS (SELECT * FROM events_hourly) SELECT count(*) FROM h WHERE org_id = 2",
    "SELECT count(*) FROM events WHERE org_id IN (1, 2)",
    "SELECT max(org_id), min(org_id) FROM events",
    "SELECT count(*) FROM events /* org_id = 2 */ WHERE 1 = 1",
    "SELECT count(*) FROM events AS events WHERE org_id = 2",
];

fn limits() -> AdhocLimits {
    AdhocLimits { max_rows: 100, max_bytes: 1 << 20, timeout: std::time::Duration::from_secs(5) }
}

/// Rows as sorted text, so answers compare whatever order the engine chose.
fn canonical(rows: &[Vec<Value>]) -> Vec<String> {
    let mut out: Vec<String> = rows.iter().map(|r| serde_json::to_string(r).unwrap_or_default()).collect();
    out.sort();
    out
}

#[derive(Default, Debug)]
struct Tally {
    attempts: usize,
    refused_by_guard: usize,
    refused_by_engine: usize,
    ran: usize,
}

/// Runs every attempt on both stores; panics on any difference. Returns the tally and the
/// rewritten statements (for the current-ClickHouse run).
async fn run_corpus(
    two: &dyn EventStore,
    own: &dyn EventStore,
    dialect: SqlDialect,
    catalog: &Catalog,
    escapes: &[String],
    probes: &[String],
) -> (Tally, Vec<(String, String)>) {
    let mut tally = Tally::default();
    let mut rewritten = Vec::new();
    for (sql, must_refuse) in escapes.iter().map(|s| (s, true)).chain(probes.iter().map(|s| (s, false))) {
        tally.attempts += 1;
        let Ok(statement) = restrict(sql, dialect, SCOPE, catalog) else {
            // Probes may be refused too (e.g. a quoting style the dialect does not have).
            tally.refused_by_guard += 1;
            continue;
        };
        rewritten.push((sql.clone(), statement.clone()));
        let a = two.adhoc(SCOPE, statement.clone(), limits()).await;
        let b = own.adhoc(SCOPE, statement.clone(), limits()).await;
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert!(!must_refuse, "{dialect:?} ran an escape attempt: {sql:?} -> {statement}");
                assert_eq!(
                    canonical(&a.rows),
                    canonical(&b.rows),
                    "{dialect:?} leaked: {sql} -> {statement}"
                );
                tally.ran += 1;
            }
            (Err(_), Err(_)) => tally.refused_by_engine += 1,
            (a, b) => {
                panic!("{dialect:?} answered differently with another org present: {sql}: {a:?} vs {b:?}")
            }
        }
    }
    // The oracle is only as good as the probes that ran through it.
    assert!(tally.ran >= 15, "{dialect:?}: only {} probes ran: {tally:?}", tally.ran);
    (tally, rewritten)
}

fn corpus() -> (Vec<String>, Vec<String>) {
    let mut escapes: Vec<String> = ESCAPES.iter().map(|s| (*s).to_owned()).collect();
    escapes.extend(shadowing());
    (escapes, PROBES.iter().map(|s| (*s).to_owned()).collect())
}

async fn load_scopes(store: &dyn EventStore, with_other: bool) {
    let mut sets = vec![(SCOPE, "acme", 7), (SCOPE, "globex", 8)];
    if with_other {
        sets.push((OTHER, "acme", 9));
        sets.push((StoreScope { org_id: SCOPE.org_id, env_id: 2 }, "acme", 10));
    }
    for (scope, tenant, seed) in sets {
        for chunk in generate(3_000, seed, tenant).chunks(3_000) {
            store.insert(scope, chunk.to_vec()).await.expect("insert");
        }
    }
}

/// The engine's catalog, checked to hold `must` (read from the engine, not our list).
async fn catalog_of(store: &dyn EventStore, must: &[&str]) -> Catalog {
    let names = store.catalog().await.expect("catalog");
    for must in must {
        assert!(names.iter().any(|n| n == must), "{must} not in {names:?}");
    }
    Catalog::new(names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adhoc_reads_only_the_callers_org_on_every_engine() {
    let (escapes, probes) = corpus();
    assert!(escapes.len() + probes.len() >= 100, "{} attempts", escapes.len() + probes.len());
    let dir = TempDir::new("emban-escapes");

    // DuckDB.
    let duck_two = DuckStore::open_with(&dir.path().join("two.duckdb"), "512MB", true).expect("duckdb");
    let duck_own = DuckStore::open_with(&dir.path().join("own.duckdb"), "512MB", true).expect("duckdb");
    load_scopes(&duck_two, true).await;
    load_scopes(&duck_own, false).await;
    let catalog =
        catalog_of(&duck_two, &["events", "events_s00", "events_daily", "rollup_stage", "duckdb_tables"])
            .await;
    let (duck, _) = run_corpus(&duck_two, &duck_own, SqlDialect::DuckDb, &catalog, &escapes, &probes).await;

    // ClickHouse 18.16.
    let ch = ClickHouse::start();
    let two = ClickHouseStore::open(&ch.url("escapes")).await.expect("clickhouse");
    let own = ClickHouseStore::open(&ch.url("escapes_own")).await.expect("clickhouse");
    load_scopes(&two, true).await;
    load_scopes(&own, false).await;
    for store in [&two, &own] {
        for t in ["events_hourly", "events_daily"] {
            store.client().execute(&format!("OPTIMIZE TABLE {t} FINAL")).await.expect("optimize");
        }
    }
    let catalog =
        catalog_of(&two, &["events", "events_hourly_mv", "events_daily_mv", "emban_migrations"]).await;
    let (click, rewritten) =
        run_corpus(&two, &own, SqlDialect::ClickHouse, &catalog, &escapes, &probes).await;
    eprintln!(
        "escape corpus: {} attempts; DuckDB {duck:?}; ClickHouse {} {click:?}",
        duck.attempts,
        two.version()
    );
    assert!(
        two.engine_filter_tables().await.expect("probe").is_none(),
        "18.16 has no additional_table_filters"
    );

    // Current ClickHouse (chdb): the same data, the rewritten statements, and the engine's own
    // filters on the raw attempts.
    let fixture = chdb_fixture(&two, &own, &rewritten, &escapes, &probes).await;
    let path = dir.path().join("chdb-fixture.json");
    std::fs::write(&path, serde_json::to_vec(&fixture).expect("json")).expect("fixture");
    let summary = run_chdb(&path);
    eprintln!("current ClickHouse: {summary}");
    assert_eq!(summary["leaks"], json!(0), "{summary}");
    assert!(summary["engine_filter_effective"].as_bool().unwrap_or(false), "{summary}");
    assert!(summary["rewritten_ran"].as_u64().unwrap_or(0) >= 20, "{summary}");

    duck_two.close().await;
    duck_own.close().await;
    two.close().await;
    own.close().await;
}

/// Everything `chdb_corpus.py` needs: DDL and rows of both databases, the rewritten statements,
/// the raw attempts, and the engine filters our server would send.
async fn chdb_fixture(
    two: &ClickHouseStore,
    own: &ClickHouseStore,
    rewritten: &[(String, String)],
    escapes: &[String],
    probes: &[String],
) -> Value {
    let mut databases = BTreeMap::new();
    for (name, store) in [("escapes", two), ("escapes_own", own)] {
        let client = store.client();
        let mut ddl = Vec::new();
        for table in ["events", "events_hourly", "events_daily", "events_hourly_mv", "events_daily_mv"] {
            let answer = client.select(&format!("SHOW CREATE TABLE {table}"), &[]).await.expect("ddl");
            ddl.push(answer.rows[0][0].clone());
        }
        let rows = client.select("SELECT * FROM events", &[]).await.expect("rows");
        let columns: Vec<String> = rows.columns.iter().map(|(n, _)| n.clone()).collect();
        let tables = [
            ("events", true, true),
            ("events_hourly", true, true),
            ("events_daily", true, true),
            ("events_hourly_mv", true, true),
            ("events_daily_mv", true, true),
            ("emban_migrations", false, false),
        ]
        .map(|(name, org, env)| ScopedTable { name: name.to_owned(), org, env });
        databases.insert(
            name,
            json!({
                "ddl": ddl,
                "columns": columns,
                "rows": rows.rows,
                "filters": table_filters(name, &tables, SCOPE),
            }),
        );
    }
    json!({
        "databases": databases,
        "rewritten": rewritten.iter().map(|(raw, sql)| json!({"raw": raw, "sql": sql})).collect::<Vec<_>>(),
        "raw": escapes.iter().chain(probes).collect::<Vec<_>>(),
    })
}

/// The Python of the chdb venv (`setup_chdb` in scripts/setup.sh).
fn chdb_python() -> PathBuf {
    std::env::var_os("EMBAN_CHDB_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/emban-tools/chdb-venv/bin/python")
    })
}

fn run_chdb(fixture: &std::path::Path) -> Value {
    let python = chdb_python();
    assert!(python.exists(), "{} is missing: run `source scripts/setup.sh && setup_chdb`", python.display());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clickhouse/chdb_corpus.py");
    let out = Command::new(&python).arg(script).arg(fixture).output().expect("running chdb_corpus.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let kept = std::env::temp_dir().join("emban-chdb-fixture-failed.json");
        let _ = std::fs::copy(fixture, &kept);
        panic!(
            "chdb_corpus.py failed ({}); fixture kept at {}:\n{stdout}\n{}",
            out.status,
            kept.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("summary JSON")
}

/// Every function the engine knows that is not on the allowlist is refused.
fn assert_outside_refused(dialect: SqlDialect, names: &[String], engine: &str) -> (usize, usize) {
    let catalog = Catalog::default();
    let mut allowed = 0;
    for name in names {
        if function_allowed(dialect, name) {
            allowed += 1;
            continue;
        }
        let quoted = match dialect {
            SqlDialect::DuckDb => format!("\"{}\"", name.replace('"', "\"\"")),
            SqlDialect::ClickHouse => format!("`{}`", name.replace('`', "``")),
        };
        for sql in [
            format!("SELECT {quoted}(event_name) FROM events"),
            format!("SELECT {quoted}() FROM events"),
            format!("SELECT * FROM events WHERE {quoted}(event_name, events)"),
        ] {
            assert!(
                restrict(&sql, dialect, SCOPE, &catalog).is_err(),
                "{engine}: {name} is not allowlisted but {sql} passed"
            );
        }
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            let sql = format!("SELECT {name}(event_name) FROM events");
            assert!(restrict(&sql, dialect, SCOPE, &catalog).is_err(), "{engine}: {sql} passed");
        }
    }
    eprintln!(
        "{engine}: {} functions known, {allowed} allowlisted, {} refused",
        names.len(),
        names.len() - allowed
    );
    (names.len(), allowed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_outside_the_allowlist_is_refused() {
    let dir = TempDir::new("emban-functions");
    let duck = DuckStore::open(&dir.path().join("f.duckdb"), "512MB").expect("duckdb");
    let sql = "SELECT DISTINCT function_name FROM duckdb_functions() ORDER BY 1";
    let answer = duck
        .adhoc(SCOPE, sql.to_owned(), AdhocLimits { max_rows: 100_000, max_bytes: 1 << 26, ..limits() })
        .await
        .expect("duckdb_functions");
    let names: Vec<String> = answer.rows.iter().filter_map(|r| r[0].as_str().map(str::to_owned)).collect();
    let (known, _) = assert_outside_refused(SqlDialect::DuckDb, &names, "DuckDB");
    assert!(known > 300, "{known}");

    let ch = ClickHouse::start();
    let click = ClickHouseStore::open(&ch.url("functions")).await.expect("clickhouse");
    let answer = click.client().select("SELECT name FROM system.functions", &[]).await.expect("functions");
    let names: Vec<String> = answer.rows.iter().filter_map(|r| r[0].as_str().map(str::to_owned)).collect();
    let (known, _) = assert_outside_refused(SqlDialect::ClickHouse, &names, "ClickHouse 18.16");
    assert!(known > 300, "{known}");

    // The current release's list, from chdb.
    let out = Command::new(chdb_python())
        .args(["-c", "import chdb, json; print(json.dumps([r[0] for r in json.loads(str(chdb.query('SELECT name FROM system.functions', 'JSONCompact')))['data']]))"])
        .output()
        .expect("chdb");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let names: Vec<String> = serde_json::from_slice(&out.stdout).expect("names");
    let (known, _) = assert_outside_refused(SqlDialect::ClickHouse, &names, "ClickHouse 26.x (chdb)");
    assert!(known > 1000, "{known}");
    duck.close().await;
    click.close().await;
}

/// ClickHouse's own limits hold for ad-hoc SQL: a query that needs more memory than
/// `max_memory_usage` is a 413 (not a 500, not a server running out of memory), and an answer
/// over the byte cap is cut and marked truncated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_memory_and_byte_limits_hold_for_adhoc_sql() {
    let ch = ClickHouse::start();
    let store = ClickHouseStore::open(&ch.url("limits")).await.expect("clickhouse");
    load_scopes(&store, false).await;
    let catalog = catalog_of(&store, &["events"]).await;
    let run = |sql: &str, max_bytes: usize| {
        let statement = restrict(sql, SqlDialect::ClickHouse, SCOPE, &catalog).expect("allowed");
        let store = &store;
        async move {
            store
                .adhoc(
                    SCOPE,
                    statement,
                    AdhocLimits { max_rows: 10_000, max_bytes, timeout: std::time::Duration::from_secs(10) },
                )
                .await
        }
    };
    // 6,000² pairs of 36-character ids in one array: far over 1 GiB.
    let heavy = run(
        "SELECT length(groupArray(concat(a.event_id, b.event_id))) FROM events a CROSS JOIN events b",
        1 << 20,
    );
    match heavy.await {
        Err(emban_host_server::error::AppError::TooLarge(message)) => {
            assert!(message.starts_with("sql:"), "{message}");
            eprintln!("over max_memory_usage: 413 {message:.120}");
        }
        other => panic!("expected a 413 over the memory limit, got {other:?}"),
    }
    let capped = run("SELECT event_id, tenant_id, event_name FROM events", 20_000).await.expect("runs");
    assert!(capped.truncated, "over the byte cap");
    let bytes: usize = capped.rows.iter().map(|r| serde_json::to_vec(r).expect("json").len()).sum();
    assert!(bytes <= 20_000 && !capped.rows.is_empty(), "{bytes} bytes in {} rows", capped.rows.len());
    store.close().await;
}
