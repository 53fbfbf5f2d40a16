//! The postMessage contract between a host page and the embed runtime in its iframe.
//!
//! Every message is a JSON object with `"_emban": true` and a `type`; its JSON is byte-compatible
//! with the reference (`reference/embed-runtime.txt`). Where this crate adds fields (the protocol
//! `version`, `commands` and `permissions` on `ready`; `code` and `recoverable` on `error`; a
//! `requestId` on any message; `partial` on `setFilters`) or messages (`theme`, only ever posted
//! in answer to a `setTheme` that carried a `requestId`) they are optional, so a message of the
//! reference round-trips unchanged and an older host ignores them.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::ranges::{DateRange, NumericRange};

/// The version of this protocol the runtime speaks, announced in `ready`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The `type`s of the host → embed commands, as `ready` announces them.
pub const COMMANDS: &[&str] = &["setFilters", "setTheme", "reload"];

/// The `"_emban": true` marker: serializes as `true` and accepts nothing else, so messages from
/// other scripts on the page (which lack it) fail to parse and are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmbanMarker;

impl Serialize for EmbanMarker {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}

impl<'de> Deserialize<'de> for EmbanMarker {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if bool::deserialize(d)? {
            Ok(EmbanMarker)
        } else {
            Err(serde::de::Error::custom("`_emban` must be true"))
        }
    }
}

/// A message on the wire: the `_emban` marker first, then the tagged body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Always `true`.
    #[serde(rename = "_emban")]
    pub emban: EmbanMarker,
    /// The command or event, tagged by `type`.
    #[serde(flatten)]
    pub message: T,
    /// Beyond the reference: a host-chosen id (a string) correlating a command with its answer.
    /// A command that carries one is answered by exactly one event carrying the same id: the
    /// `filter` that shows an applied `setFilters` (or the state after a `reload`), the `theme`
    /// that shows an applied `setTheme`, or the `error` that refuses any of them (an
    /// `invalid_command` included). Events the command causes besides (`period-change`) and
    /// events nobody asked for carry none. Without one, the runtime behaves exactly as the
    /// reference says (no `theme` event, no id anywhere).
    #[serde(rename = "requestId", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl<T> Envelope<T> {
    /// Wraps a command or event for the wire.
    pub fn new(message: T) -> Self {
        Envelope { emban: EmbanMarker, message, request_id: None }
    }

    /// Wraps a command or event carrying `request_id`.
    pub fn answering(message: T, request_id: Option<String>) -> Self {
        Envelope { emban: EmbanMarker, message, request_id }
    }
}

/// A host → embed message.
pub type CommandMessage = Envelope<Command>;
/// An embed → host message.
pub type EventMessage = Envelope<Event>;

/// Host → embed: what the host page may ask the mounted dashboard to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    /// Change the active period and filters. Refused whole (with an `error` event) when any part
    /// lies outside the session's permissions.
    #[serde(rename = "setFilters")]
    SetFilters {
        /// The requested filter state.
        filters: FilterRequest,
        /// Beyond the reference: `true` applies the parts the session allows and drops the rest
        /// instead of refusing the whole request (the `filter` event shows what was applied).
        /// The helper sends it to restore a viewer's state into a freshly swapped-in session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partial: Option<bool>,
    },
    /// Apply theme tokens as CSS custom properties, without a reload.
    #[serde(rename = "setTheme")]
    SetTheme {
        /// The tokens.
        theme: Theme,
    },
    /// Refetch the dashboard and its data with the same session.
    #[serde(rename = "reload")]
    Reload {},
}

impl Command {
    /// The command's `type` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::SetFilters { .. } => "setFilters",
            Command::SetTheme { .. } => "setTheme",
            Command::Reload {} => "reload",
        }
    }
}

/// The payload of `setFilters`: `{ period, dimensions?, numericRanges?, dateRanges? }`. Any other
/// key makes the command malformed (`invalid_command`): `{filters: {...}}`, the `filter` event's
/// name for the dimension map, would otherwise be a silent no-op.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterRequest {
    /// The period to show, e.g. `7d`. Optional beyond the reference: absent keeps the current one,
    /// so a host can change dimensions alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// Dimension → exact value. Replaces the user-editable dimension filters; locked filters stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<BTreeMap<String, String>>,
    /// Numeric prop → inclusive range.
    #[serde(default, rename = "numericRanges", skip_serializing_if = "Option::is_none")]
    pub numeric_ranges: Option<BTreeMap<String, NumericRange>>,
    /// Date dimension → range of days.
    #[serde(default, rename = "dateRanges", skip_serializing_if = "Option::is_none")]
    pub date_ranges: Option<BTreeMap<String, DateRange>>,
}

