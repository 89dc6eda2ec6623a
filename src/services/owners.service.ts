/**
 * Owner enrolment: anyone holding the federation's enrolment token may enrol once per call and receives an
 * API key shown only in that response.
 */
import type { Db } from '../db/client.js';
import { findOwner, insertOwner, listOwners, type OwnerRecord } from '../db/owners.repository.js';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import type { Owner } from '../schemas/owners.schema.js';
import { requireMember, requireOperator } from './auth.service.js';
import { hashSecret, newId, newSecret, secretsEqual, type Principal } from './credentials.js';
import type { FederationsService } from './federations.service.js';

export class OwnersService {
  constructor(
    private readonly db: Db,
    private readonly federations: FederationsService,
  ) {}

  async enrol(federationId: string, body: { enrolmentToken: string; name: string }): Promise<{ owner: Owner; apiKey: string }> {
    const federation = await this.federations.load(federationId);
    if (!secretsEqual(hashSecret(body.enrolmentToken), federation.enrolmentTokenHash)) {
      throw new UnauthorizedError(`enrolOwner: the enrolment token is not valid for federation ${federationId}`);
    }
    const apiKey = newSecret('owner');
    const owner = await insertOwner(this.db, { id: newId(), federationId, name: body.name, apiKeyHash: hashSecret(apiKey) });
    return { owner: toOwnerDto(owner), apiKey };
  }

  async list(principal: Principal, federationId: string): Promise<Owner[]> {
    requireOperator(principal, 'listOwners');
    await this.federations.load(federationId);
    return (await listOwners(this.db, federationId)).map(toOwnerDto);
  }

  async get(principal: Principal, federationId: string, ownerId: string): Promise<Owner> {
    requireMember(principal, federationId, 'getOwner');
    if (principal.kind === 'owner' && principal.ownerId !== ownerId) {
      throw new ForbiddenError('getOwner: an owner may only read its own record');
    }
    const owner = await findOwner(this.db, ownerId);
    if (!owner || owner.federationId !== federationId) throw new NotFoundError('owner', ownerId);
    return toOwnerDto(owner);
  }
}

function toOwnerDto(owner: OwnerRecord): Owner {
  return { id: owner.id, federationId: owner.federationId, name: owner.name, createdAt: owner.createdAt.toISOString() };
}
