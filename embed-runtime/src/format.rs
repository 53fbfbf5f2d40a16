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
