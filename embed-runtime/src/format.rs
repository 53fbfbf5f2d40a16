//! Numbers and dates in the viewer's locale: the session's locale, else the browser's. In the
//! browser this is `Intl` (through js-sys); natively (unit tests) a plain English fallback.

use contract::query::Granularity;

/// Formats numbers and bucket dates for one locale. Cheap to call: the `Intl` formatters are built
/// once.
pub struct Formatter {
    locale: String,
    #[cfg(target_arch = "wasm32")]
    intl: Option<intl::Formatters>,
}

impl Formatter {
    /// A formatter for `locale` (a BCP 47 tag). An invalid tag falls back to the browser default.
    pub fn new(locale: &str) -> Self {
        Formatter {
            locale: locale.to_owned(),
            #[cfg(target_arch = "wasm32")]
            intl: intl::Formatters::new(locale),
        }
    }

    /// The locale asked for.
    pub fn locale(&self) -> &str {
        &self.locale
    }

    /// A number in full, at most two decimals: `12,345.67`.
    pub fn number(&self, v: f64) -> String {
        #[cfg(target_arch = "wasm32")]
        if let Some(s) = self.intl.as_ref().and_then(|i| i.number(&i.number, v)) {
            return s;
        }
        plain_number(v, 2)
    }

    /// A short number for axes and tight spaces: `12K`, `3.4M`.
    pub fn compact(&self, v: f64) -> String {
        #[cfg(target_arch = "wasm32")]
        if let Some(s) = self.intl.as_ref().and_then(|i| i.number(&i.compact, v)) {
            return s;
        }
        plain_compact(v)
    }

    /// A signed change as a percentage: `+12.5%`, `−3%`. `ratio` 0.125 is 12.5%.
    pub fn change(&self, ratio: f64) -> String {
        #[cfg(target_arch = "wasm32")]
        if let Some(s) = self.intl.as_ref().and_then(|i| i.number(&i.percent, ratio)) {
            return s;
        }
        let pct = ratio * 100.0;
        let sign = if pct > 0.0 { "+" } else { "" };
        format!("{sign}{}%", plain_number(pct, 1))
    }

    /// A bucket's start (RFC 3339, UTC) as an axis label for its width.
    pub fn bucket(&self, iso: &str, granularity: Option<Granularity>) -> String {
        #[cfg(target_arch = "wasm32")]
        if let Some(s) = self.intl.as_ref().and_then(|i| i.date(iso, granularity)) {
            return s;
        }
        plain_bucket(iso, granularity)
    }
}

/// How a widget's values are written, from its `viz` options (`docs/dashboards.md`, "Value
/// formats"): `unit` (a suffix, ≤ 16 characters), `currency` (ISO 4217, e.g. `"EUR"`),
/// `decimals` (0–6), `compact` (`12K`), and `higher_is_better` (default true) for the colour of a
/// change. Options of the wrong type or out of range are ignored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValueFormat {
    /// Written after the number: `120 ms`.
    pub unit: Option<String>,
    /// An ISO 4217 code: the number is written as money.
    pub currency: Option<String>,
    /// Exactly this many decimals (default: up to two).
    pub decimals: Option<u32>,
    /// Short form (`12K`) everywhere, not only on axes.
    pub compact: bool,
    /// Whether a rise is good news (green) or bad (red): false for latency, errors, cost.
    pub lower_is_better: bool,
}

impl ValueFormat {
    /// Reads the options a widget's `viz` carries.
    pub fn from_options(options: &serde_json::Map<String, serde_json::Value>) -> Self {
        let text =
            |key: &str| options.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty());
        ValueFormat {
            unit: text("unit").filter(|u| u.chars().count() <= 16).map(str::to_owned),
            currency: text("currency")
                .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(str::to_ascii_uppercase),
            decimals: options
                .get("decimals")
                .and_then(serde_json::Value::as_u64)
                .filter(|d| *d <= 6)
                .map(|d| d as u32),
            compact: options.get("compact").and_then(serde_json::Value::as_bool).unwrap_or(false),
            lower_is_better: options.get("higher_is_better").and_then(serde_json::Value::as_bool)
                == Some(false),
        }
    }

    /// `good`, `bad` or `neutral` for a change of `ratio`, as the metric's colour.
    pub fn verdict(&self, ratio: f64) -> &'static str {
        match (ratio > 0.0, ratio < 0.0, self.lower_is_better) {
            (true, _, false) | (_, true, true) => "good",
            (true, _, true) | (_, true, false) => "bad",
            _ => "neutral",
        }
    }

    fn with_unit(&self, number: String) -> String {
        match &self.unit {
            Some(unit) => format!("{number} {unit}"),
            None => number,
        }
    }
}

impl Formatter {
    /// A value as the widget's options say (full form unless `compact`).
    pub fn value(&self, v: f64, options: &ValueFormat) -> String {
        self.value_as(v, options, options.compact)
    }

    /// A value for an axis: always short, in the widget's currency and unit.
    pub fn axis_value(&self, v: f64, options: &ValueFormat) -> String {
        self.value_as(v, options, true)
    }

