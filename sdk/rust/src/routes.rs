//! Every SDK method's route. The client calls the server only through this table; its test
//! checks it against the Node SDK's (`sdk/node/src/routes.ts`), whose test suite compares that
//! with the server's own route table, so both SDKs cover every server route.

use reqwest::Method;

use crate::error::Error;

/// The SDK's calls, one per route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteName {
    /// `GET /v1/auth/me`.
    AuthMe,
    /// `POST /v1/events`.
    Ingest,
    /// `GET /v1/query`.
    Query,
    /// `POST /v1/query/adhoc`.
    SqlRun,
    /// `GET /v1/datasets`.
    DatasetsList,
    /// `GET /v1/datasets/{name}/ddl`.
    DatasetsDdl,
    /// `GET /v1/saved-queries`.
    SavedQueriesList,
    /// `POST /v1/saved-queries`.
    SavedQueriesCreate,
    /// `PATCH /v1/saved-queries/{id}`.
    SavedQueriesUpdate,
    /// `DELETE /v1/saved-queries/{id}`.
    SavedQueriesDelete,
    /// `GET /v1/dashboards`.
    DashboardsList,
    /// `GET /v1/dashboards/{id}`.
    DashboardsGet,
    /// `POST /v1/dashboards`.
    DashboardsCreate,
    /// `PATCH /v1/dashboards/{id}`.
    DashboardsUpdate,
    /// `DELETE /v1/dashboards/{id}`.
    DashboardsDelete,
    /// `POST /v1/dashboards/{id}/publish`.
    DashboardsPublish,
    /// `POST /v1/dashboards/{id}/unpublish`.
    DashboardsUnpublish,
    /// `POST /v1/dashboards/{id}/restore-published`.
    DashboardsRestoreDraft,
    /// `POST /v1/dashboards/{id}/widgets`.
    DashboardsAddWidget,
    /// `PATCH /v1/dashboards/{id}/widgets/{widget_id}`.
    DashboardsUpdateWidget,
    /// `DELETE /v1/dashboards/{id}/widgets/{widget_id}`.
    DashboardsDeleteWidget,
    /// `GET /v1/widgets`.
    WidgetsList,
    /// `GET /v1/widgets/{id}`.
    WidgetsGet,
    /// `POST /v1/widgets`.
    WidgetsCreate,
    /// `PATCH /v1/widgets/{id}`.
    WidgetsUpdate,
    /// `DELETE /v1/widgets/{id}`.
    WidgetsDelete,
    /// `POST /v1/widgets/{id}/publish`.
    WidgetsPublish,
    /// `POST /v1/widgets/preview/data`.
    WidgetsPreview,
    /// `POST /v1/embed-sessions`.
    CreateEmbedSession,
    /// `GET /v1/embed-sessions`.
    ListEmbedSessions,
    /// `DELETE /v1/embed-sessions/{jti}`.
    RevokeEmbedSession,
    /// `DELETE /v1/embed-sessions?tenant_id=`.
    RevokeTenantEmbedSessions,
    /// `GET /v1/discover`.
    DiscoveryDiscover,
    /// `POST /v1/discover/auto-create`.
    DiscoveryAutoCreate,
    /// `GET /v1/api-keys`.
    ApiKeysList,
    /// `POST /v1/api-keys`.
    ApiKeysCreate,
    /// `DELETE /v1/api-keys/{id}`.
    ApiKeysRevoke,
    /// `GET /v1/usage`.
    UsageGet,
    /// `GET /v1/onboarding/status`.
    UsageOnboarding,
    /// `GET /v1/audit`.
    AuditList,
    /// `GET /v1/settings/org`.
    SettingsGetOrg,
    /// `PATCH /v1/settings/org`.
    SettingsUpdateOrg,
    /// `DELETE /v1/settings/org`.
    SettingsDeleteOrg,
    /// `GET /v1/members`.
    MembersList,
    /// `POST /v1/members/invite`.
    MembersInvite,
    /// `GET /v1/members/invites`.
    MembersInvites,
    /// `PATCH /v1/members/{id}`.
    MembersUpdateRole,
    /// `DELETE /v1/members/{id}`.
    MembersRemove,
    /// `DELETE /v1/members/invites/{id}` (an extension: cancels a pending invite).
    MembersCancelInvite,
    /// `GET /v1/alerts`.
    AlertsList,
    /// `GET /v1/alerts/{alert_id}`.
    AlertsGet,
    /// `GET /v1/alerts/{alert_id}/events`.
    AlertsEvents,
    /// `POST /v1/alerts`.
    AlertsCreate,
    /// `PATCH /v1/alerts/{alert_id}`.
    AlertsUpdate,
    /// `DELETE /v1/alerts/{alert_id}`.
    AlertsDelete,
    /// `GET /v1/reports`.
    ReportsList,
    /// `GET /v1/reports/{report_id}`.
    ReportsGet,
    /// `GET /v1/reports/{report_id}/runs`.
    ReportsRuns,
    /// `POST /v1/reports`.
    ReportsCreate,
    /// `PATCH /v1/reports/{report_id}`.
    ReportsUpdate,
    /// `DELETE /v1/reports/{report_id}`.
    ReportsDelete,
    /// `GET /v1/billing`.
    BillingGet,
    /// `GET /v1/billing/plans`.
    BillingPlans,
    /// `GET /v1/billing/checkout-config`.
    BillingCheckoutConfig,
    /// `GET /v1/billing/portal`.
    BillingPortal,
    /// `GET /v1/webhooks`.
    WebhooksDeliveries,
    /// `POST /v1/webhooks/secret` (an extension: creates or rotates the signing secret).
    WebhooksRotateSecret,
    /// `POST /v1/webhooks/test` (an extension: queues a signed test message).
    WebhooksTest,
}

