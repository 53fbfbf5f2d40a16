//! One SVG page of a dashboard: a header (name, tenant and period), then each widget's card where
//! the runtime's 12-column grid puts it, drawn with the runtime's chart, shaping and number code
//! and the stylesheet's light colours. The grid numbers are the runtime's (`views::grid` in
//! embed-runtime, `style.css`); they are repeated here because that module is browser-only.

use std::fmt::Write;

use contract::{
    dashboard::{VizType, Widget, WidgetData, WidgetKind},
    query::Metric,
};
use embed_runtime::{
    charts::{self, ChartStyle, PALETTE, Rgb, TimeViz},
    data::{self, ENGLISH},
    format::{Formatter, ValueFormat},
    theme::Palette,
};

/// The page's width in CSS pixels (the runtime's layout at a desktop frame width).
pub const PAGE_WIDTH: u32 = 1200;
const ROW_PX: f64 = 64.0;
const GAP_PX: f64 = 12.0;
const PAGE_PAD_PX: f64 = 12.0;
const CARD_PAD_PX: f64 = 12.0;
const HEADER_PX: f64 = 34.0;
/// The page header above the grid: dashboard name and subtitle.
const TITLE_PX: f64 = 64.0;

/// The stylesheet's light scheme (`style.css`, `:root`).
const BACKGROUND: &str = "#f7f9f7";
const CARD: &str = "#ffffff";
const TEXT: &str = "#101513";
const GOOD: &str = "#0b7a44";
const BAD: &str = "#b3261e";

/// One widget and its answer (or why there is none, in words a reader may see).
pub struct ReportWidget<'a> {
    /// The widget.
    pub widget: &'a Widget,
    /// Its data, or the reason it has none.
    pub data: Result<&'a WidgetData, String>,
}

/// What one page shows.
pub struct ReportPage<'a> {
    /// The dashboard's name.
    pub title: &'a str,
    /// A line under it: whose data, which period, when.
    pub subtitle: &'a str,
    /// The locale numbers and dates are written in.
    pub locale: &'a str,
    /// Seconds since 1970 at rendering (the current, partial bucket is drawn faded).
    pub now: i64,
    /// The widgets, in the dashboard's order.
    pub widgets: Vec<ReportWidget<'a>>,
}

/// Text safe inside SVG markup.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn text(out: &mut String, x: f64, y: f64, size: f64, fill: &str, bold: bool, content: &str) {
    let weight = if bold { " font-weight=\"700\"" } else { "" };
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" fill=\"{fill}\"{weight}>{}</text>",
        escape(content)
    );
}

/// A card's box on the page: (x, y, width, height).
fn card_box(widget: &Widget) -> (f64, f64, f64, f64) {
    let column = (f64::from(PAGE_WIDTH) - 2.0 * PAGE_PAD_PX - 11.0 * GAP_PX) / 12.0;
    let l = widget.layout;
    let (w, h) = (f64::from(l.w.clamp(1, 12)), f64::from(l.h.clamp(1, 24)));
    (
        PAGE_PAD_PX + f64::from(l.x.min(11)) * (column + GAP_PX),
        TITLE_PX + PAGE_PAD_PX + f64::from(l.y) * (ROW_PX + GAP_PX),
        column * w + (w - 1.0) * GAP_PX,
        h * ROW_PX + (h - 1.0) * GAP_PX,
    )
}

/// The page as one SVG document.
pub fn svg(page: &ReportPage<'_>) -> String {
    let rows = page.widgets.iter().map(|w| w.widget.layout.y + w.widget.layout.h).max().unwrap_or(0);
    let height = (TITLE_PX + 2.0 * PAGE_PAD_PX + f64::from(rows) * (ROW_PX + GAP_PX)).ceil();
    let palette = Palette::default();
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{PAGE_WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {PAGE_WIDTH} {height}\" font-family=\"{}\">\
         <rect width=\"100%\" height=\"100%\" fill=\"{BACKGROUND}\"/>",
        super::FONT_FAMILY
    );
    text(&mut out, PAGE_PAD_PX + 4.0, 32.0, 20.0, TEXT, true, page.title);
    text(&mut out, PAGE_PAD_PX + 4.0, 52.0, 12.0, &palette.muted.hex(), false, page.subtitle);
    let format = Formatter::new(page.locale);
    for item in &page.widgets {
        card(&mut out, item, &format, &palette, page.now);
    }
    out.push_str("</svg>");
    out
}

