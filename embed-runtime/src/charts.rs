//! Chart drawing with plotters, generic over the backend so the same code draws the SVG the
//! browser shows and the strings the native unit tests inspect.
//!
//! Each drawing function returns the [`Geometry`] of what it drew, so a click (or tap) on the
//! chart can be mapped back to the bar, slice or point under it for drill-down.

use plotters::{
    coord::Shift,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    fn plotters(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }

    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Colours and size of one chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartStyle {
    /// Width in CSS pixels (the SVG is drawn 1:1 so labels stay readable).
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
    /// Axis labels.
    pub text: Rgb,
    /// Axis lines and grid.
    pub grid: Rgb,
    /// Series colours, in order; the first is the theme's primary colour.
    pub series: Vec<Rgb>,
    /// Label font size in pixels.
    pub font_px: f64,
}

impl ChartStyle {
    /// The colour of series `i` (the palette repeats).
    pub fn series_colour(&self, i: usize) -> Rgb {
        if self.series.is_empty() { Rgb(0x0f, 0x9d, 0x58) } else { self.series[i % self.series.len()] }
    }
}

/// A categorical palette after the primary colour (Okabe–Ito, readable by colour-blind viewers).
pub const PALETTE: [Rgb; 7] = [
    Rgb(0xe6, 0x9f, 0x00),
    Rgb(0x56, 0xb4, 0xe9),
    Rgb(0xcc, 0x79, 0xa7),
    Rgb(0x00, 0x72, 0xb2),
    Rgb(0xd5, 0x5e, 0x00),
    Rgb(0x00, 0x9e, 0x73),
    Rgb(0x99, 0x99, 0x99),
];

/// One line (or bar stack layer) of a time series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    /// The group value a click on this series drills into (`None`: not drillable, e.g. "Other").
    pub drill: Option<String>,
    /// One value per bucket; `None` where the metric has no value.
    pub values: Vec<Option<f64>>,
}

/// A time series chart's data: the bucket labels and the series over them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSeries {
    /// One label per bucket, already formatted for the locale.
    pub labels: Vec<String>,
    /// The series, at most a handful (the rest folded into "Other").
    pub series: Vec<Series>,
    /// The last bucket is still filling (today, this hour): drawn faded, so its lower value
    /// does not read as a drop.
    pub partial_last: bool,
    /// The previous period's values by bucket position (empty: no comparison), drawn as a
    /// faint line behind the series.
    pub previous: Vec<Option<f64>>,
}

/// One category of a breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// Shown on the axis or legend.
    pub label: String,
    /// The group value a click drills into.
    pub drill: Option<String>,
    /// The value.
    pub value: f64,
}

/// Opacity of the previous period's comparison line.
pub const PREVIOUS_OPACITY: f64 = 0.45;

/// Opacity of the still-filling last bucket's marks.
pub const PARTIAL_OPACITY: f64 = 0.4;

/// How a time series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeViz {
    /// Lines.
    Line,
    /// Filled areas under lines.
    Area,
    /// Stacked bars per bucket.
    Bar,
}

/// A clickable part of a drawn chart, in the chart's pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum HitRegion {
    /// A bar: `[x0, x1) × [y0, y1)`.
    Rect {
        /// Left.
        x0: i32,
        /// Top.
        y0: i32,
        /// Right.
        x1: i32,
        /// Bottom.
        y1: i32,
        /// Its mark in [`Geometry::marks`].
        mark: usize,
    },
    /// A data point of a line; hit within [`POINT_RADIUS`] pixels.
    Point {
        /// X.
        x: i32,
        /// Y.
        y: i32,
        /// Its mark in [`Geometry::marks`].
        mark: usize,
    },
    /// A pie slice (angles in radians clockwise from 12 o'clock).
    Sector {
        /// Centre x.
        cx: i32,
        /// Centre y.
        cy: i32,
        /// Inner radius (the donut hole).
        r0: f64,
        /// Outer radius.
        r1: f64,
        /// Start angle.
        a0: f64,
        /// End angle.
        a1: f64,
        /// Its mark in [`Geometry::marks`].
        mark: usize,
    },
}

