//! The load generators' side of HTTP: clients built one way for loopback (no proxy from the
//! environment in the measured path), the bench user's sign-up, and one status check per call.

use anyhow::{anyhow, ensure};
use reqwest::{Client, RequestBuilder};
use serde_json::{Value, json};

/// The bench user's sign-in (scripts/bench_runtime_10m.sh signs in with it over kept data).
pub const EMAIL: &str = "bench@example.com";
/// The bench user's password.
pub const PASSWORD: &str = "bench-password-1";

/// A client for the server on loopback, pooling connections as reqwest does.
pub fn client() -> reqwest::Result<Client> {
    Client::builder().no_proxy().build()
}

/// A client that keeps one connection (a load-generator task is one keep-alive connection).
pub fn one_connection_client() -> reqwest::Result<Client> {
    Client::builder().no_proxy().pool_max_idle_per_host(1).build()
}

/// Sends `request`, fails unless the answer has status `expected`, and returns its JSON body
/// (`Null` when empty). `what` names the call in the error.
pub async fn expect(request: RequestBuilder, expected: u16, what: &str) -> anyhow::Result<Value> {
    let response = request.send().await?;
    let status = response.status();
    let bytes = response.bytes().await?;
    ensure!(status.as_u16() == expected, "{what}: {status} {}", String::from_utf8_lossy(&bytes));
    if bytes.is_empty() { Ok(Value::Null) } else { Ok(serde_json::from_slice(&bytes)?) }
}

/// Registers the bench user with an org "Bench" and returns the admin API key it is given.
pub async fn register(client: &Client, url: &str) -> anyhow::Result<String> {
    let body = expect(
        client
            .post(format!("{url}/v1/auth/register"))
            .json(&json!({ "email": EMAIL, "password": PASSWORD, "org_name": "Bench" })),
        201,
        "register",
    )
    .await?;
    Ok(body["api_key"]["key"].as_str().ok_or_else(|| anyhow!("register: no api_key.key"))?.to_owned())
}
