//! Browser tests in headless Chromium (`wasm-bindgen-test-runner`): each mounts the app (or a
//! view) into a fresh element with canned data, and selects what it checks by `data-testid`.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    cell::{Cell, RefCell},
    collections::BTreeMap,
    rc::Rc,
};

use contract::{
    dashboard::{Layout, PreviousPeriod, Viz, VizType, Widget, WidgetData, WidgetKind, WidgetQuery},
    embed::{EmbedDashboard, EmbedDashboardResponse, EmbedFilters, EmbedPermissions, EmbedQueryRequest},
    messages::{DrillAction, ErrorCode, Event},
    query::{Granularity, Metric, Period, QueryMeta, QueryRow},
};
use embed_runtime::{
    App,
    api::{Api, ApiError, FirstPaint},
    bridge::{self, Bridge},
    origin::{Allowed, OriginPolicy},
};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

// ---------------------------------------------------------------------------------------------
// Fixtures

fn widget(
    id: &str,
    kind: WidgetKind,
    viz: VizType,
    group_by: Option<&str>,
    granularity: Option<Granularity>,
    layout: (u32, u32, u32, u32),
) -> Widget {
    Widget {
        id: id.into(),
        kind,
        title: format!("Title {id}"),
        query: WidgetQuery {
            event_name: "api.call".into(),
            metric: Metric::Count,
            numeric_prop: None,
            granularity,
            group_by: group_by.map(Into::into),
            filters: BTreeMap::new(),
            limit: None,
        },
        viz: Viz { viz_type: viz, options: Default::default() },
        layout: Layout { x: layout.0, y: layout.1, w: layout.2, h: layout.3 },
    }
}

fn widgets() -> Vec<Widget> {
    vec![
        widget("calls", WidgetKind::Metric, VizType::Number, None, None, (0, 0, 3, 2)),
        widget(
            "trend",
            WidgetKind::Timeseries,
            VizType::Line,
            Some("model"),
            Some(Granularity::Day),
            (3, 0, 9, 4),
        ),
        widget("by_endpoint", WidgetKind::Breakdown, VizType::Bar, Some("endpoint"), None, (0, 4, 6, 4)),
        widget("share", WidgetKind::Breakdown, VizType::Pie, Some("model"), None, (6, 4, 6, 4)),
        widget("top", WidgetKind::Table, VizType::Table, Some("model"), None, (0, 8, 12, 4)),
    ]
}

fn permissions() -> EmbedPermissions {
    EmbedPermissions {
        allow_drill_down: true,
        locked_filters: BTreeMap::from([("plan".into(), "pro".into())]),
        hidden_widgets: vec![],
        allowed_dimensions: Some(vec!["model".into(), "endpoint".into()]),
        allowed_periods: Some(vec![Period::D7, Period::D30]),
        max_date_range_days: Some(30),
        allow_export: true,
    }
}

fn session(published: bool, permissions: EmbedPermissions) -> EmbedDashboardResponse {
    EmbedDashboardResponse {
        published,
        message: (!published).then(|| "This dashboard is not published.".into()),
        dashboard: EmbedDashboard {
            id: "dash_123".into(),
            name: "API usage".into(),
            widgets: if published { widgets() } else { vec![] },
            published_at: None,
        },
        tenant_id: "acme".into(),
        permissions,
        filters: EmbedFilters {
            period: Some(Period::D30),
            dimensions: BTreeMap::from([("plan".into(), "pro".into())]),
            ..Default::default()
        },
        locale: Some("en-US".into()),
        expires_at: "2026-11-21T13:00:00Z".into(),
    }
}

fn meta(granularity: Option<Granularity>, group_by: Option<&str>) -> QueryMeta {
    QueryMeta {
        query_time_ms: 1.0,
        rows_scanned: 10,
        event_name: "api.call".into(),
        metric: Metric::Count,
        period: Period::D30,
        source_table: "events".into(),
        planned_by: "raw".into(),
        rollup_granularity: None,
        granularity,
        group_by: group_by.map(Into::into),
        from: "2026-10-22T00:00:00Z".into(),
        to: "2026-11-21T00:00:00Z".into(),
        groups_truncated: false,
    }
}

fn row(bucket: Option<&str>, group: Option<&str>, value: f64) -> QueryRow {
    QueryRow { bucket: bucket.map(Into::into), group: group.map(|g| Some(g.into())), value: Some(value) }
}

/// Canned data for each widget of [`widgets`].
fn answer(request: &EmbedQueryRequest) -> WidgetData {
    let (kind, data, granularity, group_by) = match request.widget_id.as_str() {
        "calls" => (
            WidgetKind::Metric,
            vec![QueryRow { bucket: None, group: None, value: Some(1250.0) }],
            None,
            None,
        ),
        "trend" => {
            let mut rows = Vec::new();
            for day in ["2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z"] {
                rows.push(row(Some(day), Some("gpt-4"), 30.0));
                rows.push(row(Some(day), Some("claude"), 12.0));
            }
            (WidgetKind::Timeseries, rows, Some(Granularity::Day), Some("model"))
        }
        "by_endpoint" => (
            WidgetKind::Breakdown,
            vec![row(None, Some("/chat"), 90.0), row(None, Some("/embed"), 30.0)],
            None,
            Some("endpoint"),
        ),
        "share" => (
            WidgetKind::Breakdown,
            vec![row(None, Some("gpt-4"), 60.0), row(None, Some("claude"), 24.0)],
            None,
            Some("model"),
        ),
        _ => (
            WidgetKind::Table,
            vec![row(None, Some("gpt-4"), 60.0), row(None, Some("claude"), 24.0)],
            None,
            Some("model"),
        ),
    };
    let metric = kind == WidgetKind::Metric;
    WidgetData {
        widget_id: request.widget_id.clone(),
        kind,
        data,
        meta: meta(granularity, group_by),
        previous: metric.then(|| PreviousPeriod { value: Some(1000.0), from: "a".into(), to: "b".into() }),
        change: metric.then_some(0.25),
        previous_series: None,
    }
}

/// What a mounted app did.
struct Harness {
    root: HtmlElement,
    events: Rc<RefCell<Vec<Event>>>,
    dashboard_calls: Rc<Cell<u32>>,
    queries: Rc<RefCell<Vec<EmbedQueryRequest>>>,
    _handle: Box<dyn std::any::Any>,
}

impl Harness {
    fn find(&self, testid: &str) -> Option<Element> {
        self.root.query_selector(&format!("[data-testid='{testid}']")).unwrap()
    }

    fn get(&self, testid: &str) -> Element {
        self.find(testid).unwrap_or_else(|| panic!("no [data-testid={testid}] in {}", self.root.inner_html()))
    }

    fn all(&self, testid: &str) -> Vec<Element> {
        let list = self.root.query_selector_all(&format!("[data-testid='{testid}']")).unwrap();
        (0..list.length()).filter_map(|i| list.item(i)?.dyn_into().ok()).collect()
    }

    fn events(&self) -> Vec<Event> {
        self.events.borrow().iter().filter(|e| !matches!(e, Event::Resize { .. })).cloned().collect()
    }

    /// The events posted since the last take, `resize`s left out (their timing depends on layout).
    fn take_events(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.borrow_mut())
            .into_iter()
            .filter(|e| !matches!(e, Event::Resize { .. }))
            .collect()
    }

    /// The heights of the `resize` events posted since the last take.
    fn take_resizes(&self) -> Vec<u32> {
        std::mem::take(&mut *self.events.borrow_mut())
            .into_iter()
            .filter_map(|e| match e {
                Event::Resize { height } => Some(height),
                _ => None,
            })
            .collect()
    }
}

fn fresh_container() -> HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let container: HtmlElement = document.create_element("div").unwrap().dyn_into().unwrap();
    document.body().unwrap().append_child(&container).unwrap();
    container
}

async fn tick(ms: u32) {
    TimeoutFuture::new(ms).await;
}

type DashboardAnswer = Rc<dyn Fn(u32) -> Result<EmbedDashboardResponse, ApiError>>;
type QueryAnswer = Rc<dyn Fn(&EmbedQueryRequest, u32) -> Result<WidgetData, ApiError>>;

