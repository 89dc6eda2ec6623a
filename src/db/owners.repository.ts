/**
 * Owners. Only SHA-256 hashes of their API keys are stored; lookups go by hash. An owner the operator
 * removed keeps its row (its past updates and shares refer to it) but no longer counts as a party.
 */
import type { DbClient } from './db-client.js';
import { column, hotSqlOf, type HotRow } from './hot-sql.js';

export type OwnerRole = 'owner' | 'aggregator';

export interface OwnerRecord {
  id: string;
  federationId: string;
  name: string;
  role: OwnerRole;
  /** Ed25519 identity public key: signs this party's per-round committee keys. */
  identityKey: Uint8Array | null;
  committeeVolunteer: boolean;
  createdAt: Date;
  /** When the operator removed it from the federation; null while it takes part. */
  removedAt: Date | null;
}

const ownerColumns = { id: true, federationId: true, name: true, role: true, identityKey: true, committeeVolunteer: true, createdAt: true, removedAt: true } as const;

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

// Every owner's request starts here (authentication), hence the hot path.
const OWNER_BY_KEY_HASH =
  'SELECT "id", "federationId", "name", "role", "identityKey", "committeeVolunteer", "createdAt", "removedAt" FROM "Owner" WHERE "apiKeyHash" = $1 LIMIT 1';

const ownerFromHotRow = (row: HotRow): OwnerRecord => ({
  id: column.text(row.id),
  federationId: column.text(row.federationId),
  name: column.text(row.name),
  role: column.text(row.role) as OwnerRole,
  identityKey: column.bytesOrNull(row.identityKey),
  committeeVolunteer: column.bool(row.committeeVolunteer),
  createdAt: column.date(row.createdAt),
  removedAt: column.dateOrNull(row.removedAt),
});

export async function findOwnerByKeyHash(db: DbClient, apiKeyHash: string): Promise<OwnerRecord | null> {
  const hot = hotSqlOf(db);
  if (hot) {
    const [row] = await hot.rows(OWNER_BY_KEY_HASH, [apiKeyHash]);
    return row ? ownerFromHotRow(row) : null;
  }
  const row = await db.owner.findUnique({ where: { apiKeyHash }, select: ownerColumns });
  return row ? toOwner(row) : null;
}

export async function listOwners(db: DbClient, federationId: string): Promise<OwnerRecord[]> {
  const rows = await db.owner.findMany({ where: { federationId }, select: ownerColumns, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map(toOwner);
}

/**
 * Registers the identity key (only while none is set, or the same one again: an identity is long-term)
 * and the committee preference. False when a different identity key is already registered.
 */
export async function setOwnerIdentity(db: DbClient, id: string, identityKey: Uint8Array, committeeVolunteer: boolean): Promise<boolean> {
  const key = identityKey as Uint8Array<ArrayBuffer>;
  const { count } = await db.owner.updateMany({
    where: { id, OR: [{ identityKey: null }, { identityKey: key }] },
    data: { identityKey: key, committeeVolunteer },
  });
  return count === 1;
}

export interface CommitteeCandidate {
  id: string;
  role: OwnerRole;
  identityKey: Uint8Array;
}

/** Owners with a registered identity who volunteered, and every aggregator node with one (none the operator removed). */
export async function listCommitteeCandidates(db: DbClient, federationId: string): Promise<CommitteeCandidate[]> {
  const rows = await db.owner.findMany({
    where: { federationId, removedAt: null, identityKey: { not: null }, OR: [{ committeeVolunteer: true }, { role: 'aggregator' }] },
    select: { id: true, role: true, identityKey: true },
    orderBy: { id: 'asc' },
  });
  return rows.map((row) => ({ id: row.id, role: row.role as OwnerRole, identityKey: row.identityKey! }));
}

/** Replaces a current owner's key hash; false when the owner is unknown or removed. */
export async function replaceOwnerKeyHash(db: DbClient, id: string, apiKeyHash: string): Promise<boolean> {
  const { count } = await db.owner.updateMany({ where: { id, removedAt: null }, data: { apiKeyHash } });
  return count === 1;
}

/** Marks the owner removed (once: the first removal's time stays); false when it was already removed. */
export async function markOwnerRemoved(db: DbClient, id: string, at: Date): Promise<boolean> {
  const { count } = await db.owner.updateMany({ where: { id, removedAt: null }, data: { removedAt: at } });
  return count === 1;
}
