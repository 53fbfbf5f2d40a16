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
