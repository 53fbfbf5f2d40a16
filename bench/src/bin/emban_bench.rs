//! `emban-bench`: the ingest-and-query benchmark (run on demand, not in CI).
//!
//! 1. Generates a pool of request bodies (`sample::SampleGenerator`, 1,000 Zipf-sized tenants,
//!    30 days, 4 models, 3 endpoints) before any timing; each request copies one pool body and
//!    overwrites its fixed-width event ids, so every one of the `--events` events is distinct.
//! 2. Appends the same validated rows with one raw DuckDB appender on one thread (the ceiling).
//! 3. Starts `emban serve` as a child process, ingests through `--clients` concurrent HTTP
//!    clients on loopback, and reads the child's peak RSS (VmHWM).
//! 4. Runs four dashboard queries through `GET /v1/query`, then stops the server, opens its
//!    DuckDB file directly and runs the very same SQL for comparison.
//!
//! Every figure is printed with its goal and PASS/MISS, then a summary table.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail, ensure};
use chrono::Utc;
use clap::Parser;
use contract::events::{IngestEvent, IngestRequest};
use duckdb::Connection;
use emban_bench::{
    http,
    machine::{self, Machine, ProcStatus, gib, machine_busy_secs, self_cpu_secs, thread_cpu},
    stats::{ms_since, pct, rate, ratio},
};
use emban_host_server::{
    analytics::query::QueryRequest,
    demo::sample::{self, SampleGenerator},
    events::{
        NewEvent, StoreScope, columnar,
        duckdb::{
            DEFAULT_CHECKPOINT_THRESHOLD, append_rows, create_schema_sql, create_table_sql, duckdb_config,
            query_sql, run_query_sql,
        },
    },
    ingest,
};
use serde_json::json;

// Goals from the issue.
const GOAL_INGEST_EVENTS_PER_SEC: f64 = 200_000.0;
const GOAL_SHARE_OF_RAW: f64 = 0.40;
const GOAL_PEAK_RSS_BYTES: u64 = 1536 * 1024 * 1024;
const GOAL_LARGEST_TENANT_SHARE: f64 = 0.10;
const GOAL_SERVER_OVER_DIRECT: f64 = 1.2;
const GOAL_SERVER_OVER_DIRECT_SLACK_MS: f64 = 2.0;
/// Issue 19: events visible to queries within 2 s of their acknowledgement.
const GOAL_VISIBILITY_LAG_MS: f64 = 2000.0;
/// The probe events' tenant and name (kept apart from the load's tenants and `api.call`).
const LAG_TENANT: &str = "bench_lag_probe";
const LAG_EVENT: &str = "bench.lag";

/// Placeholder written into every pool body's event ids; overwritten per request.
const ID_PREFIX: &str = "\"event_id\":\"evt_";
const ID_HEX: usize = 16;

#[derive(Parser, Debug)]
#[command(name = "emban-bench", about = "Emban ingest-and-query benchmark")]
struct Args {
    /// Events to ingest (a multiple of --batch).
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Distinct pre-generated request bodies (their ids are rewritten per request).
    #[arg(long, default_value_t = 200)]
    pool_batches: usize,
    /// Timed runs of each query (after the warm-up).
    #[arg(long, default_value_t = 50)]
    query_runs: usize,
    /// Untimed warm-up runs of each query.
    #[arg(long, default_value_t = 5)]
    warmup_runs: usize,
    /// Zipf rank of the "mid-sized" tenant queried in (a), (b) and (c).
    #[arg(long, default_value_t = 10)]
    mid_tenant_rank: usize,
    /// Working directory (kept afterwards). Default: a temp dir, deleted at the end.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep the default temp dir instead of deleting it.
    #[arg(long)]
    keep_data: bool,
    /// Skip the raw-appender baseline.
    #[arg(long)]
    skip_raw: bool,
    /// Requests per transaction in the raw-appender baselines.
    #[arg(long, default_value_t = 50)]
    raw_group: u64,
    /// Stop after the raw-appender baseline (to compare store settings quickly).
    #[arg(long)]
    raw_only: bool,
    /// Milliseconds between two visibility probes during ingest (0: no probes).
    #[arg(long, default_value_t = 500)]
    lag_probe_ms: u64,
    /// The server binary. Default: `emban` next to this binary.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// After the queries, SIGKILL the server instead of stopping it, and time its recovery (the
    /// WAL left behind is replayed) before the usual clean restart.
    #[arg(long)]
    crash_restart: bool,
    /// With --crash-restart: seconds to leave the server idle before the SIGKILL (0: right after
    /// the queries, while it may still be checkpointing; the server checkpoints after 1 s idle).
    #[arg(long, default_value_t = 0)]
    crash_idle_secs: u64,
    /// With --crash-restart: instead of an idle server, SIGKILL it after this many seconds of a
    /// sustained 8-client load (1,000-event batches), with requests in flight (0: idle).
    #[arg(long, default_value_t = 0)]
    crash_under_load_secs: u64,
    /// Passed to the server as --duckdb-memory-limit (server default when absent).
    #[arg(long)]
    duckdb_memory_limit: Option<String>,
    /// Passed to the server as --duckdb-checkpoint-threshold (server default when absent); the
    /// raw baselines use it too (else the server's default).
    #[arg(long)]
    duckdb_checkpoint_threshold: Option<String>,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.batch > 0 && args.clients > 0 && args.pool_batches > 0 && args.query_runs > 0,
        "sizes must be positive"
    );
    ensure!(
        args.events > 0 && args.events % args.batch as u64 == 0,
        "--events must be a positive multiple of --batch"
    );
    ensure!((1..=1000).contains(&args.mid_tenant_rank), "--mid-tenant-rank must be 1..=1000");

    let (dir, temporary) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(format!("emban-bench-{}", std::process::id())), !args.keep_data),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let outcome = run(&args, &dir);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("data kept in {}", dir.display());
    }
    outcome
}

