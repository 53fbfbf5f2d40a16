//! ClickHouse benchmarks: ingest through Emban's API against `clickhouse-client` inserting the
//! same rows directly (alternating, several rounds, fresh databases each), and rollup-planned
//! dashboard queries against the same queries on raw events. Needs a running ClickHouse:
//! `--http-url http://127.0.0.1:8123 --tcp-port 9000` (`scripts/bench_clickhouse.sh` starts one).
//!
//! The query data set is generated inside ClickHouse (`INSERT … SELECT … FROM numbers`) with the
//! same formulas as the ingested events ([`event`]), which loads 100M events in minutes rather than
//! the better part of an hour; the materialized views fill the rollups exactly as for API inserts.

use std::{
    io::Write,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, anyhow};
use chrono::{Duration, Utc};
use clap::Parser;
use contract::query::{Granularity, Metric};
use emban_bench::{
    http,
    stats::{ms_since, rate, ratio, upper_median},
};
use emban_host_server::{
    config::ServeArgs,
    events::{
        EventStore, NewEvent, QuerySpec, StoreScope,
        clickhouse::{
            ClickHouseClient, ClickHouseStore, ClickHouseUrl, Plan, encode_event, insert_columns, plan,
        },
    },
};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// ClickHouse HTTP base URL (no database).
    #[arg(long, default_value = "http://127.0.0.1:8123")]
    http_url: String,
    /// ClickHouse native port, for clickhouse-client.
    #[arg(long, default_value_t = 9000)]
    tcp_port: u16,
    /// Events for the ingest comparison (per round and path).
    #[arg(long, default_value_t = 1_000_000)]
    ingest_events: usize,
    /// Ingest rounds (each: clickhouse-client, then the API, into fresh databases).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent API clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Events per API request.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Events for the query comparison (0: skip it). An existing `bench_query` database with at
    /// least this many events is reused.
    #[arg(long, default_value_t = 100_000_000)]
    query_events: usize,
    /// Runs per query for the p50.
    #[arg(long, default_value_t = 15)]
    runs: usize,
}

fn event(i: usize) -> NewEvent {
    let models = ["gpt-4", "claude", "llama", "mistral"];
    let statuses = ["success", "success", "success", "error"];
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    NewEvent {
        tenant_id: format!("tenant-{}", h % 20),
        event_name: "api.call".to_owned(),
        timestamp: Utc::now() - Duration::seconds(((h >> 8) % (90 * 86_400)) as i64),
        event_id: format!("ev-{i}"),
        client_event_id: false,
        user_id: Some(format!("user-{}", (h >> 20) % 50_000)),
        string_props: vec![
            ("model".to_owned(), models[((h >> 30) % 4) as usize].to_owned()),
            ("status".to_owned(), statuses[((h >> 34) % 4) as usize].to_owned()),
        ],
        numeric_props: vec![("tokens".to_owned(), ((h >> 40) % 4000) as f64)],
    }
}

fn event_json(e: &NewEvent) -> Value {
    json!({
        "tenant_id": e.tenant_id, "event_name": e.event_name, "timestamp": e.timestamp.to_rfc3339(),
        "user_id": e.user_id,
        "string_props": e.string_props.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "numeric_props": e.numeric_props.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
    })
}

