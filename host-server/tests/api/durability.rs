//! Durability: every acknowledged event survives a SIGKILL of the real `emban` binary, and a
//! graceful restart keeps events, keys, de-duplication and usage.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration as StdDuration,
};

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    common::{Auth, Resp, TempDir, TestApp, http_client, unique_email},
    model::{Event, batch},
};

/// The `emban` binary serving a data dir; killed when dropped.
pub struct Binary {
    child: Child,
    /// `http://127.0.0.1:port`.
    pub url: String,
}

impl Binary {
    /// Runs `emban serve` on `data_dir` and waits for its "listening" line.
    fn start(data_dir: &Path, log: &Path) -> Binary {
        Self::start_with(data_dir, log, &["--demo", "false"])
    }

    /// Runs `emban serve` on `data_dir` with these flags (and no `EMBAN_*` settings from the
    /// environment), and waits for its "listening" line.
    pub fn start_with(data_dir: &Path, log: &Path, flags: &[&str]) -> Binary {
        let log = std::fs::File::create(log).expect("creating the server log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_emban"));
        for (name, _) in std::env::vars_os() {
            if name.to_str().is_some_and(|n| n.starts_with("EMBAN_")) {
                command.env_remove(name);
            }
        }
        let mut child = command
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"])
            .args(flags)
            .arg("--data-dir")
            .arg(data_dir)
            .env("EMBAN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("starting emban");
        let stdout = child.stdout.take().expect("piped stdout");
        let (found, listening) = std::sync::mpsc::channel();
        // Reads until the server's stdout closes, so the server never writes into a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // `emban listening on http://ADDR (data dir ...)`
                if let Some(rest) = line.strip_prefix("emban listening on ") {
                    let _ = found.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
            }
        });
        let url =
            listening.recv_timeout(StdDuration::from_secs(120)).expect("emban listens within 2 minutes");
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Binary { child, url }
    }

    /// The server's peak resident memory so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmHWM");
        kib * 1024
    }

    /// SIGKILL, and reap.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping emban");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(client: &reqwest::Client, url: String, auth: &Auth, body: &Value) -> Resp {
    let request = auth.apply(client.post(url).json(body));
    Resp::read(request.send().await.expect("request")).await
}

async fn count_and_sum(client: &reqwest::Client, base: &str, auth: &Auth) -> (u64, f64) {
    let mut out = (0, 0.0);
    for metric in ["count", "sum"] {
        let mut url =
            format!("{base}/v1/query?event_name=api.call&tenant_id=acme&metric={metric}&period=24h");
        if metric == "sum" {
            url.push_str("&numeric_prop=tokens");
        }
        let resp = Resp::read(auth.apply(client.get(url)).send().await.expect("query")).await;
        let value = resp.ok(StatusCode::OK)["data"][0]["value"].as_f64().expect("a number");
        if metric == "count" {
            out.0 = value as u64;
        } else {
            out.1 = value;
        }
    }
    out
}

fn batch_of(b: usize, size: usize) -> Vec<Event> {
    let now = Utc::now();
    (0..size)
        .map(|i| {
            Event::new("acme", "api.call", now - Duration::minutes(((b * size + i) % 600) as i64 + 1))
                .id(&format!("b{b}-e{i}"))
                .user(&format!("user_{}", i % 50))
                .s("model", if i % 3 == 0 { "gpt-4" } else { "claude-3" })
                .n("tokens", (i % 100) as f64)
        })
        .collect()
}

