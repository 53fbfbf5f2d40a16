//! The fast path of `POST /v1/events` parsing: the body read with strings borrowed from it (no
//! copy unless a string holds escapes) and props read straight into lists, not hash maps. It
//! accepts exactly what `contract::events::IngestRequest` accepts; anything it cannot read falls
//! back to the typed parse, whose errors name the event and field.

use std::{borrow::Cow, fmt, marker::PhantomData};

use serde::{
    Deserialize, Deserializer,
    de::{MapAccess, Visitor},
};

use super::EventParts;

/// The events of `bytes`, or `None` when the body is not a well-formed batch.
pub(super) fn parse(bytes: &[u8]) -> Option<Vec<EventParts<'_>>> {
    let request: WireRequest<'_> = serde_json::from_slice(bytes).ok()?;
    Some(request.events.into_iter().map(WireEvent::into_parts).collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRequest<'a> {
    #[serde(borrow)]
    events: Vec<WireEvent<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent<'a> {
    #[serde(borrow)]
    tenant_id: Text<'a>,
    #[serde(borrow)]
    event_name: Text<'a>,
    #[serde(default, borrow)]
    timestamp: Option<Text<'a>>,
    #[serde(default, borrow)]
    event_id: Option<Text<'a>>,
    #[serde(default, borrow)]
    user_id: Option<Text<'a>>,
    #[serde(default)]
    string_props: Option<Props<String>>,
    #[serde(default)]
    numeric_props: Option<Props<f64>>,
}

impl<'a> WireEvent<'a> {
    fn into_parts(self) -> EventParts<'a> {
        EventParts {
            tenant_id: self.tenant_id.0,
            event_name: self.event_name.0,
            timestamp: self.timestamp.map(|t| t.0),
            event_id: self.event_id.map(|t| t.0),
            user_id: self.user_id.map(|t| t.0),
            string_props: self.string_props.map(|p| p.0).unwrap_or_default(),
            numeric_props: self.numeric_props.map(|p| p.0).unwrap_or_default(),
        }
    }
}

/// A JSON string, borrowed from the body when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// A JSON object of props as a list: each key once, the last value of a repeated key winning
/// (as a map's would).
struct Props<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Props<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PropsVisitor<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for PropsVisitor<V> {
            type Value = Props<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut props: Vec<(String, V)> = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry::<String, V>()? {
                    props.push(entry);
                }
                // Stable: among equal keys the last one sent stays last, and is the one kept.
                props.sort_by(|a, b| a.0.cmp(&b.0));
                let mut kept: Vec<(String, V)> = Vec::with_capacity(props.len());
                for (k, v) in props {
                    match kept.last_mut() {
                        Some(last) if last.0 == k => last.1 = v,
                        _ => kept.push((k, v)),
                    }
                }
                Ok(Props(kept))
            }
        }
        deserializer.deserialize_map(PropsVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::super::{IngestBounds, parse_request, validate};

    /// The fast path and the typed parse agree on every body the typed parse accepts, and the
    /// fast path gives up on every body it refuses.
    #[test]
    fn the_fast_path_reads_what_the_typed_parse_reads() {
        let now = Utc::now();
        let bounds = IngestBounds::default();
        let accepted = [
            r#"{"events":[{"tenant_id":"a","event_name":"b"}]}"#,
            r#"{"events":[{"tenant_id":"a\u00e9\"","event_name":"b","event_id":"x\\y","user_id":null,"timestamp":null}]}"#,
            r#"{"events":[{"tenant_id":"a","event_name":"b","event_id":"e1","user_id":"u","string_props":{"z":"1","model":"m","z":"2"},"numeric_props":{"tokens":3,"x":1.5e3,"x":2}}]}"#,
            r#"{"events":[{"tenant_id":"a","event_name":"b","string_props":null,"numeric_props":{}}]}"#,
        ];
        for body in accepted {
            let fast = super::parse(body.as_bytes()).expect("the fast path reads it");
            let typed = parse_request(body.as_bytes()).expect("the typed parse reads it");
            let fast = super::super::validate_all(fast, now, bounds).expect("valid");
            let typed = validate(typed, now, bounds).expect("valid");
            let show = |rows: &[crate::events::NewEvent]| {
                rows.iter()
                    .map(|e| {
                        let id = if e.client_event_id { e.event_id.as_str() } else { "(generated)" };
                        format!(
                            "{} {} {id} {:?} {:?} {:?}",
                            e.tenant_id, e.event_name, e.user_id, e.string_props, e.numeric_props
                        )
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(show(&fast), show(&typed), "{body}");
        }
        for body in [
            r#"{"events":[{"tenant_id":"a","event_name":"b","colour":"red"}]}"#,
            r#"{"events":[{"tenant_id":"a"}]}"#,
            r#"{"events":[{"tenant_id":"a","event_name":"b","numeric_props":{"x":"1"}}]}"#,
            r#"{"events":[{"tenant_id":"a","event_name":"b","string_props":{"x":1}}]}"#,
            r#"{"events":[],"extra":1}"#,
            r#"{"events":[{"tenant_id":"a","tenant_id":"b","event_name":"b"}]}"#,
            r#"not json"#,
        ] {
            assert!(super::parse(body.as_bytes()).is_none(), "{body}");
            assert!(parse_request(body.as_bytes()).is_err(), "{body}");
        }
    }
}