/// The six theme tokens of `setTheme`, each a CSS colour. Beyond the reference a token may be
/// left out to keep its current value. Any other key makes the command malformed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Theme {
    /// Accent: series, links, focus rings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// The page behind the cards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_color: Option<String>,
    /// Card fill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_background: Option<String>,
    /// Card outline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_border: Option<String>,
    /// Body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_color: Option<String>,
    /// Secondary text: axes, captions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_color: Option<String>,
    /// Beyond the reference: `light` or `dark`, the built-in scheme under the colours (and the
    /// `color-scheme` of native controls); the viewer's `prefers-color-scheme` when never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_scheme: Option<String>,
}

impl Theme {
    /// `(wire name, value)` of every token present, in documentation order.
    pub fn tokens(&self) -> Vec<(&'static str, &str)> {
        [
            ("primaryColor", &self.primary_color),
            ("backgroundColor", &self.background_color),
            ("cardBackground", &self.card_background),
            ("cardBorder", &self.card_border),
            ("textColor", &self.text_color),
            ("mutedColor", &self.muted_color),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }
}

/// Embed → host: what the mounted dashboard reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// The runtime is connected and the dashboard loaded.
    #[serde(rename = "ready")]
    Ready {
        /// The published dashboard's id.
        #[serde(rename = "dashboardId")]
        dashboard_id: String,
        /// Beyond the reference: the protocol version ([`PROTOCOL_VERSION`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
        /// Beyond the reference: the command `type`s this runtime accepts ([`COMMANDS`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commands: Option<Vec<String>>,
        /// Beyond the reference: the session's effective permissions, so a host can hide
        /// controls the embed would refuse.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        permissions: Option<crate::embed::EmbedPermissions>,
    },
    /// The content height changed; the host may size the iframe to it.
    #[serde(rename = "resize")]
    Resize {
        /// Content height in CSS pixels.
        height: u32,
    },
    /// The full active filter state, after any change.
    #[serde(rename = "filter")]
    Filter(FilterState),
    /// The period changed.
    #[serde(rename = "period-change")]
    PeriodChange {
        /// The period before.
        #[serde(rename = "previousPeriod")]
        previous_period: String,
        /// The period now.
        period: String,
    },
    /// The viewer applied or cleared a drill-down, or asked for detail.
    #[serde(rename = "drill")]
    Drill {
        /// The dimension drilled into.
        dimension: String,
        /// Its value.
        value: String,
        /// What happened.
        action: DrillAction,
    },
    /// Beyond the reference: the theme tokens in effect after a `setTheme`, posted only in answer
    /// to one that carried a `requestId` (the reference's `setTheme` has no answer).
    #[serde(rename = "theme")]
    Theme {
        /// Every token set so far.
        theme: Theme,
    },
    /// Beyond the reference: the viewer exported a widget (`widgetId`) or, with `widgetId: null`,
    /// the whole dashboard; `format` is `csv`, `svg` or `png`. Posted after the file was made.
    #[serde(rename = "export")]
    Export {
        /// The widget, or `null` for the whole dashboard.
        #[serde(rename = "widgetId")]
        widget_id: Option<String>,
        /// `csv`, `svg` or `png`.
        format: String,
    },
    /// Something failed or a command was refused.
    #[serde(rename = "error")]
    Error {
        /// What went wrong, for people.
        message: String,
        /// Beyond the reference: a stable code ([`ErrorCode`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<ErrorCode>,
        /// Beyond the reference: whether retrying (or a fresh command) can succeed without a new
        /// session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recoverable: Option<bool>,
    },
}

impl Event {
    /// An `error` event with its code and recoverability.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Event::Error { message: message.into(), code: Some(code), recoverable: Some(code.recoverable()) }
    }
}

/// The payload of the `filter` event: `{ period, filters, numericRanges, dateRanges }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterState {
    /// The active period.
    pub period: String,
    /// Every active dimension filter, locked ones included.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Active numeric ranges.
    #[serde(default, rename = "numericRanges")]
    pub numeric_ranges: BTreeMap<String, NumericRange>,
    /// Active date ranges.
    #[serde(default, rename = "dateRanges")]
    pub date_ranges: BTreeMap<String, DateRange>,
}

/// What a `drill` event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrillAction {
    /// A value was applied as a filter.
    Apply,
    /// A drill filter was cleared.
    Clear,
    /// The viewer asked for detail on a value (drill-down not allowed, or a table row opened).
    Detail,
}

