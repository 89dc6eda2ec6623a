/**
 * How large a body each route takes, declared in one table. Most routes carry a few settings, a name or a
 * key, and a small limit means a client cannot make the server read and parse megabytes there; the routes
 * that carry weights, shares, records, a dataset schema or a validation CSV keep BODY_LIMIT, and the
 * encrypted-prediction routes HE_BODY_LIMIT. An onRoute hook applies the table, and refuses to start a
 * server with a body-carrying route the table does not name (or a route that sets its own limit), so a new
 * route cannot silently inherit a limit nobody chose.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';

export type BodyClass = 'metadata' | 'bulk' | 'he';

/** Methods whose requests carry a body in this API; every route with one of them must be in the table. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** "METHOD /v1/url-pattern" → its class. */
export const BODY_CLASSES: Readonly<Record<string, BodyClass>> = {
  // The dataset schema the validator accepts (up to 2000 columns of up to 1000 categories) can be megabytes.
  'POST /v1/federations': 'bulk',
  'PUT /v1/federations/:federationId/secure': 'metadata',
  'PUT /v1/federations/:federationId/privacy': 'metadata',
  'PUT /v1/federations/:federationId/selection': 'metadata',
  'PUT /v1/federations/:federationId/validation': 'bulk',
  'POST /v1/federations/:federationId/enrolment-token': 'metadata',
  'POST /v1/federations/:federationId/owners': 'metadata',
  'PUT /v1/federations/:federationId/owners/:ownerId/identity': 'metadata',
  'POST /v1/federations/:federationId/rounds': 'metadata',
  'POST /v1/federations/:federationId/rounds/:roundNumber/close': 'metadata',
  'PUT /v1/federations/:federationId/rounds/:roundNumber/committee-key': 'metadata',
  'POST /v1/federations/:federationId/rounds/:roundNumber/updates': 'bulk',
  // Statistics (3 numbers per column, up to 10,000 columns) and evaluation tallies (3 per score bin) are sums
  // of the owner's rows: an update in all but name.
  'POST /v1/federations/:federationId/rounds/:roundNumber/statistics': 'bulk',
  'POST /v1/federations/:federationId/rounds/:roundNumber/evaluation': 'bulk',
  'POST /v1/federations/:federationId/rounds/:roundNumber/shares': 'bulk',
  'POST /v1/federations/:federationId/rounds/:roundNumber/partial-sums': 'bulk',
  'POST /v1/federations/:federationId/models/:version/promote': 'metadata',
  'POST /v1/federations/:federationId/predictions': 'bulk',
  'POST /v1/he-sessions': 'he',
  'DELETE /v1/he-sessions/:sessionId': 'metadata',
  'POST /v1/he-sessions/:sessionId/predictions': 'he',
};

export type BodyLimits = Record<BodyClass, number>;

export function bodyLimits(config: Pick<Config, 'BODY_LIMIT' | 'METADATA_BODY_LIMIT' | 'HE_BODY_LIMIT'>): BodyLimits {
  // BODY_LIMIT stays the largest JSON body anywhere: lowering it lowers the metadata limit with it.
  return { metadata: Math.min(config.METADATA_BODY_LIMIT, config.BODY_LIMIT), bulk: config.BODY_LIMIT, he: config.HE_BODY_LIMIT };
}

/** The limit for one route, or an error naming what is missing from the table. */
export function bodyLimitFor(route: Pick<RouteOptions, 'method' | 'url' | 'bodyLimit'>, limits: BodyLimits, table = BODY_CLASSES): number {
  const methods = [route.method].flat();
  if (route.bodyLimit !== undefined) {
    throw new Error(`bodyLimitFor: ${methods.join(',')} ${route.url} sets its own bodyLimit; declare its class in src/http/body-limits.ts instead`);
  }
  const classes = new Set<BodyClass>();
  for (const method of methods) {
    const declared = table[`${method} ${route.url}`];
    if (declared !== undefined) classes.add(declared);
    else if (BODY_METHODS.has(method)) {
      throw new Error(`bodyLimitFor: ${method} ${route.url} takes a body but has no class in src/http/body-limits.ts (metadata, bulk or he)`);
    }
  }
  // Routes without a body (GET, HEAD, OPTIONS) take the smallest limit: anything sent there is not read as data.
  return Math.max(limits.metadata, ...[...classes].map((c) => limits[c]));
}

export const bodyLimitsPlugin = fp(async function bodyLimitsPlugin(app: FastifyInstance, options: { limits: BodyLimits }) {
  const seen = new Set<string>();
  app.addHook('onRoute', (route) => {
    route.bodyLimit = bodyLimitFor(route, options.limits);
    for (const method of [route.method].flat()) seen.add(`${method} ${route.url}`);
  });
  // An entry that names no route is a renamed or removed route: the table would be lying.
  app.addHook('onReady', async () => {
    const stale = Object.keys(BODY_CLASSES).filter((key) => !seen.has(key));
    if (stale.length > 0) throw new Error(`bodyLimitsPlugin: src/http/body-limits.ts names routes that do not exist: ${stale.join('; ')}`);
  });
});
