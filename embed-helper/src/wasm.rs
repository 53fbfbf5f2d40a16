//! `EmbanEmbed`, the browser binding: owns one iframe, checks every message against it, queues
//! commands until `ready`, and swaps sessions in place. Exported to JS by wasm-bindgen.
//!
//! Commands are plain JS objects built field by field, and events reach listeners as the very
//! object the runtime posted: serde (and serde-wasm-bindgen) would triple the module's size for
//! a dozen fields. The payloads a host passes in (`filters`, `theme`) are still checked field by
//! field against the contract's shapes and copied, so a command carries only contract fields.

use alloc::{borrow::ToOwned, rc::Rc, string::String, vec::Vec};
use core::cell::{RefCell, RefMut};

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, closure::Closure, prelude::*};
use web_sys::{Element, HtmlIFrameElement, MessageEvent, Window};

use crate::{
    COLOR_SCHEME_KEY, COLOR_SCHEMES, FILTER_KEYS, HelperError, THEME_PAYLOAD_KEYS, backoff_ms,
    check_event_name, css_px, embed_origin, refresh_delay_ms, token_expiry,
};

// The published module is `no_std` (lib.rs): it brings its own allocator (the one std uses on
// wasm32) and a panic handler that traps without formatting anything.
#[cfg(feature = "bare")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(feature = "bare")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

#[wasm_bindgen]
extern "C" {
    /// The page's `window` (`null` where there is none); lighter than `web_sys::window()`, which
    /// probes four names for the global object.
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    static WINDOW: Option<Window>;
}

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Theme tokens of `setTheme`, each a CSS colour (and the built-in scheme under them); a token left out keeps its value. */
export interface EmbanTheme {
  primaryColor?: string; backgroundColor?: string; cardBackground?: string;
  cardBorder?: string; textColor?: string; mutedColor?: string;
  colorScheme?: "light" | "dark";
}
/** The payload of `setFilters`. */
export interface EmbanFilters {
  period?: string;
  dimensions?: Record<string, string>;
  numericRanges?: Record<string, { min?: number; max?: number }>;
  dateRanges?: Record<string, { from?: string; to?: string }>;
}
/** Options of `EmbanEmbed.mount`. */
export interface EmbanMountOptions {
  /** The signed `embed_url` your backend got from `POST /v1/embed-sessions`. */
  embedUrl: string;
  /** Size the iframe from the embed's `resize` events (default `true`). */
  autoResize?: boolean;
  /** The iframe never gets shorter than this many CSS pixels. */
  minHeight?: number;
  /** Applied once the embed is ready. */
  theme?: EmbanTheme;
  /** Applied once the embed is ready. */
  filters?: EmbanFilters;
  /** The iframe's accessible title (default "Emban dashboard"). */
  title?: string;
  /** Returns a fresh signed URL; called ahead of the token's expiry, retried with backoff. */
  fetchEmbedUrl?: () => string | Promise<string>;
}
/** Events `on` accepts: the runtime's, then the helper's own. */
export type EmbanEventName = "ready" | "resize" | "filter" | "period-change" | "drill" | "error"
  | "theme" | "export" | "session-swapped" | "session-expiring";
/** The last state the runtime reported (the `filter` event's fields). */
export interface EmbanState {
  period: string; filters: Record<string, string>;
  numericRanges: Record<string, { min?: number; max?: number }>;
  dateRanges: Record<string, { from?: string; to?: string }>;
}
"#;

fn js_err(e: HelperError) -> JsError {
    JsError::new(&e.message())
}

fn bad(what: &str) -> HelperError {
    HelperError::BadOption(what.to_owned())
}

