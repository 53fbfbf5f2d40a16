//! `emban-bench-scheduled`: what the scheduler's jobs cost (issue 16; run on demand, not in CI).
//!
//! 1. Starts the server in this process (`emban_host_server::start`, DuckDB events store,
//!    `--test-clock` at the real time so the scheduler loop does not run on its own), creates
//!    one account and the demo dashboard in it (`demo::dashboard::ensure_demo_dashboard`, the
//!    very function the demo seeding calls).
//! 2. Loads `--events` sample events (the ingest benchmark's generator and tenants: 1,000
//!    Zipf-sized tenants, 30 days, all `api.call`) through the events store's own insert path
//!    (validated as `POST /v1/events` validates them; no HTTP, so its rate is no ingest figure).
//! 3. Render: the demo dashboard for each of `--render-tenant-ranks`, as a scheduled report
//!    draws it (`reports::document`): each widget's query (`analytics::widget::evaluate_at`),
//!    the SVG page (`render::svg`), then the PNG at scale 2 (`render::png`) or the PDF
//!    (`render::pdf`), each step timed on its own over `--render-runs` runs per format.
//! 4. Alerts: `--alerts` alerts over the dashboard's evaluable widgets (threshold, delta and
//!    no_data mixed), created through `POST /v1/alerts`, each watching `--tenants-per-alert`
//!    tenants. `scheduler::tick` runs one full evaluation pass (wall and CPU time) at once, then
//!    another one alert interval later (the first writes every state; the second finds them).
//!    Then each pair's reading (`alerts::evaluate::read`, what the pass calls per tenant) and
//!    state write are timed on their own, and the same shape through `GET /v1/query`.
//! 5. Report runs end to end: the alerts deleted, a report per format through
//!    `POST /v1/reports`, run `--report-runs` times by `scheduler::tick` a minute apart.
//!
//! BENCHMARKS.md ("Report rendering and alert evaluation") records the figures.

use std::{
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, anyhow, ensure};
use chrono::{DateTime, Duration, Utc};
use clap::Parser;
use contract::{dashboard::Widget, events::IngestRequest, query::Period};
use emban_bench::{
    http,
    machine::{self, Machine, ProcStatus, gib, self_cpu_secs},
    stats::{ms_since, pct, rate, ratio},
};
use emban_host_server::{
    accounts::create_account,
    alerts::{evaluate, not_evaluable},
    analytics::widget::{ResolvedFilters, evaluate_at},
    config::ServeArgs,
    dashboards::effective_config,
    demo::{
        dashboard::{DEMO_DASHBOARD_NAME, ensure_demo_dashboard},
        sample::{self, SampleGenerator},
    },
    events::StoreScope,
    ingest::validate,
    meta::alerts::AlertRule,
    render,
    server::scheduler,
    state::AppState,
    time::timestamp,
};
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(name = "emban-bench-scheduled", about = "Emban report rendering and alert evaluation benchmark")]
struct Args {
    /// Events to load before measuring.
    #[arg(long, default_value_t = 10_000_000)]
    events: u64,
    /// Events per store insert while loading.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Timed renders per format (PNG, PDF), after the warm-up.
    #[arg(long, default_value_t = 20)]
    render_runs: usize,
    /// Untimed renders per format before timing.
    #[arg(long, default_value_t = 2)]
    warmup_runs: usize,
    /// Zipf ranks of the tenants the dashboard is rendered for (1 is the largest).
    #[arg(long, value_delimiter = ',', default_value = "10,1")]
    render_tenant_ranks: Vec<usize>,
    /// The report's filter period (1h, 24h, 7d, 30d, 90d).
    #[arg(long, default_value = "30d")]
    render_period: String,
    /// Alerts created.
    #[arg(long, default_value_t = 10)]
    alerts: usize,
    /// Tenants each alert watches (at most 100, `alerts::MAX_TENANTS`).
    #[arg(long, default_value_t = 100)]
    tenants_per_alert: usize,
    /// Report runs per format through the scheduler (end to end), after the alerts.
    #[arg(long, default_value_t = 5)]
    report_runs: usize,
    /// Every alert's lookback window, minutes.
    #[arg(long, default_value_t = 60)]
    lookback_minutes: i64,
    /// Working directory (kept afterwards). Default: a temp dir, deleted at the end.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Keep the default temp dir (and the rendered report.png / report.pdf in it).
    #[arg(long)]
    keep_data: bool,
    /// The server's --duckdb-memory-limit.
    #[arg(long, default_value = "512MB")]
    duckdb_memory_limit: String,
    /// Generator seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// Sample tenants, as in the ingest benchmark.
const TENANTS: usize = 1000;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.events > 0 && args.batch > 0 && args.render_runs > 0, "sizes must be positive");
    ensure!(
        (1..=emban_host_server::alerts::MAX_TENANTS).contains(&args.tenants_per_alert),
        "--tenants-per-alert must be 1..=100"
    );
    ensure!(args.alerts > 0, "--alerts must be positive");
    ensure!(
        args.render_tenant_ranks.iter().all(|r| (1..=TENANTS).contains(r)),
        "--render-tenant-ranks must be 1..=1000"
    );
    ensure!(Period::parse(&args.render_period).is_some(), "--render-period: one of 1h, 24h, 7d, 30d, 90d");
    let (dir, temporary) = match &args.data_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("emban-bench-scheduled-{}", std::process::id())),
            !args.keep_data,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let outcome = rt.block_on(run(&args, &dir));
    drop(rt);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("data kept in {}", dir.display());
    }
    outcome
}