#[tokio::test]
async fn acknowledged_events_survive_sigkill() {
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let client = http_client();
    let mut server = Binary::start(&data, &dir.path().join("first.log"));

    let resp = post(
        &client,
        format!("{}/v1/auth/register", server.url),
        &Auth::None,
        &json!({
            "email": unique_email(), "password": "correct horse battery"
        }),
    )
    .await;
    let admin = Auth::Key(resp.ok(StatusCode::CREATED)["api_key"]["key"].as_str().expect("key").to_owned());
    let resp = post(
        &client,
        format!("{}/v1/api-keys", server.url),
        &admin,
        &json!({ "label": "ingest", "scope": "ingest" }),
    )
    .await;
    let ingest = Auth::Key(resp.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned());

    let mut acknowledged = 0;
    let mut tokens = 0.0;
    let mut batches = Vec::new();
    // Batches one after another...
    for b in 0..4 {
        let events = batch_of(b, 400);
        let resp = post(&client, format!("{}/v1/events", server.url), &ingest, &batch(&events)).await;
        acknowledged += resp.ok(StatusCode::OK)["accepted"].as_u64().expect("accepted");
        tokens += events.iter().map(|e| e.numeric_props["tokens"]).sum::<f64>();
        batches.push(events);
    }
    // ...then several at once, sharing group commits; SIGKILL right after the last 2xx.
    let mut in_flight = Vec::new();
    for b in 4..10 {
        let events = batch_of(b, 300);
        let (client, url, ingest, body) =
            (client.clone(), format!("{}/v1/events", server.url), ingest.clone(), batch(&events));
        tokens += events.iter().map(|e| e.numeric_props["tokens"]).sum::<f64>();
        batches.push(events);
        in_flight.push(tokio::spawn(async move { post(&client, url, &ingest, &body).await }));
    }
    let mut last = None;
    for handle in in_flight {
        last = Some(handle.await.expect("request task"));
    }
    let last = last.expect("responses");
    server.kill();
    assert_eq!(last.ok(StatusCode::OK)["accepted"], 300);
    acknowledged += 300 * 6;
    assert_eq!(acknowledged, 400 * 4 + 300 * 6);

    let mut server = Binary::start(&data, &dir.path().join("second.log"));
    assert_eq!(
        count_and_sum(&client, &server.url, &admin).await,
        (acknowledged, tokens),
        "every acknowledged event is back"
    );
    // The ids are remembered too: resending is a no-op.
    for events in [&batches[0], &batches[9]] {
        let resp = post(&client, format!("{}/v1/events", server.url), &ingest, &batch(events)).await;
        assert_eq!(
            resp.ok(StatusCode::OK),
            &json!({ "accepted": 0, "status": "ok", "duplicates": events.len() })
        );
    }
    assert_eq!(count_and_sum(&client, &server.url, &admin).await, (acknowledged, tokens));
    server.kill();
}

/// Registers an account on `url`; returns its admin key and a new ingest key.
async fn admin_and_ingest(client: &reqwest::Client, url: &str) -> (Auth, Auth) {
    let body = json!({ "email": unique_email(), "password": "correct horse battery" });
    let resp = post(client, format!("{url}/v1/auth/register"), &Auth::None, &body).await;
    let admin = Auth::Key(resp.ok(StatusCode::CREATED)["api_key"]["key"].as_str().expect("key").to_owned());
    let body = json!({ "label": "ingest", "scope": "ingest" });
    let resp = post(client, format!("{url}/v1/api-keys"), &admin, &body).await;
    let ingest = Auth::Key(resp.ok(StatusCode::CREATED)["key"].as_str().expect("key").to_owned());
    (admin, ingest)
}

/// Batch `b` of load client `c`: its own tenant, ids `c{c}-b{b}-e{i}`.
fn load_batch(c: usize, b: usize, size: usize) -> Vec<Event> {
    let now = Utc::now();
    (0..size)
        .map(|i| {
            Event::new(&format!("load{c}"), "api.call", now - Duration::seconds((i % 3_600) as i64 + 1))
                .id(&format!("c{c}-b{b}-e{i}"))
                .s("model", "gpt-4")
                .n("tokens", 1.0)
        })
        .collect()
}

/// One load client's record: batches answered 2xx, and the one in doubt (sent, no answer).
#[derive(Default)]
struct LoadRecord {
    acknowledged: Vec<usize>,
    in_doubt: Option<usize>,
}

