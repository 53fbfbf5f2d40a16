//! The session's permissions applied to filter changes, whoever asks for them: the host
//! (`setFilters`), the filter bar, or a drill-down click. A change is applied whole or refused
//! whole, with every reason, so the host's `error` event can name what was refused.

use contract::{
    embed::EmbedPermissions,
    messages::{DateRange, FilterRequest, FilterState},
    query::Period,
};

/// What the filter bar asks of a session's permissions beyond the rules themselves, which live
/// once on [`EmbedPermissions`] (`dimension_free`, `can_drill`, `period_allowed`, `period_fits`)
/// and which the server enforces again on every query.
pub trait PermissionsExt {
    /// The periods the filter bar offers, in order.
    fn selectable_periods(&self) -> Vec<String>;
    /// Why `period` may not be chosen, if it may not.
    fn period_refusal(&self, period: &str) -> Option<String>;
}

impl PermissionsExt for EmbedPermissions {
    fn selectable_periods(&self) -> Vec<String> {
        Period::ALL
            .iter()
            .map(|p| p.as_str().to_owned())
            .filter(|p| self.period_refusal(p).is_none())
            .collect()
    }

    fn period_refusal(&self, period: &str) -> Option<String> {
        let Some(parsed) = Period::parse(period) else {
            return Some(format!("period {period:?} is not a period (1h, 24h, 7d, 30d, 90d)"));
        };
        if !self.period_allowed(parsed) {
            let names: Vec<&str> = self.allowed_periods.iter().flatten().map(|p| p.as_str()).collect();
            return Some(format!("period {period} is not allowed (allowed: {})", names.join(", ")));
        }
        if !self.period_fits(parsed) {
            let max = self.max_date_range_days.unwrap_or_default();
            return Some(format!("period {period} is longer than the {max}-day maximum"));
        }
        None
    }
}

/// A refused change: every reason, each naming what was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub Vec<String>);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}", self.0.join("; "))
    }
}

/// Applies `request` to `current`: fields left out keep their current value, dimension filters
/// replace the current editable ones (locked filters always stay). Nothing changes on refusal.
pub fn apply_request(
    current: &FilterState,
    request: &FilterRequest,
    perms: &EmbedPermissions,
) -> Result<FilterState, Refusal> {
    let (next, reasons) = apply(current, request, perms);
    if reasons.is_empty() { Ok(next) } else { Err(Refusal(reasons)) }
}

/// Applies what the session allows of `request` and drops the rest (`setFilters` with
/// `partial: true`, which the helper sends to restore a viewer's state into a new session): a
/// period it does not allow keeps the current one, a dimension it does not allow (or locks to
/// another value) is left out, a range it refuses is left out.
pub fn apply_partial(
    current: &FilterState,
    request: &FilterRequest,
    perms: &EmbedPermissions,
) -> FilterState {
    apply(current, request, perms).0
}

/// The state with every allowed part of `request` applied, and the reasons for the parts refused.
fn apply(
    current: &FilterState,
    request: &FilterRequest,
    perms: &EmbedPermissions,
) -> (FilterState, Vec<String>) {
    let mut reasons = Vec::new();
    let mut next = current.clone();
    if let Some(period) = &request.period {
        match perms.period_refusal(period) {
            Some(reason) => reasons.push(reason),
            None => next.period = period.clone(),
        }
    }
    if let Some(dimensions) = &request.dimensions {
        let mut filters = perms.locked_filters.clone();
        for (dimension, value) in dimensions {
            if let Some(locked) = perms.locked_filters.get(dimension) {
                if locked != value {
                    reasons.push(format!("filter {dimension} is locked to {locked:?}"));
                }
            } else if !perms.dimension_free(dimension) {
                reasons.push(format!("dimension {dimension} is not allowed"));
            } else if value.is_empty() {
                reasons.push(format!("filter {dimension} has an empty value"));
            } else {
                filters.insert(dimension.clone(), value.clone());
            }
        }
        next.filters = filters;
    }
    if let Some(ranges) = &request.numeric_ranges {
        next.numeric_ranges.clear();
        for (prop, range) in ranges {
            let finite = range.min.is_none_or(f64::is_finite) && range.max.is_none_or(f64::is_finite);
            if !finite || matches!((range.min, range.max), (Some(lo), Some(hi)) if lo > hi) {
                reasons.push(format!("numeric range {prop} is not a range (min must not exceed max)"));
            } else {
                next.numeric_ranges.insert(prop.clone(), range.clone());
            }
        }
    }
    if let Some(ranges) = &request.date_ranges {
        next.date_ranges.clear();
        for (dimension, range) in ranges {
            match check_date_range(range, perms.max_date_range_days) {
                Err(reason) => reasons.push(format!("date range {dimension}: {reason}")),
                Ok(()) => {
                    next.date_ranges.insert(dimension.clone(), range.clone());
                }
            }
        }
    }
    (next, reasons)
}

