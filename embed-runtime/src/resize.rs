//! Reports the content's height to the host (`resize`) whenever it changes, growing or
//! shrinking, debounced, and keeps the runtime's width in step for chart sizes.
//!
//! The height measured is the content element's own box, never the viewport's or the
//! document's scroll height: when the host sizes the iframe to the reported height nothing inside
//! changes, so there is no feedback loop (and `scrollbar-gutter: stable` in the stylesheet keeps a
//! scrollbar from changing the width either).

use std::{cell::Cell, rc::Rc};

use contract::messages::Event;
use leptos::prelude::*;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::{HtmlElement, ResizeObserver};

use crate::state::Runtime;

/// Quiet time before a size change is reported.
pub const DEBOUNCE_MS: u32 = 60;

/// The content height to report for `element`: its box, rounded up to whole pixels.
pub fn content_height(element: &HtmlElement) -> u32 {
    element.get_bounding_client_rect().height().ceil().max(0.0) as u32
}

/// A live observer; dropping it disconnects.
pub struct Observer {
    observer: ResizeObserver,
    _callback: Closure<dyn FnMut(js_sys::Array)>,
}

impl Observer {
    /// Observes `element` for `rt`.
    pub fn new(element: &HtmlElement, rt: Runtime) -> Option<Observer> {
        let last = Rc::new(Cell::new(0u32));
        let pending: Rc<Cell<Option<gloo_timers::callback::Timeout>>> = Rc::new(Cell::new(None));
        let target = element.clone();
        let callback = Closure::<dyn FnMut(js_sys::Array)>::new(move |_entries: js_sys::Array| {
            let (target, last) = (target.clone(), last.clone());
            let timeout = gloo_timers::callback::Timeout::new(DEBOUNCE_MS, move || {
                let width = f64::from(target.client_width());
                if width > 0.0 && (rt.width.get_untracked() - width).abs() >= 1.0 {
                    rt.width.set(width);
                }
                let height = content_height(&target);
                if height != last.get() {
                    last.set(height);
                    rt.post(Event::Resize { height });
                }
            });
            // Replacing the pending timeout cancels it: only the last change in a burst reports.
            pending.set(Some(timeout));
        });
        let observer = ResizeObserver::new(callback.as_ref().unchecked_ref()).ok()?;
        observer.observe(element);
        Some(Observer { observer, _callback: callback })
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.observer.disconnect();
    }
}
