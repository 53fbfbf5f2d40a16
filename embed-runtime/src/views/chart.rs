//! The `timeseries` and `breakdown` widgets: a plotters SVG sized to the card, a legend, a
//! text summary (its `aria-label`) and a data-table view. A click on a bar, slice or point, or
//! on a legend entry or table row, drills into that value.

use contract::{
    dashboard::{VizType, Widget, WidgetData, WidgetKind},
    query::Metric,
};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::{
    charts::{self, ChartStyle, Geometry, PALETTE, TimeViz},
    data::{self, ENGLISH},
    format::ValueFormat,
    state::Runtime,
    views::{grid, table::DataTable},
};

/// One drawn chart: what the view shows and what a click hits.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    /// The SVG markup (plotters escapes every label).
    pub svg: String,
    /// Clickable regions.
    pub geometry: Geometry,
    /// The text alternative.
    pub summary: String,
    /// Legend entries: label, colour, drill value.
    pub legend: Vec<(String, String, Option<String>)>,
    /// The SVG's width, to map clicks when the element is scaled.
    pub width: u32,
}

/// Draws `data` for `widget` at `width` × `height` in `style`'s colours.
pub fn draw(widget: &Widget, data: &WidgetData, style: &ChartStyle, rt: &Runtime) -> Drawn {
    let format = rt.format();
    let granularity = data.meta.granularity.or(widget.query.granularity);
    let additive = matches!(widget.query.metric, Metric::Count | Metric::Sum);
    let options = ValueFormat::from_options(&widget.viz.options);
    let compact = |v: f64| format.axis_value(v, &options);
    let full = |v: f64| format.value(v, &options);
    let bucket = |b: &str| format.bucket(b, granularity);
    let viz = widget.viz.viz_type;
    let title = widget.title.as_str();
    let result = match widget.kind {
        WidgetKind::Timeseries => {
            let mut ts = data::time_series(&data.data, additive, &bucket, ENGLISH);
            // The current bucket (today, this hour) is still filling: drawn faded and said so.
            let now = (js_sys::Date::now() / 1000.0) as i64;
            ts.partial_last = data
                .data
                .iter()
                .rev()
                .find_map(|r| r.bucket.as_deref())
                .is_some_and(|last| data::is_partial(last, granularity, &data.meta.to, now));
            let (time_viz, name) = match viz {
                VizType::Area => (TimeViz::Area, "Area chart"),
                VizType::Bar => (TimeViz::Bar, "Bar chart"),
                _ => (TimeViz::Line, "Line chart"),
            };
            let legend = if ts.series.len() > 1 {
                ts.series
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.name.clone(), style.series_colour(i).hex(), s.drill.clone()))
                    .collect()
            } else {
                Vec::new()
            };
            let summary = data::describe_time_series(title, name, &ts, &full);
            charts::svg(style.width, style.height, |area| {
                charts::draw_timeseries(area, &ts, time_viz, style, &compact)
            })
            .map(|(svg, geometry)| (svg, geometry, summary, legend))
        }
        _ => {
            let cats = data::categories(&data.data, additive, ENGLISH);
            if viz == VizType::Pie {
                let legend = cats
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.label.clone(), style.series_colour(i).hex(), c.drill.clone()))
                    .collect();
                let summary = data::describe_categories(title, "Pie chart", &cats, &full);
                charts::svg(style.width, style.height, |area| charts::draw_pie(area, &cats, style))
                    .map(|(svg, geometry)| (svg, geometry, summary, legend))
            } else {
                let summary = data::describe_categories(title, "Bar chart", &cats, &full);
                charts::svg(style.width, style.height, |area| charts::draw_bars(area, &cats, style, &compact))
                    .map(|(svg, geometry)| (svg, geometry, summary, Vec::new()))
            }
        }
    };
    match result {
        Ok((svg, geometry, summary, legend)) => Drawn { svg, geometry, summary, legend, width: style.width },
        Err(e) => Drawn {
            svg: String::new(),
            geometry: Geometry::default(),
            summary: format!("{title}: the chart could not be drawn ({e})."),
            legend: Vec::new(),
            width: style.width,
        },
    }
}

