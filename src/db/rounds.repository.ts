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
import { column, hotSqlOf, type HotRow } from './hot-sql.js';
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

// Every submission, share upload and round read loads its round, hence the hot path.
const ROUND_BY_NUMBER =
  'SELECT "id", "federationId", "number", "kind", "trainingIndex", "config", "targetOwners", "status", "baseModelVersion", "minOwners", "deadline", "submissionCount", "openedAt", "closedAt", "failureReason", "includedSetHash", "includedCount", "summingDeadline", "partialSumCount", "committeeDraw", "keyedCount", "evaluationReport" FROM "Round" WHERE "federationId" = $1 AND "number" = $2 LIMIT 1';

const roundRowOf = (row: HotRow) => ({
  id: column.text(row.id),
  federationId: column.text(row.federationId),
  number: column.int(row.number),
  kind: column.text(row.kind),
  trainingIndex: column.intOrNull(row.trainingIndex),
  config: column.textOrNull(row.config),
  targetOwners: column.intOrNull(row.targetOwners),
  status: column.text(row.status),
  baseModelVersion: column.int(row.baseModelVersion),
  minOwners: column.int(row.minOwners),
  deadline: column.date(row.deadline),
  submissionCount: column.int(row.submissionCount),
  openedAt: column.date(row.openedAt),
  closedAt: column.dateOrNull(row.closedAt),
  failureReason: column.textOrNull(row.failureReason),
  includedSetHash: column.textOrNull(row.includedSetHash),
  includedCount: column.intOrNull(row.includedCount),
  summingDeadline: column.dateOrNull(row.summingDeadline),
  partialSumCount: column.int(row.partialSumCount),
  committeeDraw: column.textOrNull(row.committeeDraw),
  keyedCount: column.int(row.keyedCount),
  evaluationReport: column.textOrNull(row.evaluationReport),
});

