//! What `POST /v1/events` accepts: the body parsed with errors that name the event index and
//! field, timestamps within the server's bounds, and the rows handed to the events store.

use std::borrow::Cow;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use contract::events::{IngestEvent, IngestRequest};
use serde_json::Value;

mod wire;

use crate::{
    config::{DEFAULT_INGEST_MAX_AGE_DAYS, DEFAULT_INGEST_MAX_FUTURE_SECS},
    error::{AppError, Result},
    events::{NewEvent, check_tenant_id, valid_prop_key},
};

/// Most events in one request.
pub const MAX_EVENTS: usize = 10_000;
/// Largest request body, in bytes (10 MiB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Longest tenant id, event name, event id, user id, prop key.
const MAX_NAME_CHARS: usize = 200;
/// Longest string prop value.
const MAX_VALUE_CHARS: usize = 1_000;
/// Most props of each kind on one event.
const MAX_PROPS: usize = 100;

/// The event times ingest accepts, relative to the server's clock (`--ingest-max-age-days`,
/// `--ingest-max-future-secs`). Bounded times keep one client's batch from touching years of
/// partitions (and rollup buckets) that every other org's inserts and merges then pay for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestBounds {
    /// Oldest accepted event time, in days before now.
    pub max_age_days: u32,
    /// Furthest accepted event time, in seconds after now.
    pub max_future_secs: u32,
}

impl Default for IngestBounds {
    fn default() -> Self {
        IngestBounds {
            max_age_days: DEFAULT_INGEST_MAX_AGE_DAYS,
            max_future_secs: DEFAULT_INGEST_MAX_FUTURE_SECS,
        }
    }
}

/// Typed parsing first (the fast path); when it fails, a walk over the JSON finds the exact
/// event and field to report.
pub fn parse_request(bytes: &[u8]) -> Result<IngestRequest> {
    if let Ok(request) = serde_json::from_slice::<IngestRequest>(bytes) {
        return Ok(request);
    }
    if let Ok(value) = serde_json::from_slice::<Value>(bytes)
        && let Some(error) = describe_shape_error(&value)
    {
        return Err(error);
    }
    // The JSON itself did not parse (or failed in a way the walk does not know): report where.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let error = match serde_path_to_error::deserialize::<_, IngestRequest>(&mut deserializer) {
        Ok(request) => return Ok(request),
        Err(error) => error,
    };
    let path = error.path().to_string();
    let inner = error.into_inner();
    Err(AppError::invalid(match path.as_str() {
        "." | "" => format!("malformed JSON: {inner}"),
        _ => format!("{path}: {inner}"),
    }))
}

const EVENT_FIELDS: &[&str] =
    &["tenant_id", "event_name", "timestamp", "event_id", "user_id", "string_props", "numeric_props"];

fn describe_shape_error(value: &Value) -> Option<AppError> {
    let err = |m: String| Some(AppError::invalid(m));
    let Some(object) = value.as_object() else {
        return err("body: must be a JSON object with an \"events\" array".into());
    };
    if let Some(unknown) = object.keys().find(|k| *k != "events") {
        return err(format!("{unknown}: unknown field; the body has only \"events\""));
    }
    let Some(events) = object.get("events") else {
        return err("events: required".into());
    };
    let Some(events) = events.as_array() else {
        return err("events: must be an array of events".into());
    };
    if events.len() > MAX_EVENTS {
        return Some(too_many(events.len()));
    }
    for (i, event) in events.iter().enumerate() {
        let Some(event) = event.as_object() else {
            return err(format!("events[{i}]: must be an object"));
        };
        if let Some(unknown) = event.keys().find(|k| !EVENT_FIELDS.contains(&k.as_str())) {
            return err(format!("events[{i}].{unknown}: unknown field"));
        }
        for field in ["tenant_id", "event_name"] {
            match event.get(field) {
                None | Some(Value::Null) => return err(format!("events[{i}].{field}: required")),
                Some(Value::String(_)) => {}
                Some(_) => return err(format!("events[{i}].{field}: must be a string")),
            }
        }
        for field in ["timestamp", "event_id", "user_id"] {
            if let Some(v) = event.get(field)
                && !(v.is_string() || v.is_null())
            {
                return err(format!("events[{i}].{field}: must be a string"));
            }
        }
        if let Some(props) = event.get("string_props").filter(|v| !v.is_null()) {
            let Some(props) = props.as_object() else {
                return err(format!("events[{i}].string_props: must be an object of string values"));
            };
            if let Some((k, _)) = props.iter().find(|(_, v)| !v.is_string()) {
                return err(format!("events[{i}].string_props.{k}: must be a string"));
            }
        }
        if let Some(props) = event.get("numeric_props").filter(|v| !v.is_null()) {
            let Some(props) = props.as_object() else {
                return err(format!("events[{i}].numeric_props: must be an object of numbers"));
            };
            if let Some((k, _)) = props.iter().find(|(_, v)| !v.as_f64().is_some_and(f64::is_finite)) {
                return err(format!("events[{i}].numeric_props.{k}: must be a finite number"));
            }
        }
    }
    None
}

