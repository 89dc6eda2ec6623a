/**
 * How large a body each route takes. Each route's class is declared beside its roles in
 * src/http/route-access.ts. Most routes carry a few settings, a name or a key, and a small limit means a
 * client cannot make the server read and parse megabytes there; the routes that carry weights, shares,
 * records, a dataset schema or a validation CSV keep BODY_LIMIT, and the encrypted-prediction routes
 * HE_BODY_LIMIT. An onRoute hook applies the classes, and refuses to start a server with a body-carrying
 * route that declares none (or a route that sets its own limit), so a new route cannot silently inherit a
 * limit nobody chose.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { ROUTE_ACCESS, type BodyClass } from './route-access.js';

export type { BodyClass };

/** Methods whose requests carry a body in this API; every route with one of them must declare a class. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** "METHOD /v1/url-pattern" → its class, from the one route table. */
export const BODY_CLASSES: Readonly<Record<string, BodyClass>> = Object.fromEntries(
  Object.entries(ROUTE_ACCESS).flatMap(([route, entry]) => (entry.body === undefined ? [] : [[route, entry.body]])),
);

export type BodyLimits = Record<BodyClass, number>;

export function bodyLimits(config: Pick<Config, 'BODY_LIMIT' | 'METADATA_BODY_LIMIT' | 'HE_BODY_LIMIT'>): BodyLimits {
  // BODY_LIMIT stays the largest JSON body anywhere: lowering it lowers the metadata limit with it.
  return { metadata: Math.min(config.METADATA_BODY_LIMIT, config.BODY_LIMIT), bulk: config.BODY_LIMIT, he: config.HE_BODY_LIMIT };
}

/** The limit for one route, or an error naming what is missing from the table. */
export function bodyLimitFor(route: Pick<RouteOptions, 'method' | 'url' | 'bodyLimit'>, limits: BodyLimits, table = BODY_CLASSES): number {
  const methods = [route.method].flat();
  if (route.bodyLimit !== undefined) {
    throw new Error(`bodyLimitFor: ${methods.join(',')} ${route.url} sets its own bodyLimit; declare its body class in src/http/route-access.ts instead`);
  }
  const classes = new Set<BodyClass>();
  for (const method of methods) {
    const declared = table[`${method} ${route.url}`];
    if (declared !== undefined) classes.add(declared);
    else if (BODY_METHODS.has(method)) {
      throw new Error(`bodyLimitFor: ${method} ${route.url} takes a body but has no class (metadata, bulk or he) in src/http/route-access.ts`);
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
    if (stale.length > 0) throw new Error(`bodyLimitsPlugin: src/http/route-access.ts gives a body class to routes that do not exist: ${stale.join('; ')}`);
  });
});
