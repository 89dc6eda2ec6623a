/**
 * The operator's validation rows per federation (at most one set each): kept server-side, never served.
 */
import type { DbClient } from './db-client.js';
import { column, hotSqlOf } from './hot-sql.js';

export interface ValidationSetRecord {
  federationId: string;
  csv: string;
  rows: number;
  positives: number;
  createdAt: Date;
}

/** Stores the federation's validation set, replacing any earlier one. */
export async function putValidationSet(db: DbClient, set: { id: string; federationId: string; csv: string; rows: number; positives: number }): Promise<ValidationSetRecord> {
  const { id, ...rest } = set;
  return db.validationSet.upsert({
    where: { federationId: set.federationId },
    create: { id, ...rest },
    update: { ...rest, createdAt: new Date() },
    select: { federationId: true, csv: true, rows: true, positives: true, createdAt: true },
  });
}

export async function findValidationSet(db: DbClient, federationId: string): Promise<ValidationSetRecord | null> {
  return db.validationSet.findUnique({ where: { federationId }, select: { federationId: true, csv: true, rows: true, positives: true, createdAt: true } });
}

/** Ids of the federations (all, or just `federationId`) that have a validation set. */
export async function federationsWithValidationSets(db: DbClient, federationId?: string): Promise<Set<string>> {
  const hot = hotSqlOf(db);
  if (hot && federationId !== undefined) {
    // Every prediction of the default version asks this, hence the hot path.
    // Remembered while the database is unchanged (hot-sql.ts): attaching a set is a write, seen at once.
    const rows = await hot.stableRows('SELECT "federationId" FROM "ValidationSet" WHERE "federationId" = $1 LIMIT 1', [federationId]);
    return new Set(rows.map((row) => column.text(row.federationId)));
  }
  const rows = await db.validationSet.findMany({ where: federationId === undefined ? {} : { federationId }, select: { federationId: true } });
  return new Set(rows.map((row) => row.federationId));
}
