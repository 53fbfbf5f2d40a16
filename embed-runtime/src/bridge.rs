//! The postMessage side of the contract: decoding commands from the host (only from
//! `window.parent`, only from an allowed origin, anything malformed ignored) and posting events
//! to the verified origin.
//!
//! When any page may frame the embed and the browser does not tell the parent's origin (no
//! `location.ancestorOrigins`, no referrer), events are held back (the last [`HELD_EVENTS`])
//! until the host's first command, from `window.parent`, reveals it; then they are delivered.

use std::{cell::RefCell, collections::VecDeque, rc::Rc};

use contract::messages::{Command, Envelope, Event, EventMessage};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::MessageEvent;

use crate::origin::{Allowed, OriginPolicy, origin_of};

/// Events kept while the parent's origin is unknown (`ready`, the first `resize`s...).
pub const HELD_EVENTS: usize = 32;

/// What a message from the host is.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Not ours (no `"_emban": true`): ignored silently, as other scripts' messages must be.
    Foreign,
    /// A well-formed command, with the host's `requestId` when it sent one.
    Command(Command, Option<String>),
    /// Marked as ours but no command (unknown `type`, malformed payload): why, and the
    /// `requestId` when one reads. The runtime answers it with one `invalid_command` error.
    Invalid(String, Option<String>),
}

/// Reads a host message: an object with `"_emban": true` and a known `type` and payload is a
/// command; one with the marker and anything else is [`Incoming::Invalid`].
///
/// The same rules as `CommandMessage`'s `Deserialize`, read field by field: the derived decoder
/// of the flattened, internally tagged envelope buffers the message into serde's `Content` first,
/// and that machinery costs the wasm more than the rest of the command decoding together.
pub fn read_command(data: &JsValue) -> Incoming {
    if !data.is_object() || js_sys::Array::is_array(data) {
        return Incoming::Foreign;
    }
    let field =
        |name: &str| js_sys::Reflect::get(data, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined());
    if field("_emban").and_then(|v| v.as_bool()) != Some(true) {
        return Incoming::Foreign;
    }
    let request_id = field("requestId").and_then(|v| v.as_string());
    let invalid = |why: String| Incoming::Invalid(why, request_id.clone());
    let Some(kind) = field("type").and_then(|v| v.as_string()) else {
        return invalid("a command needs a string `type` (setFilters, setTheme or reload)".into());
    };
    let payload = |key: &str| match field(key) {
        None => Err(format!("{kind} needs `{key}`, an object")),
        Some(value) => Ok(value),
    };
    let command = match kind.as_str() {
        "setFilters" => payload("filters").and_then(|value| {
            unknown_keys(
                &value,
                FILTER_KEYS,
                &[("numericRanges", &["min", "max"]), ("dateRanges", &["from", "to"])],
            )
            .map_err(|e| format!("setFilters: `filters` is malformed: {e}"))?;
            let filters = serde_wasm_bindgen::from_value(value)
                .map_err(|e| format!("setFilters: `filters` is malformed: {e}"))?;
            let partial = match field("partial") {
                None => None,
                Some(v) => Some(v.as_bool().ok_or("setFilters: `partial` must be a boolean")?),
            };
            Ok(Command::SetFilters { filters, partial })
        }),
        "setTheme" => payload("theme").and_then(|value| {
            unknown_keys(&value, THEME_KEYS, &[])
                .map_err(|e| format!("setTheme: `theme` is malformed: {e}"))?;
            let theme = serde_wasm_bindgen::from_value(value)
                .map_err(|e| format!("setTheme: `theme` is malformed: {e}"))?;
            Ok(Command::SetTheme { theme })
        }),
        "reload" => Ok(Command::Reload {}),
        other => Err(format!("unknown command type {other:?} (expected setFilters, setTheme or reload)")),
    };
    match command {
        Ok(command) => Incoming::Command(command, request_id),
        Err(why) => invalid(why),
    }
}

const FILTER_KEYS: &[&str] = &["period", "dimensions", "numericRanges", "dateRanges"];
const THEME_KEYS: &[&str] = &[
    "primaryColor",
    "backgroundColor",
    "cardBackground",
    "cardBorder",
    "textColor",
    "mutedColor",
    "colorScheme",
];