fn run(args: &Args, dir: &Path) -> anyhow::Result<()> {
    let mut summary = Summary::default();
    print_machine(args, dir);

    // ---------------------------------------------------------------- the load, pre-generated
    let started = Instant::now();
    let pool = Pool::generate(args)?;
    println!(
        "\n[load] {} distinct bodies x {} events ({:.1} MiB, {:.0} bytes/event) generated in {:.1}s; \
         {} requests, ids rewritten per request",
        pool.bodies.len(),
        args.batch,
        pool.total_bytes() as f64 / 1048576.0,
        pool.total_bytes() as f64 / (pool.bodies.len() * args.batch) as f64,
        started.elapsed().as_secs_f64(),
        args.events / args.batch as u64
    );

    // ---------------------------------------------------------------- raw appender baseline
    let raw_rate =
        if args.skip_raw { None } else { Some(raw_appender(args, dir, &pool, RawLayout::Shards)?) };
    let raw_one_table =
        if args.skip_raw { None } else { Some(raw_appender(args, dir, &pool, RawLayout::OneTable)?) };
    if args.raw_only {
        return Ok(());
    }

    // ---------------------------------------------------------------- server + ingest
    let server_dir = dir.join("server");
    let mut server = Server::start(args, &server_dir, &dir.join("server.log"))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let keys = rt.block_on(register(&server.url))?;
    let bench_cpu_before = self_cpu_secs();
    let threads_before = thread_cpu(server.pid());
    let server_cpu_before: f64 = threads_before.values().sum();
    let machine_before = machine_busy_secs();
    let ingest = rt.block_on(ingest_load(args, &server.url, &keys, &pool))?;
    let bench_cpu = self_cpu_secs() - bench_cpu_before;
    let machine_busy = machine_busy_secs() - machine_before;
    let rss = ProcStatus::read(server.pid())?;
    let threads = thread_cpu(server.pid());

    println!(
        "\n[ingest] {} events in {} requests from {} clients",
        ingest.accepted, ingest.requests, args.clients
    );
    println!("  wall {:.1}s, {:.0} events/s overall", ingest.secs, ingest.rate());
    if let Some(w) = ingest.slowest_window {
        println!("  slowest 10 s window: {:.0} events/s; fastest: {:.0} events/s", w.0, w.1);
    }
    println!(
        "  request latency ms: p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1}",
        pct(&ingest.latencies_ms, 0.50),
        pct(&ingest.latencies_ms, 0.95),
        pct(&ingest.latencies_ms, 0.99),
        pct(&ingest.latencies_ms, 1.0)
    );
    let server_cpu: f64 = threads.values().sum();
    println!(
        "  server CPU {:.1}s ({:.2} of {} cores busy) by thread: {}",
        server_cpu,
        server_cpu / ingest.secs,
        machine::cpus(),
        fmt_threads(&threads)
    );
    println!(
        "  load generator (this process) CPU during ingest: {bench_cpu:.1}s ({:.2} cores)",
        bench_cpu / ingest.secs
    );
    let others = machine_busy - (server_cpu - server_cpu_before) - bench_cpu;
    println!(
        "  other processes on the machine during ingest: {:.1}s CPU ({:.2} cores)",
        others.max(0.0),
        others.max(0.0) / ingest.secs
    );
    println!("  server VmHWM {:.2} GiB, VmRSS {:.2} GiB", gib(rss.hwm), gib(rss.rss));
    let split = CpuSplit::new(&threads_before, &threads, ingest.accepted);
    println!(
        "  CPU per event: HTTP+JSON+validation (tokio workers) {:.2} us, journal (events-journal) {:.2} us, \
         store load (duckdb-loader) {:.2} us, checkpoints (duckdb-ckpt) {:.2} us, other server threads \
         {:.2} us; total {:.2} us (2 cores allow {:.0} events/s at that cost)",
        split.http_us,
        split.journal_us,
        split.store_us,
        split.checkpoint_us,
        split.other_us,
        split.total_us(),
        machine::cpus() as f64 * 1e6 / split.total_us().max(1e-9)
    );
    let lag = &ingest.lag_ms;
    if lag.is_empty() {
        println!("  visibility lag: no probes");
    } else {
        println!(
            "  visibility lag (a batch's 2xx until GET /v1/query counts it), {} probes during ingest: \
             p50 {:.1} ms, max {:.1} ms",
            lag.len(),
            pct(lag, 0.5),
            pct(lag, 1.0)
        );
    }
    ensure!(
        ingest.duplicates == 0,
        "the server reported {} duplicates; the event ids must be distinct",
        ingest.duplicates
    );
    ensure!(
        ingest.accepted == args.events,
        "the server accepted {} of {} events",
        ingest.accepted,
        args.events
    );

    summary.add(
        "ingest rate, events/s",
        format!("{:.0}", ingest.rate()),
        format!(">= {GOAL_INGEST_EVENTS_PER_SEC:.0}"),
        Some(ingest.rate() >= GOAL_INGEST_EVENTS_PER_SEC),
    );
    match raw_rate {
        Some(raw) => {
            let share = ratio(ingest.rate(), raw);
            println!("  raw appender {raw:.0} events/s; server reaches {:.1}% of it", share * 100.0);
            summary.add("raw appender (shards), events/s", format!("{raw:.0}"), "(baseline)".into(), None);
            summary.add(
                "ingest / raw appender (shards)",
                format!("{:.1}%", share * 100.0),
                format!(">= {:.0}%", GOAL_SHARE_OF_RAW * 100.0),
                Some(share >= GOAL_SHARE_OF_RAW),
            );
        }
        None => summary.add(
            "ingest / raw appender (shards)",
            "skipped".into(),
            format!(">= {:.0}%", GOAL_SHARE_OF_RAW * 100.0),
            None,
        ),
    }
    if let Some(raw) = raw_one_table {
        let share = ratio(ingest.rate(), raw);
        println!(
            "  raw appender, one table without shards: {raw:.0} events/s; server reaches {:.1}% of it",
            share * 100.0
        );
        summary.add("raw appender (one table), events/s", format!("{raw:.0}"), "(reference)".into(), None);
        summary.add("ingest / raw (one table)", format!("{:.1}%", share * 100.0), "(reported)".into(), None);
    }
    summary.add(
        "CPU/event: HTTP+JSON+validation, us",
        format!("{:.2}", split.http_us),
        "(reported)".into(),
        None,
    );
    summary.add("CPU/event: journal, us", format!("{:.2}", split.journal_us), "(reported)".into(), None);
    summary.add("CPU/event: store load, us", format!("{:.2}", split.store_us), "(reported)".into(), None);
    summary.add(
        "CPU/event: checkpoints, us",
        format!("{:.2}", split.checkpoint_us),
        "(reported)".into(),
        None,
    );
    if !lag.is_empty() {
        summary.add(
            "visibility lag p50 / max, ms",
            format!("{:.1} / {:.1}", pct(lag, 0.5), pct(lag, 1.0)),
            format!("<= {GOAL_VISIBILITY_LAG_MS:.0} max"),
            Some(pct(lag, 1.0) <= GOAL_VISIBILITY_LAG_MS),
        );
    }
    summary.add(
        "server peak RSS after ingest",
        format!("{:.2} GiB", gib(rss.hwm)),
        format!("<= {:.2} GiB", gib(GOAL_PEAK_RSS_BYTES)),
        Some(rss.hwm <= GOAL_PEAK_RSS_BYTES),
    );

    // Queries are timed on a quiet server: about a second after the last load, the loader
    // checkpoints DuckDB (seconds of CPU), which would otherwise be timed as query latency.
    let quiet_secs = wait_quiet(server.pid(), Duration::from_secs(20));
    println!("\n  waited {quiet_secs:.1} s for the server to go quiet (its checkpoint after the ingest)");

    // ---------------------------------------------------------------- queries through HTTP
    let cases = query_cases(args.mid_tenant_rank);
    let mut served = Vec::new();
    for case in &cases {
        let timing = rt.block_on(http_query_runs(args, &server.url, &keys.admin, case))?;
        println!(
            "\n[query {}] {}\n  server ms p50 {:.2} p95 {:.2} | wall ms p50 {:.2} p95 {:.2} | rows_scanned {} | {} data rows",
            case.key,
            case.label,
            pct(&timing.server_ms, 0.5),
            pct(&timing.server_ms, 0.95),
            pct(&timing.wall_ms, 0.5),
            pct(&timing.wall_ms, 0.95),
            timing.rows_scanned,
            timing.data_rows
        );
        served.push(timing);
    }
    let rss_end = ProcStatus::read(server.pid())?;
    println!("\n  server VmHWM after queries {:.2} GiB", gib(rss_end.hwm));
    drop(rt);

    if args.crash_restart {
        let load = (args.crash_under_load_secs > 0).then(|| SustainedLoad::start(&server.url, &keys.ingest));
        let wait = if load.is_some() { args.crash_under_load_secs } else { args.crash_idle_secs };
        std::thread::sleep(Duration::from_secs(wait));
        let size = |name: &str| std::fs::metadata(server_dir.join(name)).map(|m| m.len()).unwrap_or(0);
        // DuckDB's WAL, and the one commits write to while a checkpoint runs.
        let wal = size("events.duckdb.wal") + size("events.duckdb.wal.checkpoint");
        server.kill()?;
        if let Some(load) = load {
            let acked = load.stop();
            println!(
                "\n[crash under load] {acked} events acknowledged in {wait} s by 8 clients, SIGKILLed with requests in flight"
            );
        }
        let crash =
            restart(args, &server_dir, &dir.join("server-crash-restart.log"), &keys, "crash-probe-1")?;
        println!(
            "\n[crash restart] SIGKILL {}, with {:.1} MiB of DuckDB WAL; listening after {:.2} s; first batch \
             acknowledged after {:.2} s; a resent id answered as duplicate: {}; VmHWM {:.2} GiB",
            if args.crash_under_load_secs > 0 {
                format!("after {} s of sustained load", args.crash_under_load_secs)
            } else {
                format!("{} s after the queries", args.crash_idle_secs)
            },
            wal as f64 / (1024.0 * 1024.0),
            crash.listening_secs,
            crash.first_ack_secs,
            crash.resend_is_duplicate,
            gib(crash.hwm)
        );
    } else {
        let stop_started = Instant::now();
        server.stop()?;
        println!("  server stopped (SIGTERM) in {:.1}s", stop_started.elapsed().as_secs_f64());
    }

    // ---------------------------------------------------------------- the same SQL, directly
    let direct = direct_runs(args, &server_dir.join("events.duckdb"), &cases)?;
    println!(
        "\n[store] largest tenant {} holds {} of {} rows ({:.1}%)",
        direct.largest_tenant,
        direct.largest_rows,
        direct.total_rows,
        direct.largest_share() * 100.0
    );
    summary.add(
        "largest tenant's share of rows",
        format!("{:.1}%", direct.largest_share() * 100.0),
        format!(">= {:.0}%", GOAL_LARGEST_TENANT_SHARE * 100.0),
        Some(direct.largest_share() >= GOAL_LARGEST_TENANT_SHARE),
    );

    for ((case, http), store) in cases.iter().zip(&served).zip(&direct.timings) {
        let (s50, s95) = (pct(&http.server_ms, 0.5), pct(&http.server_ms, 0.95));
        let (w50, w95) = (pct(&http.wall_ms, 0.5), pct(&http.wall_ms, 0.95));
        let d50 = pct(&store.ms, 0.5);
        let limit = GOAL_SERVER_OVER_DIRECT * d50 + GOAL_SERVER_OVER_DIRECT_SLACK_MS;
        println!(
            "\n[direct {}] store p50 {:.2} ms p95 {:.2} ms; server p50 {:.2} ms = {:.2}x store (limit {:.2} ms)",
            case.key,
            d50,
            pct(&store.ms, 0.95),
            s50,
            ratio(s50, d50),
            limit
        );
        if store.rows_scanned != http.rows_scanned {
            println!(
                "  WARNING: rows scanned differ: server {} vs direct {}",
                http.rows_scanned, store.rows_scanned
            );
        }
        summary.add(
            &format!("({}) server p50 ms", case.key),
            format!("{s50:.2}"),
            format!("<= {:.0}", case.p50_goal),
            Some(s50 <= case.p50_goal),
        );
        summary.add(
            &format!("({}) wall p50 ms", case.key),
            format!("{w50:.2}"),
            format!("<= {:.0}", case.p50_goal),
            Some(w50 <= case.p50_goal),
        );
        if let Some(goal) = case.p95_goal {
            summary.add(
                &format!("({}) server p95 ms", case.key),
                format!("{s95:.2}"),
                format!("<= {goal:.0}"),
                Some(s95 <= goal),
            );
            summary.add(
                &format!("({}) wall p95 ms", case.key),
                format!("{w95:.2}"),
                format!("<= {goal:.0}"),
                Some(w95 <= goal),
            );
        }
        summary.add(
            &format!("({}) server p50 / store p50", case.key),
            format!("{s50:.2} / {d50:.2} ms"),
            format!("<= 1.2x+2 = {limit:.2}"),
            Some(s50 <= limit),
        );
    }

    // ---------------------------------------------------------------- restart on the same data
    let restart = restart(args, &server_dir, &dir.join("server-restart.log"), &keys, "restart-probe-1")?;
    println!(
        "\n[restart] listening after {:.2} s; first batch acknowledged after {:.2} s (the \
         de-duplication window read back); a resent id answered as duplicate: {}; VmHWM {:.2} GiB",
        restart.listening_secs,
        restart.first_ack_secs,
        restart.resend_is_duplicate,
        gib(restart.hwm)
    );
    summary.add(
        "restart: listening after, s",
        format!("{:.2}", restart.listening_secs),
        format!("<= {GOAL_RESTART_SECS:.0}"),
        Some(restart.listening_secs <= GOAL_RESTART_SECS),
    );
    summary.add(
        "restart: first ingest acknowledged after, s",
        format!("{:.2}", restart.first_ack_secs),
        "(reported)".into(),
        None,
    );
    summary.add(
        "restart: peak RSS, GiB",
        format!("{:.2}", gib(restart.hwm)),
        format!("<= {:.1}", gib(GOAL_PEAK_RSS_BYTES)),
        Some(restart.hwm <= GOAL_PEAK_RSS_BYTES && restart.resend_is_duplicate),
    );

    summary.print(args);
    Ok(())
}