/// The chart style for a card of `widget`'s size in a frame `frame_width` wide.
pub fn style_for(widget: &Widget, frame_width: f64, rt: &Runtime, legend_rows: bool) -> ChartStyle {
    let palette = rt.palette();
    let width = grid::card_content_width(frame_width, widget.layout.w);
    // Below the chart: the legend (one row, usually) and the "Data table" toggle.
    let legend = if legend_rows { 26.0 } else { 0.0 };
    let height = (grid::card_content_height(widget.layout.h) - legend - 24.0).max(100.0);
    let mut series = vec![palette.primary];
    series.extend(PALETTE);
    ChartStyle {
        width: width.floor() as u32,
        height: height.floor() as u32,
        text: palette.muted,
        grid: palette.border,
        series,
        font_px: if width < 260.0 { 10.0 } else { 11.0 },
    }
}

/// A drawn chart with its legend and data table.
#[component]
pub fn ChartView(
    /// The widget.
    widget: Widget,
    /// Its data.
    data: WidgetData,
    /// Receives the SVG each time it is drawn, for "Download SVG".
    svg_out: StoredValue<Option<String>>,
) -> impl IntoView {
    let rt = expect_context::<Runtime>();
    let dimension = widget.query.group_by.clone();
    let grouped = data.data.iter().any(|r| r.group.is_some());
    let has_legend =
        grouped && (widget.kind == WidgetKind::Timeseries || widget.viz.viz_type == VizType::Pie);
    let spec = StoredValue::new((widget.clone(), data.clone()));
    // Redrawn when the frame's width or the theme changes.
    let drawn = Memo::new(move |_| {
        let width = rt.width.get();
        rt.theme.track();
        spec.with_value(|(w, d)| draw(w, d, &style_for(w, width, &rt, has_legend), &rt))
    });
    Effect::new(move |_| {
        let svg = drawn.with(|d| d.svg.clone());
        svg_out.set_value(Some(svg));
    });
    let can_drill = dimension
        .clone()
        .is_some_and(|d| rt.permissions_untracked().allow_drill_down && grouped && !d.is_empty());
    let click_dimension = dimension.clone();
    let on_click = move |ev: web_sys::MouseEvent| {
        let Some(dimension) = click_dimension.clone() else { return };
        let Some(target) = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) else {
            return;
        };
        let rect = target.get_bounding_client_rect();
        let scale = drawn.with_untracked(|d| f64::from(d.width)) / rect.width().max(1.0);
        let x = (f64::from(ev.client_x()) - rect.left()) * scale;
        let y = (f64::from(ev.client_y()) - rect.top()) * scale;
        let hit = drawn.with_untracked(|d| d.geometry.hit(x, y).map(str::to_owned));
        if let Some(value) = hit {
            rt.drill(&dimension, &value);
        }
    };
    let legend_dimension = dimension.clone();
    let legend = move || {
        drawn.with(|d| d.legend.clone()).into_iter().map(|(label, colour, drill)| {
            let swatch = format!("background:{colour}");
            match (legend_dimension.clone(), drill) {
                (Some(dimension), Some(value)) => {
                    let aria = format!("Filter by {dimension} {label}");
                    view! {
                        <li>
                            <button type="button" class="legend-item" data-testid="legend-item" aria-label=aria
                                on:click=move |_| rt.drill(&dimension, &value)>
                                <span class="swatch" style=swatch aria-hidden="true"></span>
                                {label}
                            </button>
                        </li>
                    }
                    .into_any()
                }
                _ => view! {
                    <li class="legend-item static" data-testid="legend-item">
                        <span class="swatch" style=swatch aria-hidden="true"></span>
                        {label}
                    </li>
                }
                .into_any(),
            }
        }).collect_view()
    };
    let format = rt.format();
    let granularity = data.meta.granularity.or(widget.query.granularity);
    let rows = data::table_rows(&data.data, &|b| format.bucket(b, granularity), ENGLISH);
    let caption = format!("{} data", widget.title);
    let options = ValueFormat::from_options(&widget.viz.options);
    let value_label = widget.query.metric.as_str().to_owned();
    view! {
        <figure class="chart" data-testid="chart">
            <div
                class="chart-svg"
                class:drillable=can_drill
                data-testid="chart-svg"
                role="img"
                aria-label=move || drawn.with(|d| d.summary.clone())
                inner_html=move || drawn.with(|d| d.svg.clone())
                on:click=on_click
            ></div>
            {has_legend.then(|| view! { <ul class="legend" data-testid="legend" aria-label="Legend">{legend}</ul> })}
            <details class="data-view" data-testid="data-view">
                <summary>"Data table"</summary>
                <DataTable rows=rows dimension=dimension value_label=value_label caption=caption options=options />
            </details>
        </figure>
    }
}
