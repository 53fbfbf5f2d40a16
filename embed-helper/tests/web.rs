//! Browser tests of `EmbanEmbed` in headless Chromium (`wasm-bindgen-test-runner`), against a
//! small test page that answers the contract.
//!
//! The embed URL points at the test runner's own origin (`location.origin`), so the helper's
//! origin check stays real: the helper derives the expected origin from the embed URL as always.
//! Right after `mount` the test puts the page into the helper's iframe with `srcdoc` (which
//! takes precedence over `src`): a srcdoc document inherits the parent's origin (the iframe's
//! sandbox allows same-origin), so its messages arrive with `event.source` = the helper's iframe
//! and `event.origin` = the embed URL's origin, exactly as the real runtime's would.
//!
//! The page records every message it receives (the helper's commands, as JSON) in
//! `window.received`, and posts to its parent whatever the test asks it to (`{__test: message}`),
//! so the test plays the runtime's side: `ready`, `resize`, ...
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{cell::Cell, cell::RefCell, rc::Rc};

use contract::messages::CommandMessage;
use embed_helper::EmbanEmbed;
use js_sys::{Array, Function, JSON, Object, Promise, Reflect};
use serde_json::{Value, json};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlIFrameElement, Window};

wasm_bindgen_test_configure!(run_in_browser);

// ---------------------------------------------------------------------------------------------
// The test page and its plumbing

/// The page in the iframe. `nonce` tells one load from the next (after a session swap).
fn page(nonce: u32) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>contract test page</title><script>
window.received = [];
addEventListener('message', (e) => {{
  if (e.data && e.data.__test) {{ parent.postMessage(e.data.__test, '*'); return; }}
  window.received.push({{ origin: e.origin, json: JSON.stringify(e.data) }});
}});
window.testPage = '{nonce}';
</script>"#
    )
}

thread_local! {
    static NONCE: Cell<u32> = const { Cell::new(0) };
}

fn window() -> Window {
    web_sys::window().unwrap()
}

fn location_origin() -> String {
    window().location().origin().unwrap()
}

/// An embed URL on the test runner's origin.
fn embed_url(path: &str) -> String {
    format!("{}{path}", location_origin())
}

fn container() -> Element {
    let document = window().document().unwrap();
    let div = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&div).unwrap();
    div
}

fn obj(json: &str) -> JsValue {
    JSON::parse(json).unwrap()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap()
}

async fn sleep(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Polls `done` every 10 ms for up to 5 s.
async fn wait_for(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        sleep(10).await;
    }
    panic!("timed out waiting for {what}");
}

fn frame_window(iframe: &HtmlIFrameElement) -> Window {
    iframe.content_window().expect("the iframe has a window")
}

/// Puts a fresh test page into `iframe` (as srcdoc) and waits until its script ran.
async fn load_page(iframe: &HtmlIFrameElement) {
    let nonce = NONCE.with(|n| {
        n.set(n.get() + 1);
        n.get()
    });
    iframe.set_attribute("srcdoc", &page(nonce)).unwrap();
    let nonce = nonce.to_string();
    // Until the srcdoc page replaces it, the frame may still hold another origin's document (a
    // foreign `src`'s error page), whose properties throw on access: keep polling then.
    wait_for("the test page to load", || {
        iframe.content_window().is_some_and(|w| {
            Reflect::get(&w, &"testPage".into()).ok().and_then(|v| v.as_string()).as_deref()
                == Some(nonce.as_str())
        })
    })
    .await;
}

/// Makes the page in `iframe` post `message` (JSON) to its parent, as the runtime would.
fn frame_posts(iframe: &HtmlIFrameElement, message: &str) {
    let control = Object::new();
    Reflect::set(&control, &"__test".into(), &obj(message)).unwrap();
    frame_window(iframe).post_message(&control, "*").unwrap();
}

/// What the page received so far: each message as JSON, after checking that it came from the
/// host page's origin and parses as the contract's `CommandMessage` (the reference's shapes).
fn received(iframe: &HtmlIFrameElement) -> Vec<Value> {
    let list: Array = get(&frame_window(iframe), "received").unchecked_into();
    list.iter()
        .map(|entry| {
            assert_eq!(get(&entry, "origin").as_string().unwrap(), location_origin());
            let text = get(&entry, "json").as_string().unwrap();
            serde_json::from_str::<CommandMessage>(&text)
                .unwrap_or_else(|e| panic!("not a contract command: {text}: {e}"));
            serde_json::from_str(&text).unwrap()
        })
        .collect()
}