fn card(out: &mut String, item: &ReportWidget<'_>, format: &Formatter, palette: &Palette, now: i64) {
    let widget = item.widget;
    let (x, y, w, h) = card_box(widget);
    let _ = write!(
        out,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"8\" fill=\"{CARD}\" \
         stroke=\"{}\"/>",
        palette.border.hex()
    );
    let max_chars = ((w - 2.0 * CARD_PAD_PX) / 8.0).max(4.0) as usize;
    text(
        out,
        x + CARD_PAD_PX,
        y + CARD_PAD_PX + 15.0,
        14.0,
        TEXT,
        true,
        &charts::truncate(&widget.title, max_chars),
    );
    let (cx, cy) = (x + CARD_PAD_PX, y + CARD_PAD_PX + HEADER_PX);
    let (cw, ch) =
        ((w - 2.0 * CARD_PAD_PX - 2.0).max(60.0), (h - 2.0 * CARD_PAD_PX - HEADER_PX - 2.0).max(40.0));
    let muted = palette.muted.hex();
    let data = match &item.data {
        Ok(data) => *data,
        Err(reason) => {
            text(out, cx, cy + 16.0, 12.0, &muted, false, &format!("Not available: {reason}"));
            return;
        }
    };
    if widget.kind != WidgetKind::Metric && data::is_empty(&data.data) {
        text(out, cx, cy + 16.0, 12.0, &muted, false, "No data for this period");
        return;
    }
    let options = ValueFormat::from_options(&widget.viz.options);
    match widget.kind {
        WidgetKind::Metric => metric(out, data, &options, format, (cx, cy), &muted),
        WidgetKind::Table => table(out, widget, data, &options, format, (cx, cy, cw, ch), palette),
        WidgetKind::Timeseries | WidgetKind::Breakdown => {
            chart(out, widget, data, &options, format, (cx, cy, cw, ch), palette, now)
        }
    }
}

fn metric(
    out: &mut String,
    data: &WidgetData,
    options: &ValueFormat,
    format: &Formatter,
    (cx, cy): (f64, f64),
    muted: &str,
) {
    let value = data.data.first().and_then(|r| r.value);
    let shown = value.map_or_else(|| "–".to_owned(), |v| format.value(v, options));
    text(out, cx, cy + 34.0, 32.0, TEXT, true, &shown);
    let previous = data.previous.as_ref().and_then(|p| p.value).map(|p| format.value(p, options));
    let Some(change) = data.change else {
        if let Some(p) = previous {
            text(out, cx, cy + 60.0, 13.0, muted, false, &format!("previous period {p}"));
        }
        return;
    };
    let arrow = if change > 0.0 {
        "▲"
    } else if change < 0.0 {
        "▼"
    } else {
        "■"
    };
    let colour = match options.verdict(change) {
        "good" => GOOD,
        "bad" => BAD,
        _ => muted,
    };
    let mut line = format!("{arrow} {}", format.change(change));
    if let Some(p) = previous {
        line.push_str(&format!(" vs {p} previous period"));
    }
    text(out, cx, cy + 60.0, 13.0, colour, false, &line);
}

