//! One widget's card: its place on the grid, its data (refetched when filters change or the host
//! reloads, in-flight requests aborted), its states and its downloads.

use contract::{
    dashboard::{Widget, WidgetData, WidgetKind},
    embed::EmbedExportRequest,
    messages::Event,
};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortController;

use crate::{
    api::ApiError,
    csv, data,
    format::ValueFormat,
    i18n::fill,
    state::Runtime,
    views::{
        chart::ChartView,
        metric::MetricView,
        states::{EmptyState, ErrorState, Skeleton},
        table::DataTable,
    },
};

/// A widget on the grid.
#[component]
pub fn WidgetCard(
    /// The published widget.
    widget: Widget,
) -> impl IntoView {
    let rt = expect_context::<Runtime>();
    let spec = StoredValue::new(widget.clone());
    let in_flight = StoredValue::new_local(None::<AbortController>);
    // The latest answer; `None` until the first arrives. A signal and an effect rather than a
    // `LocalResource` under `<Transition>`: the same behaviour (the previous answer stays on
    // screen while a refetch runs) without the async-derived and suspense machinery in the wasm.
    let data = RwSignal::new(None::<Result<WidgetData, ApiError>>);
    let retry = RwSignal::new(0u32);
    let generation = StoredValue::new(0u32);
    Effect::new(move |_| {
        rt.refresh.track();
        retry.track();
        let request = spec.with_value(|w| rt.query_for(w));
        // A newer request replaces the one in flight.
        if let Some(previous) = in_flight.try_get_value().flatten() {
            previous.abort();
        }
        let controller = AbortController::new().ok();
        in_flight.try_set_value(controller.clone());
        let Some(current) = generation.try_update_value(|g| {
            *g += 1;
            *g
        }) else {
            return;
        };
        let api = rt.api();
        leptos::task::spawn_local(async move {
            let result = match api {
                Some(api) => {
                    let signal = controller.as_ref().map(AbortController::signal);
                    api.query(&request, signal.as_ref()).await
                }
                None => Err(ApiError::Network("the widget was removed".into())),
            };
            // Only the latest request's answer counts (and none once the widget is gone).
            if generation.try_get_value() == Some(current) {
                data.try_set(Some(result));
            }
        });
    });
    on_cleanup(move || {
        in_flight.try_with_value(|c| c.as_ref().map(AbortController::abort));
    });
    // Failures reach the host (and a 401 expires the whole session); the first answer counts
    // towards `emban:painted`.
    let first_answer = StoredValue::new(true);
    Effect::new(move |_| {
        let Some(result) = data.get() else { return };
        if first_answer.get_value() {
            first_answer.set_value(false);
            rt.widget_settled();
        }
        match result {
            Ok(answer) => spec.with_value(|w| rt.saw_values(w, &answer.data)),
            Err(error) => spec.with_value(|w| rt.fail(&error, Some(&w.title))),
        }
    });
    let svg = StoredValue::new(None::<String>);
    let title_id = format!("w-{}-title", widget.id);
    let labelled_by = title_id.clone();
    let style = format!(
        "--x:{};--y:{};--w:{};--h:{}",
        widget.layout.x + 1,
        widget.layout.y + 1,
        widget.layout.w.clamp(1, 12),
        widget.layout.h.clamp(1, 24)
    );
    let is_chart = matches!(widget.kind, WidgetKind::Timeseries | WidgetKind::Breakdown);
    // Exports: the CSV from the server (which refuses it without `allow_export`), SVG and PNG
    // of the drawn chart; each posts `export` to the host once the file is made.
    let allow_export = rt.permissions_untracked().allow_export;
    let widget_id = widget.id.clone();
    let exported = move |format: &str| {
        rt.post(Event::Export { widget_id: Some(widget_id.clone()), format: format.to_owned() });
    };
    let download_csv = {
        let exported = exported.clone();
        move |_| {
            let Some(api) = rt.api() else { return };
            let (request, title) = spec.with_value(|w| {
                let query = rt.query_for(w);
                let request = EmbedExportRequest {
                    widget_ids: Some(vec![w.id.clone()]),
                    filters: query.filters,
                    dashboard_id: query.dashboard_id,
                };
                (request, w.title.clone())
            });
            let exported = exported.clone();
            leptos::task::spawn_local(async move {
                match api.export(&request).await {
                    Ok(text) => {
                        download(&csv::file_name(&title, "csv"), "text/csv;charset=utf-8", &text);
                        exported("csv");
                    }
                    Err(e) => rt.fail(&e, Some(&title)),
                }
            });
        }
    };
    let download_svg = {
        let exported = exported.clone();
        move |_| {
            let Some(markup) = svg.get_value().filter(|s| !s.is_empty()) else { return };
            spec.with_value(|w| download(&csv::file_name(&w.title, "svg"), "image/svg+xml", &markup));
            exported("svg");
        }
    };
    let card = NodeRef::<leptos::html::Section>::new();
    let download_png = move |_| {
        let Some(markup) = svg.get_value().filter(|s| !s.is_empty()) else { return };
        let name = spec.with_value(|w| csv::file_name(&w.title, "png"));
        let exported = exported.clone();
        save_png(&markup, card.get_untracked(), name, move || exported("png"));
    };
    let body = move || match data.get() {
        None => view! { <Skeleton /> }.into_any(),
        Some(Ok(d)) => spec.with_value(|w| render(w.clone(), d, svg)),
        Some(Err(ApiError::Unauthorized(_))) => view! { <p class="muted">{rt.t().expired}</p> }.into_any(),
        // The reason goes to the host (`query_failed`); the viewer gets no server text.
        Some(Err(_)) => {
            let message = rt.t().widget_failed;
            view! { <ErrorState message=message on_retry=Callback::new(move |_| retry.update(|n| *n += 1)) /> }
                .into_any()
        }
    };
    view! {
        <section class="card" data-testid=format!("widget-{}", widget.id) data-kind=widget.kind.as_str()
            style=style aria-labelledby=labelled_by node_ref=card>
            <header class="card-head">
                <h2 id=title_id>{widget.title.clone()}</h2>
                {allow_export.then(|| view! {
                    <details class="actions export" data-testid="export-menu">
                        <summary class="icon-button" data-testid="export-open"
                            aria-label=fill(rt.t().export_of, &[&widget.title])>{rt.t().export}</summary>
                        <div class="export-items">
                            <button type="button" class="icon-button" data-testid="download-csv"
                                on:click=download_csv>"CSV"</button>
                            {is_chart.then(|| view! {
                                <button type="button" class="icon-button" data-testid="download-svg"
                                    on:click=download_svg>"SVG"</button>
                                <button type="button" class="icon-button" data-testid="download-png"
                                    on:click=download_png>"PNG"</button>
                            })}
                        </div>
                    </details>
                })}
            </header>
            <div class="card-body">
                {body}
            </div>
        </section>
    }
}

