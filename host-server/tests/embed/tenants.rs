//! The cross-tenant matrix: two orgs with two tenants each (the same tenant ids in both orgs),
//! every embed and query route, every token: nothing crosses.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{Auth, Org, TestApp, call, groups, standard_widgets, total, value};

struct Tenant {
    org: usize,
    id: &'static str,
    events: usize,
    marker: String,
}

#[tokio::test]
async fn nothing_crosses_orgs_or_tenants() {
    let app = TestApp::new().await;
    let orgs: Vec<Org> = vec![app.register().await, app.register().await];
    let mut tenants = Vec::new();
    for (o, sizes) in [(0, [3, 5]), (1, [7, 11])] {
        for (id, n) in ["t1", "t2"].into_iter().zip(sizes) {
            let marker = format!("o{o}-{id}");
            let events: Vec<Value> = (0..n)
                .map(|i| {
                    call(
                        id,
                        &format!("model-{marker}"),
                        &format!("/e-{marker}"),
                        &format!("plan-{marker}"),
                        10.0,
                        1 + i as i64,
                    )
                })
                .collect();
            app.ingest(&orgs[o].key, events).await;
            tenants.push(Tenant { org: o, id, events: n, marker });
        }
    }
    let dashboards: Vec<String> = [0, 1].iter().map(|_| String::new()).collect();
    let mut dashboards = dashboards;
    for (o, org) in orgs.iter().enumerate() {
        dashboards[o] = app.standard_dashboard(&org.key).await;
    }

    // Admin routes of one org never reach the other's dashboards.
    for (o, org) in orgs.iter().enumerate() {
        let key = Auth::Bearer(org.key.clone());
        let other = &dashboards[1 - o];
        app.get(&format!("/v1/dashboards/{other}"), &key).await.error(StatusCode::NOT_FOUND, "not_found");
        app.patch(&format!("/v1/dashboards/{other}"), &key, &json!({ "name": "x" }))
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
        for action in ["publish", "unpublish", "restore-published"] {
            app.post_empty(&format!("/v1/dashboards/{other}/{action}"), &key)
                .await
                .error(StatusCode::NOT_FOUND, "not_found");
        }
        app.delete(&format!("/v1/dashboards/{other}/widgets/calls"), &key)
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
        app.delete(&format!("/v1/dashboards/{other}"), &key).await.error(StatusCode::NOT_FOUND, "not_found");
        app.mint(&org.key, json!({ "tenant_id": "t1", "dashboard_id": other }))
            .await
            .error(StatusCode::NOT_FOUND, "not_found");
        let list = app.get("/v1/dashboards", &key).await;
        let ids: Vec<&str> = list.ok(StatusCode::OK)["dashboards"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|d| d["id"].as_str())
            .collect();
        assert_eq!(ids, [dashboards[o].as_str()]);
        // Another environment of the same org does not see it either.
        let dev = app
            .send(
                reqwest::Method::GET,
                &format!("/v1/dashboards/{}", dashboards[o]),
                &Auth::Cookie(org.cookie.clone()),
                None,
            )
            .await;
        dev.ok(StatusCode::OK);
        let dev = app
            .client
            .get(format!("{}/v1/dashboards/{}", app.url(), dashboards[o]))
            .header("cookie", &org.cookie)
            .header("x-emban-environment", "development")
            .send()
            .await
            .expect("request");
        assert_eq!(dev.status(), StatusCode::NOT_FOUND);
        // Discovery sees only the org's own values.
        let discovered = app.get("/v1/discover", &key).await;
        let text = discovered.text.clone();
        discovered.ok(StatusCode::OK);
        for t in &tenants {
            assert_eq!(text.contains(&t.marker), t.org == o, "discover of org {o} and marker {}", t.marker);
        }
    }

    // Every token against every embed route and widget.
    let mut tokens = Vec::new();
    for t in &tenants {
        tokens.push(
            app.token(&orgs[t.org].key, t.id, &dashboards[t.org], json!({ "allow_drill_down": true })).await,
        );
    }
    for (t, token) in tenants.iter().zip(&tokens) {
        let embed = app.embed_dashboard(token).await;
        let body = embed.ok(StatusCode::OK);
        assert_eq!(body["tenant_id"], t.id);
        assert_eq!(body["dashboard"]["id"], dashboards[t.org].as_str());
        for widget in ["calls", "tokens", "by_model", "by_endpoint", "by_plan", "internal"] {
            let resp =
                app.embed_query(token, json!({ "widget_id": widget, "filters": { "period": "7d" } })).await;
            resp.ok(StatusCode::OK);
            let text = &resp.text;
            for other in tenants.iter().filter(|o| o.marker != t.marker) {
                assert!(!text.contains(&other.marker), "{widget} of {} leaked {}", t.marker, other.marker);
            }
            match widget {
                "calls" => assert_eq!(value(&resp), t.events as f64),
                "tokens" => assert_eq!(value(&resp), 10.0 * t.events as f64),
                "by_model" | "by_endpoint" | "by_plan" => {
                    assert_eq!(groups(&resp).len(), 1, "{widget}: {text}");
                    assert_eq!(total(&resp), t.events as f64);
                }
                _ => {}
            }
        }
        // Filtering or drilling into another tenant's values finds nothing.
        for other in tenants.iter().filter(|o| o.marker != t.marker) {
            let resp = app
                .embed_query(token, json!({ "widget_id": "calls", "filters": { "dimensions": { "model": format!("model-{}", other.marker) } } }))
                .await;
            assert_eq!(value(&resp), 0.0);
            let resp = app
                .embed_query(token, json!({ "widget_id": "by_plan", "drill": { "dimension": "plan", "value": format!("plan-{}", other.marker) } }))
                .await;
            assert_eq!(resp.ok(StatusCode::OK)["data"], json!([]));
        }
        // A token names its dashboard; pointing it at the other org's is a 401.
        let other = &dashboards[1 - t.org];
        let resp =
            app.get(&format!("/v1/embed/dashboard?dashboard_id={other}"), &Auth::Bearer(token.clone())).await;
        resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
        let resp = app.embed_query(token, json!({ "widget_id": "calls", "dashboard_id": other })).await;
        resp.error(StatusCode::UNAUTHORIZED, "unauthorized");
        // Embed tokens are not API keys.
        app.get("/v1/dashboards", &Auth::Bearer(token.clone()))
            .await
            .error(StatusCode::UNAUTHORIZED, "unauthorized");
        let q = format!("/v1/query?event_name=api.call&tenant_id={}&metric=count&period=7d", t.id);
        app.get(&q, &Auth::Bearer(token.clone())).await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    }

    // The query API and the preview: an org's key sees only its own tenant of that id.
    for t in &tenants {
        for (o, org) in orgs.iter().enumerate() {
            let key = Auth::Bearer(org.key.clone());
            let expected = tenants.iter().find(|x| x.org == o && x.id == t.id).map_or(0, |x| x.events) as f64;
            let q = format!("/v1/query?event_name=api.call&tenant_id={}&metric=count&period=7d", t.id);
            let resp = app.get(&q, &key).await;
            assert_eq!(resp.ok(StatusCode::OK)["data"][0]["value"].as_f64(), Some(expected));
            let preview = app
                .post(
                    "/v1/widgets/preview/data",
                    &key,
                    &json!({ "tenant_id": t.id, "widget": standard_widgets()[0], "filters": { "period": "7d" } }),
                )
                .await;
            assert_eq!(value(&preview), expected);
        }
    }

    // Session lists and audit logs are per org.
    for (o, org) in orgs.iter().enumerate() {
        let key = Auth::Bearer(org.key.clone());
        let sessions = app.get("/v1/embed-sessions", &key).await;
        let list = sessions.ok(StatusCode::OK)["sessions"].as_array().expect("sessions").clone();
        assert_eq!(list.len(), 2);
        assert!(list.iter().all(|s| s["dashboard_id"] == dashboards[o].as_str()));
        let audit = app.get("/v1/audit", &key).await;
        assert!(!audit.text.contains(&dashboards[1 - o]), "org {o}'s audit mentions the other org");
    }
}
