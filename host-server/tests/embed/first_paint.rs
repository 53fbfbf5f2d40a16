//! The embed page carries the first paint's data (issue 14): the published dashboard and each
//! visible widget's first answer, under the session's permissions, in a script element no value
//! can break out of; nothing for a revoked session.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Auth, TestApp, tenant_events};

const INDEX: &str = "<!doctype html><html><head><title>Emban</title></head><body></body></html>";
const OPEN: &str = "<script type=\"application/json\" id=\"emban-initial\">";
const ANSWERS: &str = "<script type=\"application/json\" id=\"emban-answers\">";

/// The JSON in the element that `open` starts, checked for raw `<`.
fn element(page: &str, open: &str) -> Option<Value> {
    let start = page.find(open)? + open.len();
    let text = &page[start..start + page[start..].find("</script>").expect("the element ends")];
    assert!(!text.contains('<'), "a raw < in the inlined data: {text}");
    Some(serde_json::from_str(text).expect("the inlined data is JSON"))
}

/// The inlined data of the page at `/embed/{id}?token=` as `{"dashboard", "answers"}` (the
/// head's element and the body's), or `None` without any.
async fn inlined(app: &TestApp, id: &str, token: &str) -> Option<Value> {
    let response =
        app.client.get(format!("{}/embed/{id}?token={token}", app.url())).send().await.expect("page");
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.expect("page text");
    let head = &page[..page.find("</head>").expect("a head")];
    let Some(dashboard) = element(head, OPEN) else {
        assert!(!page.contains(ANSWERS), "answers without a dashboard: {page}");
        return None;
    };
    let body = &page[page.find("<body>").expect("a body")..];
    let answers = element(body, ANSWERS).expect("the answers follow the dashboard");
    Some(json!({ "dashboard": dashboard["dashboard"], "answers": answers }))
}

#[tokio::test]
async fn the_page_inlines_the_first_answers_under_the_sessions_permissions() {
    let runtime = tempdir();
    std::fs::write(runtime.join("index.html"), INDEX).unwrap();
    let dir = runtime.clone();
    let app = TestApp::start_with(false, move |args| args.runtime_dir = dir).await;
    let org = app.register().await;
    app.ingest(&org.key, tenant_events("acme", 6, 4)).await;
    app.ingest(&org.key, tenant_events("globex", 20, 0)).await;
    let id = app.standard_dashboard(&org.key).await;
    let perms = json!({ "hidden_widgets": ["internal"], "locked_filters": { "plan": "pro" } });
    let token = app.token(&org.key, "acme", &id, perms).await;

    let data = inlined(&app, &id, &token).await.expect("a live session's page carries its data");
    // The dashboard exactly as GET /v1/embed/dashboard answers it.
    let api = app.embed_dashboard(&token).await;
    let mut dashboard = data["dashboard"].clone();
    let mut answered = api.ok(StatusCode::OK).clone();
    dashboard["expires_at"] = Value::Null;
    answered["expires_at"] = Value::Null;
    assert_eq!(dashboard, answered);
    // One answer per visible widget, none for the hidden one, under the locked filter and the
    // token's tenant; each with the request text the runtime will send.
    let answers = data["answers"].as_array().expect("answers");
    assert_eq!(answers.len(), 5, "{data}");
    assert!(!data.to_string().contains("internal"), "{data}");
    // Computed concurrently (at most four at once, so five widgets wait for a permit), listed in
    // the dashboard's widget order.
    let order = |list: &Value, key: &dyn Fn(&Value) -> Value| {
        list.as_array().unwrap().iter().map(key).collect::<Vec<_>>()
    };
    assert_eq!(
        order(&data["answers"], &|a| a["data"]["widget_id"].clone()),
        order(&data["dashboard"]["dashboard"]["widgets"], &|w| w["id"].clone()),
        "{data}"
    );
    for answer in answers {
        let request: Value = serde_json::from_str(answer["request"].as_str().expect("request text")).unwrap();
        assert_eq!(request["dashboard_id"], id.as_str());
        assert_eq!(request["filters"]["dimensions"], json!({ "plan": "pro" }));
        assert_eq!(answer["data"]["widget_id"], request["widget_id"]);
    }
    let calls = answers.iter().find(|a| a["data"]["widget_id"] == "calls").expect("the calls widget");
    assert_eq!(calls["data"]["data"][0]["value"], 6.0, "acme's pro calls only: {calls}");

    // Revoked: the page still loads (to say so), with nothing inlined.
    let part = token.split('.').nth(1).unwrap();
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    let jti = payload["jti"].as_str().unwrap();
    app.delete(&format!("/v1/embed-sessions/{jti}"), &Auth::Bearer(org.key.clone()))
        .await
        .ok(StatusCode::NO_CONTENT);
    assert_eq!(inlined(&app, &id, &token).await, None);
    // Not ours, or for another dashboard: nothing either.
    assert_eq!(inlined(&app, &id, "not.a.token").await, None);
    let other = app.token(&org.key, "acme", &id, json!({})).await;
    assert_eq!(inlined(&app, "another-dashboard", &other).await, None);
    assert!(inlined(&app, &id, &other).await.is_some());
    let _ = std::fs::remove_dir_all(&runtime);
}

/// The page is streamed: the head (the loader, started `async`, and the dashboard) goes out
/// before the widgets' answers are computed, so the browser loads the runtime meanwhile.
#[tokio::test]
async fn the_head_and_dashboard_go_out_before_the_answers() {
    use std::io::Read;
    let runtime = tempdir();
    let index = "<!doctype html><html><head><title>Emban</title><script type=\"module\">go()</script>\
                 </head><body></body></html>";
    std::fs::write(runtime.join("index.html"), index).unwrap();
    let dir = runtime.clone();
    let app = TestApp::start_with(false, move |args| args.runtime_dir = dir).await;
    let org = app.register().await;
    app.ingest(&org.key, tenant_events("acme", 6, 4)).await;
    let id = app.standard_dashboard(&org.key).await;
    let token = app.token(&org.key, "acme", &id, json!({})).await;
    let url = format!("{}/embed/{id}?token={token}", app.url());
    for accept in ["identity", "gzip"] {
        let mut response = app.client.get(&url).header("accept-encoding", accept).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("content-length").is_none(), "{accept}: streamed");
        let first = response.chunk().await.unwrap().expect("a first part");
        let mut rest = Vec::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            rest.extend_from_slice(&chunk);
        }
        let first = if accept == "identity" {
            String::from_utf8(first.to_vec()).unwrap()
        } else {
            // The encoder flushed the head while the body waited: it decodes on its own (the
            // rest of the stream is missing, so reading stops at an error).
            let (mut decoder, mut out, mut buf) =
                (flate2::read::GzDecoder::new(first.as_ref()), Vec::new(), [0; 512]);
            while let Ok(n @ 1..) = decoder.read(&mut buf) {
                out.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&out).into_owned()
        };
        assert!(first.contains("<script type=\"module\" async>go()</script>"), "{accept}: {first}");
        assert!(first.contains(OPEN) && first.ends_with("<body>"), "{accept}: {first}");
        assert!(!first.contains(ANSWERS), "{accept}: the answers came with the head: {first}");
        assert!(!rest.is_empty(), "{accept}");
        if accept == "identity" {
            let rest = String::from_utf8(rest).unwrap();
            assert!(rest.starts_with(ANSWERS) && rest.ends_with("</body></html>"), "{rest}");
        }
    }
    let _ = std::fs::remove_dir_all(&runtime);
}

fn tempdir() -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let path = std::env::temp_dir().join(format!("emban-first-paint-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&path).unwrap();
    path
}
