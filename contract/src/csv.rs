//! CSV of what a widget shows: the embed data API's export (`POST /v1/embed/export`) writes
//! it, so the rules (formula defusing, quoting, raw numbers) are the same wherever a file is made.

use crate::query::QueryRow;

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
pub fn text_cell(text: &str) -> String {
    let defused =
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if defused.contains([',', '"', '\n', '\r']) || defused.starts_with(' ') || defused.ends_with(' ') {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

/// The CSV of rows: raw bucket timestamps and numbers, so spreadsheets can compute with them.
pub fn rows(rows: &[QueryRow], group_by: Option<&str>, metric: &str) -> String {
    let has_bucket = rows.iter().any(|r| r.bucket.is_some());
    let has_group = rows.iter().any(|r| r.group.is_some());
    let mut headers = Vec::new();
    if has_bucket {
        headers.push("bucket");
    }
    if has_group {
        headers.push(group_by.unwrap_or("group"));
    }
    headers.push(metric);
    let body: Vec<Vec<Cell>> = rows
        .iter()
        .map(|r| {
            let mut cells = Vec::new();
            if has_bucket {
                cells.push(Cell::Text(r.bucket.clone().unwrap_or_default()));
            }
            if has_group {
                cells.push(Cell::Text(r.group.clone().flatten().unwrap_or_default()));
            }
            cells.push(Cell::Number(r.value));
            cells
        })
        .collect();
    to_csv(&headers, &body)
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
    fn rows_with_buckets_and_groups() {
        let row = |bucket: Option<&str>, group: Option<Option<&str>>, value: Option<f64>| QueryRow {
            bucket: bucket.map(Into::into),
            group: group.map(|g| g.map(Into::into)),
            value,
        };
        let grouped = [
            row(None, Some(Some("b")), Some(1.0)),
            row(None, Some(Some("a")), Some(5.0)),
            row(None, Some(None), None),
        ];
        assert_eq!(rows(&grouped, Some("model"), "count"), "model,count\r\nb,1\r\na,5\r\n,\r\n");
        let series = [row(Some("2026-11-20T00:00:00Z"), None, Some(2.0))];
        assert_eq!(rows(&series, None, "count"), "bucket,count\r\n2026-11-20T00:00:00Z,2\r\n");
    }
}
