//! The filter bar: the period (within the session's allowed periods), dimension filters (among
//! the allowed dimensions), locked filters shown locked, and a chip per active filter that
//! clears it. Everything works from the keyboard: native selects, inputs and buttons.

use std::collections::BTreeSet;

use contract::{
    embed::EmbedExportRequest,
    messages::{Event, FilterRequest, FilterState},
    query::{Granularity, Period},
};
use leptos::prelude::*;

use crate::{
    filters::{self, PermissionsExt},
    i18n::{Text, fill},
    state::Runtime,
    views::widget::download,
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
            Err(_) => refusal.set(Some(rt.t().filter_refused.to_owned())),
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
            Err(_) => refusal.set(Some(rt.t().filter_refused.to_owned())),
        }
    };
    // The custom date range (UTC days): within the longest period the session allows and the
    // session's day limit; it narrows the shortest allowed period that reaches back to `from`.
    let range_from = RwSignal::new(String::new());
    let range_to = RwSignal::new(String::new());
    let apply_range = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let today = today();
        let perms = rt.permissions_untracked();
        let current = rt.filters.get_untracked();
        let t = rt.t();
        let result =
            filters::custom_range(&range_from.get_untracked(), &range_to.get_untracked(), &today, &perms)
                .map_err(|why| why.message(t))
                .and_then(|request| {
                    filters::apply_request(&current, &request, &perms)
                        .map_err(|_| t.filter_refused.to_owned())
                });
        match result {
            Ok(next) => {
                refusal.set(None);
                rt.change_filters(next, false);
            }
            Err(reason) => refusal.set(Some(reason)),
        }
    };
    // The inputs' bounds, set once: a session's permissions never change.
    let (range_min, range_max) = {
        let today = today();
        let perms = rt.permissions_untracked();
        let longest =
            perms.selectable_periods().iter().filter_map(|p| Period::parse(p)).map(|p| p.hours()).max();
        let min =
            longest.and_then(|h| filters::day_number(&today).map(|t| filters::day_string(t - h / 24 + 1)));
        (min.unwrap_or_default(), today)
    };
    let range_chips = move || {
        let format = rt.format();
        let day_label = |day: &str| format.bucket(&format!("{day}T00:00:00Z"), Some(Granularity::Day));
        let state = rt.filters.get();
        let mut chips = Vec::new();
        for (key, range) in &state.date_ranges {
            let text = format!(
                "{} – {}",
                range.from.as_deref().map_or_else(|| "…".to_owned(), &day_label),
                range.to.as_deref().map_or_else(|| "…".to_owned(), &day_label)
            );
            chips.push(("date", key.clone(), text));
        }
        for (key, range) in &state.numeric_ranges {
            let fmt = |v: Option<f64>| v.map_or_else(|| "…".to_owned(), |v| rt.format().number(v));
            chips.push(("numeric", key.clone(), format!("{key}: {} – {}", fmt(range.min), fmt(range.max))));
        }
        chips
            .into_iter()
            .map(|(kind, key, text)| {
                let label = fill(rt.t().clear_range, &[&text]);
                view! {
                    <li class="chip" data-testid=format!("chip-{kind}-range")>
                        {text}
                        <button type="button" class="chip-clear" data-testid="chip-clear" aria-label=label
                            on:click=move |_| rt.change_filters(without_range(&rt.filters.get_untracked(), kind, &key), false)>"×"</button>
                    </li>
                }
            })
            .collect_view()
    };
    // The whole dashboard as one CSV (every visible widget, as the server writes it).
    let export_all = move |_| {
        let Some(api) = rt.api() else { return };
        let Some(first) =
            rt.session.with_untracked(|s| s.as_ref().and_then(|s| s.dashboard.widgets.first().cloned()))
        else {
            return;
        };
        let query = rt.query_for(&first);
        let request =
            EmbedExportRequest { widget_ids: None, filters: query.filters, dashboard_id: query.dashboard_id };
        let name =
            rt.session.with_untracked(|s| s.as_ref().map(|s| s.dashboard.name.clone()).unwrap_or_default());
        leptos::task::spawn_local(async move {
            match api.export(&request).await {
                Ok(text) => {
                    download(&crate::csv::file_name(&name, "csv"), "text/csv;charset=utf-8", &text);
                    rt.post(Event::Export { widget_id: None, format: "csv".into() });
                }
                Err(e) => rt.fail(&e, Some(&name)),
            }
        });
    };
    let chips = move || {
        let perms = rt.permissions();
        rt.filters
            .with(|f| f.filters.clone())
            .into_iter()
            .map(|(dimension, value)| {
                if perms.locked_filters.contains_key(&dimension) {
                    let label = fill(rt.t().locked_filter, &[&dimension, &value]);
                    view! {
                        <li class="chip locked" data-testid="chip-locked" aria-label=label>
                            <span aria-hidden="true">"🔒 "</span>{format!("{dimension}: {value}")}
                        </li>
                    }
                    .into_any()
                } else {
                    let label = fill(rt.t().clear_filter, &[&dimension, &value]);
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
    let t = rt.t();
    view! {
        <div class="filter-bar" data-testid="filter-bar" role="region" aria-label=t.filters>
            <label class="field">
                <span>{t.period}</span>
                <select data-testid="period-select" on:change=on_period prop:value=move || rt.filters.with(|f| f.period.clone())>
                    {move || {
                        let current = rt.filters.with(|f| f.period.clone());
                        periods()
                            .into_iter()
                            .map(|p| {
                                let selected = p == current;
                                view! { <option value=p.clone() selected=selected>{period_label(&p, rt.t())}</option> }
                            })
                            .collect_view()
                    }}
                </select>
            </label>
            {move || can_add.get().then(|| view! {
                <form class="add-filter" data-testid="add-filter" on:submit=add_filter>
                    <label class="field">
                        <span>{t.filter}</span>
                        <select data-testid="dimension-select" aria-label=t.dimension
                            on:change=move |ev| new_dimension.set(event_target_value(&ev))>
                            {move || dimensions().into_iter().map(|d| view! { <option value=d.clone()>{d.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                    <datalist id="emban-filter-values" data-testid="filter-values">
                        {move || {
                            let d = new_dimension.get();
                            let d = if d.is_empty() { dimensions().into_iter().next().unwrap_or_default() } else { d };
                            rt.values_of(&d).into_iter().map(|v| view! { <option value=v></option> }).collect_view()
                        }}
                    </datalist>
                    <input type="text" data-testid="dimension-value" aria-label=t.value placeholder=t.value
                        list="emban-filter-values" autocomplete="off"
                        prop:value=move || new_value.get() on:input=move |ev| new_value.set(event_target_value(&ev)) />
                    <button type="submit" class="button" data-testid="dimension-apply">{t.apply}</button>
                </form>
            })}
            <form class="add-filter" data-testid="date-range" novalidate=true on:submit=apply_range>
                <label class="field">
                    <span>{t.range[0]}</span>
                    <input type="date" data-testid="range-from" min=range_min.clone() max=range_max.clone()
                        prop:value=move || range_from.get() on:input=move |ev| range_from.set(event_target_value(&ev)) />
                </label>
                <label class="field">
                    <span>{t.range[1]}</span>
                    <input type="date" data-testid="range-to" min=range_min max=range_max
                        prop:value=move || range_to.get() on:input=move |ev| range_to.set(event_target_value(&ev)) />
                </label>
                <button type="submit" class="button" data-testid="range-apply">{t.range[2]}</button>
            </form>
            <ul class="chips" data-testid="chips" aria-label=t.active_filters>{chips}{range_chips}</ul>
            {rt.permissions_untracked().allow_export.then(|| view! {
                <button type="button" class="button export-all" data-testid="export-dashboard" on:click=export_all>
                    {t.export_all}
                </button>
            })}
            {move || refusal.get().map(|r| view! { <p class="refusal" role="alert" data-testid="filter-refusal">{r}</p> })}
        </div>
    }
}

/// `7d` → `Last 7 days`, in the viewer's language.
pub fn period_label(period: &str, t: &Text) -> String {
    match Period::ALL.iter().position(|p| p.as_str() == period) {
        Some(i) => t.periods.get(i).copied().unwrap_or(period).to_owned(),
        None => period.to_owned(),
    }
}

/// Today's UTC day, `YYYY-MM-DD`.
fn today() -> String {
    String::from(js_sys::Date::new_0().to_iso_string()).chars().take(10).collect()
}

/// `state` without its date ranges (`kind` "date") or without the numeric range on `key`.
fn without_range(state: &FilterState, kind: &str, key: &str) -> FilterState {
    let mut next = state.clone();
    if kind == "date" {
        next.date_ranges.remove(key);
    } else {
        next.numeric_ranges.remove(key);
    }
    next
}
