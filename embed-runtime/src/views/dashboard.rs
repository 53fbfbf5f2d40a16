//! The whole embed: the session's state, or the filter bar over the published widgets on the
//! 12-column grid (one column on narrow frames).

use contract::dashboard::Widget;
use leptos::prelude::*;

use crate::{
    state::{Load, Runtime},
    views::{
        filter_bar::FilterBar,
        states::{ErrorState, NotPublished, SessionExpired, Skeleton},
        widget::WidgetCard,
    },
};

/// Widgets in reading order (top to bottom, left to right), which is also their order when they
/// stack in one column.
pub fn reading_order(widgets: &[Widget]) -> Vec<Widget> {
    crate::data::sorted_by(widgets.to_vec(), &|a, b| {
        (a.layout.y, a.layout.x, &a.id) < (b.layout.y, b.layout.x, &b.id)
    })
}

/// A widget's identity for the grid: its id and everything that changes what it shows, so a
/// republished widget with new content becomes a new card (and refetches).
pub fn widget_key(w: &Widget) -> String {
    let q = &w.query;
    let filters: Vec<String> = q.filters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{},{},{},{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        w.id,
        w.title,
        w.kind.as_str(),
        w.viz.viz_type.as_str(),
        w.layout.x,
        w.layout.y,
        w.layout.w,
        w.layout.h,
        q.event_name,
        q.metric.as_str(),
        q.numeric_prop.as_deref().unwrap_or(""),
        q.granularity.map_or("", |g| g.as_str()),
        q.group_by.as_deref().unwrap_or(""),
        filters.join("&"),
        q.limit.map_or(String::new(), |l| l.to_string()),
    )
}

/// The dashboard, or the state the session is in.
#[component]
pub fn DashboardView() -> impl IntoView {
    let rt = expect_context::<Runtime>();
    let widgets = move || {
        rt.session.with(|s| s.as_ref().map(|s| reading_order(&s.dashboard.widgets)).unwrap_or_default())
    };
    let name = move || rt.session.with(|s| s.as_ref().map(|s| s.dashboard.name.clone()).unwrap_or_default());
    move || {
        match rt.load.get() {
        Load::Loading => view! {
            <div class="grid" data-testid="loading" aria-busy="true">
                <section class="card" style="--x:1;--y:1;--w:12;--h:3"><Skeleton /></section>
            </div>
        }
        .into_any(),
        Load::Expired => view! { <SessionExpired /> }.into_any(),
        Load::NotPublished(_) => view! { <NotPublished /> }.into_any(),
        // The reason went to the host (`load_failed`); the viewer gets no server text.
        Load::Failed(_) => {
            view! { <ErrorState message=rt.t().dashboard_failed on_retry=Callback::new(move |_| rt.load()) /> }
                .into_any()
        }
        Load::Ready => view! {
            <h1 class="sr-only">{name}</h1>
            <FilterBar />
            <div class="grid" data-testid="grid">
                <For
                    each=widgets
                    // A republished widget with the same id but new content is a new card.
                    key=widget_key
                    children=|w: Widget| view! { <WidgetCard widget=w /> }
                />
            </div>
        }
        .into_any(),
    }
    }
}
