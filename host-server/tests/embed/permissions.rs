//! One test per permission: each tries to get around it through the API and fails.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{Auth, Org, TestApp, call, groups, tenant_events, total, value};

/// A server with one org, tenant `acme` (6 pro + 4 free calls) and the standard dashboard.
async fn setup() -> (TestApp, Org, String) {
    let app = TestApp::new().await;
    let org = app.register().await;
    app.ingest(&org.key, tenant_events("acme", 6, 4)).await;
    let id = app.standard_dashboard(&org.key).await;
    (app, org, id)
}

#[tokio::test]
async fn tenant_comes_only_from_the_token() {
    let (app, org, id) = setup().await;
    app.ingest(&org.key, tenant_events("globex", 20, 0)).await;
    let token = app.token(&org.key, "acme", &id, json!({})).await;
    assert_eq!(value(&app.embed_query(&token, json!({ "widget_id": "calls" })).await), 10.0);
    // No field of the request can name a tenant.
    for body in [
        json!({ "widget_id": "calls", "tenant_id": "globex" }),
        json!({ "widget_id": "calls", "filters": { "tenant_id": "globex" } }),
    ] {
        app.embed_query(&token, body).await.error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    // tenant_id is not a dimension either.
    let resp = app
        .embed_query(
            &token,
            json!({ "widget_id": "calls", "filters": { "dimensions": { "tenant_id": "globex" } } }),
        )
        .await;
    assert_eq!(value(&resp), 0.0, "a tenant_id prop filter only narrows within acme");
    let resp = app.get("/v1/embed/dashboard?tenant_id=globex", &Auth::Bearer(token.clone())).await;
    resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(app.embed_dashboard(&token).await.ok(StatusCode::OK)["tenant_id"], "acme");
}

#[tokio::test]
async fn locked_filters_are_always_applied() {
    let (app, org, id) = setup().await;
    let perms = json!({ "locked_filters": { "plan": "pro" }, "allow_drill_down": true });
    let token = app.token(&org.key, "acme", &id, perms).await;

    let embed = app.embed_dashboard(&token).await;
    assert_eq!(embed.ok(StatusCode::OK)["filters"]["dimensions"], json!({ "plan": "pro" }));
    // Applied without being asked for.
    assert_eq!(value(&app.embed_query(&token, json!({ "widget_id": "calls" })).await), 6.0);
    let by_plan = app.embed_query(&token, json!({ "widget_id": "by_plan" })).await;
    by_plan.ok(StatusCode::OK);
    assert_eq!(groups(&by_plan), ["pro"]);
    // Asking for the same value is fine; any other value is refused, as a filter or a drill.
    let same = app
        .embed_query(&token, json!({ "widget_id": "calls", "filters": { "dimensions": { "plan": "pro" } } }))
        .await;
    assert_eq!(value(&same), 6.0);
    for body in [
        json!({ "widget_id": "calls", "filters": { "dimensions": { "plan": "free" } } }),
        json!({ "widget_id": "calls", "drill": { "dimension": "plan", "value": "free" } }),
        json!({ "widget_id": "by_plan", "filters": { "dimensions": { "plan": "" } } }),
    ] {
        let message = app.embed_query(&token, body).await.error(StatusCode::FORBIDDEN, "forbidden");
        assert!(message.contains("locked"), "{message}");
    }
}

#[tokio::test]
async fn hidden_widgets_stay_hidden() {
    let (app, org, id) = setup().await;
    let token = app.token(&org.key, "acme", &id, json!({ "hidden_widgets": ["internal"] })).await;
    let embed = app.embed_dashboard(&token).await;
    let ids: Vec<String> = embed.ok(StatusCode::OK)["dashboard"]["widgets"]
        .as_array()
        .expect("widgets")
        .iter()
        .map(|w| w["id"].as_str().expect("id").to_owned())
        .collect();
    assert!(!ids.contains(&"internal".to_owned()), "{ids:?}");
    assert_eq!(ids.len(), 5);
    // Absent, not listed: neither the answer nor the token (which the viewer can read) names it.
    assert!(!embed.text.contains("internal"), "{}", embed.text);
    assert_eq!(embed.body["permissions"]["hidden_widgets"], json!([]), "{}", embed.text);
    let part = token.split('.').nth(1).expect("payload");
    let payload = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, part).expect("base64"),
    )
    .expect("utf-8");
    assert!(!payload.contains("internal"), "{payload}");
    // The admin's session list still says what is hidden.
    let sessions = app.get("/v1/embed-sessions", &Auth::Bearer(org.key.clone())).await;
    assert_eq!(sessions.ok(StatusCode::OK)["sessions"][0]["scope"]["hidden_widgets"], json!(["internal"]));
    app.embed_query(&token, json!({ "widget_id": "internal" }))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    // Widgets not on the published dashboard: unknown, or only in the draft.
    app.embed_query(&token, json!({ "widget_id": "nope" })).await.error(StatusCode::NOT_FOUND, "not_found");
    let key = Auth::Bearer(org.key.clone());
    let draft_only = crate::fixture::widget(
        "draft_only",
        "metric",
        json!({ "event_name": "api.call", "metric": "count" }),
        "number",
        [0, 20, 3, 2],
    );
    app.post(&format!("/v1/dashboards/{id}/widgets"), &key, &draft_only).await.ok(StatusCode::CREATED);
    app.embed_query(&token, json!({ "widget_id": "draft_only" }))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn allowed_dimensions_bound_filters_drills_and_group_bys() {
    let (app, org, id) = setup().await;
    let perms = json!({ "allowed_dimensions": ["model", "plan"], "allow_drill_down": true });
    let token = app.token(&org.key, "acme", &id, perms).await;
    let ok = app
        .embed_query(
            &token,
            json!({ "widget_id": "calls", "filters": { "dimensions": { "model": "gpt-4" } } }),
        )
        .await;
    assert_eq!(value(&ok), 6.0);
    let drill = app
        .embed_query(
            &token,
            json!({ "widget_id": "by_plan", "drill": { "dimension": "model", "value": "claude-3" } }),
        )
        .await;
    drill.ok(StatusCode::OK);
    assert_eq!(groups(&drill), ["free"]);
    for body in [
        json!({ "widget_id": "calls", "filters": { "dimensions": { "endpoint": "/chat" } } }),
        json!({ "widget_id": "calls", "drill": { "dimension": "endpoint", "value": "/chat" } }),
        json!({ "widget_id": "by_endpoint" }),
        json!({ "widget_id": "calls", "filters": { "dimensions": { "status": "error" } } }),
    ] {
        let message = app.embed_query(&token, body.clone()).await.error(StatusCode::FORBIDDEN, "forbidden");
        assert!(message.contains("not allowed"), "{body}: {message}");
    }
    // Unknown dimensions are refused when minting.
    let resp = app
        .mint(&org.key, json!({ "tenant_id": "acme", "dashboard_id": id, "permissions": { "allowed_dimensions": ["colour"] } }))
        .await;
    assert!(
        resp.error(StatusCode::BAD_REQUEST, "invalid_request").starts_with("permissions.allowed_dimensions")
    );
    let resp = app
        .mint(&org.key, json!({ "tenant_id": "acme", "dashboard_id": id, "permissions": { "locked_filters": { "colour": "red" } } }))
        .await;
    assert!(resp.error(StatusCode::BAD_REQUEST, "invalid_request").starts_with("permissions.locked_filters"));
    // A string prop the dashboard does not use but the events have is a valid dimension.
    app.ingest(
        &org.key,
        vec![json!({ "tenant_id": "acme", "event_name": "page.view", "string_props": { "page": "/" } })],
    )
    .await;
    let resp = app
        .mint(&org.key, json!({ "tenant_id": "acme", "dashboard_id": id, "permissions": { "allowed_dimensions": ["page"] } }))
        .await;
    resp.ok(StatusCode::CREATED);
}

