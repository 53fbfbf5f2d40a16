// Every SDK method's HTTP route. The client calls the server only through this table, and the
// test suite compares it with the server's own route table, so a server route without an SDK
// method (or an SDK method for a route the server dropped) fails the tests.

/** An HTTP method the server routes. */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** `[method, path]`; `{name}` marks a path parameter, as the server writes it. */
export type Route = readonly [HttpMethod, string];

/** SDK method name → its route. */
export const ROUTES = {
  'auth.me': ['GET', '/v1/auth/me'],
  ingest: ['POST', '/v1/events'],
  query: ['GET', '/v1/query'],
  'sql.run': ['POST', '/v1/query/adhoc'],
  'datasets.list': ['GET', '/v1/datasets'],
  'datasets.ddl': ['GET', '/v1/datasets/{name}/ddl'],
  'savedQueries.list': ['GET', '/v1/saved-queries'],
  'savedQueries.create': ['POST', '/v1/saved-queries'],
  'savedQueries.update': ['PATCH', '/v1/saved-queries/{id}'],
  'savedQueries.delete': ['DELETE', '/v1/saved-queries/{id}'],
  'dashboards.list': ['GET', '/v1/dashboards'],
  'dashboards.get': ['GET', '/v1/dashboards/{id}'],
  'dashboards.create': ['POST', '/v1/dashboards'],
  'dashboards.update': ['PATCH', '/v1/dashboards/{id}'],
  'dashboards.delete': ['DELETE', '/v1/dashboards/{id}'],
  'dashboards.publish': ['POST', '/v1/dashboards/{id}/publish'],
  'dashboards.unpublish': ['POST', '/v1/dashboards/{id}/unpublish'],
  'dashboards.restoreDraft': ['POST', '/v1/dashboards/{id}/restore-published'],
  'dashboards.addWidget': ['POST', '/v1/dashboards/{id}/widgets'],
  'dashboards.updateWidget': ['PATCH', '/v1/dashboards/{id}/widgets/{widget_id}'],
  'dashboards.deleteWidget': ['DELETE', '/v1/dashboards/{id}/widgets/{widget_id}'],
  'widgets.list': ['GET', '/v1/widgets'],
  'widgets.get': ['GET', '/v1/widgets/{id}'],
  'widgets.create': ['POST', '/v1/widgets'],
  'widgets.update': ['PATCH', '/v1/widgets/{id}'],
  'widgets.delete': ['DELETE', '/v1/widgets/{id}'],
  'widgets.publish': ['POST', '/v1/widgets/{id}/publish'],
  'widgets.preview': ['POST', '/v1/widgets/preview/data'],
  createEmbedSession: ['POST', '/v1/embed-sessions'],
  listEmbedSessions: ['GET', '/v1/embed-sessions'],
  revokeEmbedSession: ['DELETE', '/v1/embed-sessions/{jti}'],
  revokeTenantEmbedSessions: ['DELETE', '/v1/embed-sessions'],
  'discovery.discover': ['GET', '/v1/discover'],
  'discovery.autoCreate': ['POST', '/v1/discover/auto-create'],
  'apiKeys.list': ['GET', '/v1/api-keys'],
  'apiKeys.create': ['POST', '/v1/api-keys'],
  'apiKeys.revoke': ['DELETE', '/v1/api-keys/{id}'],
  'usage.get': ['GET', '/v1/usage'],
  'usage.onboarding': ['GET', '/v1/onboarding/status'],
  'audit.list': ['GET', '/v1/audit'],
  'settings.getOrg': ['GET', '/v1/settings/org'],
  'settings.updateOrg': ['PATCH', '/v1/settings/org'],
  'settings.deleteOrg': ['DELETE', '/v1/settings/org'],
  'members.list': ['GET', '/v1/members'],
  'members.invite': ['POST', '/v1/members/invite'],
  'members.invites': ['GET', '/v1/members/invites'],
  'members.updateRole': ['PATCH', '/v1/members/{id}'],
  'members.remove': ['DELETE', '/v1/members/{id}'],
  'members.cancelInvite': ['DELETE', '/v1/members/invites/{id}'],
  'billing.get': ['GET', '/v1/billing'],
  'billing.plans': ['GET', '/v1/billing/plans'],
  'billing.checkoutConfig': ['GET', '/v1/billing/checkout-config'],
  'billing.portal': ['GET', '/v1/billing/portal'],
  'alerts.list': ['GET', '/v1/alerts'],
  'alerts.get': ['GET', '/v1/alerts/{alert_id}'],
  'alerts.events': ['GET', '/v1/alerts/{alert_id}/events'],
  'alerts.create': ['POST', '/v1/alerts'],
  'alerts.update': ['PATCH', '/v1/alerts/{alert_id}'],
  'alerts.delete': ['DELETE', '/v1/alerts/{alert_id}'],
  'reports.list': ['GET', '/v1/reports'],
  'reports.get': ['GET', '/v1/reports/{report_id}'],
  'reports.runs': ['GET', '/v1/reports/{report_id}/runs'],
  'reports.create': ['POST', '/v1/reports'],
  'reports.update': ['PATCH', '/v1/reports/{report_id}'],
  'reports.delete': ['DELETE', '/v1/reports/{report_id}'],
  'webhooks.deliveries': ['GET', '/v1/webhooks'],
  // Extensions (docs/alerts.md): the org's webhook signing secret, and a test message.
  'webhooks.rotateSecret': ['POST', '/v1/webhooks/secret'],
  'webhooks.test': ['POST', '/v1/webhooks/test'],
} as const satisfies Record<string, Route>;

