//! `emban serve --events-url …` end to end: ingest, planned queries, ad-hoc SQL, datasets and
//! saved queries over HTTP.

use emban_host_server::config::ServeArgs;
use serde_json::{Value, json};

use crate::server::{ClickHouse, TempDir};

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_clickhouse_end_to_end() {
    let ch = ClickHouse::start();
    let dir = TempDir::new("emban-ch-api");
    let mut args = ServeArgs::for_data_dir(dir.path());
    args.events_url = Some(ch.url("api"));
    let server = emban_host_server::start(args).await.expect("start");
    let http = reqwest::Client::new();
    let base = server.url();
    let registered: Value = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"email": "ch@example.com", "password": "correct horse battery"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let key = registered["api_key"]["key"].as_str().expect("key").to_owned();
    let client = Client { http, base, key };

    let now = chrono::Utc::now();
    let events: Vec<Value> = (0..300)
        .map(|i| {
            json!({
                "tenant_id": "acme",
                "event_name": "api.call",
                "timestamp": (now - chrono::Duration::minutes(i * 7)).to_rfc3339(),
                "event_id": format!("e-{i}"),
                "user_id": format!("u-{}", i % 17),
                "string_props": {"model": if i % 3 == 0 { "gpt-4" } else { "claude" }, "region": "eu"},
                "numeric_props": {"tokens": i}
            })
        })
        .collect();
    let (status, body) =
        client.send(reqwest::Method::POST, "/v1/events", Some(json!({"events": events}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 300);
    // Replaying the batch stores nothing new.
    let (_, body) = client.send(reqwest::Method::POST, "/v1/events", Some(json!({"events": events}))).await;
    assert_eq!((body["accepted"].as_u64(), body["duplicates"].as_u64()), (Some(0), Some(300)), "{body}");

    let (status, body) = client
        .send(reqwest::Method::GET, "/v1/query?event_name=api.call&tenant_id=acme&metric=count&period=7d&granularity=day&f_model=gpt-4", None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["meta"]["planned_by"], "daily_rollup", "{body}");
    assert_eq!(body["meta"]["source_table"], "events_daily");
    assert_eq!(body["meta"]["rollup_granularity"], "day");
    let total: f64 = body["data"].as_array().expect("data").iter().filter_map(|r| r["value"].as_f64()).sum();
    assert_eq!(total, 100.0);
    let (_, body) = client
        .send(
            reqwest::Method::GET,
            "/v1/query?event_name=api.call&tenant_id=acme&metric=p95&period=7d&numeric_prop=tokens",
            None,
        )
        .await;
    assert_eq!(body["meta"]["planned_by"], "raw", "{body}");
    let (_, body) = client
        .send(
            reqwest::Method::GET,
            "/v1/query?event_name=api.call&tenant_id=acme&metric=count&period=7d&group_by=region",
            None,
        )
        .await;
    assert_eq!(body["meta"]["planned_by"], "raw", "{body}");

    let (status, body) = client
        .send(reqwest::Method::POST, "/v1/query/adhoc", Some(json!({"sql": "SELECT s_model AS model, count() AS n FROM events GROUP BY model ORDER BY model"})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["columns"][0]["name"], "model");
    assert_eq!(body["rows"], json!([["claude", "200"], ["gpt-4", "100"]]));
    assert_eq!(body["stats"]["rows_returned"], 2);
    assert_eq!(body["stats"]["truncated"], false);
    let (status, body) = client
        .send(reqwest::Method::POST, "/v1/query/adhoc", Some(json!({"sql": "SELECT * FROM system.tables"})))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_request");
    let (status, _) = client
        .send(
            reqwest::Method::POST,
            "/v1/query/adhoc",
            Some(json!({"sql": "SELECT count() FROM nonexistent_column_table_x WHERE"})),
        )
        .await;
    assert_eq!(status, 400);

    let (status, body) = client.send(reqwest::Method::GET, "/v1/datasets", None).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> =
        body["datasets"].as_array().expect("list").iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ["events", "events_hourly", "events_daily"]);
    assert_eq!(body["datasets"][0]["approx_rows"], 300);
    let (status, body) = client.send(reqwest::Method::GET, "/v1/datasets/events/ddl", None).await;
    assert_eq!(status, 200);
    assert!(body["ddl"].as_str().expect("ddl").contains("CREATE TABLE"));
    let (status, _) = client.send(reqwest::Method::GET, "/v1/datasets/system.tables/ddl", None).await;
    assert_eq!(status, 404);

    let (status, created) = client
        .send(
            reqwest::Method::POST,
            "/v1/saved-queries",
            Some(json!({"name": "by model", "sql": "SELECT 1", "dataset": "events"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["starred"], false);
    let (status, patched) = client
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/saved-queries/{id}"),
            Some(json!({"starred": true, "name": "renamed"})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!((patched["starred"].as_bool(), patched["name"].as_str()), (Some(true), Some("renamed")));
    let (status, _) = client
        .send(
            reqwest::Method::POST,
            "/v1/saved-queries",
            Some(json!({"name": "x", "sql": "SELECT 1", "dataset": "system.tables"})),
        )
        .await;
    assert_eq!(status, 400);
    let (_, list) = client.send(reqwest::Method::GET, "/v1/saved-queries", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let (status, _) = client.send(reqwest::Method::DELETE, &format!("/v1/saved-queries/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = client.send(reqwest::Method::DELETE, &format!("/v1/saved-queries/{id}"), None).await;
    assert_eq!(status, 404);
    let (status, _) = client.send(reqwest::Method::PATCH, "/v1/saved-queries/abc", Some(json!({}))).await;
    assert_eq!(status, 404);

    server.stop().await.expect("stop");
}