/// Reads a property of a plain object.
fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(object: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// `Some` unless `undefined` or `null` (which mean "not given").
fn given(value: JsValue) -> Option<JsValue> {
    if value.is_null_or_undefined() { None } else { Some(value) }
}

/// A message on the wire: `{_emban: true, type, [key]: payload}` (the contract's `Envelope`).
fn message(kind: &str, key: &str, payload: &JsValue) -> JsValue {
    let object = Object::new();
    set(&object, "_emban", &JsValue::TRUE);
    set(&object, "type", &JsValue::from_str(kind));
    if !key.is_empty() {
        set(&object, key, payload);
    }
    object.into()
}

/// [`message`] with the contract's `requestId` extension when `request_id` is given: the
/// runtime then answers with exactly one event carrying it.
fn request(kind: &str, key: &str, payload: &JsValue, request_id: Option<String>) -> JsValue {
    let object = message(kind, key, payload);
    if let Some(id) = request_id {
        set(object.unchecked_ref(), "requestId", &JsValue::from_str(&id));
    }
    object
}

/// The `setFilters` that restores a viewer's last `filter` state into a new session, as far as
/// that session allows (`partial`).
fn restore(state: &JsValue) -> JsValue {
    let filters = Object::new();
    for (from, to) in [
        ("period", "period"),
        ("filters", "dimensions"),
        ("numericRanges", "numericRanges"),
        ("dateRanges", "dateRanges"),
    ] {
        if let Some(value) = given(get(state, from)) {
            set(&filters, to, &value);
        }
    }
    let object = message("setFilters", "filters", &filters);
    set(object.unchecked_ref(), "partial", &JsValue::TRUE);
    object
}

/// The viewer-visible state of a `filter` event: `{period, filters, numericRanges, dateRanges}`.
fn state_of(event: &JsValue) -> JsValue {
    let state = Object::new();
    for key in ["period", "filters", "numericRanges", "dateRanges"] {
        set(&state, key, &get(event, key));
    }
    state.into()
}

/// A helper-side event object: `{type, key: value, ...}`.
fn event_object(kind: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    set(&object, "type", &JsValue::from_str(kind));
    for (key, value) in fields {
        set(&object, key, value);
    }
    object.into()
}

// Checks of host-given payloads. Each returns a fresh plain copy holding only contract fields
// (so later changes to the host's object cannot alter a queued command), or an error naming the
// offending path, e.g. `setFilters(filters).dimensions.model must be a string`.

type Check = fn(&str, JsValue) -> Result<JsValue, HelperError>;

fn must(path: &str, what: &str) -> HelperError {
    HelperError::BadOption([path, " must be ", what].concat())
}

fn string(path: &str, value: JsValue) -> Result<JsValue, HelperError> {
    if value.is_string() { Ok(value) } else { Err(must(path, "a string")) }
}

fn number(path: &str, value: JsValue) -> Result<JsValue, HelperError> {
    if value.as_f64().is_some() { Ok(value) } else { Err(must(path, "a number")) }
}

/// Fails on an own key of `value` that is not one of `keys`: a misspelt or misplaced key would
/// otherwise be dropped without a word.
fn known_keys(path: &str, value: &JsValue, keys: &[&str]) -> Result<(), HelperError> {
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !keys.contains(&key.as_str()) {
            let hint = if key == "filters" {
                " (the filter event's \"filters\" map is called \"dimensions\" here)"
            } else {
                ""
            };
            return Err(HelperError::BadOption(
                [path, " has an unknown key \"", &key, "\"; expected ", &keys.join(", "), hint].concat(),
            ));
        }
    }
    Ok(())
}

/// The given `keys` of the object `value`, each through `check`; any other key is an error.
fn fields(path: &str, value: &JsValue, keys: &[&str], check: Check) -> Result<Object, HelperError> {
    if !value.is_object() {
        return Err(must(path, "an object"));
    }
    known_keys(path, value, keys)?;
    let out = Object::new();
    for key in keys {
        if let Some(field) = given(get(value, key)) {
            set(&out, key, &check(&[path, ".", key].concat(), field)?);
        }
    }
    Ok(out)
}

/// Every own key of the object `value` (a name → value map), each value through `check`.
fn map(path: &str, value: JsValue, check: Check) -> Result<JsValue, HelperError> {
    if !value.is_object() {
        return Err(must(path, "an object"));
    }
    let out = Object::new();
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let name = key.as_string().unwrap_or_default();
        let entry = Reflect::get(&value, &key).unwrap_or(JsValue::UNDEFINED);
        let _ = Reflect::set(&out, &key, &check(&[path, ".", &name].concat(), entry)?);
    }
    Ok(out.into())
}

fn numeric_range(path: &str, value: JsValue) -> Result<JsValue, HelperError> {
    fields(path, &value, &["min", "max"], number).map(Into::into)
}

fn date_range(path: &str, value: JsValue) -> Result<JsValue, HelperError> {
    fields(path, &value, &["from", "to"], string).map(Into::into)
}

