//! The `metric` widget: one number and its change against the previous period.

use leptos::prelude::*;

use crate::{format::ValueFormat, i18n::fill, state::Runtime};

/// A big number with its change.
#[component]
pub fn MetricView(
    /// The widget's title (for the text alternative).
    #[prop(into)]
    title: String,
    /// The metric over the period.
    value: Option<f64>,
    /// The previous period's value.
    previous: Option<f64>,
    /// `(value - previous) / |previous|`, when both exist and previous is not zero.
    change: Option<f64>,
    /// Unit, currency, decimals, and whether a rise is good (`viz` options).
    #[prop(optional)]
    options: ValueFormat,
) -> impl IntoView {
    let rt = expect_context::<Runtime>();
    let format = rt.format();
    let shown = value.map_or_else(|| "–".to_owned(), |v| format.value(v, &options));
    let (direction, arrow) = match change {
        Some(c) if c > 0.0 => ("up", "▲"),
        Some(c) if c < 0.0 => ("down", "▼"),
        Some(_) => ("flat", "■"),
        None => ("none", ""),
    };
    let change_text = change.map(|c| format.change(c));
    let previous_text = previous.map(|p| format.value(p, &options));
    // Green for good news, red for bad: a rise is bad when lower is better (latency, errors).
    let verdict = change.map_or("neutral", |c| options.verdict(c));
    let t = rt.t();
    let summary = match (&change_text, &previous_text) {
        (Some(c), Some(p)) => fill(t.metric_change, &[&title, &shown, c, p]),
        (None, Some(p)) => fill(t.metric_previous, &[&title, &shown, p]),
        _ => format!("{title}: {shown}"),
    };
    view! {
        <div class="metric" data-testid="metric" role="group" aria-label=summary>
            <p class="metric-value" data-testid="metric-value" aria-hidden="true">{shown}</p>
            <p class=format!("metric-change {direction} {verdict}") data-testid="metric-change" aria-hidden="true">
                {change_text.map(|c| format!("{arrow} {c}"))}
                {previous_text.map(|p| view! { <span class="muted">{fill(t.versus, &[&p])}</span> })}
            </p>
        </div>
    }
}
