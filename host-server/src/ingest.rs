//! `POST /v1/events`: validation that names the event index and field, then a durable,
//! atomic, de-duplicated insert.

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, header},
    routing::post,
};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use contract::events::{IngestEvent, IngestRequest, IngestResponse};
use serde_json::Value;

use crate::{
    auth::Caller,
    error::{AppError, Result},
    events::{NewEvent, StoreScope, valid_prop_key},
    state::AppState,
    usage::EVENTS_INGESTED,
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

/// `/v1/events`.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(post_events))
}

async fn post_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>> {
    state.limits.check_ingest(&caller)?;
    require_json(&headers)?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        AppError::TooLarge(format!("request body is over the limit of {MAX_BODY_BYTES} bytes (10 MiB)"))
    })?;
    let request = parse_request(&bytes)?;
    let events = validate(request, Utc::now())?;
    let scope = StoreScope { org_id: caller.org_id, env_id: caller.env.id };
    let outcome = state.events.insert(scope, events).await?;
    state.usage.add(caller.org_id, caller.env.id, EVENTS_INGESTED, outcome.stored as i64);
    Ok(Json(IngestResponse {
        accepted: outcome.stored,
        status: "ok".to_owned(),
        duplicates: outcome.duplicates,
    }))
}

/// 415 unless the body is declared as JSON.
pub fn require_json(headers: &HeaderMap) -> Result<()> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AppError::UnsupportedMediaType(
            "expected a request body with Content-Type: application/json".into(),
        ));
    }
    Ok(())
}

/// Typed parsing first (the fast path); when it fails, a walk over the JSON finds the exact
/// event and field to report.
fn parse_request(bytes: &[u8]) -> Result<IngestRequest> {
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

/// Checks every event and turns the batch into rows; the first failure names its event.
pub fn validate(request: IngestRequest, now: DateTime<Utc>) -> Result<Vec<NewEvent>> {
    if request.events.is_empty() {
        return Err(AppError::invalid("events: must contain at least one event"));
    }
    if request.events.len() > MAX_EVENTS {
        return Err(too_many(request.events.len()));
    }
    request
        .events
        .into_iter()
        .enumerate()
        .map(|(i, e)| validate_event(e, now).map_err(|m| AppError::invalid(format!("events[{i}].{m}"))))
        .collect()
}

fn name_field(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.chars().count() > MAX_NAME_CHARS {
        return Err(format!("{field}: must be a non-empty string of at most {MAX_NAME_CHARS} characters"));
    }
    Ok(())
}

fn validate_event(e: IngestEvent, now: DateTime<Utc>) -> Result<NewEvent, String> {
    name_field("tenant_id", &e.tenant_id)?;
    name_field("event_name", &e.event_name)?;
    let timestamp = match e.timestamp.as_deref() {
        None => now,
        Some(s) => parse_timestamp(s).ok_or_else(|| {
            format!("timestamp: {s:?} is not an ISO 8601 date-time between 1970 and 2100 (e.g. 2026-03-29T12:00:00Z)")
        })?,
    };
    if let Some(id) = &e.event_id {
        name_field("event_id", id)?;
    }
    if let Some(user) = &e.user_id {
        name_field("user_id", user)?;
    }
    let mut string_props: Vec<(String, String)> = e.string_props.unwrap_or_default().into_iter().collect();
    if string_props.len() > MAX_PROPS {
        return Err(format!("string_props: at most {MAX_PROPS} props per event"));
    }
    for (k, v) in &string_props {
        if !valid_prop_key(k) {
            return Err(format!(
                "string_props: key {k:?} must be 1 to 200 characters without control characters"
            ));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(format!("string_props.{k}: at most {MAX_VALUE_CHARS} characters"));
        }
    }
    string_props.sort_unstable();
    let mut numeric_props: Vec<(String, f64)> = e.numeric_props.unwrap_or_default().into_iter().collect();
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
        Some(id) => (id, true),
        None => (uuid::Uuid::now_v7().to_string(), false),
    };
    Ok(NewEvent {
        tenant_id: e.tenant_id,
        event_name: e.event_name,
        timestamp,
        event_id,
        client_event_id,
        user_id: e.user_id,
        string_props,
        numeric_props,
    })
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
}
