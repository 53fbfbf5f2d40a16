//! The embed data API (`docs/embed.md`): `GET /v1/embed/dashboard` and `POST /v1/embed/query`,
//! called on this page's own origin with the session token as `Authorization: Bearer`. The token
//! lives only here, in memory: never in storage, a URL, or a message.

use std::{cell::RefCell, rc::Rc};

use contract::{
    ErrorBody,
    dashboard::WidgetData,
    embed::{EmbedDashboardResponse, EmbedExportRequest, EmbedQueryRequest},
};
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Request, RequestCredentials, RequestInit, Response};

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 401: the session expired or the token was refused.
    Unauthorized(String),
    /// 404 `not_published`: the dashboard was unpublished.
    NotPublished(String),
    /// Any other error answer.
    Http(u16, String),
    /// The request did not complete (network, or aborted).
    Network(String),
    /// The answer was not what the contract says.
    Decode(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unauthorized(m) | ApiError::NotPublished(m) => f.write_str(m),
            ApiError::Http(status, m) => write!(f, "{m} (HTTP {status})"),
            ApiError::Network(m) => write!(f, "network error: {m}"),
            ApiError::Decode(m) => write!(f, "unexpected answer: {m}"),
        }
    }
}

impl std::error::Error for ApiError {}

type DashboardFn = dyn Fn() -> Result<EmbedDashboardResponse, ApiError>;
type QueryFn = dyn Fn(&EmbedQueryRequest) -> Result<WidgetData, ApiError>;

/// Where data comes from: the server, or canned answers in the browser tests.
#[derive(Clone)]
pub enum Api {
    /// The embed data API on `base`.
    Http {
        /// This page's origin.
        base: String,
        /// The session token.
        token: Rc<str>,
        /// What the server inlined in the page for the first paint, used up as it is read.
        first: Rc<FirstPaint>,
    },
    /// Canned answers.
    Fixture {
        /// Answers `GET /v1/embed/dashboard`.
        dashboard: Rc<DashboardFn>,
        /// Answers `POST /v1/embed/query`.
        query: Rc<QueryFn>,
    },
}

impl Api {
    /// The session's dashboard, permissions and initial filters.
    pub async fn dashboard(&self) -> Result<EmbedDashboardResponse, ApiError> {
        match self {
            Api::Http { base, token, first } => {
                let json = match first.dashboard.take() {
                    Some(json) => json,
                    None => fetch(&format!("{base}/v1/embed/dashboard"), token, None, None).await?,
                };
                serde_wasm_bindgen::from_value(json).map_err(|e| ApiError::Decode(e.to_string()))
            }
            Api::Fixture { dashboard, .. } => {
                gloo_timers::future::TimeoutFuture::new(0).await;
                dashboard()
            }
        }
    }

    /// One widget's data; `abort` cancels the request when the widget goes away or refetches.
    pub async fn query(
        &self,
        request: &EmbedQueryRequest,
        abort: Option<&AbortSignal>,
    ) -> Result<WidgetData, ApiError> {
        match self {
            Api::Http { base, token, first } => {
                // JSON through the browser's own codec (JSON.stringify / Response.json) rather
                // than a second one compiled into the wasm.
                let body = request
                    .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
                    .ok()
                    .and_then(|v| js_sys::JSON::stringify(&v).ok())
                    .map(String::from)
                    .ok_or_else(|| ApiError::Decode("could not encode the query".into()))?;
                let json = match first.answer(&body).await {
                    Some(json) => json,
                    None => fetch(&format!("{base}/v1/embed/query"), token, Some(&body), abort).await?,
                };
                serde_wasm_bindgen::from_value(json).map_err(|e| ApiError::Decode(e.to_string()))
            }
            Api::Fixture { query, .. } => {
                gloo_timers::future::TimeoutFuture::new(0).await;
                query(request)
            }
        }
    }
}

impl Api {
    /// `POST /v1/embed/export`: the CSV the server makes of `request`'s widgets (403 when the
    /// session may not export). The fixture answers the widget ids, one per line.
    pub async fn export(&self, request: &EmbedExportRequest) -> Result<String, ApiError> {
        match self {
            Api::Http { base, token, .. } => {
                let body = request
                    .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
                    .ok()
                    .and_then(|v| js_sys::JSON::stringify(&v).ok())
                    .map(String::from)
                    .ok_or_else(|| ApiError::Decode("could not encode the export".into()))?;
                let text = send(&format!("{base}/v1/embed/export"), token, Some(&body), None, true).await?;
                text.as_string().ok_or_else(|| ApiError::Decode("the export is not text".into()))
            }
            Api::Fixture { .. } => {
                gloo_timers::future::TimeoutFuture::new(0).await;
                Ok(request.widget_ids.as_ref().map_or_else(|| "all".to_owned(), |ids| ids.join("\r\n")))
            }
        }
    }
}