/// How close a click must be to a line's point to hit it.
pub const POINT_RADIUS: f64 = 12.0;

/// One drawn mark (a point, bar or slice): where its tooltip and focus ring go, and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// The anchor's x (a point's centre, a bar's top middle, a slice's middle).
    pub x: i32,
    /// The anchor's y.
    pub y: i32,
    /// The series (time series) or 0 (breakdowns).
    pub series: usize,
    /// The bucket (time series) or category index.
    pub index: usize,
    /// The group value a click drills into (`None`: not drillable, e.g. "Other").
    pub drill: Option<String>,
}

/// What a drawing function drew: its marks, and the regions that hit them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Geometry {
    /// Hit regions, in drawing order.
    pub regions: Vec<HitRegion>,
    /// Every mark, in drawing order (series by series, bucket by bucket): what hover, focus and
    /// tap show a tooltip for.
    pub marks: Vec<Mark>,
}

impl Geometry {
    /// Adds a mark and its hit region (`region` gets the mark's index).
    fn push(&mut self, mark: Mark, region: impl FnOnce(usize) -> HitRegion) {
        self.regions.push(region(self.marks.len()));
        self.marks.push(mark);
    }

    /// The index of the mark under pixel `(x, y)`, if any.
    pub fn mark_at(&self, x: f64, y: f64) -> Option<usize> {
        let mut nearest: Option<(f64, usize)> = None;
        for region in &self.regions {
            match region {
                HitRegion::Rect { x0, y0, x1, y1, mark } => {
                    let (lx, hx) = (f64::from(*x0.min(x1)), f64::from(*x0.max(x1)));
                    let (ly, hy) = (f64::from(*y0.min(y1)), f64::from(*y0.max(y1)));
                    if x >= lx && x <= hx && y >= ly && y <= hy {
                        return Some(*mark);
                    }
                }
                HitRegion::Point { x: px, y: py, mark } => {
                    let d = ((x - f64::from(*px)).powi(2) + (y - f64::from(*py)).powi(2)).sqrt();
                    if d <= POINT_RADIUS && nearest.is_none_or(|(best, _)| d < best) {
                        nearest = Some((d, *mark));
                    }
                }
                HitRegion::Sector { cx, cy, r0, r1, a0, a1, mark } => {
                    let (dx, dy) = (x - f64::from(*cx), y - f64::from(*cy));
                    let r = (dx * dx + dy * dy).sqrt();
                    let angle = clock_angle(dx, dy);
                    if r >= *r0 && r <= *r1 && angle >= *a0 && angle < *a1 {
                        return Some(*mark);
                    }
                }
            }
        }
        nearest.map(|(_, m)| m)
    }

    /// The group value a click at pixel `(x, y)` drills into, if any.
    pub fn hit(&self, x: f64, y: f64) -> Option<&str> {
        self.mark_at(x, y).and_then(|m| self.marks[m].drill.as_deref())
    }
}

/// Angle of `(dx, dy)` (screen coordinates, y down) clockwise from 12 o'clock, in `[0, 2π)`.
fn clock_angle(dx: f64, dy: f64) -> f64 {
    let a = math::atan2(dx, -dy);
    if a < 0.0 { a + std::f64::consts::TAU } else { a }
}

/// Trigonometry for pies and their hit tests: the browser's `Math` on wasm, where Rust's own
/// `sin`/`cos`/`atan2` would compile in libm's argument reduction (about 8 KB) for a few calls.
mod math {
    #[cfg(target_arch = "wasm32")]
    pub use js_sys::Math::{atan2, cos, sin};

