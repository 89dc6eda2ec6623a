/**
 * Operator keys and scoped keys. Only a SHA-256 hash of each key is stored and lookups go by hash; a
 * revoked key keeps its row (with revokedAt) so the operator's list shows what was issued and when.
 */
import type { DbClient } from './db-client.js';
import { column, hotSqlOf } from './hot-sql.js';

export interface ApiKeyRecord {
  id: string;
  label: string;
  createdAt: Date;
  revokedAt: Date | null;
  /** Null for an operator key; the one federation of a scoped key. */
  federationId: string | null;
  /** Null for an operator key; the scopes of a scoped key (JSON array as stored). */
  scopes: string | null;
}

export interface ActiveApiKey extends ApiKeyRecord {
  keyHash: string;
}

const keyColumns = { id: true, label: true, createdAt: true, revokedAt: true, federationId: true, scopes: true } as const;

export async function insertApiKey(
  db: DbClient,
  key: { id: string; label: string; keyHash: string; federationId?: string; scopes?: string },
): Promise<ApiKeyRecord> {
  return db.apiKey.create({ data: key, select: keyColumns });
}

/** The unrevoked key with this hash (operator or scoped), or null. */
// Every scoped key's request starts here (authentication), hence the hot path.
const KEY_BY_HASH = 'SELECT "id", "label", "keyHash", "createdAt", "revokedAt", "federationId", "scopes" FROM "ApiKey" WHERE "keyHash" = $1 LIMIT 1';

export async function findActiveApiKey(db: DbClient, keyHash: string): Promise<ActiveApiKey | null> {
  const hot = hotSqlOf(db);
  if (hot) {
    // Remembered while the database is unchanged: a revocation or rotation is a write, so it is seen at once.
    const [row] = await hot.stableRows(KEY_BY_HASH, [keyHash]);
    if (!row || row.revokedAt !== null) return null;
    return {
      id: column.text(row.id),
      label: column.text(row.label),
      keyHash: column.text(row.keyHash),
      createdAt: column.date(row.createdAt),
      revokedAt: null,
      federationId: column.textOrNull(row.federationId),
      scopes: column.textOrNull(row.scopes),
    };
  }
  const key = await db.apiKey.findUnique({ where: { keyHash }, select: { ...keyColumns, keyHash: true } });
  return key !== null && key.revokedAt === null ? key : null;
}

export async function findApiKey(db: DbClient, id: string): Promise<ApiKeyRecord | null> {
  return db.apiKey.findUnique({ where: { id }, select: keyColumns });
}

/** Operator keys (federationId null), or one federation's scoped keys; oldest first. */
export async function listApiKeys(db: DbClient, federationId: string | null): Promise<ApiKeyRecord[]> {
  return db.apiKey.findMany({ where: { federationId }, select: keyColumns, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

/** Revokes an unrevoked key of this kind (operator keys: federationId null); false when there was none. */
export async function revokeApiKey(db: DbClient, id: string, federationId: string | null, at: Date): Promise<boolean> {
  const { count } = await db.apiKey.updateMany({ where: { id, federationId, revokedAt: null }, data: { revokedAt: at } });
  return count === 1;
}

/** Gives an unrevoked key a new secret (the old one stops working at once); false when there was none. */
export async function replaceApiKeyHash(db: DbClient, id: string, federationId: string | null, keyHash: string): Promise<boolean> {
  const { count } = await db.apiKey.updateMany({ where: { id, federationId, revokedAt: null }, data: { keyHash } });
  return count === 1;
}
