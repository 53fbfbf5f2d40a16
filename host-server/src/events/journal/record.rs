//! The journal's encoding of a batch of events: length-prefixed fields, little-endian numbers.
//!
//! Hand-written rather than derived through serde: this is a file format that a later version
//! must read back after a crash, so its layout is written down here field by field instead of
//! following an internal struct's derive, and encoding it is one pass of `extend_from_slice`.
//!
//! ```text
//! event   = str tenant_id | str event_name | i64 timestamp (µs) | str event_id
//!         | u8 flags (1: client event_id, 2: has user_id) | [str user_id]
//!         | u32 n | n × (str key, str value) | u32 m | m × (str key, f64 value)
//! str     = u32 byte length | UTF-8 bytes
//! ```

use anyhow::{Context, anyhow, bail};
use chrono::DateTime;

use super::super::NewEvent;

const CLIENT_ID: u8 = 1;
const HAS_USER: u8 = 2;

/// Events encoded for the journal, and how many.
#[derive(Debug, Clone, Default)]
pub struct EncodedEvents {
    /// The encoded events, back to back.
    pub bytes: Vec<u8>,
    /// How many events `bytes` holds.
    pub count: u32,
}

impl EncodedEvents {
    /// Encodes the events whose `keep` entry is true (every event when `keep` is `None`).
    pub fn new(events: &[NewEvent], keep: Option<&[bool]>) -> EncodedEvents {
        let mut out = EncodedEvents { bytes: Vec::with_capacity(events.len() * 160), count: 0 };
        for (i, event) in events.iter().enumerate() {
            if keep.is_none_or(|k| k[i]) {
                encode_event(&mut out.bytes, event);
                out.count += 1;
            }
        }
        out
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn encode_event(out: &mut Vec<u8>, e: &NewEvent) {
    put_str(out, &e.tenant_id);
    put_str(out, &e.event_name);
    out.extend_from_slice(&e.timestamp.timestamp_micros().to_le_bytes());
    put_str(out, &e.event_id);
    let flags =
        if e.client_event_id { CLIENT_ID } else { 0 } | if e.user_id.is_some() { HAS_USER } else { 0 };
    out.push(flags);
    if let Some(user) = &e.user_id {
        put_str(out, user);
    }
    out.extend_from_slice(&(e.string_props.len() as u32).to_le_bytes());
    for (k, v) in &e.string_props {
        put_str(out, k);
        put_str(out, v);
    }
    out.extend_from_slice(&(e.numeric_props.len() as u32).to_le_bytes());
    for (k, v) in &e.numeric_props {
        put_str(out, k);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Reads encoded events back.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| anyhow!("event record ends early at byte {}", self.at))?;
        let bytes = &self.buf[self.at..end];
        self.at = end;
        Ok(bytes)
    }
    fn u8(&mut self) -> anyhow::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn i64(&mut self) -> anyhow::Result<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn f64(&mut self) -> anyhow::Result<f64> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn string(&mut self) -> anyhow::Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).context("event record holds a string that is not UTF-8")
    }
}

/// Decodes `count` events encoded by [`EncodedEvents::new`].
pub fn decode(bytes: &[u8], count: u32) -> anyhow::Result<Vec<NewEvent>> {
    let mut r = Reader { buf: bytes, at: 0 };
    let mut events = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let tenant_id = r.string()?;
        let event_name = r.string()?;
        let micros = r.i64()?;
        let timestamp = DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| anyhow!("timestamp {micros} out of range"))?;
        let event_id = r.string()?;
        let flags = r.u8()?;
        let user_id = if flags & HAS_USER != 0 { Some(r.string()?) } else { None };
        let n = r.u32()? as usize;
        let mut string_props = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            string_props.push((r.string()?, r.string()?));
        }
        let m = r.u32()? as usize;
        let mut numeric_props = Vec::with_capacity(m.min(1024));
        for _ in 0..m {
            numeric_props.push((r.string()?, r.f64()?));
        }
        events.push(NewEvent {
            tenant_id,
            event_name,
            timestamp,
            event_id,
            client_event_id: flags & CLIENT_ID != 0,
            user_id,
            string_props,
            numeric_props,
        });
    }
    if r.at != bytes.len() {
        bail!("event record has {} bytes after its {count} events", bytes.len() - r.at);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u32, user: bool) -> NewEvent {
        NewEvent {
            tenant_id: format!("t{i}"),
            event_name: "signup é".into(),
            timestamp: DateTime::from_timestamp_micros(1_780_000_000_123_456 + i as i64).unwrap(),
            event_id: format!("id-{i}"),
            client_event_id: i.is_multiple_of(2),
            user_id: user.then(|| format!("u{i}")),
            string_props: vec![("plan".into(), "pro".into()), ("zz".into(), String::new())],
            numeric_props: vec![("amount".into(), 12.5), ("n".into(), -0.0)],
        }
    }

    #[test]
    fn events_read_back_as_written_and_the_mask_drops_events() {
        let events = vec![event(0, true), event(1, false), event(2, true)];
        let all = EncodedEvents::new(&events, None);
        assert_eq!(decode(&all.bytes, all.count).unwrap(), events);
        let some = EncodedEvents::new(&events, Some(&[true, false, true]));
        assert_eq!(some.count, 2);
        assert_eq!(decode(&some.bytes, some.count).unwrap(), vec![events[0].clone(), events[2].clone()]);
    }

    #[test]
    fn a_short_or_long_record_is_an_error_not_a_panic() {
        let all = EncodedEvents::new(&[event(0, true)], None);
        for cut in 0..all.bytes.len() {
            assert!(decode(&all.bytes[..cut], 1).is_err(), "cut at {cut}");
        }
        assert!(decode(&all.bytes, 2).is_err());
        let mut long = all.bytes.clone();
        long.push(0);
        assert!(decode(&long, 1).is_err());
    }
}
