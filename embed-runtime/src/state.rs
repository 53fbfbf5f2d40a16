//! The runtime's shared state and every change to it: loading the session, filter changes from
//! any source (host command, filter bar, drill), theme, reload, expiry. Each change posts the
//! contract's events, so views only call these methods.

use std::rc::Rc;

use contract::{
    dashboard::Widget,
    embed::{EmbedDashboardResponse, EmbedFilters, EmbedPermissions, EmbedQueryRequest},
    messages::{COMMANDS, Command, DrillAction, ErrorCode, Event, FilterState, PROTOCOL_VERSION, Theme},
    query::Period,
};
use leptos::prelude::*;

use crate::{
    api::{Api, ApiError},
    bridge::Bridge,
    filters,
    format::Formatter,
    i18n::{self, Text},
    theme::{self, Palette},
};

/// Where the session is.
#[derive(Debug, Clone, PartialEq)]
pub enum Load {
    /// Fetching the dashboard.
    Loading,
    /// The dashboard is shown.
    Ready,
    /// The dashboard is not published; the server's message.
    NotPublished(String),
    /// The session expired (or its token was refused).
    Expired,
    /// Loading the dashboard failed; the reason.
    Failed(String),
}

/// Host commands waiting for the dashboard's state, with their `requestId`s.
type Waiting = Vec<(Command, Option<String>)>;

/// Everything views share, as `Copy` handles (context).
#[derive(Clone, Copy)]
pub struct Runtime {
    /// Where the session is.
    pub load: RwSignal<Load>,
    /// The loaded session (dashboard, permissions, locale).
    pub session: RwSignal<Option<EmbedDashboardResponse>>,
    /// The active filters.
    pub filters: RwSignal<FilterState>,
    /// The host's theme tokens applied so far (resolved to colours charts can use).
    pub theme: RwSignal<Theme>,
    /// Bumped by `reload`: every widget refetches.
    pub refresh: RwSignal<u32>,
    /// The frame's content width in CSS pixels, for chart sizes.
    pub width: RwSignal<f64>,
    /// Per widget id: the dimension it groups by and the values in its current answer, which
    /// the filter bar offers to pick from.
    pub values: RwSignal<std::collections::BTreeMap<String, (String, Vec<String>)>>,
    api: StoredValue<Api, LocalStorage>,
    bridge: StoredValue<Bridge, LocalStorage>,
    format: StoredValue<Rc<Formatter>, LocalStorage>,
    text: StoredValue<&'static Text>,
    ready_posted: StoredValue<bool>,
    /// Between posting `ready` and setting the first dashboard state (a yield to the event loop
    /// lets the host receive `ready` before the widgets render): the host's commands, in order,
    /// handled once the state is set.
    deferred: StoredValue<Option<Waiting>, LocalStorage>,
    expiry_posted: StoredValue<bool>,
    /// Widgets whose first answer has rendered, and whether `emban:painted` was marked.
    settled: StoredValue<(usize, bool)>,
}

/// Adds a mark to the page's performance timeline (`emban:ready`, `emban:painted`), which the
/// load benchmark (and a curious host, through devtools) reads.
pub fn mark(name: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(name);
    }
}

/// The filter state a session starts from.
pub fn initial_state(filters: &EmbedFilters) -> FilterState {
    FilterState {
        period: filters.period.unwrap_or(Period::D30).as_str().to_owned(),
        filters: filters.dimensions.clone(),
        numeric_ranges: filters.numeric_ranges.clone(),
        date_ranges: filters.date_ranges.clone(),
    }
}