/// Eight clients post batches back to back at the real binary; after a few seconds of that
/// sustained load it is SIGKILLed with requests in flight. After a restart on the same data dir,
/// every acknowledged event is stored exactly once, a batch in doubt is stored whole or not at
/// all, and nothing else is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_sigkill_under_sustained_multi_client_load() {
    const CLIENTS: usize = 8;
    const BATCH: usize = 250;
    let dir = TempDir::new();
    let data = dir.path().join("data");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(StdDuration::from_secs(30))
        .build()
        .expect("HTTP client");
    let mut server = Binary::start(&data, &dir.path().join("first.log"));
    let (admin, ingest) = admin_and_ingest(&client, &server.url).await;

    let mut loads = Vec::new();
    for c in 0..CLIENTS {
        let (client, url, ingest) = (client.clone(), format!("{}/v1/events", server.url), ingest.clone());
        loads.push(tokio::spawn(async move {
            let mut record = LoadRecord::default();
            for b in 0.. {
                let body = batch(&load_batch(c, b, BATCH));
                let answer = match ingest.apply(client.post(url.as_str()).json(&body)).send().await {
                    Ok(response) if response.status() == StatusCode::OK => response.json::<Value>().await,
                    Ok(response) => panic!("client {c} batch {b}: {}", response.status()),
                    Err(e) => Err(e),
                };
                match answer {
                    Ok(answer) => {
                        assert_eq!(answer["accepted"], BATCH, "client {c} batch {b}: {answer}");
                        record.acknowledged.push(b);
                    }
                    // The kill: this batch was sent and not answered.
                    Err(_) => {
                        record.in_doubt = Some(b);
                        break;
                    }
                }
            }
            record
        }));
    }
    // Sustained load, then SIGKILL while every client has a batch in flight.
    tokio::time::sleep(StdDuration::from_secs(4)).await;
    server.kill();
    let mut records = Vec::new();
    for load in loads {
        records.push(load.await.expect("load client"));
    }
    let acknowledged: usize = records.iter().map(|r| r.acknowledged.len()).sum();
    eprintln!("{} events acknowledged by {CLIENTS} clients before the kill", acknowledged * BATCH);
    assert!(
        records.iter().all(|r| r.acknowledged.len() >= 2 && r.in_doubt.is_some()),
        "every client had batches acknowledged before the kill, then one unanswered: {:?}",
        records.iter().map(|r| (r.acknowledged.len(), r.in_doubt)).collect::<Vec<_>>()
    );

    // Restart on the same data: counts per client tenant through the API.
    let mut server = Binary::start(&data, &dir.path().join("second.log"));
    let mut stored_batches = 0;
    for (c, record) in records.iter().enumerate() {
        let url =
            format!("{}/v1/query?event_name=api.call&tenant_id=load{c}&metric=count&period=24h", server.url);
        let resp = Resp::read(admin.apply(client.get(url)).send().await.expect("query")).await;
        let rows = resp.ok(StatusCode::OK)["data"].as_array().expect("data").clone();
        let count: u64 = rows.iter().map(|r| r["value"].as_f64().expect("value") as u64).sum();
        let acked = (record.acknowledged.len() * BATCH) as u64;
        assert!(
            count == acked || count == acked + BATCH as u64,
            "client {c}: {count} events stored, {acked} acknowledged (plus at most the batch in doubt)"
        );
        stored_batches += count as usize / BATCH;
        // The de-duplication window survived too: a resent acknowledged batch stores nothing.
        let last = *record.acknowledged.last().expect("acknowledged");
        let resp =
            post(&client, format!("{}/v1/events", server.url), &ingest, &batch(&load_batch(c, last, BATCH)))
                .await;
        assert_eq!(resp.ok(StatusCode::OK), &json!({ "accepted": 0, "status": "ok", "duplicates": BATCH }));
    }
    server.kill();

    // Id by id, in the store file itself: each acknowledged id once, nothing unsent.
    let conn = duckdb::Connection::open(data.join("events.duckdb")).expect("opening events.duckdb");
    let mut stmt = conn
        .prepare("SELECT event_id, count(*) FROM events WHERE tenant_id LIKE 'load%' GROUP BY event_id")
        .expect("prepare");
    let mut stored = std::collections::HashMap::new();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).expect("query") {
        let (id, n) = row.expect("row");
        stored.insert(id, n);
    }
    assert!(stored.values().all(|n| *n == 1), "an event is stored twice");
    assert_eq!(stored.len(), stored_batches * BATCH, "the API's counts and the file agree");
    for (c, record) in records.iter().enumerate() {
        for b in record.acknowledged.iter().copied().chain(record.in_doubt) {
            let present = (0..BATCH).filter(|i| stored.contains_key(&format!("c{c}-b{b}-e{i}"))).count();
            if record.in_doubt == Some(b) {
                assert!(present == 0 || present == BATCH, "client {c}'s batch in doubt is partly stored");
            } else {
                assert_eq!(present, BATCH, "client {c} batch {b} was acknowledged");
            }
        }
    }
    assert!(acknowledged * BATCH <= stored.len() && stored.len() <= (acknowledged + CLIENTS) * BATCH);
}

#[tokio::test]
async fn a_graceful_restart_keeps_events_keys_dedup_and_usage() {
    let app = TestApp::spawn().await;
    let account = app.register().await;
    let ingest = app.create_key(&account.admin(), "ingest").await;
    let events = batch_of(0, 250);
    assert_eq!(app.ingest_ok(&ingest.auth(), &events).await, (250, 0));
    assert_eq!(app.count(&account.admin(), "acme", "api.call", "24h").await, 250);

    let app = app.restart().await;
    assert_eq!(app.count(&account.admin(), "acme", "api.call", "24h").await, 250);
    assert_eq!(app.count(&account.session(), "acme", "api.call", "24h").await, 250);
    assert_eq!(app.ingest_ok(&ingest.auth(), &events).await, (0, 250));
    let usage = app.get("/v1/usage?period=30d", &account.admin()).await;
    let totals = &usage.ok(StatusCode::OK)["totals"];
    assert_eq!(totals, &json!({ "events_ingested": 250, "queries": 3 }), "counters flushed at shutdown");
}