/// The body for a widget's data.
fn render(widget: Widget, data: WidgetData, svg: StoredValue<Option<String>>) -> AnyView {
    let value = data.data.first().and_then(|r| r.value);
    if widget.kind == WidgetKind::Metric {
        if value.is_none() && data.previous.as_ref().and_then(|p| p.value).is_none() {
            return view! { <EmptyState /> }.into_any();
        }
        let previous = data.previous.as_ref().and_then(|p| p.value);
        let options = ValueFormat::from_options(&widget.viz.options);
        return view! {
            <MetricView title=widget.title.clone() value=value previous=previous change=data.change options=options />
        }
        .into_any();
    }
    if data::is_empty(&data.data) {
        return view! { <EmptyState /> }.into_any();
    }
    match widget.kind {
        WidgetKind::Table => {
            let rt = expect_context::<Runtime>();
            let format = rt.format();
            let granularity = data.meta.granularity.or(widget.query.granularity);
            let rows = data::table_rows(&data.data, &|b| format.bucket(b, granularity), rt.t().words);
            let caption = widget.title.clone();
            let metric = widget.query.metric.as_str().to_owned();
            let options = ValueFormat::from_options(&widget.viz.options);
            view! {
                <DataTable rows=rows dimension=widget.query.group_by.clone() value_label=metric caption=caption options=options />
            }
            .into_any()
        }
        _ => view! { <ChartView widget=widget data=data svg_out=svg /> }.into_any(),
    }
}

/// Draws the chart's SVG on a canvas (twice its size, for sharp pixels, on the card's
/// background) and saves it as a PNG; `done` runs once the file is made.
fn save_png(markup: &str, card: Option<web_sys::HtmlElement>, name: String, done: impl FnOnce() + 'static) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let background = card
        .and_then(|c| web_sys::window()?.get_computed_style(&c).ok().flatten())
        .and_then(|s| s.get_property_value("background-color").ok())
        .unwrap_or_else(|| "#ffffff".into());
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(markup));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/svg+xml");
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    let Ok(image) = web_sys::HtmlImageElement::new() else { return };
    let source = url.clone();
    let loaded = image.clone();
    let onload = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&source);
        let (w, h) = (loaded.natural_width().max(1), loaded.natural_height().max(1));
        let Some(canvas) = document
            .create_element("canvas")
            .ok()
            .and_then(|c| c.dyn_into::<web_sys::HtmlCanvasElement>().ok())
        else {
            return;
        };
        canvas.set_width(w * 2);
        canvas.set_height(h * 2);
        let Some(context) = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
        else {
            return;
        };
        context.set_fill_style_str(&background);
        context.fill_rect(0.0, 0.0, f64::from(w * 2), f64::from(h * 2));
        let _ = context.draw_image_with_html_image_element_and_dw_and_dh(
            &loaded,
            0.0,
            0.0,
            f64::from(w * 2),
            f64::from(h * 2),
        );
        if let Ok(data_url) = canvas.to_data_url_with_type("image/png") {
            save_url(&name, &data_url);
            done();
        }
    });
    image.set_onload(Some(onload.unchecked_ref()));
    image.set_src(&url);
}

/// Clicks a temporary link that downloads `url` as `name`.
fn save_url(name: &str, url: &str) {
    let anchor = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok());
    if let Some(anchor) = anchor {
        anchor.set_href(url);
        anchor.set_download(name);
        anchor.click();
    }
}

/// Saves `text` as a file through a temporary object URL.
pub fn download(name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else { return };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    save_url(name, &url);
    // Revoked a moment later: revoking at once can cancel the download.
    gloo_timers::callback::Timeout::new(2_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
}