/// The bench's org, environment, admin key and dashboard.
struct Setup {
    scope: StoreScope,
    admin_key: String,
    dashboard_id: String,
}

async fn run(args: &Args, dir: &Path) -> anyhow::Result<()> {
    println!("emban-bench-scheduled {}", Utc::now().format("%Y-%m-%d %H:%M UTC"));
    println!("machine: {}; load average {}", Machine::read(), machine::load_average());
    println!(
        "events store: DuckDB (the default; --duckdb-memory-limit {}), in this process; dir {}",
        args.duckdb_memory_limit,
        dir.display()
    );
    // The scheduler's clock starts at the real time (the generated events end there) and only
    // moves when this benchmark advances it.
    let t0 = Utc::now();
    let mut serve = ServeArgs::for_data_dir(dir.join("server"));
    serve.duckdb_memory_limit = args.duckdb_memory_limit.clone();
    serve.test_clock = Some(t0.to_rfc3339());
    let server = emban_host_server::start(serve).await?;
    let state = server.state.clone();
    let url = server.url();

    let (account, admin) = create_account(
        &state,
        http::EMAIL,
        http::PASSWORD,
        Some("Bench".into()),
        Some("Bench".into()),
        false,
    )
    .await
    .map_err(|e| anyhow!("creating the bench account: {e}"))?;
    let env = account.environments[0].clone();
    let scope = StoreScope { org_id: account.org.id, env_id: env.id };
    let dashboard_id = ensure_demo_dashboard(&*state.dashboards, scope.org_id, scope.env_id)
        .await
        .map_err(|e| anyhow!("creating the demo dashboard: {e}"))?;
    let setup = Setup { scope, admin_key: admin.secret.expose().to_owned(), dashboard_id };

    load(args, &state, scope, t0).await?;

    let mut summary = Vec::new();
    render_bench(args, &state, &setup, dir, t0, &mut summary).await?;
    alerts_bench(args, &state, &url, &setup, &mut summary).await?;
    report_runs(args, &state, &url, &setup, &mut summary).await?;

    println!(
        "\n  process VmHWM {:.2} GiB; load average at the end {}",
        gib(ProcStatus::read(std::process::id())?.hwm),
        machine::load_average()
    );
    println!("\n== summary ({} events, DuckDB) ==", args.events);
    for (figure, value) in &summary {
        println!("{figure:<58} {value}");
    }
    server.stop().await?;
    Ok(())
}

// ==================================================================== the load

