//! Query rows shaped for display: series for time charts, categories for breakdowns, table rows
//! and the text summaries screen readers get instead of the picture.

use contract::query::{Granularity, QueryRow};

use crate::{
    charts::{Category, Series, TimeSeries},
    i18n::{Words, fill},
};

/// Most series a time chart draws; the smallest groups beyond it are folded into "Other".
pub const MAX_SERIES: usize = 6;
/// Most categories a breakdown draws.
pub const MAX_CATEGORIES: usize = 10;

/// English words (`i18n::EN`).
pub const ENGLISH: Words<'static> = crate::i18n::EN.words;

/// Indices `0..n` ordered by `before` (a strict "comes first"), ties kept in index order. One
/// binary insertion sort shared by every caller: `sort_by` compiles a quicksort for each element
/// type and comparator (about 2 KB of wasm each), and the lists sorted here are short.
pub fn sorted_indices(n: usize, before: &dyn Fn(usize, usize) -> bool) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::with_capacity(n);
    for i in 0..n {
        let at = order.partition_point(|&j| !before(i, j));
        order.insert(at, i);
    }
    order
}

/// `items` in the order of `sorted_indices(items.len(), before)`.
pub fn sorted_by<T>(items: Vec<T>, before: &dyn Fn(&T, &T) -> bool) -> Vec<T> {
    let order = sorted_indices(items.len(), &|a, b| before(&items[a], &items[b]));
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// Whether rows hold nothing worth drawing: no rows, or no value other than null or zero.
pub fn is_empty(rows: &[QueryRow]) -> bool {
    rows.iter().all(|r| r.value.is_none_or(|v| v == 0.0))
}

/// Groups in order of their total, largest first (ties keep the server's order).
fn groups_by_total(rows: &[QueryRow]) -> Vec<(Option<String>, f64)> {
    let mut totals: Vec<(Option<String>, f64, usize)> = Vec::new();
    for row in rows {
        let group = row.group.clone().flatten();
        let v = row.value.unwrap_or(0.0);
        match totals.iter_mut().find(|(g, _, _)| *g == group) {
            Some((_, total, _)) => *total += v,
            None => totals.push((group, v, totals.len())),
        }
    }
    // Largest first; ties keep the first-seen order.
    sorted_by(totals, &|a, b| a.1.total_cmp(&b.1).is_gt()).into_iter().map(|(g, v, _)| (g, v)).collect()
}

fn label(group: &Option<String>, words: Words<'_>) -> (String, Option<String>) {
    match group {
        Some(g) => (g.clone(), Some(g.clone())),
        None => (words.none.to_owned(), None),
    }
}

/// Series over buckets. Ungrouped rows make one series; grouped rows one per group, the largest
/// [`MAX_SERIES`] − 1 kept and the rest summed into "Other" when the metric adds up (`additive`),
/// dropped otherwise. `bucket_label` formats a bucket's RFC 3339 start.
pub fn time_series(
    rows: &[QueryRow],
    additive: bool,
    bucket_label: &dyn Fn(&str) -> String,
    words: Words<'_>,
) -> TimeSeries {
    let mut buckets: Vec<&str> = Vec::new();
    for row in rows {
        if let Some(b) = row.bucket.as_deref()
            && buckets.last() != Some(&b)
            && !buckets.contains(&b)
        {
            buckets.push(b);
        }
    }
    let index = |b: &str| buckets.iter().position(|x| *x == b);
    let grouped = rows.iter().any(|r| r.group.is_some());
    let mut series = Vec::new();
    if !grouped {
        let mut values = vec![None; buckets.len()];
        for row in rows {
            if let Some(i) = row.bucket.as_deref().and_then(index) {
                values[i] = row.value;
            }
        }
        series.push(Series { name: words.value.to_owned(), drill: None, values });
    } else {
        let groups = groups_by_total(rows);
        let fold = groups.len() > MAX_SERIES;
        let kept = if fold { MAX_SERIES - 1 } else { groups.len() };
        for (group, _) in &groups[..kept] {
            let mut values = vec![None; buckets.len()];
            for row in rows.iter().filter(|r| r.group.clone().flatten() == *group) {
                if let Some(i) = row.bucket.as_deref().and_then(index) {
                    values[i] = row.value;
                }
            }
            let (name, drill) = label(group, words);
            series.push(Series { name, drill, values });
        }
        if fold && additive {
            let mut values = vec![None; buckets.len()];
            for row in rows {
                let group = row.group.clone().flatten();
                if groups[..kept].iter().any(|(g, _)| *g == group) {
                    continue;
                }
                if let (Some(i), Some(v)) = (row.bucket.as_deref().and_then(index), row.value) {
                    values[i] = Some(values[i].unwrap_or(0.0) + v);
                }
            }
            series.push(Series { name: words.other.to_owned(), drill: None, values });
        }
    }
    TimeSeries {
        labels: buckets.iter().map(|b| bucket_label(b)).collect(),
        series,
        partial_last: false,
        previous: Vec::new(),
    }
}

/// Seconds since 1970 of an RFC 3339 UTC time (`2026-12-03T19:00:00Z`, fractions and a `+00:00`
/// offset allowed), or `None`.
pub fn epoch_seconds(time: &str) -> Option<i64> {
    let day = crate::filters::day_number(time.get(0..10)?)?;
    let clock = time.get(11..19)?.as_bytes();
    if time.as_bytes().get(10) != Some(&b'T') || clock[2] != b':' || clock[5] != b':' {
        return None;
    }
    let part = |a: usize| time.get(11 + a..13 + a).and_then(|p| p.parse::<i64>().ok());
    let rest = time.get(19..)?;
    let rest = rest.strip_prefix('.').map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    if !matches!(rest, "Z" | "z" | "+00:00" | "") {
        return None;
    }
    Some(day * 86_400 + part(0)? * 3_600 + part(3)? * 60 + part(6)?)
}

/// Whether the bucket starting at `last` (RFC 3339) of `granularity` ends after `now` or the
/// period's end `to` (whichever is earlier): the current, still-filling bucket.
pub fn is_partial(last: &str, granularity: Option<Granularity>, to: &str, now: i64) -> bool {
    let (Some(start), Some(granularity)) = (epoch_seconds(last), granularity) else { return false };
    let end = match granularity {
        Granularity::Hour => start + 3_600,
        Granularity::Day => start + 86_400,
        Granularity::Week => start + 7 * 86_400,
        Granularity::Month => {
            let (y, m) = (last.get(0..4).and_then(|y| y.parse::<i32>().ok()), last.get(5..7));
            let (Some(y), Some(m)) = (y, m.and_then(|m| m.parse::<u32>().ok())) else { return false };
            let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            match crate::filters::day_number(&format!("{y:04}-{m:02}-01")) {
                Some(day) => day * 86_400,
                None => return false,
            }
        }
    };
    let until = epoch_seconds(to).map_or(now, |to| to.min(now));
    end > until
}

/// Categories of a breakdown, largest first; beyond [`MAX_CATEGORIES`] the rest are summed into
/// "Other" when `additive`, dropped otherwise.
pub fn categories(rows: &[QueryRow], additive: bool, words: Words<'_>) -> Vec<Category> {
    let groups = groups_by_total(rows);
    let fold = groups.len() > MAX_CATEGORIES;
    let kept = if fold { MAX_CATEGORIES - 1 } else { groups.len() };
    let mut out: Vec<Category> = groups[..kept]
        .iter()
        .map(|(group, total)| {
            let (label, drill) = label(group, words);
            Category { label, drill, value: *total }
        })
        .collect();
    if fold && additive {
        let rest: f64 = groups[kept..].iter().map(|(_, v)| v).sum();
        out.push(Category { label: words.other.to_owned(), drill: None, value: rest });
    }
    out
}

/// A row of a widget's data table (the table widget, and every chart's accessible table view).
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    /// The bucket's label, for time series.
    pub bucket: Option<String>,
    /// The group's label, for grouped data.
    pub group: Option<String>,
    /// The group value to drill into (`None` for events without the prop).
    pub drill: Option<String>,
    /// The metric.
    pub value: Option<f64>,
}