#[tokio::test]
async fn allowed_periods_bound_the_period() {
    let (app, org, id) = setup().await;
    let token = app.token(&org.key, "acme", &id, json!({ "allowed_periods": ["24h", "7d"] })).await;
    assert_eq!(app.embed_dashboard(&token).await.ok(StatusCode::OK)["filters"]["period"], "24h");
    let ok = app.embed_query(&token, json!({ "widget_id": "calls", "filters": { "period": "7d" } })).await;
    assert_eq!(ok.ok(StatusCode::OK)["meta"]["period"], "7d");
    assert_eq!(value(&app.embed_query(&token, json!({ "widget_id": "calls" })).await), 10.0);
    for period in ["30d", "90d", "1h"] {
        let resp =
            app.embed_query(&token, json!({ "widget_id": "calls", "filters": { "period": period } })).await;
        resp.error(StatusCode::FORBIDDEN, "forbidden");
    }
    let resp = app.embed_query(&token, json!({ "widget_id": "calls", "filters": { "period": "2d" } })).await;
    resp.error(StatusCode::BAD_REQUEST, "invalid_request");
    let resp = app
        .mint(
            &org.key,
            json!({ "tenant_id": "acme", "dashboard_id": id, "permissions": { "allowed_periods": [] } }),
        )
        .await;
    resp.error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn max_date_range_days_bounds_periods_and_date_ranges() {
    let (app, org, id) = setup().await;
    let token = app.token(&org.key, "acme", &id, json!({ "max_date_range_days": 7 })).await;
    assert_eq!(app.embed_dashboard(&token).await.ok(StatusCode::OK)["filters"]["period"], "7d");
    app.embed_query(&token, json!({ "widget_id": "calls", "filters": { "period": "30d" } }))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    let today = chrono::Utc::now().date_naive();
    let day = |n: u64| (today - chrono::Days::new(n)).format("%Y-%m-%d").to_string();
    let too_long = json!({ "widget_id": "by_model", "filters": { "period": "7d", "dateRanges": { "timestamp": { "from": day(20), "to": day(0) } } } });
    let message = app.embed_query(&token, too_long).await.error(StatusCode::FORBIDDEN, "forbidden");
    assert!(message.contains("7-day"), "{message}");
    let open_start = json!({ "widget_id": "calls", "filters": { "period": "7d", "dateRanges": { "timestamp": { "to": day(0) } } } });
    assert_eq!(value(&app.embed_query(&token, open_start).await), 10.0);
    let within = json!({ "widget_id": "by_model", "filters": { "period": "7d", "dateRanges": { "timestamp": { "from": day(2), "to": day(0) } } } });
    let resp = app.embed_query(&token, within).await;
    resp.ok(StatusCode::OK);
    assert_eq!(
        resp.body["data"].as_array().map(|rows| rows.len() / 2),
        Some(3),
        "3 days × 2 models: {}",
        resp.text
    );
    assert_eq!(total(&resp), 10.0);
    // Minting a session whose allowed periods exceed the bound is refused.
    let resp = app
        .mint(&org.key, json!({ "tenant_id": "acme", "dashboard_id": id, "permissions": { "allowed_periods": ["30d"], "max_date_range_days": 7 } }))
        .await;
    resp.error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn drill_needs_allow_drill_down() {
    let (app, org, id) = setup().await;
    let token = app.token(&org.key, "acme", &id, json!({})).await;
    let message = app
        .embed_query(
            &token,
            json!({ "widget_id": "calls", "drill": { "dimension": "model", "value": "gpt-4" } }),
        )
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    assert!(message.contains("drill"), "{message}");
    let token = app.token(&org.key, "acme", &id, json!({ "allow_drill_down": true })).await;
    let resp = app
        .embed_query(
            &token,
            json!({ "widget_id": "calls", "drill": { "dimension": "model", "value": "gpt-4" } }),
        )
        .await;
    assert_eq!(value(&resp), 6.0);
}

#[tokio::test]
async fn session_requests_are_validated() {
    let (app, org, id) = setup().await;
    let base = |extra: serde_json::Value| {
        let mut body = json!({ "tenant_id": "acme", "dashboard_id": id });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    for (extra, field) in [
        (json!({ "expires_in": 59 }), "expires_in"),
        (json!({ "expires_in": 86_401 }), "expires_in"),
        (json!({ "permissions": { "allow_everything": true } }), "allow_everything"),
        (json!({ "permissions": { "max_date_range_days": 0 } }), "permissions.max_date_range_days"),
        (json!({ "permissions": { "hidden_widgets": ["bad id"] } }), "permissions.hidden_widgets[0]"),
        (json!({ "allowed_origins": ["https://a.com/path"] }), "allowed_origins[0]"),
        (json!({ "allowed_origins": ["https://a.com; script-src *"] }), "allowed_origins[0]"),
        (json!({ "locale": "not a locale" }), "locale"),
        (json!({ "tenant_id": "" }), "tenant_id"),
        (json!({ "colour": 1 }), "colour"),
    ] {
        let message =
            app.mint(&org.key, base(extra.clone())).await.error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(message.contains(field), "{extra}: {message}");
    }
    for ok in [json!({ "expires_in": 60 }), json!({ "expires_in": 86_400 })] {
        app.mint(&org.key, base(ok)).await.ok(StatusCode::CREATED);
    }
    let resp = app
        .mint(&org.key, json!({ "tenant_id": "acme", "dashboard_id": uuid::Uuid::new_v4().to_string() }))
        .await;
    resp.error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn numeric_ranges_and_metric_comparison() {
    let app = TestApp::new().await;
    let org = app.register().await;
    // 4 calls now (tokens 10, 20, 30, 40) and 2 in the previous 30 days.
    let mut events: Vec<_> =
        [10.0, 20.0, 30.0, 40.0].iter().map(|t| call("acme", "gpt-4", "/chat", "pro", *t, 2)).collect();
    events.push(call("acme", "gpt-4", "/chat", "pro", 50.0, 24 * 40));
    events.push(call("acme", "gpt-4", "/chat", "pro", 50.0, 24 * 45));
    app.ingest(&org.key, events).await;
    let id = app.standard_dashboard(&org.key).await;
    let token = app.token(&org.key, "acme", &id, json!({})).await;
    let resp = app.embed_query(&token, json!({ "widget_id": "calls", "filters": { "period": "30d" } })).await;
    let body = resp.ok(StatusCode::OK);
    assert_eq!(body["data"], json!([{ "value": 4 }]));
    assert_eq!(body["previous"]["value"], 2);
    assert_eq!(body["change"], 1.0);
    let ranged = app
        .embed_query(&token, json!({ "widget_id": "tokens", "filters": { "numericRanges": { "tokens": { "min": 15, "max": 35 } } } }))
        .await;
    assert_eq!(value(&ranged), 50.0);
    let open = app
        .embed_query(
            &token,
            json!({ "widget_id": "calls", "filters": { "numericRanges": { "latency_ms": { "min": 15 } } } }),
        )
        .await;
    assert_eq!(value(&open), 2.0);
    let bad = app.embed_query(&token, json!({ "widget_id": "calls", "filters": { "numericRanges": { "tokens": { "min": 5, "max": 1 } } } })).await;
    bad.error(StatusCode::BAD_REQUEST, "invalid_request");
}

/// The standard dashboard plus week and month series of `api.call`.
async fn setup_with_series(app: &TestApp, key: &str) -> String {
    let mut widgets = crate::fixture::standard_widgets();
    let series = |id: &str, granularity: &str| {
        crate::fixture::widget(
            id,
            "timeseries",
            json!({ "event_name": "api.call", "metric": "count", "granularity": granularity }),
            "line",
            [0, 10, 6, 4],
        )
    };
    widgets.as_array_mut().expect("widgets").extend([series("by_week", "week"), series("by_month", "month")]);
    let id = app.create_dashboard(key, "Series", widgets).await;
    app.publish(key, &id).await;
    id
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).expect("time").with_timezone(&chrono::Utc)
}

/// Asserts the answer reads nothing before `earliest`: `meta.from` is at or after it, and only the
/// first bucket may start before it (it then counts rows from `meta.from` on).
#[track_caller]
fn within(resp: &crate::fixture::Resp, earliest: chrono::DateTime<chrono::Utc>) {
    let body = resp.ok(StatusCode::OK);
    let from = at(body["meta"]["from"].as_str().expect("meta.from"));
    assert!(from >= earliest, "meta.from {from} is before the limit {earliest}: {}", resp.text);
    let rows = body["data"].as_array().expect("data");
    for row in rows.iter().skip(1) {
        let bucket = at(row["bucket"].as_str().expect("bucket"));
        assert!(bucket >= earliest, "bucket {bucket} is before the limit {earliest}: {}", resp.text);
    }
}

#[tokio::test]
async fn max_date_range_days_holds_on_the_rows_returned() {
    let app = TestApp::new().await;
    let org = app.register().await;
    let now = chrono::Utc::now();
    let hours = |h: i64| call("acme", "gpt-4", "/chat", "pro", 1.0, h);
    // Inside 30 days: 1 hour and 29 days ago. Outside: 30 days and 2 hours, 33 and 45 days ago
    // (in the window's first week or month bucket, or the metric's comparison window).
    app.ingest(&org.key, vec![hours(1), hours(29 * 24), hours(30 * 24 + 2), hours(33 * 24), hours(45 * 24)])
        .await;
    let id = setup_with_series(&app, &org.key).await;
    let token = app.token(&org.key, "acme", &id, json!({ "max_date_range_days": 30 })).await;
    let earliest = now - chrono::Duration::days(30);
    // What an answer from `meta.from` on must count: the inside events from then on, nothing else.
    let inside = [now - chrono::Duration::hours(1), now - chrono::Duration::days(29)];
    let expected = |resp: &crate::fixture::Resp| {
        let from = at(resp.body["meta"]["from"].as_str().expect("meta.from"));
        inside.iter().filter(|t| **t >= from - chrono::Duration::seconds(5)).count() as f64
    };
    for widget in ["by_week", "by_month"] {
        let resp =
            app.embed_query(&token, json!({ "widget_id": widget, "filters": { "period": "30d" } })).await;
        within(&resp, earliest);
        assert_eq!(total(&resp), expected(&resp), "{widget}: {}", resp.text);
        // A date range starting just inside the limit is widened to whole buckets no further.
        let from = earliest + chrono::Duration::minutes(1);
        let ranged = json!({ "widget_id": widget, "filters": { "period": "30d", "dateRanges": { "timestamp": { "from": from.to_rfc3339(), "to": chrono::Utc::now().to_rfc3339() } } } });
        let resp = app.embed_query(&token, ranged).await;
        within(&resp, earliest);
        assert_eq!(total(&resp), expected(&resp), "{widget} with a date range: {}", resp.text);
    }
    // The metric's comparison would read days 30 to 60: it is left out rather than read.
    let resp = app.embed_query(&token, json!({ "widget_id": "calls", "filters": { "period": "30d" } })).await;
    assert_eq!(value(&resp), 2.0);
    assert!(resp.body.get("previous").is_none_or(|p| p.is_null()), "{}", resp.text);
    assert!(resp.body.get("change").is_none_or(|c| c.is_null()), "{}", resp.text);
    // A shorter period's comparison (days 7 to 14, inside the limit) is kept.
    let resp = app.embed_query(&token, json!({ "widget_id": "calls", "filters": { "period": "7d" } })).await;
    let body = resp.ok(StatusCode::OK);
    assert_eq!(body["previous"]["value"], 0, "{}", resp.text);
    // Without a limit, the same session shape reads everything its window holds.
    let open = app.token(&org.key, "acme", &id, json!({})).await;
    let resp = app.embed_query(&open, json!({ "widget_id": "calls", "filters": { "period": "30d" } })).await;
    assert_eq!(resp.ok(StatusCode::OK)["previous"]["value"], 3, "{}", resp.text);
}
