//! Deleting an org on the ClickHouse events store (issue 15): its rows leave the events table and
//! every rollup before the answer, and the other org's stay.

use emban_host_server::{
    config::ServeArgs,
    events::clickhouse::{ClickHouseClient, ClickHouseUrl, ROLLUPS},
};
use serde_json::{Value, json};

use crate::server::{ClickHouse, TempDir};

async fn rows(client: &ClickHouseClient, table: &str, org_id: i64) -> u64 {
    let answer = client
        .select(&format!("SELECT count() FROM {table} WHERE org_id = {org_id}"), &[])
        .await
        .expect("count");
    answer.rows[0][0]
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| answer.rows[0][0].as_u64())
        .expect("number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_org_removes_its_events_and_rollups_from_clickhouse() {
    let ch = ClickHouse::start();
    let dir = TempDir::new("emban-ch-delete");
    let mut args = ServeArgs::for_data_dir(dir.path());
    args.events_url = Some(ch.url("orgdel"));
    let server = emban_host_server::start(args).await.expect("start");
    let http = reqwest::Client::new();
    let base = server.url();
    let mut orgs = Vec::new();
    for n in 0..2 {
        let registered = http
            .post(format!("{base}/v1/auth/register"))
            .json(&json!({ "email": format!("ch{n}@example.com"), "password": "correct horse battery" }))
            .send()
            .await
            .expect("register");
        let cookie = registered
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().filter(|p| p.starts_with("emban_session=")))
            .expect("cookie")
            .to_owned();
        let body: Value = registered.json().await.expect("json");
        let key = body["api_key"]["key"].as_str().expect("key").to_owned();
        let events: Vec<Value> = (0..50)
            .map(|i| {
                json!({ "tenant_id": "acme", "event_name": "api.call", "event_id": format!("e-{i}"),
                             "string_props": { "model": "gpt-4" }, "numeric_props": { "tokens": i } })
            })
            .collect();
        let stored: Value = http
            .post(format!("{base}/v1/events"))
            .bearer_auth(&key)
            .json(&json!({ "events": events }))
            .send()
            .await
            .expect("ingest")
            .json()
            .await
            .expect("json");
        assert_eq!(stored["accepted"], 50, "{stored}");
        orgs.push((
            body["org"]["id"].as_i64().expect("org id"),
            body["org"]["name"].as_str().expect("name").to_owned(),
            cookie,
        ));
    }
    let client =
        ClickHouseClient::new(ClickHouseUrl::parse(&ch.url("orgdel")).expect("url")).expect("client");
    let (doomed, name, cookie) = &orgs[0];
    let other = orgs[1].0;
    let tables: Vec<String> =
        std::iter::once("events".to_owned()).chain(ROLLUPS.iter().map(|(t, _, _)| (*t).to_owned())).collect();
    for table in &tables {
        assert!(rows(&client, table, *doomed).await > 0, "{table} holds the org before");
    }

    let deleted = http
        .delete(format!("{base}/v1/settings/org"))
        .header("cookie", cookie)
        .header("origin", &base)
        .json(&json!({ "confirm": name }))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status().as_u16(), 204, "{}", deleted.text().await.unwrap_or_default());
    for table in &tables {
        assert_eq!(rows(&client, table, *doomed).await, 0, "{table} still holds the deleted org");
        assert!(rows(&client, table, other).await > 0, "{table} lost the other org");
    }
    assert_eq!(server.state.events.count_org_events(other).await.expect("count"), 50);
    server.stop().await.expect("stop");
}