    #[cfg(not(target_arch = "wasm32"))]
    pub fn sin(x: f64) -> f64 {
        x.sin()
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn cos(x: f64) -> f64 {
        x.cos()
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn atan2(y: f64, x: f64) -> f64 {
        y.atan2(x)
    }
}

/// A drawing failure, as text (plotters' error types are backend-specific).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartError(pub String);

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<E: std::fmt::Display>(e: E) -> ChartError {
    ChartError(e.to_string())
}

/// plotters' SVG backend writes `font-size` as the style size / 1.24: scale so the label is
/// `font_px` on screen.
/// The family as the enum: plotters maps a family *name* through `str::to_lowercase`.
fn font(style: &ChartStyle) -> TextStyle<'static> {
    (FontFamily::SansSerif, style.font_px * 1.24).into_font().color(&style.text.plotters())
}

/// Rounds `max` up to a tidy axis end (1, 2, 2.5 or 5 × 10ⁿ) so ticks land on round numbers.
pub fn nice_ceiling(max: f64) -> f64 {
    if !max.is_finite() || max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if max <= step * magnitude {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// Shortens `label` to at most `max_chars` characters, with an ellipsis.
pub fn truncate(label: &str, max_chars: usize) -> String {
    if label.chars().count() <= max_chars {
        label.to_owned()
    } else {
        let kept: String = label.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{kept}…")
    }
}

/// Draws a time series (line, area or stacked bars) over `area`.
pub fn draw_timeseries<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &TimeSeries,
    viz: TimeViz,
    style: &ChartStyle,
    format_value: &dyn Fn(f64) -> String,
) -> Result<Geometry, ChartError> {
    let n = data.labels.len().max(1);
    let max = if viz == TimeViz::Bar {
        (0..n)
            .map(|i| data.series.iter().filter_map(|s| s.values.get(i).copied().flatten()).sum::<f64>())
            .fold(0.0, f64::max)
    } else {
        data.series.iter().flat_map(|s| s.values.iter().flatten().copied()).fold(0.0, f64::max)
    };
    let max = data.previous.iter().flatten().copied().fold(max, f64::max);
    let min = data.series.iter().flat_map(|s| s.values.iter().flatten().copied()).fold(0.0, f64::min);
    let top = nice_ceiling(max);
    let bottom = if min < 0.0 { -nice_ceiling(-min) } else { 0.0 };
    // Bucket i sits at x = i: ticks land on whole numbers, and bars span i ± 0.35.
    let x_range = -0.5..n as f64 - 0.5;
    let y_label_width = (style.font_px * 0.62 * format_value(top).chars().count().max(3) as f64) as u32 + 10;
    let mut chart = ChartBuilder::on(area)
        .margin_top(8)
        .margin_right(12)
        .margin_left(4)
        .x_label_area_size((style.font_px * 1.9) as u32)
        .y_label_area_size(y_label_width)
        .build_cartesian_2d(x_range, bottom..top)
        .map_err(err)?;

    let plot_width = f64::from(style.width.saturating_sub(y_label_width + 16).max(1));
    // Room for a label about every six characters' width.
    let max_x_labels = ((plot_width / (style.font_px * 6.0)).floor() as usize).clamp(2, 12).min(n);
    let labels = &data.labels;
    let x_fmt = move |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        labels.get(i as usize).cloned().unwrap_or_default()
    };
    let y_fmt = |y: &f64| format_value(*y);
    let grid = style.grid.plotters();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(max_x_labels)
        .y_labels(5)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(font(style))
        .axis_style(grid)
        .bold_line_style(grid.mix(0.6))
        .light_line_style(TRANSPARENT)
        .set_all_tick_mark_size(3)
        .draw()
        .map_err(err)?;

    let mut geometry = Geometry::default();
    // The previous period: a thin, faint line behind the series (a gap joins its neighbours), no marks.
    let previous: Vec<(f64, f64)> =
        data.previous.iter().enumerate().take(n).filter_map(|(i, v)| v.map(|v| (i as f64, v))).collect();
    if previous.len() > 1 {
        let faint = style.text.plotters().mix(PREVIOUS_OPACITY);
        chart.draw_series(LineSeries::new(previous, faint.stroke_width(1))).map_err(err)?;
    }
    match viz {
        TimeViz::Line | TimeViz::Area => {
            for (s_idx, series) in data.series.iter().enumerate() {
                let colour = style.series_colour(s_idx).plotters();
                // A gap (no value) splits the line into segments.
                let mut segment: Vec<(f64, f64)> = Vec::new();
                let mut segments = Vec::new();
                // A partial last bucket is left out of the solid line and drawn faded below.
                let solid = if data.partial_last { n.saturating_sub(1) } else { n };
                for (i, v) in series.values.iter().enumerate().take(solid) {
                    match v {
                        Some(v) => segment.push((i as f64, *v)),
                        None if !segment.is_empty() => segments.push(std::mem::take(&mut segment)),
                        None => {}
                    }
                }
                if !segment.is_empty() {
                    segments.push(segment);
                }
                for points in &segments {
                    if viz == TimeViz::Area {
                        chart
                            .draw_series(
                                AreaSeries::new(points.iter().copied(), bottom.max(0.0), colour.mix(0.18))
                                    .border_style(colour.stroke_width(2)),
                            )
                            .map_err(err)?;
                    } else if points.len() > 1 {
                        chart
                            .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)))
                            .map_err(err)?;
                    }
                    if points.len() == 1 || n <= 48 {
                        chart
                            .draw_series(points.iter().map(|p| Circle::new(*p, 2, colour.filled())))
                            .map_err(err)?;
                    }
                    for p in points {
                        let (x, y) = chart.backend_coord(p);
                        let mark =
                            Mark { x, y, series: s_idx, index: p.0 as usize, drill: series.drill.clone() };
                        geometry.push(mark, |mark| HitRegion::Point { x, y, mark });
                    }
                }
                // The partial bucket: a faded point, joined to the one before by a faded line.
                let last = n - 1;
                if data.partial_last
                    && let Some(Some(v)) = series.values.get(last).copied()
                {
                    let faded = colour.mix(PARTIAL_OPACITY);
                    let end = (last as f64, v);
                    if let Some(Some(before)) = last.checked_sub(1).and_then(|i| series.values.get(i)) {
                        let join = [(last as f64 - 1.0, *before), end];
                        chart.draw_series(LineSeries::new(join, faded.stroke_width(2))).map_err(err)?;
                    }
                    chart.draw_series(std::iter::once(Circle::new(end, 2, faded.filled()))).map_err(err)?;
                    let (x, y) = chart.backend_coord(&end);
                    let mark = Mark { x, y, series: s_idx, index: last, drill: series.drill.clone() };
                    geometry.push(mark, |mark| HitRegion::Point { x, y, mark });
                }
            }
        }
        TimeViz::Bar => {
            let mut stacked = vec![0.0f64; n];
            for (s_idx, series) in data.series.iter().enumerate() {
                let colour = style.series_colour(s_idx).plotters();
                for (i, v) in series.values.iter().enumerate().take(n) {
                    let Some(v) = v.filter(|v| *v != 0.0) else { continue };
                    let base = stacked[i];
                    stacked[i] += v;
                    let (x0, x1) = (i as f64 - 0.35, i as f64 + 0.35);
                    let rect = [(x0, base), (x1, base + v)];
                    let fill = if data.partial_last && i + 1 == n {
                        colour.mix(PARTIAL_OPACITY).filled()
                    } else {
                        colour.filled()
                    };
                    chart.draw_series(std::iter::once(Rectangle::new(rect, fill))).map_err(err)?;
                    let (px0, py0) = chart.backend_coord(&rect[0]);
                    let (px1, py1) = chart.backend_coord(&rect[1]);
                    let mark = Mark {
                        x: (px0 + px1) / 2,
                        y: py0.min(py1),
                        series: s_idx,
                        index: i,
                        drill: series.drill.clone(),
                    };
                    geometry.push(mark, |mark| HitRegion::Rect {
                        x0: px0.min(px1),
                        y0: py0.min(py1),
                        x1: px0.max(px1),
                        y1: py0.max(py1),
                        mark,
                    });
                }
            }
        }
    }
    area.present().map_err(err)?;
    Ok(geometry)
}