impl Runtime {
    /// Creates the state under the current owner. `locale` is the browser's, until the session
    /// names one.
    pub fn new(api: Api, bridge: Bridge, locale: &str) -> Self {
        Runtime {
            load: RwSignal::new(Load::Loading),
            session: RwSignal::new(None),
            filters: RwSignal::new(FilterState {
                period: Period::D30.as_str().to_owned(),
                ..Default::default()
            }),
            theme: RwSignal::new(Theme::default()),
            refresh: RwSignal::new(0),
            width: RwSignal::new(
                web_sys::window().and_then(|w| w.inner_width().ok()?.as_f64()).unwrap_or(800.0),
            ),
            values: RwSignal::new(Default::default()),
            api: StoredValue::new_local(api),
            bridge: StoredValue::new_local(bridge),
            format: StoredValue::new_local(Rc::new(Formatter::new(locale))),
            text: StoredValue::new(set_language(locale)),
            ready_posted: StoredValue::new(false),
            deferred: StoredValue::new_local(None),
            expiry_posted: StoredValue::new(false),
            settled: StoredValue::new((0, false)),
        }
    }

    /// The data API; `None` once the app is gone (a late task finds nothing to do).
    pub fn api(&self) -> Option<Api> {
        self.api.try_get_value()
    }

    /// The session's formatter.
    pub fn format(&self) -> Rc<Formatter> {
        self.format.try_get_value().unwrap_or_else(|| Rc::new(Formatter::new("")))
    }

