//! `/v1/saved-queries`: the Query Builder's saved SQL snippets, per org. Reading needs any
//! console credential; writing needs admin access.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, patch},
};
use serde::Deserialize;

use crate::{
    adhoc::{DATASETS, MAX_SQL_CHARS},
    auth::ConsoleOrAdminKey,
    error::{ApiJson, AppError, Result},
    meta::saved_queries::{SavedQuery, SavedQueryPatch},
    state::AppState,
};

/// `/v1/saved-queries` and `/v1/saved-queries/{id}`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/saved-queries", get(list_saved_queries).post(create_saved_query))
        .route("/v1/saved-queries/{id}", patch(update_saved_query).delete(delete_saved_query))
}

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

fn check_name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control) {
        return Err(AppError::invalid("name: must be 1 to 200 characters without control characters"));
    }
    Ok(trimmed.to_owned())
}

fn check_sql(sql: &str) -> Result<String> {
    if sql.trim().is_empty() || sql.chars().count() > MAX_SQL_CHARS {
        return Err(AppError::invalid(format!("sql: must be 1 to {MAX_SQL_CHARS} characters")));
    }
    Ok(sql.to_owned())
}

fn check_dataset(dataset: &str) -> Result<String> {
    if !DATASETS.contains(&dataset) {
        return Err(AppError::invalid(format!(
            "dataset: must be one of {} (got {dataset:?})",
            DATASETS.join(", ")
        )));
    }
    Ok(dataset.to_owned())
}

fn parse_id(id: &str) -> Result<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| AppError::NotFound(format!("no saved query {id:?}")))
}

async fn list_saved_queries(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
) -> Result<Json<Vec<SavedQuery>>> {
    Ok(Json(state.saved_queries.list_saved_queries(caller.org_id).await?))
}

async fn create_saved_query(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    ApiJson(body): ApiJson<CreateSavedQuery>,
) -> Result<(StatusCode, Json<SavedQuery>)> {
    caller.require_admin_access()?;
    let name = check_name(&body.name)?;
    let sql = check_sql(&body.sql)?;
    let dataset = check_dataset(body.dataset.as_deref().unwrap_or("events"))?;
    let saved =
        state.saved_queries.create_saved_query(caller.org_id, &name, &sql, &dataset, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

async fn update_saved_query(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateSavedQuery>,
) -> Result<Json<SavedQuery>> {
    caller.require_admin_access()?;
    let id = parse_id(&id)?;
    let patch = SavedQueryPatch {
        name: body.name.as_deref().map(check_name).transpose()?,
        sql: body.sql.as_deref().map(check_sql).transpose()?,
        dataset: body.dataset.as_deref().map(check_dataset).transpose()?,
        starred: body.starred,
    };
    state
        .saved_queries
        .update_saved_query(caller.org_id, id, patch)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("no saved query {id}")))
}

async fn delete_saved_query(
    State(state): State<AppState>,
    ConsoleOrAdminKey(caller): ConsoleOrAdminKey,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    caller.require_admin_access()?;
    let id = parse_id(&id)?;
    if state.saved_queries.delete_saved_query(caller.org_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("no saved query {id}")))
    }
}
