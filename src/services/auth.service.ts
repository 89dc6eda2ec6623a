/**
 * Who is calling. The operator holds ADMIN_API_KEY or a key issued by `fedscore admin create-key`; an owner
 * holds the key it received at enrolment. Authorisation rules live beside the use cases that need them.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/client.js';
import { findActiveApiKeyId, findOwnerByKeyHash } from '../db/owners.repository.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { hashSecret, secretKind, secretsEqual, type Principal } from './credentials.js';

export class AuthService {
  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'ADMIN_API_KEY'>,
  ) {}

  /** Resolves an Authorization header; a header that is present but wrong is an error, never anonymous. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (header === undefined || header === '') return { kind: 'anonymous' };
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new UnauthorizedError('authenticate: expected "Authorization: Bearer <key>"');
    const key = match[1]!;
    if (this.config.ADMIN_API_KEY !== undefined && secretsEqual(key, this.config.ADMIN_API_KEY)) {
      return { kind: 'operator', keyId: 'env' };
    }
    const kind = secretKind(key);
    if (kind === 'operator') {
      const keyId = await findActiveApiKeyId(this.db, hashSecret(key));
      if (keyId) return { kind: 'operator', keyId };
    }
    if (kind === 'owner') {
      const owner = await findOwnerByKeyHash(this.db, hashSecret(key));
      if (owner) return { kind: 'owner', ownerId: owner.id, federationId: owner.federationId, role: owner.role };
    }
    throw new UnauthorizedError('authenticate: unknown or revoked API key');
  }
}

export function requireOperator(principal: Principal, action: string): void {
  if (principal.kind === 'operator') return;
  if (principal.kind === 'anonymous') throw new UnauthorizedError();
  throw new ForbiddenError(`${action}: requires the operator key`);
}

/** The operator, or an owner enrolled in this federation. */
export function requireMember(principal: Principal, federationId: string, action: string): void {
  if (principal.kind === 'operator') return;
  if (principal.kind === 'anonymous') throw new UnauthorizedError();
  if (principal.federationId !== federationId) {
    throw new ForbiddenError(`${action}: this owner is not enrolled in federation ${federationId}`);
  }
}

/** An owner acting for itself, in its own federation. */
export function requireOwner(principal: Principal, federationId: string, action: string): string {
  if (principal.kind === 'anonymous') throw new UnauthorizedError();
  if (principal.kind !== 'owner') throw new ForbiddenError(`${action}: requires an owner key`);
  if (principal.federationId !== federationId) {
    throw new ForbiddenError(`${action}: this owner is not enrolled in federation ${federationId}`);
  }
  return principal.ownerId;
}