/// `(call, name in the Node SDK, method, path)`; `{name}` marks a path parameter.
pub const ROUTES: &[(RouteName, &str, &str, &str)] = &[
    (RouteName::AuthMe, "auth.me", "GET", "/v1/auth/me"),
    (RouteName::Ingest, "ingest", "POST", "/v1/events"),
    (RouteName::Query, "query", "GET", "/v1/query"),
    (RouteName::SqlRun, "sql.run", "POST", "/v1/query/adhoc"),
    (RouteName::DatasetsList, "datasets.list", "GET", "/v1/datasets"),
    (RouteName::DatasetsDdl, "datasets.ddl", "GET", "/v1/datasets/{name}/ddl"),
    (RouteName::SavedQueriesList, "savedQueries.list", "GET", "/v1/saved-queries"),
    (RouteName::SavedQueriesCreate, "savedQueries.create", "POST", "/v1/saved-queries"),
    (RouteName::SavedQueriesUpdate, "savedQueries.update", "PATCH", "/v1/saved-queries/{id}"),
    (RouteName::SavedQueriesDelete, "savedQueries.delete", "DELETE", "/v1/saved-queries/{id}"),
    (RouteName::DashboardsList, "dashboards.list", "GET", "/v1/dashboards"),
    (RouteName::DashboardsGet, "dashboards.get", "GET", "/v1/dashboards/{id}"),
    (RouteName::DashboardsCreate, "dashboards.create", "POST", "/v1/dashboards"),
    (RouteName::DashboardsUpdate, "dashboards.update", "PATCH", "/v1/dashboards/{id}"),
    (RouteName::DashboardsDelete, "dashboards.delete", "DELETE", "/v1/dashboards/{id}"),
    (RouteName::DashboardsPublish, "dashboards.publish", "POST", "/v1/dashboards/{id}/publish"),
    (RouteName::DashboardsUnpublish, "dashboards.unpublish", "POST", "/v1/dashboards/{id}/unpublish"),
    (
        RouteName::DashboardsRestoreDraft,
        "dashboards.restoreDraft",
        "POST",
        "/v1/dashboards/{id}/restore-published",
    ),
    (RouteName::DashboardsAddWidget, "dashboards.addWidget", "POST", "/v1/dashboards/{id}/widgets"),
    (
        RouteName::DashboardsUpdateWidget,
        "dashboards.updateWidget",
        "PATCH",
        "/v1/dashboards/{id}/widgets/{widget_id}",
    ),
    (
        RouteName::DashboardsDeleteWidget,
        "dashboards.deleteWidget",
        "DELETE",
        "/v1/dashboards/{id}/widgets/{widget_id}",
    ),
    (RouteName::WidgetsList, "widgets.list", "GET", "/v1/widgets"),
    (RouteName::WidgetsGet, "widgets.get", "GET", "/v1/widgets/{id}"),
    (RouteName::WidgetsCreate, "widgets.create", "POST", "/v1/widgets"),
    (RouteName::WidgetsUpdate, "widgets.update", "PATCH", "/v1/widgets/{id}"),
    (RouteName::WidgetsDelete, "widgets.delete", "DELETE", "/v1/widgets/{id}"),
    (RouteName::WidgetsPublish, "widgets.publish", "POST", "/v1/widgets/{id}/publish"),
    (RouteName::WidgetsPreview, "widgets.preview", "POST", "/v1/widgets/preview/data"),
    (RouteName::CreateEmbedSession, "createEmbedSession", "POST", "/v1/embed-sessions"),
    (RouteName::ListEmbedSessions, "listEmbedSessions", "GET", "/v1/embed-sessions"),
    (RouteName::RevokeEmbedSession, "revokeEmbedSession", "DELETE", "/v1/embed-sessions/{jti}"),
    (RouteName::RevokeTenantEmbedSessions, "revokeTenantEmbedSessions", "DELETE", "/v1/embed-sessions"),
    (RouteName::DiscoveryDiscover, "discovery.discover", "GET", "/v1/discover"),
    (RouteName::DiscoveryAutoCreate, "discovery.autoCreate", "POST", "/v1/discover/auto-create"),
    (RouteName::ApiKeysList, "apiKeys.list", "GET", "/v1/api-keys"),
    (RouteName::ApiKeysCreate, "apiKeys.create", "POST", "/v1/api-keys"),
    (RouteName::ApiKeysRevoke, "apiKeys.revoke", "DELETE", "/v1/api-keys/{id}"),
    (RouteName::UsageGet, "usage.get", "GET", "/v1/usage"),
    (RouteName::UsageOnboarding, "usage.onboarding", "GET", "/v1/onboarding/status"),
    (RouteName::AuditList, "audit.list", "GET", "/v1/audit"),
    (RouteName::SettingsGetOrg, "settings.getOrg", "GET", "/v1/settings/org"),
    (RouteName::SettingsUpdateOrg, "settings.updateOrg", "PATCH", "/v1/settings/org"),
    (RouteName::SettingsDeleteOrg, "settings.deleteOrg", "DELETE", "/v1/settings/org"),
    (RouteName::MembersList, "members.list", "GET", "/v1/members"),
    (RouteName::MembersInvite, "members.invite", "POST", "/v1/members/invite"),
    (RouteName::MembersInvites, "members.invites", "GET", "/v1/members/invites"),
    (RouteName::MembersUpdateRole, "members.updateRole", "PATCH", "/v1/members/{id}"),
    (RouteName::MembersRemove, "members.remove", "DELETE", "/v1/members/{id}"),
    (RouteName::MembersCancelInvite, "members.cancelInvite", "DELETE", "/v1/members/invites/{id}"),
    (RouteName::AlertsList, "alerts.list", "GET", "/v1/alerts"),
    (RouteName::AlertsGet, "alerts.get", "GET", "/v1/alerts/{alert_id}"),
    (RouteName::AlertsEvents, "alerts.events", "GET", "/v1/alerts/{alert_id}/events"),
    (RouteName::AlertsCreate, "alerts.create", "POST", "/v1/alerts"),
    (RouteName::AlertsUpdate, "alerts.update", "PATCH", "/v1/alerts/{alert_id}"),
    (RouteName::AlertsDelete, "alerts.delete", "DELETE", "/v1/alerts/{alert_id}"),
    (RouteName::ReportsList, "reports.list", "GET", "/v1/reports"),
    (RouteName::ReportsGet, "reports.get", "GET", "/v1/reports/{report_id}"),
    (RouteName::ReportsRuns, "reports.runs", "GET", "/v1/reports/{report_id}/runs"),
    (RouteName::ReportsCreate, "reports.create", "POST", "/v1/reports"),
    (RouteName::ReportsUpdate, "reports.update", "PATCH", "/v1/reports/{report_id}"),
    (RouteName::ReportsDelete, "reports.delete", "DELETE", "/v1/reports/{report_id}"),
    (RouteName::BillingGet, "billing.get", "GET", "/v1/billing"),
    (RouteName::BillingPlans, "billing.plans", "GET", "/v1/billing/plans"),
    (RouteName::BillingCheckoutConfig, "billing.checkoutConfig", "GET", "/v1/billing/checkout-config"),
    (RouteName::BillingPortal, "billing.portal", "GET", "/v1/billing/portal"),
    (RouteName::WebhooksDeliveries, "webhooks.deliveries", "GET", "/v1/webhooks"),
    (RouteName::WebhooksRotateSecret, "webhooks.rotateSecret", "POST", "/v1/webhooks/secret"),
    (RouteName::WebhooksTest, "webhooks.test", "POST", "/v1/webhooks/test"),
];

