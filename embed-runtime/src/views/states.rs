//! The states a widget or the whole embed can be in besides showing data.

use leptos::prelude::*;

use crate::state::Runtime;

/// The viewer's strings.
fn t() -> &'static crate::i18n::Text {
    expect_context::<Runtime>().t()
}

/// Placeholder blocks while data loads (motion only without `prefers-reduced-motion`).
#[component]
pub fn Skeleton() -> impl IntoView {
    view! {
        <div class="skeleton" data-testid="skeleton" role="status">
            <span class="sr-only">{t().loading}</span>
            <div class="skeleton-bar" aria-hidden="true"></div>
            <div class="skeleton-bar short" aria-hidden="true"></div>
            <div class="skeleton-bar" aria-hidden="true"></div>
        </div>
    }
}

/// A period without data.
#[component]
pub fn EmptyState() -> impl IntoView {
    view! { <p class="empty" data-testid="empty">{t().empty}</p> }
}

/// A failure with a way to try again.
#[component]
pub fn ErrorState(
    /// What went wrong.
    #[prop(into)]
    message: String,
    /// Runs when the viewer asks to retry.
    on_retry: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="error" data-testid="error" role="alert">
            <p>{message}</p>
            <button type="button" class="button" data-testid="retry" on:click=move |_| on_retry.run(())>
                {t().retry}
            </button>
        </div>
    }
}

/// The dashboard is not published (said in the viewer's language; the server's own message
/// goes to the host in the `error` event).
#[component]
pub fn NotPublished() -> impl IntoView {
    view! {
        <div class="notice" data-testid="not-published" role="status">
            <h1>{t().not_published}</h1>
            <p>{t().not_published_body}</p>
        </div>
    }
}

/// The session expired: the host has to mint a new embed URL.
#[component]
pub fn SessionExpired() -> impl IntoView {
    view! {
        <div class="notice" data-testid="session-expired" role="alert">
            <h1>{t().expired}</h1>
            <p>{t().expired_body}</p>
        </div>
    }
}