    fn value_as(&self, v: f64, options: &ValueFormat, compact: bool) -> String {
        if *options == ValueFormat::default()
            || (options.unit.is_some() && options.currency.is_none() && options.decimals.is_none())
        {
            let plain = if compact { self.compact(v) } else { self.number(v) };
            return options.with_unit(plain);
        }
        #[cfg(target_arch = "wasm32")]
        if let Some(s) = intl::custom(&self.locale, v, options, compact) {
            return options.with_unit(s);
        }
        let number = if compact {
            plain_compact(v)
        } else {
            plain_number(v, options.decimals.map_or(2, |d| d as usize))
        };
        let number = match &options.currency {
            Some(code) => format!("{code} {number}"),
            None => number,
        };
        options.with_unit(number)
    }
}

/// `1234.5` → `1,234.5` with at most `decimals` decimals.
pub fn plain_number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    // Rounded through integers rather than `{:.N}`, whose exact-precision float formatting is a
    // second float printer in the wasm (plotters already needs the shortest-form one).
    let decimals = decimals.min(6);
    let unit = 10u64.pow(decimals as u32);
    // Saturates past 1.8e19 / 10^decimals, far beyond any metric.
    let n = (v.abs() * unit as f64).round() as u64;
    let frac = (n % unit).to_string();
    let (int, frac) = ((n / unit).to_string(), "0".repeat(decimals - frac.len().min(decimals)) + &frac);
    let (int, frac) = (int.as_str(), frac.trim_end_matches('0'));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 && (int != "0" || !frac.is_empty()) { "-" } else { "" };
    if frac.is_empty() { format!("{sign}{grouped}") } else { format!("{sign}{grouped}.{frac}") }
}

/// `12345` → `12.3K`.
pub fn plain_compact(v: f64) -> String {
    let a = v.abs();
    let (div, suffix) = match a {
        a if a >= 1e12 => (1e12, "T"),
        a if a >= 1e9 => (1e9, "B"),
        a if a >= 1e6 => (1e6, "M"),
        a if a >= 1e3 => (1e3, "K"),
        _ => (1.0, ""),
    };
    format!("{}{suffix}", plain_number(v / div, if a >= 100.0 && div == 1.0 { 0 } else { 1 }))
}

/// `2026-11-20T14:00:00Z` → `2026-11-20 14:00` (hours), `2026-11-20` (days, weeks), `2026-11`.
pub fn plain_bucket(iso: &str, granularity: Option<Granularity>) -> String {
    match granularity {
        Some(Granularity::Month) => iso.get(..7).unwrap_or(iso).to_owned(),
        Some(Granularity::Day | Granularity::Week) => iso.get(..10).unwrap_or(iso).to_owned(),
        _ => match (iso.get(..10), iso.get(11..16)) {
            (Some(d), Some(t)) => format!("{d} {t}"),
            _ => iso.to_owned(),
        },
    }
}

#[cfg(target_arch = "wasm32")]
mod intl {
    use contract::query::Granularity;
    use js_sys::{Array, Function, Object, Reflect};
    use wasm_bindgen::{JsCast, JsValue};

    /// The `format` functions of a few `Intl` formatters.
    pub struct Formatters {
        pub number: Function,
        pub compact: Function,
        pub percent: Function,
        hour: Function,
        day: Function,
        month: Function,
    }

    /// `new Intl[kind](locale, options).format`, or `None` if the locale or options are refused.
    fn formatter(kind: &str, locale: &str, options: &[(&str, JsValue)]) -> Option<Function> {
        let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
        let ctor: Function = Reflect::get(&intl, &kind.into()).ok()?.dyn_into().ok()?;
        let opts = Object::new();
        for (k, v) in options {
            Reflect::set(&opts, &(*k).into(), v).ok()?;
        }
        let locales = if locale.is_empty() { Array::new() } else { Array::of1(&locale.into()) };
        let instance = Reflect::construct(&ctor, &Array::of2(&locales, &opts)).ok()?;
        Reflect::get(&instance, &"format".into()).ok()?.dyn_into().ok()
    }

    /// A number with a widget's currency, decimals and notation (`Intl.NumberFormat`, built per
    /// call: these widgets are few).
    pub fn custom(locale: &str, v: f64, options: &super::ValueFormat, compact: bool) -> Option<String> {
        let mut opts: Vec<(&str, JsValue)> = Vec::new();
        if let Some(code) = &options.currency {
            opts.push(("style", "currency".into()));
            opts.push(("currency", code.as_str().into()));
        }
        if compact {
            opts.push(("notation", "compact".into()));
        }
        if let Some(d) = options.decimals {
            opts.push(("minimumFractionDigits", JsValue::from_f64(f64::from(d))));
            opts.push(("maximumFractionDigits", JsValue::from_f64(f64::from(d))));
        } else if !compact {
            opts.push(("maximumFractionDigits", JsValue::from_f64(2.0)));
        }
        let f = formatter("NumberFormat", locale, &opts).or_else(|| formatter("NumberFormat", "", &opts))?;
        f.call1(&JsValue::NULL, &JsValue::from_f64(v)).ok()?.as_string()
    }

