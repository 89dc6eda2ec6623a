/**
 * Who is calling. The operator holds ADMIN_API_KEY or a key issued by `fedscore admin create-key`; a
 * lender's system holds a scoped key the operator issued for one federation; an owner holds the key it
 * received at enrolment (or its latest rotation); the Prometheus scraper holds METRICS_TOKEN. Which roles may call a route is declared once, in
 * src/http/route-access.ts; the helpers below are the services' own check of the same rules, with the
 * finer ones (same federation, an owner acting for itself) that need the use case's data.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { findActiveApiKey } from '../db/api-keys.repository.js';
import { findOwnerByKeyHash } from '../db/owners.repository.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { digestsEqual, hashesEqual, parseScopes, secretDigest, secretKind, type Principal, type Scope } from './credentials.js';

export class AuthService {
  /**
   * The configured secrets' digests, computed once: each request then hashes its key once and compares
   * digests in constant time, as secretsEqual would, instead of hashing both sides of both comparisons.
   */
  private readonly adminDigest: Buffer | undefined;
  private readonly metricsDigest: Buffer | undefined;

  constructor(
    private readonly db: Db,
    config: Pick<Config, 'ADMIN_API_KEY' | 'METRICS_TOKEN'>,
  ) {
    this.adminDigest = config.ADMIN_API_KEY === undefined ? undefined : secretDigest(config.ADMIN_API_KEY);
    this.metricsDigest = config.METRICS_TOKEN === undefined ? undefined : secretDigest(config.METRICS_TOKEN);
  }

  /** Resolves an Authorization header; a header that is present but wrong is an error, never anonymous. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header === '') return { kind: 'anonymous' };
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new UnauthorizedError('authenticate: expected "Authorization: Bearer <key>"');
    const key = match[1]!;
    const digest = secretDigest(key);
    if (this.adminDigest !== undefined && digestsEqual(digest, this.adminDigest)) return { kind: 'operator', keyId: 'env' };
    if (this.metricsDigest !== undefined && digestsEqual(digest, this.metricsDigest)) return { kind: 'metrics' };
    const kind = secretKind(key);
    const keyHash = digest.toString('hex');
    // The database finds the row by hash; comparing the hash again in constant time means no code path
    // of ours branches on how much of a guessed key matched.
    if (kind === 'operator' || kind === 'scoped') {
      const stored = await findActiveApiKey(this.db, keyHash);
      if (stored && hashesEqual(keyHash, stored.keyHash)) {
        if (kind === 'operator' && stored.federationId === null) return { kind: 'operator', keyId: stored.id };
        if (kind === 'scoped' && stored.federationId !== null) {
          return { kind: 'scoped', keyId: stored.id, federationId: stored.federationId, scopes: parseScopes(stored.scopes) };
        }
      }
    }
    if (kind === 'owner') {
      const owner = await findOwnerByKeyHash(this.db, keyHash);
      if (owner?.removedAt) throw new UnauthorizedError(`authenticate: owner ${owner.id} was removed from federation ${owner.federationId}; its key is revoked`);
      if (owner) return { kind: 'owner', ownerId: owner.id, federationId: owner.federationId, role: owner.role };
    }
    throw new UnauthorizedError('authenticate: unknown or revoked API key');
  }
}

function refuseAnonymous(principal: Principal): void {
  if (principal.kind === 'anonymous') throw new UnauthorizedError();
}

export function requireOperator(principal: Principal, action: string): void {
  if (principal.kind === 'operator') return;
  refuseAnonymous(principal);
  throw new ForbiddenError(`${action}: requires the operator key`);
}

/** The operator, or an owner (or aggregator node) enrolled in this federation. */
export function requireMember(principal: Principal, federationId: string, action: string): void {
  if (principal.kind === 'operator') return;
  refuseAnonymous(principal);
  if (principal.kind !== 'owner') throw new ForbiddenError(`${action}: requires the operator key or an owner key of this federation`);
  if (principal.federationId !== federationId) {
    throw new ForbiddenError(`${action}: this owner is not enrolled in federation ${federationId}`);
  }
}

/** The operator, a member of this federation, or a scoped key of it with the `read` scope. */
export function requireReader(principal: Principal, federationId: string, action: string): void {
  if (principal.kind === 'scoped') return requireScope(principal, federationId, 'read', action);
  requireMember(principal, federationId, action);
}

/** The operator, or a scoped key of this federation that holds `scope`. */
export function requireScope(principal: Principal, federationId: string, scope: Scope, action: string): void {
  if (principal.kind === 'operator') return;
  refuseAnonymous(principal);
  if (principal.kind !== 'scoped') throw new ForbiddenError(`${action}: requires the operator key or a key with the ${scope} scope`);
  if (principal.federationId !== federationId) throw new ForbiddenError(`${action}: this key is limited to another federation`);
  if (!principal.scopes.includes(scope)) throw new ForbiddenError(`${action}: this key lacks the ${scope} scope (it has ${principal.scopes.join(', ')})`);
}

/** An owner acting for itself, in its own federation. */
export function requireOwner(principal: Principal, federationId: string, action: string): string {
  refuseAnonymous(principal);
  if (principal.kind !== 'owner') throw new ForbiddenError(`${action}: requires an owner key`);
  if (principal.federationId !== federationId) {
    throw new ForbiddenError(`${action}: this owner is not enrolled in federation ${federationId}`);
  }
  return principal.ownerId;
}
