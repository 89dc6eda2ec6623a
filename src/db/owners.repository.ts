/**
 * Owners and operator keys. Only SHA-256 hashes of API keys are stored; lookups go by hash.
 */
import type { DbClient } from './db-client.js';

export type OwnerRole = 'owner' | 'aggregator';

export interface OwnerRecord {
  id: string;
  federationId: string;
  name: string;
  role: OwnerRole;
  publicKey: Uint8Array | null;
  committeeVolunteer: boolean;
  createdAt: Date;
}

const ownerColumns = { id: true, federationId: true, name: true, role: true, publicKey: true, committeeVolunteer: true, createdAt: true } as const;

const toOwner = <T extends { role: string }>(row: T) => ({ ...row, role: row.role as OwnerRole });

export async function insertOwner(
  db: DbClient,
  owner: { id: string; federationId: string; name: string; role: OwnerRole; apiKeyHash: string },
): Promise<OwnerRecord> {
  return toOwner(await db.owner.create({ data: owner, select: ownerColumns }));
}

export async function findOwner(db: DbClient, id: string): Promise<OwnerRecord | null> {
  const row = await db.owner.findUnique({ where: { id }, select: ownerColumns });
  return row ? toOwner(row) : null;
}

export async function findOwnerByKeyHash(db: DbClient, apiKeyHash: string): Promise<OwnerRecord | null> {
  const row = await db.owner.findUnique({ where: { apiKeyHash }, select: ownerColumns });
  return row ? toOwner(row) : null;
}

export async function listOwners(db: DbClient, federationId: string): Promise<OwnerRecord[]> {
  const rows = await db.owner.findMany({ where: { federationId }, select: ownerColumns, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map(toOwner);
}

export async function setOwnerPublicKey(db: DbClient, id: string, publicKey: Uint8Array<ArrayBuffer>, committeeVolunteer: boolean): Promise<OwnerRecord> {
  return toOwner(await db.owner.update({ where: { id }, data: { publicKey, committeeVolunteer }, select: ownerColumns }));
}

/** Owners with a registered key who volunteered, and every aggregator node with a key. */
export async function listCommitteeCandidates(db: DbClient, federationId: string): Promise<{ id: string; publicKey: Uint8Array }[]> {
  const rows = await db.owner.findMany({
    where: { federationId, publicKey: { not: null }, OR: [{ committeeVolunteer: true }, { role: 'aggregator' }] },
    select: { id: true, publicKey: true },
    orderBy: { id: 'asc' },
  });
  return rows.map((row) => ({ id: row.id, publicKey: row.publicKey! }));
}

export async function insertApiKey(db: DbClient, key: { id: string; label: string; keyHash: string }): Promise<void> {
  await db.apiKey.create({ data: key });
}

/** The id of the unrevoked operator key with this hash, or null. */
export async function findActiveApiKeyId(db: DbClient, keyHash: string): Promise<string | null> {
  const key = await db.apiKey.findUnique({ where: { keyHash }, select: { id: true, revokedAt: true } });
  return key !== null && key.revokedAt === null ? key.id : null;
}
