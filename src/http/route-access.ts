/**
 * Who may call each route, and how large a body it reads, declared once. Every route of the API has an entry here — the server refuses to
 * start with one missing — and the entry is enforced before the handler runs (src/http/plugins/auth.plugin.ts),
 * written into the OpenAPI document (the operation's `operationId`, its `security`, and a "Roles:" line),
 * and printed as the authorization matrix in docs/security.md. Services repeat the coarse rule and add the
 * finer ones that need data (an owner acting only for itself; a session used only by the key that made it).
 *
 * Roles: `public` needs no key; `operator` is ADMIN_API_KEY or a key from `fedscore admin create-key`;
 * `owner` and `aggregator` are keys from enrolment (a data owner, a committee node without data);
 * `read`, `predict` and `he-predict` are scoped keys the operator issued for one federation; `metrics` is
 * the Prometheus scraper's METRICS_TOKEN, which reads the metrics and nothing else. A non-operator key
 * only ever works for the federation it belongs to.
 */
import type { Principal, Scope } from '../services/credentials.js';

export type Role = 'public' | 'operator' | 'owner' | 'aggregator' | Scope | 'metrics';

export const ROLES: readonly Role[] = ['public', 'operator', 'owner', 'aggregator', 'read', 'predict', 'he-predict', 'metrics'];

/**
 * How large a body a route reads (src/http/body-limits.ts turns the class into bytes): `metadata` for a
 * few settings, a name or a key; `bulk` for weights, shares, records, a dataset schema or a validation CSV;
 * `he` for CKKS key material and ciphertext sets. Every route with a body-carrying method declares one.
 */
export type BodyClass = 'metadata' | 'bulk' | 'he';

export interface RouteAccess {
  /** Stable: client generators name their methods after it. */
  operationId: string;
  roles: readonly Role[];
  body?: BodyClass;
}

const members = ['operator', 'owner', 'aggregator'] as const;
const readers = [...members, 'read'] as const;
const parties = ['owner', 'aggregator'] as const;

const F = '/v1/federations/:federationId';
const R = `${F}/rounds/:roundNumber`;