/// Mounts the app into a fresh element with canned answers and waits for it to settle.
async fn mount(dashboard: DashboardAnswer, query: QueryAnswer) -> Harness {
    mount_in(fresh_container(), dashboard, query).await
}

/// Mounts the app into `root` with canned answers and waits for it to settle.
async fn mount_in(root: HtmlElement, dashboard: DashboardAnswer, query: QueryAnswer) -> Harness {
    let events = Rc::new(RefCell::new(Vec::new()));
    let dashboard_calls = Rc::new(Cell::new(0));
    let queries = Rc::new(RefCell::new(Vec::new()));
    let api = Api::Fixture {
        dashboard: Rc::new({
            let calls = dashboard_calls.clone();
            move || {
                calls.set(calls.get() + 1);
                dashboard(calls.get())
            }
        }),
        query: Rc::new({
            let queries = queries.clone();
            move |request: &EmbedQueryRequest| {
                queries.borrow_mut().push(request.clone());
                let n = queries.borrow().iter().filter(|q| q.widget_id == request.widget_id).count() as u32;
                query(request, n)
            }
        }),
    };
    let bridge = Bridge::Capture(events.clone());
    let handle = leptos::mount::mount_to(
        root.clone(),
        move || view! { <App api=api bridge=bridge locale="en-US".to_owned() /> },
    );
    tick(60).await;
    Harness { root, events, dashboard_calls, queries, _handle: Box::new(handle) }
}

async fn mount_default() -> Harness {
    mount(Rc::new(|_| Ok(session(true, permissions()))), Rc::new(|r, _| Ok(answer(r)))).await
}

/// Sends a host message the way the browser delivers it (the capture bridge accepts any sender).
async fn send(json: &str) {
    let data = js_sys::JSON::parse(json).unwrap();
    let init = web_sys::MessageEventInit::new();
    init.set_data(&data);
    let event = web_sys::MessageEvent::new_with_event_init_dict("message", &init).unwrap();
    web_sys::window().unwrap().dispatch_event(&event).unwrap();
    tick(60).await;
}

fn minify(json: &str) -> String {
    js_sys::JSON::stringify(&js_sys::JSON::parse(json).unwrap()).unwrap().into()
}

// ---------------------------------------------------------------------------------------------
// The message codec

const COMMANDS: &[&str] = &[
    r#"{"_emban": true, "type": "setFilters", "filters": {"period": "7d"}}"#,
    r##"{"_emban": true, "type": "setTheme", "theme": {"primaryColor": "#0f9d58", "backgroundColor": "#f7f9f7", "cardBackground": "#ffffff", "cardBorder": "#d8e2d9", "textColor": "#101513", "mutedColor": "#5d6c63"}}"##,
    r#"{"_emban": true, "type": "reload"}"#,
];

const EVENTS: &[&str] = &[
    r#"{"_emban": true, "type": "ready", "dashboardId": "dash_123"}"#,
    r#"{"_emban": true, "type": "resize", "height": 712}"#,
    r#"{"_emban": true, "type": "filter", "period": "7d", "filters": {"model": "gpt-4"}, "numericRanges": {}, "dateRanges": {}}"#,
    r#"{"_emban": true, "type": "period-change", "previousPeriod": "30d", "period": "7d"}"#,
    r#"{"_emban": true, "type": "drill", "dimension": "endpoint", "value": "/chat", "action": "apply"}"#,
    r#"{"_emban": true, "type": "error", "message": "Couldn't refresh this dashboard"}"#,
];

#[wasm_bindgen_test]
fn every_reference_command_round_trips_through_js_objects() {
    for json in COMMANDS {
        let command = bridge::decode_command(&js_sys::JSON::parse(json).unwrap()).expect(json);
        let encoded = bridge::encode(&contract::messages::Envelope::new(command)).unwrap();
        assert_eq!(String::from(js_sys::JSON::stringify(&encoded).unwrap()), minify(json));
    }
}

#[wasm_bindgen_test]
fn every_reference_event_round_trips_through_js_objects() {
    for json in EVENTS {
        let event = bridge::decode_event(&js_sys::JSON::parse(json).unwrap()).expect(json);
        let encoded = bridge::encode(&contract::messages::Envelope::new(event)).unwrap();
        let object: &js_sys::Object = encoded.dyn_ref().expect("a plain object, not a Map");
        assert_eq!(
            js_sys::Object::get_prototype_of(object),
            js_sys::Object::get_prototype_of(&js_sys::Object::new())
        );
        assert_eq!(String::from(js_sys::JSON::stringify(&encoded).unwrap()), minify(json));
    }
}