/// Generates and validates the events on a thread of its own while this task inserts them.
async fn load(args: &Args, state: &AppState, scope: StoreScope, end: DateTime<Utc>) -> anyhow::Result<()> {
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let (events, batch, seed, bounds) = (args.events, args.batch, args.seed, state.ingest_bounds);
    let producer = std::thread::spawn(move || -> anyhow::Result<()> {
        let tenants = sample::zipf_tenants("tenant_", TENANTS);
        let mut generator = SampleGenerator::new(seed, &tenants, 30, end);
        generator.api_share = 1.0;
        let mut made = 0u64;
        while made < events {
            let n = (batch as u64).min(events - made);
            let request = IngestRequest { events: (0..n).map(|_| generator.next_event()).collect() };
            let rows = validate(request, Utc::now(), bounds).map_err(|e| anyhow!("validating: {e}"))?;
            made += n;
            if tx.blocking_send(rows).is_err() {
                break;
            }
        }
        Ok(())
    });
    let mut stored = 0u64;
    let mut reported = Instant::now();
    while let Some(rows) = rx.recv().await {
        stored +=
            state.events.insert(scope, rows).await.map_err(|e| anyhow!("inserting: {e}"))?.stored as u64;
        if reported.elapsed().as_secs() >= 20 {
            reported = Instant::now();
            eprintln!("  ... {stored} events after {:.0}s", started.elapsed().as_secs_f64());
        }
    }
    producer.join().map_err(|_| anyhow!("the generator thread panicked"))??;
    ensure!(stored == args.events, "stored {stored} of {} events", args.events);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "\n[load] {stored} events (1,000 Zipf tenants, 30 days, api.call) generated and stored in {secs:.1}s \
         ({:.0} events/s, store insert path, no HTTP)",
        rate(stored, secs)
    );
    Ok(())
}

// ==================================================================== render

#[derive(Default)]
struct RenderTimes {
    queries_ms: Vec<f64>,
    svg_ms: Vec<f64>,
    draw_ms: Vec<f64>,
    total_ms: Vec<f64>,
    bytes: usize,
}

fn fmt_ms(sorted: &[f64]) -> String {
    format!("p50 {:.1}  p95 {:.1}  max {:.1}", pct(sorted, 0.5), pct(sorted, 0.95), pct(sorted, 1.0))
}

/// A PNG's width and height, from its IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let w = u32::from_be_bytes(png.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(png.get(20..24)?.try_into().ok()?);
    Some((w, h))
}

