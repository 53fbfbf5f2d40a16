//! ClickHouse benchmarks: ingest through Emban's API against `clickhouse-client` inserting the
//! same rows directly, and rollup-planned dashboard queries against the same queries on raw
//! events. Needs a running ClickHouse: `--http-url http://127.0.0.1:8123 --tcp-port 9000`.

use std::{
    io::Write,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context, Result, anyhow};
use chrono::{Duration, Utc};
use clap::Parser;
use contract::query::{Granularity, Metric};
use emban_host_server::{
    config::ServeArgs,
    events::{
        EventStore, NewEvent, QuerySpec, StoreScope,
        clickhouse::{ClickHouseStore, Plan, encode_event, insert_columns, plan},
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
    /// Events for the ingest comparison.
    #[arg(long, default_value_t = 500_000)]
    ingest_events: usize,
    /// Events for the query comparison.
    #[arg(long, default_value_t = 5_000_000)]
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

async fn ingest_api(args: &Args) -> Result<f64> {
    let dir = std::env::temp_dir().join(format!("emban-bench-ch-{}", uuid::Uuid::new_v4().simple()));
    let mut serve = ServeArgs::for_data_dir(&dir);
    serve.events_url = Some(format!("{}/bench_api", args.http_url));
    let server = emban_host_server::start(serve).await?;
    let http = reqwest::Client::new();
    let registered: Value = http
        .post(format!("{}/v1/auth/register", server.url()))
        .json(&json!({"email": "bench@example.com", "password": "benchmark password"}))
        .send()
        .await?
        .json()
        .await?;
    let key = registered["api_key"]["key"].as_str().ok_or_else(|| anyhow!("no key"))?.to_owned();
    let bodies: Vec<Vec<u8>> = (0..args.ingest_events)
        .collect::<Vec<_>>()
        .chunks(10_000)
        .map(|c| {
            serde_json::to_vec(
                &json!({"events": c.iter().map(|i| event_json(&event(*i))).collect::<Vec<_>>()}),
            )
        })
        .collect::<std::result::Result<_, _>>()?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in bodies.chunks(bodies.len().div_ceil(4).max(1)) {
        let (http, url, key, chunk) = (http.clone(), server.url(), key.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for body in chunk {
                let r = http
                    .post(format!("{url}/v1/events"))
                    .bearer_auth(&key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                if !r.status().is_success() {
                    return Err(anyhow!("ingest failed: {}", r.text().await?));
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let rate = args.ingest_events as f64 / started.elapsed().as_secs_f64();
    server.stop().await?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(rate)
}

fn ingest_client(args: &Args) -> Result<f64> {
    let scope = StoreScope { org_id: 1, env_id: 1 };
    let mut data = Vec::new();
    for i in 0..args.ingest_events {
        encode_event(scope, &event(i), &mut data);
    }
    let started = Instant::now();
    let mut child = Command::new("clickhouse-client")
        .args(["--port", &args.tcp_port.to_string(), "--database", "bench_direct", "--query"])
        .arg(format!("INSERT INTO events ({}) FORMAT RowBinary", insert_columns()))
        .stdin(Stdio::piped())
        .spawn()
        .context("running clickhouse-client")?;
    child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?.write_all(&data)?;
    if !child.wait()?.success() {
        return Err(anyhow!("clickhouse-client failed"));
    }
    Ok(args.ingest_events as f64 / started.elapsed().as_secs_f64())
}

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // Both ingest targets get the same schema (rollup views included).
    ClickHouseStore::open(&format!("{}/bench_direct", args.http_url)).await?.close().await;
    let direct = ingest_client(&args)?;
    let api = ingest_api(&args).await?;
    println!("ingest: {} events", args.ingest_events);
    println!("  clickhouse-client RowBinary: {direct:.0} events/s");
    println!(
        "  Emban API (JSON, 10k/request, 4 clients): {api:.0} events/s ({:.0}% of direct)",
        100.0 * api / direct
    );

    let store = ClickHouseStore::open(&format!("{}/bench_query", args.http_url)).await?;
    let scope = StoreScope { org_id: 1, env_id: 1 };
    let loaded_at = Instant::now();
    let mut i = 0;
    while i < args.query_events {
        let n = 250_000.min(args.query_events - i);
        store.insert(scope, (i..i + n).map(event).collect()).await?;
        i += n;
    }
    println!("\nquery: {} events loaded in {:.1}s", args.query_events, loaded_at.elapsed().as_secs_f64());
    let now = Utc::now();
    let window = |g: Granularity, days: i64| {
        let (from, to) = emban_host_server::query::window(
            match days {
                1 => contract::query::Period::H24,
                7 => contract::query::Period::D7,
                _ => contract::query::Period::D30,
            },
            Some(g),
            now,
        );
        (from, to)
    };
    let mut specs = Vec::new();
    for (metric, gran, days, group, filter) in [
        (Metric::Count, Granularity::Day, 30, None, None),
        (Metric::Count, Granularity::Day, 30, Some("model"), None),
        (Metric::Count, Granularity::Hour, 7, None, Some(("status", "error"))),
        (Metric::CountUniqueApprox, Granularity::Day, 30, None, None),
        (Metric::Count, Granularity::Week, 30, Some("status"), Some(("model", "gpt-4"))),
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
    println!("| query | planned_by | rollup p50 ms | raw p50 ms | speed-up |");
    println!("|---|---|---|---|---|");
    let (mut all_rollup, mut all_raw) = (Vec::new(), Vec::new());
    for spec in &specs {
        let route = plan(spec, &[]);
        let (mut rollup, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..args.runs {
            let t = Instant::now();
            let a = store.query_with_plan(scope, spec, &[], route).await?;
            rollup.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let b = store.query_with_plan(scope, spec, &[], Plan::Raw).await?;
            raw.push(t.elapsed().as_secs_f64() * 1000.0);
            if spec.metric == Metric::Count && a.rows.len() != b.rows.len() {
                return Err(anyhow!("rollup and raw disagree"));
            }
        }
        all_rollup.extend(rollup.iter().copied());
        all_raw.extend(raw.iter().copied());
        let (r, w) = (p50(rollup), p50(raw));
        println!(
            "| {} {:?} g={:?} f={:?} | {:?} | {r:.1} | {w:.1} | {:.1}x |",
            spec.metric,
            spec.granularity,
            spec.group_by,
            spec.filters,
            route,
            w / r.max(0.001)
        );
    }
    let (r, w) = (p50(all_rollup), p50(all_raw));
    println!("| all | | {r:.1} | {w:.1} | {:.1}x |", w / r.max(0.001));
    store.close().await;
    Ok(())
}