/// Draws a breakdown as horizontal bars, largest first, labels left of the bars.
pub fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &[Category],
    style: &ChartStyle,
    format_value: &dyn Fn(f64) -> String,
) -> Result<Geometry, ChartError> {
    let n = data.len().max(1);
    let max = data.iter().map(|c| c.value).fold(0.0, f64::max);
    let top = nice_ceiling(max);
    // Labels get up to 40% of the width, at roughly 0.6 em per character.
    let char_px = style.font_px * 0.6;
    let longest = data.iter().map(|c| c.label.chars().count()).max().unwrap_or(1);
    let label_chars = ((f64::from(style.width) * 0.4 / char_px) as usize).clamp(4, 40).min(longest.max(1));
    let label_width = (label_chars as f64 * char_px) as u32 + 12;
    let mut chart = ChartBuilder::on(area)
        .margin_top(6)
        .margin_right(14)
        .x_label_area_size((style.font_px * 1.9) as u32)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0.0..top, 0.0..n as f64)
        .map_err(err)?;
    let x_fmt = |x: &f64| format_value(*x);
    let grid = style.grid.plotters();
    let max_x_labels =
        ((f64::from(style.width.saturating_sub(label_width)) / (style.font_px * 5.0)) as usize).clamp(2, 6);
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_labels(max_x_labels)
        .x_label_formatter(&x_fmt)
        .label_style(font(style))
        .axis_style(grid)
        .bold_line_style(grid.mix(0.6))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(err)?;

    let mut geometry = Geometry::default();
    let label_style = font(style).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, category) in data.iter().enumerate() {
        // Row 0 at the top.
        let row = (n - 1 - i) as f64;
        let rect = [(0.0, row + 0.18), (category.value.max(0.0), row + 0.82)];
        let colour = style.series_colour(0).plotters();
        chart.draw_series(std::iter::once(Rectangle::new(rect, colour.filled()))).map_err(err)?;
        let (px0, py0) = chart.backend_coord(&rect[0]);
        let (px1, py1) = chart.backend_coord(&rect[1]);
        let (_, label_y) = chart.backend_coord(&(0.0, row + 0.5));
        area.draw(&Text::new(
            truncate(&category.label, label_chars),
            (px0 - 6, label_y),
            label_style.clone(),
        ))
        .map_err(err)?;
        // The whole row (label included) is the target: thin bars are hard to hit.
        let mark =
            Mark { x: px1.max(px0), y: (py0 + py1) / 2, series: 0, index: i, drill: category.drill.clone() };
        geometry.push(mark, |mark| HitRegion::Rect {
            x0: px0 - label_width as i32,
            y0: py0.min(py1),
            x1: px1.max(px0 + 24),
            y1: py0.max(py1),
            mark,
        });
    }
    area.present().map_err(err)?;
    Ok(geometry)
}