// ==================================================================== the load

struct Pool {
    /// Serialized `{"events": [...]}` bodies.
    bodies: Vec<Vec<u8>>,
    /// For each body, the offset of each event's 16 id hex digits.
    id_offsets: Vec<Vec<usize>>,
    /// The same events, validated as the server validates them (for the raw appender).
    rows: Vec<Vec<NewEvent>>,
}

impl Pool {
    fn generate(args: &Args) -> anyhow::Result<Pool> {
        let tenants = sample::zipf_tenants("tenant_", 1000);
        let now = Utc::now();
        let mut generator = SampleGenerator::new(args.seed, &tenants, 30, now);
        generator.api_share = 1.0;
        generator.with_event_ids = true;
        let placeholder = format!("evt_{}", "0".repeat(ID_HEX));
        let mut pool = Pool { bodies: Vec::new(), id_offsets: Vec::new(), rows: Vec::new() };
        for _ in 0..args.pool_batches {
            let events: Vec<IngestEvent> = (0..args.batch)
                .map(|_| {
                    let mut e = generator.next_event();
                    // Fixed width, so each request can rewrite the ids in place.
                    e.event_id = Some(placeholder.clone());
                    e
                })
                .collect();
            let request = IngestRequest { events };
            let body = serde_json::to_vec(&request)?;
            let offsets: Vec<usize> =
                find_all(&body, ID_PREFIX.as_bytes()).into_iter().map(|i| i + ID_PREFIX.len()).collect();
            ensure!(
                offsets.len() == args.batch,
                "found {} event ids in a body of {}",
                offsets.len(),
                args.batch
            );
            if !args.skip_raw {
                let rows = ingest::validate(request, now, ingest::IngestBounds::default())
                    .map_err(|e| anyhow!("sample events are invalid: {e}"))?;
                pool.rows.push(rows);
            }
            pool.bodies.push(body);
            pool.id_offsets.push(offsets);
        }
        Ok(pool)
    }

