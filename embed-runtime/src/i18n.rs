//! Every viewer-facing string of the runtime, in one catalogue: English and German, chosen by
//! the session's `locale` (`de`, `de-DE`, `de-AT`… → German; anything else → English). Events
//! posted to the host stay English (they are for developers, and documented). Templates number
//! their parts: `{0}`, `{1}`… ([`fill`]).

/// Words the shaping needs, in the viewer's language.
#[derive(Debug, Clone, Copy)]
pub struct Words<'a> {
    /// Label of folded-together small groups.
    pub other: &'a str,
    /// Label of events without the grouped prop.
    pub none: &'a str,
    /// Name of the single series of an ungrouped chart.
    pub value: &'a str,
    /// Summary of a chart without data: title, chart.
    pub no_data: &'a str,
    /// A time chart's summary: title, chart, count, first and last bucket.
    pub points: &'a str,
    /// One series in it: name, latest, peak, peak's bucket.
    pub series: &'a str,
    /// Series beyond the fourth: their count.
    pub more_series: &'a str,
    /// The still-filling bucket: its label.
    pub partial: &'a str,
    /// A breakdown's summary: title, chart, count, the largest parts.
    pub categories: &'a str,
}

/// The runtime's strings in one language.
#[derive(Debug, Clone, Copy)]
pub struct Text {
    /// The BCP 47 language of these strings (`<html lang>` when the session names none of it).
    pub lang: &'static str,
    /// Words and sentences the data shaping and the text summaries use.
    pub words: Words<'static>,
    /// Skeletons' status text.
    pub loading: &'static str,
    /// A period without data.
    pub empty: &'static str,
    /// The retry button.
    pub retry: &'static str,
    /// A widget that could not load (never the server's own text).
    pub widget_failed: &'static str,
    /// The dashboard could not load.
    pub dashboard_failed: &'static str,
    /// Not published: heading and text.
    pub not_published: &'static str,
    /// Not published: text.
    pub not_published_body: &'static str,
    /// Session expired: heading.
    pub expired: &'static str,
    /// Session expired: text.
    pub expired_body: &'static str,
    /// The filter bar's region label.
    pub filters: &'static str,
    /// The period select's label.
    pub period: &'static str,
    /// Period labels: 1h, 24h, 7d, 30d, 90d.
    pub periods: [&'static str; 5],
    /// The add-filter label.
    pub filter: &'static str,
    /// The dimension select's label.
    pub dimension: &'static str,
    /// The value input's label and placeholder.
    pub value: &'static str,
    /// Apply a filter.
    pub apply: &'static str,
    /// The chips' list label.
    pub active_filters: &'static str,
    /// Clear chip `{0} = {1}`.
    pub clear_filter: &'static str,
    /// A locked chip `{0}` is `{1}`.
    pub locked_filter: &'static str,
    /// Clear a range chip `{0}`.
    pub clear_range: &'static str,
    /// Date range: from, to, apply.
    pub range: [&'static str; 3],
    /// Refusals of a custom range: no days, from after to, after today, too long (`{0}` days,
    /// `{1}` maximum), before the longest allowed period.
    pub range_refusals: [&'static str; 5],
    /// A filter the session refuses (the bar's generic reason).
    pub filter_refused: &'static str,
    /// The export menu (`{0}`: the widget) and the whole-dashboard export.
    pub export: &'static str,
    /// Export menu's label for a widget `{0}`.
    pub export_of: &'static str,
    /// The whole dashboard as CSV.
    pub export_all: &'static str,
    /// The legend's label.
    pub legend: &'static str,
    /// The data-table toggle.
    pub data_table: &'static str,
    /// Caption of a chart's table `{0}`.
    pub table_caption: &'static str,
    /// Drill button label: filter by `{0}` `{1}`.
    pub filter_by: &'static str,
    /// Table headers: time, group.
    pub columns: [&'static str; 2],
    /// Chart names: line, area, bar, pie.
    pub charts: [&'static str; 4],
    /// The chart could not be drawn (`{0}`: the title).
    pub chart_failed: &'static str,
    /// Tooltips: the still-filling bucket, the previous period.
    pub incomplete: &'static str,
    /// The previous period (tooltips and the metric's comparison).
    pub previous_period: &'static str,
    /// Said in a summary when a faint line shows the previous period.
    pub previous_line: &'static str,
    /// The metric: `{0}` vs `{1}` previous period (shown), and its summaries.
    pub versus: &'static str,
    /// `{0}: {1}, {2} against {3} in the previous period`.
    pub metric_change: &'static str,
    /// `{0}: {1}; previous period {2}`.
    pub metric_previous: &'static str,
}

/// English.
pub const EN: Text = Text {
    lang: "en",
    words: Words {
        other: "Other",
        none: "(none)",
        value: "Value",
        no_data: "{0}: {1}, no data.",
        points: "{0}: {1}, {2} points from {3} to {4}.",
        series: " {0}: latest {1}, peak {2} at {3}.",
        more_series: " {0} more series in the data table.",
        partial: " {0} is still in progress, so its value is incomplete.",
        categories: "{0}: {1} of {2} categories. {3}.",
    },
    loading: "Loading…",
    empty: "No data in this period",
    retry: "Retry",
    widget_failed: "Couldn't load this widget.",
    dashboard_failed: "Couldn't load this dashboard.",
    not_published: "Not published",
    not_published_body: "This dashboard is not published.",
    expired: "Session expired",
    expired_body: "This dashboard's session has ended. Reload the page to continue.",
    filters: "Filters",
    period: "Period",
    periods: ["Last hour", "Last 24 hours", "Last 7 days", "Last 30 days", "Last 90 days"],
    filter: "Filter",
    dimension: "Dimension",
    value: "Value",
    apply: "Apply",
    active_filters: "Active filters",
    clear_filter: "Clear filter {0} = {1}",
    locked_filter: "{0} is {1}, locked",
    clear_range: "Clear range {0}",
    range: ["From", "To", "Apply range"],
    range_refusals: [
        "Pick both a from and a to day.",
        "The from day is after the to day.",
        "The to day is after today.",
        "The range spans {0} days, more than the {1}-day maximum.",
        "The range starts earlier than the longest period this dashboard allows.",
    ],
    filter_refused: "This filter is not allowed on this dashboard.",
    export: "Export",
    export_of: "Export {0}",
    export_all: "Export all (CSV)",
    legend: "Legend",
    data_table: "Data table",
    table_caption: "{0} data",
    filter_by: "Filter by {0} {1}",
    columns: ["Time", "Group"],
    charts: ["Line chart", "Area chart", "Bar chart", "Pie chart"],
    chart_failed: "{0}: the chart could not be drawn.",
    incomplete: "incomplete",
    previous_period: "previous period",
    previous_line: " A faint line shows the previous period.",
    versus: " vs {0} previous period",
    metric_change: "{0}: {1}, {2} against {3} in the previous period",
    metric_previous: "{0}: {1}; previous period {2}",
};

/// German.
pub const DE: Text = Text {
    lang: "de",
    words: Words {
        other: "Sonstige",
        none: "(keine)",
        value: "Wert",
        no_data: "{0}: {1}, keine Daten.",
        points: "{0}: {1}, {2} Punkte von {3} bis {4}.",
        series: " {0}: zuletzt {1}, Höchstwert {2} am {3}.",
        more_series: " {0} weitere Reihen in der Datentabelle.",
        partial: " {0} läuft noch, der Wert ist daher unvollständig.",
        categories: "{0}: {1} mit {2} Kategorien. {3}.",
    },
    loading: "Wird geladen…",
    empty: "Keine Daten in diesem Zeitraum",
    retry: "Erneut versuchen",
    widget_failed: "Dieses Widget konnte nicht geladen werden.",
    dashboard_failed: "Dieses Dashboard konnte nicht geladen werden.",
    not_published: "Nicht veröffentlicht",
    not_published_body: "Dieses Dashboard ist nicht veröffentlicht.",
    expired: "Sitzung abgelaufen",
    expired_body: "Die Sitzung dieses Dashboards ist beendet. Laden Sie die Seite neu, um fortzufahren.",
    filters: "Filter",
    period: "Zeitraum",
    periods: ["Letzte Stunde", "Letzte 24 Stunden", "Letzte 7 Tage", "Letzte 30 Tage", "Letzte 90 Tage"],
    filter: "Filter",
    dimension: "Dimension",
    value: "Wert",
    apply: "Anwenden",
    active_filters: "Aktive Filter",
    clear_filter: "Filter {0} = {1} entfernen",
    locked_filter: "{0} ist {1}, gesperrt",
    clear_range: "Bereich {0} entfernen",
    range: ["Von", "Bis", "Bereich anwenden"],
    range_refusals: [
        "Wählen Sie einen Von- und einen Bis-Tag.",
        "Der Von-Tag liegt nach dem Bis-Tag.",
        "Der Bis-Tag liegt nach heute.",
        "Der Bereich umfasst {0} Tage, mehr als die erlaubten {1} Tage.",
        "Der Bereich beginnt früher als der längste Zeitraum, den dieses Dashboard erlaubt.",
    ],
    filter_refused: "Dieser Filter ist auf diesem Dashboard nicht erlaubt.",
    export: "Export",
    export_of: "{0} exportieren",
    export_all: "Alles exportieren (CSV)",
    legend: "Legende",
    data_table: "Datentabelle",
    table_caption: "Daten: {0}",
    filter_by: "Nach {0} {1} filtern",
    columns: ["Zeit", "Gruppe"],
    charts: ["Liniendiagramm", "Flächendiagramm", "Balkendiagramm", "Kreisdiagramm"],
    chart_failed: "{0}: Das Diagramm konnte nicht gezeichnet werden.",
    incomplete: "unvollständig",
    previous_period: "Vorperiode",
    previous_line: " Eine blasse Linie zeigt die Vorperiode.",
    versus: " ggü. {0} Vorperiode",
    metric_change: "{0}: {1}, {2} gegenüber {3} in der Vorperiode",
    metric_previous: "{0}: {1}; Vorperiode {2}",
};

/// The catalogue for `locale` (a BCP 47 tag): German for `de…`, else English.
pub fn for_locale(locale: &str) -> &'static Text {
    let language = locale.split(['-', '_']).next().unwrap_or("");
    if language.eq_ignore_ascii_case("de") { &DE } else { &EN }
}

/// The `<html lang>` for `locale`: the tag itself when its language has a catalogue, else the
/// catalogue's language (the page is then in English).
pub fn page_lang(locale: &str) -> &str {
    let text = for_locale(locale);
    let language = locale.split(['-', '_']).next().unwrap_or("");
    if language.eq_ignore_ascii_case(text.lang) { locale } else { text.lang }
}

/// `template` with `{0}`, `{1}`… replaced by `parts`.
pub fn fill(template: &str, parts: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.split_once('}').and_then(|(n, tail)| Some((n.parse::<usize>().ok()?, tail))) {
            Some((n, tail)) => {
                out.push_str(parts.get(n).copied().unwrap_or(""));
                rest = tail;
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_locale_picks_the_catalogue_and_the_page_language() {
        assert_eq!(for_locale("de-DE").lang, "de");
        assert_eq!(for_locale("DE_at").lang, "de");
        assert_eq!(for_locale("en-US").lang, "en");
        assert_eq!(for_locale("fr-FR").lang, "en", "no French catalogue: English");
        assert_eq!(for_locale("").lang, "en");
        assert_eq!(page_lang("de-AT"), "de-AT");
        assert_eq!(page_lang("en-GB"), "en-GB");
        assert_eq!(page_lang("fr-FR"), "en", "the page is in English then");
    }

    #[test]
    fn templates_fill_their_numbered_parts() {
        assert_eq!(fill("Filter by {0} {1}", &["model", "gpt-4"]), "Filter by model gpt-4");
        assert_eq!(fill("{1}/{0}/{2}", &["a", "b"]), "b/a/");
        assert_eq!(fill("a {x} {", &[]), "a {x} {");
    }

    #[test]
    fn both_catalogues_have_every_part_each_template_uses() {
        let parts = |t: &str| (0..6).filter(|n| t.contains(&format!("{{{n}}}"))).count();
        for (en, de) in [
            (EN.clear_filter, DE.clear_filter),
            (EN.locked_filter, DE.locked_filter),
            (EN.clear_range, DE.clear_range),
            (EN.range_refusals[3], DE.range_refusals[3]),
            (EN.export_of, DE.export_of),
            (EN.table_caption, DE.table_caption),
            (EN.filter_by, DE.filter_by),
            (EN.chart_failed, DE.chart_failed),
            (EN.versus, DE.versus),
            (EN.metric_change, DE.metric_change),
            (EN.metric_previous, DE.metric_previous),
            (EN.words.no_data, DE.words.no_data),
            (EN.words.points, DE.words.points),
            (EN.words.series, DE.words.series),
            (EN.words.more_series, DE.words.more_series),
            (EN.words.partial, DE.words.partial),
            (EN.words.categories, DE.words.categories),
        ] {
            assert_eq!(parts(en), parts(de), "{en} / {de}");
            assert!(parts(en) > 0, "{en}");
        }
    }
}