/// `{period?, dimensions?, numericRanges?, dateRanges?}`, checked and copied.
fn filters_payload(path: &str, value: &JsValue) -> Result<Object, HelperError> {
    if !value.is_object() {
        return Err(must(path, "an object"));
    }
    known_keys(path, value, &FILTER_KEYS)?;
    let out = Object::new();
    for key in FILTER_KEYS {
        let Some(field) = given(get(value, key)) else { continue };
        let path = [path, ".", key].concat();
        let field = match key {
            "period" => string(&path, field)?,
            "dimensions" => map(&path, field, string)?,
            "numericRanges" => map(&path, field, numeric_range)?,
            _ => map(&path, field, date_range)?,
        };
        set(&out, key, &field);
    }
    Ok(out)
}

/// `colorScheme`: `"light"` or `"dark"`.
fn color_scheme(path: &str, value: JsValue) -> Result<JsValue, HelperError> {
    match value.as_string() {
        Some(scheme) if COLOR_SCHEMES.contains(&scheme.as_str()) => Ok(value),
        _ => Err(must(path, "\"light\" or \"dark\"")),
    }
}

/// A theme token at `path`: `colorScheme`, or a colour (any string; the runtime parses it).
fn theme_token(path: &str, value: JsValue) -> Result<JsValue, HelperError> {
    if path.ends_with(COLOR_SCHEME_KEY) { color_scheme(path, value) } else { string(path, value) }
}

/// The six colour tokens, each a string when given, and `colorScheme`, checked and copied.
fn theme_payload(path: &str, value: &JsValue) -> Result<Object, HelperError> {
    fields(path, value, &THEME_PAYLOAD_KEYS, theme_token)
}

/// Folds a request into what the helper carries to the next session: each part the (checked,
/// so only contract keys) request names replaces the carried one.
fn carry(carried: &mut Option<Object>, next: &Object) {
    match carried {
        Some(carried) => {
            Object::assign(carried, next);
        }
        None => *carried = Some(Object::assign(&Object::new(), next)),
    }
}

/// The mutable state behind one mounted embed.
struct Inner {
    window: Window,
    iframe: HtmlIFrameElement,
    origin: String,
    embed_url: String,
    ready: bool,
    swapping: bool,
    destroyed: bool,
    /// Messages waiting for `ready`.
    queue: Vec<JsValue>,
    listeners: Vec<(&'static str, Function)>,
    /// What the host set last (merged), re-sent to a swapped-in session (the filters only until
    /// the runtime reported a state: then that state is restored).
    filters: Option<Object>,
    theme: Option<Object>,
    /// The last `filter` event's state (`getState()`), restored into a swapped-in session.
    state: Option<JsValue>,
    auto_resize: bool,
    min_height: f64,
    /// The last height the runtime reported.
    height: f64,
    fetch_embed_url: Option<Function>,
    resolve_ready: Option<Function>,
    on_message: Option<Closure<dyn FnMut(MessageEvent)>>,
    timer: Option<i32>,
    attempt: u32,
}

/// A signed Emban dashboard mounted in an iframe, and the commands and events around it.
#[wasm_bindgen]
pub struct EmbanEmbed {
    inner: Rc<RefCell<Inner>>,
    ready: Promise,
}

impl Inner {
    /// Posts `message` to the embed's origin now.
    fn post(&self, message: &JsValue) {
        if let Some(target) = self.iframe.content_window() {
            let _ = target.post_message(message, &self.origin);
        }
    }

    /// Posts `message` when the embed is ready, or queues it for `ready`.
    fn send(&mut self, message: JsValue) {
        if self.ready { self.post(&message) } else { self.queue.push(message) }
    }

    fn callbacks(&self, kind: &str) -> Vec<Function> {
        self.listeners.iter().filter(|(k, _)| *k == kind).map(|(_, f)| f.clone()).collect()
    }

    fn clear_timer(&mut self) {
        if let Some(id) = self.timer.take() {
            self.window.clear_timeout_with_handle(id);
        }
    }
}

/// Calls each callback with `data`; a throwing callback does not stop the others.
fn emit(callbacks: Vec<Function>, data: &JsValue) {
    for callback in callbacks {
        let _ = callback.call1(&JsValue::UNDEFINED, data);
    }
}

/// The name in [`crate::EVENT_NAMES`] equal to `kind` (listeners keep the static one).
fn event_name(kind: &str) -> Result<&'static str, HelperError> {
    check_event_name(kind)?;
    Ok(crate::EVENT_NAMES.iter().copied().find(|name| *name == kind).unwrap_or_default())
}

