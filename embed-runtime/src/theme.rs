//! Theme tokens: validating `setTheme` colours and applying them as CSS custom properties on the
//! document root, so the page restyles in place (no reload, no flash) and charts redraw with them.

use contract::messages::Theme;

use crate::charts::Rgb;

/// The CSS custom property each `setTheme` token sets.
pub fn css_property(token: &str) -> Option<&'static str> {
    Some(match token {
        "primaryColor" => "--emban-primary",
        "backgroundColor" => "--emban-bg",
        "cardBackground" => "--emban-card-bg",
        "cardBorder" => "--emban-card-border",
        "textColor" => "--emban-text",
        "mutedColor" => "--emban-muted",
        _ => return None,
    })
}

/// The colours charts draw with, resolved from the active theme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// First series.
    pub primary: Rgb,
    /// Axis labels.
    pub muted: Rgb,
    /// Grid and axis lines.
    pub border: Rgb,
}

impl Default for Palette {
    /// The stylesheet's defaults (`style.css`).
    fn default() -> Self {
        Palette {
            primary: Rgb(0x0f, 0x9d, 0x58),
            muted: Rgb(0x5d, 0x6c, 0x63),
            border: Rgb(0xd8, 0xe2, 0xd9),
        }
    }
}

impl Palette {
    /// The stylesheet's dark scheme (`@media (prefers-color-scheme: dark)` in `style.css`).
    pub fn dark() -> Self {
        Palette {
            primary: Rgb(0x3d, 0xdc, 0x84),
            muted: Rgb(0x9f, 0xb0, 0xa6),
            border: Rgb(0x2e, 0x3a, 0x33),
        }
    }

    /// This palette with `theme`'s tokens applied, when they parse.
    pub fn with_theme(self, theme: &Theme) -> Palette {
        let pick = |value: &Option<String>, fallback: Rgb| {
            value.as_deref().and_then(parse_colour).unwrap_or(fallback)
        };
        Palette {
            primary: pick(&theme.primary_color, self.primary),
            muted: pick(&theme.muted_color, self.muted),
            border: pick(&theme.card_border, self.border),
        }
    }
}