    fn total_bytes(&self) -> usize {
        self.bodies.iter().map(Vec::len).sum()
    }

    /// The body of request `r`: its pool body with ids `r * batch + i`.
    fn body(&self, r: u64, batch: usize) -> Vec<u8> {
        let p = (r % self.bodies.len() as u64) as usize;
        let mut body = self.bodies[p].clone();
        for (i, &at) in self.id_offsets[p].iter().enumerate() {
            write_hex(&mut body[at..at + ID_HEX], r * batch as u64 + i as u64);
        }
        body
    }
}

fn event_id(n: u64) -> String {
    format!("evt_{n:016x}")
}

fn write_hex(out: &mut [u8], mut n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in out.iter_mut().rev() {
        *b = DIGITS[(n & 0xf) as usize];
        n >>= 4;
    }
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

// ==================================================================== raw appender baseline

/// How the raw baseline lays the rows out.
#[derive(Clone, Copy, PartialEq)]
enum RawLayout {
    /// The server's append path (`append_rows`: Arrow batches into the tenant shards).
    Shards,
    /// The physical reference of issue 19: one table, no shards, one Arrow appender.
    OneTable,
}

/// Appends every row the server will receive, on one thread, 50 requests per transaction, into
/// a fresh DuckDB file with the server's settings, laid out as `layout` says. Returns rows per
/// second.
fn raw_appender(args: &Args, dir: &Path, pool: &Pool, layout: RawLayout) -> anyhow::Result<f64> {
    let path = dir.join("raw-appender.duckdb");
    let _ = std::fs::remove_file(&path);
    let limit = args.duckdb_memory_limit.as_deref().unwrap_or("1GB");
    let threshold = args.duckdb_checkpoint_threshold.as_deref().unwrap_or(DEFAULT_CHECKPOINT_THRESHOLD);
    let conn =
        Connection::open_with_flags(&path, duckdb_config(limit)?.with("checkpoint_threshold", threshold)?)?;
    conn.execute_batch(&match layout {
        RawLayout::Shards => create_schema_sql(),
        RawLayout::OneTable => create_table_sql(),
    })?;
    let scope = StoreScope { org_id: 1, env_id: 1 };
    let requests = args.events / args.batch as u64;
    let started = Instant::now();
    // One transaction per --raw-group requests, as the server's writer commits a group of
    // waiting requests at a time.
    let mut r = 0;
    while r < requests {
        let end = (r + args.raw_group.max(1)).min(requests);
        let rows: Vec<NewEvent> = (r..end)
            .flat_map(|q| {
                pool.rows[(q % pool.rows.len() as u64) as usize].iter().enumerate().map(move |(i, row)| {
                    NewEvent { event_id: event_id(q * args.batch as u64 + i as u64), ..row.clone() }
                })
            })
            .collect();
        let refs: Vec<(StoreScope, &NewEvent)> = rows.iter().map(|e| (scope, e)).collect();
        conn.execute_batch("BEGIN TRANSACTION")?;
        match layout {
            RawLayout::Shards => append_rows(&conn, &refs)?,
            RawLayout::OneTable => {
                let mut appender = conn.appender("events")?;
                for chunk in refs.chunks(16_384) {
                    appender.append_record_batch(columnar::record_batch(chunk.iter().copied())?)?;
                }
                appender.flush()?;
            }
        }
        conn.execute_batch("COMMIT")?;
        r = end;
    }
    let secs = started.elapsed().as_secs_f64();
    let n: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    ensure!(n as u64 == args.events, "the raw appender stored {n} rows");
    drop(conn);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("duckdb.wal"));
    let rate = rate(args.events, secs);
    println!(
        "\n[raw appender, {}] {} rows in {:.1}s = {:.0} rows/s (one thread, {} requests per commit; \
         file {:.0} MiB)",
        match layout {
            RawLayout::Shards => "the server's append path into 8 shards",
            RawLayout::OneTable => "one table, no shards",
        },
        args.events,
        secs,
        rate,
        args.raw_group,
        size as f64 / 1048576.0
    );
    Ok(rate)
}

