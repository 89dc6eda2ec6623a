/**
 * Owner enrolment: anyone holding the federation's enrolment token may enrol once per call and receives an
 * API key shown only in that response. An owner may rotate its own key; the operator may remove an owner,
 * which revokes its key and leaves it out of every later round, while what it contributed before stays
 * in the model versions it went into (a published model cannot be un-averaged).
 */
import type { Db } from '../db/client.js';
import { findOwner, insertOwner, listOwners, markOwnerRemoved, replaceOwnerKeyHash, setOwnerIdentity, type OwnerRecord, type OwnerRole } from '../db/owners.repository.js';
import { isValidIdentityPublicKey } from '../crypto/identity.js';
import { ConflictError, DomainError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js';
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
    private readonly clock: () => Date = () => new Date(),
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

  /**
   * A party registers its Ed25519 identity key, which signs its committee key in every round it is
   * seated in, and says whether it volunteers for committees. The identity is long-term: owners may have
   * pinned it, so a different one later is refused; the same one again only updates the preference.
   */
  async registerIdentity(
    principal: Principal,
    federationId: string,
    ownerId: string,
    body: { identityKey: string; committeeVolunteer: boolean },
  ): Promise<Owner> {
    const caller = requireOwner(principal, federationId, 'registerIdentity');
    if (caller !== ownerId) throw new ForbiddenError('registerIdentity: an owner may only register its own identity');
    const owner = await this.load(federationId, ownerId);
    const identityKey = new Uint8Array(Buffer.from(body.identityKey, 'base64'));
    if (!isValidIdentityPublicKey(identityKey)) {
      throw new ValidationError(`registerIdentity: expected a 32-byte Ed25519 public key, got ${identityKey.length} bytes`, [
        { path: 'body.identityKey', message: 'expected a valid 32-byte Ed25519 public key, base64' },
      ]);
    }
    const federation = await this.federations.load(federationId);
    const policy = federation.secureConfig?.policy;
    if (policy?.kind === 'named' && owner.role === 'aggregator' && !policy.aggregators.some((node) => node.identityKey === Buffer.from(identityKey).toString('base64'))) {
      throw new DomainError('not-in-charter', 'Identity not in the charter', 422, `registerIdentity: federation ${federationId} seats only the aggregator nodes its charter names, and this identity is not one of them`, [
        { path: 'body.identityKey', message: 'not one of the charter’s aggregator identity keys' },
      ]);
    }
    if (!(await setOwnerIdentity(this.db, ownerId, identityKey, body.committeeVolunteer))) {
      throw new ConflictError('identity-key-fixed', 'Identity already registered', `registerIdentity: owner ${ownerId} registered a different identity key; an identity cannot change (enrol again for a new one)`);
    }
    return toOwnerDto((await findOwner(this.db, ownerId))!, federation);
  }

  /** The owner itself replaces its key: the new one is returned once, the old one stops working at once. */
  async rotateKey(principal: Principal, federationId: string, ownerId: string): Promise<{ owner: Owner; apiKey: string }> {
    const caller = requireOwner(principal, federationId, 'rotateOwnerKey');
    if (caller !== ownerId) throw new ForbiddenError('rotateOwnerKey: an owner may only rotate its own key');
    const apiKey = newSecret('owner');
    if (!(await replaceOwnerKeyHash(this.db, ownerId, hashSecret(apiKey)))) {
      throw new ConflictError('owner-removed', 'Owner removed', `rotateOwnerKey: owner ${ownerId} was removed from federation ${federationId}`);
    }
    return { owner: toOwnerDto(await this.load(federationId, ownerId), await this.federations.load(federationId)), apiKey };
  }

  /**
   * The operator removes an owner: its key is revoked, it is no longer counted, sampled or seated in later
   * rounds, and its later submissions are refused. Whatever the server accepted from it before stays
   * (in a round still open, too: nothing accepted is dropped).
   */
  async remove(principal: Principal, federationId: string, ownerId: string): Promise<Owner> {
    requireOperator(principal, 'removeOwner');
    const federation = await this.federations.load(federationId);
    const owner = await this.load(federationId, ownerId);
    if (owner.removedAt !== null || !(await markOwnerRemoved(this.db, ownerId, this.clock()))) {
      throw new ConflictError('owner-removed', 'Owner removed', `removeOwner: owner ${ownerId} was already removed from federation ${federationId}`);
    }
    return toOwnerDto(await this.load(federationId, ownerId), federation);
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
    identityKey: owner.identityKey ? Buffer.from(owner.identityKey).toString('base64') : null,
    committeeVolunteer: owner.committeeVolunteer,
    privacy: privacy && { epsilon: privacy.epsilon, delta: privacy.delta },
    createdAt: owner.createdAt.toISOString(),
    removedAt: owner.removedAt?.toISOString() ?? null,
  };
}