/// Draws a breakdown as a donut; slice colours follow [`ChartStyle::series_colour`], so an HTML
/// legend can name them.
pub fn draw_pie<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &[Category],
    style: &ChartStyle,
) -> Result<Geometry, ChartError> {
    let total: f64 = data.iter().map(|c| c.value.max(0.0)).sum();
    let (w, h) = (style.width as i32, style.height as i32);
    let (cx, cy) = (w / 2, h / 2);
    let r1 = f64::from((w.min(h) / 2 - 6).max(8));
    let r0 = r1 * 0.55;
    let mut geometry = Geometry::default();
    if total <= 0.0 {
        area.present().map_err(err)?;
        return Ok(geometry);
    }
    let mut start = 0.0;
    for (i, category) in data.iter().enumerate() {
        let sweep = category.value.max(0.0) / total * std::f64::consts::TAU;
        if sweep <= 0.0 {
            continue;
        }
        let end = start + sweep;
        let steps = ((sweep / std::f64::consts::TAU) * 96.0).ceil().max(2.0) as usize;
        let point = |angle: f64, r: f64| -> (i32, i32) {
            (cx + (r * math::sin(angle)).round() as i32, cy - (r * math::cos(angle)).round() as i32)
        };
        let mut points: Vec<(i32, i32)> =
            (0..=steps).map(|k| point(start + sweep * k as f64 / steps as f64, r1)).collect();
        points.extend((0..=steps).rev().map(|k| point(start + sweep * k as f64 / steps as f64, r0)));
        let colour = style.series_colour(i).plotters();
        area.draw(&Polygon::new(points, colour.filled())).map_err(err)?;
        let (x, y) = point(start + sweep / 2.0, (r0 + r1) / 2.0);
        let mark = Mark { x, y, series: 0, index: i, drill: category.drill.clone() };
        geometry.push(mark, |mark| HitRegion::Sector { cx, cy, r0, r1, a0: start, a1: end, mark });
        start = end;
    }
    area.present().map_err(err)?;
    Ok(geometry)
}

