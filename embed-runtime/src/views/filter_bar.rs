//! The filter bar: the period (within the session's allowed periods), dimension filters (among
//! the allowed dimensions), locked filters shown locked, and a chip per active filter that
//! clears it. Everything works from the keyboard: native selects, inputs and buttons.

use std::collections::BTreeSet;

use contract::messages::FilterRequest;
use leptos::prelude::*;

use crate::{
    filters::{self, PermissionsExt},
    state::Runtime,
};

/// The filter bar.
#[component]
pub fn FilterBar() -> impl IntoView {
    let rt = expect_context::<Runtime>();
    let refusal = RwSignal::new(None::<String>);
    let periods = move || {
        let perms = rt.permissions();
        let mut periods = perms.selectable_periods();
        let current = rt.filters.with(|f| f.period.clone());
        if !periods.contains(&current) {
            periods.insert(0, current);
        }
        periods
    };
    let on_period = move |ev: leptos::ev::Event| {
        let period = event_target_value(&ev);
        let request = FilterRequest { period: Some(period), ..Default::default() };
        match filters::apply_request(&rt.filters.get_untracked(), &request, &rt.permissions_untracked()) {
            Ok(next) => {
                refusal.set(None);
                rt.change_filters(next, false);
            }
            Err(e) => refusal.set(Some(e.to_string())),
        }
    };
    // Dimensions the viewer may add: the allowed ones, else those the dashboard groups by.
    let dimensions = move || {
        let perms = rt.permissions();
        // Inserted one by one: `collect()` into a B-tree sorts with a stable sort compiled for it.
        let mut candidates = BTreeSet::new();
        match &perms.allowed_dimensions {
            Some(list) => list.iter().for_each(|d| {
                candidates.insert(d.clone());
            }),
            None => rt.session.with(|s| {
                for w in s.iter().flat_map(|s| &s.dashboard.widgets) {
                    if let Some(d) = &w.query.group_by {
                        candidates.insert(d.clone());
                    }
                }
            }),
        }
        candidates.into_iter().filter(|d| perms.dimension_free(d)).collect::<Vec<_>>()
    };
    // The add-filter form, while there is a dimension to add (a memo, as `<Show>` would keep, so
    // the form is not rebuilt while the list changes; without the component's generic wrapper).
    let can_add = Memo::new(move |_| !dimensions().is_empty());
    let new_dimension = RwSignal::new(String::new());
    let new_value = RwSignal::new(String::new());
    let add_filter = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let dimension = new_dimension.get_untracked();
        let dimension = if dimension.is_empty() {
            untrack(dimensions).into_iter().next().unwrap_or_default()
        } else {
            dimension
        };
        let value = new_value.get_untracked().trim().to_owned();
        if dimension.is_empty() || value.is_empty() {
            return;
        }
        let current = rt.filters.get_untracked();
        let perms = rt.permissions_untracked();
        let mut wanted = current.filters.clone();
        wanted.retain(|k, _| !perms.locked_filters.contains_key(k));
        wanted.insert(dimension, value);
        let request = FilterRequest { dimensions: Some(wanted), ..Default::default() };
        match filters::apply_request(&current, &request, &perms) {
            Ok(next) => {
                refusal.set(None);
                new_value.set(String::new());
                rt.change_filters(next, false);
            }
            Err(e) => refusal.set(Some(e.to_string())),
        }
    };
    let chips = move || {
        let perms = rt.permissions();
        rt.filters
            .with(|f| f.filters.clone())
            .into_iter()
            .map(|(dimension, value)| {
                if perms.locked_filters.contains_key(&dimension) {
                    let label = format!("{dimension} is {value}, locked");
                    view! {
                        <li class="chip locked" data-testid="chip-locked" aria-label=label>
                            <span aria-hidden="true">"🔒 "</span>{format!("{dimension}: {value}")}
                        </li>
                    }
                    .into_any()
                } else {
                    let label = format!("Clear filter {dimension} = {value}");
                    let d = dimension.clone();
                    view! {
                        <li class="chip" data-testid="chip" data-dimension=dimension.clone()>
                            {format!("{dimension}: {value}")}
                            <button type="button" class="chip-clear" data-testid="chip-clear" aria-label=label
                                on:click=move |_| rt.clear(&d)>"×"</button>
                        </li>
                    }
                    .into_any()
                }
            })
            .collect_view()
    };
    view! {
        <div class="filter-bar" data-testid="filter-bar" role="region" aria-label="Filters">
            <label class="field">
                <span>"Period"</span>
                <select data-testid="period-select" on:change=on_period prop:value=move || rt.filters.with(|f| f.period.clone())>
                    {move || {
                        let current = rt.filters.with(|f| f.period.clone());
                        periods()
                            .into_iter()
                            .map(|p| {
                                let selected = p == current;
                                view! { <option value=p.clone() selected=selected>{period_label(&p)}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            {move || can_add.get().then(|| view! {
                <form class="add-filter" data-testid="add-filter" on:submit=add_filter>
                    <label class="field">
                        <span>"Filter"</span>
                        <select data-testid="dimension-select" aria-label="Dimension"
                            on:change=move |ev| new_dimension.set(event_target_value(&ev))>
                            {move || dimensions().into_iter().map(|d| view! { <option value=d.clone()>{d.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <input type="text" data-testid="dimension-value" aria-label="Value" placeholder="value"
                        prop:value=move || new_value.get() on:input=move |ev| new_value.set(event_target_value(&ev)) />
                    <button type="submit" class="button" data-testid="dimension-apply">"Apply"</button>
                </form>
            })}
            <ul class="chips" data-testid="chips" aria-label="Active filters">{chips}</ul>
            {move || refusal.get().map(|r| view! { <p class="refusal" role="alert" data-testid="filter-refusal">{r}</p> })}
        </div>
    }
}

/// `7d` → `Last 7 days`.
pub fn period_label(period: &str) -> String {
    match period {
        "1h" => "Last hour".into(),
        "24h" => "Last 24 hours".into(),
        "7d" => "Last 7 days".into(),
        "30d" => "Last 30 days".into(),
        "90d" => "Last 90 days".into(),
        other => other.into(),
    }
}