fn too_many(n: usize) -> AppError {
    AppError::TooLarge(format!("events: at most {MAX_EVENTS} events per request (got {n})"))
}

/// Parses and checks a `POST /v1/events` body into rows. The fast path reads the body with
/// borrowed strings and props straight into lists ([`wire`]); a body it cannot read goes through
/// [`parse_request`] and [`validate`], whose errors name the event and field.
pub fn parse_events(bytes: &[u8], now: DateTime<Utc>, bounds: IngestBounds) -> Result<Vec<NewEvent>> {
    match wire::parse(bytes) {
        Some(events) => validate_all(events, now, bounds),
        None => validate(parse_request(bytes)?, now, bounds),
    }
}

/// Checks every event and turns the batch into rows; the first failure names its event.
pub fn validate(request: IngestRequest, now: DateTime<Utc>, bounds: IngestBounds) -> Result<Vec<NewEvent>> {
    validate_all(request.events.into_iter().map(EventParts::from).collect(), now, bounds)
}

fn validate_all(
    events: Vec<EventParts<'_>>,
    now: DateTime<Utc>,
    bounds: IngestBounds,
) -> Result<Vec<NewEvent>> {
    if events.is_empty() {
        return Err(AppError::invalid("events: must contain at least one event"));
    }
    if events.len() > MAX_EVENTS {
        return Err(too_many(events.len()));
    }
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            validate_event(e, now, bounds).map_err(|m| AppError::invalid(format!("events[{i}].{m}")))
        })
        .collect()
}

/// One event's fields as both parsers hand them over: strings borrowed from the body where they
/// can be, props as lists in any order with each key once.
pub(crate) struct EventParts<'a> {
    tenant_id: Cow<'a, str>,
    event_name: Cow<'a, str>,
    timestamp: Option<Cow<'a, str>>,
    event_id: Option<Cow<'a, str>>,
    user_id: Option<Cow<'a, str>>,
    string_props: Vec<(String, String)>,
    numeric_props: Vec<(String, f64)>,
}

impl From<IngestEvent> for EventParts<'static> {
    fn from(e: IngestEvent) -> Self {
        EventParts {
            tenant_id: Cow::Owned(e.tenant_id),
            event_name: Cow::Owned(e.event_name),
            timestamp: e.timestamp.map(Cow::Owned),
            event_id: e.event_id.map(Cow::Owned),
            user_id: e.user_id.map(Cow::Owned),
            string_props: e.string_props.unwrap_or_default().into_iter().collect(),
            numeric_props: e.numeric_props.unwrap_or_default().into_iter().collect(),
        }
    }
}

/// Whether `s` has more than `max` characters, without counting them when its bytes already
/// say it cannot (a character is 1 to 4 bytes).
fn over_chars(s: &str, max: usize) -> bool {
    s.len() > max && (s.len() > 4 * max || s.chars().count() > max)
}

fn name_field(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() || over_chars(value, MAX_NAME_CHARS) {
        return Err(format!("{field}: must be a non-empty string of at most {MAX_NAME_CHARS} characters"));
    }
    Ok(())
}

fn validate_event(e: EventParts<'_>, now: DateTime<Utc>, bounds: IngestBounds) -> Result<NewEvent, String> {
    check_tenant_id(&e.tenant_id).map_err(|m| format!("tenant_id: {m}"))?;
    name_field("event_name", &e.event_name)?;
    let timestamp = match e.timestamp.as_deref() {
        None => now,
        Some(s) => {
            let t = parse_timestamp(s).ok_or_else(|| {
                format!("timestamp: {s:?} is not an ISO 8601 date-time between 1970 and 2100 (e.g. 2026-03-29T12:00:00Z)")
            })?;
            check_time_bounds(s, t, now, bounds)?;
            t
        }
    };
    if let Some(id) = &e.event_id {
        name_field("event_id", id)?;
    }
    if let Some(user) = &e.user_id {
        name_field("user_id", user)?;
    }
    let mut string_props = e.string_props;
    if string_props.len() > MAX_PROPS {
        return Err(format!("string_props: at most {MAX_PROPS} props per event"));
    }
    for (k, v) in &string_props {
        if !valid_prop_key(k) {
            return Err(format!(
                "string_props: key {k:?} must be 1 to 200 characters without control characters"
            ));
        }
        if over_chars(v, MAX_VALUE_CHARS) {
            return Err(format!("string_props.{k}: at most {MAX_VALUE_CHARS} characters"));
        }
    }
    string_props.sort_unstable();
    let mut numeric_props = e.numeric_props;
    if numeric_props.len() > MAX_PROPS {
        return Err(format!("numeric_props: at most {MAX_PROPS} props per event"));
    }
    for (k, v) in &numeric_props {
        if !valid_prop_key(k) {
            return Err(format!(
                "numeric_props: key {k:?} must be 1 to 200 characters without control characters"
            ));
        }
        if !v.is_finite() {
            return Err(format!("numeric_props.{k}: must be a finite number"));
        }
    }
    numeric_props.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let (event_id, client_event_id) = match e.event_id {
        Some(id) => (id.into_owned(), true),
        None => (uuid::Uuid::now_v7().to_string(), false),
    };
    Ok(NewEvent {
        tenant_id: e.tenant_id.into_owned(),
        event_name: e.event_name.into_owned(),
        timestamp,
        event_id,
        client_event_id,
        user_id: e.user_id.map(Cow::into_owned),
        string_props,
        numeric_props,
    })
}