async fn wait_received(iframe: &HtmlIFrameElement, count: usize) -> Vec<Value> {
    wait_for(&format!("{count} commands"), || received(iframe).len() >= count).await;
    received(iframe)
}

/// Records the events an `on(kind, ...)` callback gets, as JSON.
fn record(embed: &EmbanEmbed, kind: &str) -> Rc<RefCell<Vec<Value>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let sink = seen.clone();
    let callback = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let text = JSON::stringify(&event).unwrap().as_string().unwrap();
        sink.borrow_mut().push(serde_json::from_str(&text).unwrap());
    });
    embed.on(kind, callback.into_js_value().unchecked_into::<Function>()).unwrap();
    seen
}

/// The `message` of the error a helper call failed with.
fn error_message<T>(result: Result<T, wasm_bindgen::JsError>) -> String {
    let Err(error) = result else { panic!("expected an error") };
    get(&JsValue::from(error), "message").as_string().unwrap()
}

fn noop() -> Function {
    Closure::<dyn FnMut(JsValue)>::new(|_| {}).into_js_value().unchecked_into()
}

fn height(iframe: &HtmlIFrameElement) -> String {
    iframe.style().get_property_value("height").unwrap()
}

/// Mounts on the runner's origin and loads the test page, not yet ready.
async fn mounted(options: &str) -> (EmbanEmbed, HtmlIFrameElement) {
    let options = obj(options);
    Reflect::set(&options, &"embedUrl".into(), &embed_url("/embed/dash_123?token=t").into()).unwrap();
    let embed = EmbanEmbed::mount(container().into(), options).unwrap();
    let iframe = embed.iframe();
    load_page(&iframe).await;
    (embed, iframe)
}