async fn render_bench(
    args: &Args,
    state: &AppState,
    setup: &Setup,
    dir: &Path,
    now: DateTime<Utc>,
    summary: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    let dashboard = state
        .dashboards
        .dashboard(setup.scope.org_id, setup.scope.env_id, &setup.dashboard_id)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("the demo dashboard is missing"))?;
    let widgets = &effective_config(&dashboard).widgets;
    let period = Period::parse(&args.render_period).unwrap_or(Period::D30);
    let filters = ResolvedFilters {
        period,
        dimensions: Vec::new(),
        numeric_ranges: Vec::new(),
        date_range: None,
        max_range_days: None,
    };
    println!(
        "\n[render] \"{DEMO_DASHBOARD_NAME}\" ({} widgets), period {}, as a scheduled report draws it: \
         library calls (reports::document's steps), not HTTP",
        widgets.len(),
        args.render_period
    );
    for &rank in &args.render_tenant_ranks {
        let tenant = format!("tenant_{rank:04}");
        for format in ["png", "pdf"] {
            let mut times = RenderTimes::default();
            let mut last = Vec::new();
            let mut rows_scanned = 0u64;
            for run in 0..args.warmup_runs + args.render_runs {
                let started = Instant::now();
                let mut sections = Vec::with_capacity(widgets.len());
                for widget in widgets {
                    let data = evaluate_at(
                        &*state.events,
                        setup.scope,
                        &tenant,
                        widget,
                        &filters,
                        Instant::now(),
                        now,
                    )
                    .await;
                    sections.push((widget, data));
                }
                let queries_ms = ms_since(started);
                for (widget, data) in &sections {
                    let data = data.as_ref().map_err(|e| anyhow!("widget {}: {e}", widget.id))?;
                    rows_scanned = rows_scanned.max(data.meta.rows_scanned);
                }
                let svg_started = Instant::now();
                let subtitle =
                    format!("Tenant {tenant} · period {} · {}", args.render_period, timestamp(now));
                let page = render::ReportPage {
                    title: &dashboard.name,
                    subtitle: &subtitle,
                    locale: "en-US",
                    now: now.timestamp(),
                    widgets: sections
                        .iter()
                        .map(|(widget, data)| render::ReportWidget {
                            widget,
                            data: data.as_ref().map_err(|e| e.to_string()),
                        })
                        .collect(),
                };
                let svg = render::svg(&page);
                let svg_ms = ms_since(svg_started);
                // On the blocking pool, as reports::document draws.
                let draw_started = Instant::now();
                let drawn = tokio::task::spawn_blocking(move || {
                    if format == "pdf" { render::pdf(&svg) } else { render::png(&svg, 2.0) }
                })
                .await??;
                let draw_ms = ms_since(draw_started);
                if run >= args.warmup_runs {
                    times.queries_ms.push(queries_ms);
                    times.svg_ms.push(svg_ms);
                    times.draw_ms.push(draw_ms);
                    times.total_ms.push(ms_since(started));
                }
                times.bytes = drawn.len();
                last = drawn;
            }
            for v in [&mut times.queries_ms, &mut times.svg_ms, &mut times.draw_ms, &mut times.total_ms] {
                v.sort_by(f64::total_cmp);
            }
            let shape = match format {
                "png" => png_size(&last).map_or(String::new(), |(w, h)| format!(", {w}x{h} px (scale 2)")),
                _ => ", one page".to_owned(),
            };
            std::fs::write(dir.join(format!("report-{tenant}.{format}")), &last)?;
            println!(
                "\n  {} for {tenant} (rank {rank}): {} runs after {} warm-up; {:.0} KiB{shape}; \
                 largest widget scan {rows_scanned} rows",
                format.to_uppercase(),
                args.render_runs,
                args.warmup_runs,
                times.bytes as f64 / 1024.0
            );
            let step = if format == "png" { "rasterise+encode" } else { "SVG->PDF" };
            let queries = format!("{} queries ms", widgets.len());
            let draw = format!("{step} ms");
            for (label, values) in [
                ("total ms", &times.total_ms),
                (queries.as_str(), &times.queries_ms),
                ("SVG page ms", &times.svg_ms),
                (draw.as_str(), &times.draw_ms),
            ] {
                println!("    {label:<20} {}", fmt_ms(values));
            }
            summary.push((
                format!("render {} {tenant}: total p50 / p95 / max ms", format.to_uppercase()),
                format!(
                    "{:.1} / {:.1} / {:.1}",
                    pct(&times.total_ms, 0.5),
                    pct(&times.total_ms, 0.95),
                    pct(&times.total_ms, 1.0)
                ),
            ));
            summary.push((
                format!("  of which queries / SVG / {step} p50 ms"),
                format!(
                    "{:.1} / {:.1} / {:.1}",
                    pct(&times.queries_ms, 0.5),
                    pct(&times.svg_ms, 0.5),
                    pct(&times.draw_ms, 0.5)
                ),
            ));
            summary.push((format!("  size{}", shape.replace(", ", " ")), format!("{} bytes", times.bytes)));
        }
    }
    Ok(())
}

// ==================================================================== alerts

/// One alert's condition over one of the demo dashboard's evaluable widgets.
struct Condition {
    widget: &'static str,
    condition: &'static str,
    operator: &'static str,
    threshold: f64,
}