#[allow(clippy::too_many_arguments)]
fn chart(
    out: &mut String,
    widget: &Widget,
    data: &WidgetData,
    options: &ValueFormat,
    format: &Formatter,
    (cx, cy, cw, ch): (f64, f64, f64, f64),
    palette: &Palette,
    now: i64,
) {
    let granularity = data.meta.granularity.or(widget.query.granularity);
    let additive = matches!(widget.query.metric, Metric::Count | Metric::Sum);
    let compact = |v: f64| format.axis_value(v, options);
    let bucket = |b: &str| format.bucket(b, granularity);
    let grouped = data.data.iter().any(|r| r.group.is_some());
    let has_legend =
        grouped && (widget.kind == WidgetKind::Timeseries || widget.viz.viz_type == VizType::Pie);
    let legend_px = if has_legend { 22.0 } else { 0.0 };
    let mut series = vec![palette.primary];
    series.extend(PALETTE);
    let style = ChartStyle {
        width: cw.floor() as u32,
        height: (ch - legend_px).max(60.0).floor() as u32,
        text: palette.muted,
        grid: palette.border,
        series,
        font_px: if cw < 260.0 { 10.0 } else { 11.0 },
    };
    let mut legend: Vec<(String, Rgb)> = Vec::new();
    let drawn = if widget.kind == WidgetKind::Timeseries {
        let mut ts = data::time_series(&data.data, additive, &bucket, ENGLISH);
        ts.partial_last = data
            .data
            .iter()
            .rev()
            .find_map(|r| r.bucket.as_deref())
            .is_some_and(|last| data::is_partial(last, granularity, &data.meta.to, now));
        // The previous period as a faint line, as the embed draws it (ungrouped series only).
        if let Some(rows) = data.previous_series.as_deref().filter(|_| ts.series.len() == 1) {
            let before = data::time_series(rows, additive, &bucket, ENGLISH);
            ts.previous = before.series.into_iter().next().map(|s| s.values).unwrap_or_default();
            ts.previous.resize(ts.labels.len(), None);
        }
        if ts.series.len() > 1 {
            legend =
                ts.series.iter().enumerate().map(|(i, s)| (s.name.clone(), style.series_colour(i))).collect();
        }
        let viz = match widget.viz.viz_type {
            VizType::Area => TimeViz::Area,
            VizType::Bar => TimeViz::Bar,
            _ => TimeViz::Line,
        };
        charts::svg(style.width, style.height, |area| {
            charts::draw_timeseries(area, &ts, viz, &style, &compact)
        })
    } else {
        let cats = data::categories(&data.data, additive, ENGLISH);
        if widget.viz.viz_type == VizType::Pie {
            legend =
                cats.iter().enumerate().map(|(i, c)| (c.label.clone(), style.series_colour(i))).collect();
            charts::svg(style.width, style.height, |area| charts::draw_pie(area, &cats, &style))
        } else {
            charts::svg(style.width, style.height, |area| charts::draw_bars(area, &cats, &style, &compact))
        }
    };
    match drawn {
        // The chart's own <svg>, placed in the card: nested SVG keeps its coordinates.
        Ok((svg, _)) => match svg.strip_prefix("<svg") {
            Some(rest) => {
                let _ = write!(out, "<svg x=\"{cx:.1}\" y=\"{cy:.1}\"{rest}");
            }
            None => out.push_str(&svg),
        },
        Err(e) => text(
            out,
            cx,
            cy + 16.0,
            12.0,
            &palette.muted.hex(),
            false,
            &format!("The chart could not be drawn ({e})"),
        ),
    }
    // The legend, one row under the chart (as many entries as fit).
    let mut lx = cx;
    let ly = cy + ch - 6.0;
    for (label, colour) in legend {
        let label = charts::truncate(&label, 18);
        let width = 18.0 + 6.5 * label.chars().count() as f64;
        if lx + width > cx + cw {
            break;
        }
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" rx=\"2\" fill=\"{}\"/>",
            ly - 9.0,
            colour.hex()
        );
        text(out, lx + 14.0, ly, 11.0, TEXT, false, &label);
        lx += width + 10.0;
    }
}

fn table(
    out: &mut String,
    widget: &Widget,
    data: &WidgetData,
    options: &ValueFormat,
    format: &Formatter,
    (cx, cy, cw, ch): (f64, f64, f64, f64),
    palette: &Palette,
) {
    const ROW: f64 = 22.0;
    let granularity = data.meta.granularity.or(widget.query.granularity);
    let rows = data::table_rows(&data.data, &|b| format.bucket(b, granularity), ENGLISH);
    let label_header = widget.query.group_by.as_deref().unwrap_or("bucket");
    let value_x = cx + cw - 4.0;
    let muted = palette.muted.hex();
    text(out, cx, cy + 14.0, 12.0, &muted, true, label_header);
    let _ = write!(
        out,
        "<text x=\"{value_x:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{muted}\" font-weight=\"700\" \
         text-anchor=\"end\">{}</text>",
        cy + 14.0,
        escape(widget.query.metric.as_str())
    );
    let fits = ((ch - ROW) / ROW).floor().max(0.0) as usize;
    let shown = if rows.len() > fits { fits.saturating_sub(1) } else { rows.len() };
    let max_chars = ((cw - 90.0) / 7.0).max(6.0) as usize;
    for (i, row) in rows.iter().take(shown).enumerate() {
        let y = cy + 14.0 + ROW * (i as f64 + 1.0);
        let _ = write!(
            out,
            "<line x1=\"{cx:.1}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\"/>",
            cx + cw,
            y - 15.0,
            y - 15.0,
            palette.border.hex()
        );
        let label = match (&row.bucket, &row.group) {
            (Some(b), Some(g)) => format!("{b} · {g}"),
            (Some(b), None) => b.clone(),
            (None, Some(g)) => g.clone(),
            (None, None) => String::new(),
        };
        text(out, cx, y, 12.0, TEXT, false, &charts::truncate(&label, max_chars));
        let value = row.value.map_or_else(|| "–".to_owned(), |v| format.value(v, options));
        let _ = write!(
            out,
            "<text x=\"{value_x:.1}\" y=\"{y:.1}\" font-size=\"12\" fill=\"{TEXT}\" text-anchor=\"end\">{}</text>",
            escape(&value)
        );
    }
    if shown < rows.len() {
        let y = cy + 14.0 + ROW * (shown as f64 + 1.0);
        text(out, cx, y, 11.0, &muted, false, &format!("+{} more rows (see the CSV)", rows.len() - shown));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_break_out_of_its_element() {
        assert_eq!(escape("</text><script>&\"'\u{7}"), "&lt;/text&gt;&lt;script&gt;&amp;&quot;&#39;");
    }
}
