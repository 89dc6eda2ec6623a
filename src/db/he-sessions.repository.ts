/**
 * Writes to encrypted-prediction sessions that race. A session's count of evaluated applicant slots is
 * charged by one conditional UPDATE (`queriesUsed + n <= budget`), so instances sharing the database can
 * never let one session past its budget between them: whichever update the database applies last finds
 * the condition false and changes nothing. Deleting says whether this call deleted, so of two deletes at
 * once one deletes and the other finds nothing, instead of failing.
 */
import type { DbClient } from './db-client.js';

/** Adds `slots` to the session's count if the total stays within `budget`; false, with nothing written, otherwise. */
export async function chargeHeQueries(db: DbClient, sessionId: string, slots: number, budget: number): Promise<boolean> {
  if (!Number.isSafeInteger(slots) || slots < 0) throw new RangeError(`chargeHeQueries: expected a whole number of slots, got ${slots}`);
  if (slots > budget) return false;
  const { count } = await db.heSession.updateMany({
    where: { id: sessionId, queriesUsed: { lte: budget - slots } },
    data: { queriesUsed: { increment: slots } },
  });
  return count === 1;
}

/** Gives back slots charged for an evaluation that answered nothing. */
export async function refundHeQueries(db: DbClient, sessionId: string, slots: number): Promise<void> {
  await db.heSession.updateMany({ where: { id: sessionId, queriesUsed: { gte: slots } }, data: { queriesUsed: { decrement: slots } } });
}

/** Deletes the session; false when there was none (another request deleted it first). */
export async function deleteHeSession(db: DbClient, sessionId: string): Promise<boolean> {
  const { count } = await db.heSession.deleteMany({ where: { id: sessionId } });
  return count === 1;
}

export interface HeSessionSummaryRecord {
  id: string;
  modelVersion: number;
  layout: string;
  creatorKeyId: string;
  createdAt: Date;
  expiresAt: Date;
  queriesUsed: number;
}

/** A federation's sessions, newest first, without their key material (megabytes each, and no reader's business). */
export async function listHeSessions(db: DbClient, federationId: string): Promise<HeSessionSummaryRecord[]> {
  return db.heSession.findMany({
    where: { federationId },
    select: { id: true, modelVersion: true, layout: true, creatorKeyId: true, createdAt: true, expiresAt: true, queriesUsed: true },
    orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
  });
}