fn on_message(rc: &Rc<RefCell<Inner>>, event: MessageEvent) {
    let mut emitted: Vec<(Vec<Function>, JsValue)> = Vec::new();
    let mut schedule = false;
    {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        if s.destroyed {
            return;
        }
        // Only our own iframe, and only while it shows the embed's origin.
        let (Some(frame), Some(source)) = (s.iframe.content_window(), event.source()) else { return };
        if JsValue::from(frame) != JsValue::from(source) || event.origin() != s.origin {
            return;
        }
        let data = event.data();
        // Only the marker and the `type` are read here (the full object is what listeners get).
        if get(&data, "_emban") != JsValue::TRUE {
            return;
        }
        let Some(kind) = get(&data, "type").as_string() else { return };
        let kind = match kind.as_str() {
            "ready" => {
                s.ready = true;
                s.attempt = 0;
                let swapped = core::mem::take(&mut s.swapping);
                let mut messages = Vec::new();
                if swapped {
                    // The viewer's own state (their filters, period, drills) as far as the new
                    // session allows; the host's last filters when none was reported yet.
                    if let Some(state) = &s.state {
                        messages.push(restore(state));
                    } else if let Some(filters) = &s.filters {
                        messages.push(message("setFilters", "filters", filters));
                    }
                    if let Some(theme) = &s.theme {
                        messages.push(message("setTheme", "theme", theme));
                    }
                }
                messages.append(&mut s.queue);
                for message in &messages {
                    s.post(message);
                }
                if let Some(resolve) = s.resolve_ready.take() {
                    // Resolution runs its reactions later (a microtask), never in here.
                    let _ = resolve.call1(&JsValue::UNDEFINED, &data);
                }
                schedule = true;
                if swapped {
                    let swapped_event = event_object(
                        "session-swapped",
                        &[
                            ("dashboardId", get(&data, "dashboardId")),
                            ("origin", JsValue::from_str(&s.origin)),
                        ],
                    );
                    emitted.push((s.callbacks("ready"), data.clone()));
                    emitted.push((s.callbacks("session-swapped"), swapped_event));
                    None
                } else {
                    Some("ready")
                }
            }
            "resize" => {
                let Some(height) = get(&data, "height").as_f64() else { return };
                s.height = height;
                if s.auto_resize {
                    let _ = s.iframe.style().set_property("height", &css_px(height, s.min_height));
                }
                Some("resize")
            }
            "filter" => {
                s.state = Some(state_of(&data));
                Some("filter")
            }
            "period-change" | "drill" | "error" | "theme" | "export" => Some(kind.as_str()),
            _ => return,
        };
        if let Some(kind) = kind {
            emitted.push((s.callbacks(kind), data.clone()));
        }
    }
    if schedule {
        schedule_refresh(rc, None);
    }
    for (callbacks, data) in emitted {
        emit(callbacks, &data);
    }
}

/// Arms the timer that asks `fetchEmbedUrl` for a fresh URL ahead of the token's expiry, or after
/// `retry_in` ms when a previous attempt failed.
fn schedule_refresh(rc: &Rc<RefCell<Inner>>, retry_in: Option<u32>) {
    let Ok(mut s) = rc.try_borrow_mut() else { return };
    s.clear_timer();
    if s.destroyed || s.fetch_embed_url.is_none() {
        return;
    }
    let Some(exp) = token_expiry(&s.embed_url) else { return };
    let delay = match retry_in {
        Some(ms) => f64::from(ms),
        None => refresh_delay_ms(exp, js_sys::Date::now()),
    };
    let rc = rc.clone();
    let fire = Closure::once_into_js(move |_: JsValue| refresh(&rc, exp));
    let delay = delay.min(f64::from(i32::MAX)) as i32;
    s.timer =
        s.window.set_timeout_with_callback_and_timeout_and_arguments_0(fire.unchecked_ref(), delay).ok();
}

/// Counts a failed `fetchEmbedUrl` attempt and arms the retry.
fn failed(rc: &Rc<RefCell<Inner>>) {
    let attempt = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        s.attempt += 1;
        s.attempt - 1
    };
    schedule_refresh(rc, Some(backoff_ms(attempt)));
}

