//! The Query Builder's saved SQL snippets: the bodies `/v1/saved-queries` takes and the rules
//! their fields follow.

use serde::Deserialize;

use crate::{
    analytics::adhoc::{DATASETS, MAX_SQL_CHARS},
    error::{AppError, Result},
};

/// `POST` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSavedQuery {
    /// Display name.
    pub name: String,
    /// SQL text.
    pub sql: String,
    /// Dataset; `events` when omitted.
    #[serde(default)]
    pub dataset: Option<String>,
}

/// `PATCH` body: any subset of the fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSavedQuery {
    /// New name.
    pub name: Option<String>,
    /// New SQL.
    pub sql: Option<String>,
    /// New dataset.
    pub dataset: Option<String>,
    /// New starred state.
    pub starred: Option<bool>,
}

pub fn check_name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control) {
        return Err(AppError::invalid("name: must be 1 to 200 characters without control characters"));
    }
    Ok(trimmed.to_owned())
}

pub fn check_sql(sql: &str) -> Result<String> {
    if sql.trim().is_empty() || sql.chars().count() > MAX_SQL_CHARS {
        return Err(AppError::invalid(format!("sql: must be 1 to {MAX_SQL_CHARS} characters")));
    }
    Ok(sql.to_owned())
}

pub fn check_dataset(dataset: &str) -> Result<String> {
    if !DATASETS.contains(&dataset) {
        return Err(AppError::invalid(format!(
            "dataset: must be one of {} (got {dataset:?})",
            DATASETS.join(", ")
        )));
    }
    Ok(dataset.to_owned())
}
