//! One formatter per wire format of time, so every answer writes the same kind of instant the
//! same way.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

/// Resource times (`created_at`, `published_at`, `expires_at`…): RFC 3339 with milliseconds,
/// `Z` for UTC.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Query buckets and windows (`GET /v1/query`, widget data): RFC 3339 to the second, `Z`.
pub fn bucket(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Calendar days (usage counters): `YYYY-MM-DD`.
pub fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_format_writes_utc_its_own_way() {
        let t = DateTime::parse_from_rfc3339("2026-03-29T12:00:05.25+00:00").expect("time").to_utc();
        assert_eq!(timestamp(t), "2026-03-29T12:00:05.250Z");
        assert_eq!(bucket(t), "2026-03-29T12:00:05Z");
        assert_eq!(day(t.date_naive()), "2026-03-29");
    }
}