export async function findRound(db: DbClient, federationId: string, number: number): Promise<RoundRecord | null> {
  const hot = hotSqlOf(db);
  if (hot) {
    const [row] = await hot.rows(ROUND_BY_NUMBER, [federationId, number]);
    return row ? toRound(roundRowOf(row)) : null;
  }
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
 * Counts `by` contributions into a round still at `stage` (collecting: submissions; summing: partial sums)
 * and returns the round as counted; null, counting nothing, once it has moved on. The conditional update
 * takes the round row's lock until the transaction ends, so callers make it their last statement.
 */
export async function countContributions(db: DbClient, roundId: string, stage: 'open' | 'summing', by: number): Promise<RoundRecord | null> {
  const counter = stage === 'summing' ? 'partialSumCount' : 'submissionCount';
  const [row] = await db.round.updateManyAndReturn({ where: { id: roundId, status: stage }, data: { [counter]: { increment: by } } });
  return row ? toRound(row) : null;
}

// ── Contributions ────────────────────────────────────────────────────────────────────────────────────
// What an owner or committee member hands in is described as rows first (the builders below), then written
// by either path of `acceptContributions`, so both paths store exactly the same values.

export type ContributionRow =
  | { table: 'Update'; data: { id: string; roundId: string; ownerId: string; numSamples: number; weights: Uint8Array; metrics: string } }
  | { table: 'ShareEnvelope'; data: { id: string; roundId: string; senderId: string; recipientId: string; envelope: Uint8Array } }
  | { table: 'PartialSum'; data: { id: string; roundId: string; memberId: string; position: number; includedSetHash: string; values: Uint8Array } };

export function updateRows(update: { id: string; roundId: string; ownerId: string; numSamples: number; weights: Float32Array; metrics: object }): ContributionRow[] {
  return [{ table: 'Update', data: { ...update, weights: weightsToBytes(update.weights), metrics: JSON.stringify(update.metrics) } }];
}

/** Writes a contribution's rows in the caller's transaction (Prisma's path). */
export async function insertContributionRows(db: DbClient, rows: ContributionRow[]): Promise<void> {
  const updates = rows.flatMap((row) => (row.table === 'Update' ? [row.data] : []));
  const envelopes = rows.flatMap((row) => (row.table === 'ShareEnvelope' ? [row.data] : []));
  const partialSums = rows.flatMap((row) => (row.table === 'PartialSum' ? [row.data] : []));
  const bytes = (value: Uint8Array) => value as Uint8Array<ArrayBuffer>;
  for (const data of updates) await db.update.create({ data: { ...data, weights: bytes(data.weights) } });
  if (envelopes.length > 0) await db.shareEnvelope.createMany({ data: envelopes.map((data) => ({ ...data, envelope: bytes(data.envelope) })) });
  for (const data of partialSums) await db.partialSum.create({ data: { ...data, values: bytes(data.values) } });
}

export async function insertUpdate(db: DbClient, update: Parameters<typeof updateRows>[0]): Promise<void> {
  await insertContributionRows(db, updateRows(update));
}

/** Which counter a contribution moves, and the status the round must still have for it to count. */
export type ContributionStage = 'open' | 'summing';

export type AcceptedContributions = { closed: true } | { closed: false; duplicate: boolean[]; round: RoundRecord };

/**
 * The hot path of acceptance, where the driver can write synchronously (SQLite): one transaction, taken
 * and ended without yielding, so it holds the connection for microseconds rather than across a dozen
 * awaits. Each item's rows go in under a savepoint, so a duplicate (a unique index) undoes only its own
 * item; the round counts the others, if it still takes contributions at this stage. Null where there is
 * no such path (PostgreSQL, or inside a transaction): the caller uses Prisma.
 */
export async function acceptContributionsNow(
  db: DbClient,
  round: { id: string; federationId: string; number: number },
  stage: ContributionStage,
  items: ContributionRow[][],
): Promise<AcceptedContributions | null> {
  const transaction = hotSqlOf(db)?.transaction;
  if (!transaction) return null;
  const now = new Date();
  return transaction<AcceptedContributions>((sql) => {
    const duplicate = items.map((rows) => {
      sql.run('SAVEPOINT contribution', []);
      try {
        for (const row of rows) sql.run(insertSql(row), [...Object.values(row.data), now]);
        sql.run('RELEASE contribution', []);
        return false;
      } catch (error) {
        sql.run('ROLLBACK TO contribution', []);
        sql.run('RELEASE contribution', []);
        if (sql.isUniqueViolation(error)) return true;
        throw error;
      }
    });
    const accepted = duplicate.filter((dup) => !dup).length;
    if (accepted > 0) {
      const counter = stage === 'summing' ? 'partialSumCount' : 'submissionCount';
      if (sql.run(`UPDATE "Round" SET "${counter}" = "${counter}" + $1 WHERE "id" = $2 AND "status" = $3`, [accepted, round.id, stage]) !== 1) {
        return { rollback: true, result: { closed: true } };
      }
    }
    const [row] = sql.rows(ROUND_BY_NUMBER, [round.federationId, round.number]);
    return { rollback: false, result: { closed: false, duplicate, round: toRound(roundRowOf(row!)) } };
  });
}

const insertSql = (row: ContributionRow) => {
  const columns = Object.keys(row.data);
  return `INSERT INTO "${row.table}" (${columns.map((c) => `"${c}"`).join(', ')}, "createdAt") VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')}, $${columns.length + 1})`;
};

/**
 * A statistics round's contribution (plain mode): the owner's moments, stored as float64 in the update
 * row, since they are sums of up to millions of values rather than weights.
 */
export function momentsRows(moments: { id: string; roundId: string; ownerId: string; values: Float64Array; rows: number }): ContributionRow[] {
  const bytes = new Uint8Array(moments.values.length * 8);
  const view = new DataView(bytes.buffer);
  moments.values.forEach((value, i) => view.setFloat64(i * 8, value, true));
  return [{ table: 'Update', data: { id: moments.id, roundId: moments.roundId, ownerId: moments.ownerId, numSamples: moments.rows, weights: bytes, metrics: '{}' } }];
}

export async function listMoments(db: DbClient, roundId: string): Promise<Float64Array[]> {
  const rows = await db.update.findMany({ where: { roundId }, select: { weights: true }, orderBy: { ownerId: 'asc' } });
  return rows.map(({ weights }) => {
    const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
    return Float64Array.from({ length: weights.byteLength / 8 }, (_, i) => view.getFloat64(i * 8, true));
  });
}

export async function hasUpdate(db: DbClient, roundId: string, ownerId: string): Promise<boolean> {
  const hot = hotSqlOf(db);
  // Asked before every plain submission, hence the hot path.
  if (hot) return (await hot.rows('SELECT "id" FROM "Update" WHERE "roundId" = $1 AND "ownerId" = $2 LIMIT 1', [roundId, ownerId])).length > 0;
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
 * changing it: `SELECT … FOR UPDATE`, in a form both databases' clients accept. countContributions holds
 * the same lock until their contribution commits, so a settlement that must read the
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

// Read with every share upload (each checks its envelopes against the seats), hence the hot path.
const COMMITTEE_SEATS =
  'SELECT "position", "ownerId", "identityKey", "roundKey", "signature" FROM "CommitteeSeat" WHERE "roundId" = $1 ORDER BY "position" ASC';

export async function listCommitteeSeats(db: DbClient, roundId: string): Promise<CommitteeSeatRecord[]> {
  const hot = hotSqlOf(db);
  if (hot) {
    return (await hot.rows(COMMITTEE_SEATS, [roundId])).map((row) => ({
      position: column.int(row.position),
      ownerId: column.text(row.ownerId),
      identityKey: column.bytesOrNull(row.identityKey),
      roundKey: column.bytesOrNull(row.roundKey),
      signature: column.bytesOrNull(row.signature),
    }));
  }
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

export function shareEnvelopeRows(rows: { id: string; roundId: string; senderId: string; recipientId: string; envelope: Uint8Array }[]): ContributionRow[] {
  return rows.map((data) => ({ table: 'ShareEnvelope', data }));
}

export async function hasShares(db: DbClient, roundId: string, senderId: string): Promise<boolean> {
  const hot = hotSqlOf(db);
  // Asked before every share upload, hence the hot path.
  if (hot) return (await hot.rows('SELECT "id" FROM "ShareEnvelope" WHERE "roundId" = $1 AND "senderId" = $2 LIMIT 1', [roundId, senderId])).length > 0;
  return (await db.shareEnvelope.findFirst({ where: { roundId, senderId }, select: { id: true } })) !== null;
}

/** Every owner that uploaded shares to the round, sorted: the included set once summing starts. */
export async function listShareSenders(db: DbClient, roundId: string): Promise<string[]> {
  const rows = await db.shareEnvelope.findMany({ where: { roundId }, select: { senderId: true }, distinct: ['senderId'], orderBy: { senderId: 'asc' } });
  return rows.map((row) => row.senderId);
}

const INBOX_PAGE = 'SELECT "senderId", "envelope" FROM "ShareEnvelope" WHERE "roundId" = $1 AND "recipientId" = $2 AND "senderId" > $3 ORDER BY "senderId" LIMIT $4';

/**
 * A member's envelopes by sender id; with `page`, at most `take` of them after sender `after` (keyset paging,
 * for streaming). Pages are read on the hot path: a 30,000-owner inbox streamed to 5 members is tens of
 * thousands of rows, which through the ORM cost the server more than the whole of its summing stage.
 */
export async function listInbox(
  db: DbClient,
  roundId: string,
  recipientId: string,
  page?: { after?: string; take: number },
): Promise<{ senderId: string; envelope: Uint8Array }[]> {
  const hot = hotSqlOf(db);
  if (hot && page) {
    // Every id is longer than '' (ids are non-empty), so the first page needs no second statement.
    const rows = await hot.rows(INBOX_PAGE, [roundId, recipientId, page.after ?? '', page.take]);
    return rows.map((row) => ({ senderId: column.text(row.senderId), envelope: column.bytes(row.envelope) }));
  }
  return db.shareEnvelope.findMany({
    where: { roundId, recipientId, ...(page?.after !== undefined && { senderId: { gt: page.after } }) },
    select: { senderId: true, envelope: true },
    orderBy: { senderId: 'asc' },
    ...(page && { take: page.take }),
  });
}

export async function countInbox(db: DbClient, roundId: string, recipientId: string): Promise<number> {
  return db.shareEnvelope.count({ where: { roundId, recipientId } });
}

/** open → summing, once; the caller then records the included set it froze. */
export async function startSumming(db: DbClient, roundId: string, summingDeadline: Date): Promise<boolean> {
  const { count } = await db.round.updateMany({ where: { id: roundId, status: 'open' }, data: { status: 'summing', summingDeadline } });
  return count === 1;
}

export async function recordIncludedSet(db: DbClient, roundId: string, includedSetHash: string, includedCount: number): Promise<void> {
  await db.round.update({ where: { id: roundId }, data: { includedSetHash, includedCount } });
}

export function partialSumRows(data: { id: string; roundId: string; memberId: string; position: number; includedSetHash: string; values: Uint8Array }): ContributionRow[] {
  return [{ table: 'PartialSum', data }];
}

export async function hasPartialSum(db: DbClient, roundId: string, memberId: string): Promise<boolean> {
  return (await db.partialSum.findFirst({ where: { roundId, memberId }, select: { id: true } })) !== null;
}

export async function listPartialSums(db: DbClient, roundId: string): Promise<{ position: number; includedSetHash: string; values: Uint8Array }[]> {
  return db.partialSum.findMany({ where: { roundId }, select: { position: true, includedSetHash: true, values: true }, orderBy: { position: 'asc' } });
}