/// Emits `session-expiring`, calls `fetchEmbedUrl`, and swaps to its URL; retries with backoff.
fn refresh(rc: &Rc<RefCell<Inner>>, exp: u64) {
    let (callbacks, fetch, first) = {
        let Ok(mut s) = rc.try_borrow_mut() else { return };
        s.timer = None;
        if s.destroyed {
            return;
        }
        (s.callbacks("session-expiring"), s.fetch_embed_url.clone(), s.attempt == 0)
    };
    let Some(fetch) = fetch else { return };
    if first {
        // Milliseconds since the epoch, like `Date.now()` (the token's `exp` is in seconds).
        let at = JsValue::from_f64(exp as f64 * 1000.0);
        emit(callbacks, &event_object("session-expiring", &[("expiresAt", at)]));
    }
    let result = fetch.call0(&JsValue::UNDEFINED).unwrap_or_else(|e| Promise::reject(&e).into());
    let (ok_rc, err_rc) = (rc.clone(), rc.clone());
    let on_ok = Closure::once_into_js(move |url: JsValue| match url.as_string().map(|u| swap(&ok_rc, &u)) {
        Some(Ok(())) => {}
        _ => failed(&ok_rc),
    });
    let on_err = Closure::once_into_js(move |_: JsValue| failed(&err_rc));
    // `then` through Reflect: the callbacks are one-shot JS functions (`once_into_js`).
    let promise = Promise::resolve(&result);
    let then: Function = get(&promise, "then").unchecked_into();
    let _ = then.call2(&promise, &on_ok, &on_err);
}

/// The browser's own spelling of `url`'s origin, after the helper's check.
fn normalized_origin(url: &str) -> Result<String, HelperError> {
    embed_origin(url)?;
    web_sys::Url::new(url).map(|u| u.origin()).map_err(|_| HelperError::BadEmbedUrl(url.to_owned()))
}

/// Points the same iframe at `url`; commands wait for the new session's `ready`.
fn swap(rc: &Rc<RefCell<Inner>>, url: &str) -> Result<(), HelperError> {
    let origin = normalized_origin(url)?;
    let Ok(mut s) = rc.try_borrow_mut() else { return Ok(()) };
    s.clear_timer();
    s.origin = origin;
    s.embed_url = url.to_owned();
    s.ready = false;
    s.swapping = true;
    let _ = s.iframe.set_attribute("src", url);
    Ok(())
}

impl EmbanEmbed {
    /// The state, unless `destroy()` ran (then the error names `method`).
    fn live(&self, method: &'static str) -> Result<RefMut<'_, Inner>, JsError> {
        match self.inner.try_borrow_mut() {
            Ok(s) if !s.destroyed => Ok(s),
            _ => Err(js_err(HelperError::Destroyed(method))),
        }
    }
}

#[wasm_bindgen]
impl EmbanEmbed {
    /// Mounts the signed embed URL in a new iframe inside `container` (an element or a CSS
    /// selector). Commands sent before `ready` are queued.
    pub fn mount(
        #[wasm_bindgen(unchecked_param_type = "Element | string")] container: JsValue,
        #[wasm_bindgen(unchecked_param_type = "EmbanMountOptions")] options: JsValue,
    ) -> Result<EmbanEmbed, JsError> {
        Self::try_mount(container, options).map_err(js_err)
    }

    /// Resolves with the runtime's first `ready` event.
    #[wasm_bindgen(getter, unchecked_return_type = "Promise<any>")]
    pub fn ready(&self) -> Promise {
        self.ready.clone()
    }

    /// The iframe this embed owns (the same element across `setEmbedUrl`).
    #[wasm_bindgen(getter)]
    pub fn iframe(&self) -> HtmlIFrameElement {
        self.inner.borrow().iframe.clone()
    }

    /// The origin commands are posted to and events accepted from.
    #[wasm_bindgen(getter)]
    pub fn origin(&self) -> String {
        self.inner.borrow().origin.clone()
    }

    /// Changes the period and filters (`{period?, dimensions?, numericRanges?, dateRanges?}`).
    /// With `requestId`, the message carries it (the package entry correlates the answer).
    #[wasm_bindgen(js_name = setFilters)]
    pub fn set_filters(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EmbanFilters")] filters: JsValue,
        #[wasm_bindgen(js_name = requestId)] request_id: Option<String>,
    ) -> Result<(), JsError> {
        let mut s = self.live("setFilters")?;
        let filters = filters_payload("setFilters(filters)", &filters).map_err(js_err)?;
        carry(&mut s.filters, &filters);
        s.send(request("setFilters", "filters", &filters, request_id));
        Ok(())
    }