/// Stable codes of `error` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The session token expired or was rejected (HTTP 401): the host must mint a new one.
    SessionExpired,
    /// The dashboard is not published.
    NotPublished,
    /// Loading the dashboard failed.
    LoadFailed,
    /// A widget's data failed to load.
    QueryFailed,
    /// `setFilters` asked for something outside the session's permissions; nothing changed.
    FilterRefused,
    /// `setTheme` carried a value that is not a CSS colour; nothing changed.
    InvalidTheme,
    /// A message marked `"_emban": true` that is no command: an unknown `type`, or a payload of
    /// the wrong shape (unknown keys included). Nothing changed.
    InvalidCommand,
}

impl ErrorCode {
    /// Whether the same session can recover: everything but an expired session or an
    /// unpublished dashboard.
    pub fn recoverable(self) -> bool {
        !matches!(self, ErrorCode::SessionExpired | ErrorCode::NotPublished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `reference` (pretty JSON as the reference prints it) as `T`, and checks that
    /// serializing gives the same JSON, byte for byte once the whitespace is gone.
    fn round_trip<T>(reference: &str) -> T
    where
        T: Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug,
    {
        let parsed: T = serde_json::from_str(reference).expect("parses");
        let written = serde_json::to_string(&parsed).expect("serializes");
        assert_eq!(written, minify(reference), "byte-exact, keys in the reference's order");
        let again: T = serde_json::from_str(&written).expect("parses again");
        assert_eq!(again, parsed);
        parsed
    }

    /// Drops whitespace outside strings.
    fn minify(json: &str) -> String {
        let mut out = String::new();
        let mut in_string = false;
        let mut escaped = false;
        for c in json.chars() {
            if in_string {
                out.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
                out.push(c);
            } else if !c.is_whitespace() {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn set_filters_round_trips() {
        let msg: CommandMessage = round_trip(
            r#"{
"_emban": true,
"type": "setFilters",
"filters": {
"period": "7d"
}
}"#,
        );
        assert_eq!(
            msg.message,
            Command::SetFilters {
                filters: FilterRequest { period: Some("7d".into()), ..Default::default() },
                partial: None,
            }
        );
        let full: CommandMessage = round_trip(
            r#"{"_emban":true,"type":"setFilters","filters":{"period":"30d","dimensions":{"model":"gpt-4"},"numericRanges":{"tokens":{"min":1,"max":2.5}},"dateRanges":{"day":{"from":"2026-11-01","to":"2026-11-07"}}}}"#,
        );
        assert_eq!(full.message.kind(), "setFilters");
    }

    #[test]
    fn set_theme_round_trips() {
        let msg: CommandMessage = round_trip(
            r##"{
"_emban": true,
"type": "setTheme",
"theme": {
"primaryColor": "#0f9d58",
"backgroundColor": "#f7f9f7",
"cardBackground": "#ffffff",
"cardBorder": "#d8e2d9",
"textColor": "#101513",
"mutedColor": "#5d6c63"
}
}"##,
        );
        let Command::SetTheme { theme } = msg.message else { panic!("not setTheme") };
        assert_eq!(theme.tokens().len(), 6);
        assert_eq!(theme.tokens()[0], ("primaryColor", "#0f9d58"));
    }

    #[test]
    fn reload_round_trips() {
        let msg: CommandMessage = round_trip(
            r#"{
"_emban": true,
"type": "reload"
}"#,
        );
        assert_eq!(msg.message, Command::Reload {});
    }

    #[test]
    fn ready_round_trips_with_and_without_extensions() {
        let msg: EventMessage = round_trip(
            r#"{
"_emban": true,
"type": "ready",
"dashboardId": "dash_123"
}"#,
        );
        assert!(
            matches!(msg.message, Event::Ready { ref dashboard_id, version: None, .. } if dashboard_id == "dash_123")
        );
        let extended: EventMessage = round_trip(
            r#"{"_emban":true,"type":"ready","dashboardId":"dash_123","version":1,"commands":["setFilters","setTheme","reload"],"permissions":{"allow_drill_down":true,"locked_filters":{"plan":"pro"},"hidden_widgets":["internal_notes"],"allowed_dimensions":["model"],"allowed_periods":["7d","30d"],"max_date_range_days":30}}"#,
        );
        assert!(matches!(extended.message, Event::Ready { version: Some(PROTOCOL_VERSION), .. }));
    }

    #[test]
    fn resize_round_trips() {
        let msg: EventMessage = round_trip(
            r#"{
"_emban": true,
"type": "resize",
"height": 712
}"#,
        );
        assert_eq!(msg.message, Event::Resize { height: 712 });
    }