/// The mix the alerts cycle through: threshold, delta and no_data over the three ungrouped
/// widgets (count, p95 of latency_ms, count_unique); the grouped ones are refused by alerts.
const CONDITIONS: &[Condition] = &[
    Condition { widget: "calls", condition: "threshold", operator: "gt", threshold: 20.0 },
    Condition { widget: "p95_latency", condition: "threshold", operator: "gt", threshold: 2000.0 },
    Condition { widget: "calls", condition: "delta", operator: "gt", threshold: 5.0 },
    Condition { widget: "calls", condition: "no_data", operator: "gt", threshold: 0.0 },
    Condition { widget: "active_users", condition: "threshold", operator: "lt", threshold: 5.0 },
    Condition { widget: "p95_latency", condition: "delta", operator: "gt", threshold: 100.0 },
    Condition { widget: "calls", condition: "threshold", operator: "lt", threshold: 1.0 },
    Condition { widget: "active_users", condition: "delta", operator: "lt", threshold: -3.0 },
    Condition { widget: "calls", condition: "no_data", operator: "gt", threshold: 0.0 },
    Condition { widget: "p95_latency", condition: "threshold", operator: "gte", threshold: 1500.0 },
];

/// Store queries one reading makes: two windows for delta, one otherwise.
fn queries_per_reading(condition: &str) -> usize {
    if condition == "delta" { 2 } else { 1 }
}

/// One timed pass of the scheduler over every due alert.
struct Pass {
    jobs: usize,
    wall_ms: f64,
    cpu_secs: f64,
}

async fn pass(state: &AppState) -> anyhow::Result<Pass> {
    let cpu = self_cpu_secs();
    let started = Instant::now();
    let tick = scheduler::tick(state).await?;
    Ok(Pass { jobs: tick.jobs, wall_ms: ms_since(started), cpu_secs: self_cpu_secs() - cpu })
}

