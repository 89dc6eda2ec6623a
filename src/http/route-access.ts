/**
 * Who may call each route, declared once. Every route of the API has an entry here — the server refuses to
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

export interface RouteAccess {
  /** Stable: client generators name their methods after it. */
  operationId: string;
  roles: readonly Role[];
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

  'POST /v1/federations': { operationId: 'createFederation', roles: ['operator'] },
  'GET /v1/federations': { operationId: 'listFederations', roles: ['operator'] },
  [`GET ${F}`]: { operationId: 'getFederation', roles: readers },
  [`GET ${F}/charter`]: { operationId: 'getCharter', roles: ['public'] },
  [`PUT ${F}/secure`]: { operationId: 'updateSecureSettings', roles: ['operator'] },
  [`PUT ${F}/privacy`]: { operationId: 'updatePrivacy', roles: ['operator'] },
  [`POST ${F}/enrolment-token`]: { operationId: 'rotateEnrolmentToken', roles: ['operator'] },

  [`POST ${F}/api-keys`]: { operationId: 'issueApiKey', roles: ['operator'] },
  [`GET ${F}/api-keys`]: { operationId: 'listApiKeys', roles: ['operator'] },
  [`DELETE ${F}/api-keys/:keyId`]: { operationId: 'revokeApiKey', roles: ['operator'] },
  [`POST ${F}/api-keys/:keyId/rotation`]: { operationId: 'rotateApiKey', roles: ['operator'] },

  [`POST ${F}/owners`]: { operationId: 'enrolOwner', roles: ['public'] },
  [`GET ${F}/owners`]: { operationId: 'listOwners', roles: ['operator'] },
  [`GET ${F}/owners/:ownerId`]: { operationId: 'getOwner', roles: members },
  [`DELETE ${F}/owners/:ownerId`]: { operationId: 'removeOwner', roles: ['operator'] },
  [`PUT ${F}/owners/:ownerId/identity`]: { operationId: 'registerIdentity', roles: parties },
  [`POST ${F}/owners/:ownerId/key-rotation`]: { operationId: 'rotateOwnerKey', roles: parties },

  [`POST ${F}/rounds`]: { operationId: 'openRound', roles: ['operator'] },
  [`GET ${F}/rounds`]: { operationId: 'listRounds', roles: readers },
  [`GET ${F}/rounds/current`]: { operationId: 'getCurrentRound', roles: readers },
  [`GET ${R}`]: { operationId: 'getRound', roles: readers },
  [`POST ${R}/updates`]: { operationId: 'submitUpdate', roles: ['owner'] },
  [`POST ${R}/statistics`]: { operationId: 'submitStatistics', roles: ['owner'] },
  [`POST ${R}/evaluation`]: { operationId: 'submitEvaluation', roles: ['owner'] },
  [`POST ${R}/close`]: { operationId: 'closeRound', roles: ['operator'] },
  [`PUT ${R}/committee-key`]: { operationId: 'publishCommitteeKey', roles: parties },
  [`GET ${R}/committee-draw`]: { operationId: 'getCommitteeDraw', roles: parties },
  [`POST ${R}/shares`]: { operationId: 'uploadShares', roles: ['owner'] },
  [`GET ${R}/inbox`]: { operationId: 'getInbox', roles: parties },
  [`POST ${R}/partial-sums`]: { operationId: 'uploadPartialSum', roles: parties },

  [`GET ${F}/models`]: { operationId: 'listModels', roles: readers },
  [`GET ${F}/models/:version`]: { operationId: 'getModel', roles: readers },
  [`GET ${F}/models/:version/weights`]: { operationId: 'getModelWeights', roles: members },
  [`POST ${F}/models/:version/promote`]: { operationId: 'promoteModel', roles: ['operator'] },
  [`PUT ${F}/selection`]: { operationId: 'putSelection', roles: ['operator'] },
  [`PUT ${F}/validation`]: { operationId: 'putValidationSet', roles: ['operator'] },
  [`GET ${F}/validation`]: { operationId: 'getValidationSet', roles: ['operator'] },

  [`POST ${F}/predictions`]: { operationId: 'predict', roles: ['operator', 'predict'] },
  'POST /v1/he-sessions': { operationId: 'createHeSession', roles: ['operator', 'he-predict'] },
  'GET /v1/he-sessions/:sessionId': { operationId: 'getHeSession', roles: ['operator', 'he-predict'] },
  'DELETE /v1/he-sessions/:sessionId': { operationId: 'deleteHeSession', roles: ['operator', 'he-predict'] },
  'POST /v1/he-sessions/:sessionId/predictions': { operationId: 'predictEncrypted', roles: ['operator', 'he-predict'] },
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