/// The method and filled-in path of a call; `params` fill the `{...}` parameters in order.
pub(crate) fn route(name: RouteName, params: &[&str]) -> Result<(Method, String), Error> {
    let Some((_, _, method, template)) = ROUTES.iter().find(|(n, ..)| *n == name) else {
        return Err(Error::Config(format!("no route for {name:?}")));
    };
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| Error::Config(e.to_string()))?;
    let mut path = String::with_capacity(template.len() + 40);
    let mut params = params.iter();
    let mut rest = *template;
    while let Some(start) = rest.find('{') {
        path.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        let value = params.next().filter(|v| !v.is_empty()).ok_or_else(|| {
            Error::local(&rest[start..end], "invalid_request", format!("{}: required", &rest[start..end]))
        })?;
        path.push_str(&encode_segment(value));
        rest = &rest[end..];
    }
    path.push_str(rest);
    Ok((method, path))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_filled_and_encoded() {
        let (method, path) = route(RouteName::DashboardsUpdateWidget, &["a b", "w/1"])
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(method, Method::PATCH);
        assert_eq!(path, "/v1/dashboards/a%20b/widgets/w%2F1");
        assert!(route(RouteName::DashboardsGet, &[]).is_err());
    }

    /// The same table as the Node SDK's, whose tests compare it with the server's routes.
    #[test]
    fn matches_the_node_sdk() {
        let ts = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../node/src/routes.ts"))
            .unwrap_or_else(|e| panic!("reading the Node SDK's routes: {e}"));
        let start = ts.find("export const ROUTES = {").unwrap_or_else(|| panic!("no ROUTES in routes.ts"));
        let end = ts[start..].find("} as const").map_or(ts.len(), |e| start + e);
        let mut node: Vec<String> = ts[start..end]
            .lines()
            .filter_map(|line| {
                let (name, rest) = line.trim().split_once(": [")?;
                let mut parts = rest.split('\'');
                let method = parts.nth(1)?;
                let path = parts.nth(1)?;
                Some(format!("{} {method} {path}", name.trim_matches('\'')))
            })
            .collect();
        let mut rust: Vec<String> = ROUTES.iter().map(|(_, n, m, p)| format!("{n} {m} {p}")).collect();
        node.sort();
        rust.sort();
        assert_eq!(rust, node);
    }
}
