/**
 * Scoped keys: the operator issues a key limited to one federation and some scopes, lists the
 * federation's keys, revokes one, or rotates one (a new secret for the same id, label and scopes; the old
 * secret stops working at once — to switch without a gap, issue a second key, deploy it, then revoke the
 * first). The secret is returned only by issue and rotate; only its SHA-256 is stored.
 */
import type { Db } from '../db/client.js';
import { findApiKey, insertApiKey, listApiKeys, replaceApiKeyHash, revokeApiKey, type ApiKeyRecord } from '../db/api-keys.repository.js';
import { ConflictError, NotFoundError } from '../errors.js';
import type { ApiKeyView } from '../schemas/api-keys.schema.js';
import { requireOperator } from './auth.service.js';
import { hashSecret, newId, newSecret, parseScopes, type Principal, type Scope } from './credentials.js';
import type { FederationsService } from './federations.service.js';

export class ApiKeysService {
  constructor(
    private readonly db: Db,
    private readonly federations: FederationsService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async issue(principal: Principal, federationId: string, body: { label: string; scopes: Scope[] }): Promise<{ key: ApiKeyView; apiKey: string }> {
    requireOperator(principal, 'issueApiKey');
    await this.federations.load(federationId);
    const apiKey = newSecret('scoped');
    const record = await insertApiKey(this.db, { id: newId(), label: body.label, keyHash: hashSecret(apiKey), federationId, scopes: JSON.stringify(body.scopes) });
    return { key: toApiKeyDto(record), apiKey };
  }

  async list(principal: Principal, federationId: string): Promise<ApiKeyView[]> {
    requireOperator(principal, 'listApiKeys');
    await this.federations.load(federationId);
    return (await listApiKeys(this.db, federationId)).map(toApiKeyDto);
  }

  async revoke(principal: Principal, federationId: string, keyId: string): Promise<ApiKeyView> {
    requireOperator(principal, 'revokeApiKey');
    await this.loadCurrent(federationId, keyId, 'revokeApiKey');
    if (!(await revokeApiKey(this.db, keyId, federationId, this.clock()))) throw revokedMeanwhile('revokeApiKey', keyId);
    return toApiKeyDto((await findApiKey(this.db, keyId))!);
  }

  async rotate(principal: Principal, federationId: string, keyId: string): Promise<{ key: ApiKeyView; apiKey: string }> {
    requireOperator(principal, 'rotateApiKey');
    const record = await this.loadCurrent(federationId, keyId, 'rotateApiKey');
    const apiKey = newSecret('scoped');
    if (!(await replaceApiKeyHash(this.db, keyId, federationId, hashSecret(apiKey)))) throw revokedMeanwhile('rotateApiKey', keyId);
    return { key: toApiKeyDto(record), apiKey };
  }

  /** A scoped key of this federation that is not revoked; another federation's key is not found here. */
  private async loadCurrent(federationId: string, keyId: string, action: string): Promise<ApiKeyRecord> {
    await this.federations.load(federationId);
    const record = await findApiKey(this.db, keyId);
    if (record === null || record.federationId !== federationId) throw new NotFoundError('api-key', keyId);
    if (record.revokedAt !== null) throw new ConflictError('api-key-revoked', 'API key revoked', `${action}: key ${keyId} was revoked at ${record.revokedAt.toISOString()}`);
    return record;
  }
}

function revokedMeanwhile(action: string, keyId: string): ConflictError {
  return new ConflictError('api-key-revoked', 'API key revoked', `${action}: key ${keyId} was revoked by another request`);
}

export function toApiKeyDto(record: ApiKeyRecord): ApiKeyView {
  return {
    id: record.id,
    federationId: record.federationId!,
    label: record.label,
    scopes: parseScopes(record.scopes),
    createdAt: record.createdAt.toISOString(),
    revokedAt: record.revokedAt?.toISOString() ?? null,
  };
}
