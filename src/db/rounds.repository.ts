/**
 * Rounds and their plain-mode updates. Every state change is a conditional update on the round row
 * (`WHERE status = 'open'`), so concurrent requests and several server instances agree on one outcome:
 * the database, not process memory, decides who closes a round.
 *
 * Lookups by a compound unique key use findFirst, never findUnique: Prisma merges concurrent findUnique
 * calls into one query, and on SQLite a few hundred concurrent compound-key lookups (one burst of agents
 * waking) exceed the parameter limit and fail with P2029 (repositories.test.ts).
 */
import type { RoundConfig } from '../fl/strategy.js';
import type { DbClient } from './db-client.js';
import type { StoredReport } from './models.repository.js';
import { bytesToWeights, weightsToBytes } from './weights-codec.js';

export type RoundStatus = 'open' | 'summing' | 'closed' | 'failed';
export type RoundKind = 'training' | 'statistics' | 'evaluation';

export interface RoundRecord {
  id: string;
  federationId: string;
  number: number;
  kind: RoundKind;
  /** 1, 2, … among training rounds; null for a statistics or evaluation round. */
  trainingIndex: number | null;
  status: RoundStatus;
  /** Fixed at opening: differential privacy and sampling. */
  config: RoundConfig;
  targetOwners: number | null;
  baseModelVersion: number;
  minOwners: number;
  deadline: Date;
  submissionCount: number;
  openedAt: Date;
  closedAt: Date | null;
  failureReason: string | null;
  includedSetHash: string | null;
  includedCount: number | null;
  summingDeadline: Date | null;
  partialSumCount: number;
  /** Lottery policy: what the committee was drawn from, so every owner can recompute it. */
  committeeDraw: CommitteeDraw | null;
  /** Secure mode: seats whose member has published its signed key for this round. */
  keyedCount: number;
  /** A closed evaluation round: what the owners' summed tallies showed. */
  evaluationReport: StoredFederatedEvaluation | null;
}

/** A federated evaluation as stored with its round: JSON has no NaN, so undefined figures are null. */
export interface StoredFederatedEvaluation {
  modelVersion: number;
  /** Owners whose tallies are in the sum. */
  owners: number;
  /** The largest possible |AUC − exact AUC| from scores sharing a histogram bin. */
  aucResolution: number | null;
  report: StoredReport;
}

/** The lottery's inputs for one round: the hash-chain value it revealed and the volunteers then registered. */
export interface CommitteeDraw {
  /** Hex of the chain's value for this round. */
  reveal: string;
  volunteers: { ownerId: string; identityKey: string }[];
}

export interface UpdateRecord {
  ownerId: string;
  numSamples: number;
  weights: Float32Array;
  metrics: { loss?: number; accuracy?: number };
}

const toRound = <
  T extends { status: string; kind: string; config: string | null; committeeDraw: string | null; trainingIndex: number | null; number: number; evaluationReport: string | null },
>(
  row: T,
) => ({
  ...row,
  evaluationReport: row.evaluationReport === null ? null : (JSON.parse(row.evaluationReport) as StoredFederatedEvaluation),
  status: row.status as RoundStatus,
  kind: row.kind as RoundKind,
  config: row.config === null ? {} : (JSON.parse(row.config) as RoundConfig),
  committeeDraw: row.committeeDraw === null ? null : (JSON.parse(row.committeeDraw) as CommitteeDraw),
  // Rounds from before kinds existed were all training rounds, numbered as such.
  trainingIndex: row.kind === 'training' ? (row.trainingIndex ?? row.number) : null,
});

export async function insertRound(
  db: DbClient,
  round: Pick<RoundRecord, 'id' | 'federationId' | 'number' | 'kind' | 'trainingIndex' | 'config' | 'targetOwners' | 'baseModelVersion' | 'minOwners' | 'deadline'>,
): Promise<RoundRecord> {
  return toRound(await db.round.create({ data: { ...round, config: Object.keys(round.config).length === 0 ? null : JSON.stringify(round.config), status: 'open' } }));
}