    impl Formatters {
        pub fn new(locale: &str) -> Option<Self> {
            let s = |v: &str| JsValue::from_str(v);
            let n = |v: f64| JsValue::from_f64(v);
            let build = |locale: &str| -> Option<Self> {
                let utc = ("timeZone", s("UTC"));
                Some(Formatters {
                    number: formatter("NumberFormat", locale, &[("maximumFractionDigits", n(2.0))])?,
                    compact: formatter(
                        "NumberFormat",
                        locale,
                        &[("notation", s("compact")), ("maximumFractionDigits", n(1.0))],
                    )?,
                    percent: formatter(
                        "NumberFormat",
                        locale,
                        &[
                            ("style", s("percent")),
                            ("signDisplay", s("exceptZero")),
                            ("maximumFractionDigits", n(1.0)),
                        ],
                    )?,
                    hour: formatter(
                        "DateTimeFormat",
                        locale,
                        &[utc.clone(), ("month", s("short")), ("day", s("numeric")), ("hour", s("numeric"))],
                    )?,
                    day: formatter(
                        "DateTimeFormat",
                        locale,
                        &[utc.clone(), ("month", s("short")), ("day", s("numeric"))],
                    )?,
                    month: formatter(
                        "DateTimeFormat",
                        locale,
                        &[utc, ("month", s("short")), ("year", s("numeric"))],
                    )?,
                })
            };
            // An invalid tag throws a RangeError: fall back to the browser's locale.
            build(locale).or_else(|| build(""))
        }

        pub fn number(&self, f: &Function, v: f64) -> Option<String> {
            f.call1(&JsValue::NULL, &JsValue::from_f64(v)).ok()?.as_string()
        }

        pub fn date(&self, iso: &str, granularity: Option<Granularity>) -> Option<String> {
            let date = js_sys::Date::new(&JsValue::from_str(iso));
            if date.get_time().is_nan() {
                return None;
            }
            let f = match granularity {
                Some(Granularity::Month) => &self.month,
                Some(Granularity::Day | Granularity::Week) => &self.day,
                _ => &self.hour,
            };
            f.call1(&JsValue::NULL, &date).ok()?.as_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_numbers() {
        assert_eq!(plain_number(1234567.891, 2), "1,234,567.89");
        assert_eq!(plain_number(-12.0, 2), "-12");
        assert_eq!(plain_number(0.5, 2), "0.5");
        assert_eq!(plain_number(-0.001, 2), "0");
        assert_eq!(plain_compact(12_345.0), "12.3K");
        assert_eq!(plain_compact(999.0), "999");
        assert_eq!(plain_compact(2_500_000.0), "2.5M");
    }

    #[test]
    fn value_formats_come_from_the_viz_options() {
        let options = |json: serde_json::Value| ValueFormat::from_options(json.as_object().unwrap());
        let f = Formatter::new("en-US");
        let latency = options(serde_json::json!({ "unit": "ms", "higher_is_better": false, "decimals": 1 }));
        assert_eq!(latency.unit.as_deref(), Some("ms"));
        assert!(latency.lower_is_better);
        assert_eq!(f.value(412.25, &latency), "412.3 ms");
        assert_eq!(latency.verdict(0.015), "bad", "p95 latency rising is bad news");
        assert_eq!(latency.verdict(-0.2), "good");
        let revenue = options(serde_json::json!({ "currency": "eur", "compact": true }));
        assert_eq!(revenue.currency.as_deref(), Some("EUR"));
        assert_eq!(f.value(12_345.0, &revenue), "EUR 12.3K");
        assert_eq!(revenue.verdict(0.1), "good");
        assert_eq!(revenue.verdict(0.0), "neutral");
        assert_eq!(f.value(1234.5, &ValueFormat::default()), "1,234.5");
        assert_eq!(f.axis_value(1234.5, &options(serde_json::json!({ "unit": "ms" }))), "1.2K ms");
        // Wrong types and out-of-range values are ignored.
        let junk = options(serde_json::json!({
            "unit": 3, "currency": "euro", "decimals": 9, "compact": "yes", "higher_is_better": "no"
        }));
        assert_eq!(junk, ValueFormat::default());
    }

    #[test]
    fn formatter_falls_back_natively() {
        let f = Formatter::new("en-US");
        assert_eq!(f.locale(), "en-US");
        assert_eq!(f.change(0.125), "+12.5%");
        assert_eq!(f.change(-0.03), "-3%");
        assert_eq!(f.bucket("2026-11-20T14:00:00Z", None), "2026-11-20 14:00");
        assert_eq!(f.bucket("2026-11-20T00:00:00Z", Some(Granularity::Day)), "2026-11-20");
        assert_eq!(f.bucket("2026-11-01T00:00:00Z", Some(Granularity::Month)), "2026-11");
    }
}