/// Draws into an SVG string with `draw`, returning the SVG and what was drawn.
pub fn svg<F>(width: u32, height: u32, draw: F) -> Result<(String, Geometry), ChartError>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<Geometry, ChartError>,
{
    let mut out = String::new();
    let geometry = {
        let area = SVGBackend::with_string(&mut out, (width.max(16), height.max(16))).into_drawing_area();
        draw(&area)?
    };
    Ok((out, geometry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(width: u32, height: u32) -> ChartStyle {
        let mut series = vec![Rgb(0x0f, 0x9d, 0x58)];
        series.extend(PALETTE);
        ChartStyle {
            width,
            height,
            text: Rgb(0x10, 0x15, 0x13),
            grid: Rgb(0xd8, 0xe2, 0xd9),
            series,
            font_px: 11.0,
        }
    }

    fn fmt(v: f64) -> String {
        format!("{v}")
    }

    /// `<polyline>`s drawn in `colour` (axes are polylines too).
    fn lines_in(svg: &str, colour: &str) -> usize {
        svg.lines()
            .filter(|l| {
                l.starts_with("<polyline") && l.to_lowercase().contains(&format!("stroke=\"{colour}\""))
            })
            .count()
    }

    fn series(name: &str, values: &[Option<f64>]) -> Series {
        Series { name: name.into(), drill: Some(name.into()), values: values.to_vec() }
    }

    #[test]
    fn nice_ceiling_rounds_up_to_tidy_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(230.0), 250.0);
        assert_eq!(nice_ceiling(4_100.0), 5_000.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
    }

    #[test]
    fn line_chart_draws_one_path_per_series_and_labels_axes() {
        let data = TimeSeries {
            labels: vec!["Nov 18".into(), "Nov 19".into(), "Nov 20".into()],
            series: vec![
                series("gpt-4", &[Some(3.0), Some(5.0), Some(4.0)]),
                series("claude", &[Some(1.0), Some(2.0), Some(8.0)]),
            ],
            partial_last: false,
            previous: Vec::new(),
        };
        let (svg, geometry) =
            svg(480, 200, |a| draw_timeseries(a, &data, TimeViz::Line, &style(480, 200), &fmt)).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(lines_in(&svg, "#0f9d58"), 1, "first series in the primary colour: {svg}");
        assert_eq!(lines_in(&svg, "#e69f00"), 1, "second series from the palette");
        assert!(svg.contains("\nNov 18\n") && svg.contains("\nNov 20\n"), "bucket labels: {svg}");
        assert!(svg.contains("\n10\n"), "value axis topped at a nice number: {svg}");
        assert!(svg.contains("font-size=\"11\""), "labels at 11px");
        assert_eq!(geometry.regions.len(), 6);
        // The point of claude's last bucket is hit near its centre.
        let HitRegion::Point { x, y, .. } = &geometry.regions[5] else { panic!() };
        assert_eq!(geometry.hit(f64::from(*x) + 3.0, f64::from(*y) - 3.0), Some("claude"));
        assert_eq!(geometry.hit(0.0, 0.0), None);
    }

    #[test]
    fn a_partial_last_bucket_is_drawn_faded() {
        let mut data = TimeSeries {
            labels: (0..4).map(|i| format!("d{i}")).collect(),
            series: vec![series("all", &[Some(4.0), Some(5.0), Some(6.0), Some(1.0)])],
            partial_last: true,
            previous: Vec::new(),
        };
        for viz in [TimeViz::Line, TimeViz::Bar] {
            let (faded, geometry) =
                svg(300, 150, |a| draw_timeseries(a, &data, viz, &style(300, 150), &fmt)).unwrap();
            assert!(faded.contains("opacity=\"0.4"), "{viz:?}: the last bucket faded: {faded}");
            assert_eq!(geometry.regions.len(), 4, "{viz:?}: the partial bucket is still clickable");
        }
        let (line, _) =
            svg(300, 150, |a| draw_timeseries(a, &data, TimeViz::Line, &style(300, 150), &fmt)).unwrap();
        assert_eq!(lines_in(&line, "#0f9d58"), 2, "the solid line and the faded join: {line}");
        data.partial_last = false;
        let (whole, _) =
            svg(300, 150, |a| draw_timeseries(a, &data, TimeViz::Line, &style(300, 150), &fmt)).unwrap();
        assert!(!whole.contains("opacity=\"0.4"), "{whole}");
        assert_eq!(lines_in(&whole, "#0f9d58"), 1, "{whole}");
    }

    #[test]
    fn the_previous_period_is_a_faint_line_without_marks() {
        let mut data = TimeSeries {
            labels: (0..3).map(|i| format!("d{i}")).collect(),
            series: vec![series("all", &[Some(1.0), Some(2.0), Some(3.0)])],
            partial_last: false,
            previous: vec![Some(4.0), None, Some(30.0)],
        };
        let (markup, geometry) =
            svg(300, 150, |a| draw_timeseries(a, &data, TimeViz::Line, &style(300, 150), &fmt)).unwrap();
        assert_eq!(lines_in(&markup, "#101513"), 1, "one line in the text colour: {markup}");
        assert!(markup.contains("opacity=\"0.45"), "{markup}");
        assert!(markup.contains("\n40\n"), "the axis fits the previous period's peak: {markup}");
        assert_eq!(geometry.marks.len(), 3, "the comparison has no marks of its own");
        data.previous.clear();
        let (markup, _) =
            svg(300, 150, |a| draw_timeseries(a, &data, TimeViz::Line, &style(300, 150), &fmt)).unwrap();
        assert_eq!(lines_in(&markup, "#101513"), 0, "{markup}");
    }

    #[test]
    fn gaps_split_lines_and_area_fills() {
        let data = TimeSeries {
            labels: (0..4).map(|i| format!("d{i}")).collect(),
            series: vec![series("all", &[Some(1.0), None, Some(2.0), Some(3.0)])],
            partial_last: false,
            previous: Vec::new(),
        };
        let (line, _) =
            svg(300, 150, |a| draw_timeseries(a, &data, TimeViz::Line, &style(300, 150), &fmt)).unwrap();
        // One point alone (a dot), then a two-point segment.
        assert_eq!(lines_in(&line, "#0f9d58"), 1, "{line}");
        let (area, _) =
            svg(300, 150, |a| draw_timeseries(a, &data, TimeViz::Area, &style(300, 150), &fmt)).unwrap();
        assert!(area.contains("<polygon"), "area fill: {area}");
        assert!(area.contains("opacity=\"0.18"), "translucent fill: {area}");
    }

    #[test]
    fn stacked_bars_have_a_hit_region_per_segment() {
        let data = TimeSeries {
            labels: vec!["a".into(), "b".into()],
            series: vec![series("x", &[Some(2.0), Some(1.0)]), series("y", &[Some(3.0), Some(0.0)])],
            partial_last: false,
            previous: Vec::new(),
        };
        let (svg, geometry) =
            svg(400, 200, |a| draw_timeseries(a, &data, TimeViz::Bar, &style(400, 200), &fmt)).unwrap();
        assert_eq!(geometry.regions.len(), 3, "zero values draw nothing");
        assert!(svg.matches("<rect").count() >= 3);
        // Regions: x's two bars, then y's one.
        let HitRegion::Rect { x0, y0, x1, y1, .. } = &geometry.regions[2] else { panic!() };
        let (mx, my) = (f64::from(x0 + x1) / 2.0, f64::from(y0 + y1) / 2.0);
        assert_eq!(geometry.hit(mx, my), Some("y"), "the upper segment of the first stack");
    }

    #[test]
    fn breakdown_bars_label_each_category_and_escape_labels() {
        let data = vec![
            Category { label: "/chat".into(), drill: Some("/chat".into()), value: 120.0 },
            Category { label: "<script>".into(), drill: Some("<script>".into()), value: 30.0 },
            Category { label: "Other".into(), drill: None, value: 5.0 },
        ];
        let (svg, geometry) = svg(360, 160, |a| draw_bars(a, &data, &style(360, 160), &fmt)).unwrap();
        assert!(svg.contains("\n/chat\n"), "{svg}");
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"), "labels are escaped");
        assert_eq!(geometry.regions.len(), 3, "every bar has a mark (for its tooltip)");
        assert_eq!(geometry.marks[2].drill, None, "Other is not drillable");
        let HitRegion::Rect { x0, y0, y1, .. } = &geometry.regions[2] else { panic!() };
        let (x, y) = (f64::from(*x0) + 2.0, f64::from(y0 + y1) / 2.0);
        assert_eq!(geometry.hit(x, y), None);
        assert_eq!(geometry.mark_at(x, y), Some(2));
        let HitRegion::Rect { y0, y1, .. } = &geometry.regions[0] else { panic!() };
        assert_eq!(geometry.hit(200.0, f64::from(y0 + y1) / 2.0), Some("/chat"));
    }

    #[test]
    fn long_labels_are_truncated() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        let data = vec![Category { label: "x".repeat(200), drill: None, value: 1.0 }];
        let (svg, _) = svg(200, 80, |a| draw_bars(a, &data, &style(200, 80), &fmt)).unwrap();
        assert!(!svg.contains(&"x".repeat(60)), "label cut to fit");
    }

    #[test]
    fn pie_slices_are_hit_by_angle() {
        let data = vec![
            Category { label: "a".into(), drill: Some("a".into()), value: 3.0 },
            Category { label: "b".into(), drill: Some("b".into()), value: 1.0 },
        ];
        let (svg, geometry) = svg(200, 200, |a| draw_pie(a, &data, &style(200, 200))).unwrap();
        assert_eq!(svg.matches("<polygon").count(), 2, "{svg}");
        let lower = svg.to_lowercase();
        assert!(lower.contains("#0f9d58") && lower.contains("#e69f00"));
        // "a" covers 12 o'clock to 9 o'clock clockwise; "b" the last quarter.
        assert_eq!(geometry.hit(100.0 + 70.0, 100.0), Some("a"), "3 o'clock");
        assert_eq!(geometry.hit(100.0 - 70.0, 100.0 - 10.0), Some("b"), "just after 9 o'clock");
        assert_eq!(geometry.hit(100.0, 100.0), None, "the donut hole");
    }

    #[test]
    fn empty_data_draws_without_failing() {
        let (markup, geometry) = svg(200, 100, |a| {
            draw_timeseries(a, &TimeSeries::default(), TimeViz::Line, &style(200, 100), &fmt)
        })
        .unwrap();
        assert!(markup.contains("</svg>"));
        assert!(geometry.regions.is_empty());
        let (_, geometry) = svg(100, 100, |a| draw_pie(a, &[], &style(100, 100))).unwrap();
        assert!(geometry.regions.is_empty());
    }
}