fn check_time_bounds(
    text: &str,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
    bounds: IngestBounds,
) -> Result<(), String> {
    let days = bounds.max_age_days;
    if t < now - Duration::days(i64::from(days)) {
        return Err(format!(
            "timestamp: {text:?} is more than {days} days in the past; this server keeps {days} days of events"
        ));
    }
    let secs = bounds.max_future_secs;
    if t > now + Duration::seconds(i64::from(secs)) {
        return Err(format!("timestamp: {text:?} is more than {secs} seconds in the future"));
    }
    Ok(())
}

/// RFC 3339 / ISO 8601 with an offset, or without one (read as UTC).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let parsed = DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).ok().or_else(|| {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .map(|n| Utc.from_utc_datetime(&n))
    })?;
    let year = chrono::Datelike::year(&parsed);
    (1970..=2100).contains(&year).then_some(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert!(parse_timestamp("2026-03-29T12:00:00Z").is_some());
        assert!(parse_timestamp("2026-03-29T12:00:00.123+02:00").is_some());
        assert!(parse_timestamp("2026-03-29T12:00:00").is_some());
        assert!(parse_timestamp("yesterday").is_none());
        assert!(parse_timestamp("1900-01-01T00:00:00Z").is_none());
        let t = parse_timestamp("2026-03-29T14:00:00+02:00").expect("parses");
        assert_eq!(t.to_rfc3339(), "2026-03-29T12:00:00+00:00");
    }

    #[test]
    fn shape_errors_name_index_and_field() {
        let body = br#"{"events":[{"tenant_id":"a","event_name":"b"},{"tenant_id":"a","event_name":"b","numeric_props":{"x":"1"}}]}"#;
        let err = parse_request(body).expect_err("bad numeric prop");
        assert!(err.to_string().contains("events[1].numeric_props.x"), "{err}");
        let body = br#"{"events":[{"tenant_id":"a","event_name":"b","colour":"red"}]}"#;
        let err = parse_request(body).expect_err("unknown field");
        assert!(err.to_string().contains("events[0].colour: unknown field"), "{err}");
    }

    fn event_at(timestamp: &str) -> IngestEvent {
        serde_json::from_value(serde_json::json!({
            "tenant_id": "acme", "event_name": "e", "timestamp": timestamp
        }))
        .expect("event")
    }

    #[test]
    fn timestamps_outside_the_bounds_name_index_and_field() {
        let now = parse_timestamp("2026-06-01T00:00:00Z").expect("now");
        let bounds = IngestBounds { max_age_days: 10, max_future_secs: 3_600 };
        let batch = |times: &[&str]| IngestRequest { events: times.iter().map(|t| event_at(t)).collect() };
        let ok = ["2026-05-22T00:00:01Z", "2026-06-01T00:59:59Z", "2026-05-31T12:00:00Z"];
        assert_eq!(validate(batch(&ok), now, bounds).expect("within").len(), 3);
        for (times, expected) in [
            (&["2026-06-01T00:00:00Z", "2026-05-21T23:59:59Z"][..], "events[1].timestamp"),
            (&["2026-06-01T01:00:01Z"][..], "events[0].timestamp"),
            (
                &["2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", "2100-01-01T00:00:00Z"][..],
                "events[2].timestamp",
            ),
            (&["1971-01-01T00:00:00Z"][..], "events[0].timestamp"),
        ] {
            let err = validate(batch(times), now, bounds).expect_err("out of bounds").to_string();
            assert!(err.starts_with(expected), "{times:?}: {err}");
        }
        // The defaults: 400 days back, one day ahead.
        let defaults = IngestBounds::default();
        assert!(validate(batch(&["2025-04-28T00:00:00Z"]), now, defaults).is_ok());
        assert!(validate(batch(&["2025-04-26T00:00:00Z"]), now, defaults).is_err());
        assert!(validate(batch(&["2026-06-01T23:00:00Z"]), now, defaults).is_ok());
        assert!(validate(batch(&["2026-06-02T01:00:00Z"]), now, defaults).is_err());
    }
}
