//! `EmbanEmbed`, the browser binding: owns one iframe, checks every message against it, queues
//! commands until `ready`, and swaps sessions in place. Exported to JS by wasm-bindgen.

use std::{cell::RefCell, rc::Rc};

use contract::messages::{Command, Envelope, FilterRequest, Theme};
use js_sys::{Function, Object, Promise, Reflect};
use serde::{Serialize, de::DeserializeOwned};
use wasm_bindgen::{JsCast, closure::Closure, prelude::*};
use web_sys::{Element, HtmlIFrameElement, MessageEvent, Window};

use crate::{
    HelperError, backoff_ms, check_event_name, embed_origin, merge_filters, refresh_delay_ms, token_expiry,
};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Theme tokens of `setTheme`, each a CSS colour; a token left out keeps its value. */
export interface EmbanTheme {
  primaryColor?: string; backgroundColor?: string; cardBackground?: string;
  cardBorder?: string; textColor?: string; mutedColor?: string;
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
  | "session-swapped" | "session-expiring";
"#;

fn js_err(e: HelperError) -> JsError {
    JsError::new(&e.to_string())
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
    queue: Vec<Command>,
    listeners: Vec<(String, Function)>,
    filters: Option<FilterRequest>,
    theme: Option<Theme>,
    auto_resize: bool,
    min_height: f64,
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

/// Reads a property of a plain object.
fn prop(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, HelperError> {
    serde_wasm_bindgen::from_value(value).map_err(|e| HelperError::BadOption(format!("{what}: {e}")))
}

/// A helper-side event object: `{type, ...fields}`.
fn event_object(kind: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    let _ = Reflect::set(&object, &"type".into(), &kind.into());
    for (key, value) in fields {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// The browser's own spelling of `url`'s origin, after the helper's check.
fn normalized_origin(url: &str) -> Result<String, HelperError> {
    embed_origin(url)?;
    web_sys::Url::new(url).map(|u| u.origin()).map_err(|_| HelperError::BadEmbedUrl(url.to_owned()))
}

fn merge_theme(carried: &mut Theme, next: &Theme) {
    let pairs = [
        (&mut carried.primary_color, &next.primary_color),
        (&mut carried.background_color, &next.background_color),
        (&mut carried.card_background, &next.card_background),
        (&mut carried.card_border, &next.card_border),
        (&mut carried.text_color, &next.text_color),
        (&mut carried.muted_color, &next.muted_color),
    ];
    for (slot, value) in pairs {
        if value.is_some() {
            slot.clone_from(value);
        }
    }
}

impl Inner {
    /// Posts `command` to the embed's origin now.
    fn post(&self, command: Command) {
        let Some(target) = self.iframe.content_window() else { return };
        let serializer = serde_wasm_bindgen::Serializer::json_compatible();
        if let Ok(message) = Envelope::new(command).serialize(&serializer) {
            let _ = target.post_message(&message, &self.origin);
        }
    }

    /// Posts `command` when the embed is ready, or queues it for `ready`.
    fn send(&mut self, command: Command) {
        if self.ready { self.post(command) } else { self.queue.push(command) }
    }

    fn callbacks(&self, kind: &str) -> Vec<Function> {
        self.listeners.iter().filter(|(k, _)| k == kind).map(|(_, f)| f.clone()).collect()
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

fn on_message(rc: &Rc<RefCell<Inner>>, event: MessageEvent) {
    let mut emitted: Vec<(Vec<Function>, JsValue)> = Vec::new();
    let mut resolve = None;
    let mut schedule = false;
    {
        let mut s = rc.borrow_mut();
        if s.destroyed {
            return;
        }
        let (Some(frame), Some(source)) = (s.iframe.content_window(), event.source()) else { return };
        if !Object::is(frame.as_ref(), source.as_ref()) || event.origin() != s.origin {
            return;
        }
        let data = event.data();
        // Only the marker and the `type` are read here (the full object is what listeners get):
        // deserializing every event through serde would triple the module's size.
        if prop(&data, "_emban").as_bool() != Some(true) {
            return;
        }
        let Some(kind) = prop(&data, "type").as_string() else { return };
        let kind = match kind.as_str() {
            "ready" => {
                let dashboard_id = prop(&data, "dashboardId");
                s.ready = true;
                s.attempt = 0;
                let swapped = std::mem::take(&mut s.swapping);
                let mut commands = Vec::new();
                if swapped {
                    if let Some(filters) = s.filters.clone() {
                        commands.push(Command::SetFilters { filters });
                    }
                    if let Some(theme) = s.theme.clone() {
                        commands.push(Command::SetTheme { theme });
                    }
                }
                commands.append(&mut s.queue);
                for command in commands {
                    s.post(command);
                }
                resolve = s.resolve_ready.take();
                schedule = true;
                if swapped {
                    let swapped_event = event_object(
                        "session-swapped",
                        &[("dashboardId", dashboard_id), ("origin", s.origin.as_str().into())],
                    );
                    emitted.push((s.callbacks("ready"), data.clone()));
                    emitted.push((s.callbacks("session-swapped"), swapped_event));
                    None
                } else {
                    Some("ready")
                }
            }
            "resize" => {
                let Some(height) = prop(&data, "height").as_f64() else { return };
                if s.auto_resize {
                    // Whole pixels, formatted as an integer: float formatting would add ~20 KB.
                    let px = height.ceil().max(s.min_height).min(1e6) as u32;
                    let _ = s.iframe.style().set_property("height", &format!("{px}px"));
                }
                Some("resize")
            }
            "filter" => Some("filter"),
            "period-change" => Some("period-change"),
            "drill" => Some("drill"),
            "error" => Some("error"),
            _ => return,
        };
        if let Some(kind) = kind {
            emitted.push((s.callbacks(kind), data.clone()));
        }
        if let Some(resolve) = &resolve {
            let _ = resolve.call1(&JsValue::UNDEFINED, &data);
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
    let mut s = rc.borrow_mut();
    s.clear_timer();
    if s.destroyed || s.fetch_embed_url.is_none() {
        return;
    }
    let Some(exp) = token_expiry(&s.embed_url) else { return };
    let delay = match retry_in {
        Some(ms) => f64::from(ms),
        None => refresh_delay_ms(exp, js_sys::Date::now()),
    };
    let weak = Rc::downgrade(rc);
    let fire = Closure::once_into_js(move || {
        if let Some(rc) = weak.upgrade() {
            refresh(&rc, exp);
        }
    });
    let delay = delay.min(f64::from(i32::MAX)) as i32;
    s.timer =
        s.window.set_timeout_with_callback_and_timeout_and_arguments_0(fire.unchecked_ref(), delay).ok();
}

/// Emits `session-expiring`, calls `fetchEmbedUrl`, and swaps to its URL; retries with backoff.
fn refresh(rc: &Rc<RefCell<Inner>>, exp: u64) {
    let (callbacks, fetch) = {
        let mut s = rc.borrow_mut();
        s.timer = None;
        if s.destroyed {
            return;
        }
        (s.callbacks("session-expiring"), s.fetch_embed_url.clone())
    };
    let Some(fetch) = fetch else { return };
    if rc.borrow().attempt == 0 {
        emit(callbacks, &event_object("session-expiring", &[("expiresAt", (exp as f64).into())]));
    }
    let result = fetch.call0(&JsValue::UNDEFINED).unwrap_or_else(|e| Promise::reject(&e).into());
    let (ok_rc, err_rc) = (Rc::downgrade(rc), Rc::downgrade(rc));
    let failed = move |rc: Rc<RefCell<Inner>>| {
        let attempt = {
            let mut s = rc.borrow_mut();
            s.attempt += 1;
            s.attempt - 1
        };
        schedule_refresh(&rc, Some(backoff_ms(attempt)));
    };
    let failed_too = failed;
    let on_ok = Closure::once_into_js(move |url: JsValue| {
        let Some(rc) = ok_rc.upgrade() else { return };
        match url.as_string().map(|u| swap(&rc, &u)) {
            Some(Ok(())) => {}
            _ => failed(rc),
        }
    });
    let on_err = Closure::once_into_js(move |_: JsValue| {
        if let Some(rc) = err_rc.upgrade() {
            failed_too(rc);
        }
    });
    // `then` through Reflect: the callbacks are one-shot JS functions (`once_into_js`).
    let promise = Promise::resolve(&result);
    let then: Function = prop(&promise, "then").unchecked_into();
    let _ = then.call2(&promise, &on_ok, &on_err);
}

/// Points the same iframe at `url`; commands wait for the new session's `ready`.
fn swap(rc: &Rc<RefCell<Inner>>, url: &str) -> Result<(), HelperError> {
    let origin = normalized_origin(url)?;
    let mut s = rc.borrow_mut();
    s.clear_timer();
    s.origin = origin;
    s.embed_url = url.to_owned();
    s.ready = false;
    s.swapping = true;
    s.iframe.set_src(url);
    Ok(())
}

impl EmbanEmbed {
    fn live(&self, method: &'static str) -> Result<std::cell::RefMut<'_, Inner>, JsError> {
        let s = self.inner.borrow_mut();
        if s.destroyed { Err(js_err(HelperError::Destroyed(method))) } else { Ok(s) }
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
        #[cfg(feature = "panic-hook")]
        console_error_panic_hook::set_once();
        let bad = |what: &str| js_err(HelperError::BadOption(what.to_owned()));
        let window = web_sys::window().ok_or_else(|| bad("mount needs a browser window"))?;
        let document = window.document().ok_or_else(|| bad("mount needs a document"))?;
        let element: Element = match container.as_string() {
            Some(selector) => document
                .query_selector(&selector)
                .map_err(|_| {
                    js_err(HelperError::MissingContainer(format!("{selector:?} is not a valid CSS selector")))
                })?
                .ok_or_else(|| {
                    js_err(HelperError::MissingContainer(format!("no element matches {selector:?}")))
                })?,
            None => container.dyn_into::<Element>().map_err(|_| {
                js_err(HelperError::MissingContainer(
                    "container must be an element or a CSS selector string".into(),
                ))
            })?,
        };
        if !options.is_object() {
            return Err(bad("mount options must be an object with an embedUrl"));
        }
        let embed_url = prop(&options, "embedUrl")
            .as_string()
            .ok_or_else(|| js_err(HelperError::BadEmbedUrl("(missing or not a string)".into())))?;
        let origin = normalized_origin(&embed_url).map_err(js_err)?;
        let auto_resize = match prop(&options, "autoResize") {
            v if v.is_undefined() => true,
            v => v.as_bool().ok_or_else(|| bad("autoResize must be a boolean"))?,
        };
        let min_height = match prop(&options, "minHeight") {
            v if v.is_undefined() || v.is_null() => 0.0,
            v => {
                v.as_f64().filter(|h| *h >= 0.0).ok_or_else(|| bad("minHeight must be a number of pixels"))?
            }
        };
        let title = prop(&options, "title").as_string().unwrap_or_else(|| "Emban dashboard".to_owned());
        let fetch_embed_url = match prop(&options, "fetchEmbedUrl") {
            v if v.is_undefined() || v.is_null() => None,
            v => Some(v.dyn_into::<Function>().map_err(|_| bad("fetchEmbedUrl must be a function"))?),
        };
        let optional = |key: &str| Some(prop(&options, key)).filter(|v| !v.is_undefined() && !v.is_null());
        let filters: Option<FilterRequest> =
            optional("filters").map(|v| from_js(v, "filters")).transpose().map_err(js_err)?;
        let theme: Option<Theme> =
            optional("theme").map(|v| from_js(v, "theme")).transpose().map_err(js_err)?;

        let iframe: HtmlIFrameElement = document
            .create_element("iframe")
            .map_err(|_| bad("could not create an iframe"))?
            .unchecked_into();
        iframe.set_title(&title);
        // Scripts and its own origin (the runtime calls its server); popups for detail links.
        let _ = iframe.set_attribute(
            "sandbox",
            "allow-scripts allow-same-origin allow-popups allow-popups-to-escape-sandbox allow-downloads",
        );
        let _ = iframe.set_attribute("allow", "clipboard-write; fullscreen");
        let _ = iframe.set_attribute("data-emban-embed", "");
        let height = if min_height > 0.0 { min_height.ceil().min(1e6) as u32 } else { 600 };
        iframe.style().set_css_text(&format!("display:block;width:100%;border:0;height:{height}px"));

        let mut resolve_ready = None;
        let ready = Promise::new(&mut |resolve, _reject| resolve_ready = Some(resolve));
        let mut queue = Vec::new();
        if let Some(filters) = filters.clone() {
            queue.push(Command::SetFilters { filters });
        }
        if let Some(theme) = theme.clone() {
            queue.push(Command::SetTheme { theme });
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
            filters,
            theme,
            auto_resize,
            min_height,
            fetch_embed_url,
            resolve_ready,
            on_message: None,
            timer: None,
            attempt: 0,
        }));
        let weak = Rc::downgrade(&inner);
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(rc) = weak.upgrade() {
                on_message(&rc, event);
            }
        });
        window
            .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref())
            .map_err(|_| bad("could not listen for messages"))?;
        inner.borrow_mut().on_message = Some(listener);
        iframe.set_src(&embed_url);
        element.append_child(&iframe).map_err(|_| bad("could not append the iframe to the container"))?;
        Ok(EmbanEmbed { inner, ready })
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
    #[wasm_bindgen(js_name = setFilters)]
    pub fn set_filters(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EmbanFilters")] filters: JsValue,
    ) -> Result<(), JsError> {
        let mut s = self.live("setFilters")?;
        let filters: FilterRequest = from_js(filters, "setFilters(filters)").map_err(js_err)?;
        merge_filters(s.filters.get_or_insert_with(Default::default), &filters);
        s.send(Command::SetFilters { filters });
        Ok(())
    }

    /// Applies theme tokens.
    #[wasm_bindgen(js_name = setTheme)]
    pub fn set_theme(
        &self,
        #[wasm_bindgen(unchecked_param_type = "EmbanTheme")] theme: JsValue,
    ) -> Result<(), JsError> {
        let mut s = self.live("setTheme")?;
        let theme: Theme = from_js(theme, "setTheme(theme)").map_err(js_err)?;
        merge_theme(s.theme.get_or_insert_with(Default::default), &theme);
        s.send(Command::SetTheme { theme });
        Ok(())
    }

    /// Refetches the dashboard and its data with the same session.
    pub fn reload(&self) -> Result<(), JsError> {
        self.live("reload")?.send(Command::Reload {});
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
        check_event_name(kind).map_err(js_err)?;
        s.listeners.push((kind.to_owned(), callback));
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
        s.listeners.retain(|(k, f)| k != kind || callback.as_ref().is_some_and(|c| !Object::is(f, c)));
        Ok(())
    }

    /// Removes the iframe and every listener; later calls throw.
    pub fn destroy(&self) {
        let mut s = self.inner.borrow_mut();
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