async fn alerts_bench(
    args: &Args,
    state: &AppState,
    url: &str,
    setup: &Setup,
    summary: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    let client = http::client()?;
    let pairs = args.alerts * args.tenants_per_alert;
    // Alert a watches every `alerts`-th tenant starting at rank a+1, so each alert mixes large
    // and small tenants and (for 10 x 100) every tenant is watched once.
    let mut ids = Vec::new();
    let mut queries = 0usize;
    for a in 0..args.alerts {
        let c = &CONDITIONS[a % CONDITIONS.len()];
        let tenants: Vec<String> = (0..args.tenants_per_alert)
            .map(|i| format!("tenant_{:04}", (a + i * args.alerts) % TENANTS + 1))
            .collect();
        let body = json!({
            "dashboard_id": setup.dashboard_id,
            "widget_id": c.widget,
            "name": format!("bench {a}: {} {} {} {}", c.widget, c.condition, c.operator, c.threshold),
            "condition_type": c.condition,
            "operator": c.operator,
            "threshold_value": c.threshold,
            "lookback_minutes": args.lookback_minutes,
            "tenant_ids": tenants,
        });
        let created = http::expect(
            client.post(format!("{url}/v1/alerts")).bearer_auth(&setup.admin_key).json(&body),
            201,
            "POST /v1/alerts",
        )
        .await?;
        let id = created["id"]
            .as_i64()
            .or_else(|| created["id"].as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| anyhow!("POST /v1/alerts: no id in {created}"))?;
        ids.push(id);
        queries += args.tenants_per_alert * queries_per_reading(c.condition);
    }
    let mix: Vec<String> = CONDITIONS
        .iter()
        .take(args.alerts)
        .map(|c| format!("{} {} {} {}", c.widget, c.condition, c.operator, c.threshold))
        .collect();
    println!(
        "\n[alerts] {} alerts x {} tenants = {pairs} alert-tenant pairs, lookback {} min, {queries} store \
         queries per pass; created with POST /v1/alerts; no mail or webhook configured (notifications \
         are recorded as events, not sent)\n  conditions: {}",
        args.alerts,
        args.tenants_per_alert,
        args.lookback_minutes,
        mix.join("; ")
    );

    // Pass 1: the jobs the creation scheduled are due now. Pass 2: one alert interval later.
    let first = pass(state).await?;
    ensure!(first.jobs == args.alerts, "pass 1 ran {} jobs, expected {}", first.jobs, args.alerts);
    state.clock.advance(state.alert_interval);
    let second = pass(state).await?;
    ensure!(second.jobs == args.alerts, "pass 2 ran {} jobs, expected {}", second.jobs, args.alerts);
    let per_k = |ms: f64| ms * 1000.0 / pairs as f64;
    let mut firing = 0usize;
    let mut errors = Vec::new();
    let mut rules: Vec<AlertRule> = Vec::new();
    for id in &ids {
        let rule = state.alerts.alert_by_id(*id).await?.ok_or_else(|| anyhow!("alert {id} is gone"))?;
        for s in state.alerts.alert_states(*id).await? {
            match s.state.as_str() {
                "firing" => firing += 1,
                "error" => errors.push(s.error.unwrap_or_default()),
                _ => {}
            }
        }
        rules.push(rule);
    }
    ensure!(errors.is_empty(), "{} pairs in error, e.g. {}", errors.len(), errors[0]);
    for (name, p) in [("pass 1 (first states)", &first), ("pass 2 (steady)", &second)] {
        println!(
            "  {name}: {} jobs, wall {:.0} ms = {:.0} ms per 1,000 pairs; CPU {:.2} s ({:.2} cores) = {:.2} CPU-s per 1,000 pairs",
            p.jobs,
            p.wall_ms,
            per_k(p.wall_ms),
            p.cpu_secs,
            p.cpu_secs / (p.wall_ms / 1000.0),
            p.cpu_secs * 1000.0 / pairs as f64
        );
    }
    println!("  after pass 2: {firing} of {pairs} pairs firing, none in error");

    // Each pair's reading alone: the call the pass makes per tenant, timed one by one.
    let now = state.clock.now();
    let dashboard = state
        .dashboards
        .dashboard(setup.scope.org_id, setup.scope.env_id, &setup.dashboard_id)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("the demo dashboard is missing"))?;
    let widget_of = |id: &str| -> anyhow::Result<Widget> {
        let w = effective_config(&dashboard)
            .widgets
            .iter()
            .find(|w| w.id == id)
            .ok_or_else(|| anyhow!("no widget {id}"))?;
        ensure!(not_evaluable(w).is_none(), "widget {id} is not evaluable");
        Ok(w.clone())
    };
    let mut read_ms = Vec::with_capacity(pairs);
    let mut by_condition: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let reads_started = Instant::now();
    let reads_cpu = self_cpu_secs();
    for rule in &rules {
        let widget = widget_of(&rule.widget_id)?;
        for tenant in &rule.tenant_ids {
            let started = Instant::now();
            let reading = evaluate::read(&*state.events, rule, &widget, tenant, now).await;
            let ms = ms_since(started);
            ensure!(!matches!(reading, evaluate::Reading::Failed(_)), "reading failed: {reading:?}");
            read_ms.push(ms);
            by_condition.entry(format!("{} {}", rule.condition_type, rule.widget_id)).or_default().push(ms);
        }
    }
    let reads_wall = ms_since(reads_started);
    let reads_cpu = self_cpu_secs() - reads_cpu;
    read_ms.sort_by(f64::total_cmp);
    println!(
        "  readings alone (alerts::evaluate::read per pair, sequential): {reads_wall:.0} ms for {pairs} \
         pairs = {:.0} ms per 1,000; CPU {reads_cpu:.2} s; per pair ms {}",
        per_k(reads_wall),
        fmt_ms(&read_ms)
    );
    // The per-pair write the pass makes after each reading: the state saved again as it is.
    let mut write_ms = Vec::with_capacity(pairs);
    for rule in &rules {
        for s in state.alerts.alert_states(rule.id).await? {
            let started = Instant::now();
            state.alerts.save_alert_state(&s).await?;
            write_ms.push(ms_since(started));
        }
    }
    let writes_sum: f64 = write_ms.iter().sum();
    write_ms.sort_by(f64::total_cmp);
    println!(
        "  state writes alone (meta::alerts save_alert_state per pair, metadata SQLite): {writes_sum:.0} ms \
         for {} pairs; per pair ms {}",
        write_ms.len(),
        fmt_ms(&write_ms)
    );
    let rest = second.wall_ms - reads_wall - writes_sum;
    if rest >= 0.0 {
        println!(
            "  so pass 2's {:.0} ms = readings {reads_wall:.0} ms + state writes {writes_sum:.0} ms + the rest \
             {rest:.0} ms (rules, states and dashboard loaded per alert, events for state changes, jobs)",
            second.wall_ms
        );
    } else {
        println!(
            "  so pass 2's {:.0} ms is its readings: the readings timed alone took {:.0} ms longer than the \
             whole pass (run-to-run noise on this machine exceeds the pass's bookkeeping)",
            second.wall_ms, -rest
        );
    }
    for (key, v) in &mut by_condition {
        v.sort_by(f64::total_cmp);
        println!("    {key:<26} {:>4} pairs, ms {}", v.len(), fmt_ms(v));
    }

    // The same shape through the API: the widget's metric for the tenant over period=1h (the
    // alert's 60-minute window), one GET per pair, on the real clock.
    let mut http_wall = Vec::with_capacity(pairs);
    let mut http_server = Vec::with_capacity(pairs);
    let period = match args.lookback_minutes {
        60 => "1h",
        1440 => "24h",
        _ => "1h",
    };
    for rule in &rules {
        let widget = widget_of(&rule.widget_id)?;
        for tenant in &rule.tenant_ids {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("event_name", &widget.query.event_name)
                .append_pair("tenant_id", tenant)
                .append_pair("metric", &widget.query.metric.to_string())
                .append_pair("period", period);
            if let Some(p) = &widget.query.numeric_prop {
                q.append_pair("numeric_prop", p);
            }
            let started = Instant::now();
            let body: Value = http::expect(
                client.get(format!("{url}/v1/query?{}", q.finish())).bearer_auth(&setup.admin_key),
                200,
                "GET /v1/query",
            )
            .await?;
            http_wall.push(ms_since(started));
            http_server.push(body["meta"]["query_time_ms"].as_f64().unwrap_or(f64::NAN));
        }
    }
    http_wall.sort_by(f64::total_cmp);
    http_server.sort_by(f64::total_cmp);
    let http_sum: f64 = http_wall.iter().sum();
    println!(
        "  reference GET /v1/query (same widget metric and tenant, period={period}), {pairs} calls: wall ms {}; \
         server meta.query_time_ms {}; sum {http_sum:.0} ms",
        fmt_ms(&http_wall),
        fmt_ms(&http_server)
    );
    let http_p50 = pct(&http_wall, 0.5);
    let expected = http_p50 * queries as f64;
    println!(
        "  ratio: pass 2 wall / ({queries} queries x GET p50 {http_p50:.2} ms = {expected:.0} ms) = {:.2}; \
         per-pair reading p50 / GET p50 = {:.2}",
        ratio(second.wall_ms, expected),
        ratio(pct(&read_ms, 0.5), http_p50)
    );

    summary.push((
        "alerts: pass wall ms per 1,000 pairs (pass 1 / pass 2)".to_owned(),
        format!("{:.0} / {:.0}", per_k(first.wall_ms), per_k(second.wall_ms)),
    ));
    summary.push((
        "alerts: pass CPU s per 1,000 pairs (pass 1 / pass 2)".to_owned(),
        format!(
            "{:.2} / {:.2}",
            first.cpu_secs * 1000.0 / pairs as f64,
            second.cpu_secs * 1000.0 / pairs as f64
        ),
    ));
    summary.push((
        "alerts: per-pair reading p50 / p95 / max ms".to_owned(),
        format!("{:.2} / {:.2} / {:.2}", pct(&read_ms, 0.5), pct(&read_ms, 0.95), pct(&read_ms, 1.0)),
    ));
    summary.push((
        "alerts: per-pair state write p50 / p95 ms".to_owned(),
        format!("{:.2} / {:.2}", pct(&write_ms, 0.5), pct(&write_ms, 0.95)),
    ));
    summary.push((
        format!("GET /v1/query period={period} wall p50 / p95 ms"),
        format!("{:.2} / {:.2}", http_p50, pct(&http_wall, 0.95)),
    ));
    summary
        .push((format!("pass 2 / ({queries} x GET p50)"), format!("{:.2}", ratio(second.wall_ms, expected))));
    Ok(())
}

