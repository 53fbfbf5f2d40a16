//! The Rust SDK against real servers: the guide's flow, the API surface, every error variant,
//! retries through a failing proxy, batching, tenant handles and the axum layer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{Fate, Proxy, Server, envelope};
use emban_sdk::{
    Client, CreateApiKeyRequest, Error, PreviewRequest, QueryParams, SavedQueryFields,
    contract::{
        dashboard::{
            CreateDashboardRequest, Layout, UpdateDashboardRequest, UpdateWidgetRequest, Viz, VizType,
            Widget, WidgetKind, WidgetQuery,
        },
        discover::AutoCreateRequest,
        embed::{CreateEmbedSessionRequest, EmbedPermissions},
        events::IngestEvent,
        query::{Granularity, Metric, Period},
    },
};
use serde_json::json;

fn event(tenant: &str, name: &str) -> IngestEvent {
    IngestEvent { tenant_id: tenant.into(), event_name: name.into(), ..Default::default() }
}

fn widget(id: &str, event: &str, group_by: Option<&str>) -> Widget {
    Widget {
        id: id.into(),
        kind: WidgetKind::Timeseries,
        title: format!("{event} per day"),
        query: WidgetQuery {
            event_name: event.into(),
            metric: Metric::Count,
            numeric_prop: None,
            granularity: Some(Granularity::Day),
            group_by: group_by.map(str::to_owned),
            filters: Default::default(),
            limit: None,
        },
        viz: Viz { viz_type: VizType::Line, options: Default::default() },
        layout: Layout { x: 0, y: 0, w: 6, h: 4 },
    }
}

fn client_for(server: &Server) -> Client {
    Client::builder(&server.ingest_key).base_url(&server.url).build().unwrap()
}

fn session_request(tenant: &str, dashboard: &str) -> CreateEmbedSessionRequest {
    CreateEmbedSessionRequest {
        tenant_id: tenant.into(),
        dashboard_id: dashboard.into(),
        expires_in: None,
        permissions: EmbedPermissions::default(),
        allowed_origins: vec![],
        locale: None,
    }
}

async fn published_dashboard(admin: &Client, group_by: Option<&str>) -> String {
    let d = admin
        .create_dashboard(&CreateDashboardRequest {
            name: "D".into(),
            widgets: vec![widget("w", "api.call", group_by)],
        })
        .await
        .unwrap();
    admin.publish_dashboard(&d.id).await.unwrap();
    d.id
}

#[tokio::test]
async fn the_guide_flow_ingests_and_mints_an_embed_url() {
    let server = Server::start().await;
    let ingest = Client::builder(&server.ingest_key).base_url(&server.url).build().unwrap();
    let admin = server.admin();
    let dashboard = published_dashboard(&admin, Some("model")).await;
    let answer = ingest
        .ingest(vec![IngestEvent {
            string_props: Some(
                [("model".into(), "gpt-4".into()), ("endpoint".into(), "/chat".into())].into(),
            ),
            numeric_props: Some([("tokens".into(), 150.0), ("latency_ms".into(), 230.0)].into()),
            ..event("customer_1", "api.call")
        }])
        .await
        .unwrap();
    assert_eq!((answer.accepted, answer.duplicates), (1, 0));
    let mut request = session_request("customer_1", &dashboard);
    request.permissions.allow_drill_down = true;
    request.permissions.allowed_dimensions = Some(vec!["model".into(), "endpoint".into()]);
    let session = admin.create_embed_session(&request).await.unwrap();
    assert!(
        session.embed_url.starts_with(&format!("{}/embed/{dashboard}?token=", server.url)),
        "{}",
        session.embed_url
    );
    assert_eq!(server.count("customer_1", "api.call").await, 1.0);
    let sessions = admin.list_embed_sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].tenant_id.as_deref(), Some("customer_1"));
}