/** Stores a closed evaluation round's result (`json` from evaluationJson). */
export async function setEvaluationReport(db: DbClient, roundId: string, json: string): Promise<void> {
  await db.round.update({ where: { id: roundId }, data: { evaluationReport: json } });
}

/** The most recent closed evaluation of a model version, or null when it has had none. */
export async function findLatestEvaluation(db: DbClient, federationId: string, version: number): Promise<{ round: number; evaluation: StoredFederatedEvaluation } | null> {
  const row = await db.round.findFirst({
    where: { federationId, kind: 'evaluation', status: 'closed', baseModelVersion: version, evaluationReport: { not: null } },
    orderBy: { number: 'desc' },
    select: { number: true, evaluationReport: true },
  });
  return row ? { round: row.number, evaluation: JSON.parse(row.evaluationReport!) as StoredFederatedEvaluation } : null;
}

/** Every version's most recent closed evaluation, by version. */
export async function listLatestEvaluations(db: DbClient, federationId: string): Promise<Map<number, { round: number; evaluation: StoredFederatedEvaluation }>> {
  const rows = await db.round.findMany({
    where: { federationId, kind: 'evaluation', status: 'closed', evaluationReport: { not: null } },
    orderBy: { number: 'asc' },
    select: { number: true, baseModelVersion: true, evaluationReport: true },
  });
  return new Map(rows.map((row) => [row.baseModelVersion, { round: row.number, evaluation: JSON.parse(row.evaluationReport!) as StoredFederatedEvaluation }]));
}

export async function setCommitteeDraw(db: DbClient, roundId: string, draw: CommitteeDraw): Promise<void> {
  await db.round.update({ where: { id: roundId }, data: { committeeDraw: JSON.stringify(draw) } });
}

/** Training rounds the federation has had so far (a statistics round is not one). */
export async function countTrainingRounds(db: DbClient, federationId: string): Promise<number> {
  return db.round.count({ where: { federationId, kind: 'training' } });
}

/** Data owners (not aggregator nodes, none removed) enrolled in the federation: who a round may ask to take part. */
export async function countDataOwners(db: DbClient, federationId: string): Promise<number> {
  return db.owner.count({ where: { federationId, role: 'owner', removedAt: null } });
}

/** Data owners enrolled in the federation (none removed), by id: a Poisson-sampled round's target is computed over them. */
export async function listDataOwnerIds(db: DbClient, federationId: string): Promise<string[]> {
  return (await db.owner.findMany({ where: { federationId, role: 'owner', removedAt: null }, select: { id: true }, orderBy: { id: 'asc' } })).map((row) => row.id);
}