/// Every row, labelled. Grouped data without buckets comes largest first.
pub fn table_rows(
    rows: &[QueryRow],
    bucket_label: &dyn Fn(&str) -> String,
    words: Words<'_>,
) -> Vec<TableRow> {
    let mut out: Vec<TableRow> = rows
        .iter()
        .map(|r| {
            let group = r.group.as_ref().map(|g| label(g, words));
            TableRow {
                bucket: r.bucket.as_deref().map(bucket_label),
                group: group.as_ref().map(|(l, _)| l.clone()),
                drill: group.and_then(|(_, d)| d),
                value: r.value,
            }
        })
        .collect();
    if out.iter().all(|r| r.bucket.is_none()) {
        out = sorted_by(out, &|a, b| {
            a.value.unwrap_or(f64::MIN).total_cmp(&b.value.unwrap_or(f64::MIN)).is_gt()
        });
    }
    out
}

/// A one-paragraph text alternative for a time chart.
pub fn describe_time_series(
    title: &str,
    chart: &str,
    data: &TimeSeries,
    fmt: &dyn Fn(f64) -> String,
    words: Words<'_>,
) -> String {
    let (Some(first), Some(last)) = (data.labels.first(), data.labels.last()) else {
        return fill(words.no_data, &[title, chart]);
    };
    let mut text = fill(words.points, &[title, chart, &data.labels.len().to_string(), first, last]);
    for series in data.series.iter().take(4) {
        let peak = series
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let latest = series.values.iter().rev().find_map(|v| *v);
        if let (Some((i, peak)), Some(latest)) = (peak, latest) {
            text.push_str(&fill(
                words.series,
                &[
                    &series.name,
                    &fmt(latest),
                    &fmt(peak),
                    data.labels.get(i).map(String::as_str).unwrap_or(""),
                ],
            ));
        }
    }
    if data.series.len() > 4 {
        text.push_str(&fill(words.more_series, &[&(data.series.len() - 4).to_string()]));
    }
    if data.partial_last {
        text.push_str(&fill(words.partial, &[last]));
    }
    text
}

