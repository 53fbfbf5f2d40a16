//! Fixtures: a real `emban` server per test (the binary from `EMBAN_BIN`, or the one cargo built
//! beside this test), a fresh org in it, and a TCP proxy on loopback that injects failures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::PathBuf,
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use emban_sdk::{
    Client,
    contract::query::{Metric, Period},
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    process::{Child, Command},
};

/// A running server and an org in it.
pub struct Server {
    /// `http://127.0.0.1:port`.
    pub url: String,
    /// The org's admin key.
    pub admin_key: String,
    /// An ingest key of the org.
    pub ingest_key: String,
    _child: Child,
    data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The server binary: `EMBAN_BIN`, else `emban` beside this test's directory (cargo builds it for
/// the workspace's tests). Fails loudly when neither exists: nothing is skipped.
fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("EMBAN_BIN") {
        let bin = PathBuf::from(bin);
        assert!(bin.is_file(), "EMBAN_BIN={} does not exist", bin.display());
        return bin;
    }
    let exe = std::env::current_exe().expect("test executable");
    let sibling = exe.parent().and_then(|deps| deps.parent()).map(|dir| dir.join("emban"));
    match sibling {
        Some(bin) if bin.is_file() => bin,
        _ => panic!(
            "no emban binary: set EMBAN_BIN (scripts/test-sdk.sh does) or build it with \
             `cargo build -p emban-host-server --bin emban`"
        ),
    }
}

impl Server {
    /// Starts a server on a free loopback port with a fresh data dir, and registers an org.
    pub async fn start() -> Server {
        let data_dir = std::env::temp_dir().join(format!("emban-sdk-rust-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let mut child = Command::new(binary())
            .args(["serve", "--bind", "127.0.0.1:0", "--demo", "false", "--data-dir"])
            .arg(&data_dir)
            .env("EMBAN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("starting emban");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.strip_prefix("emban listening on ") {
                    return rest.split_whitespace().next().unwrap().to_owned();
                }
            }
            panic!("emban exited before listening")
        })
        .await
        .expect("emban did not start within 60 s");

        let http = reqwest::Client::new();
        let email = format!("sdk-{}@example.com", uuid::Uuid::new_v4().simple());
        let registered: serde_json::Value = http
            .post(format!("{url}/v1/auth/register"))
            .json(&serde_json::json!({ "email": email, "password": "correct horse battery" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let admin_key = registered["api_key"]["key"].as_str().expect("admin key").to_owned();
        let admin = Client::builder(&admin_key).base_url(&url).build().unwrap();
        let ingest = admin
            .create_api_key(&emban_sdk::CreateApiKeyRequest {
                label: "ingest".into(),
                scope: "ingest".into(),
                environment: None,
            })
            .await
            .unwrap();
        Server { url, admin_key, ingest_key: ingest.key, _child: child, data_dir }
    }

    /// An admin client.
    pub fn admin(&self) -> Client {
        Client::builder(&self.admin_key).base_url(&self.url).build().unwrap()
    }

    /// How many `event` events `tenant` has in the last 24 hours.
    pub async fn count(&self, tenant: &str, event: &str) -> f64 {
        let params = emban_sdk::QueryParams::new(tenant, event, Metric::Count, Period::H24);
        let answer = self.admin().query(&params).await.unwrap();
        answer.data.iter().filter_map(|r| r.value).sum()
    }
}

/// What the proxy does with the `n`th connection (from 1).
#[derive(Debug, Clone)]
pub enum Fate {
    /// Pass it through to the server.
    Forward,
    /// Close it without answering.
    Drop,
    /// Read the request, answer this status, headers and JSON body, close.
    Answer(u16, Vec<(&'static str, String)>, String),
}

/// A TCP proxy on loopback; counts connections.
pub struct Proxy {
    /// `http://127.0.0.1:port`.
    pub url: String,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
}

impl Proxy {
    /// A proxy in front of `target` (`http://host:port`) deciding each connection with `plan`.
    pub async fn start(target: &str, plan: impl Fn(usize) -> Fate + Send + Sync + 'static) -> Proxy {
        let upstream = target.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let plan = Arc::new(plan);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let fate = plan(n);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    match fate {
                        Fate::Drop => drop(inbound),
                        Fate::Forward => {
                            if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            }
                        }
                        Fate::Answer(status, headers, body) => {
                            let mut buf = vec![0u8; 1 << 20];
                            let _ = inbound.read(&mut buf).await;
                            let mut head = format!(
                                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                                body.len()
                            );
                            for (k, v) in headers {
                                head.push_str(&format!("{k}: {v}\r\n"));
                            }
                            head.push_str("\r\n");
                            let _ = inbound.write_all(head.as_bytes()).await;
                            let _ = inbound.write_all(body.as_bytes()).await;
                            let _ = inbound.shutdown().await;
                        }
                    }
                });
            }
        });
        Proxy { url, connections }
    }

    /// Connections so far.
    pub fn count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// An `{"error", "code"}` body.
pub fn envelope(code: &str, message: &str) -> String {
    serde_json::json!({ "error": message, "code": code }).to_string()
}