/// The first paint's data the server inlined in the page: the dashboard answer in the head
/// (`<script type="application/json" id="emban-initial">`, `{"dashboard": …}`), and each visible
/// widget's first answer with the request it answers at the end of the body (`emban-answers`),
/// streamed after the widgets' queries ran while the runtime already loaded. Each is used once,
/// and an answer only for an equal request (compared as JSON text), so a reload, a filter
/// change or a host's `setFilters` before the first render fetch as usual.
#[derive(Default)]
pub struct FirstPaint {
    dashboard: RefCell<Option<JsValue>>,
    /// Each answer by its request as the JSON text the runtime would POST: the server writes it
    /// (a string in the page's JSON) with the fields in the order this runtime does, so equal
    /// requests are equal texts, and a differing one is only fetched. Compared as text, no
    /// request decoder is compiled into the wasm. `None` until read (once the page is parsed).
    answers: RefCell<Option<Vec<(String, JsValue)>>>,
}

/// The JSON in the page's element `id`, parsed.
fn inlined(id: &str) -> Option<JsValue> {
    let text = web_sys::window()?.document()?.get_element_by_id(id)?.text_content()?;
    js_sys::JSON::parse(&text).ok()
}

fn field(v: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(v, &JsValue::from_str(name)).ok()
}

impl FirstPaint {
    /// Reads the page's inlined dashboard; empty when there is none or it does not parse.
    pub fn from_page() -> Self {
        let dashboard =
            inlined("emban-initial").and_then(|v| field(&v, "dashboard")).filter(|d| d.is_object());
        FirstPaint { dashboard: RefCell::new(dashboard), answers: RefCell::new(None) }
    }

    /// The inlined answer to `request` (its JSON text), once. The answers come at the end of the
    /// page: while it is still arriving, this waits for it to be parsed.
    async fn answer(&self, request: &str) -> Option<JsValue> {
        if self.answers.borrow().is_none() {
            let document = web_sys::window()?.document()?;
            if document.ready_state() == "loading" {
                let parsed = js_sys::Promise::new(&mut |resolve, _| {
                    let _ = document.add_event_listener_with_callback("DOMContentLoaded", &resolve);
                });
                let _ = wasm_bindgen_futures::JsFuture::from(parsed).await;
            }
            let mut answers = self.answers.borrow_mut();
            if answers.is_none() {
                let list = inlined("emban-answers").filter(js_sys::Array::is_array).map(|a| {
                    js_sys::Array::from(&a)
                        .iter()
                        .filter_map(|entry| {
                            let request = field(&entry, "request")?.as_string()?;
                            Some((request, field(&entry, "data").filter(|d| d.is_object())?))
                        })
                        .collect()
                });
                *answers = Some(list.unwrap_or_default());
            }
        }
        let mut answers = self.answers.borrow_mut();
        let answers = answers.as_mut()?;
        let at = answers.iter().position(|(r, _)| r == request)?;
        Some(answers.swap_remove(at).1)
    }
}

fn js_message(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_default()
}

/// GET (or POST `body` as JSON) with the token, without cookies; the parsed JSON of a 2xx answer.
async fn fetch(
    url: &str,
    token: &str,
    body: Option<&str>,
    abort: Option<&AbortSignal>,
) -> Result<JsValue, ApiError> {
    send(url, token, body, abort, false).await
}

/// [`fetch`]; with `text`, a 2xx answer's body as a string instead of its JSON.
async fn send(
    url: &str,
    token: &str,
    body: Option<&str>,
    abort: Option<&AbortSignal>,
    text: bool,
) -> Result<JsValue, ApiError> {
    let init = RequestInit::new();
    init.set_method(if body.is_some() { "POST" } else { "GET" });
    init.set_credentials(RequestCredentials::Omit);
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    if let Some(signal) = abort {
        init.set_signal(Some(signal));
    }
    let request = Request::new_with_str_and_init(url, &init).map_err(|e| ApiError::Network(js_message(e)))?;
    let headers = request.headers();
    headers.set("Authorization", &format!("Bearer {token}")).map_err(|e| ApiError::Network(js_message(e)))?;
    if body.is_some() {
        headers.set("Content-Type", "application/json").map_err(|e| ApiError::Network(js_message(e)))?;
    }
    let window = web_sys::window().ok_or_else(|| ApiError::Network("no window".into()))?;
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|e| ApiError::Network(js_message(e)))?
        .dyn_into()
        .map_err(|_| ApiError::Network("not a response".into()))?;
    let status = response.status();
    if text && (200..300).contains(&status) {
        let promise = response.text().map_err(|e| ApiError::Network(js_message(e)))?;
        return JsFuture::from(promise).await.map_err(|e| ApiError::Network(js_message(e)));
    }
    let json = match response.json() {
        Ok(promise) => JsFuture::from(promise).await.ok(),
        Err(_) => None,
    };
    if (200..300).contains(&status) {
        return json.ok_or_else(|| ApiError::Decode("the answer is not JSON".into()));
    }
    let envelope: Option<ErrorBody> = json.and_then(|j| serde_wasm_bindgen::from_value(j).ok());
    let message = envelope.as_ref().map_or_else(|| format!("HTTP {status}"), |e| e.error.clone());
    Err(match (status, envelope.as_ref().map(|e| e.code.as_str())) {
        (401, _) => ApiError::Unauthorized(message),
        (404, Some("not_published")) => ApiError::NotPublished(message),
        _ => ApiError::Http(status, message),
    })
}