/// A one-paragraph text alternative for a breakdown.
pub fn describe_categories(
    title: &str,
    chart: &str,
    data: &[Category],
    fmt: &dyn Fn(f64) -> String,
    words: Words<'_>,
) -> String {
    if data.is_empty() {
        return fill(words.no_data, &[title, chart]);
    }
    let total: f64 = data.iter().map(|c| c.value).sum();
    let parts: Vec<String> = data
        .iter()
        .take(5)
        .map(|c| {
            let share = if total > 0.0 { (c.value / total * 100.0).round() } else { 0.0 };
            format!("{} {} ({share}%)", c.label, fmt(c.value))
        })
        .collect();
    fill(words.categories, &[title, chart, &data.len().to_string(), &parts.join(", ")])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_bucket_is_partial() {
        assert_eq!(epoch_seconds("1970-01-02T01:00:05Z"), Some(86_400 + 3_605));
        assert_eq!(epoch_seconds("1970-01-01T00:00:00.250+00:00"), Some(0));
        assert_eq!(epoch_seconds("1970-01-01 00:00:00Z"), None);
        assert_eq!(epoch_seconds("1970-01-01T00:00:00+02:00"), None);
        let now = epoch_seconds("2026-12-03T19:15:00Z").unwrap();
        let to = "2026-12-03T20:00:00Z";
        let day = Some(Granularity::Day);
        assert!(is_partial("2026-12-03T00:00:00Z", day, to, now), "today");
        assert!(!is_partial("2026-12-02T00:00:00Z", day, to, now), "yesterday");
        assert!(is_partial("2026-12-03T19:00:00Z", Some(Granularity::Hour), to, now), "this hour");
        assert!(!is_partial("2026-12-03T18:00:00Z", Some(Granularity::Hour), to, now));
        assert!(is_partial("2026-12-01T00:00:00Z", Some(Granularity::Month), to, now));
        assert!(!is_partial("2026-11-01T00:00:00Z", Some(Granularity::Month), to, now));
        assert!(is_partial("2026-11-30T00:00:00Z", Some(Granularity::Week), to, now));
        // A period that ended in the past: its last whole bucket is complete.
        let past = "2026-11-20T00:00:00Z";
        assert!(!is_partial("2026-11-19T00:00:00Z", day, past, now));
        assert!(!is_partial("2026-12-03T00:00:00Z", None, to, now), "no granularity, no claim");
    }

    #[test]
    fn sorted_indices_are_stable() {
        let keys = [3, 1, 3, 2, 1];
        assert_eq!(sorted_indices(keys.len(), &|a, b| keys[a] > keys[b]), [0, 2, 3, 1, 4]);
        assert_eq!(sorted_by(vec!["b", "a", "c"], &|a, b| a < b), ["a", "b", "c"]);
        assert!(sorted_indices(0, &|_, _| true).is_empty());
    }

    fn row(bucket: Option<&str>, group: Option<Option<&str>>, value: Option<f64>) -> QueryRow {
        QueryRow { bucket: bucket.map(Into::into), group: group.map(|g| g.map(Into::into)), value }
    }

    fn label(b: &str) -> String {
        b.get(5..10).unwrap_or(b).to_owned()
    }

    #[test]
    fn ungrouped_rows_make_one_series() {
        let rows = vec![
            row(Some("2026-11-19T00:00:00Z"), None, Some(1.0)),
            row(Some("2026-11-20T00:00:00Z"), None, None),
        ];
        let ts = time_series(&rows, true, &label, ENGLISH);
        assert_eq!(ts.labels, ["11-19", "11-20"]);
        assert_eq!(ts.series.len(), 1);
        assert_eq!(ts.series[0].values, [Some(1.0), None]);
        assert_eq!(ts.series[0].drill, None);
    }

    #[test]
    fn groups_become_series_ordered_by_total_with_other() {
        let mut rows = Vec::new();
        for day in ["2026-11-19T00:00:00Z", "2026-11-20T00:00:00Z"] {
            for (i, g) in ["a", "b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
                rows.push(row(Some(day), Some(Some(g)), Some(i as f64 + 1.0)));
            }
            rows.push(row(Some(day), Some(None), Some(100.0)));
        }
        let ts = time_series(&rows, true, &label, ENGLISH);
        assert_eq!(ts.series.len(), MAX_SERIES);
        assert_eq!(ts.series[0].name, "(none)");
        assert_eq!(ts.series[0].drill, None, "null groups are not drillable");
        assert_eq!(ts.series[1].name, "h");
        assert_eq!(ts.series[1].drill.as_deref(), Some("h"));
        let other = ts.series.last().unwrap();
        assert_eq!(other.name, "Other");
        assert_eq!(other.values, [Some(1.0 + 2.0 + 3.0 + 4.0); 2]);
        let not_additive = time_series(&rows, false, &label, ENGLISH);
        assert_eq!(not_additive.series.len(), MAX_SERIES - 1, "p95s do not add up");
    }

    #[test]
    fn categories_fold_the_tail() {
        let rows: Vec<QueryRow> =
            (0..15).map(|i| row(None, Some(Some(&format!("g{i}"))), Some(i as f64))).collect();
        let cats = categories(&rows, true, ENGLISH);
        assert_eq!(cats.len(), MAX_CATEGORIES);
        assert_eq!(cats[0].label, "g14");
        assert_eq!(cats.last().unwrap().label, "Other");
        assert_eq!(cats.last().unwrap().value, (0..6).sum::<i32>() as f64);
    }

    #[test]
    fn empty_means_no_nonzero_value() {
        assert!(is_empty(&[]));
        assert!(is_empty(&[row(None, None, Some(0.0)), row(None, None, None)]));
        assert!(!is_empty(&[row(None, None, Some(0.5))]));
    }

    #[test]
    fn table_rows_are_labelled() {
        let rows = vec![
            row(None, Some(Some("b")), Some(1.0)),
            row(None, Some(Some("a")), Some(5.0)),
            row(None, Some(None), None),
        ];
        let table = table_rows(&rows, &label, ENGLISH);
        assert_eq!(table[0].group.as_deref(), Some("a"));
        assert_eq!(table[2].group.as_deref(), Some("(none)"));
        assert_eq!(table[2].drill, None);
    }

    #[test]
    fn summaries_name_the_numbers() {
        let ts = TimeSeries {
            partial_last: false,
            previous: Vec::new(),
            labels: vec!["Nov 19".into(), "Nov 20".into()],
            series: vec![Series { name: "gpt-4".into(), drill: None, values: vec![Some(9.0), Some(4.0)] }],
        };
        let text = describe_time_series("Calls", "Line chart", &ts, &|v| format!("{v}"), ENGLISH);
        assert_eq!(
            text,
            "Calls: Line chart, 2 points from Nov 19 to Nov 20. gpt-4: latest 4, peak 9 at Nov 19."
        );
        let cats = vec![
            Category { label: "a".into(), drill: None, value: 3.0 },
            Category { label: "b".into(), drill: None, value: 1.0 },
        ];
        assert_eq!(
            describe_categories("By model", "Pie chart", &cats, &|v| format!("{v}"), ENGLISH),
            "By model: Pie chart of 2 categories. a 3 (75%), b 1 (25%)."
        );
    }
}
