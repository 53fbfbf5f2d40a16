//! One round trip to painted: the page at `/embed/{id}` carries the published dashboard and every
//! visible widget's first answer, so the runtime paints with the data API unreachable; a reload
//! still fetches. The embed is opened through a loopback proxy that refuses `/v1/embed/*` until
//! told otherwise and records what it was asked. It also holds back the page's answers (what
//! follows `<body>`) for a while: the runtime must load and post `ready` from the streamed head
//! meanwhile, then paint from the answers once they come, without asking the data API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use emban_e2e::{Emban, HostPages, Page, run_case};
use serde_json::json;

#[derive(Clone)]
struct Proxy {
    upstream: String,
    /// `/v1/embed/*` answers 503 while set.
    block_api: Arc<AtomicBool>,
    /// Every `/v1/embed/*` path asked for, blocked or not.
    api_calls: Arc<Mutex<Vec<String>>>,
    /// When the held-back rest of the last page was released.
    page_released: Arc<Mutex<Option<std::time::Instant>>>,
    http: reqwest::Client,
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let path_and_query = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    if request.uri().path().starts_with("/v1/embed/") {
        proxy.api_calls.lock().unwrap().push(request.uri().path().to_owned());
        if proxy.block_api.load(Ordering::SeqCst) {
            return (StatusCode::SERVICE_UNAVAILABLE, "the data API is unreachable").into_response();
        }
    }
    // The page plain (no compression), so the proxy can see where its head ends.
    let page = request.uri().path().starts_with("/embed/");
    let mut upstream =
        proxy.http.request(request.method().clone(), format!("{}{path_and_query}", proxy.upstream));
    for (name, value) in request.headers() {
        if name != "host" && !(page && name == "accept-encoding") {
            upstream = upstream.header(name, value);
        }
    }
    let body = to_bytes(request.into_body(), 1 << 20).await.unwrap();
    let mut answer = upstream.body(body).send().await.unwrap();
    let mut response = Response::builder().status(answer.status().as_u16());
    // Hop-by-hop framing stays with each hop: the upstream may stream (the page comes chunked)
    // while this answer may be framed differently.
    for (name, value) in answer.headers() {
        if !matches!(name.as_str(), "transfer-encoding" | "connection" | "keep-alive" | "content-length") {
            response = response.header(name, value);
        }
    }
    if !page {
        return response.body(Body::from(answer.bytes().await.unwrap())).unwrap();
    }
    // The page streamed on, each part as it comes, except that what follows `<body>` (the
    // answers) waits HOLD first.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(16);
    let released = proxy.page_released.clone();
    *released.lock().unwrap() = None;
    tokio::spawn(async move {
        let (mut seen, mut held) = (String::new(), false);
        while let Ok(Some(chunk)) = answer.chunk().await {
            if seen.contains("<body>") && !held {
                tokio::time::sleep(HOLD).await;
                held = true;
                *released.lock().unwrap() = Some(std::time::Instant::now());
            }
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if tx.send(Ok(chunk)).await.is_err() {
                return;
            }
        }
        if !held {
            *released.lock().unwrap() = Some(std::time::Instant::now());
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    response.body(Body::from_stream(stream)).unwrap()
}

/// How long the proxy holds back the page's answers.
const HOLD: std::time::Duration = std::time::Duration::from_millis(2500);

async fn start_proxy(upstream: &str) -> (String, Proxy) {
    let proxy = Proxy {
        upstream: upstream.to_owned(),
        block_api: Arc::new(AtomicBool::new(true)),
        api_calls: Arc::new(Mutex::new(Vec::new())),
        page_released: Arc::new(Mutex::new(None)),
        http: reqwest::Client::new(),
    };
    let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    (origin, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_paints_with_the_data_api_unreachable_and_reload_still_fetches() {
    let (emban, host) = tokio::join!(Emban::start(), HostPages::start());
    run_case(emban, |emban, client| async move {
        let (proxy_origin, proxy) = start_proxy(&emban.origin).await;
        let session = emban.mint_demo(&host.origin).await;
        let embed_url = session["embed_url"].as_str().unwrap().replacen(&emban.origin, &proxy_origin, 1);
        assert!(embed_url.starts_with(&proxy_origin), "{embed_url}");
        let mut page = Page::open(&client, &host.url(&embed_url, false)).await;
        let ready = page.wait_type("ready").await;
        assert_eq!(ready["origin"], proxy_origin.as_str(), "{ready}");
        page.wait_painted().await;
        assert!(proxy.page_released.lock().unwrap().is_some(), "the page's answers were held back");
        // On the frame's clock: the runtime marked `ready` while the page was still arriving,
        // long before it was parsed (the answers came HOLD later).
        let times = page
            .in_frame(
                "const nav = performance.getEntriesByType('navigation')[0]; \
                 const ready = performance.getEntriesByName('emban:ready')[0]; \
                 return { ready: ready.startTime, parsed: nav.domContentLoadedEventStart };",
                vec![],
            )
            .await;
        let (ready_at, parsed_at) = (times["ready"].as_f64().unwrap(), times["parsed"].as_f64().unwrap());
        assert!(
            parsed_at - ready_at > HOLD.as_millis() as f64 / 2.0,
            "`ready` did not come from the streamed head: {times}"
        );
        let painted = page
            .in_frame(
                "const cards = [...document.querySelectorAll('[data-testid^=widget-]')]; \
                 return { cards: cards.length, \
                   errors: document.querySelectorAll('[data-testid=error]').length, \
                   said: [...document.querySelectorAll('[data-testid=error]')].map((e) => e.textContent), \
                   skeletons: document.querySelectorAll('[data-testid=skeleton]').length, \
                   charts: document.querySelectorAll('svg').length };",
                vec![],
            )
            .await;
        assert_eq!(painted["cards"], 6, "the demo dashboard's six widgets: {painted}");
        assert_eq!(painted["errors"], 0, "{painted}");
        assert_eq!(painted["skeletons"], 0, "{painted}");
        assert!(painted["charts"].as_u64().unwrap() >= 2, "the demo's charts drawn: {painted}");
        assert!(
            proxy.api_calls.lock().unwrap().is_empty(),
            "the first paint asked the data API: {:?}",
            proxy.api_calls.lock().unwrap()
        );

        // With the API reachable again, `reload` fetches the dashboard and every widget.
        proxy.block_api.store(false, Ordering::SeqCst);
        page.mark().await;
        page.post(json!({"_emban": true, "type": "reload"})).await;
        page.wait_type("filter").await;
        let started = std::time::Instant::now();
        loop {
            let calls = proxy.api_calls.lock().unwrap().clone();
            let dashboards = calls.iter().filter(|c| *c == "/v1/embed/dashboard").count();
            let queries = calls.iter().filter(|c| *c == "/v1/embed/query").count();
            if dashboards == 1 && queries >= 6 {
                break;
            }
            assert!(started.elapsed().as_secs() < 20, "after reload: {calls:?}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        page.wait_in_frame(
            "the reloaded widgets",
            "return document.querySelectorAll('[data-testid=error]').length === 0 \
               && document.querySelectorAll('[data-testid^=widget-]').length === 6;",
            vec![],
        )
        .await;
    })
    .await;
}
