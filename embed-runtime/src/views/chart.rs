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
    data,
    format::ValueFormat,
    i18n::fill,
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
    /// The SVG's height, to place tooltips.
    pub height: u32,
    /// One tooltip per mark of `geometry` (value, bucket or group, series; "incomplete" for the
    /// still-filling bucket).
    pub tips: Vec<String>,
}

/// A time series mark's tooltip: `bucket · series: value`, the series left out when alone.
pub fn time_tip(
    ts: &charts::TimeSeries,
    mark: &charts::Mark,
    value: &dyn Fn(f64) -> String,
    (incomplete, previous): (&str, &str),
) -> String {
    let label = ts.labels.get(mark.index).map_or("", String::as_str);
    let series = ts.series.get(mark.series);
    let v = series
        .and_then(|s| s.values.get(mark.index).copied().flatten())
        .map_or_else(|| "–".to_owned(), value);
    let name = series.filter(|_| ts.series.len() > 1).map(|s| format!(" · {}", s.name)).unwrap_or_default();
    let partial = if ts.partial_last && mark.index + 1 == ts.labels.len() {
        format!(" ({incomplete})")
    } else {
        String::new()
    };
    let before = ts
        .previous
        .get(mark.index)
        .copied()
        .flatten()
        .map(|p| format!("; {previous}: {}", value(p)))
        .unwrap_or_default();
    format!("{label}{name}: {v}{partial}{before}")
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
    let t = rt.t();
    let words = t.words;
    let result = match widget.kind {
        WidgetKind::Timeseries => {
            let mut ts = data::time_series(&data.data, additive, &bucket, words);
            // The current bucket (today, this hour) is still filling: drawn faded and said so.
            let now = (js_sys::Date::now() / 1000.0) as i64;
            ts.partial_last = data
                .data
                .iter()
                .rev()
                .find_map(|r| r.bucket.as_deref())
                .is_some_and(|last| data::is_partial(last, granularity, &data.meta.to, now));
            // The previous period, bucket by bucket position (ungrouped series only).
            if let Some(rows) = data.previous_series.as_deref().filter(|_| ts.series.len() == 1) {
                let before = data::time_series(rows, additive, &bucket, words);
                ts.previous = before.series.into_iter().next().map(|s| s.values).unwrap_or_default();
                ts.previous.resize(ts.labels.len(), None);
            }
            let (time_viz, name) = match viz {
                VizType::Area => (TimeViz::Area, t.charts[1]),
                VizType::Bar => (TimeViz::Bar, t.charts[2]),
                _ => (TimeViz::Line, t.charts[0]),
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
            let mut summary = data::describe_time_series(title, name, &ts, &full, words);
            if !ts.previous.is_empty() {
                summary.push_str(t.previous_line);
            }
            charts::svg(style.width, style.height, |area| {
                charts::draw_timeseries(area, &ts, time_viz, style, &compact)
            })
            .map(|(svg, geometry)| {
                let tips = geometry
                    .marks
                    .iter()
                    .map(|m| time_tip(&ts, m, &full, (t.incomplete, t.previous_period)))
                    .collect();
                (svg, geometry, summary, legend, tips)
            })
        }
        _ => {
            let cats = data::categories(&data.data, additive, words);
            let tips = |geometry: &Geometry| -> Vec<String> {
                geometry
                    .marks
                    .iter()
                    .map(|m| {
                        cats.get(m.index)
                            .map(|c| format!("{}: {}", c.label, full(c.value)))
                            .unwrap_or_default()
                    })
                    .collect()
            };
            if viz == VizType::Pie {
                let legend = cats
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.label.clone(), style.series_colour(i).hex(), c.drill.clone()))
                    .collect();
                let summary = data::describe_categories(title, t.charts[3], &cats, &full, words);
                charts::svg(style.width, style.height, |area| charts::draw_pie(area, &cats, style))
                    .map(|(svg, geometry)| (svg, tips(&geometry), geometry, summary, legend))
                    .map(|(svg, tips, geometry, summary, legend)| (svg, geometry, summary, legend, tips))
            } else {
                let summary = data::describe_categories(title, t.charts[2], &cats, &full, words);
                charts::svg(style.width, style.height, |area| charts::draw_bars(area, &cats, style, &compact))
                    .map(|(svg, geometry)| (svg, tips(&geometry), geometry, summary))
                    .map(|(svg, tips, geometry, summary)| (svg, geometry, summary, Vec::new(), tips))
            }
        }
    };
    match result {
        Ok((svg, geometry, summary, legend, tips)) => {
            Drawn { svg, geometry, summary, legend, width: style.width, height: style.height, tips }
        }
        Err(_) => Drawn {
            svg: String::new(),
            geometry: Geometry::default(),
            summary: fill(t.chart_failed, &[title]),
            legend: Vec::new(),
            width: style.width,
            height: style.height,
            tips: Vec::new(),
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
    // The mark whose tooltip shows (hover, keyboard focus or tap), and whether the last press
    // was a touch: a tap first shows the tooltip, a second tap on the same mark drills.
    let active = RwSignal::new(None::<usize>);
    let touch = StoredValue::new(false);
    let mark_at = move |ev: &web_sys::MouseEvent| -> Option<usize> {
        let target = ev.current_target().and_then(|t| t.dyn_into::<web_sys::Element>().ok())?;
        let rect = target.get_bounding_client_rect();
        let scale = drawn.with_untracked(|d| f64::from(d.width)) / rect.width().max(1.0);
        let x = (f64::from(ev.client_x()) - rect.left()) * scale;
        let y = (f64::from(ev.client_y()) - rect.top()) * scale;
        drawn.with_untracked(|d| d.geometry.mark_at(x, y))
    };
    let click_dimension = dimension.clone();
    let drill_mark = move |mark: usize| {
        let Some(dimension) = click_dimension.clone() else { return };
        if let Some(value) =
            drawn.with_untracked(|d| d.geometry.marks.get(mark).and_then(|m| m.drill.clone()))
        {
            rt.drill(&dimension, &value);
        }
    };
    let drill_key = drill_mark.clone();
    let on_click = move |ev: web_sys::MouseEvent| {
        let Some(mark) = mark_at(&ev) else { return };
        if touch.get_value() && active.get_untracked() != Some(mark) {
            active.set(Some(mark));
            return;
        }
        active.set(Some(mark));
        drill_mark(mark);
    };
    let on_pointerdown = move |ev: leptos::ev::PointerEvent| {
        touch.set_value(ev.pointer_type() == "touch");
    };
    let on_move = move |ev: web_sys::MouseEvent| {
        if !touch.get_value() {
            let mark = mark_at(&ev);
            if mark != active.get_untracked() {
                active.set(mark);
            }
        }
    };
    // Keyboard: arrows walk the marks, Home/End jump, Enter or Space drills, Escape hides.
    let on_key = move |ev: web_sys::KeyboardEvent| {
        let count = drawn.with_untracked(|d| d.geometry.marks.len());
        if count == 0 {
            return;
        }
        let current = active.get_untracked();
        let next = match ev.key().as_str() {
            "ArrowRight" | "ArrowDown" => Some(current.map_or(0, |i| (i + 1).min(count - 1))),
            "ArrowLeft" | "ArrowUp" => Some(current.map_or(0, |i| i.saturating_sub(1))),
            "Home" => Some(0),
            "End" => Some(count - 1),
            "Enter" | " " => {
                ev.prevent_default();
                if let Some(mark) = current {
                    drill_key(mark);
                }
                return;
            }
            "Escape" => None,
            _ => return,
        };
        ev.prevent_default();
        active.set(next);
    };
    let tooltip = move || {
        let mark = active.get()?;
        drawn.with(|d| {
            let m = d.geometry.marks.get(mark)?;
            let tip = d.tips.get(mark)?.clone();
            let left = f64::from(m.x) * 100.0 / f64::from(d.width.max(1));
            let top = f64::from(m.y) * 100.0 / f64::from(d.height.max(1));
            let flip = if left > 60.0 { " left" } else { "" };
            Some(view! {
                <span class="mark-ring" aria-hidden="true" style=format!("left:{left:.2}%;top:{top:.2}%")></span>
                <span class=format!("tooltip{flip}") data-testid="tooltip" role="status"
                    style=format!("left:{left:.2}%;top:{top:.2}%")>{tip}</span>
            })
        })
    };
    let legend_dimension = dimension.clone();
    let legend = move || {
        drawn.with(|d| d.legend.clone()).into_iter().map(|(label, colour, drill)| {
            let swatch = format!("background:{colour}");
            match (legend_dimension.clone(), drill) {
                (Some(dimension), Some(value)) => {
                    let aria = fill(rt.t().filter_by, &[&dimension, &label]);
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
    let t = rt.t();
    let rows = data::table_rows(&data.data, &|b| format.bucket(b, granularity), t.words);
    let caption = fill(t.table_caption, &[&widget.title]);
    let options = ValueFormat::from_options(&widget.viz.options);
    let value_label = widget.query.metric.as_str().to_owned();
    view! {
        <figure class="chart" data-testid="chart">
            <div class="chart-frame">
                <div
                    class="chart-svg"
                    class:drillable=can_drill
                    data-testid="chart-svg"
                    role="img"
                    tabindex="0"
                    aria-label=move || drawn.with(|d| d.summary.clone())
                    aria-keyshortcuts="ArrowLeft ArrowRight Enter"
                    inner_html=move || drawn.with(|d| d.svg.clone())
                    on:click=on_click
                    on:pointerdown=on_pointerdown
                    on:mousemove=on_move
                    on:mouseleave=move |_| if !touch.get_value() { active.set(None) }
                    on:keydown=on_key
                    on:blur=move |_| active.set(None)
                ></div>
                {tooltip}
            </div>
            {has_legend.then(|| view! { <ul class="legend" data-testid="legend" aria-label=t.legend>{legend}</ul> })}
            <details class="data-view" data-testid="data-view">
                <summary>{t.data_table}</summary>
                <DataTable rows=rows dimension=dimension value_label=value_label caption=caption options=options />
            </details>
        </figure>
    }
}