// ==================================================================== the server child

struct Server {
    child: Option<Child>,
    url: String,
}

impl Server {
    fn start(args: &Args, data_dir: &Path, log: &Path) -> anyhow::Result<Server> {
        let bin = match &args.server_bin {
            Some(b) => b.clone(),
            None => std::env::current_exe()?.with_file_name("emban"),
        };
        ensure!(
            bin.exists(),
            "server binary {} not found (build it: cargo build -p emban-host-server --bin emban)",
            bin.display()
        );
        // Appended to: a restart's two starts share one log.
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--demo", "false", "--data-dir"])
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        if let Some(limit) = &args.duckdb_memory_limit {
            cmd.args(["--duckdb-memory-limit", limit]);
        }
        if let Some(threshold) = &args.duckdb_checkpoint_threshold {
            cmd.args(["--duckdb-checkpoint-threshold", threshold]);
        }
        let mut child = cmd.spawn().with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("emban listening on ") {
                    let url = rest.split_whitespace().next().unwrap_or_default().to_owned();
                    let _ = tx.send(url);
                }
            }
        });
        let mut server = Server { child: Some(child), url: String::new() };
        server.url = rx
            .recv_timeout(Duration::from_secs(120))
            .map_err(|_| anyhow!("the server did not report its address; see {}", log.display()))?;
        println!(
            "\n[server] {} started as pid {}, {} (log {})",
            bin.display(),
            server.pid(),
            server.url,
            log.display()
        );
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL (nothing is drained or closed), then waits.
    fn kill(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// SIGTERM (the server drains and closes its stores), then waits.
    fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
        ensure!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(status) = child.try_wait()? {
                ensure!(status.success(), "the server exited with {status}");
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("the server did not stop within 300 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Keys {
    admin: String,
    ingest: String,
}

async fn register(url: &str) -> anyhow::Result<Keys> {
    let client = http::client()?;
    let admin = http::register(&client, url).await?;
    let body = http::expect(
        client
            .post(format!("{url}/v1/api-keys"))
            .bearer_auth(&admin)
            .json(&json!({"label": "bench", "scope": "ingest"})),
        201,
        "create ingest key",
    )
    .await?;
    let ingest = body["key"].as_str().ok_or_else(|| anyhow!("api-keys: no key"))?.to_owned();
    Ok(Keys { admin, ingest })
}

// ==================================================================== restart

/// Issue 19: a restart on the run's data accepts requests within this many seconds.
const GOAL_RESTART_SECS: f64 = 1.0;

struct Restart {
    listening_secs: f64,
    first_ack_secs: f64,
    resend_is_duplicate: bool,
    hwm: u64,
}

/// Starts the server again on the run's data: how long until it listens, until a first batch is
/// acknowledged (the writer reads the de-duplication window back first), whether the window
/// survived (an id sent before the stop comes back as a duplicate), and the peak RSS.
/// Eight clients posting 1,000-event batches back to back until stopped (the crash test's load).
struct SustainedLoad {
    stop: std::sync::Arc<AtomicBool>,
    acked: std::sync::Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl SustainedLoad {
    fn start(url: &str, key: &str) -> SustainedLoad {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let acked = std::sync::Arc::new(AtomicU64::new(0));
        let (endpoint, key) = (format!("{url}/v1/events"), key.to_owned());
        let (stop_flag, counter) = (stop.clone(), acked.clone());
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(client) = http::client() else { return };
                let clients = (0..8).map(|c| {
                    let (client, endpoint, key) = (client.clone(), endpoint.clone(), key.clone());
                    let (stop, acked) = (stop_flag.clone(), counter.clone());
                    tokio::spawn(async move {
                        let mut batch = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            let events: Vec<_> = (0..1000)
                                .map(|i| {
                                    json!({"tenant_id": format!("crash_load_{c}"), "event_name": "crash.load",
                                           "event_id": format!("crash-{c}-{batch}-{i}")})
                                })
                                .collect();
                            batch += 1;
                            let request = client
                                .post(endpoint.as_str())
                                .bearer_auth(&key)
                                .json(&json!({"events": events}));
                            match http::expect(request, 200, "sustained load").await {
                                Ok(_) => acked.fetch_add(1000, Ordering::Relaxed),
                                Err(_) => break,
                            };
                        }
                    })
                });
                for client in clients.collect::<Vec<_>>() {
                    let _ = client.await;
                }
            });
        });
        SustainedLoad { stop, acked, thread }
    }

    /// Stops the clients (after the server was killed) and returns the events acknowledged.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.acked.load(Ordering::Relaxed)
    }
}