#[wasm_bindgen_test]
fn malformed_messages_decode_to_nothing() {
    let bad: Vec<JsValue> = vec![
        JsValue::from_str(r#"{"_emban":true,"type":"reload"}"#),
        JsValue::from_f64(1.0),
        JsValue::NULL,
        js_sys::Array::new().into(),
        js_sys::JSON::parse(r#"{"type":"reload"}"#).unwrap(),
        js_sys::JSON::parse(r#"{"_emban":1,"type":"reload"}"#).unwrap(),
        js_sys::JSON::parse(r#"{"_emban":true,"type":"drop tables"}"#).unwrap(),
        js_sys::JSON::parse(r#"{"_emban":true,"type":"setTheme","theme":"red"}"#).unwrap(),
        js_sys::JSON::parse(r#"{"_emban":true,"type":"setFilters","filters":{"period":["7d"]}}"#).unwrap(),
        js_sys::JSON::parse(r#"{"_emban":true,"type":"setFilters","filters":{"filters":{"model":"x"}}}"#)
            .unwrap(),
        js_sys::JSON::parse(
            r#"{"_emban":true,"type":"setFilters","filters":{"numericRanges":{"t":{"step":1}}}}"#,
        )
        .unwrap(),
        js_sys::JSON::parse(r##"{"_emban":true,"type":"setTheme","theme":{"primary":"#000"}}"##).unwrap(),
    ];
    for data in bad {
        assert!(bridge::decode_command(&data).is_none(), "{data:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Origin filtering

#[wasm_bindgen_test]
fn messages_not_from_the_parent_window_are_refused() {
    // The test page is not framed: no sender is `window.parent` of another window.
    let own: String = web_sys::window().unwrap().location().origin().unwrap();
    let policy =
        OriginPolicy { allowed: Allowed::Patterns(vec![own.clone()]), framing: None, own: own.clone() };
    let init = web_sys::MessageEventInit::new();
    init.set_data(&js_sys::JSON::parse(r#"{"_emban":true,"type":"reload"}"#).unwrap());
    init.set_origin(&own);
    let event = web_sys::MessageEvent::new_with_event_init_dict("message", &init).unwrap();
    assert!(!bridge::accepts(&policy, &event));
    assert!(policy.accepts(&own), "the origin alone would pass");
}

#[wasm_bindgen_test]
async fn a_page_bridge_ignores_messages_from_unverified_senders() {
    let calls = Rc::new(Cell::new(0));
    let api = Api::Fixture {
        dashboard: Rc::new({
            let calls = calls.clone();
            move || {
                calls.set(calls.get() + 1);
                Ok(session(true, permissions()))
            }
        }),
        query: Rc::new(|r: &EmbedQueryRequest| Ok(answer(r))),
    };
    let root = fresh_container();
    let handle = leptos::mount::mount_to(root, move || view! { <App api=api bridge=Bridge::from_page() /> });
    tick(60).await;
    assert_eq!(calls.get(), 1);
    send(r#"{"_emban":true,"type":"reload"}"#).await;
    assert_eq!(calls.get(), 1, "a reload from a sender that is not window.parent is ignored");
    drop(handle);
}

#[wasm_bindgen_test]
fn the_page_policy_reads_the_allowed_origins_from_the_page() {
    let document = web_sys::window().unwrap().document().unwrap();
    let meta = document.create_element("meta").unwrap();
    meta.set_attribute("name", "emban-allowed-origins").unwrap();
    meta.set_attribute("content", "https://app.example.com https://*.partner.io").unwrap();
    document.head().unwrap().append_child(&meta).unwrap();
    let policy = bridge::page_policy();
    meta.remove();
    assert_eq!(
        policy.allowed,
        Allowed::Patterns(vec!["https://app.example.com".into(), "https://*.partner.io".into()])
    );
    assert!(policy.accepts("https://x.partner.io"));
    assert!(!policy.accepts(&policy.own), "our own origin is not in the list");
}

#[wasm_bindgen_test]
fn a_page_any_parent_may_frame_talks_to_no_one_until_it_knows_the_parent() {
    let document = web_sys::window().unwrap().document().unwrap();
    let meta = document.create_element("meta").unwrap();
    meta.set_attribute("name", "emban-allowed-origins").unwrap();
    meta.set_attribute("content", "*").unwrap();
    document.head().unwrap().append_child(&meta).unwrap();
    let policy = bridge::page_policy();
    meta.remove();
    assert_eq!(policy.allowed, Allowed::Any);
    // The test page is not framed, but its referrer may name the runner's page; either way the
    // policy never targets `*`.
    assert!(policy.targets().iter().all(|t| t != "*"));
}

// ---------------------------------------------------------------------------------------------
// Components

#[wasm_bindgen_test]
async fn renders_every_widget_kind_and_announces_ready() {
    let h = mount_default().await;
    assert!(h.find("grid").is_some());
    for id in ["calls", "trend", "by_endpoint", "share", "top"] {
        assert!(h.find(&format!("widget-{id}")).is_some(), "widget {id}");
    }
    assert_eq!(h.get("metric-value").text_content().unwrap(), "1,250");
    assert!(h.get("metric-change").text_content().unwrap().contains("+25%"));
    let label = h.get("metric").get_attribute("aria-label").unwrap();
    assert!(label.contains("1,250") && label.contains("1,000"), "{label}");
    let charts = h.all("chart-svg");
    assert_eq!(charts.len(), 3);
    for chart in &charts {
        assert!(chart.inner_html().starts_with("<svg"), "plotters SVG");
        assert!(chart.get_attribute("aria-label").unwrap().contains("Title"), "text alternative");
        assert_eq!(chart.get_attribute("role").as_deref(), Some("img"));
    }
    assert!(charts[0].get_attribute("aria-label").unwrap().contains("Line chart"));
    assert_eq!(h.all("legend").len(), 2, "the grouped time series and the pie have legends");
    assert!(h.all("data-table").len() >= 4, "each chart has a data table, plus the table widget");
    let events = h.events();
    match &events[0] {
        Event::Ready { dashboard_id, version, commands, permissions: perms } => {
            assert_eq!(dashboard_id, "dash_123");
            assert_eq!(*version, Some(1));
            assert_eq!(commands.as_deref().unwrap(), ["setFilters", "setTheme", "reload"]);
            assert_eq!(perms.as_ref().unwrap(), &permissions());
        }
        other => panic!("first event is {other:?}"),
    }
    assert!(
        matches!(&events[1], Event::Filter(state) if state.period == "30d" && state.filters["plan"] == "pro")
    );
    // Every widget was asked for with the session's filters and the dashboard id.
    let queries = h.queries.borrow();
    assert_eq!(queries.len(), 5);
    assert!(
        queries
            .iter()
            .all(|q| q.filters.period == Some(Period::D30) && q.dashboard_id.as_deref() == Some("dash_123"))
    );
}

/// An iframe `width` CSS pixels wide holding the runtime's stylesheet (media queries answer to
/// the frame's width, as they do for an embed), its window, and an element in it to mount into.
fn frame(width: u32) -> (Element, web_sys::Window, HtmlElement) {
    let document = web_sys::window().unwrap().document().unwrap();
    let iframe = document.create_element("iframe").unwrap();
    iframe.set_attribute("style", &format!("width:{width}px;height:1200px;border:0")).unwrap();
    document.body().unwrap().append_child(&iframe).unwrap();
    // Objects of the frame's realm fail `instanceof` checks against ours: cast unchecked.
    let window: web_sys::Window =
        js_sys::Reflect::get(&iframe, &"contentWindow".into()).unwrap().unchecked_into();
    let inner = window.document().unwrap();
    let style = inner.create_element("style").unwrap();
    style.set_text_content(Some(include_str!("../style.css")));
    inner.head().unwrap().append_child(&style).unwrap();
    let root: HtmlElement = inner.create_element("div").unwrap().unchecked_into();
    inner.body().unwrap().append_child(&root).unwrap();
    (iframe, window, root)
}

#[wasm_bindgen_test]
async fn widgets_stack_in_one_column_in_narrow_frames() {
    for (width, columns) in [(420, 1), (1000, 12)] {
        let (iframe, window, root) = frame(width);
        let h = mount_in(root, Rc::new(|_| Ok(session(true, permissions()))), Rc::new(|r, _| Ok(answer(r))))
            .await;
        let grid = h.get("grid");
        let tracks = window
            .get_computed_style(&grid)
            .unwrap()
            .unwrap()
            .get_property_value("grid-template-columns")
            .unwrap();
        assert_eq!(tracks.split_whitespace().count(), columns, "{width}px frame: {tracks}");
        let cards = h.root.query_selector_all(".card").unwrap();
        let rects: Vec<web_sys::DomRect> = (0..cards.length())
            .map(|i| cards.item(i).unwrap().unchecked_into::<Element>().get_bounding_client_rect())
            .collect();
        assert_eq!(rects.len(), 5);
        let stacked = rects.windows(2).all(|p| p[0].left() == p[1].left() && p[1].top() >= p[0].bottom());
        assert_eq!(stacked, columns == 1, "{width}px frame: cards stack only when narrow");
        if columns == 1 {
            assert!(rects.iter().all(|r| r.width() == rects[0].width()), "full-width cards");
        }
        iframe.remove();
    }
}

#[wasm_bindgen_test]
async fn widgets_are_laid_out_on_the_grid_in_reading_order() {
    let h = mount_default().await;
    let card = h.get("widget-trend");
    let style = card.get_attribute("style").unwrap();
    assert!(style.contains("--x:4") && style.contains("--w:9") && style.contains("--h:4"), "{style}");
    let cards = h.root.query_selector_all(".card").unwrap();
    let ids: Vec<String> = (0..cards.length())
        .map(|i| cards.item(i).unwrap().dyn_into::<Element>().unwrap().get_attribute("data-testid").unwrap())
        .collect();
    assert_eq!(ids, ["widget-calls", "widget-trend", "widget-by_endpoint", "widget-share", "widget-top"]);
}

#[wasm_bindgen_test]
async fn the_filter_bar_shows_allowed_periods_and_locked_filters() {
    let h = mount_default().await;
    let select: web_sys::HtmlSelectElement = h.get("period-select").dyn_into().unwrap();
    let options: Vec<String> =
        (0..select.length()).map(|i| select.item(i).unwrap().get_attribute("value").unwrap()).collect();
    assert_eq!(options, ["7d", "30d"]);
    assert_eq!(select.value(), "30d");
    let locked = h.get("chip-locked");
    assert!(locked.text_content().unwrap().contains("plan: pro"));
    assert!(locked.query_selector("button").unwrap().is_none(), "a locked filter cannot be cleared");
    assert!(h.find("chip").is_none());
    let dims: web_sys::HtmlSelectElement = h.get("dimension-select").dyn_into().unwrap();
    assert_eq!(dims.length(), 2, "model and endpoint; not the locked plan");
}

#[wasm_bindgen_test]
async fn choosing_a_period_in_the_bar_refetches_and_emits() {
    let h = mount_default().await;
    h.take_events();
    let select: web_sys::HtmlSelectElement = h.get("period-select").dyn_into().unwrap();
    select.set_value("7d");
    select.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
    tick(80).await;
    let events = h.take_events();
    assert!(matches!(&events[0], Event::Filter(s) if s.period == "7d"), "{events:?}");
    assert_eq!(events[1], Event::PeriodChange { previous_period: "30d".into(), period: "7d".into() });
    assert!(h.queries.borrow().iter().any(|q| q.filters.period == Some(Period::D7)));
}

#[wasm_bindgen_test]
async fn adding_a_dimension_filter_from_the_keyboard_form() {
    let h = mount_default().await;
    h.take_events();
    let input: web_sys::HtmlInputElement = h.get("dimension-value").dyn_into().unwrap();
    input.set_value("gpt-4");
    input.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    let form: web_sys::HtmlFormElement = h.get("add-filter").dyn_into().unwrap();
    form.request_submit().unwrap();
    tick(80).await;
    let events = h.take_events();
    assert!(
        matches!(&events[0], Event::Filter(s) if s.filters.get("endpoint").map(String::as_str) == Some("gpt-4")),
        "{events:?}"
    );
    assert!(h.get("chip").text_content().unwrap().contains("endpoint: gpt-4"));
}

#[wasm_bindgen_test]
async fn drill_from_a_legend_entry_then_clear_with_the_chip() {
    let h = mount_default().await;
    h.take_events();
    let entry: HtmlElement = h.all("legend-item")[0].clone().dyn_into().unwrap();
    entry.click();
    tick(80).await;
    let events = h.take_events();
    assert!(
        events.contains(&Event::Drill {
            dimension: "model".into(),
            value: "gpt-4".into(),
            action: DrillAction::Apply
        }),
        "{events:?}"
    );
    assert!(events.iter().any(
        |e| matches!(e, Event::Filter(s) if s.filters.get("model").map(String::as_str) == Some("gpt-4"))
    ));
    assert!(
        h.queries
            .borrow()
            .iter()
            .any(|q| q.filters.dimensions.get("model").map(String::as_str) == Some("gpt-4"))
    );
    let clear: HtmlElement = h.get("chip-clear").dyn_into().unwrap();
    clear.click();
    tick(80).await;
    let events = h.take_events();
    assert!(
        events.contains(&Event::Drill {
            dimension: "model".into(),
            value: "gpt-4".into(),
            action: DrillAction::Clear
        }),
        "{events:?}"
    );
    assert!(h.find("chip").is_none());
}

#[wasm_bindgen_test]
async fn clicking_a_bar_drills_into_it() {
    let h = mount_default().await;
    h.take_events();
    let chart: HtmlElement = h
        .get("widget-by_endpoint")
        .query_selector("[data-testid='chart-svg']")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap();
    // The first (largest) bar's row is near the top of the plot; click its middle.
    let rect = chart.get_bounding_client_rect();
    let svg = chart.query_selector("rect").unwrap();
    assert!(svg.is_some());
    let init = web_sys::MouseEventInit::new();
    init.set_bubbles(true);
    init.set_client_x((rect.left() + rect.width() * 0.5) as i32);
    init.set_client_y((rect.top() + 6.0 + (rect.height() - 30.0) * 0.25) as i32);
    let click = web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &init).unwrap();
    chart.dispatch_event(&click).unwrap();
    tick(80).await;
    let events = h.take_events();
    assert!(
        events.contains(&Event::Drill {
            dimension: "endpoint".into(),
            value: "/chat".into(),
            action: DrillAction::Apply
        }),
        "{events:?}"
    );
}

#[wasm_bindgen_test]
async fn table_rows_drill_or_ask_for_detail() {
    let h = mount(
        Rc::new(|_| Ok(session(true, EmbedPermissions { allow_drill_down: false, ..permissions() }))),
        Rc::new(|r, _| Ok(answer(r))),
    )
    .await;
    h.take_events();
    let table = h.get("widget-top");
    let button: HtmlElement =
        table.query_selector("[data-testid='row-drill']").unwrap().unwrap().dyn_into().unwrap();
    button.click();
    tick(60).await;
    let events = h.take_events();
    assert_eq!(
        events,
        [Event::Drill { dimension: "model".into(), value: "gpt-4".into(), action: DrillAction::Detail }],
        "without drill-down a click asks the host for detail and changes nothing"
    );
}

#[wasm_bindgen_test]
async fn empty_periods_say_so() {
    let h = mount(
        Rc::new(|_| Ok(session(true, permissions()))),
        Rc::new(|r, _| {
            let mut d = answer(r);
            for row in &mut d.data {
                row.value = Some(0.0);
            }
            d.data.retain(|_| r.widget_id != "calls");
            Ok(d)
        }),
    )
    .await;
    assert_eq!(h.all("empty").len(), 4, "every chart and table");
    assert_eq!(h.get("empty").text_content().unwrap(), "No data in this period");
    assert!(h.find("metric").is_some(), "the metric still shows its previous period");
}

#[wasm_bindgen_test]
async fn a_failing_widget_shows_an_error_with_retry() {
    let h = mount(
        Rc::new(|_| Ok(session(true, permissions()))),
        Rc::new(|r, n| {
            if r.widget_id == "by_endpoint" && n == 1 {
                Err(ApiError::Http(500, "boom".into()))
            } else {
                Ok(answer(r))
            }
        }),
    )
    .await;
    let card = h.get("widget-by_endpoint");
    assert!(card.query_selector("[data-testid='error']").unwrap().is_some(), "{}", card.inner_html());
    let shown = card.text_content().unwrap();
    assert!(shown.contains("Couldn't load this widget."), "{shown}");
    assert!(
        !shown.contains("HTTP") && !shown.contains("500") && !shown.contains("boom"),
        "no server text: {shown}"
    );
    assert!(h.events().iter().any(|e| matches!(
        e,
        Event::Error { code: Some(ErrorCode::QueryFailed), recoverable: Some(true), .. }
    )));
    let retry: HtmlElement =
        card.query_selector("[data-testid='retry']").unwrap().unwrap().dyn_into().unwrap();
    retry.click();
    tick(80).await;
    let card = h.get("widget-by_endpoint");
    assert!(card.query_selector("[data-testid='error']").unwrap().is_none());
    assert!(card.query_selector("[data-testid='chart-svg']").unwrap().is_some());
}

#[wasm_bindgen_test]
async fn loading_shows_skeletons() {
    let root = fresh_container();
    let api = Api::Fixture {
        dashboard: Rc::new(|| Ok(session(true, permissions()))),
        query: Rc::new(|r: &EmbedQueryRequest| Ok(answer(r))),
    };
    let events = Rc::new(RefCell::new(Vec::new()));
    let handle = leptos::mount::mount_to(
        root.clone(),
        move || view! { <App api=api bridge=Bridge::Capture(events) /> },
    );
    // Before the first answer arrives.
    assert!(root.query_selector("[data-testid='skeleton']").unwrap().is_some());
    tick(60).await;
    assert!(root.query_selector("[data-testid='grid']").unwrap().is_some());
    drop(handle);
}

#[wasm_bindgen_test]
async fn an_unpublished_dashboard_says_so() {
    let h = mount(Rc::new(|_| Ok(session(false, permissions()))), Rc::new(|r, _| Ok(answer(r)))).await;
    assert!(h.get("not-published").text_content().unwrap().contains("not published"));
    assert!(h.queries.borrow().is_empty());
    assert_eq!(
        h.events(),
        [Event::Error {
            message: "This dashboard is not published.".into(),
            code: Some(ErrorCode::NotPublished),
            recoverable: Some(false)
        }]
    );
}

#[wasm_bindgen_test]
async fn an_expired_session_says_so_and_tells_the_host_once() {
    let h = mount(
        Rc::new(|_| Ok(session(true, permissions()))),
        Rc::new(|_, _| Err(ApiError::Unauthorized("the embed session has expired".into()))),
    )
    .await;
    tick(60).await;
    assert!(h.find("session-expired").is_some(), "{}", h.root.inner_html());
    let expired: Vec<Event> = h
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::Error { code: Some(ErrorCode::SessionExpired), .. }))
        .collect();
    assert_eq!(expired.len(), 1, "five widgets failed, one event");
    assert!(matches!(&expired[0], Event::Error { recoverable: Some(false), .. }));
}

// ---------------------------------------------------------------------------------------------
// Commands and permission refusals

#[wasm_bindgen_test]
async fn set_filters_applies_and_emits_filter_and_period_change() {
    let h = mount_default().await;
    h.take_events();
    send(r#"{"_emban":true,"type":"setFilters","filters":{"period":"7d","dimensions":{"model":"gpt-4"}}}"#)
        .await;
    let events = h.take_events();
    assert_eq!(events.len(), 2, "{events:?}");
    let Event::Filter(state) = &events[0] else { panic!("{events:?}") };
    assert_eq!(state.period, "7d");
    assert_eq!(state.filters.get("model").map(String::as_str), Some("gpt-4"));
    assert_eq!(state.filters.get("plan").map(String::as_str), Some("pro"), "locked filters stay");
    assert_eq!(events[1], Event::PeriodChange { previous_period: "30d".into(), period: "7d".into() });
    let select: web_sys::HtmlSelectElement = h.get("period-select").dyn_into().unwrap();
    assert_eq!(select.value(), "7d");
    tick(60).await;
    assert!(h.queries.borrow().iter().any(|q| q.filters.period == Some(Period::D7)
        && q.filters.dimensions.get("model").map(String::as_str) == Some("gpt-4")));
    // The same period again: a filter event, no period-change.
    send(r#"{"_emban":true,"type":"setFilters","filters":{"period":"7d"}}"#).await;
    let events = h.take_events();
    assert!(matches!(events.as_slice(), [Event::Filter(_)]), "{events:?}");
}

#[wasm_bindgen_test]
async fn commands_sent_on_ready_wait_for_the_dashboard_and_are_handled_in_order() {
    // `ready` goes out, then the runtime yields to the event loop before it renders the
    // dashboard. A host answering `ready` at once (here: in the same turn of the event loop, the
    // earliest a host can) must still have its commands applied, in the order sent.
    let events = Rc::new(RefCell::new(Vec::new()));
    let api = Api::Fixture {
        dashboard: Rc::new(|| Ok(session(true, permissions()))),
        query: Rc::new(|r: &EmbedQueryRequest| Ok(answer(r))),
    };
    let bridge = Bridge::Capture(events.clone());
    let _handle = leptos::mount::mount_to(
        fresh_container(),
        move || view! { <App api=api bridge=bridge locale="en-US".to_owned() /> },
    );
    let mut turns = 0;
    while !events.borrow().iter().any(|e| matches!(e, Event::Ready { .. })) {
        turns += 1;
        assert!(turns < 100, "ready was not posted");
        // A zero-delay timeout, as the runtime's own yield after `ready`: timers of equal delay
        // run in the order they were set, so this loop sees `ready` before that yield ends.
        tick(0).await;
    }
    let filters = events.borrow().iter().any(|e| matches!(e, Event::Filter(_)));
    assert!(!filters, "the dashboard's state is set after a yield, not in ready's task");
    for json in [
        r#"{"_emban":true,"type":"setFilters","filters":{"period":"7d"},"requestId":"one"}"#,
        r#"{"_emban":true,"type":"setFilters","filters":{"period":"30d"},"requestId":"two"}"#,
    ] {
        let init = web_sys::MessageEventInit::new();
        init.set_data(&js_sys::JSON::parse(json).unwrap());
        let event = web_sys::MessageEvent::new_with_event_init_dict("message", &init).unwrap();
        web_sys::window().unwrap().dispatch_event(&event).unwrap();
    }
    tick(60).await;
    let got: Vec<Event> =
        events.borrow().iter().filter(|e| !matches!(e, Event::Resize { .. })).cloned().collect();
    let periods: Vec<&str> = got
        .iter()
        .filter_map(|e| match e {
            Event::Filter(state) => Some(state.period.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(periods, ["30d", "7d", "30d"], "{got:?}");
    assert!(!got.iter().any(|e| matches!(e, Event::Error { .. })), "nothing refused: {got:?}");
}

/// JSON text of `value` as the runtime writes it (serde-wasm-bindgen, then `JSON.stringify`).
fn json_text<T: serde::Serialize>(value: &T) -> String {
    let js = value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap();
    js_sys::JSON::stringify(&js).unwrap().into()
}

#[wasm_bindgen_test]
async fn the_inlined_first_paint_answers_once_and_only_the_equal_request() {
    let document = web_sys::window().unwrap().document().unwrap();
    let request = EmbedQueryRequest {
        widget_id: "calls".into(),
        filters: EmbedFilters { period: Some(Period::D30), ..Default::default() },
        drill: None,
        dashboard_id: Some("dash_123".into()),
    };
    let other = EmbedQueryRequest { widget_id: "trend".into(), ..request.clone() };
    let mut elements = Vec::new();
    for (id, text) in [
        ("emban-initial", format!("{{\"dashboard\":{}}}", json_text(&session(true, permissions())))),
        (
            "emban-answers",
            format!(
                "[{{\"request\":{},\"data\":{}}}]",
                String::from(js_sys::JSON::stringify(&JsValue::from_str(&json_text(&request))).unwrap()),
                json_text(&answer(&request))
            ),
        ),
    ] {
        let element = document.create_element("script").unwrap();
        element.set_attribute("type", "application/json").unwrap();
        element.set_id(id);
        element.set_text_content(Some(&text));
        document.body().unwrap().append_child(&element).unwrap();
        elements.push(element);
    }
    // Nothing listens there: whatever is not inlined fails to fetch.
    let api = Api::Http {
        base: "http://127.0.0.1:9".into(),
        token: Rc::from("t"),
        first: Rc::new(FirstPaint::from_page()),
    };
    let dashboard = api.dashboard().await.expect("the inlined dashboard");
    assert_eq!(dashboard.dashboard.id, "dash_123");
    assert!(matches!(api.dashboard().await, Err(ApiError::Network(_))), "the dashboard is used once");
    assert!(
        matches!(api.query(&other, None).await, Err(ApiError::Network(_))),
        "no answer for another request"
    );
    let data = api.query(&request, None).await.expect("the inlined answer");
    assert_eq!(data.widget_id, "calls");
    assert_eq!(data, answer(&request));
    assert!(matches!(api.query(&request, None).await, Err(ApiError::Network(_))), "an answer is used once");
    for element in elements {
        element.remove();
    }
}

#[wasm_bindgen_test]
async fn refused_set_filters_change_nothing_and_name_what_was_refused() {
    let h = mount_default().await;
    let queries_before = h.queries.borrow().len();
    h.take_events();
    for (request, expected) in [
        (r#"{"period":"90d"}"#, "period 90d is not allowed"),
        (r#"{"period":"7d","dimensions":{"plan":"free"}}"#, "filter plan is locked"),
        (r#"{"dimensions":{"country":"fr"}}"#, "dimension country is not allowed"),
        (r#"{"dateRanges":{"timestamp":{"from":"2026-01-01","to":"2026-06-01"}}}"#, "30-day maximum"),
    ] {
        send(&format!(r#"{{"_emban":true,"type":"setFilters","filters":{request}}}"#)).await;
        let events = h.take_events();
        match events.as_slice() {
            [Event::Error { message, code: Some(ErrorCode::FilterRefused), recoverable: Some(true) }] => {
                assert!(message.contains(expected), "{message}")
            }
            other => panic!("{request}: {other:?}"),
        }
    }
    let select: web_sys::HtmlSelectElement = h.get("period-select").dyn_into().unwrap();
    assert_eq!(select.value(), "30d", "nothing changed");
    assert_eq!(h.queries.borrow().len(), queries_before, "nothing refetched");
}

#[wasm_bindgen_test]
async fn set_theme_applies_custom_properties_without_reloading() {
    let h = mount_default().await;
    h.take_events();
    let calls = h.dashboard_calls.get();
    let queries = h.queries.borrow().len();
    send(r##"{"_emban":true,"type":"setTheme","theme":{"primaryColor":"#ff0000","backgroundColor":"#000000","cardBackground":"#111111","cardBorder":"#222222","textColor":"#eeeeee","mutedColor":"rebeccapurple"}}"##).await;
    let root: HtmlElement =
        web_sys::window().unwrap().document().unwrap().document_element().unwrap().dyn_into().unwrap();
    let style = root.style();
    assert_eq!(style.get_property_value("--emban-primary").unwrap(), "#ff0000");
    assert_eq!(style.get_property_value("--emban-bg").unwrap(), "#000000");
    assert_eq!(style.get_property_value("--emban-card-bg").unwrap(), "#111111");
    assert_eq!(style.get_property_value("--emban-card-border").unwrap(), "#222222");
    assert_eq!(style.get_property_value("--emban-text").unwrap(), "#eeeeee");
    assert_eq!(style.get_property_value("--emban-muted").unwrap(), "rebeccapurple");
    assert!(h.take_events().is_empty(), "no error");
    assert_eq!(h.dashboard_calls.get(), calls, "no reload");
    assert_eq!(h.queries.borrow().len(), queries, "no refetch");
    // Charts redraw in the new primary colour.
    assert!(h.get("widget-share").inner_html().contains("#ff0000"));
    // An invalid colour is refused whole.
    send(r##"{"_emban":true,"type":"setTheme","theme":{"primaryColor":"#00ff00","textColor":"red; background:url(x)"}}"##).await;
    let events = h.take_events();
    match events.as_slice() {
        [Event::Error { message, code: Some(ErrorCode::InvalidTheme), .. }] => {
            assert!(message.contains("textColor"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(style.get_property_value("--emban-primary").unwrap(), "#ff0000", "unchanged");
    for p in [
        "--emban-primary",
        "--emban-bg",
        "--emban-card-bg",
        "--emban-card-border",
        "--emban-text",
        "--emban-muted",
        "--emban-good",
        "--emban-bad",
    ] {
        style.remove_property(p).unwrap();
    }
}

#[wasm_bindgen_test]
async fn reload_refetches_with_the_same_session() {
    let h = mount_default().await;
    h.take_events();
    let queries = h.queries.borrow().len();
    send(r#"{"_emban":true,"type":"reload"}"#).await;
    tick(60).await;
    assert_eq!(h.dashboard_calls.get(), 2);
    assert_eq!(h.queries.borrow().len(), queries + 5, "every widget refetched");
    let events = h.take_events();
    assert!(events.iter().all(|e| !matches!(e, Event::Ready { .. })), "ready is posted once");
    assert!(events.iter().any(|e| matches!(e, Event::Filter(_))), "the refreshed state is reported");
}

#[wasm_bindgen_test]
async fn resize_reports_growing_and_shrinking_content() {
    let h = mount_default().await;
    tick(150).await;
    let first = *h.take_resizes().last().expect("a resize after the first render");
    let app: HtmlElement = h.get("app").dyn_into().unwrap();
    let spacer: HtmlElement =
        web_sys::window().unwrap().document().unwrap().create_element("div").unwrap().dyn_into().unwrap();
    spacer.style().set_property("height", "300px").unwrap();
    app.append_child(&spacer).unwrap();
    tick(200).await;
    assert_eq!(h.take_resizes(), [first + 300], "growing, debounced to one report");
    spacer.style().set_property("height", "0px").unwrap();
    tick(200).await;
    assert_eq!(h.take_resizes(), [first], "shrinking back");
    // Nothing changes, nothing is reported (no feedback loop).
    tick(200).await;
    assert!(h.take_resizes().is_empty());
}

#[wasm_bindgen_test]
async fn the_root_takes_the_token_out_of_the_address_bar() {
    let window = web_sys::window().unwrap();
    let history = window.history().unwrap();
    let original = window.location().href().unwrap();
    history.replace_state_with_url(&JsValue::NULL, "", Some("?token=secret.jwt.value&lang=fr")).unwrap();
    let root = fresh_container();
    let handle = leptos::mount::mount_to(root, embed_runtime::Root);
    let search = window.location().search().unwrap();
    assert_eq!(search, "?lang=fr");
    assert!(!window.location().href().unwrap().contains("secret"));
    drop(handle);
    history.replace_state_with_url(&JsValue::NULL, "", Some(&original)).unwrap();
}

#[wasm_bindgen_test]
async fn the_current_bucket_is_drawn_incomplete_and_said_so() {
    let today = String::from(js_sys::Date::new_0().to_iso_string());
    let today = format!("{}T00:00:00Z", &today[..10]);
    let h = mount(
        Rc::new(|_| Ok(session(true, permissions()))),
        Rc::new(move |r, _| {
            let mut d = answer(r);
            if r.widget_id == "trend" {
                for row in &mut d.data {
                    row.bucket = row
                        .bucket
                        .take()
                        .map(|b| if b.starts_with("2026-11-20") { today.clone() } else { b });
                }
                d.meta.to = "2999-01-01T00:00:00Z".into();
            }
            Ok(d)
        }),
    )
    .await;
    let trend = h.get("widget-trend");
    let svg = trend.query_selector("[data-testid=chart-svg]").unwrap().unwrap();
    assert!(svg.inner_html().contains("opacity=\"0.4"), "the partial bucket faded: {}", svg.inner_html());
    let label = svg.get_attribute("aria-label").unwrap_or_default();
    assert!(label.contains("still in progress"), "{label}");
    // Its tooltip says so too (End: the last mark, claude's partial day).
    key(&svg, "End").await;
    let tip =
        trend.query_selector("[data-testid=tooltip]").unwrap().expect("a tooltip").text_content().unwrap();
    assert!(tip.ends_with("(incomplete)"), "{tip}");
    key(&svg, "Home").await;
    let tip = trend.query_selector("[data-testid=tooltip]").unwrap().unwrap().text_content().unwrap();
    assert!(!tip.contains("incomplete"), "{tip}");

    // The fixture's own days are long over: nothing faded.
    let h = mount_default().await;
    let svg = h.get("widget-trend").query_selector("[data-testid=chart-svg]").unwrap().unwrap();
    assert!(!svg.inner_html().contains("opacity=\"0.4"), "{}", svg.inner_html());
}

#[wasm_bindgen_test]
async fn viz_options_set_units_formats_and_which_way_is_good() {
    let with_options = |options: serde_json::Value| {
        move |_| {
            let mut s = session(true, permissions());
            for w in &mut s.dashboard.widgets {
                if w.id == "calls" || w.id == "top" {
                    w.viz.options = options.as_object().unwrap().clone();
                }
            }
            Ok(s)
        }
    };
    // p95 latency: a 25% rise is bad news, in milliseconds with one decimal.
    let latency = serde_json::json!({ "unit": "ms", "decimals": 1, "higher_is_better": false });
    let h = mount(Rc::new(with_options(latency)), Rc::new(|r, _| Ok(answer(r)))).await;
    assert_eq!(h.get("metric-value").text_content().unwrap(), "1,250.0 ms");
    let change = h.get("metric-change");
    assert!(change.class_list().contains("bad"), "{}", change.class_name());
    assert!(change.text_content().unwrap().contains("1,000.0 ms"), "{}", change.text_content().unwrap());
    let table = h.get("widget-top").text_content().unwrap();
    assert!(table.contains("60.0 ms"), "{table}");

    // Revenue: money, and a rise is good.
    let revenue = serde_json::json!({ "currency": "USD", "decimals": 0 });
    let h = mount(Rc::new(with_options(revenue)), Rc::new(|r, _| Ok(answer(r)))).await;
    assert_eq!(h.get("metric-value").text_content().unwrap(), "$1,250");
    assert!(h.get("metric-change").class_list().contains("good"));
    // Without options: as before, and a rise is good.
    let h = mount_default().await;
    assert_eq!(h.get("metric-value").text_content().unwrap(), "1,250");
    assert!(h.get("metric-change").class_list().contains("good"));
}

/// Presses `key` on `element` (bubbling, like a real key press).
async fn key(element: &Element, key: &str) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let event = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    element.dispatch_event(&event).unwrap();
    tick(30).await;
}

/// The chart element of widget `id`.
fn chart_of(h: &Harness, id: &str) -> HtmlElement {
    h.get(&format!("widget-{id}"))
        .query_selector("[data-testid='chart-svg']")
        .unwrap()
        .unwrap()
        .dyn_into()
        .unwrap()
}

fn tooltip_of(h: &Harness, id: &str) -> Option<String> {
    h.get(&format!("widget-{id}"))
        .query_selector("[data-testid='tooltip']")
        .unwrap()
        .map(|t| t.text_content().unwrap())
}

/// A mouse (or, with `touch`, a finger) at `(fx, fy)` of `chart`'s box: pointerdown, then `kind`.
async fn point_at(chart: &HtmlElement, fx: f64, fy: f64, kind: &str, touch: bool) {
    let rect = chart.get_bounding_client_rect();
    let (x, y) = ((rect.left() + rect.width() * fx) as i32, (rect.top() + rect.height() * fy) as i32);
    if kind == "click" {
        let init = web_sys::PointerEventInit::new();
        init.set_pointer_type(if touch { "touch" } else { "mouse" });
        init.set_bubbles(true);
        let down = web_sys::PointerEvent::new_with_event_init_dict("pointerdown", &init).unwrap();
        chart.dispatch_event(&down).unwrap();
    }
    let init = web_sys::MouseEventInit::new();
    init.set_bubbles(true);
    init.set_client_x(x);
    init.set_client_y(y);
    let event = web_sys::MouseEvent::new_with_mouse_event_init_dict(kind, &init).unwrap();
    chart.dispatch_event(&event).unwrap();
    tick(40).await;
}

#[wasm_bindgen_test]
async fn tooltips_on_keyboard_focus_hover_and_tap() {
    let h = mount_default().await;
    h.take_events();
    // Keyboard: the chart is focusable; arrows walk its marks, each with bucket, series, value.
    let trend = chart_of(&h, "trend");
    assert_eq!(trend.get_attribute("tabindex").as_deref(), Some("0"));
    assert_eq!(tooltip_of(&h, "trend"), None);
    key(&trend, "ArrowRight").await;
    let first = tooltip_of(&h, "trend").expect("a tooltip on the first mark");
    assert!(first.contains("gpt-4") && first.ends_with(": 30"), "{first}");
    assert!(first.starts_with("Nov 19"), "the locale's bucket label: {first}");
    key(&trend, "End").await;
    let last = tooltip_of(&h, "trend").unwrap();
    assert!(last.starts_with("Nov 20") && last.contains("claude") && last.ends_with(": 12"), "{last}");
    assert!(
        h.get("widget-trend").query_selector(".mark-ring").unwrap().is_some(),
        "the focused mark is ringed"
    );
    // Enter drills into the focused mark's series.
    key(&trend, "Enter").await;
    assert!(
        h.take_events().contains(&Event::Drill {
            dimension: "model".into(),
            value: "claude".into(),
            action: DrillAction::Apply
        }),
        "Enter drills"
    );
    key(&trend, "Escape").await;
    assert_eq!(tooltip_of(&h, "trend"), None);

    // Hover: the bar under the mouse, its value in the locale's format.
    let h = mount_default().await;
    h.take_events();
    let bars = chart_of(&h, "by_endpoint");
    point_at(&bars, 0.5, 0.25, "mousemove", false).await;
    assert_eq!(tooltip_of(&h, "by_endpoint").as_deref(), Some("/chat: 90"));
    point_at(&bars, 0.5, 0.25, "mouseleave", false).await;
    assert_eq!(tooltip_of(&h, "by_endpoint"), None);
    assert!(h.take_events().is_empty(), "hovering changes nothing");

    // Touch: a tap shows the tooltip; a second tap on the same bar drills.
    point_at(&bars, 0.5, 0.25, "click", true).await;
    assert_eq!(tooltip_of(&h, "by_endpoint").as_deref(), Some("/chat: 90"));
    assert!(h.take_events().is_empty(), "the first tap only shows");
    point_at(&bars, 0.5, 0.25, "click", true).await;
    assert!(h.take_events().iter().any(|e| matches!(e, Event::Drill { value, .. } if value == "/chat")));
}

/// Types `value` into the input `testid` (firing `input`, as typing does).
fn type_into(h: &Harness, testid: &str, value: &str) {
    let input: web_sys::HtmlInputElement = h.get(testid).dyn_into().unwrap();
    input.set_value(value);
    let init = web_sys::EventInit::new();
    init.set_bubbles(true);
    input.dispatch_event(&web_sys::Event::new_with_event_init_dict("input", &init).unwrap()).unwrap();
}

/// The UTC day `days` days from today, `YYYY-MM-DD`.
fn utc_day(days: i64) -> String {
    let today =
        embed_runtime::filters::day_number(&String::from(js_sys::Date::new_0().to_iso_string())[..10])
            .unwrap();
    embed_runtime::filters::day_string(today + days)
}

#[wasm_bindgen_test]
async fn a_custom_date_range_sets_date_ranges_and_shows_a_clearable_chip() {
    let h = mount_default().await; // 7d or 30d, at most 30 days
    h.take_events();
    let from: web_sys::HtmlInputElement = h.get("range-from").dyn_into().unwrap();
    assert_eq!(from.type_(), "date");
    assert_eq!(from.max(), utc_day(0), "nothing after today");
    assert_eq!(from.min(), utc_day(-29), "nothing before the longest allowed period");
    type_into(&h, "range-from", &utc_day(-2));
    type_into(&h, "range-to", &utc_day(0));
    let form: web_sys::HtmlFormElement = h.get("date-range").dyn_into().unwrap();
    form.request_submit().unwrap();
    tick(80).await;
    let events = h.take_events();
    let Event::Filter(state) = &events[0] else { panic!("{events:?}") };
    assert_eq!(state.period, "7d", "the shortest allowed period that reaches the range");
    let range = &state.date_ranges["timestamp"];
    assert_eq!((range.from.clone(), range.to.clone()), (Some(utc_day(-2)), Some(utc_day(0))));
    assert!(
        h.queries.borrow().last().unwrap().filters.date_ranges.contains_key("timestamp"),
        "refetched with it"
    );
    let chip = h.get("chip-date-range");
    assert!(chip.text_content().unwrap().contains(" – "), "{}", chip.text_content().unwrap());
    let clear: HtmlElement = chip.query_selector("button").unwrap().unwrap().dyn_into().unwrap();
    clear.click();
    tick(60).await;
    let events = h.take_events();
    assert!(matches!(&events[0], Event::Filter(s) if s.date_ranges.is_empty()), "{events:?}");
    assert!(h.find("chip-date-range").is_none());

    // Refused with the reason in the bar: longer than the session's 30 days.
    type_into(&h, "range-from", &utc_day(-40));
    type_into(&h, "range-to", &utc_day(0));
    form.request_submit().unwrap();
    tick(60).await;
    let refusal = h.get("filter-refusal").text_content().unwrap();
    assert!(refusal.contains("41 days, more than the 30-day maximum"), "{refusal}");
    assert!(h.take_events().is_empty(), "a refused range changes nothing");

    // Ranges a host sets are visible too, and clearable.
    send(r#"{"_emban": true, "type": "setFilters", "filters": {"numericRanges": {"tokens": {"min": 10, "max": 500}}}}"#).await;
    let chip = h.get("chip-numeric-range");
    assert_eq!(chip.text_content().unwrap(), "tokens: 10 – 500×");
    let clear: HtmlElement = chip.query_selector("button").unwrap().unwrap().dyn_into().unwrap();
    h.take_events();
    clear.click();
    tick(60).await;
    assert!(matches!(&h.take_events()[0], Event::Filter(s) if s.numeric_ranges.is_empty()));
}

#[wasm_bindgen_test]
async fn the_dimension_filter_offers_the_values_in_the_current_answers() {
    let h = mount_default().await;
    let input = h.get("dimension-value");
    assert_eq!(input.get_attribute("list").as_deref(), Some("emban-filter-values"));
    let options = |h: &Harness| -> Vec<String> {
        let list = h.get("filter-values").query_selector_all("option").unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().dyn_into::<Element>().unwrap().get_attribute("value").unwrap())
            .collect()
    };
    assert_eq!(options(&h), ["/chat", "/embed"], "endpoint, the first dimension, from by_endpoint");
    let select: web_sys::HtmlSelectElement = h.get("dimension-select").dyn_into().unwrap();
    select.set_value("model");
    select.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
    tick(30).await;
    assert_eq!(options(&h), ["claude", "gpt-4"], "model's values from every widget grouped by it");
}

#[wasm_bindgen_test]
async fn a_time_series_asking_for_it_draws_the_previous_period_faintly() {
    let h = mount(
        Rc::new(|_| {
            let mut s = session(true, permissions());
            let trend = s.dashboard.widgets.iter_mut().find(|w| w.id == "trend").unwrap();
            trend.query.group_by = None;
            trend.viz.options =
                serde_json::json!({ "compare": "previous_period" }).as_object().unwrap().clone();
            Ok(s)
        }),
        Rc::new(|r, _| {
            let mut d = answer(r);
            if r.widget_id == "trend" {
                d.data = vec![
                    row(Some("2026-11-19T00:00:00Z"), None, 42.0),
                    row(Some("2026-11-20T00:00:00Z"), None, 40.0),
                ];
                d.data.iter_mut().for_each(|r| r.group = None);
                d.previous_series = Some(vec![
                    QueryRow { bucket: Some("2026-10-20T00:00:00Z".into()), group: None, value: Some(35.0) },
                    QueryRow { bucket: Some("2026-10-21T00:00:00Z".into()), group: None, value: Some(38.0) },
                ]);
            }
            Ok(d)
        }),
    )
    .await;
    let chart = chart_of(&h, "trend");
    assert!(chart.inner_html().contains("opacity=\"0.45"), "{}", chart.inner_html());
    let label = chart.get_attribute("aria-label").unwrap();
    assert!(label.contains("previous period"), "{label}");
    key(&chart, "End").await;
    let tip = tooltip_of(&h, "trend").unwrap();
    assert_eq!(tip, "Nov 20: 40; previous period: 38");
    // Without it, no faint line.
    let h = mount_default().await;
    assert!(!chart_of(&h, "trend").inner_html().contains("opacity=\"0.45"));
}

#[wasm_bindgen_test]
async fn export_png_svg_csv_and_the_whole_dashboard_tell_the_host() {
    let h = mount_default().await;
    h.take_events();
    let trend = h.get("widget-trend");
    let menu = trend.query_selector("[data-testid='export-menu']").unwrap().expect("an export menu");
    assert_eq!(menu.tag_name(), "DETAILS", "a native disclosure: opens from the keyboard");
    let click = |testid: &str| {
        let button: HtmlElement =
            trend.query_selector(&format!("[data-testid='{testid}']")).unwrap().unwrap().dyn_into().unwrap();
        button.click();
    };
    click("download-png");
    tick(400).await; // the SVG decodes as an image, then the canvas encodes the PNG
    click("download-svg");
    click("download-csv");
    tick(60).await;
    h.get("export-dashboard").dyn_into::<HtmlElement>().unwrap().click();
    tick(60).await;
    let exports: Vec<Event> =
        h.take_events().into_iter().filter(|e| matches!(e, Event::Export { .. })).collect();
    let export = |id: Option<&str>, format: &str| Event::Export {
        widget_id: id.map(Into::into),
        format: format.into(),
    };
    assert_eq!(
        exports,
        [
            export(Some("trend"), "png"),
            export(Some("trend"), "svg"),
            export(Some("trend"), "csv"),
            export(None, "csv")
        ]
    );

    // Without `allow_export`: no export controls at all.
    let h = mount(
        Rc::new(|_| Ok(session(true, EmbedPermissions { allow_export: false, ..permissions() }))),
        Rc::new(|r, _| Ok(answer(r))),
    )
    .await;
    assert!(h.find("export-menu").is_none() && h.find("export-dashboard").is_none());
    assert!(h.find("download-csv").is_none());
}

#[wasm_bindgen_test]
async fn a_host_color_scheme_switches_the_built_in_set_and_state_colours_stay_readable() {
    let h = mount_default().await;
    h.take_events();
    let window = web_sys::window().unwrap();
    let root: HtmlElement = window.document().unwrap().document_element().unwrap().dyn_into().unwrap();
    send(r#"{"_emban":true,"type":"setTheme","theme":{"colorScheme":"dark"},"requestId":"t1"}"#).await;
    assert_eq!(root.get_attribute("data-scheme").as_deref(), Some("dark"));
    // (The test page has no stylesheet: `theme.rs` checks that `[data-scheme=dark]` holds the
    // dark set and `color-scheme: dark`.)
    assert!(
        chart_of(&h, "trend").inner_html().to_lowercase().contains("#3ddc84"),
        "charts use the dark palette"
    );
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::Theme { theme }] if theme.color_scheme.as_deref() == Some("dark")),
        "{events:?}"
    );
    send(r#"{"_emban":true,"type":"setTheme","theme":{"colorScheme":"light"}}"#).await;
    assert_eq!(root.get_attribute("data-scheme").as_deref(), Some("light"));
    assert!(
        !chart_of(&h, "trend").inner_html().to_lowercase().contains("#3ddc84"),
        "the light palette again"
    );

    // A host card background: the error colour is derived to meet WCAG AA on it.
    send(r##"{"_emban":true,"type":"setTheme","theme":{"cardBackground":"#777777"}}"##).await;
    let bad =
        embed_runtime::theme::parse_colour(&root.style().get_property_value("--emban-bad").unwrap()).unwrap();
    let card = embed_runtime::theme::parse_colour("#777777").unwrap();
    let ratio = embed_runtime::theme::contrast(bad, card);
    assert!(ratio >= 4.5, "{} on #777777 is {ratio:.2}:1", bad.hex());

    send(r#"{"_emban":true,"type":"setTheme","theme":{"colorScheme":"sepia"}}"#).await;
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::Error { code: Some(ErrorCode::InvalidTheme), message, .. }] if message.contains("colorScheme")),
        "{events:?}"
    );
    root.remove_attribute("data-scheme").unwrap();
    for p in ["--emban-card-bg", "--emban-good", "--emban-bad"] {
        root.style().remove_property(p).unwrap();
    }
}

#[wasm_bindgen_test]
async fn a_german_session_speaks_german_and_sets_the_page_language() {
    let h = mount(
        Rc::new(|_| {
            let mut s = session(true, permissions());
            s.locale = Some("de-DE".into());
            Ok(s)
        }),
        Rc::new(
            |r, _| if r.widget_id == "top" { Err(ApiError::Http(500, "boom".into())) } else { Ok(answer(r)) },
        ),
    )
    .await;
    let document = web_sys::window().unwrap().document().unwrap();
    assert_eq!(document.document_element().unwrap().get_attribute("lang").as_deref(), Some("de-DE"));
    let bar = h.get("filter-bar").text_content().unwrap();
    assert!(
        bar.contains("Zeitraum") && bar.contains("Letzte 30 Tage") && bar.contains("Bereich anwenden"),
        "{bar}"
    );
    let failed = h.get("widget-top").text_content().unwrap();
    assert!(
        failed.contains("Dieses Widget konnte nicht geladen werden.") && failed.contains("Erneut versuchen"),
        "{failed}"
    );
    assert!(!failed.contains("500"), "{failed}");
    let label = chart_of(&h, "share").get_attribute("aria-label").unwrap();
    assert!(label.contains("Kreisdiagramm mit 2 Kategorien"), "{label}");
    assert!(h.get("metric-change").text_content().unwrap().contains("Vorperiode"));
    // Numbers follow the locale too.
    assert_eq!(h.get("metric-value").text_content().unwrap(), "1.250");
    // Back to English for the other tests.
    drop(h);
    let h = mount_default().await;
    assert_eq!(document.document_element().unwrap().get_attribute("lang").as_deref(), Some("en-US"));
    drop(h);
}