export async function findRound(db: DbClient, federationId: string, number: number): Promise<RoundRecord | null> {
  const row = await db.round.findFirst({ where: { federationId, number } });
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

/** Every unsettled (open or summing) round of every federation; the deadline sweeper decides which are due. */
export async function listOpenRounds(db: DbClient): Promise<RoundRecord[]> {
  const rows = await db.round.findMany({ where: { status: { in: ['open', 'summing'] } } });
  return rows.map(toRound);
}

/** Rounds of every federation by status: one grouped count, cheap enough to run at every metrics scrape. */
export async function countRoundsByStatus(db: DbClient): Promise<Record<RoundStatus, number>> {
  const counts: Record<RoundStatus, number> = { open: 0, summing: 0, closed: 0, failed: 0 };
  for (const group of await db.round.groupBy({ by: ['status'], _count: { _all: true } })) {
    if (group.status in counts) counts[group.status as RoundStatus] = group._count._all;
  }
  return counts;
}

/**
 * Counts one more submission, only while the round is open. It takes the round row's lock in the
 * transaction that inserts the submission, and a close takes the same lock before it reads the
 * submissions, so this submission lands either wholly before a concurrent close (and is aggregated) or
 * wholly after it (and is refused, its insert rolled back): an accepted update is never left out of its round.
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

/**
 * A statistics round's contribution (plain mode): the owner's moments, stored as float64 in the update
 * row, since they are sums of up to millions of values rather than weights.
 */
export async function insertMoments(db: DbClient, moments: { id: string; roundId: string; ownerId: string; values: Float64Array; rows: number }): Promise<void> {
  const bytes = new Uint8Array(moments.values.length * 8);
  const view = new DataView(bytes.buffer);
  moments.values.forEach((value, i) => view.setFloat64(i * 8, value, true));
  await db.update.create({ data: { id: moments.id, roundId: moments.roundId, ownerId: moments.ownerId, numSamples: moments.rows, weights: bytes, metrics: '{}' } });
}

export async function listMoments(db: DbClient, roundId: string): Promise<Float64Array[]> {
  const rows = await db.update.findMany({ where: { roundId }, select: { weights: true }, orderBy: { ownerId: 'asc' } });
  return rows.map(({ weights }) => {
    const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
    return Float64Array.from({ length: weights.byteLength / 8 }, (_, i) => view.getFloat64(i * 8, true));
  });
}

export async function hasUpdate(db: DbClient, roundId: string, ownerId: string): Promise<boolean> {
  const row = await db.update.findFirst({ where: { roundId, ownerId }, select: { id: true } });
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

/** The one transition out of `from`; true only for the caller that made it. */
export async function finishRound(
  db: DbClient,
  roundId: string,
  from: 'open' | 'summing',
  outcome: { status: 'closed' } | { status: 'failed'; reason: string },
  now: Date,
): Promise<boolean> {
  const { count } = await db.round.updateMany({
    where: { id: roundId, status: from },
    data: {
      status: outcome.status,
      closedAt: now,
      failureReason: outcome.status === 'failed' ? outcome.reason : null,
    },
  });
  return count === 1;
}

/**
 * Takes the round row's lock inside the caller's transaction while the round is still in `status`, without
 * changing it: `SELECT … FOR UPDATE`, in a form both databases' clients accept. countSubmission and
 * countPartialSum hold the same lock until their contribution commits, so a settlement that must read the
 * contributions before it knows its outcome takes this first: every contribution counted before is in its
 * read, and none can be counted after. (A transition that changes the status takes the lock by doing so.)
 */
export async function lockRound(db: DbClient, roundId: string, status: 'open' | 'summing'): Promise<boolean> {
  const { count } = await db.round.updateMany({ where: { id: roundId, status }, data: { status } });
  return count === 1;
}

/**
 * A round fails for want of contributions (updates while open, partial sums while summing), only while it
 * still wants them: the count is checked in the same conditional update as the status, so a contribution
 * committed after the caller read the round — by another request or another instance — makes this a
 * no-op, and whoever counted that contribution settles the round instead. Without it, a sweep that read
 * the round one update short would fail a round that holds enough, and an accepted update with it.
 */
export async function failShortRound(db: DbClient, roundId: string, from: 'open' | 'summing', needed: number, reason: string, now: Date): Promise<boolean> {
  const short = from === 'open' ? { submissionCount: { lt: needed } } : { partialSumCount: { lt: needed } };
  const { count } = await db.round.updateMany({
    where: { id: roundId, status: from, ...short },
    data: { status: 'failed', closedAt: now, failureReason: reason },
  });
  return count === 1;
}

// ── Secure mode ──────────────────────────────────────────────────────────────────────────────────

export interface CommitteeSeatRecord {
  position: number;
  ownerId: string;
  /** The member's identity key when it was seated (null only for rounds from before identities). */
  identityKey: Uint8Array | null;
  /** This round's X25519 key and the member's signature over it; null until the member publishes them. */
  roundKey: Uint8Array | null;
  signature: Uint8Array | null;
}

export async function insertCommitteeSeats(db: DbClient, roundId: string, seats: { position: number; ownerId: string; identityKey: Uint8Array }[], newId: () => string): Promise<void> {
  await db.committeeSeat.createMany({
    data: seats.map((seat) => ({ id: newId(), roundId, position: seat.position, ownerId: seat.ownerId, identityKey: seat.identityKey as Uint8Array<ArrayBuffer> })),
  });
}

export async function listCommitteeSeats(db: DbClient, roundId: string): Promise<CommitteeSeatRecord[]> {
  return db.committeeSeat.findMany({
    where: { roundId },
    select: { position: true, ownerId: true, identityKey: true, roundKey: true, signature: true },
    orderBy: { position: 'asc' },
  });
}

/**
 * A member's signed key for its seat, only while the seat has none and the round is open; counting it on
 * the round row changes the round's tag, so owners waiting for the committee's keys wake up.
 */
export async function keySeat(db: DbClient, roundId: string, position: number, roundKey: Uint8Array, signature: Uint8Array, now: Date): Promise<boolean> {
  const { count: open } = await db.round.updateMany({ where: { id: roundId, status: 'open' }, data: { keyedCount: { increment: 1 } } });
  if (open !== 1) return false;
  const { count } = await db.committeeSeat.updateMany({
    where: { roundId, position, roundKey: null },
    data: { roundKey: roundKey as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer>, keyedAt: now },
  });
  if (count !== 1) throw new SeatAlreadyKeyed();
  return true;
}

/** Thrown inside keySeat's transaction so the round's count is rolled back with it. */
export class SeatAlreadyKeyed extends Error {
  constructor() {
    super('keySeat: the seat already has a key');
  }
}

export async function insertShareEnvelopes(
  db: DbClient,
  rows: { id: string; roundId: string; senderId: string; recipientId: string; envelope: Uint8Array }[],
): Promise<void> {
  await db.shareEnvelope.createMany({ data: rows.map((row) => ({ ...row, envelope: row.envelope as Uint8Array<ArrayBuffer> })) });
}

export async function hasShares(db: DbClient, roundId: string, senderId: string): Promise<boolean> {
  return (await db.shareEnvelope.findFirst({ where: { roundId, senderId }, select: { id: true } })) !== null;
}

/** Every owner that uploaded shares to the round, sorted: the included set once summing starts. */
export async function listShareSenders(db: DbClient, roundId: string): Promise<string[]> {
  const rows = await db.shareEnvelope.findMany({ where: { roundId }, select: { senderId: true }, distinct: ['senderId'], orderBy: { senderId: 'asc' } });
  return rows.map((row) => row.senderId);
}

export async function listInbox(db: DbClient, roundId: string, recipientId: string): Promise<{ senderId: string; envelope: Uint8Array }[]> {
  return db.shareEnvelope.findMany({ where: { roundId, recipientId }, select: { senderId: true, envelope: true }, orderBy: { senderId: 'asc' } });
}

/** open → summing, once; the caller then records the included set it froze. */
export async function startSumming(db: DbClient, roundId: string, summingDeadline: Date): Promise<boolean> {
  const { count } = await db.round.updateMany({ where: { id: roundId, status: 'open' }, data: { status: 'summing', summingDeadline } });
  return count === 1;
}

export async function recordIncludedSet(db: DbClient, roundId: string, includedSetHash: string, includedCount: number): Promise<void> {
  await db.round.update({ where: { id: roundId }, data: { includedSetHash, includedCount } });
}

/** Counts one more partial sum, only while the round is summing (same locking argument as countSubmission). */
export async function countPartialSum(db: DbClient, roundId: string): Promise<boolean> {
  const { count } = await db.round.updateMany({ where: { id: roundId, status: 'summing' }, data: { partialSumCount: { increment: 1 } } });
  return count === 1;
}

export async function insertPartialSum(
  db: DbClient,
  row: { id: string; roundId: string; memberId: string; position: number; includedSetHash: string; values: Uint8Array },
): Promise<void> {
  await db.partialSum.create({ data: { ...row, values: row.values as Uint8Array<ArrayBuffer> } });
}

export async function hasPartialSum(db: DbClient, roundId: string, memberId: string): Promise<boolean> {
  return (await db.partialSum.findFirst({ where: { roundId, memberId }, select: { id: true } })) !== null;
}

export async function listPartialSums(db: DbClient, roundId: string): Promise<{ position: number; includedSetHash: string; values: Uint8Array }[]> {
  return db.partialSum.findMany({ where: { roundId }, select: { position: true, includedSetHash: true, values: true }, orderBy: { position: 'asc' } });
}