fn restart(args: &Args, server_dir: &Path, log: &Path, keys: &Keys, probe: &str) -> anyhow::Result<Restart> {
    let started = Instant::now();
    let mut server = Server::start(args, server_dir, log)?;
    let listening_secs = started.elapsed().as_secs_f64();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = http::client()?;
    let body = |id: &str| json!({"events": [{"tenant_id": "restart", "event_name": "restart.probe", "event_id": id}]});
    let post = |id: &str| {
        let request =
            client.post(format!("{}/v1/events", server.url)).bearer_auth(&keys.ingest).json(&body(id));
        http::expect(request, 200, "restart probe")
    };
    let first = rt.block_on(post(probe))?;
    let first_ack_secs = started.elapsed().as_secs_f64();
    ensure!(first["accepted"] == 1, "the first probe after the restart was not stored: {first}");
    // Stop and start once more: the probe's id must be remembered across it.
    server.stop()?;
    let mut server = Server::start(args, server_dir, log)?;
    let again = rt.block_on(http::expect(
        client.post(format!("{}/v1/events", server.url)).bearer_auth(&keys.ingest).json(&body(probe)),
        200,
        "restart resend",
    ))?;
    let hwm = ProcStatus::read(server.pid())?.hwm;
    server.stop()?;
    Ok(Restart { listening_secs, first_ack_secs, resend_is_duplicate: again["duplicates"] == 1, hwm })
}

// ==================================================================== ingest

/// Server CPU during ingest, per accepted event, by the threads' roles.
struct CpuSplit {
    /// Tokio workers: HTTP, auth, JSON parsing, validation.
    http_us: f64,
    /// The DuckDB loader thread: appends of the journaled batches, their ids, commits.
    store_us: f64,
    /// The journal thread (de-duplication, the journal write and its fsync).
    journal_us: f64,
    /// The checkpointer (DuckDB's WAL written into the table files, beside the loads).
    checkpoint_us: f64,
    /// Every other thread (DuckDB's own, the blocking pool).
    other_us: f64,
}

impl CpuSplit {
    fn new(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, events: u64) -> CpuSplit {
        let mut split =
            CpuSplit { http_us: 0.0, store_us: 0.0, journal_us: 0.0, checkpoint_us: 0.0, other_us: 0.0 };
        let per_event = 1e6 / events.max(1) as f64;
        for (name, secs) in after {
            let used = (secs - before.get(name).copied().unwrap_or(0.0)).max(0.0) * per_event;
            match name.as_str() {
                "tokio-rt-worker" => split.http_us += used,
                "duckdb-loader" => split.store_us += used,
                "events-journal" => split.journal_us += used,
                "duckdb-ckpt" => split.checkpoint_us += used,
                _ => split.other_us += used,
            }
        }
        split
    }

    fn total_us(&self) -> f64 {
        self.http_us + self.store_us + self.journal_us + self.checkpoint_us + self.other_us
    }
}

struct IngestResult {
    accepted: u64,
    duplicates: u64,
    requests: u64,
    secs: f64,
    latencies_ms: Vec<f64>,
    /// (slowest, fastest) rate over 10-second windows.
    slowest_window: Option<(f64, f64)>,
    /// Visibility lag of each probe, sorted.
    lag_ms: Vec<f64>,
}

impl IngestResult {
    fn rate(&self) -> f64 {
        rate(self.accepted, self.secs)
    }
}