async fn ready(embed: &EmbanEmbed, iframe: &HtmlIFrameElement, dashboard_id: &str) -> JsValue {
    frame_posts(iframe, &format!(r#"{{"_emban": true, "type": "ready", "dashboardId": "{dashboard_id}"}}"#));
    JsFuture::from(embed.ready()).await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Tests

#[wasm_bindgen_test]
async fn mount_builds_the_iframe_and_ready_resolves_with_the_dashboard_id() {
    let (embed, iframe) = mounted(r#"{"title": "Usage analytics"}"#).await;
    assert_eq!(embed.origin(), location_origin());
    assert_eq!(iframe.get_attribute("title").as_deref(), Some("Usage analytics"));
    assert_eq!(
        iframe.get_attribute("sandbox").as_deref(),
        Some("allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-downloads")
    );
    assert_eq!(iframe.get_attribute("allow").as_deref(), Some("clipboard-write; fullscreen"));
    assert_eq!(iframe.get_attribute("src"), Some(embed_url("/embed/dash_123?token=t")));
    assert_eq!(height(&iframe), "600px");
    let readies = record(&embed, "ready");

    let event = ready(&embed, &iframe, "dash_123").await;
    assert_eq!(get(&event, "dashboardId").as_string().as_deref(), Some("dash_123"));
    assert_eq!(get(&event, "type").as_string().as_deref(), Some("ready"));
    wait_for("the ready listener", || readies.borrow().len() == 1).await;
    assert_eq!(readies.borrow()[0], json!({"_emban": true, "type": "ready", "dashboardId": "dash_123"}));
    // A selector works as the container too, and the default title is set.
    let div = container();
    div.set_id("emban-selector-target");
    let by_selector = EmbanEmbed::mount(
        "#emban-selector-target".into(),
        obj(&format!(r#"{{"embedUrl": "{}"}}"#, embed_url("/embed/x"))),
    )
    .unwrap();
    assert!(div.contains(Some(&by_selector.iframe())));
    assert_eq!(by_selector.iframe().get_attribute("title").as_deref(), Some("Emban dashboard"));
    by_selector.destroy();
    embed.destroy();
}

#[wasm_bindgen_test]
async fn commands_before_ready_are_queued_then_delivered_in_order() {
    let (embed, iframe) =
        mounted(r##"{"filters": {"period": "7d"}, "theme": {"primaryColor": "#0f9d58"}}"##).await;
    embed.set_filters(obj(r#"{"dimensions": {"model": "gpt-4"}}"#), None).unwrap();
    embed.reload(None).unwrap();
    sleep(100).await;
    assert_eq!(received(&iframe), Vec::<Value>::new(), "nothing is posted before ready");

    ready(&embed, &iframe, "dash_123").await;
    let got = wait_received(&iframe, 4).await;
    assert_eq!(
        got,
        [
            json!({"_emban": true, "type": "setFilters", "filters": {"period": "7d"}}),
            json!({"_emban": true, "type": "setTheme", "theme": {"primaryColor": "#0f9d58"}}),
            json!({"_emban": true, "type": "setFilters", "filters": {"dimensions": {"model": "gpt-4"}}}),
            json!({"_emban": true, "type": "reload"}),
        ]
    );
    // After ready, commands go out at once.
    embed.reload(None).unwrap();
    assert_eq!(wait_received(&iframe, 5).await[4], json!({"_emban": true, "type": "reload"}));
    sleep(50).await;
    assert_eq!(received(&iframe).len(), 5, "queued commands are sent once");
    embed.destroy();
}

#[wasm_bindgen_test]
async fn set_filters_set_theme_and_reload_have_the_reference_shapes() {
    let (embed, iframe) = mounted("{}").await;
    ready(&embed, &iframe, "dash_123").await;
    embed
        .set_filters(
            obj(r#"{"period": "30d", "dimensions": {"model": "gpt-4", "endpoint": "/chat"},
                "numericRanges": {"latency_ms": {"min": 0, "max": 250.5}, "tokens": {"max": 10}},
                "dateRanges": {"day": {"from": "2025-01-01", "to": null}}}"#),
            None,
        )
        .unwrap();
    embed
        .set_theme(
            obj(r##"{"primaryColor": "#0f9d58", "backgroundColor": "#f7f9f7", "cardBackground": "#ffffff",
                 "cardBorder": "#d8e2d9", "textColor": "#101513", "mutedColor": "#5d6c63"}"##),
            None,
        )
        .unwrap();
    embed.reload(None).unwrap();
    let got = wait_received(&iframe, 3).await;
    assert_eq!(
        got,
        [
            json!({"_emban": true, "type": "setFilters", "filters": {
                "period": "30d",
                "dimensions": {"model": "gpt-4", "endpoint": "/chat"},
                "numericRanges": {"latency_ms": {"min": 0, "max": 250.5}, "tokens": {"max": 10}},
                "dateRanges": {"day": {"from": "2025-01-01"}},
            }}),
            json!({"_emban": true, "type": "setTheme", "theme": {
                "primaryColor": "#0f9d58", "backgroundColor": "#f7f9f7", "cardBackground": "#ffffff",
                "cardBorder": "#d8e2d9", "textColor": "#101513", "mutedColor": "#5d6c63",
            }}),
            json!({"_emban": true, "type": "reload"}),
        ]
    );
    embed.destroy();
}

#[wasm_bindgen_test]
async fn bad_payloads_throw_and_send_nothing() {
    let (embed, iframe) = mounted("{}").await;
    ready(&embed, &iframe, "dash_123").await;
    let cases = [
        (r#"{"dimensions": {"model": 5}}"#, "setFilters(filters).dimensions.model must be a string"),
        (r#"{"period": 7}"#, "setFilters(filters).period must be a string"),
        (
            r#"{"numericRanges": {"ms": {"min": "1"}}}"#,
            "setFilters(filters).numericRanges.ms.min must be a number",
        ),
        (r#"{"dateRanges": {"day": "today"}}"#, "setFilters(filters).dateRanges.day must be an object"),
        (r#""7d""#, "setFilters(filters) must be an object"),
        (
            r#"{"filters": {"model": "gpt-4"}}"#,
            "setFilters(filters) has an unknown key \"filters\"; expected period, dimensions, numericRanges, \
             dateRanges (the filter event's \"filters\" map is called \"dimensions\" here)",
        ),
        (
            r#"{"numericRanges": {"ms": {"min": 1, "step": 2}}}"#,
            "setFilters(filters).numericRanges.ms has an unknown key \"step\"; expected min, max",
        ),
    ];
    for (filters, expected) in cases {
        assert_eq!(error_message(embed.set_filters(obj(filters), None)), format!("EmbanEmbed: {expected}"));
    }
    assert_eq!(
        error_message(embed.set_theme(obj(r#"{"textColor": false}"#), None)),
        "EmbanEmbed: setTheme(theme).textColor must be a string"
    );
    assert!(
        error_message(embed.set_theme(obj(r#"{"font": "x"}"#), None))
            .starts_with("EmbanEmbed: setTheme(theme) has an unknown key \"font\"; expected primaryColor, "),
    );
    for scheme in [r#""sepia""#, r#""Dark""#, "true", "1"] {
        assert_eq!(
            error_message(embed.set_theme(obj(&format!(r#"{{"colorScheme": {scheme}}}"#)), None)),
            "EmbanEmbed: setTheme(theme).colorScheme must be \"light\" or \"dark\"",
            "{scheme}"
        );
    }
    embed.reload(None).unwrap();
    let got = wait_received(&iframe, 1).await;
    assert_eq!(got, [json!({"_emban": true, "type": "reload"})], "a refused payload is not sent");
    embed.destroy();
}

/// `colorScheme` (an extension token) is checked, sent with the colours, validated at mount, and
/// carried into a swapped-in session like the colours.
#[wasm_bindgen_test]
async fn color_scheme_is_a_theme_token_light_or_dark() {
    let (embed, iframe) = mounted(r##"{"theme": {"colorScheme": "dark", "primaryColor": "#0f9d58"}}"##).await;
    ready(&embed, &iframe, "dash_123").await;
    embed.set_theme(obj(r#"{"colorScheme": "light"}"#), None).unwrap();
    embed.set_theme(obj(r##"{"colorScheme": null, "textColor": "#111"}"##), None).unwrap();
    let got = wait_received(&iframe, 3).await;
    assert_eq!(
        got,
        [
            json!({"_emban": true, "type": "setTheme", "theme": {"primaryColor": "#0f9d58", "colorScheme": "dark"}}),
            json!({"_emban": true, "type": "setTheme", "theme": {"colorScheme": "light"}}),
            json!({"_emban": true, "type": "setTheme", "theme": {"textColor": "#111"}}),
        ]
    );
    // A new session gets every token set so far, the scheme included.
    embed.set_embed_url(&embed_url("/embed/dash_123?token=t2")).unwrap();
    load_page(&iframe).await;
    ready(&embed, &iframe, "dash_123").await;
    let got = wait_received(&iframe, 1).await;
    assert_eq!(
        got,
        [json!({"_emban": true, "type": "setTheme", "theme": {
            "primaryColor": "#0f9d58", "colorScheme": "light", "textColor": "#111",
        }})]
    );
    embed.destroy();

    let options =
        format!(r#"{{"embedUrl": "{}", "theme": {{"colorScheme": "auto"}}}}"#, embed_url("/embed/x"));
    assert_eq!(
        error_message(EmbanEmbed::mount(container().into(), obj(&options))),
        "EmbanEmbed: theme.colorScheme must be \"light\" or \"dark\""
    );
}

/// The runtime's `export` event reaches `on("export")` listeners as posted (widget or whole
/// dashboard), and only from the embed's own frame.
#[wasm_bindgen_test]
async fn export_events_reach_listeners() {
    let (embed, iframe) = mounted("{}").await;
    let exports = record(&embed, "export");
    ready(&embed, &iframe, "dash_123").await;
    window()
        .post_message(
            &obj(r#"{"_emban": true, "type": "export", "widgetId": "forged", "format": "csv"}"#),
            "*",
        )
        .unwrap();
    frame_posts(&iframe, r#"{"_emban": true, "type": "export", "widgetId": "trend", "format": "png"}"#);
    frame_posts(&iframe, r#"{"_emban": true, "type": "export", "widgetId": null, "format": "csv"}"#);
    wait_for("two export events", || exports.borrow().len() == 2).await;
    sleep(50).await;
    assert_eq!(
        *exports.borrow(),
        [
            json!({"_emban": true, "type": "export", "widgetId": "trend", "format": "png"}),
            json!({"_emban": true, "type": "export", "widgetId": null, "format": "csv"}),
        ]
    );
    embed.destroy();
}

#[wasm_bindgen_test]
fn mount_explains_what_is_wrong() {
    let div = container();
    let options = format!(r#"{{"embedUrl": "{}"}}"#, embed_url("/embed/x"));
    let cases: [(JsValue, JsValue, &str); 8] = [
        ("#emban-nowhere".into(), obj(&options), "EmbanEmbed.mount: no element matches \"#emban-nowhere\""),
        ("[[".into(), obj(&options), "EmbanEmbed.mount: \"[[\" is not a valid CSS selector"),
        (JsValue::from(5), obj(&options), "container must be an element or a CSS selector string"),
        (div.clone().into(), obj(r#"{"embedUrl": "/embed/x"}"#), "absolute http(s) URL"),
        (div.clone().into(), obj(r#"{"embedUrl": "javascript:alert(1)"}"#), "absolute http(s) URL"),
        (div.clone().into(), obj("{}"), "absolute http(s) URL"),
        (div.clone().into(), JsValue::UNDEFINED, "mount options must be an object"),
        (
            div.clone().into(),
            obj(&options.replace('}', r#", "minHeight": -1}"#)),
            "EmbanEmbed: minHeight must be a number of pixels",
        ),
    ];
    for (target, options, expected) in cases {
        let message = error_message(EmbanEmbed::mount(target, options));
        assert!(message.contains(expected), "{message:?} should contain {expected:?}");
    }
    let bad_filters = obj(&options.replace('}', r#", "filters": {"period": 1}}"#));
    assert_eq!(
        error_message(EmbanEmbed::mount(div.clone().into(), bad_filters)),
        "EmbanEmbed: filters.period must be a string"
    );
    assert_eq!(div.child_element_count(), 0, "a failed mount leaves no iframe behind");
}

#[wasm_bindgen_test]
async fn resize_sizes_the_iframe_within_min_height() {
    let (embed, iframe) = mounted(r#"{"minHeight": 120}"#).await;
    assert_eq!(height(&iframe), "120px", "minHeight is the starting height");
    let resizes = record(&embed, "resize");
    ready(&embed, &iframe, "dash_123").await;
    for (reported, expected) in
        [(712.0, "712px"), (300.0, "300px"), (50.0, "120px"), (400.2, "401px"), (99_999.0, "99999px")]
    {
        frame_posts(&iframe, &format!(r#"{{"_emban": true, "type": "resize", "height": {reported}}}"#));
        wait_for(&format!("height {expected}"), || height(&iframe) == expected).await;
    }
    assert_eq!(
        resizes.borrow().iter().map(|e| e["height"].as_f64().unwrap()).collect::<Vec<_>>(),
        [712.0, 300.0, 50.0, 400.2, 99_999.0]
    );
    // Capped at a million pixels (Chromium writes that style value as `1e+06px`, so the check
    // is on the laid-out height).
    frame_posts(&iframe, r#"{"_emban": true, "type": "resize", "height": 5e9}"#);
    wait_for("the capped height", || iframe.get_bounding_client_rect().height() == 1e6).await;
    embed.destroy();

    // Without autoResize the events still arrive, the iframe keeps its height.
    let (embed, iframe) = mounted(r#"{"autoResize": false}"#).await;
    let resizes = record(&embed, "resize");
    ready(&embed, &iframe, "dash_123").await;
    frame_posts(&iframe, r#"{"_emban": true, "type": "resize", "height": 712}"#);
    wait_for("the resize event", || resizes.borrow().len() == 1).await;
    assert_eq!(height(&iframe), "600px");
    embed.destroy();
}

#[wasm_bindgen_test]
async fn messages_from_other_sources_or_origins_are_ignored() {
    let (embed, iframe) = mounted("{}").await;
    let resizes = record(&embed, "resize");
    let readies = record(&embed, "ready");
    let resize = |h: u32| obj(&format!(r#"{{"_emban": true, "type": "resize", "height": {h}}}"#));

    // The host window itself, same origin, right shape: not the iframe, so ignored.
    window().post_message(&resize(901), "*").unwrap();
    window().post_message(&obj(r#"{"_emban": true, "type": "ready", "dashboardId": "x"}"#), "*").unwrap();
    // Another same-origin frame on the page: ignored.
    let other: HtmlIFrameElement =
        window().document().unwrap().create_element("iframe").unwrap().unchecked_into();
    container().append_child(&other).unwrap();
    load_page(&other).await;
    frame_posts(&other, r#"{"_emban": true, "type": "resize", "height": 902}"#);
    // Our iframe without the marker: ignored.
    frame_posts(&iframe, r#"{"_emban": "yes", "type": "resize", "height": 903}"#);
    frame_posts(&iframe, r#"{"type": "resize", "height": 904}"#);
    // Then a genuine one, which must be the only one seen.
    frame_posts(&iframe, r#"{"_emban": true, "type": "resize", "height": 321}"#);
    wait_for("the genuine resize", || height(&iframe) == "321px").await;
    sleep(50).await;
    assert_eq!(*resizes.borrow(), [json!({"_emban": true, "type": "resize", "height": 321})]);
    assert!(readies.borrow().is_empty());
    embed.destroy();

    // The embed URL on another origin: the very same page (now on a foreign origin as far as the
    // helper is concerned) is not listened to, and is not sent the queued commands.
    let options =
        obj(r#"{"embedUrl": "https://embed.example.invalid/embed/d", "filters": {"period": "7d"}}"#);
    let foreign = EmbanEmbed::mount(container().into(), options).unwrap();
    assert_eq!(foreign.origin(), "https://embed.example.invalid");
    let resizes = record(&foreign, "resize");
    let readies = record(&foreign, "ready");
    let frame = foreign.iframe();
    load_page(&frame).await;
    frame_posts(&frame, r#"{"_emban": true, "type": "ready", "dashboardId": "dash_123"}"#);
    frame_posts(&frame, r#"{"_emban": true, "type": "resize", "height": 444}"#);
    sleep(200).await;
    assert!(resizes.borrow().is_empty() && readies.borrow().is_empty());
    assert_eq!(height(&frame), "600px");
    assert!(received(&frame).is_empty());
    foreign.destroy();
}

#[wasm_bindgen_test]
async fn on_and_off_check_event_names_and_off_removes_callbacks() {
    let (embed, iframe) = mounted("{}").await;
    let noop = noop();
    let message = error_message(embed.on("redy", noop.clone()));
    assert!(
        message.starts_with("EmbanEmbed: unknown event \"redy\"; expected one of ready, resize"),
        "{message}"
    );
    assert!(error_message(embed.off("bogus", None)).contains("unknown event \"bogus\""));
    for name in embed_helper::EVENT_NAMES {
        embed.on(name, noop.clone()).unwrap();
    }
    let kept = record(&embed, "resize");
    let removed = Rc::new(Cell::new(0));
    let count = removed.clone();
    let callback: Function = Closure::<dyn FnMut(JsValue)>::new(move |_| count.set(count.get() + 1))
        .into_js_value()
        .unchecked_into();
    embed.on("resize", callback.clone()).unwrap();
    embed.off("resize", Some(callback)).unwrap();
    ready(&embed, &iframe, "d").await;
    frame_posts(&iframe, r#"{"_emban": true, "type": "resize", "height": 500}"#);
    wait_for("the kept listener", || kept.borrow().len() == 1).await;
    assert_eq!(removed.get(), 0);
    embed.destroy();
}

#[wasm_bindgen_test]
async fn calls_after_destroy_throw() {
    let div = container();
    let embed =
        EmbanEmbed::mount(div.clone().into(), obj(&format!(r#"{{"embedUrl": "{}"}}"#, embed_url("/e"))))
            .unwrap();
    let iframe = embed.iframe();
    assert!(iframe.is_connected());
    embed.destroy();
    embed.destroy(); // twice is fine
    assert!(!iframe.is_connected(), "destroy removes the iframe");
    assert_eq!(div.child_element_count(), 0);
    let after =
        |method: &str| format!("EmbanEmbed: {method}() called after destroy(); mount a new embed instead");
    assert_eq!(error_message(embed.set_filters(obj("{}"), None)), after("setFilters"));
    assert_eq!(error_message(embed.set_theme(obj("{}"), None)), after("setTheme"));
    assert_eq!(error_message(embed.reload(None)), after("reload"));
    assert_eq!(error_message(embed.set_embed_url(&embed_url("/e2"))), after("setEmbedUrl"));
    assert_eq!(error_message(embed.on("ready", noop())), after("on"));
    assert_eq!(error_message(embed.off("ready", None)), after("off"));
}

#[wasm_bindgen_test]
async fn set_embed_url_swaps_in_place_and_carries_filters_and_theme() {
    let (embed, iframe) = mounted("{}").await;
    let swaps = record(&embed, "session-swapped");
    let readies = record(&embed, "ready");
    ready(&embed, &iframe, "dash_1").await;
    embed.set_filters(obj(r#"{"period": "7d", "dimensions": {"model": "gpt-3"}}"#), None).unwrap();
    embed.set_filters(obj(r#"{"dimensions": {"model": "gpt-4"}}"#), None).unwrap();
    embed.set_theme(obj(r##"{"primaryColor": "#111111"}"##), None).unwrap();
    embed.set_theme(obj(r##"{"textColor": "#222222"}"##), None).unwrap();
    wait_received(&iframe, 4).await;

    let message = error_message(embed.set_embed_url("ftp://elsewhere/x"));
    assert!(message.contains("absolute http(s) URL"), "{message}");
    let next = embed_url("/embed/dash_1?token=next");
    embed.set_embed_url(&next).unwrap();
    assert_eq!(iframe.get_attribute("src"), Some(next));
    embed.reload(None).unwrap(); // waits for the new session
    load_page(&iframe).await; // the new session's page
    assert!(embed.iframe() == iframe, "the same iframe element");
    frame_posts(&iframe, r#"{"_emban": true, "type": "ready", "dashboardId": "dash_2"}"#);
    let got = wait_received(&iframe, 3).await;
    assert_eq!(
        got,
        [
            json!({"_emban": true, "type": "setFilters", "filters": {"period": "7d", "dimensions": {"model": "gpt-4"}}}),
            json!({"_emban": true, "type": "setTheme", "theme": {"primaryColor": "#111111", "textColor": "#222222"}}),
            json!({"_emban": true, "type": "reload"}),
        ]
    );
    wait_for("session-swapped", || swaps.borrow().len() == 1).await;
    assert_eq!(
        swaps.borrow()[0],
        json!({"type": "session-swapped", "dashboardId": "dash_2", "origin": location_origin()})
    );
    assert_eq!(readies.borrow().len(), 2, "ready listeners see the new session's ready too");
    assert_eq!(readies.borrow()[1]["dashboardId"], "dash_2");
    embed.destroy();
}

#[wasm_bindgen_test]
async fn request_ids_state_and_the_viewer_state_restored_on_a_swap() {
    let (embed, iframe) = mounted("{}").await;
    ready(&embed, &iframe, "dash_1").await;
    assert!(embed.get_state().is_null(), "no state before the first filter event");
    embed.set_filters(obj(r#"{"dimensions": {"endpoint": "/chat"}}"#), Some("r-1".into())).unwrap();
    embed.set_theme(obj(r##"{"primaryColor": "#111111"}"##), Some("r-2".into())).unwrap();
    embed.reload(Some("r-3".into())).unwrap();
    let got = wait_received(&iframe, 3).await;
    assert_eq!(
        got,
        [
            json!({"_emban": true, "type": "setFilters", "filters": {"dimensions": {"endpoint": "/chat"}}, "requestId": "r-1"}),
            json!({"_emban": true, "type": "setTheme", "theme": {"primaryColor": "#111111"}, "requestId": "r-2"}),
            json!({"_emban": true, "type": "reload", "requestId": "r-3"}),
        ]
    );
    // The viewer drilled and picked a period inside the embed: the runtime reports that state.
    let themes = record(&embed, "theme");
    frame_posts(
        &iframe,
        r#"{"_emban": true, "type": "filter", "period": "7d", "filters": {"endpoint": "/chat", "model": "gpt-4"},
            "numericRanges": {}, "dateRanges": {}}"#,
    );
    frame_posts(
        &iframe,
        r##"{"_emban": true, "type": "theme", "theme": {"primaryColor": "#111111"}, "requestId": "r-2"}"##,
    );
    wait_for("the state", || !embed.get_state().is_null()).await;
    wait_for("the theme event", || themes.borrow().len() == 1).await;
    let state: Value =
        serde_json::from_str(&JSON::stringify(&embed.get_state()).unwrap().as_string().unwrap()).unwrap();
    assert_eq!(
        state,
        json!({"period": "7d", "filters": {"endpoint": "/chat", "model": "gpt-4"}, "numericRanges": {}, "dateRanges": {}})
    );

    embed.set_embed_url(&embed_url("/embed/dash_1?token=next")).unwrap();
    load_page(&iframe).await;
    frame_posts(&iframe, r#"{"_emban": true, "type": "ready", "dashboardId": "dash_1"}"#);
    let got = wait_received(&iframe, 2).await;
    assert_eq!(
        got,
        [
            json!({"_emban": true, "type": "setFilters", "partial": true, "filters": {
                "period": "7d", "dimensions": {"endpoint": "/chat", "model": "gpt-4"},
                "numericRanges": {}, "dateRanges": {}}}),
            json!({"_emban": true, "type": "setTheme", "theme": {"primaryColor": "#111111"}}),
        ],
        "the viewer's state (not just the host's filters), as far as the new session allows"
    );
    embed.destroy();
}

/// A token whose payload is `{"exp": exp}` (the helper reads `exp` only; no signature check).
fn token(exp: u64) -> String {
    let payload = window().btoa(&format!(r#"{{"exp":{exp}}}"#)).unwrap();
    let payload = payload.trim_end_matches('=').replace('+', "-").replace('/', "_");
    format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln")
}

#[wasm_bindgen_test]
async fn an_expiring_session_is_refreshed_through_fetch_embed_url() {
    let exp = (js_sys::Date::now() / 1000.0) as u64 + 1;
    let fresh = embed_url("/embed/dash_1?token=fresh");
    let calls = Rc::new(Cell::new(0));
    let counter = calls.clone();
    let fresh_url = fresh.clone();
    let fetch: Function = Closure::<dyn FnMut() -> JsValue>::new(move || {
        counter.set(counter.get() + 1);
        // First attempt fails (retried after 1 s), the second resolves with a fresh URL.
        if counter.get() == 1 {
            Promise::reject(&JsValue::from("offline"))
        } else {
            Promise::resolve(&JsValue::from(fresh_url.clone()))
        }
        .into()
    })
    .into_js_value()
    .unchecked_into();
    let options = Object::new();
    Reflect::set(
        &options,
        &"embedUrl".into(),
        &embed_url(&format!("/embed/dash_1?token={}", token(exp))).into(),
    )
    .unwrap();
    Reflect::set(&options, &"fetchEmbedUrl".into(), &fetch).unwrap();
    let embed = EmbanEmbed::mount(container().into(), options.into()).unwrap();
    let iframe = embed.iframe();
    let expiring = record(&embed, "session-expiring");
    let swaps = record(&embed, "session-swapped");
    load_page(&iframe).await;
    ready(&embed, &iframe, "dash_1").await;
    wait_for("session-expiring", || expiring.borrow().len() == 1).await;
    assert_eq!(expiring.borrow()[0], json!({"type": "session-expiring", "expiresAt": exp * 1000}));
    wait_for("the retry's fresh URL", || iframe.get_attribute("src").as_deref() == Some(fresh.as_str()))
        .await;
    assert_eq!(calls.get(), 2);
    assert_eq!(expiring.borrow().len(), 1, "session-expiring fires once per expiry, not per retry");
    load_page(&iframe).await;
    frame_posts(&iframe, r#"{"_emban": true, "type": "ready", "dashboardId": "dash_1"}"#);
    wait_for("session-swapped", || swaps.borrow().len() == 1).await;
    embed.destroy();
}