    #[test]
    fn filter_round_trips() {
        let msg: EventMessage = round_trip(
            r#"{
"_emban": true,
"type": "filter",
"period": "7d",
"filters": { "model": "gpt-4" },
"numericRanges": {},
"dateRanges": {}
}"#,
        );
        let Event::Filter(state) = msg.message else { panic!("not filter") };
        assert_eq!(state.filters.get("model").map(String::as_str), Some("gpt-4"));
    }

    #[test]
    fn period_change_round_trips() {
        let msg: EventMessage = round_trip(
            r#"{
"_emban": true,
"type": "period-change",
"previousPeriod": "30d",
"period": "7d"
}"#,
        );
        assert_eq!(msg.message, Event::PeriodChange { previous_period: "30d".into(), period: "7d".into() });
    }

    #[test]
    fn drill_round_trips() {
        let msg: EventMessage = round_trip(
            r#"{
"_emban": true,
"type": "drill",
"dimension": "endpoint",
"value": "/chat",
"action": "apply"
}"#,
        );
        assert_eq!(
            msg.message,
            Event::Drill { dimension: "endpoint".into(), value: "/chat".into(), action: DrillAction::Apply }
        );
        for action in ["clear", "detail"] {
            round_trip::<EventMessage>(&format!(
                r#"{{"_emban":true,"type":"drill","dimension":"model","value":"gpt-4","action":"{action}"}}"#
            ));
        }
    }

    #[test]
    fn export_round_trips() {
        let msg: EventMessage =
            round_trip(r#"{"_emban":true,"type":"export","widgetId":"trend","format":"png"}"#);
        assert_eq!(msg.message, Event::Export { widget_id: Some("trend".into()), format: "png".into() });
        let all: EventMessage =
            round_trip(r#"{"_emban":true,"type":"export","widgetId":null,"format":"csv"}"#);
        assert_eq!(all.message, Event::Export { widget_id: None, format: "csv".into() });
    }

    #[test]
    fn error_round_trips_with_and_without_extensions() {
        let msg: EventMessage = round_trip(
            r#"{
"_emban": true,
"type": "error",
"message": "Couldn't refresh this dashboard"
}"#,
        );
        assert!(matches!(msg.message, Event::Error { code: None, recoverable: None, .. }));
        let extended: EventMessage = round_trip(
            r#"{"_emban":true,"type":"error","message":"session expired","code":"session_expired","recoverable":false}"#,
        );
        assert_eq!(extended.message, Event::error(ErrorCode::SessionExpired, "session expired"));
    }

    #[test]
    fn request_ids_and_partial_round_trip_and_stay_optional() {
        let msg: CommandMessage = round_trip(
            r#"{"_emban":true,"type":"setFilters","filters":{"period":"7d"},"partial":true,"requestId":"r1"}"#,
        );
        assert_eq!(msg.request_id.as_deref(), Some("r1"));
        assert!(matches!(msg.message, Command::SetFilters { partial: Some(true), .. }));
        let answer: EventMessage = round_trip(
            r##"{"_emban":true,"type":"theme","theme":{"primaryColor":"#0f9d58"},"requestId":"r2"}"##,
        );
        assert_eq!(
            answer,
            Envelope::answering(
                Event::Theme { theme: Theme { primary_color: Some("#0f9d58".into()), ..Default::default() } },
                Some("r2".into()),
            )
        );
        let plain: CommandMessage = serde_json::from_str(r#"{"_emban":true,"type":"reload"}"#).unwrap();
        assert_eq!(plain.request_id, None);
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#"{"_emban":true,"type":"reload"}"#);
        assert!(ErrorCode::InvalidCommand.recoverable());
        assert_eq!(serde_json::to_value(ErrorCode::InvalidCommand).unwrap(), "invalid_command");
    }

    #[test]
    fn messages_without_the_marker_or_with_unknown_types_are_rejected() {
        for bad in [
            r#"{"type":"reload"}"#,
            r#"{"_emban":false,"type":"reload"}"#,
            r#"{"_emban":"true","type":"reload"}"#,
            r#"{"_emban":true,"type":"explode"}"#,
            r#"{"_emban":true}"#,
            r#"{"_emban":true,"type":"setTheme"}"#,
            r#"{"_emban":true,"type":"setFilters","filters":{"period":7}}"#,
            r#"{"_emban":true,"type":"setFilters","filters":{"filters":{"model":"gpt-4"}}}"#,
            r##"{"_emban":true,"type":"setTheme","theme":{"primary":"#000"}}"##,
        ] {
            assert!(serde_json::from_str::<CommandMessage>(bad).is_err(), "{bad}");
        }
    }
}
