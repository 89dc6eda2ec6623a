/**
 * Rounds and their plain-mode updates. Every state change is a conditional update on the round row
 * (`WHERE status = 'open'`), so concurrent requests and several server instances agree on one outcome:
 * the database, not process memory, decides who closes a round.
 */
import type { DbClient } from './db-client.js';
import { bytesToWeights, weightsToBytes } from './weights-codec.js';

export type RoundStatus = 'open' | 'closed' | 'failed';

export interface RoundRecord {
  id: string;
  federationId: string;
  number: number;
  status: RoundStatus;
  baseModelVersion: number;
  minOwners: number;
  deadline: Date;
  submissionCount: number;
  openedAt: Date;
  closedAt: Date | null;
  failureReason: string | null;
}

export interface UpdateRecord {
  ownerId: string;
  numSamples: number;
  weights: Float32Array;
  metrics: { loss?: number; accuracy?: number };
}

const toRound = <T extends { status: string }>(row: T) => ({ ...row, status: row.status as RoundStatus });

export async function insertRound(
  db: DbClient,
  round: Pick<RoundRecord, 'id' | 'federationId' | 'number' | 'baseModelVersion' | 'minOwners' | 'deadline'>,
): Promise<RoundRecord> {
  return toRound(await db.round.create({ data: { ...round, status: 'open' } }));
}

export async function findRound(db: DbClient, federationId: string, number: number): Promise<RoundRecord | null> {
  const row = await db.round.findUnique({ where: { federationId_number: { federationId, number } } });
  return row ? toRound(row) : null;
}

export async function findLatestRound(db: DbClient, federationId: string): Promise<RoundRecord | null> {
  const row = await db.round.findFirst({ where: { federationId }, orderBy: { number: 'desc' } });
  return row ? toRound(row) : null;
}

export async function listRounds(db: DbClient, federationId: string): Promise<RoundRecord[]> {
  const rows = await db.round.findMany({ where: { federationId }, orderBy: { number: 'asc' } });
  return rows.map(toRound);
}

/** Every open round of every federation; the deadline sweeper decides which are due. */
export async function listOpenRounds(db: DbClient): Promise<RoundRecord[]> {
  const rows = await db.round.findMany({ where: { status: 'open' } });
  return rows.map(toRound);
}

/**
 * Counts one more submission, only while the round is open. Taking the round row's lock before the insert
 * orders this submission either wholly before a concurrent close (and it is aggregated) or wholly after it
 * (and it is refused): an accepted update is never left out of its round.
 */
export async function countSubmission(db: DbClient, roundId: string): Promise<boolean> {
  const { count } = await db.round.updateMany({
    where: { id: roundId, status: 'open' },
    data: { submissionCount: { increment: 1 } },
  });
  return count === 1;
}

export async function insertUpdate(
  db: DbClient,
  update: { id: string; roundId: string; ownerId: string; numSamples: number; weights: Float32Array; metrics: object },
): Promise<void> {
  await db.update.create({
    data: { ...update, weights: weightsToBytes(update.weights), metrics: JSON.stringify(update.metrics) },
  });
}

export async function hasUpdate(db: DbClient, roundId: string, ownerId: string): Promise<boolean> {
  const row = await db.update.findUnique({ where: { roundId_ownerId: { roundId, ownerId } }, select: { id: true } });
  return row !== null;
}

export async function listUpdates(db: DbClient, roundId: string): Promise<UpdateRecord[]> {
  const rows = await db.update.findMany({ where: { roundId } });
  return rows.map((row) => ({
    ownerId: row.ownerId,
    numSamples: row.numSamples,
    weights: bytesToWeights(row.weights),
    metrics: JSON.parse(row.metrics) as UpdateRecord['metrics'],
  }));
}

/** The one transition out of `open`; true only for the caller that made it. */
export async function finishRound(
  db: DbClient,
  roundId: string,
  outcome: { status: 'closed' } | { status: 'failed'; reason: string },
  now: Date,
): Promise<boolean> {
  const { count } = await db.round.updateMany({
    where: { id: roundId, status: 'open' },
    data: {
      status: outcome.status,
      closedAt: now,
      failureReason: outcome.status === 'failed' ? outcome.reason : null,
    },
  });
  return count === 1;
}
