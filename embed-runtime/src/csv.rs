//! File names for a widget's downloads (the CSV itself is the server's: `contract::csv`).

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
    fn file_names_are_safe() {
        assert_eq!(file_name("API calls / day", "csv"), "api-calls-day.csv");
        assert_eq!(file_name("../../etc", "svg"), "etc.svg");
        assert_eq!(file_name("", "csv"), "widget.csv");
    }
}