async fn ingest_api(args: &Args, database: &str) -> Result<f64> {
    let dir = std::env::temp_dir().join(format!("emban-bench-ch-{}", uuid::Uuid::new_v4().simple()));
    let mut serve = ServeArgs::for_data_dir(&dir);
    serve.events_url = Some(format!("{}/{database}", args.http_url));
    let server = emban_host_server::start(serve).await?;
    let http = http::client()?;
    let key = http::register(&http, &server.url()).await?;
    let bodies: Vec<Vec<u8>> = (0..args.ingest_events)
        .collect::<Vec<_>>()
        .chunks(args.batch)
        .map(|c| {
            serde_json::to_vec(
                &json!({"events": c.iter().map(|i| event_json(&event(*i))).collect::<Vec<_>>()}),
            )
        })
        .collect::<std::result::Result<_, _>>()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in bodies.chunks(bodies.len().div_ceil(args.clients).max(1)) {
        let (http, url, key, chunk) = (http.clone(), server.url(), key.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for body in chunk {
                let request = http
                    .post(format!("{url}/v1/events"))
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body);
                http::expect(request, 200, "ingest").await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rate = rate(args.ingest_events as u64, started.elapsed().as_secs_f64());
    server.stop().await?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(rate)
}

fn ingest_client(args: &Args, database: &str) -> Result<f64> {
    let scope = StoreScope { org_id: 1, env_id: 1 };
    let mut data = Vec::new();
    for i in 0..args.ingest_events {
        encode_event(scope, &event(i), &mut data);
    }
    let started = Instant::now();
    let mut child = Command::new("clickhouse-client")
        .args(["--port", &args.tcp_port.to_string(), "--database", database, "--query"])
        .arg(format!("INSERT INTO events ({}) FORMAT RowBinary", insert_columns()))
        .stdin(Stdio::piped())
        .spawn()
        .context("running clickhouse-client")?;
    child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?.write_all(&data)?;
    if !child.wait()?.success() {
        return Err(anyhow!("clickhouse-client failed"));
    }
    Ok(rate(args.ingest_events as u64, started.elapsed().as_secs_f64()))
}

/// The [`event`] formulas as ClickHouse SQL, for rows `offset..offset + n`.
fn generate_sql(offset: usize, n: usize) -> String {
    format!(
        "INSERT INTO events ({columns}) \
         SELECT toInt64(1), toInt64(1), concat('tenant-', toString(h % 20)), 'api.call', \
         toDateTime(toUInt32(now()) - (bitShiftRight(h, 8) % 7776000), 'UTC'), concat('ev-', toString(number)), \
         toUInt8(0), toNullable(concat('user-', toString(bitShiftRight(h, 20) % 50000))), \
         toNullable(['gpt-4', 'claude', 'llama', 'mistral'][bitShiftRight(h, 30) % 4 + 1]), NULL, \
         toNullable(['success', 'success', 'success', 'error'][bitShiftRight(h, 34) % 4 + 1]), NULL, NULL, \
         toNullable(toFloat64(bitShiftRight(h, 40) % 4000)), NULL, NULL, NULL, NULL, \
         CAST([] AS Array(String)), CAST([] AS Array(String)), CAST([] AS Array(String)), CAST([] AS Array(Float64)) \
         FROM (SELECT number, number * 11400714819323198485 AS h FROM system.numbers LIMIT {offset}, {n})",
        columns = insert_columns()
    )
}

async fn count(client: &ClickHouseClient, sql: &str) -> Result<u64> {
    let answer = client.select(sql, &[]).await?;
    answer
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        .ok_or_else(|| anyhow!("no count from {sql}"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.rounds > 0 {
        println!(
            "ingest: {} events per path and round, {} rounds; API: JSON, {} events/request, {} clients",
            args.ingest_events, args.rounds, args.batch, args.clients
        );
        println!("| round | clickhouse-client events/s | Emban API events/s | API / direct |");
        println!("|---|---|---|---|");
    }
    let admin = ClickHouseClient::new(ClickHouseUrl::parse(&format!("{}/default", args.http_url))?)?;
    // Every round gets fresh databases; all are dropped only after the last round (dropping
    // one's thousands of part files mid-run slowed the next round's inserts on this disk).
    let drop_all = |rounds: usize| {
        let admin = admin.clone();
        async move {
            for round in 1..=rounds.max(1) {
                for db in [format!("bench_direct_{round}"), format!("bench_api_{round}")] {
                    admin.execute(&format!("DROP DATABASE IF EXISTS {db}")).await?;
                }
            }
            tokio::time::sleep(std::time::Duration::from_secs(15)).await;
            Ok::<_, anyhow::Error>(())
        }
    };
    drop_all(args.rounds).await?;
    let (mut directs, mut apis, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=args.rounds {
        let (direct_db, api_db) = (format!("bench_direct_{round}"), format!("bench_api_{round}"));
        // Same schema (rollup views included) for both paths.
        ClickHouseStore::open(&format!("{}/{direct_db}", args.http_url)).await?.close().await;
        let direct = ingest_client(&args, &direct_db)?;
        let api = ingest_api(&args, &api_db).await?;
        let share = ratio(api, direct);
        println!("| {round} | {direct:.0} | {api:.0} | {:.0}% |", 100.0 * share);
        directs.push(direct);
        apis.push(api);
        ratios.push(share);
    }
    drop_all(args.rounds).await?;
    if args.rounds > 0 {
        println!(
            "| median | {:.0} | {:.0} | {:.0}% (goal: at least 50%) |",
            upper_median(&directs),
            upper_median(&apis),
            100.0 * upper_median(&ratios)
        );
    }
    if args.query_events == 0 {
        return Ok(());
    }

    let opened = Instant::now();
    let store = ClickHouseStore::open(&format!("{}/bench_query", args.http_url)).await?;
    println!("\nbench_query opened in {:.1}s (schema migrations included)", opened.elapsed().as_secs_f64());
    let scope = StoreScope { org_id: 1, env_id: 1 };
    let client = store.client().clone();
    let have = count(&client, "SELECT count() FROM events").await?;
    if have < args.query_events as u64 {
        client.execute("TRUNCATE TABLE events").await.ok();
        for (table, _, _) in emban_host_server::events::clickhouse::ROLLUPS {
            client.execute(&format!("TRUNCATE TABLE {table}")).await.ok();
        }
        let loaded_at = Instant::now();
        let mut i = 0;
        while i < args.query_events {
            let n = 10_000_000.min(args.query_events - i);
            client.execute(&generate_sql(i, n)).await?;
            i += n;
            println!("  loaded {i} events ({:.0}s)", loaded_at.elapsed().as_secs_f64());
        }
        println!(
            "\nquery: {} events generated in ClickHouse in {:.1}s ({:.0} events/s, rollups included)",
            args.query_events,
            loaded_at.elapsed().as_secs_f64(),
            rate(args.query_events as u64, loaded_at.elapsed().as_secs_f64())
        );
    } else {
        println!("\nquery: reusing bench_query's {have} events");
    }
    // Let background merges settle, as they would on a server that is not being bulk-loaded.
    let settle = Instant::now();
    while count(&client, "SELECT count() FROM system.merges").await? > 0 && settle.elapsed().as_secs() < 600 {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    for table in ["events", "events_hourly", "events_daily"] {
        let rows = count(&client, &format!("SELECT count() FROM {table}")).await?;
        let parts =
            count(&client, &format!("SELECT count() FROM system.parts WHERE active AND database = 'bench_query' AND table = '{table}'"))
                .await?;
        println!("  {table}: {rows} rows in {parts} active parts");
    }
    let tenant_rows = count(&client, "SELECT count() FROM events WHERE tenant_id = 'tenant-3'").await?;
    println!("  tenant-3 (the queried tenant, one of 20): {tenant_rows} events");
    let now = Utc::now();
    let window = |g: Granularity, days: i64| {
        emban_host_server::analytics::query::window(
            match days {
                1 => contract::query::Period::H24,
                7 => contract::query::Period::D7,
                90 => contract::query::Period::D90,
                _ => contract::query::Period::D30,
            },
            Some(g),
            now,
        )
    };
    let mut specs = Vec::new();
    for (metric, gran, days, group, filter) in [
        (Metric::Count, Granularity::Day, 30, None, None),
        (Metric::Count, Granularity::Day, 30, Some("model"), None),
        (Metric::Count, Granularity::Hour, 7, None, Some(("status", "error"))),
        (Metric::CountUniqueApprox, Granularity::Day, 30, None, None),
        (Metric::CountUniqueApprox, Granularity::Day, 30, Some("model"), None),
        (Metric::Count, Granularity::Week, 90, Some("status"), Some(("model", "gpt-4"))),
        (Metric::Count, Granularity::Hour, 1, Some("model"), None),
    ] {
        let (from, to) = window(gran, days);
        specs.push(QuerySpec {
            tenant_id: "tenant-3".to_owned(),
            event_name: "api.call".to_owned(),
            metric,
            numeric_prop: None,
            from,
            to,
            granularity: Some(gran),
            group_by: group.map(str::to_owned),
            filters: filter.map(|(k, v)| vec![(k.to_owned(), v.to_owned())]).unwrap_or_default(),
        });
    }
    println!("\n| query | planned_by | rollup p50 ms | raw p50 ms | speed-up |");
    println!("|---|---|---|---|---|");
    let (mut all_rollup, mut all_raw) = (Vec::new(), Vec::new());
    for spec in &specs {
        let route = plan(spec, &[]);
        let Plan::Rollup(index) = route else {
            return Err(anyhow!("{spec:?} is not rollup-planned"));
        };
        let (mut rollup, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..args.runs {
            let t = Instant::now();
            let a = store.query_with_plan(scope, spec, &[], route).await?;
            rollup.push(ms_since(t));
            let t = Instant::now();
            let b = store.query_with_plan(scope, spec, &[], Plan::Raw).await?;
            raw.push(ms_since(t));
            if a.rows.len() != b.rows.len() {
                return Err(anyhow!("rollup and raw disagree on {spec:?}"));
            }
        }
        all_rollup.extend(rollup.iter().copied());
        all_raw.extend(raw.iter().copied());
        let (r, w) = (upper_median(&rollup), upper_median(&raw));
        let name = emban_host_server::events::clickhouse::ROLLUPS.get(index).map_or("?", |(t, _, _)| *t);
        println!(
            "| {} by {:?}, {:.0}d{}{} | {name} | {r:.1} | {w:.1} | {:.1}x |",
            spec.metric,
            spec.granularity.unwrap_or(Granularity::Day),
            (spec.to - spec.from).num_hours() as f64 / 24.0,
            spec.group_by.as_deref().map(|g| format!(", group_by {g}")).unwrap_or_default(),
            spec.filters.iter().map(|(k, v)| format!(", f_{k}={v}")).collect::<String>(),
            ratio(w, r)
        );
    }
    let (r, w) = (upper_median(&all_rollup), upper_median(&all_raw));
    println!(
        "| all (p50 of every run) | | {r:.1} | {w:.1} | {:.1}x (goal: at least 10x, rollup p50 at most 50 ms) |",
        ratio(w, r)
    );
    store.close().await;
    Ok(())
}
