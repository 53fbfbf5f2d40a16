//! `POST /v1/embed/export`: the CSV of some or every visible widget under a filter state, for a
//! session whose permissions allow export. The data is the data API's (`data::query`: the
//! tenant, locked filters and every other permission apply), written by `contract::csv`.

use contract::embed::{EmbedExportRequest, EmbedQueryRequest};

use crate::{
    embed::{
        data::{self, other_dashboard},
        permissions::visible_widgets,
        token::EmbedClaims,
    },
    error::{AppError, Result},
    state::AppState,
};

/// Most widgets one export names.
const MAX_EXPORT_WIDGETS: usize = 50;

/// The CSV text: for one widget, its rows; for several, each widget's title on a line of its own,
/// then its rows, then a blank line. `None` when the dashboard is not published.
pub async fn export_csv(
    state: &AppState,
    claims: &EmbedClaims,
    request: &EmbedExportRequest,
) -> Result<Option<String>> {
    if !claims.permissions.allow_export {
        return Err(AppError::Forbidden("export is not allowed in this embed session".into()));
    }
    if request.dashboard_id.as_ref().is_some_and(|d| *d != claims.dashboard) {
        return Err(other_dashboard());
    }
    let Some(record) = state.dashboards.dashboard(claims.org, claims.env, &claims.dashboard).await? else {
        return Err(AppError::NotFound("the dashboard of this embed session no longer exists".into()));
    };
    if !record.is_published || record.published_config.is_none() {
        return Ok(None);
    }
    let widgets = visible_widgets(&state.signing_secret, &record, claims);
    let chosen: Vec<_> = match &request.widget_ids {
        Some(ids) if ids.is_empty() || ids.len() > MAX_EXPORT_WIDGETS => {
            return Err(AppError::invalid(format!(
                "widget_ids: give 1 to {MAX_EXPORT_WIDGETS} widget ids, or leave it out for every widget"
            )));
        }
        Some(ids) => ids.clone(),
        None => {
            let mut all: Vec<_> = widgets.iter().collect();
            all.sort_by_key(|w| (w.layout.y, w.layout.x, w.id.clone()));
            all.into_iter().map(|w| w.id.clone()).collect()
        }
    };
    let single = chosen.len() == 1;
    let mut out = String::new();
    for widget_id in chosen {
        let query = EmbedQueryRequest {
            widget_id,
            filters: request.filters.clone(),
            drill: None,
            dashboard_id: Some(claims.dashboard.clone()),
        };
        // Unknown or hidden widgets are a 404, every permission a 403, as for a query.
        let Some(answer) = data::query(state, claims, &query).await? else { return Ok(None) };
        let Some(widget) = widgets.iter().find(|w| w.id == answer.widget_id) else { continue };
        let rows =
            contract::csv::rows(&answer.data, widget.query.group_by.as_deref(), widget.query.metric.as_str());
        if single {
            return Ok(Some(rows));
        }
        out.push_str(&contract::csv::text_cell(&widget.title));
        out.push_str("\r\n");
        out.push_str(&rows);
        out.push_str("\r\n");
    }
    Ok(Some(out))
}