// ==================================================================== reports, end to end

/// Scheduled report runs through the scheduler, end to end: a report created with
/// `POST /v1/reports` (every minute, mail to an address on a server without SMTP, so the
/// document is rendered and the mail recorded as `not_configured`), the clock advanced a minute
/// and `scheduler::tick` timed once per run. The alerts are deleted first so each tick runs
/// only the report.
async fn report_runs(
    args: &Args,
    state: &AppState,
    url: &str,
    setup: &Setup,
    summary: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    if args.report_runs == 0 {
        return Ok(());
    }
    let client = http::client()?;
    for alert in state.alerts.list_alerts(setup.scope.org_id).await? {
        http::expect(
            client.delete(format!("{url}/v1/alerts/{}", alert.id)).bearer_auth(&setup.admin_key),
            204,
            "DELETE /v1/alerts",
        )
        .await?;
    }
    let tenant = format!("tenant_{:04}", args.render_tenant_ranks.first().copied().unwrap_or(10));
    println!(
        "\n[report runs] {tenant}, period {}, through POST /v1/reports and scheduler::tick (queries, \
         render, run record; mail recorded as not_configured), {} runs per format",
        args.render_period, args.report_runs
    );
    for format in ["png", "pdf"] {
        let created = http::expect(
            client.post(format!("{url}/v1/reports")).bearer_auth(&setup.admin_key).json(&json!({
                "dashboard_id": setup.dashboard_id,
                "tenant_id": tenant,
                "name": format!("bench {format}"),
                "period": args.render_period,
                "schedule": "* * * * *",
                "format": format,
                "email_to": ["bench-report@example.com"],
            })),
            201,
            "POST /v1/reports",
        )
        .await?;
        let id = created["id"]
            .as_i64()
            .or_else(|| created["id"].as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| anyhow!("POST /v1/reports: no id in {created}"))?;
        let mut wall = Vec::new();
        for _ in 0..args.report_runs {
            state.clock.advance(Duration::seconds(60));
            let started = Instant::now();
            let tick = scheduler::tick(state).await?;
            wall.push(ms_since(started));
            ensure!(tick.jobs == 1, "a report tick ran {} jobs", tick.jobs);
        }
        let runs = state.reports.report_runs(id, 100).await?;
        ensure!(
            runs.len() == args.report_runs,
            "{} runs recorded, expected {}",
            runs.len(),
            args.report_runs
        );
        for run in &runs {
            ensure!(run.status == "succeeded", "report run {}: {} {:?}", run.id, run.status, run.error);
        }
        let bytes = runs[0].bytes.unwrap_or(0);
        wall.sort_by(f64::total_cmp);
        println!(
            "  {}: tick ms {}; {bytes} bytes; every run succeeded",
            format.to_uppercase(),
            fmt_ms(&wall)
        );
        summary.push((
            format!("report run {} through the scheduler p50 / max ms", format.to_uppercase()),
            format!("{:.1} / {:.1}", pct(&wall, 0.5), pct(&wall, 1.0)),
        ));
        http::expect(
            client.delete(format!("{url}/v1/reports/{id}")).bearer_auth(&setup.admin_key),
            204,
            "DELETE /v1/reports",
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_size_reads_what_the_renderer_drew() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="30" height="20"><rect width="30" height="20"/></svg>"#;
        let png = render::png(svg, 2.0).expect("renders");
        assert_eq!(png_size(&png), Some((60, 40)));
        assert_eq!(png_size(&png[..10]), None);
    }

    #[test]
    fn delta_reads_two_windows() {
        assert_eq!(queries_per_reading("delta"), 2);
        assert_eq!(queries_per_reading("threshold"), 1);
        assert_eq!(queries_per_reading("no_data"), 1);
        let pairs: usize = CONDITIONS.iter().map(|c| 100 * queries_per_reading(c.condition)).sum();
        assert_eq!(pairs, 1300, "the recorded runs' 1,300 queries per pass");
    }
}