/// Fails on a key of the object `value` outside `keys` (and, for each `(map, inner)` of
/// `nested`, on a key outside `inner` in any entry of the map `value[map]`). serde-wasm-bindgen
/// reads a struct's fields by name and never sees other keys, so `deny_unknown_fields` alone
/// would let `{filters: {...}}` through as an empty request.
fn unknown_keys(value: &JsValue, keys: &[&str], nested: &[(&str, &[&str])]) -> Result<(), String> {
    let Some(object) = value.dyn_ref::<js_sys::Object>() else { return Ok(()) };
    for key in js_sys::Object::keys(object).iter().filter_map(|k| k.as_string()) {
        if !keys.contains(&key.as_str()) {
            let expected: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            return Err(format!("unknown field `{key}`, expected one of {}", expected.join(", ")));
        }
        if let Some((_, inner)) = nested.iter().find(|(map, _)| *map == key)
            && let Ok(map) = js_sys::Reflect::get(value, &JsValue::from_str(&key))
            && let Some(map) = map.dyn_ref::<js_sys::Object>()
        {
            for entry in js_sys::Object::values(map).iter() {
                unknown_keys(&entry, inner, &[]).map_err(|e| format!("{key}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// Decodes a host message into a command, `None` for anything else ([`read_command`] without
/// the reasons).
pub fn decode_command(data: &JsValue) -> Option<Command> {
    match read_command(data) {
        Incoming::Command(command, _) => Some(command),
        _ => None,
    }
}

/// Encodes a message as a plain JS object (maps as objects, not `Map`s, so hosts can read it):
/// `_emban` first, then the tagged body (serialized on its own: the envelope's `flatten` would
/// compile in serde's flattening serializer for the same object), then the `requestId` if any.
pub fn encode<T: Serialize>(message: &Envelope<T>) -> Option<JsValue> {
    let body = message.message.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).ok()?;
    let body: &js_sys::Object = body.dyn_ref()?;
    let out = js_sys::Object::new();
    js_sys::Reflect::set(&out, &JsValue::from_str("_emban"), &JsValue::TRUE).ok()?;
    let out = js_sys::Object::assign(&out, body);
    if let Some(id) = &message.request_id {
        js_sys::Reflect::set(&out, &JsValue::from_str("requestId"), &JsValue::from_str(id)).ok()?;
    }
    Some(out.into())
}

/// Decodes an event (the host side of the codec; the tests use it).
pub fn decode_event(data: &JsValue) -> Option<Event> {
    serde_wasm_bindgen::from_value::<EventMessage>(data.clone()).ok().map(|m| m.message)
}

/// Where events go.
#[derive(Clone)]
pub enum Bridge {
    /// To `window.parent`, at the policy's target origins.
    Parent(Rc<ParentLink>),
    /// Into a list (browser tests).
    Capture(Rc<RefCell<Vec<Event>>>),
}

impl Bridge {
    /// The bridge for this page: the allowed origins from the page's
    /// `<meta name="emban-allowed-origins">`, the framing origin from the browser.
    pub fn from_page() -> Bridge {
        Bridge::Parent(Rc::new(ParentLink { policy: RefCell::new(page_policy()), held: RefCell::default() }))
    }

    /// Posts `event` to the host. Nothing is posted when the page is not framed, or when no
    /// verified origin is known.
    pub fn post(&self, event: Event) {
        self.post_answer(event, None);
    }

    /// Posts `event` carrying `request_id` (the answer to the command that carried it).
    pub fn post_answer(&self, event: Event, request_id: Option<String>) {
        let event = Envelope::answering(event, request_id);
        match self {
            Bridge::Capture(list) => list.borrow_mut().push(event.message),
            Bridge::Parent(link) => {
                if link.policy.borrow().awaits_origin() {
                    let mut held = link.held.borrow_mut();
                    if held.len() == HELD_EVENTS {
                        held.pop_front();
                    }
                    held.push_back(event);
                    return;
                }
                link.deliver(event);
            }
        }
    }

    /// Whether a `message` event comes from the parent window at an allowed origin.
    pub fn accepts(&self, event: &MessageEvent) -> bool {
        match self {
            Bridge::Capture(_) => true,
            Bridge::Parent(link) => {
                let policy = link.policy.borrow().clone();
                if !accepts(&policy, event) {
                    return false;
                }
                if link.policy.borrow_mut().learn(&event.origin()) {
                    let held: Vec<EventMessage> = link.held.borrow_mut().drain(..).collect();
                    for event in held {
                        link.deliver(event);
                    }
                }
                true
            }
        }
    }
}

/// The page's link to its parent window.
pub struct ParentLink {
    policy: RefCell<OriginPolicy>,
    held: RefCell<VecDeque<EventMessage>>,
}

impl ParentLink {
    /// Posts `event` to `window.parent` at the policy's targets (nothing when unframed).
    fn deliver(&self, event: EventMessage) {
        let Some(window) = web_sys::window() else { return };
        let Ok(Some(parent)) = window.parent() else { return };
        if parent == window {
            return;
        }
        let Some(message) = encode(&event) else { return };
        for origin in self.policy.borrow().targets() {
            let _ = parent.post_message(&message, &origin);
        }
    }
}

/// Whether `event` comes from `window.parent` at an origin `policy` accepts.
pub fn accepts(policy: &OriginPolicy, event: &MessageEvent) -> bool {
    let Some(window) = web_sys::window() else { return false };
    let Ok(Some(parent)) = window.parent() else { return false };
    if parent == window {
        return false;
    }
    let from_parent = event.source().is_some_and(|source| {
        let source: &JsValue = source.as_ref();
        let parent: &JsValue = parent.as_ref();
        js_sys::Object::is(source, parent)
    });
    from_parent && policy.accepts(&event.origin())
}

/// The origin policy of this page.
pub fn page_policy() -> OriginPolicy {
    let window = web_sys::window();
    let document = window.as_ref().and_then(|w| w.document());
    let own = window.as_ref().and_then(|w| w.location().origin().ok()).unwrap_or_default();
    let allowed = document
        .as_ref()
        .and_then(|d| d.query_selector("meta[name=emban-allowed-origins]").ok().flatten())
        .and_then(|m| m.get_attribute("content"))
        .map(|c| Allowed::parse(&c))
        .unwrap_or_default();
    // Chromium and Safari name the parent's origin in `location.ancestorOrigins`; elsewhere the
    // referrer (the parent page, as the browser sent it when loading this frame) tells it.
    let ancestor = window.as_ref().and_then(|w| {
        let origins = js_sys::Reflect::get(&w.location(), &"ancestorOrigins".into()).ok()?;
        let list: web_sys::DomStringList = origins.dyn_into().ok()?;
        list.item(0)
    });
    let framing = ancestor.or_else(|| document.as_ref().and_then(|d| origin_of(&d.referrer())));
    OriginPolicy { allowed, framing, own }
}
