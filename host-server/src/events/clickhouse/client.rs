//! The HTTP client: one database, SQL in, `JSONCompact` or RowBinary out, and the literal
//! escaping every spliced value goes through.

use super::*;

/// Where a ClickHouse database is: `http://host:port/db`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseUrl {
    /// `http://host:port`, without a trailing slash.
    pub base: String,
    /// Database name.
    pub database: String,
}

impl ClickHouseUrl {
    /// Parses `http(s)://host:port[/database]`; the database defaults to `default`.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or_else(|| anyhow!("events URL must start with http:// or https:// (got {url:?})"))?;
        let scheme_len = url.len() - rest.len();
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() {
            return Err(anyhow!("events URL has no host: {url:?}"));
        }
        let database = path.trim_matches('/');
        let database = if database.is_empty() { "default" } else { database };
        if !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(anyhow!("events URL database name must be letters, digits and _ (got {database:?})"));
        }
        Ok(ClickHouseUrl { base: format!("{}{host}", &url[..scheme_len]), database: database.to_owned() })
    }
}

/// A ClickHouse string literal: backslash and quote escaped, so any text is safe to splice.
pub fn literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A ClickHouse HTTP client bound to one database.
#[derive(Clone)]
pub struct ClickHouseClient {
    http: reqwest::Client,
    url: ClickHouseUrl,
}

/// A parsed `FORMAT JSONCompact` answer.
#[derive(Debug, Default)]
pub struct JsonAnswer {
    /// (name, type) per column.
    pub columns: Vec<(String, String)>,
    /// Rows.
    pub rows: Vec<Vec<Json>>,
    /// `statistics.rows_read`.
    pub rows_read: u64,
}

/// An error ClickHouse reported for a statement (as opposed to a transport failure).
#[derive(Debug, thiserror::Error)]
#[error("ClickHouse: {0}")]
pub struct ServerError(pub String);

impl ClickHouseClient {
    /// A client for `url`.
    pub fn new(url: ClickHouseUrl) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().pool_max_idle_per_host(16).build()?;
        Ok(ClickHouseClient { http, url })
    }

    /// A client of the same server bound to `database` (sharing the connection pool).
    pub fn for_database(&self, database: &str) -> ClickHouseClient {
        ClickHouseClient {
            http: self.http.clone(),
            url: ClickHouseUrl { base: self.url.base.clone(), database: database.to_owned() },
        }
    }

    /// The database this client uses.
    pub fn database(&self) -> &str {
        &self.url.database
    }

    /// Sends `body` with `query` in the URL (or `query` as the body when `body` is `None`).
    async fn send(
        &self,
        query: &str,
        body: Option<Vec<u8>>,
        settings: &[(&str, String)],
    ) -> anyhow::Result<Vec<u8>> {
        let mut params: Vec<(&str, String)> = vec![("database", self.url.database.clone())];
        params.extend(settings.iter().cloned());
        let request = self.http.post(format!("{}/", self.url.base));
        let request = match body {
            Some(data) => {
                params.push(("query", query.to_owned()));
                request.body(data)
            }
            None => request.body(query.to_owned()),
        };
        let response = request.query(&params).send().await.context("reaching ClickHouse")?;
        let status = response.status();
        let bytes = response.bytes().await.context("reading ClickHouse's answer")?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            return Err(ServerError(text).into());
        }
        Ok(bytes.to_vec())
    }

    /// Runs a statement that returns nothing.
    pub async fn execute(&self, sql: &str) -> anyhow::Result<()> {
        self.execute_with(sql, &[]).await
    }

    /// [`execute`](Self::execute) with query-level settings.
    pub async fn execute_with(&self, sql: &str, settings: &[(&str, String)]) -> anyhow::Result<()> {
        self.send(sql, None, settings)
            .await
            .map(|_| ())
            .with_context(|| format!("running {}", first_line(sql)))
    }

    /// Runs a SELECT and parses its `JSONCompact` output.
    pub async fn select(&self, sql: &str, settings: &[(&str, String)]) -> anyhow::Result<JsonAnswer> {
        let bytes = self.send(&format!("{sql}\nFORMAT JSONCompact"), None, settings).await?;
        parse_json_compact(&bytes)
    }

    /// Inserts RowBinary `data` into `table (columns)`.
    pub async fn insert_row_binary(&self, table: &str, columns: &str, data: Vec<u8>) -> anyhow::Result<()> {
        self.send(&format!("INSERT INTO {table} ({columns}) FORMAT RowBinary"), Some(data), &[])
            .await
            .map(|_| ())
    }
}

pub(super) fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or_default()
}

/// Parses ClickHouse's `JSONCompact` output format.
pub fn parse_json_compact(bytes: &[u8]) -> anyhow::Result<JsonAnswer> {
    let doc: Json = serde_json::from_slice(bytes).context("parsing ClickHouse's JSON answer")?;
    let columns = doc
        .get("meta")
        .and_then(Json::as_array)
        .map(|meta| {
            meta.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(Json::as_str).unwrap_or_default().to_owned();
                    (s("name"), s("type"))
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = doc
        .get("data")
        .and_then(Json::as_array)
        .map(|rows| rows.iter().map(|r| r.as_array().cloned().unwrap_or_default()).collect())
        .unwrap_or_default();
    let rows_read = doc.pointer("/statistics/rows_read").and_then(json_u64).unwrap_or(0);
    Ok(JsonAnswer { columns, rows, rows_read })
}

/// A JSON number or numeric string (ClickHouse quotes 64-bit integers) as u64.
pub(super) fn json_u64(v: &Json) -> Option<u64> {
    match v {
        Json::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(super) fn json_i64(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(super) fn json_f64(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

pub(super) fn json_string(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = ClickHouseUrl::parse("http://127.0.0.1:8123/analytics").expect("ok");
        assert_eq!((u.base.as_str(), u.database.as_str()), ("http://127.0.0.1:8123", "analytics"));
        assert_eq!(ClickHouseUrl::parse("http://h:1").expect("ok").database, "default");
        assert!(ClickHouseUrl::parse("ftp://h/db").is_err());
        assert!(ClickHouseUrl::parse("http://h/db;drop").is_err());
    }

    #[test]
    fn literals_escape() {
        assert_eq!(literal("a'b\\c"), "'a\\'b\\\\c'");
    }
}
