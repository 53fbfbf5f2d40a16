//! Emban's embed runtime: the iframe app that renders a published dashboard for one embed
//! session and speaks the postMessage contract (`contract::messages`) with the host page.
//!
//! The pure parts (charts, data shaping, permissions, origins, colours, CSV, number formats)
//! build and are unit-tested natively; everything that touches the browser is wasm32-only and is
//! tested in headless Chromium (`tests/web.rs`).
#![forbid(unsafe_code)]

pub mod charts;
pub mod csv;
pub mod data;
pub mod filters;
pub mod format;
pub mod i18n;
pub mod origin;
pub mod theme;

#[cfg(target_arch = "wasm32")]
pub mod api;
#[cfg(target_arch = "wasm32")]
pub mod bridge;
#[cfg(target_arch = "wasm32")]
pub mod resize;
#[cfg(target_arch = "wasm32")]
pub mod state;
#[cfg(target_arch = "wasm32")]
pub mod views;

#[cfg(target_arch = "wasm32")]
pub use app::{App, Root};

#[cfg(target_arch = "wasm32")]
mod app {
    use std::rc::Rc;

    use contract::messages::{ErrorCode, Event};
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;

    use crate::{
        api::{Api, FirstPaint},
        bridge::{Bridge, Incoming, read_command},
        resize,
        state::Runtime,
        views::dashboard::DashboardView,
    };

    /// The app for this page: takes the session token from `?token=` (and removes it from the
    /// address bar, so it is not in history, bookmarks or a copied link), then runs [`App`]
    /// against this page's origin, talking to `window.parent`.
    #[component]
    pub fn Root() -> impl IntoView {
        let token = take_token();
        let base = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
        let api = Api::Http { base, token: Rc::from(token), first: Rc::new(FirstPaint::from_page()) };
        view! { <App api=api bridge=Bridge::from_page() /> }
    }

    /// The embed: loads the session through `api`, renders it, and exchanges messages through
    /// `bridge`.
    #[component]
    pub fn App(
        /// Where data comes from.
        api: Api,
        /// Where events go (and whether a message is accepted).
        bridge: Bridge,
        /// The locale until the session names one; the browser's when left out.
        #[prop(optional)]
        locale: Option<String>,
    ) -> impl IntoView {
        let locale = locale.unwrap_or_else(browser_locale);
        let rt = Runtime::new(api, bridge.clone(), &locale);
        provide_context(rt);
        // Commands from the host: only from window.parent at an allowed origin. A message marked
        // as ours that is no command gets one `invalid_command` error instead of silence.
        let listener = web_sys::window().map(|window| {
            gloo_events::EventListener::new(&window, "message", move |event| {
                let Some(event) = event.dyn_ref::<web_sys::MessageEvent>() else { return };
                if !bridge.accepts(event) {
                    return;
                }
                match read_command(&event.data()) {
                    Incoming::Command(command, request_id) => rt.handle_request(command, request_id),
                    Incoming::Invalid(why, request_id) => {
                        rt.answer(Event::error(ErrorCode::InvalidCommand, why), request_id)
                    }
                    Incoming::Foreign => {}
                }
            })
        });
        let listener = StoredValue::new_local(listener);
        let root = NodeRef::<leptos::html::Main>::new();
        let observer = StoredValue::new_local(None::<resize::Observer>);
        Effect::new(move |_| {
            if let Some(element) = root.get()
                && observer.with_value(Option::is_none)
            {
                observer.set_value(resize::Observer::new(&element, rt));
            }
        });
        on_cleanup(move || {
            listener.try_update_value(|l| l.take());
            observer.try_update_value(|o| o.take());
        });
        rt.load();
        view! {
            <main class="emban" data-testid="app" node_ref=root>
                <DashboardView />
            </main>
        }
    }

    /// Reads `?token=` and replaces the address without it.
    fn take_token() -> String {
        let Some(window) = web_sys::window() else { return String::new() };
        let location = window.location();
        let Ok(search) = location.search() else { return String::new() };
        let Ok(params) = web_sys::UrlSearchParams::new_with_str(&search) else { return String::new() };
        let token = params.get("token").unwrap_or_default();
        params.delete("token");
        let rest = String::from(params.to_string());
        let path = location.pathname().unwrap_or_default();
        let hash = location.hash().unwrap_or_default();
        let clean = if rest.is_empty() { format!("{path}{hash}") } else { format!("{path}?{rest}{hash}") };
        if let Ok(history) = window.history() {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&clean));
        }
        token
    }

    /// `navigator.language`, or `en-US`.
    fn browser_locale() -> String {
        web_sys::window().and_then(|w| w.navigator().language()).unwrap_or_else(|| "en-US".into())
    }
}