/// Applies a drill-down: `dimension = value` on top of the current filters.
pub fn drill_apply(
    current: &FilterState,
    dimension: &str,
    value: &str,
    perms: &EmbedPermissions,
) -> Result<FilterState, Refusal> {
    if !perms.allow_drill_down {
        return Err(Refusal(vec!["drill-down is not allowed in this session".into()]));
    }
    if !perms.dimension_free(dimension) {
        return Err(Refusal(vec![format!("dimension {dimension} is not allowed")]));
    }
    let mut next = current.clone();
    next.filters.insert(dimension.to_owned(), value.to_owned());
    Ok(next)
}

/// Clears the filter on `dimension`, unless it is locked.
pub fn clear_filter(
    current: &FilterState,
    dimension: &str,
    perms: &EmbedPermissions,
) -> Result<FilterState, Refusal> {
    if perms.locked_filters.contains_key(dimension) {
        return Err(Refusal(vec![format!("filter {dimension} is locked")]));
    }
    let mut next = current.clone();
    next.filters.remove(dimension);
    Ok(next)
}

/// Checks a date range's days and, with a maximum, its length (both ends are then required).
fn check_date_range(range: &DateRange, max_days: Option<u32>) -> Result<(), String> {
    // An RFC 3339 instant counts by its day; the server resolves it exactly.
    let day = |d: &str| {
        let date = if d.len() > 10 && d.as_bytes()[10] == b'T' { &d[..10] } else { d };
        day_number(date).ok_or_else(|| format!("{d:?} is not a YYYY-MM-DD day or RFC 3339 time"))
    };
    let from = range.from.as_deref().map(day);
    let to = range.to.as_deref().map(day);
    let from = from.transpose()?;
    let to = to.transpose()?;
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err("from is after to".into());
    }
    if let Some(max) = max_days {
        let (Some(a), Some(b)) = (from, to) else {
            return Err(format!("needs both from and to (at most {max} days)"));
        };
        let days = b - a + 1;
        if days > i64::from(max) {
            return Err(format!("spans {days} days, more than the {max}-day maximum"));
        }
    }
    Ok(())
}

/// Why a custom date range is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRefusal {
    /// A day is missing (or not a day).
    Missing,
    /// `from` is after `to`.
    Reversed,
    /// `to` is after today.
    Future,
    /// Longer than `max_date_range_days`: the range's days and the maximum.
    TooLong(i64, u32),
    /// `from` lies before the longest period the session allows.
    TooEarly,
}

impl RangeRefusal {
    /// The reason in the viewer's language.
    pub fn message(self, t: &crate::i18n::Text) -> String {
        let [missing, reversed, future, too_long, too_early] = t.range_refusals;
        match self {
            RangeRefusal::Missing => missing.into(),
            RangeRefusal::Reversed => reversed.into(),
            RangeRefusal::Future => future.into(),
            RangeRefusal::TooLong(days, max) => {
                crate::i18n::fill(too_long, &[&days.to_string(), &max.to_string()])
            }
            RangeRefusal::TooEarly => too_early.into(),
        }
    }
}

/// The request a custom range `from`..=`to` (UTC days) makes on `today`, or why the session
/// refuses it: both days needed, `from` not after `to`, nothing after today, at most
/// `max_date_range_days` days (`EmbedPermissions::range_fits`), and a `from` an allowed period
/// reaches (`EmbedPermissions::period_reaching`; that period is chosen).
pub fn custom_range(
    from: &str,
    to: &str,
    today: &str,
    perms: &EmbedPermissions,
) -> Result<FilterRequest, RangeRefusal> {
    let (Some(a), Some(b), Some(now)) = (day_number(from), day_number(to), day_number(today)) else {
        return Err(RangeRefusal::Missing);
    };
    if a > b {
        return Err(RangeRefusal::Reversed);
    }
    if b > now {
        return Err(RangeRefusal::Future);
    }
    let days = b - a + 1;
    if !perms.range_fits(days) {
        return Err(RangeRefusal::TooLong(days, perms.max_date_range_days.unwrap_or_default()));
    }
    let period = perms.period_reaching(now - a).ok_or(RangeRefusal::TooEarly)?;
    let range = DateRange { from: Some(from.to_owned()), to: Some(to.to_owned()) };
    Ok(FilterRequest {
        period: Some(period.as_str().to_owned()),
        date_ranges: Some([("timestamp".to_owned(), range)].into()),
        ..Default::default()
    })
}

