//! Reading the JSON bodies of alert and report rules field by field, so every error names its
//! field, and the checks of their notification targets (`email_to`, `webhook_url`).

use serde_json::{Map, Value};

use crate::{
    delivery::{email::is_address, ssrf::SsrfGuard},
    error::{AppError, Result, clip},
};

/// Most mail recipients of one rule.
pub const MAX_RECIPIENTS: usize = 20;

/// A rule body: a JSON object whose keys are all known.
pub struct Body<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Body<'a> {
    /// Checks that `value` is an object with only `known` keys.
    pub fn new(value: &'a Value, known: &[&str]) -> Result<Self> {
        let map = value.as_object().ok_or_else(|| AppError::invalid("body: must be a JSON object"))?;
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(AppError::invalid(format!(
                "{}: unknown field (known: {})",
                clip(unknown),
                known.join(", ")
            )));
        }
        Ok(Body { map })
    }

    /// Whether the field is present (null included).
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A string field, trimmed; `None` when absent or null.
    pub fn string(&self, key: &str, max_chars: usize) -> Result<Option<String>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let s = v.as_str().ok_or_else(|| AppError::invalid(format!("{key}: must be a string")))?.trim();
        if s.is_empty() || s.chars().count() > max_chars || s.chars().any(char::is_control) {
            return Err(AppError::invalid(format!(
                "{key}: must be 1 to {max_chars} characters without control characters"
            )));
        }
        Ok(Some(s.to_owned()))
    }

    /// A finite number field.
    pub fn number(&self, key: &str) -> Result<Option<f64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        v.as_f64()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| AppError::invalid(format!("{key}: must be a number")))
    }

    /// A whole-number field.
    pub fn integer(&self, key: &str) -> Result<Option<i64>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        v.as_i64().map(Some).ok_or_else(|| AppError::invalid(format!("{key}: must be a whole number")))
    }

    /// A boolean field.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        v.as_bool().map(Some).ok_or_else(|| AppError::invalid(format!("{key}: must be true or false")))
    }

    /// A list of strings.
    pub fn strings(&self, key: &str) -> Result<Option<Vec<String>>> {
        let Some(v) = self.get(key) else { return Ok(None) };
        let list =
            v.as_array().ok_or_else(|| AppError::invalid(format!("{key}: must be a list of strings")))?;
        list.iter()
            .map(|item| {
                item.as_str()
                    .map(|s| s.trim().to_owned())
                    .ok_or_else(|| AppError::invalid(format!("{key}: must be a list of strings")))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// The raw value of a field (null included).
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }
}

/// Checks mail recipients.
pub fn check_email_to(list: Vec<String>) -> Result<Vec<String>> {
    if list.len() > MAX_RECIPIENTS {
        return Err(AppError::invalid(format!("email_to: at most {MAX_RECIPIENTS} addresses")));
    }
    for address in &list {
        if !is_address(address) {
            return Err(AppError::invalid(format!("email_to: {:?} is not a mail address", clip(address))));
        }
    }
    let mut list = list;
    list.dedup();
    Ok(list)
}

/// Checks a webhook URL: its syntax, and that its host resolves only to addresses the guard
/// lets through (checked again at every delivery).
pub async fn check_webhook_url(guard: &SsrfGuard, url: &str) -> Result<String> {
    let url = url.trim();
    let parsed = SsrfGuard::parse(url).map_err(|e| AppError::invalid(format!("webhook_url: {e}")))?;
    guard.resolve(&parsed).await.map_err(|e| AppError::invalid(format!("webhook_url: {e}")))?;
    Ok(url.to_owned())
}
