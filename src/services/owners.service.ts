/**
 * Owner enrolment: anyone holding the federation's enrolment token may enrol once per call and receives an
 * API key shown only in that response.
 */
import type { Db } from '../db/client.js';
import { findOwner, insertOwner, listOwners, setOwnerPublicKey, type OwnerRecord, type OwnerRole } from '../db/owners.repository.js';
import { isValidX25519PublicKey } from '../crypto/envelope.js';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js';
import type { Owner } from '../schemas/owners.schema.js';
import { requireMember, requireOperator, requireOwner } from './auth.service.js';
import { hashSecret, newId, newSecret, secretsEqual, type Principal } from './credentials.js';
import type { FederationRecord } from '../db/federations.repository.js';
import type { FederationsService } from './federations.service.js';
import { ownerSpent } from './privacy.js';

export class OwnersService {
  constructor(
    private readonly db: Db,
    private readonly federations: FederationsService,
  ) {}

  async enrol(federationId: string, body: { enrolmentToken: string; name: string; role: OwnerRole }): Promise<{ owner: Owner; apiKey: string }> {
    const federation = await this.federations.load(federationId);
    if (!secretsEqual(hashSecret(body.enrolmentToken), federation.enrolmentTokenHash)) {
      throw new UnauthorizedError(`enrolOwner: the enrolment token is not valid for federation ${federationId}`);
    }
    const apiKey = newSecret('owner');
    const owner = await insertOwner(this.db, { id: newId(), federationId, name: body.name, role: body.role, apiKeyHash: hashSecret(apiKey) });
    return { owner: toOwnerDto(owner, federation), apiKey };
  }

  async list(principal: Principal, federationId: string): Promise<Owner[]> {
    requireOperator(principal, 'listOwners');
    const federation = await this.federations.load(federationId);
    return (await listOwners(this.db, federationId)).map((owner) => toOwnerDto(owner, federation));
  }

  async get(principal: Principal, federationId: string, ownerId: string): Promise<Owner> {
    requireMember(principal, federationId, 'getOwner');
    if (principal.kind === 'owner' && principal.ownerId !== ownerId) {
      throw new ForbiddenError('getOwner: an owner may only read its own record');
    }
    return toOwnerDto(await this.load(federationId, ownerId), await this.federations.load(federationId));
  }

  /** An owner registers (or replaces) the X25519 key its share envelopes are encrypted to. */
  async registerPublicKey(
    principal: Principal,
    federationId: string,
    ownerId: string,
    body: { publicKey: string; committeeVolunteer: boolean },
  ): Promise<Owner> {
    const caller = requireOwner(principal, federationId, 'registerPublicKey');
    if (caller !== ownerId) throw new ForbiddenError('registerPublicKey: an owner may only register its own key');
    await this.load(federationId, ownerId);
    const publicKey = Buffer.from(body.publicKey, 'base64');
    if (!isValidX25519PublicKey(publicKey)) {
      throw new ValidationError(`registerPublicKey: expected a 32-byte X25519 public key that is not a low-order point, got ${publicKey.length} bytes`, [
        { path: 'body.publicKey', message: 'expected a valid 32-byte X25519 public key, base64' },
      ]);
    }
    return toOwnerDto(await setOwnerPublicKey(this.db, ownerId, new Uint8Array(publicKey), body.committeeVolunteer), await this.federations.load(federationId));
  }

  private async load(federationId: string, ownerId: string): Promise<OwnerRecord> {
    const owner = await findOwner(this.db, ownerId);
    if (!owner || owner.federationId !== federationId) throw new NotFoundError('owner', ownerId);
    return owner;
  }
}

/** An owner as the API shows it, with its own privacy loss when the federation has a budget. */
function toOwnerDto(owner: OwnerRecord, federation: FederationRecord): Owner {
  const privacy = ownerSpent(federation, owner.createdAt);
  return {
    id: owner.id,
    federationId: owner.federationId,
    name: owner.name,
    role: owner.role,
    publicKey: owner.publicKey ? Buffer.from(owner.publicKey).toString('base64') : null,
    committeeVolunteer: owner.committeeVolunteer,
    privacy: privacy && { epsilon: privacy.epsilon, delta: privacy.delta },
    createdAt: owner.createdAt.toISOString(),
  };
}