    /// Applies theme tokens.
    #[wasm_bindgen(js_name = setTheme)]
    pub fn set_theme(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EmbanTheme")] theme: JsValue,
        #[wasm_bindgen(js_name = requestId)] request_id: Option<String>,
    ) -> Result<(), JsError> {
        let mut s = self.live("setTheme")?;
        let theme = theme_payload("setTheme(theme)", &theme).map_err(js_err)?;
        carry(&mut s.theme, &theme);
        s.send(request("setTheme", "theme", &theme, request_id));
        Ok(())
    }

    /// Refetches the dashboard and its data with the same session.
    pub fn reload(
        &self,
        #[wasm_bindgen(js_name = requestId)] request_id: Option<String>,
    ) -> Result<(), JsError> {
        self.live("reload")?.send(request("reload", "", &JsValue::UNDEFINED, request_id));
        Ok(())
    }

    /// The last state the runtime reported (`{period, filters, numericRanges, dateRanges}`, as
    /// in the `filter` event), or `null` before the first.
    #[wasm_bindgen(js_name = getState, unchecked_return_type = "EmbanState | null")]
    pub fn get_state(&self) -> JsValue {
        match self.inner.try_borrow() {
            Ok(s) => s
                .state
                .as_ref()
                .map_or(JsValue::NULL, |state| Object::assign(&Object::new(), state.unchecked_ref()).into()),
            Err(_) => JsValue::NULL,
        }
    }

    /// Changes the least height of the iframe (CSS pixels) and re-sizes it.
    #[wasm_bindgen(js_name = setMinHeight)]
    pub fn set_min_height(
        &self,
        #[wasm_bindgen(js_name = minHeight)] min_height: f64,
    ) -> Result<(), JsError> {
        let mut s = self.live("setMinHeight")?;
        if min_height.is_nan() || min_height < 0.0 {
            return Err(js_err(bad("minHeight must be a number of pixels")));
        }
        s.min_height = min_height;
        let height = if s.auto_resize && s.height > 0.0 { s.height } else { min_height };
        let _ = s.iframe.style().set_property("height", &css_px(height, min_height));
        Ok(())
    }

    /// Swaps in a freshly signed URL in the same iframe; the current filters and theme follow,
    /// and `session-swapped` fires once the new session is ready.
    #[wasm_bindgen(js_name = setEmbedUrl)]
    pub fn set_embed_url(&self, url: &str) -> Result<(), JsError> {
        drop(self.live("setEmbedUrl")?);
        swap(&self.inner, url).map_err(js_err)
    }

    /// Calls `callback(event)` for every event of `type`.
    pub fn on(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "EmbanEventName")] kind: &str,
        callback: Function,
    ) -> Result<(), JsError> {
        let mut s = self.live("on")?;
        let kind = event_name(kind).map_err(js_err)?;
        s.listeners.push((kind, callback));
        Ok(())
    }

    /// Removes `callback` from `type` (every callback of `type` when none is given).
    pub fn off(
        &self,
        #[wasm_bindgen(js_name = "type", unchecked_param_type = "EmbanEventName")] kind: &str,
        callback: Option<Function>,
    ) -> Result<(), JsError> {
        let mut s = self.live("off")?;
        check_event_name(kind).map_err(js_err)?;
        s.listeners.retain(|(k, f)| {
            *k != kind || callback.as_ref().is_some_and(|c| JsValue::from(f) != JsValue::from(c))
        });
        Ok(())
    }

    /// Removes the iframe and every listener; later calls throw.
    pub fn destroy(&self) {
        let Ok(mut s) = self.inner.try_borrow_mut() else { return };
        if s.destroyed {
            return;
        }
        s.destroyed = true;
        s.clear_timer();
        if let Some(listener) = s.on_message.take() {
            let _ =
                s.window.remove_event_listener_with_callback("message", listener.as_ref().unchecked_ref());
        }
        s.iframe.remove();
        s.listeners.clear();
        s.queue.clear();
    }
}