async fn ingest_load(args: &Args, url: &str, keys: &Keys, pool: &Pool) -> anyhow::Result<IngestResult> {
    let key = keys.ingest.as_str();
    let requests = args.events / args.batch as u64;
    let next = AtomicU64::new(0);
    let accepted = AtomicU64::new(0);
    let duplicates = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let endpoint = format!("{url}/v1/events");
    let auth = format!("Bearer {key}");
    let started = Instant::now();

    let client_task = |_: usize| {
        let (next, accepted, duplicates, endpoint, auth) = (&next, &accepted, &duplicates, &endpoint, &auth);
        async move {
            // One client (one keep-alive connection) per task.
            let client = http::one_connection_client()?;
            let mut latencies = Vec::new();
            loop {
                let r = next.fetch_add(1, Ordering::Relaxed);
                if r >= requests {
                    break;
                }
                let body = pool.body(r, args.batch);
                let sent = Instant::now();
                let response = client
                    .post(endpoint.as_str())
                    .header("content-type", "application/json")
                    .header("authorization", auth.as_str())
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                let bytes = response.bytes().await?;
                latencies.push(ms_since(sent));
                if !status.is_success() {
                    bail!("POST /v1/events: {status} {}", String::from_utf8_lossy(&bytes));
                }
                let answer: serde_json::Value = serde_json::from_slice(&bytes)?;
                accepted.fetch_add(answer["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                duplicates.fetch_add(answer["duplicates"].as_u64().unwrap_or(0), Ordering::Relaxed);
            }
            anyhow::Ok(latencies)
        }
    };

    // Samples progress every second (for the slowest-window figure) and reports every 10 s.
    let sampler = async {
        let mut samples = vec![(0.0f64, 0u64)];
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        while !done.load(Ordering::Relaxed) {
            tick.tick().await;
            let n = accepted.load(Ordering::Relaxed);
            let t = started.elapsed().as_secs_f64();
            samples.push((t, n));
            if samples.len() % 10 == 1 {
                let (t0, n0) = samples[samples.len() - 11];
                eprintln!(
                    "  ... {n} events after {t:.0}s ({:.0} events/s over the last 10 s)",
                    rate(n - n0, t - t0)
                );
            }
        }
        samples
    };

    // Every --lag-probe-ms, one single-event batch of its own tenant; after its 2xx, counts that
    // tenant through GET /v1/query until the event shows: the time from 2xx to visible.
    let probe = async {
        let mut lags = Vec::new();
        if args.lag_probe_ms == 0 {
            return anyhow::Ok(lags);
        }
        let client = http::client()?;
        let query =
            format!("{url}/v1/query?event_name={LAG_EVENT}&tenant_id={LAG_TENANT}&metric=count&period=24h");
        let mut n = 0u64;
        while !done.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(args.lag_probe_ms)).await;
            let body = json!({"events": [{"tenant_id": LAG_TENANT, "event_name": LAG_EVENT, "event_id": format!("lag-{n}")}]});
            http::expect(client.post(endpoint.as_str()).bearer_auth(key).json(&body), 200, "lag probe")
                .await?;
            let acknowledged = Instant::now();
            n += 1;
            loop {
                let answer =
                    http::expect(client.get(query.as_str()).bearer_auth(&keys.admin), 200, "lag query")
                        .await?;
                let seen: f64 = answer["data"]
                    .as_array()
                    .map_or(0.0, |rows| rows.iter().filter_map(|r| r["value"].as_f64()).sum());
                if seen as u64 >= n {
                    break;
                }
                ensure!(acknowledged.elapsed() < Duration::from_secs(60), "probe {n} not visible after 60 s");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            lags.push(ms_since(acknowledged));
        }
        lags.sort_by(f64::total_cmp);
        anyhow::Ok(lags)
    };

    let clients = async {
        let results = futures_join_all((0..args.clients).map(client_task).collect()).await;
        let secs = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        (results, secs)
    };
    let ((results, secs), samples, lag_ms) = tokio::join!(clients, sampler, probe);
    let lag_ms = lag_ms?;
    let mut latencies_ms = Vec::new();
    for r in results {
        latencies_ms.extend(r?);
    }
    latencies_ms.sort_by(f64::total_cmp);
    let windows: Vec<f64> =
        samples.windows(11).step_by(10).map(|w| rate(w[10].1 - w[0].1, w[10].0 - w[0].0)).collect();
    let slowest_window = (!windows.is_empty()).then(|| {
        (windows.iter().copied().fold(f64::INFINITY, f64::min), windows.iter().copied().fold(0.0, f64::max))
    });
    Ok(IngestResult {
        accepted: accepted.load(Ordering::Relaxed),
        duplicates: duplicates.load(Ordering::Relaxed),
        requests,
        secs,
        latencies_ms,
        slowest_window,
        lag_ms,
    })
}

/// Polls every future to completion on the current task (no extra dependency for join_all).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

// ==================================================================== queries

struct Case {
    key: &'static str,
    label: String,
    query: String,
    p50_goal: f64,
    p95_goal: Option<f64>,
}

fn query_string(tenant: &str, extra: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("event_name", "api.call").append_pair("tenant_id", tenant).append_pair("period", "30d");
    s.append_pair("granularity", "day");
    for (k, v) in extra {
        s.append_pair(k, v);
    }
    s.finish()
}

fn query_cases(mid_rank: usize) -> Vec<Case> {
    let mid = format!("tenant_{mid_rank:04}");
    vec![
        Case {
            key: "a",
            label: format!("{mid} (rank {mid_rank}), 30d, count by day"),
            query: query_string(&mid, &[("metric", "count")]),
            p50_goal: 15.0,
            p95_goal: Some(50.0),
        },
        Case {
            key: "b",
            label: format!("{mid}, 30d, count by day, group_by=model, f_endpoint=/chat"),
            query: query_string(&mid, &[("metric", "count"), ("group_by", "model"), ("f_endpoint", "/chat")]),
            p50_goal: 30.0,
            p95_goal: Some(100.0),
        },
        Case {
            key: "c",
            label: format!("{mid}, 30d, p95 of latency_ms by day"),
            query: query_string(&mid, &[("metric", "p95"), ("numeric_prop", "latency_ms")]),
            p50_goal: 100.0,
            p95_goal: None,
        },
        Case {
            key: "d",
            label: "tenant_0001 (rank 1, the largest), 30d, count by day".into(),
            query: query_string("tenant_0001", &[("metric", "count")]),
            p50_goal: 150.0,
            p95_goal: None,
        },
    ]
}

struct HttpTiming {
    server_ms: Vec<f64>,
    wall_ms: Vec<f64>,
    rows_scanned: u64,
    data_rows: usize,
}

async fn http_query_runs(args: &Args, url: &str, key: &str, case: &Case) -> anyhow::Result<HttpTiming> {
    let client = http::client()?;
    let endpoint = format!("{url}/v1/query?{}", case.query);
    let mut timing = HttpTiming { server_ms: Vec::new(), wall_ms: Vec::new(), rows_scanned: 0, data_rows: 0 };
    for run in 0..args.warmup_runs + args.query_runs {
        let sent = Instant::now();
        let response = client.get(endpoint.as_str()).bearer_auth(key).send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let wall = ms_since(sent);
        ensure!(
            status.is_success(),
            "GET /v1/query?{}: {status} {}",
            case.query,
            String::from_utf8_lossy(&bytes)
        );
        let body: serde_json::Value = serde_json::from_slice(&bytes)?;
        let server =
            body["meta"]["query_time_ms"].as_f64().ok_or_else(|| anyhow!("no meta.query_time_ms"))?;
        timing.rows_scanned = body["meta"]["rows_scanned"].as_u64().unwrap_or(0);
        timing.data_rows = body["data"].as_array().map_or(0, Vec::len);
        if run >= args.warmup_runs {
            timing.server_ms.push(server);
            timing.wall_ms.push(wall);
        }
    }
    timing.server_ms.sort_by(f64::total_cmp);
    timing.wall_ms.sort_by(f64::total_cmp);
    Ok(timing)
}

struct DirectTiming {
    ms: Vec<f64>,
    rows_scanned: u64,
}

struct Direct {
    timings: Vec<DirectTiming>,
    largest_tenant: String,
    largest_rows: u64,
    total_rows: u64,
}

impl Direct {
    fn largest_share(&self) -> f64 {
        self.largest_rows as f64 / self.total_rows.max(1) as f64
    }
}

/// Opens the server's DuckDB file (the server has stopped) and times the server's own SQL.
fn direct_runs(args: &Args, path: &Path, cases: &[Case]) -> anyhow::Result<Direct> {
    let limit = args.duckdb_memory_limit.as_deref().unwrap_or("1GB");
    let conn = Connection::open_with_flags(path, duckdb_config(limit)?)?;
    let scopes: Vec<(i64, i64)> = {
        let mut stmt = conn.prepare("SELECT DISTINCT org_id, env_id FROM events")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
    };
    ensure!(scopes.len() == 1, "expected one org and environment in the store, found {scopes:?}");
    let scope = StoreScope { org_id: scopes[0].0, env_id: scopes[0].1 };
    let (largest_tenant, largest_rows): (String, i64) = conn.query_row(
        "SELECT tenant_id, count(*) AS n FROM events GROUP BY tenant_id ORDER BY n DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let total_rows: i64 = conn.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    let mut timings = Vec::new();
    for case in cases {
        let request = QueryRequest::parse(&case.query).map_err(|e| anyhow!("{e}"))?;
        let mut timing = DirectTiming { ms: Vec::new(), rows_scanned: 0 };
        for run in 0..args.warmup_runs + args.query_runs {
            let spec = request.spec(Utc::now());
            let started = Instant::now();
            let (sql, params) = query_sql(scope, &spec).map_err(|e| anyhow!("{e}"))?;
            let (_, scanned) = run_query_sql(&conn, &sql, &params).map_err(|e| anyhow!("{e}"))?;
            let ms = ms_since(started);
            timing.rows_scanned = scanned;
            if run >= args.warmup_runs {
                timing.ms.push(ms);
            }
        }
        timing.ms.sort_by(f64::total_cmp);
        timings.push(timing);
    }
    Ok(Direct { timings, largest_tenant, largest_rows: largest_rows as u64, total_rows: total_rows as u64 })
}

// ==================================================================== reporting

fn fmt_threads(threads: &BTreeMap<String, f64>) -> String {
    let mut v: Vec<_> = threads.iter().filter(|(_, s)| **s >= 0.05).collect();
    v.sort_by(|a, b| b.1.total_cmp(a.1));
    let parts: Vec<String> = v.iter().map(|(n, s)| format!("{n} {s:.1}s")).collect();
    parts.join(", ")
}

fn print_machine(args: &Args, dir: &Path) {
    println!("emban-bench {}", Utc::now().format("%Y-%m-%d %H:%M UTC"));
    println!("machine: {}; load average {}", Machine::read(), machine::load_average());
    println!(
        "load: {} events, {} per request, {} clients, {} distinct bodies; {} query runs after {} warm-up; dir {}",
        args.events,
        args.batch,
        args.clients,
        args.pool_batches,
        args.query_runs,
        args.warmup_runs,
        dir.display()
    );
}

#[derive(Default)]
struct Summary {
    rows: Vec<(String, String, String, Option<bool>)>,
}

impl Summary {
    fn add(&mut self, figure: &str, measured: String, goal: String, pass: Option<bool>) {
        self.rows.push((figure.to_owned(), measured, goal, pass));
    }

    fn print(&self, args: &Args) {
        println!(
            "\n== summary ({} events, {} clients, batches of {}) ==",
            args.events, args.clients, args.batch
        );
        println!("{:<38} {:>22} {:>22}  result", "figure", "measured", "goal");
        println!("{}", "-".repeat(92));
        for (figure, measured, goal, pass) in &self.rows {
            let result = match pass {
                Some(true) => "PASS",
                Some(false) => "MISS",
                None => "",
            };
            println!("{figure:<38} {measured:>22} {goal:>22}  {result}");
        }
        let misses = self.rows.iter().filter(|r| r.3 == Some(false)).count();
        let checks = self.rows.iter().filter(|r| r.3.is_some()).count();
        println!("{}", "-".repeat(92));
        println!("{} of {checks} goals met, {misses} missed", checks - misses);
    }
}

/// Waits until the server used under 5 % of a core over half a second (at least 1.5 s, so the
/// loader's idle checkpoint has begun; at most `limit`); returns the seconds waited.
fn wait_quiet(pid: u32, limit: Duration) -> f64 {
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(1500));
    while started.elapsed() < limit {
        let before: f64 = thread_cpu(pid).values().sum();
        std::thread::sleep(Duration::from_millis(500));
        let after: f64 = thread_cpu(pid).values().sum();
        if after - before < 0.025 {
            break;
        }
    }
    started.elapsed().as_secs_f64()
}