#[tokio::test]
async fn the_whole_surface_works() {
    let server = Server::start().await;
    let admin = server.admin();
    admin
        .ingest(vec![
            IngestEvent {
                string_props: Some([("model".into(), "gpt-4".into())].into()),
                numeric_props: Some([("tokens".into(), 10.0)].into()),
                ..event("acme", "api.call")
            },
            IngestEvent {
                string_props: Some([("model".into(), "claude".into())].into()),
                ..event("acme", "api.call")
            },
        ])
        .await
        .unwrap();
    let fixed = IngestEvent { event_id: Some("fixed".into()), ..event("acme", "dup") };
    assert_eq!(admin.ingest(vec![fixed.clone()]).await.unwrap().accepted, 1);
    assert_eq!(admin.ingest(vec![fixed]).await.unwrap().duplicates, 1);

    // Query.
    let grouped = admin
        .query(
            &QueryParams::new("acme", "api.call", Metric::Count, Period::H24)
                .group_by("model")
                .filter("model", "claude"),
        )
        .await
        .unwrap();
    assert_eq!(grouped.data.len(), 1);
    assert_eq!(grouped.data[0].group, Some(Some("claude".into())));
    let sum = admin
        .query(&QueryParams::new("acme", "api.call", Metric::Sum, Period::H24).numeric_prop("tokens"))
        .await
        .unwrap();
    assert_eq!(sum.data[0].value, Some(10.0));

    // Dashboards and their widgets.
    let d = admin
        .create_dashboard(&CreateDashboardRequest {
            name: "Usage".into(),
            widgets: vec![widget("calls", "api.call", None)],
        })
        .await
        .unwrap();
    assert!(admin.list_dashboards().await.unwrap().iter().any(|x| x.id == d.id));
    admin.publish_dashboard(&d.id).await.unwrap();
    assert!(admin.get_dashboard(&d.id).await.unwrap().published);
    let renamed = admin
        .update_dashboard(&d.id, &UpdateDashboardRequest { name: Some("U2".into()), widgets: None })
        .await
        .unwrap();
    assert_eq!(renamed.name, "U2");
    let mut second = widget("second", "api.call", None);
    second.layout.x = 6;
    admin.add_dashboard_widget(&d.id, &second).await.unwrap();
    let retitled = admin
        .update_dashboard_widget(
            &d.id,
            "second",
            &UpdateWidgetRequest { title: Some("T".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(retitled.title, "T");
    admin.delete_dashboard_widget(&d.id, "second").await.unwrap();
    admin.add_dashboard_widget(&d.id, &second).await.unwrap();
    admin.restore_draft(&d.id).await.unwrap();
    assert_eq!(admin.get_dashboard(&d.id).await.unwrap().config.widgets.len(), 1);
    admin.unpublish_dashboard(&d.id).await.unwrap();
    assert!(!admin.get_dashboard(&d.id).await.unwrap().published);
    admin.delete_dashboard(&d.id).await.unwrap();
    assert!(matches!(admin.get_dashboard(&d.id).await, Err(Error::NotFound(_))));

    // Standalone widgets and the preview.
    let created = admin
        .create_widget(&json!({ "kind": "metric", "title": "Calls", "query": { "event_name": "api.call", "metric": "count" }, "viz": { "type": "number" } }))
        .await
        .unwrap();
    assert_eq!(admin.get_widget(&created.id).await.unwrap().id, created.id);
    assert!(admin.list_widgets().await.unwrap().iter().any(|w| w.id == created.id));
    let updated = admin
        .update_widget(
            &created.id,
            &UpdateWidgetRequest { title: Some("Renamed".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(updated.widget.title, "Renamed");
    admin.publish_widget(&created.id).await.unwrap();
    let data = admin
        .preview_widget(&PreviewRequest {
            tenant_id: "acme".into(),
            widget: json!({ "kind": "metric", "title": "n", "query": { "event_name": "api.call", "metric": "count" }, "viz": { "type": "number" } }),
            filters: Some(json!({ "period": "24h" })),
        })
        .await
        .unwrap();
    assert_eq!(data.data[0].value, Some(2.0));
    admin.delete_widget(&created.id).await.unwrap();

    // Discovery.
    let discovered = admin.discover(Some("acme")).await.unwrap();
    assert!(discovered.events.iter().any(|e| e.event_name == "api.call" && e.count == 2));
    let auto = admin.auto_create_dashboard(&AutoCreateRequest { name: Some("Auto".into()) }).await.unwrap();
    assert_eq!(auto.name, "Auto");

    // Keys.
    let key = admin
        .create_api_key(&CreateApiKeyRequest { label: "w".into(), scope: "ingest".into(), environment: None })
        .await
        .unwrap();
    assert!(key.key.starts_with("emb_ingest_"));
    assert!(admin.list_api_keys().await.unwrap().iter().any(|k| k.id == key.info.id));
    admin.revoke_api_key(key.info.id).await.unwrap();
    let revoked = Client::builder(&key.key).base_url(&server.url).build().unwrap();
    assert!(matches!(revoked.ingest(vec![event("a", "b")]).await, Err(Error::Auth(_))));

    // SQL, datasets, saved queries.
    let sql = admin
        .sql("SELECT count(*) AS n FROM events WHERE tenant_id = 'acme' AND event_name = 'api.call'")
        .await
        .unwrap();
    assert_eq!(sql.rows[0][0].as_f64(), Some(2.0));
    assert!(admin.list_datasets().await.unwrap()["datasets"].as_array().is_some_and(|d| !d.is_empty()));
    assert!(admin.dataset_ddl("events").await.unwrap()["ddl"].as_str().is_some_and(|s| s.contains("CREATE")));
    let saved = admin
        .create_saved_query(&SavedQueryFields {
            name: Some("q".into()),
            sql: Some("SELECT 1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let starred = admin
        .update_saved_query(saved.id, &SavedQueryFields { starred: Some(true), ..Default::default() })
        .await
        .unwrap();
    assert!(starred.starred);
    assert!(admin.list_saved_queries().await.unwrap().iter().any(|q| q.id == saved.id));
    admin.delete_saved_query(saved.id).await.unwrap();

    // Usage, onboarding, audit, me.
    assert!(admin.usage(Some(Period::D7)).await.unwrap()["totals"]["events_ingested"].as_i64() >= Some(3));
    assert_eq!(admin.onboarding_status().await.unwrap()["steps"]["first_event_sent"], true);
    assert!(admin.audit_log().await.unwrap().iter().any(|e| e["action"] == "api_key.create"));
    assert_eq!(admin.me().await.unwrap()["scope"], "admin");
}

#[tokio::test]
async fn server_errors_map_to_variants() {
    let server = Server::start().await;
    let bad =
        Client::builder("emb_admin_not_a_key_0000000000000000000000").base_url(&server.url).build().unwrap();
    let e = bad.list_dashboards().await.unwrap_err();
    assert!(matches!(e, Error::Auth(_)), "{e}");
    assert_eq!((e.status(), e.code()), (Some(401), Some("unauthorized")));
    assert_eq!(e.request_id().map(str::len), Some(36));

    let ingest = Client::builder(&server.ingest_key).base_url(&server.url).build().unwrap();
    assert!(matches!(ingest.list_dashboards().await, Err(Error::Permission(f)) if f.code == "forbidden"));
    assert!(matches!(server.admin().get_dashboard("nope").await, Err(Error::NotFound(_))));
    let invalid = server
        .admin()
        .create_api_key(&CreateApiKeyRequest { label: "x".into(), scope: "root".into(), environment: None })
        .await
        .unwrap_err();
    assert!(matches!(&invalid, Error::Validation { field: Some(f), .. } if f == "scope"), "{invalid}");
    assert!(
        matches!(ingest.ingest(vec![event("", "x")]).await, Err(Error::Validation { field: Some(f), .. }) if f == "events[0].tenant_id")
    );
    assert!(matches!(Client::builder(" ").build(), Err(Error::Config(_))));
}

#[tokio::test]
async fn injected_statuses_map_to_variants_and_4xx_is_not_retried() {
    let server = Server::start().await;
    let answer = |status: u16, body: String, headers: Vec<(&'static str, String)>| {
        move |_| Fate::Answer(status, headers.clone(), body.clone())
    };
    let plan_body = json!({ "error": "limit", "code": "published_dashboards_limit", "plan": "free", "upgrade_to": "starter", "limit": 1, "used": 1 }).to_string();
    type Case = (u16, String, Vec<(&'static str, String)>);
    let cases: Vec<Case> = vec![
        (402, plan_body, vec![]),
        (409, envelope("conflict", "changed"), vec![]),
        (429, envelope("rate_limited", "slow"), vec![("retry-after", "0".into())]),
        (503, envelope("unavailable", "down"), vec![]),
    ];
    for (status, body, headers) in cases {
        let proxy = Proxy::start(&server.url, answer(status, body, headers)).await;
        let client = Client::builder(&server.admin_key)
            .base_url(&proxy.url)
            .max_retries(2)
            .retry_base(Duration::from_millis(1))
            .build()
            .unwrap();
        let e = client.list_dashboards().await.unwrap_err();
        assert_eq!(e.status(), Some(status), "{e}");
        match status {
            402 => assert!(
                matches!(&e, Error::PlanLimit(l) if l.plan.as_deref() == Some("free") && l.upgrade_to.as_deref() == Some("starter") && l.limit == Some(1.0) && l.used == Some(1.0))
            ),
            409 => assert!(matches!(e, Error::Conflict(_))),
            429 => assert!(matches!(e, Error::RateLimit { retry_after: Some(_), .. })),
            _ => assert!(matches!(e, Error::Api(_))),
        }
        let attempts = if status >= 429 { 3 } else { 1 };
        assert_eq!(proxy.count(), attempts, "status {status}");
    }
    let dropped = Proxy::start(&server.url, |_| Fate::Drop).await;
    let client = Client::builder(&server.admin_key)
        .base_url(&dropped.url)
        .max_retries(1)
        .retry_base(Duration::from_millis(1))
        .build()
        .unwrap();
    assert!(matches!(client.list_dashboards().await, Err(Error::Connection { .. })));
    assert_eq!(dropped.count(), 2);
}

#[tokio::test]
async fn retries_get_through_drops_503s_and_429s() {
    let server = Server::start().await;
    let drops = Proxy::start(&server.url, |n| if n <= 2 { Fate::Drop } else { Fate::Forward }).await;
    let client = Client::builder(&server.ingest_key)
        .base_url(&drops.url)
        .retry_base(Duration::from_millis(10))
        .build()
        .unwrap();
    assert_eq!(client.ingest(vec![event("r", "drops")]).await.unwrap().accepted, 1);
    assert_eq!(server.count("r", "drops").await, 1.0);

    let busy = Proxy::start(&server.url, |n| {
        if n == 1 { Fate::Answer(503, vec![], envelope("unavailable", "busy")) } else { Fate::Forward }
    })
    .await;
    let client = Client::builder(&server.ingest_key)
        .base_url(&busy.url)
        .retry_base(Duration::from_millis(10))
        .build()
        .unwrap();
    client.ingest(vec![event("r", "busy")]).await.unwrap();
    assert_eq!(server.count("r", "busy").await, 1.0);

    let limited = Proxy::start(&server.url, |n| {
        if n == 1 {
            Fate::Answer(429, vec![("retry-after", "1".into())], envelope("rate_limited", "slow"))
        } else {
            Fate::Forward
        }
    })
    .await;
    let client = Client::builder(&server.admin_key)
        .base_url(&limited.url)
        .retry_base(Duration::from_millis(1))
        .build()
        .unwrap();
    let started = Instant::now();
    client.list_dashboards().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950), "waited {:?}", started.elapsed());
}

#[tokio::test]
async fn track_batches_and_shutdown_drains() {
    let server = Server::start().await;
    let client = Client::builder(&server.ingest_key)
        .base_url(&server.url)
        .flush_at(100)
        .flush_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    for i in 0..250 {
        client
            .track(IngestEvent {
                numeric_props: Some([("i".into(), f64::from(i))].into()),
                ..event("b", "batched")
            })
            .unwrap();
    }
    let result = client.shutdown().await;
    assert_eq!(result.failed, 0);
    assert_eq!(client.queued(), 0);
    assert_eq!(server.count("b", "batched").await, 250.0);
    // Shut down: refused, counted and returned.
    assert!(matches!(client.track(event("b", "late")), Err(Error::Queue { reason: "client_closed", .. })));
    assert_eq!(client.dropped(), 1);

    // ingest() splits arrays over 10,000 events across requests.
    let many: Vec<IngestEvent> = (0..12_000).map(|_| event("b", "split")).collect();
    assert_eq!(client_for(&server).ingest(many).await.unwrap().accepted, 12_000);
    assert_eq!(server.count("b", "split").await, 12_000.0);

    // Tracked outside a runtime: queued until an explicit flush.
    let plain = Client::builder(&server.ingest_key).base_url(&server.url).build().unwrap();
    let from_thread = plain.clone();
    std::thread::spawn(move || from_thread.track(event("b", "threaded")).unwrap()).join().unwrap();
    assert_eq!(plain.queued(), 1);
    assert_eq!(plain.flush().await.sent, 1);
    assert_eq!(server.count("b", "threaded").await, 1.0);

    // The interval flush.
    let timed = Client::builder(&server.ingest_key)
        .base_url(&server.url)
        .flush_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    timed.track(event("b", "timed")).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(timed.queued(), 1, "not before the interval");
    // Polled, not slept: a loaded machine may be late, never early.
    for _ in 0..100 {
        if timed.queued() == 0 && server.count("b", "timed").await == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(timed.queued(), 0);
    assert_eq!(server.count("b", "timed").await, 1.0);
}

#[tokio::test]
async fn a_full_queue_and_failed_batches_are_reported() {
    let server = Server::start().await;
    let errors: Arc<Mutex<Vec<Error>>> = Arc::default();
    let sink = errors.clone();
    let client = Client::builder(&server.ingest_key)
        .base_url(&server.url)
        .max_queue_size(3)
        .flush_interval(Duration::from_secs(60))
        .on_error(move |e| sink.lock().unwrap().push(e))
        .build()
        .unwrap();
    let accepted: Vec<bool> = (0..5).map(|_| client.track(event("q", "full")).is_ok()).collect();
    assert_eq!(accepted, [true, true, true, false, false]);
    assert_eq!(client.dropped(), 2);
    assert_eq!(errors.lock().unwrap().len(), 2);
    client.shutdown().await;
    assert_eq!(server.count("q", "full").await, 3.0);

    let down =
        Proxy::start(&server.url, |_| Fate::Answer(503, vec![], envelope("unavailable", "down"))).await;
    let errors: Arc<Mutex<Vec<Error>>> = Arc::default();
    let sink = errors.clone();
    let client = Client::builder(&server.ingest_key)
        .base_url(&down.url)
        .max_retries(1)
        .retry_base(Duration::from_millis(1))
        .on_error(move |e| sink.lock().unwrap().push(e))
        .build()
        .unwrap();
    client.track(event("q", "undelivered")).unwrap();
    client.track(event("q", "undelivered")).unwrap();
    assert_eq!(client.shutdown().await.failed, 2);
    let reported = errors.lock().unwrap().pop().unwrap();
    let Error::Delivery { events, source } = reported else { panic!("not a delivery error") };
    assert!(matches!(*source, Error::Api(_)));
    assert_eq!(events.len(), 2);
    // Resending keeps the ids: no double counting.
    let direct = Client::builder(&server.ingest_key).base_url(&server.url).build().unwrap();
    assert_eq!(direct.ingest(events.clone()).await.unwrap().accepted, 2);
    assert_eq!(direct.ingest(events).await.unwrap().duplicates, 2);
}

#[tokio::test]
async fn tenant_handles_are_confined() {
    let server = Server::start().await;
    let admin = server.admin();
    let ingest = Client::builder(&server.ingest_key).base_url(&server.url).build().unwrap();
    let acme = ingest.for_tenant("acme").unwrap();
    acme.ingest(vec![event("", "t"), event("acme", "t")]).await.unwrap();
    acme.track(event("", "t")).unwrap();
    acme.flush().await;
    ingest.ingest(vec![event("globex", "t")]).await.unwrap();
    assert_eq!(server.count("acme", "t").await, 3.0);
    let refused = acme.ingest(vec![event("", "t"), event("globex", "t")]).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Validation { field: Some(f), .. } if f == "events[1].tenant_id"),
        "{refused}"
    );
    assert_eq!(refused.code(), Some("tenant_mismatch"));
    assert!(acme.track(event("globex", "t")).is_err());
    assert_eq!(server.count("globex", "t").await, 1.0);

    let scoped = admin.for_tenant("acme").unwrap();
    let q = scoped.query(&QueryParams::new("", "t", Metric::Count, Period::H24)).await.unwrap();
    assert_eq!(q.data[0].value, Some(3.0));
    assert!(scoped.query(&QueryParams::new("globex", "t", Metric::Count, Period::H24)).await.is_err());
    assert_eq!(scoped.discover().await.unwrap().events[0].count, 3);

    let dashboard = published_dashboard(&admin, None).await;
    scoped.create_embed_session(session_request("", &dashboard)).await.unwrap();
    admin
        .for_tenant("globex")
        .unwrap()
        .create_embed_session(session_request("globex", &dashboard))
        .await
        .unwrap();
    assert!(scoped.create_embed_session(session_request("globex", &dashboard)).await.is_err());
    let mine = scoped.list_embed_sessions().await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].tenant_id.as_deref(), Some("acme"));
    assert!(matches!(admin.for_tenant(""), Err(Error::Validation { .. })));
}

#[cfg(feature = "axum")]
#[tokio::test]
async fn the_axum_layer_hands_handlers_the_tenant() {
    use axum::{Json, Router, routing::get};
    use emban_sdk::axum::{Emban, EmbanLayer, Tenant};

    let server = Server::start().await;
    let admin = server.admin();
    let dashboard = published_dashboard(&admin, None).await;
    let app = Router::new()
        .route(
            "/analytics",
            get(move |Tenant(emban): Tenant| {
                let dashboard = dashboard.clone();
                async move {
                    let session = emban.create_embed_session(session_request("", &dashboard)).await.unwrap();
                    Json(json!({ "tenant": emban.tenant_id(), "embed_url": session.embed_url }))
                }
            }),
        )
        .route("/base", get(|Emban(client): Emban| async move { client.base_url().to_owned() }))
        .layer(EmbanLayer::new(admin.clone()).tenant_from(|parts: &axum::http::request::Parts| {
            parts.headers.get("x-org").and_then(|v| v.to_str().ok()).map(str::to_owned)
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::new();
    let answer: serde_json::Value = http
        .get(format!("{base}/analytics"))
        .header("x-org", "customer_9")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["tenant"], "customer_9");
    assert!(answer["embed_url"].as_str().unwrap().contains("/embed/"));
    assert_eq!(admin.for_tenant("customer_9").unwrap().list_embed_sessions().await.unwrap().len(), 1);

    let missing = http.get(format!("{base}/analytics")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.json::<serde_json::Value>().await.unwrap()["code"], "no_tenant");
    assert_eq!(http.get(format!("{base}/base")).send().await.unwrap().text().await.unwrap(), server.url);
}