/** Keyed by "METHOD /path" as Fastify registers it (HEAD shares its GET's entry). */
export const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  'GET /healthz': { operationId: 'getHealth', roles: ['public'] },
  'GET /readyz': { operationId: 'getReadiness', roles: ['public'] },
  // Not public: counts and timings describe the federations' activity to whoever can read them.
  'GET /metrics': { operationId: 'getMetrics', roles: ['operator', 'metrics'] },
  // The console's page and files hold no data: the page asks the API with the key the user pastes in.
  'GET /console': { operationId: 'getConsole', roles: ['public'] },
  'GET /console/:file': { operationId: 'getConsoleFile', roles: ['public'] },

  // The dataset schema the validator accepts (up to 2000 columns of up to 1000 categories) can be megabytes.
  'POST /v1/federations': { operationId: 'createFederation', roles: ['operator'], body: 'bulk' },
  'GET /v1/federations': { operationId: 'listFederations', roles: ['operator'] },
  [`GET ${F}`]: { operationId: 'getFederation', roles: readers },
  [`GET ${F}/charter`]: { operationId: 'getCharter', roles: ['public'] },
  [`PUT ${F}/secure`]: { operationId: 'updateSecureSettings', roles: ['operator'], body: 'metadata' },
  [`PUT ${F}/privacy`]: { operationId: 'updatePrivacy', roles: ['operator'], body: 'metadata' },
  [`POST ${F}/enrolment-token`]: { operationId: 'rotateEnrolmentToken', roles: ['operator'], body: 'metadata' },

  [`POST ${F}/api-keys`]: { operationId: 'issueApiKey', roles: ['operator'], body: 'metadata' },
  [`GET ${F}/api-keys`]: { operationId: 'listApiKeys', roles: ['operator'] },
  [`DELETE ${F}/api-keys/:keyId`]: { operationId: 'revokeApiKey', roles: ['operator'], body: 'metadata' },
  [`POST ${F}/api-keys/:keyId/rotation`]: { operationId: 'rotateApiKey', roles: ['operator'], body: 'metadata' },

  [`POST ${F}/owners`]: { operationId: 'enrolOwner', roles: ['public'], body: 'metadata' },
  [`GET ${F}/owners`]: { operationId: 'listOwners', roles: ['operator'] },
  [`GET ${F}/owners/:ownerId`]: { operationId: 'getOwner', roles: members },
  [`DELETE ${F}/owners/:ownerId`]: { operationId: 'removeOwner', roles: ['operator'], body: 'metadata' },
  [`PUT ${F}/owners/:ownerId/identity`]: { operationId: 'registerIdentity', roles: parties, body: 'metadata' },
  [`POST ${F}/owners/:ownerId/key-rotation`]: { operationId: 'rotateOwnerKey', roles: parties, body: 'metadata' },

  [`POST ${F}/rounds`]: { operationId: 'openRound', roles: ['operator'], body: 'metadata' },
  [`GET ${F}/rounds`]: { operationId: 'listRounds', roles: readers },
  [`GET ${F}/rounds/current`]: { operationId: 'getCurrentRound', roles: readers },
  [`GET ${R}`]: { operationId: 'getRound', roles: readers },
  [`POST ${R}/updates`]: { operationId: 'submitUpdate', roles: ['owner'], body: 'bulk' },
  // Statistics (3 numbers per column) and evaluation tallies (3 per score bin) are sums of the owner's
  // rows: an update in all but name.
  [`POST ${R}/statistics`]: { operationId: 'submitStatistics', roles: ['owner'], body: 'bulk' },
  [`POST ${R}/evaluation`]: { operationId: 'submitEvaluation', roles: ['owner'], body: 'bulk' },
  [`POST ${R}/close`]: { operationId: 'closeRound', roles: ['operator'], body: 'metadata' },
  [`PUT ${R}/committee-key`]: { operationId: 'publishCommitteeKey', roles: parties, body: 'metadata' },
  [`GET ${R}/committee-draw`]: { operationId: 'getCommitteeDraw', roles: parties },
  [`POST ${R}/shares`]: { operationId: 'uploadShares', roles: ['owner'], body: 'bulk' },
  [`GET ${R}/inbox`]: { operationId: 'getInbox', roles: parties },
  [`POST ${R}/partial-sums`]: { operationId: 'uploadPartialSum', roles: parties, body: 'bulk' },

  [`GET ${F}/models`]: { operationId: 'listModels', roles: readers },
  [`GET ${F}/models/:version`]: { operationId: 'getModel', roles: readers },
  [`GET ${F}/models/:version/weights`]: { operationId: 'getModelWeights', roles: members },
  [`POST ${F}/models/:version/promote`]: { operationId: 'promoteModel', roles: ['operator'], body: 'metadata' },
  [`PUT ${F}/selection`]: { operationId: 'putSelection', roles: ['operator'], body: 'metadata' },
  [`PUT ${F}/validation`]: { operationId: 'putValidationSet', roles: ['operator'], body: 'bulk' },
  [`GET ${F}/validation`]: { operationId: 'getValidationSet', roles: ['operator'] },

  [`POST ${F}/predictions`]: { operationId: 'predict', roles: ['operator', 'predict'], body: 'bulk' },
  'POST /v1/he-sessions': { operationId: 'createHeSession', roles: ['operator', 'he-predict'], body: 'he' },
  [`GET ${F}/he-sessions`]: { operationId: 'listHeSessions', roles: ['operator'] },
  'GET /v1/he-sessions/:sessionId': { operationId: 'getHeSession', roles: ['operator', 'he-predict'] },
  'DELETE /v1/he-sessions/:sessionId': { operationId: 'deleteHeSession', roles: ['operator', 'he-predict'], body: 'metadata' },
  'POST /v1/he-sessions/:sessionId/predictions': { operationId: 'predictEncrypted', roles: ['operator', 'he-predict'], body: 'he' },
};

/** The entry for a route, or undefined; HEAD routes (Fastify adds one per GET) share the GET's. */
export function routeAccess(method: string, url: string): RouteAccess | undefined {
  return ROUTE_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

/** The roles a principal holds: what it may be let in as. */
export function rolesOf(principal: Principal): Role[] {
  switch (principal.kind) {
    case 'operator':
      return ['operator'];
    case 'owner':
      return [principal.role];
    case 'scoped':
      return [...principal.scopes];
    case 'metrics':
      return ['metrics'];
    case 'anonymous':
      return [];
  }
}
