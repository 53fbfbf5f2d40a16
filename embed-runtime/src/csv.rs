//! CSV of what a widget shows, for its "Download CSV" action.

/// One CSV cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text, quoted when needed and defused against spreadsheet formulas.
    Text(String),
    /// A number, written plainly (`null` metrics are empty cells).
    Number(Option<f64>),
}

/// RFC 4180 CSV: a header row and the rows, CRLF line ends.
pub fn to_csv(headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| text_cell(h)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|cell| match cell {
                Cell::Text(t) => text_cell(t),
                Cell::Number(Some(v)) if v.is_finite() => {
                    if v.fract() == 0.0 && v.abs() < 9e15 {
                        format!("{}", *v as i64)
                    } else {
                        format!("{v}")
                    }
                }
                Cell::Number(_) => String::new(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Quotes a text cell when needed. Text starting with `=`, `+`, `-`, `@`, tab or CR would run as a
/// formula in a spreadsheet (tenant data is untrusted), so it gets a leading `'`.
fn text_cell(text: &str) -> String {
    let defused =
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if defused.contains([',', '"', '\n', '\r']) || defused.starts_with(' ') || defused.ends_with(' ') {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// A file name for a widget's download: its title, reduced to safe characters.
pub fn file_name(title: &str, extension: &str) -> String {
    let mut name: String = title
        .chars()
        // ASCII lowercasing only: Unicode case mapping brings an 11 KB table into the wasm for
        // a file name (other letters keep their case).
        .map(|c| if c.is_alphanumeric() || c == '_' { c.to_ascii_lowercase() } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    name.truncate(name.char_indices().nth(60).map_or(name.len(), |(i, _)| i));
    if name.is_empty() {
        name.push_str("widget");
    }
    format!("{name}.{extension}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_headers_rows_and_quotes() {
        let csv = to_csv(
            &["group", "value"],
            &[
                vec![Cell::Text("gpt-4".into()), Cell::Number(Some(42.0))],
                vec![Cell::Text("a, \"b\"".into()), Cell::Number(Some(1.5))],
                vec![Cell::Text("none".into()), Cell::Number(None)],
            ],
        );
        assert_eq!(csv, "group,value\r\ngpt-4,42\r\n\"a, \"\"b\"\"\",1.5\r\nnone,\r\n");
    }

    #[test]
    fn defuses_formulas() {
        let csv =
            to_csv(&["g"], &[vec![Cell::Text("=HYPERLINK(\"x\")".into())], vec![Cell::Text("-1".into())]]);
        assert_eq!(csv, "g\r\n\"'=HYPERLINK(\"\"x\"\")\"\r\n'-1\r\n");
        assert_eq!(to_csv(&["v"], &[vec![Cell::Number(Some(-3.0))]]), "v\r\n-3\r\n", "numbers stay numbers");
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("API calls / day", "csv"), "api-calls-day.csv");
        assert_eq!(file_name("../../etc", "svg"), "etc.svg");
        assert_eq!(file_name("", "csv"), "widget.csv");
    }
}