/// The `YYYY-MM-DD` day `days` days after 1970-01-01 (the inverse of [`day_number`]).
pub fn day_string(days: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` day (proleptic Gregorian), or `None` if it is not one.
pub fn day_number(day: &str) -> Option<i64> {
    let bytes = day.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let y: i64 = day.get(0..4)?.parse().ok()?;
    let m: i64 = day.get(5..7)?.parse().ok()?;
    let d: i64 = day.get(8..10)?.parse().ok()?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use contract::messages::NumericRange;

    use super::*;

    fn perms() -> EmbedPermissions {
        EmbedPermissions {
            allow_drill_down: true,
            locked_filters: BTreeMap::from([("plan".into(), "pro".into())]),
            hidden_widgets: vec![],
            allowed_dimensions: Some(vec!["model".into(), "endpoint".into()]),
            allowed_periods: Some(vec![Period::D7, Period::D30]),
            max_date_range_days: Some(30),
            allow_export: true,
        }
    }

    fn state() -> FilterState {
        FilterState {
            period: "30d".into(),
            filters: BTreeMap::from([("plan".into(), "pro".into())]),
            ..Default::default()
        }
    }

    fn request(period: Option<&str>, dims: &[(&str, &str)]) -> FilterRequest {
        FilterRequest {
            period: period.map(Into::into),
            dimensions: (!dims.is_empty())
                .then(|| dims.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn allowed_changes_apply_and_keep_locked_filters() {
        let next = apply_request(&state(), &request(Some("7d"), &[("model", "gpt-4")]), &perms()).unwrap();
        assert_eq!(next.period, "7d");
        assert_eq!(next.filters.get("model").map(String::as_str), Some("gpt-4"));
        assert_eq!(next.filters.get("plan").map(String::as_str), Some("pro"), "locked filter stays");
        // Restating a locked filter's own value is fine.
        assert!(apply_request(&state(), &request(None, &[("plan", "pro")]), &perms()).is_ok());
    }

    #[test]
    fn refusals_name_what_was_refused_and_change_nothing() {
        let err = apply_request(
            &state(),
            &request(Some("90d"), &[("plan", "free"), ("country", "fr"), ("model", "gpt-4")]),
            &perms(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("period 90d is not allowed"), "{text}");
        assert!(text.contains("filter plan is locked"), "{text}");
        assert!(text.contains("dimension country is not allowed"), "{text}");
        assert_eq!(err.0.len(), 3);
        let err = apply_request(&state(), &request(Some("2d"), &[]), &perms()).unwrap_err();
        assert!(err.0[0].contains("is not a period"));
    }

    #[test]
    fn partial_requests_keep_what_the_session_allows() {
        let mut req = request(Some("90d"), &[("plan", "free"), ("country", "fr"), ("model", "gpt-4")]);
        req.date_ranges = Some(BTreeMap::from([
            ("day".into(), DateRange { from: Some("2026-02-01".into()), to: Some("2026-02-07".into()) }),
            ("week".into(), DateRange { from: Some("2026-01-01".into()), to: Some("2026-03-01".into()) }),
        ]));
        let mut current = state();
        current.period = "7d".into();
        let next = apply_partial(&current, &req, &perms());
        assert_eq!(next.period, "7d", "a refused period keeps the current one");
        assert_eq!(
            next.filters,
            BTreeMap::from([("plan".into(), "pro".into()), ("model".into(), "gpt-4".into())]),
            "the locked filter stays, the disallowed dimension is dropped"
        );
        assert_eq!(next.date_ranges.keys().collect::<Vec<_>>(), ["day"], "the over-long range is dropped");
        assert!(apply_request(&current, &req, &perms()).is_err(), "the same request refused whole");
    }

    #[test]
    fn periods_respect_the_maximum_range() {
        let p = EmbedPermissions { max_date_range_days: Some(7), ..Default::default() };
        assert_eq!(p.selectable_periods(), ["1h", "24h", "7d"]);
        assert!(p.period_refusal("30d").unwrap().contains("7-day maximum"));
        assert_eq!(perms().selectable_periods(), ["7d", "30d"]);
        assert_eq!(EmbedPermissions::default().selectable_periods().len(), 5);
    }

    #[test]
    fn date_and_numeric_ranges_are_checked() {
        let mut req = FilterRequest {
            date_ranges: Some(BTreeMap::from([(
                "day".into(),
                DateRange { from: Some("2026-01-01".into()), to: Some("2026-03-01".into()) },
            )])),
            ..Default::default()
        };
        let err = apply_request(&state(), &req, &perms()).unwrap_err();
        assert!(err.0[0].contains("spans 60 days"), "{err}");
        req.date_ranges = Some(BTreeMap::from([(
            "day".into(),
            DateRange { from: Some("2026-02-01".into()), to: Some("2026-02-28".into()) },
        )]));
        assert!(apply_request(&state(), &req, &perms()).is_ok());
        req.date_ranges =
            Some(BTreeMap::from([("day".into(), DateRange { from: Some("2026-02-30".into()), to: None })]));
        assert!(
            apply_request(&state(), &req, &EmbedPermissions::default()).unwrap_err().0[0]
                .contains("not a YYYY-MM-DD")
        );
        let req = FilterRequest {
            numeric_ranges: Some(BTreeMap::from([(
                "tokens".into(),
                NumericRange { min: Some(5.0), max: Some(1.0) },
            )])),
            ..Default::default()
        };
        assert!(apply_request(&state(), &req, &perms()).is_err());
    }

    #[test]
    fn drill_and_clear_follow_permissions() {
        let next = drill_apply(&state(), "model", "gpt-4", &perms()).unwrap();
        assert_eq!(next.filters.len(), 2);
        assert!(drill_apply(&state(), "plan", "free", &perms()).is_err(), "locked");
        assert!(drill_apply(&state(), "country", "fr", &perms()).is_err(), "not allowed");
        let no_drill = EmbedPermissions { allow_drill_down: false, ..perms() };
        assert!(drill_apply(&state(), "model", "gpt-4", &no_drill).is_err());
        let cleared = clear_filter(&next, "model", &perms()).unwrap();
        assert_eq!(cleared, state());
        assert!(clear_filter(&next, "plan", &perms()).is_err());
    }

    #[test]
    fn an_empty_allow_list_allows_no_dimension() {
        let none = EmbedPermissions {
            allowed_dimensions: Some(vec![]),
            allow_drill_down: true,
            ..Default::default()
        };
        assert!(!none.dimension_free("model"));
        assert!(!none.can_drill("model"));
        assert!(EmbedPermissions::default().dimension_free("model"), "left out: every dimension");
    }

    #[test]
    fn day_strings_invert_day_numbers() {
        for day in ["1970-01-01", "2000-02-29", "2026-12-04", "2024-03-01", "1999-12-31"] {
            assert_eq!(day_string(day_number(day).unwrap()), day);
        }
    }

    #[test]
    fn custom_ranges_pick_the_period_they_narrow_or_say_why_not() {
        let p = perms(); // 7d or 30d, at most 30 days
        let ok = custom_range("2026-11-30", "2026-12-02", "2026-12-04", &p).unwrap();
        assert_eq!(ok.period.as_deref(), Some("7d"));
        let range = &ok.date_ranges.as_ref().unwrap()["timestamp"];
        assert_eq!((range.from.as_deref(), range.to.as_deref()), (Some("2026-11-30"), Some("2026-12-02")));
        assert_eq!(
            custom_range("2026-11-10", "2026-11-12", "2026-12-04", &p).unwrap().period.as_deref(),
            Some("30d")
        );
        let refused = |from, to| custom_range(from, to, "2026-12-04", &p).unwrap_err();
        assert_eq!(refused("", "2026-12-01"), RangeRefusal::Missing);
        assert_eq!(refused("2026-12-02", "2026-12-01"), RangeRefusal::Reversed);
        assert_eq!(refused("2026-12-01", "2026-12-05"), RangeRefusal::Future);
        let long = refused("2026-10-01", "2026-11-30");
        assert_eq!(long, RangeRefusal::TooLong(61, 30));
        assert!(long.message(&crate::i18n::EN).contains("61 days, more than the 30-day maximum"));
        assert!(long.message(&crate::i18n::DE).contains("61 Tage"));
        assert_eq!(refused("2026-10-01", "2026-10-02"), RangeRefusal::TooEarly);
        // The state it makes passes the same rules as any setFilters.
        let state = FilterState { period: "30d".into(), ..Default::default() };
        let next = apply_request(&state, &ok, &p).unwrap();
        assert_eq!(next.period, "7d");
        assert_eq!(next.date_ranges.len(), 1);
    }

    #[test]
    fn day_numbers() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11_017));
        assert_eq!(day_number("2024-02-29").map(|d| d - day_number("2024-02-28").unwrap()), Some(1));
        assert_eq!(day_number("2023-02-29"), None);
        assert_eq!(day_number("2023-1-01"), None);
    }
}