    /// The viewer's strings (the session's language).
    pub fn t(&self) -> &'static Text {
        self.text.try_get_value().unwrap_or(&i18n::EN)
    }

    /// The session's permissions (none until loaded), tracked: views follow them.
    pub fn permissions(&self) -> EmbedPermissions {
        self.session.with(|s| s.as_ref().map(|s| s.permissions.clone()).unwrap_or_default())
    }

    /// The session's permissions, for event handlers.
    pub fn permissions_untracked(&self) -> EmbedPermissions {
        self.session
            .try_with_untracked(|s| s.as_ref().map(|s| s.permissions.clone()).unwrap_or_default())
            .unwrap_or_default()
    }

    /// The chart colours of the current theme.
    pub fn palette(&self) -> Palette {
        // The host's scheme, else the viewer's (as the stylesheet follows it), under the host's
        // colours.
        let base = if self.theme.with(is_dark) { Palette::dark() } else { Palette::default() };
        self.theme.with(|t| base.with_theme(t))
    }

    /// Moves to `load`; setting the same state again would rebuild every view under it.
    fn set_load(&self, load: Load) {
        if self.load.try_with_untracked(|current| *current != load).unwrap_or(false) {
            self.load.set(load);
        }
    }

    /// Posts an event to the host.
    pub fn post(&self, event: Event) {
        self.answer(event, None);
    }

    /// Posts an event carrying `request_id`: the answer to the command that carried it.
    pub fn answer(&self, event: Event, request_id: Option<String>) {
        self.bridge.try_with_value(|b| b.post_answer(event, request_id));
    }

    /// Fetches the session's dashboard (again, on reload) and posts `ready` the first time.
    pub fn load(self) {
        self.load_answering(None);
    }

    /// [`Runtime::load`], answering a `reload` that carried `request_id` with the `filter` it
    /// ends with (or the `error` it fails with).
    pub fn load_answering(self, request_id: Option<String>) {
        let Some(api) = self.api() else { return };
        leptos::task::spawn_local(async move {
            let result = api.dashboard().await;
            if self.load.is_disposed() {
                return;
            }
            match result {
                Ok(response) if response.published => {
                    if let Some(locale) = response.locale.as_deref().filter(|l| !l.is_empty())
                        && self.format.with_value(|f| f.locale() != locale)
                    {
                        self.format.set_value(Rc::new(Formatter::new(locale)));
                        self.text.set_value(set_language(locale));
                    }
                    let state = initial_state(&response.filters);
                    let dashboard_id = response.dashboard.id.clone();
                    let permissions = response.permissions.clone();
                    let first = !self.ready_posted.try_get_value().unwrap_or(true);
                    // A reload keeps the viewer's filters when the session still allows them.
                    let keep = !first
                        && filters::apply_request(
                            &state,
                            &to_request(&self.filters.get_untracked()),
                            &permissions,
                        )
                        .is_ok();
                    // `ready` goes out before the dashboard's state is set, and the task then
                    // yields to the event loop: setting the state renders every widget, and on a
                    // small machine that work delayed the message's delivery to the host until
                    // after the frame had painted. Commands the host sends meanwhile wait in
                    // `deferred` and are handled, in order, once the state is set.
                    if first {
                        self.ready_posted.set_value(true);
                        mark("emban:ready");
                        self.deferred.set_value(Some(Vec::new()));
                        self.post(Event::Ready {
                            dashboard_id,
                            version: Some(PROTOCOL_VERSION),
                            commands: Some(COMMANDS.iter().map(|c| (*c).to_owned()).collect()),
                            permissions: Some(permissions),
                        });
                        gloo_timers::future::TimeoutFuture::new(0).await;
                        if self.load.is_disposed() {
                            return;
                        }
                    }
                    self.session.set(Some(response));
                    if !keep {
                        self.filters.set(state);
                    }
                    self.set_load(Load::Ready);
                    self.answer(Event::Filter(self.filters.get_untracked()), request_id);
                    if first {
                        let waiting = self.deferred.try_update_value(Option::take).flatten();
                        for (command, request_id) in waiting.unwrap_or_default() {
                            self.handle_request(command, request_id);
                        }
                    }
                }
                Ok(response) => {
                    let message =
                        response.message.unwrap_or_else(|| "This dashboard is not published.".into());
                    self.session.set(None);
                    self.set_load(Load::NotPublished(message.clone()));
                    self.answer(Event::error(ErrorCode::NotPublished, message), request_id);
                }
                Err(e) => self.fail_answering(&e, None, request_id),
            }
        });
    }

    /// A widget rendered its first answer (data, empty or error). When every widget has, the
    /// next frame marks `emban:painted`.
    pub fn widget_settled(&self) {
        let total = self.session.with_untracked(|s| s.as_ref().map_or(0, |s| s.dashboard.widgets.len()));
        let done = self
            .settled
            .try_update_value(|(count, marked)| {
                *count += 1;
                let done = *count >= total && !*marked;
                *marked |= done;
                done
            })
            .unwrap_or(false);
        if done && let Some(window) = web_sys::window() {
            let callback = wasm_bindgen::closure::Closure::once_into_js(|| mark("emban:painted"));
            let _ = window.request_animation_frame(wasm_bindgen::JsCast::unchecked_ref(&callback));
        }
    }

    /// Handles a failed call: a 401 expires the session, a 404 `not_published` shows that state,
    /// anything else is reported (and, for the dashboard itself, shown).
    pub fn fail(&self, error: &ApiError, widget: Option<&str>) {
        self.fail_answering(error, widget, None);
    }

    /// [`Runtime::fail`] answering the command that carried `request_id` (which is answered even
    /// when the same failure was reported before).
    fn fail_answering(&self, error: &ApiError, widget: Option<&str>, request_id: Option<String>) {
        match error {
            ApiError::Unauthorized(_) => self.expire_answering(request_id),
            ApiError::NotPublished(message) => {
                if request_id.is_some() || !matches!(self.load.get_untracked(), Load::NotPublished(_)) {
                    self.set_load(Load::NotPublished(message.clone()));
                    self.answer(Event::error(ErrorCode::NotPublished, message.clone()), request_id);
                }
            }
            other => match widget {
                Some(title) => {
                    self.post(Event::error(ErrorCode::QueryFailed, format!("Couldn't load {title}: {other}")))
                }
                None => {
                    self.set_load(Load::Failed(other.to_string()));
                    self.answer(
                        Event::error(ErrorCode::LoadFailed, format!("Couldn't load this dashboard: {other}")),
                        request_id,
                    );
                }
            },
        }
    }

    /// The session expired: show it and tell the host once.
    pub fn expire(&self) {
        self.expire_answering(None);
    }

    /// [`Runtime::expire`]; a command that carried `request_id` is answered even after the
    /// first report.
    fn expire_answering(&self, request_id: Option<String>) {
        self.set_load(Load::Expired);
        if request_id.is_some() || !self.expiry_posted.try_get_value().unwrap_or(true) {
            self.expiry_posted.set_value(true);
            self.answer(
                Event::error(
                    ErrorCode::SessionExpired,
                    "The embed session has expired: mint a new embed URL.",
                ),
                request_id,
            );
        }
    }

    /// Applies a host command.
    pub fn handle(&self, command: Command) {
        self.handle_request(command, None);
    }

    /// Applies a host command; with a `request_id`, exactly one event carrying it answers.
    pub fn handle_request(&self, command: Command, request_id: Option<String>) {
        let mut command = Some((command, request_id));
        self.deferred.try_update_value(|waiting| {
            if let Some(waiting) = waiting {
                waiting.extend(command.take());
            }
        });
        let Some((command, request_id)) = command else { return };
        match command {
            Command::SetFilters { filters, partial } => {
                if self.load.get_untracked() != Load::Ready {
                    self.answer(
                        Event::error(
                            ErrorCode::FilterRefused,
                            "setFilters refused: the dashboard is not loaded",
                        ),
                        request_id,
                    );
                    return;
                }
                let current = self.filters.get_untracked();
                let perms = self.permissions_untracked();
                if partial == Some(true) {
                    let next = filters::apply_partial(&current, &filters, &perms);
                    return self.change_filters_answering(next, true, request_id);
                }
                match filters::apply_request(&current, &filters, &perms) {
                    Ok(next) => self.change_filters_answering(next, true, request_id),
                    Err(refusal) => self.answer(
                        Event::error(ErrorCode::FilterRefused, format!("setFilters {refusal}")),
                        request_id,
                    ),
                }
            }
            Command::SetTheme { theme } => self.set_theme_answering(theme, request_id),
            Command::Reload {} => {
                self.refresh.update(|n| *n += 1);
                self.load_answering(request_id);
            }
        }
    }

    /// Validates and applies theme tokens; an invalid one refuses the whole theme.
    pub fn set_theme(&self, theme: Theme) {
        self.set_theme_answering(theme, None);
    }

    /// [`Runtime::set_theme`]; with a `request_id`, answered by `theme` (every token set so far)
    /// or the `error`.
    fn set_theme_answering(&self, theme: Theme, request_id: Option<String>) {
        let invalid = theme::invalid_tokens(&theme, theme::browser_accepts_colour);
        if !invalid.is_empty() {
            self.answer(
                Event::error(ErrorCode::InvalidTheme, format!("setTheme refused: {}", invalid.join("; "))),
                request_id,
            );
            return;
        }
        theme::apply_to_document(&theme);
        let resolved = theme::resolve_named(&theme);
        self.theme.update(|current| {
            for (slot, value) in [
                (&mut current.primary_color, resolved.primary_color),
                (&mut current.background_color, resolved.background_color),
                (&mut current.card_background, resolved.card_background),
                (&mut current.card_border, resolved.card_border),
                (&mut current.text_color, resolved.text_color),
                (&mut current.muted_color, resolved.muted_color),
                (&mut current.color_scheme, resolved.color_scheme),
            ] {
                if value.is_some() {
                    *slot = value;
                }
            }
        });
        // The scheme (`data-scheme` picks the stylesheet's set), and state colours that stay
        // readable (WCAG AA) on the host's card background.
        let current = self.theme.get_untracked();
        theme::apply_scheme(
            current.color_scheme.as_deref(),
            theme::state_colours(&current, is_dark(&current)),
        );
        if request_id.is_some() {
            self.answer(Event::Theme { theme: self.theme.get_untracked() }, request_id);
        }
    }

    /// Makes `next` the active filters, posting `filter` (and `period-change`) when they changed
    /// or `always` (a host asked).
    pub fn change_filters(&self, next: FilterState, always: bool) {
        self.change_filters_answering(next, always, None);
    }

    /// [`Runtime::change_filters`], the `filter` event answering `request_id`.
    fn change_filters_answering(&self, next: FilterState, always: bool, request_id: Option<String>) {
        let previous = self.filters.get_untracked();
        if next == previous && !always {
            return;
        }
        if next != previous {
            self.filters.set(next.clone());
        }
        let period_changed = next.period != previous.period;
        self.answer(Event::Filter(next.clone()), request_id);
        if period_changed {
            self.post(Event::PeriodChange { previous_period: previous.period, period: next.period });
        }
    }

    /// A click on a value of `dimension`: applies it when drill-down is allowed, else reports it
    /// as a `detail` request for the host.
    pub fn drill(&self, dimension: &str, value: &str) {
        let perms = self.permissions_untracked();
        if perms.can_drill(dimension)
            && let Ok(next) = filters::drill_apply(&self.filters.get_untracked(), dimension, value, &perms)
        {
            self.change_filters(next, false);
            self.post(Event::Drill {
                dimension: dimension.into(),
                value: value.into(),
                action: DrillAction::Apply,
            });
        } else {
            self.post(Event::Drill {
                dimension: dimension.into(),
                value: value.into(),
                action: DrillAction::Detail,
            });
        }
    }

    /// Clears the filter on `dimension` (a chip's ✕).
    pub fn clear(&self, dimension: &str) {
        let current = self.filters.get_untracked();
        let Some(value) = current.filters.get(dimension).cloned() else { return };
        if let Ok(next) = filters::clear_filter(&current, dimension, &self.permissions_untracked()) {
            self.change_filters(next, false);
            self.post(Event::Drill { dimension: dimension.into(), value, action: DrillAction::Clear });
        }
    }

    /// Records the group values of `widget`'s current answer (for the filter bar).
    pub fn saw_values(&self, widget: &Widget, rows: &[contract::query::QueryRow]) {
        let Some(dimension) = widget.query.group_by.clone() else { return };
        let mut values: Vec<String> = Vec::new();
        for value in rows.iter().filter_map(|r| r.group.clone().flatten()) {
            if !values.contains(&value) {
                values.push(value);
            }
        }
        let entry = (dimension, values);
        if self.values.with_untracked(|v| v.get(&widget.id) != Some(&entry)) {
            self.values.update(|v| {
                v.insert(widget.id.clone(), entry);
            });
        }
    }

    /// The values of `dimension` in the widgets' current answers, sorted.
    pub fn values_of(&self, dimension: &str) -> Vec<String> {
        let mut out = std::collections::BTreeSet::new();
        self.values.with(|v| {
            for (d, values) in v.values() {
                if d == dimension {
                    for value in values {
                        out.insert(value.clone());
                    }
                }
            }
        });
        out.into_iter().collect()
    }

    /// The query for `widget` under the active filters (tracked: a resource refetches on change).
    pub fn query_for(&self, widget: &Widget) -> EmbedQueryRequest {
        let state = self.filters.get();
        EmbedQueryRequest {
            widget_id: widget.id.clone(),
            filters: EmbedFilters {
                period: Period::parse(&state.period),
                dimensions: state.filters,
                numeric_ranges: state.numeric_ranges,
                date_ranges: state.date_ranges,
            },
            drill: None,
            // Untracked: a reload that brings the same dashboard must not refetch twice.
            dashboard_id: self.session.with_untracked(|s| s.as_ref().map(|s| s.dashboard.id.clone())),
        }
    }
}

/// The catalogue for `locale`, and `<html lang>` set to match.
fn set_language(locale: &str) -> &'static Text {
    if let Some(root) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = root.set_attribute("lang", i18n::page_lang(locale));
    }
    i18n::for_locale(locale)
}

/// Whether the dark set applies: the host's `colorScheme`, else the viewer's preference.
fn is_dark(theme: &Theme) -> bool {
    match theme.color_scheme.as_deref() {
        Some(scheme) => scheme == "dark",
        None => web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches()),
    }
}

/// The active state as a request (to re-check it against new permissions).
fn to_request(state: &FilterState) -> contract::messages::FilterRequest {
    contract::messages::FilterRequest {
        period: Some(state.period.clone()),
        dimensions: Some(state.filters.clone()),
        numeric_ranges: Some(state.numeric_ranges.clone()),
        date_ranges: Some(state.date_ranges.clone()),
    }
}
