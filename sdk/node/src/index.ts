// `@emban/sdk`: the server-side SDK for Emban. Zero runtime dependencies (native `fetch`).

export { EmbanClient, TenantClient } from './client.js';
export type { EmbanClientOptions, MiddlewareOptions } from './client.js';
export {
  EmbanError,
  EmbanApiError,
  EmbanAuthError,
  EmbanConflictError,
  EmbanConnectionError,
  EmbanDeliveryError,
  EmbanNotFoundError,
  EmbanPermissionError,
  EmbanPlanLimitError,
  EmbanQueueError,
  EmbanRateLimitError,
  EmbanValidationError,
} from './errors.js';
export type { EmbanErrorInit } from './errors.js';
export type { FlushResult } from './queue.js';
export { ROUTES, EXCLUDED_ROUTES, PLANNED_ROUTES } from './routes.js';
export type { HttpMethod, Route, RouteName } from './routes.js';
export { SDK_VERSION } from './http.js';
export { uuidv7 } from './uuid.js';
export type * from './types.js';

import type { EmbanClient, TenantClient } from './client.js';

declare global {
  namespace Express {
    interface Request {
      /** Set by `EmbanClient.middleware()`: the client, or the request's tenant handle. */
      emban?: EmbanClient | TenantClient;
    }
  }
}