/**
 * Routes the reference documents that the server does not serve yet (none today). The SDK would
 * have their methods already, passing bodies through; until the server gains a route its method
 * answers 404. The coverage test accepts these routes missing from the server.
 */
export const PLANNED_ROUTES: ReadonlySet<string> = new Set([
]);

/** The name of an SDK method in {@link ROUTES}. */
export type RouteName = keyof typeof ROUTES;

/**
 * Server routes the SDK deliberately has no method for, each with the reason. The route
 * coverage test accepts exactly these (a path ending in `*` covers everything under it).
 */
export const EXCLUDED_ROUTES: readonly { method: HttpMethod; path: string; reason: string; planned?: boolean }[] = [
  { method: 'POST', path: '/v1/auth/accept-invite', reason: "the invitee's own sign-up: takes the invite token and sets a session cookie" },
  { method: 'POST', path: '/v1/auth/switch-org', reason: 'moves a console session to another org of its user; API keys belong to one org' },
  { method: 'POST', path: '/webhooks/paddle', reason: 'called by Paddle, authenticated by its signature, not by an API key' },
  { method: 'POST', path: '/v1/auth/register', reason: 'console sign-up: creates a user and sets a session cookie; a backend holding an API key already has an org' },
  { method: 'POST', path: '/v1/auth/login', reason: 'console sign-in: sets the emban_session cookie, not an API-key call' },
  { method: 'POST', path: '/v1/auth/logout', reason: 'console sign-out: clears the session cookie' },
  { method: 'GET', path: '/v1/embed/dashboard', reason: 'embed data API: called by the iframe runtime with the embed token, never with a server key' },
  { method: 'POST', path: '/v1/embed/query', reason: 'embed data API: called by the iframe runtime with the embed token, never with a server key' },
  { method: 'POST', path: '/v1/embed/export', reason: 'embed data API: called by the iframe runtime with the embed token, never with a server key' },
  { method: 'GET', path: '/v1/demo/embed-url', reason: 'public helper of the website live demo (demo org only)' },
  { method: 'GET', path: '/embed/{dashboard_id}', reason: 'the iframe page itself; its URL is createEmbedSession().embedUrl' },
  { method: 'GET', path: '/embed-assets/*', reason: 'static files of the iframe runtime' },
  { method: 'GET', path: '/helper/*', reason: 'static files of the browser helper package' },
  { method: 'GET', path: '/healthz', reason: 'liveness probe for load balancers, not an API call' },
];

/** Fills `{name}` parameters, URL-encoding each value. */
export function routePath(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === '') throw new TypeError(`missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}
