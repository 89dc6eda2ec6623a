/**
 * Owners and operator keys. Only SHA-256 hashes of API keys are stored; lookups go by hash.
 */
import type { DbClient } from './db-client.js';

export interface OwnerRecord {
  id: string;
  federationId: string;
  name: string;
  createdAt: Date;
}

const ownerColumns = { id: true, federationId: true, name: true, createdAt: true } as const;

export async function insertOwner(db: DbClient, owner: Omit<OwnerRecord, 'createdAt'> & { apiKeyHash: string }): Promise<OwnerRecord> {
  return db.owner.create({ data: owner, select: ownerColumns });
}

export async function findOwner(db: DbClient, id: string): Promise<OwnerRecord | null> {
  return db.owner.findUnique({ where: { id }, select: ownerColumns });
}

export async function findOwnerByKeyHash(db: DbClient, apiKeyHash: string): Promise<OwnerRecord | null> {
  return db.owner.findUnique({ where: { apiKeyHash }, select: ownerColumns });
}

export async function listOwners(db: DbClient, federationId: string): Promise<OwnerRecord[]> {
  return db.owner.findMany({ where: { federationId }, select: ownerColumns, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

export async function insertApiKey(db: DbClient, key: { id: string; label: string; keyHash: string }): Promise<void> {
  await db.apiKey.create({ data: key });
}

export async function isActiveApiKey(db: DbClient, keyHash: string): Promise<boolean> {
  const key = await db.apiKey.findUnique({ where: { keyHash }, select: { revokedAt: true } });
  return key !== null && key.revokedAt === null;
}
