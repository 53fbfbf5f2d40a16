//! The CSV export of a report: a heading block, then one section per widget (its title, id and
//! kind, then `bucket,group,value` rows as the embed would draw them).

use chrono::{DateTime, Utc};
use contract::dashboard::{Widget, WidgetData};

use crate::{error::Result, meta::dashboards::DashboardRecord, meta::reports::ReportRule, time::timestamp};

/// One CSV field, quoted when it must be (RFC 4180).
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) || text.starts_with([' ', '=', '+', '-', '@']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn number(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => v.to_string(),
    }
}

/// The whole document.
pub fn render(
    rule: &ReportRule,
    dashboard: &DashboardRecord,
    sections: &[(&Widget, Result<WidgetData>)],
    now: DateTime<Utc>,
) -> String {
    let mut out = String::new();
    out.push_str(&format!("# report,{}\n", field(&rule.name)));
    out.push_str(&format!("# dashboard,{},{}\n", field(&dashboard.id), field(&dashboard.name)));
    out.push_str(&format!("# tenant,{}\n", field(&rule.tenant_id)));
    out.push_str(&format!("# period,{}\n", rule.period));
    for (k, v) in &rule.filters {
        out.push_str(&format!("# filter,{},{}\n", field(k), field(v)));
    }
    out.push_str(&format!("# generated_at,{}\n", timestamp(now)));
    for (widget, data) in sections {
        out.push('\n');
        out.push_str(&format!(
            "# widget,{},{},{}\n",
            field(&widget.title),
            field(&widget.id),
            widget.kind.as_str()
        ));
        match data {
            Err(e) => out.push_str(&format!("# error,{}\n", field(&e.to_string()))),
            Ok(d) => {
                out.push_str("bucket,group,value\n");
                for row in &d.data {
                    let group = row.group.as_ref().map(|g| g.clone().unwrap_or_default()).unwrap_or_default();
                    out.push_str(&format!(
                        "{},{},{}\n",
                        row.bucket.as_deref().unwrap_or(""),
                        field(&group),
                        number(row.value)
                    ));
                }
                if let Some(previous) = &d.previous {
                    out.push_str(&format!("# previous_value,{}\n", number(previous.value)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_with_separators_quotes_or_formula_signs_are_quoted() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=SUM(A1)"), "\"=SUM(A1)\"");
    }
}