/// WCAG 2 contrast ratio of two colours (1 to 21).
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let luminance = |c: Rgb| {
        let channel = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.039_28 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(c.0) + 0.7152 * channel(c.1) + 0.0722 * channel(c.2)
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Why a theme was refused: the tokens whose values are not colours, and a `colorScheme` that
/// is neither `light` nor `dark`.
pub fn invalid_tokens(theme: &Theme, is_named_colour: impl Fn(&str) -> bool) -> Vec<String> {
    let mut reasons: Vec<String> = theme
        .tokens()
        .into_iter()
        .filter(|(_, value)| {
            let value = value.trim();
            parse_colour(value).is_none() && !(is_keyword(value) && is_named_colour(value))
        })
        .map(|(name, value)| format!("{name} {value:?} is not a colour"))
        .collect();
    if let Some(scheme) = theme.color_scheme.as_deref().filter(|s| !matches!(*s, "light" | "dark")) {
        reasons.push(format!("colorScheme {scheme:?} is not light or dark"));
    }
    reasons
}

/// The built-in scheme's card background and state colours (`--emban-card-bg`, `--emban-good`,
/// `--emban-bad` in `style.css`).
pub fn scheme_surface(dark: bool) -> (Rgb, Rgb, Rgb) {
    if dark {
        (Rgb(0x18, 0x20, 0x1c), Rgb(0x5f, 0xd3, 0x9b), Rgb(0xff, 0x8a, 0x80))
    } else {
        (Rgb(0xff, 0xff, 0xff), Rgb(0x0b, 0x7a, 0x44), Rgb(0xb3, 0x26, 0x1e))
    }
}

/// `base`, or the first step from it towards black or white (whichever stands out more on
/// `background`) that meets WCAG AA (4.5:1) on `background`. Black or white always does.
pub fn readable_on(base: Rgb, background: Rgb) -> Rgb {
    let target = if contrast(Rgb(0, 0, 0), background) >= contrast(Rgb(255, 255, 255), background) {
        0.0
    } else {
        255.0
    };
    let mix = |c: u8, t: f64| (f64::from(c) + (target - f64::from(c)) * t).round() as u8;
    (0..=20)
        .map(|step| {
            let t = f64::from(step) / 20.0;
            Rgb(mix(base.0, t), mix(base.1, t), mix(base.2, t))
        })
        .find(|c| contrast(*c, background) >= 4.5)
        .unwrap_or(if target == 0.0 { Rgb(0, 0, 0) } else { Rgb(255, 255, 255) })
}

/// The good and bad (error, down) colours for a host's card background: the scheme's own,
/// moved until each meets WCAG AA on it. `None` without a host card background (the
/// stylesheet's colours already meet it).
pub fn state_colours(theme: &Theme, dark: bool) -> Option<(Rgb, Rgb)> {
    let card = theme.card_background.as_deref().and_then(parse_colour)?;
    let (_, good, bad) = scheme_surface(dark);
    Some((readable_on(good, card), readable_on(bad, card)))
}

/// A bare word such as `rebeccapurple`: a named colour if the browser says so.
fn is_keyword(value: &str) -> bool {
    !value.is_empty() && value.len() <= 32 && value.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Parses `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb()`/`rgba()` and `hsl()`/`hsla()` (comma or
/// space separated) into RGB (alpha is accepted and dropped). Anything else is `None`: no `url()`,
/// `var()` or `;` ever reaches a style.
pub fn parse_colour(value: &str) -> Option<Rgb> {
    let value = value.trim();
    if let Some(hex) = value.strip_prefix('#') {
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |i: usize| u8::from_str_radix(hex.get(i..i + 1)?, 16).ok();
        let pair = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        return match hex.len() {
            3 | 4 => Some(Rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
            6 | 8 => Some(Rgb(pair(0)?, pair(2)?, pair(4)?)),
            _ => None,
        };
    }
    let lower = value.to_ascii_lowercase();
    let (name, rest) = lower.split_once('(')?;
    let args = rest.strip_suffix(')')?;
    if !args.bytes().all(|b| b.is_ascii_digit() || b" .,%/-+edg".contains(&b)) {
        return None;
    }
    let parts: Vec<&str> = args.split([',', ' ', '/']).filter(|p| !p.is_empty()).collect();
    if !(3..=4).contains(&parts.len()) {
        return None;
    }
    if let Some(alpha) = parts.get(3) {
        parse_number_or_percent(alpha, 1.0)?;
    }
    match name.trim() {
        "rgb" | "rgba" => {
            let channel =
                |s: &str| parse_number_or_percent(s, 255.0).map(|v| v.clamp(0.0, 255.0).round() as u8);
            Some(Rgb(channel(parts[0])?, channel(parts[1])?, channel(parts[2])?))
        }
        "hsl" | "hsla" => {
            let h = parse_number(parts[0].trim_end_matches("deg"))?.rem_euclid(360.0);
            let s = parse_number(parts[1].strip_suffix('%').unwrap_or(parts[1]))?.clamp(0.0, 100.0) / 100.0;
            let l = parse_number(parts[2].strip_suffix('%').unwrap_or(parts[2]))?.clamp(0.0, 100.0) / 100.0;
            Some(hsl_to_rgb(h, s, l))
        }
        _ => None,
    }
}

fn parse_number_or_percent(s: &str, full: f64) -> Option<f64> {
    let v = match s.strip_suffix('%') {
        Some(p) => parse_number(p)? / 100.0 * full,
        None => parse_number(s)?,
    };
    v.is_finite().then_some(v)
}

/// A CSS `<number>`: `12`, `-0.5`, `.5`, `+1e2`. Colour channels need no correctly rounded last
/// bit, and `f64::from_str` brings a 10 KB table of powers of five into the wasm.
pub fn parse_number(s: &str) -> Option<f64> {
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => (&s[..at], Some(&s[at + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return None;
    }
    let mut value = 0.0f64;
    for b in int.bytes().chain(frac.bytes()) {
        value = value * 10.0 + f64::from(b - b'0');
    }
    let mut scale = -(frac.len().min(400) as i32);
    if let Some(exponent) = exponent {
        let (exp_negative, e) = match exponent.as_bytes().first() {
            Some(b'-') => (true, &exponent[1..]),
            Some(b'+') => (false, &exponent[1..]),
            _ => (false, exponent),
        };
        if e.is_empty() || !digits(e) {
            return None;
        }
        let e = e.bytes().fold(0i32, |n, b| n.saturating_mul(10).saturating_add(i32::from(b - b'0')));
        scale = scale.saturating_add(if exp_negative { -e } else { e });
    }
    let value = value * 10f64.powi(scale);
    Some(if negative { -value } else { value })
}

fn hsl_to_rgb(h: f64, s: f64, l: f64) -> Rgb {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = l - c / 2.0;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let to = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb(to(r), to(g), to(b))
}

/// Sets the theme's tokens as custom properties on the document root.
#[cfg(target_arch = "wasm32")]
pub fn apply_to_document(theme: &Theme) {
    use wasm_bindgen::JsCast;
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    let style = root.style();
    for (token, value) in theme.tokens() {
        if let Some(property) = css_property(token) {
            let _ = style.set_property(property, value.trim());
        }
    }
}

/// Sets the host's scheme (`data-scheme` on the root, which `style.css` reads) and the derived
/// state colours (`--emban-good`, `--emban-bad`; removed when `None`).
#[cfg(target_arch = "wasm32")]
pub fn apply_scheme(scheme: Option<&str>, states: Option<(Rgb, Rgb)>) {
    use wasm_bindgen::JsCast;
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    if let Some(scheme) = scheme {
        let _ = root.set_attribute("data-scheme", scheme);
    }
    let style = root.style();
    match states {
        Some((good, bad)) => {
            let _ = style.set_property("--emban-good", &good.hex());
            let _ = style.set_property("--emban-bad", &bad.hex());
        }
        None => {
            let _ = style.remove_property("--emban-good");
            let _ = style.remove_property("--emban-bad");
        }
    }
}

/// Whether the browser takes `value` as a colour (for named colours).
#[cfg(target_arch = "wasm32")]
pub fn browser_accepts_colour(value: &str) -> bool {
    web_sys::css::supports_with_value("color", value).unwrap_or(false)
}

/// `theme` with named colours (`rebeccapurple`) replaced by the `rgb()` the browser computes,
/// so charts can draw with them.
#[cfg(target_arch = "wasm32")]
pub fn resolve_named(theme: &Theme) -> Theme {
    use wasm_bindgen::JsCast;
    let resolve = |value: &Option<String>| -> Option<String> {
        let value = value.as_deref()?.trim();
        if parse_colour(value).is_some() {
            return Some(value.to_owned());
        }
        let window = web_sys::window()?;
        let document = window.document()?;
        let probe: web_sys::HtmlElement = document.create_element("span").ok()?.dyn_into().ok()?;
        probe.style().set_property("color", value).ok()?;
        document.body()?.append_child(&probe).ok()?;
        let computed =
            window.get_computed_style(&probe).ok().flatten().and_then(|s| s.get_property_value("color").ok());
        probe.remove();
        computed.filter(|c| parse_colour(c).is_some()).or_else(|| Some(value.to_owned()))
    };
    Theme {
        primary_color: resolve(&theme.primary_color),
        background_color: resolve(&theme.background_color),
        card_background: resolve(&theme.card_background),
        card_border: resolve(&theme.card_border),
        text_color: resolve(&theme.text_color),
        muted_color: resolve(&theme.muted_color),
        color_scheme: theme.color_scheme.clone(),
    }
}

#[cfg(test)]
mod tests {
    /// `--emban-*` colours declared in `style.css`'s light `:root` and in its dark-scheme block.
    fn schemes() -> [std::collections::BTreeMap<String, Rgb>; 2] {
        let css = include_str!("../style.css");
        let dark_at = css.find("@media (prefers-color-scheme: dark)").expect("a dark scheme");
        let read = |block: &str| {
            block
                .lines()
                .filter_map(|l| {
                    let (name, value) = l.trim().strip_prefix("--emban-")?.split_once(':')?;
                    Some((name.to_owned(), parse_colour(value.trim().trim_end_matches(';'))?))
                })
                .collect()
        };
        [
            read(&css[..dark_at]),
            read(&css[dark_at..css[dark_at..].find("\n}\n").map_or(css.len(), |e| dark_at + e)]),
        ]
    }

    #[test]
    fn built_in_schemes_meet_wcag_aa() {
        for (scheme, colours) in ["light", "dark"].into_iter().zip(schemes()) {
            let get =
                |name: &str| *colours.get(name).unwrap_or_else(|| panic!("{scheme}: no --emban-{name}"));
            for surface in ["card-bg", "bg"] {
                for text in ["text", "muted", "good", "bad"] {
                    let ratio = contrast(get(text), get(surface));
                    assert!(ratio >= 4.5, "{scheme}: {text} on {surface} is {ratio:.2}:1, under 4.5:1");
                }
                // The accent draws marks, outlines and focus rings: 3:1 for graphics (WCAG 1.4.11).
                let ratio = contrast(get("primary"), get(surface));
                assert!(ratio >= 3.0, "{scheme}: primary on {surface} is {ratio:.2}:1");
            }
        }
        // The charts' palettes are the stylesheet's.
        let [light, dark] = schemes();
        for (palette, css) in [(Palette::default(), light), (Palette::dark(), dark)] {
            assert_eq!(Some(&palette.primary), css.get("primary"));
            assert_eq!(Some(&palette.muted), css.get("muted"));
            assert_eq!(Some(&palette.border), css.get("card-border"));
        }
        assert!((contrast(Rgb(0, 0, 0), Rgb(255, 255, 255)) - 21.0).abs() < 1e-9);
        // The scheme a host forces with `colorScheme` is the same set of colours.
        let css = include_str!("../style.css");
        let forced = &css[css.find(":root[data-scheme=dark]").expect("a forced dark scheme")..];
        let forced = &forced[..forced.find("\n}").unwrap()];
        assert!(forced.contains("color-scheme: dark;"), "native controls follow the forced scheme");
        let [_, dark] = schemes();
        for (name, colour) in &dark {
            assert!(
                forced.contains(&format!("--emban-{name}: {};", colour.hex())),
                "{name} differs in the forced scheme"
            );
        }
        for dark in [false, true] {
            let (card, good, bad) = scheme_surface(dark);
            let [light_css, dark_css] = schemes();
            let css = if dark { dark_css } else { light_css };
            assert_eq!([css["card-bg"], css["good"], css["bad"]], [card, good, bad]);
        }
    }

    #[test]
    fn state_colours_are_derived_to_meet_wcag_aa_on_any_host_card() {
        for card in [
            "#ffffff", "#000000", "#777777", "#cc0000", "#ffeb3b", "#1e3a8a", "#b3261e", "#2e7d32", "#f5f5dc",
        ] {
            for dark in [false, true] {
                let theme = Theme { card_background: Some(card.into()), ..Default::default() };
                let (good, bad) = state_colours(&theme, dark).unwrap();
                let surface = parse_colour(card).unwrap();
                for (name, colour) in [("good", good), ("bad", bad)] {
                    let ratio = contrast(colour, surface);
                    assert!(ratio >= 4.5, "{name} {} on host card {card} is {ratio:.2}:1", colour.hex());
                }
            }
        }
        // A colour that already meets it is kept; without a host card nothing is derived.
        assert_eq!(readable_on(Rgb(0xb3, 0x26, 0x1e), Rgb(255, 255, 255)), Rgb(0xb3, 0x26, 0x1e));
        assert_eq!(state_colours(&Theme::default(), false), None);
    }

    use super::*;

    #[test]
    fn parses_css_numbers() {
        for (text, value) in
            [("12", 12.0), ("-0.5", -0.5), (".5", 0.5), ("+1e2", 100.0), ("2.5E-1", 0.25), ("7.", 7.0)]
        {
            assert_eq!(parse_number(text), Some(value), "{text}");
        }
        for text in ["", ".", "-", "1e", "1e+", "1..2", "--1", "1.2.3", "e5", "1x", "inf", "NaN"] {
            assert_eq!(parse_number(text), None, "{text}");
        }
    }

    #[test]
    fn parses_the_colour_forms() {
        assert_eq!(parse_colour("#0f9d58"), Some(Rgb(0x0f, 0x9d, 0x58)));
        assert_eq!(parse_colour("#FFF"), Some(Rgb(255, 255, 255)));
        assert_eq!(parse_colour("#0f9d58cc"), Some(Rgb(0x0f, 0x9d, 0x58)));
        assert_eq!(parse_colour("rgb(1, 2, 3)"), Some(Rgb(1, 2, 3)));
        assert_eq!(parse_colour("rgba(255 0 0 / 50%)"), Some(Rgb(255, 0, 0)));
        assert_eq!(parse_colour("hsl(120, 100%, 25%)"), Some(Rgb(0, 128, 0)));
        assert_eq!(parse_colour("hsl(0deg 0% 100%)"), Some(Rgb(255, 255, 255)));
    }

    #[test]
    fn refuses_what_is_not_a_colour() {
        for bad in [
            "",
            "#12",
            "#ggg",
            "#12345",
            "red; background: url(x)",
            "url(x)",
            "var(--x)",
            "rgb(1,2)",
            "expression(alert(1))",
            "rgb(1,2,3);x",
        ] {
            assert_eq!(parse_colour(bad), None, "{bad}");
        }
    }

    #[test]
    fn invalid_tokens_names_each_bad_token() {
        let theme = Theme {
            primary_color: Some("#0f9d58".into()),
            text_color: Some("not a colour".into()),
            muted_color: Some("rebeccapurple".into()),
            ..Default::default()
        };
        assert_eq!(invalid_tokens(&theme, |_| true), ["textColor \"not a colour\" is not a colour"]);
        assert_eq!(invalid_tokens(&theme, |_| false).len(), 2, "unknown names are refused");
        let scheme = |s: &str| Theme { color_scheme: Some(s.into()), ..Default::default() };
        assert!(invalid_tokens(&scheme("dark"), |_| true).is_empty());
        assert!(invalid_tokens(&scheme("light"), |_| true).is_empty());
        assert_eq!(
            invalid_tokens(&scheme("sepia"), |_| true),
            ["colorScheme \"sepia\" is not light or dark"]
        );
    }

    #[test]
    fn palette_follows_the_theme() {
        let theme = Theme { primary_color: Some("#ff0000".into()), ..Default::default() };
        let palette = Palette::default().with_theme(&theme);
        assert_eq!(palette.primary, Rgb(255, 0, 0));
        assert_eq!(palette.muted, Palette::default().muted);
        assert_eq!(css_property("cardBorder"), Some("--emban-card-border"));
        assert_eq!(css_property("x"), None);
    }
}