impl EmbanEmbed {
    fn try_mount(container: JsValue, options: JsValue) -> Result<EmbanEmbed, HelperError> {
        #[cfg(feature = "panic-hook")]
        console_error_panic_hook::set_once();
        let window = WINDOW.with(Clone::clone).ok_or_else(|| bad("mount needs a browser window"))?;
        let document = window.document().ok_or_else(|| bad("mount needs a document"))?;
        let element: Element = match container.as_string() {
            Some(selector) => document
                .query_selector(&selector)
                .map_err(|_| {
                    HelperError::MissingContainer(
                        ["\"", &selector, "\" is not a valid CSS selector"].concat(),
                    )
                })?
                .ok_or_else(|| {
                    HelperError::MissingContainer(["no element matches \"", &selector, "\""].concat())
                })?,
            None => container.dyn_into::<Element>().map_err(|_| {
                HelperError::MissingContainer("container must be an element or a CSS selector string".into())
            })?,
        };
        if !options.is_object() {
            return Err(bad("mount options must be an object with an embedUrl"));
        }
        let embed_url = get(&options, "embedUrl")
            .as_string()
            .ok_or_else(|| HelperError::BadEmbedUrl("(missing or not a string)".into()))?;
        let origin = normalized_origin(&embed_url)?;
        let auto_resize = match get(&options, "autoResize") {
            v if v.is_undefined() => true,
            v => v.as_bool().ok_or_else(|| bad("autoResize must be a boolean"))?,
        };
        let min_height = match given(get(&options, "minHeight")) {
            None => 0.0,
            Some(v) => {
                v.as_f64().filter(|h| *h >= 0.0).ok_or_else(|| bad("minHeight must be a number of pixels"))?
            }
        };
        let title = get(&options, "title").as_string().unwrap_or_else(|| "Emban dashboard".to_owned());
        let fetch_embed_url = match given(get(&options, "fetchEmbedUrl")) {
            None => None,
            Some(v) => Some(v.dyn_into::<Function>().map_err(|_| bad("fetchEmbedUrl must be a function"))?),
        };
        let filters = given(get(&options, "filters")).map(|v| filters_payload("filters", &v)).transpose()?;
        let theme = given(get(&options, "theme")).map(|v| theme_payload("theme", &v)).transpose()?;

        let iframe: HtmlIFrameElement = document
            .create_element("iframe")
            .map_err(|_| bad("could not create an iframe"))?
            .unchecked_into();
        // Scripts and its own origin (the runtime calls its server); popups for detail links.
        for (name, value) in [
            ("title", title.as_str()),
            (
                "sandbox",
                "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-downloads",
            ),
            ("allow", "clipboard-write; fullscreen"),
            ("data-emban-embed", ""),
            ("style", "display:block;width:100%;border:0;height:600px"),
        ] {
            let _ = iframe.set_attribute(name, value);
        }
        if min_height > 0.0 {
            let _ = iframe.style().set_property("height", &css_px(min_height, 0.0));
        }

        let mut resolve_ready = None;
        let ready = Promise::new(&mut |resolve, _reject| resolve_ready = Some(resolve));
        let mut queue = Vec::new();
        if let Some(filters) = &filters {
            queue.push(message("setFilters", "filters", filters));
        }
        if let Some(theme) = &theme {
            queue.push(message("setTheme", "theme", theme));
        }
        let inner = Rc::new(RefCell::new(Inner {
            window: window.clone(),
            iframe: iframe.clone(),
            origin,
            embed_url: embed_url.clone(),
            ready: false,
            swapping: false,
            destroyed: false,
            queue,
            listeners: Vec::new(),
            // Copies, so carrying later requests never alters the queued messages.
            filters: filters.map(|f| Object::assign(&Object::new(), &f)),
            theme: theme.map(|t| Object::assign(&Object::new(), &t)),
            state: None,
            auto_resize,
            min_height,
            height: 0.0,
            fetch_embed_url,
            resolve_ready,
            on_message: None,
            timer: None,
            attempt: 0,
        }));
        // A strong reference: the page's `message` listener keeps the embed alive until
        // `destroy()` drops it (breaking this cycle), whether or not the page kept the
        // `EmbanEmbed` (wasm-bindgen frees that object when it is garbage-collected; with only
        // a weak reference here, auto-resize and events stopped after a GC).
        let rc = inner.clone();
        let listener =
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| on_message(&rc, event));
        window
            .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref())
            .map_err(|_| bad("could not listen for messages"))?;
        inner.borrow_mut().on_message = Some(listener);
        let _ = iframe.set_attribute("src", &embed_url);
        element.append_child(&iframe).map_err(|_| bad("could not append the iframe to the container"))?;
        Ok(EmbanEmbed { inner, ready })
    }
}
