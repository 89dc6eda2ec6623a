/**
 * What a consistent fedscore database looks like, checked row by row: the invariants the services keep
 * with transactions and conditional updates (round-core.ts), read back from the tables themselves. The
 * crash-loop test runs it after every SIGKILL, so a crash that left a half-written submission, a round
 * closed without its model or published twice, or a counter that disagrees with the rows it counts, is
 * named here. Foreign keys would catch some of these; they are checked anyway, since a file restored or
 * written with foreign keys off would not.
 *
 * Returns every violation (empty: consistent), each naming its invariant and the rows concerned.
 */
import { createHash } from 'node:crypto';
import { openDatabase, type Database, type Db } from '../../src/db/client.js';
import { includedSetHash } from '../../src/fl/secure-aggregation.js';
import type { TestDatabase } from './database.js';

/** Every invariant checked, by the name a violation carries. */
export const INVARIANTS = [
  // contributions: updates, share envelopes, partial sums, committee seats
  'orphan-row',
  'cross-federation',
  'mode-mismatch',
  'contributor-role',
  'incomplete-shares',
  'partial-sum-seat',
  'committee-seats',
  // federations and their versions
  'latest-version',
  'version-gap',
  'initial-version',
  'promoted-version',
  'aggregation-config',
  'charter-fingerprint',
  'weights-length',
  'he-session-version',
  // rounds
  'round-numbers',
  'unsettled-rounds',
  'round-enum',
  'round-closed-at',
  'round-failure-reason',
  'round-freeze-fields',
  'round-evaluation-report',
  'round-base-version',
  'submission-count',
  'partial-sum-count',
  'keyed-count',
  'too-many-submissions',
  'closed-below-minimum',
  'included-set',
  // rounds against the versions they published
  'versions-per-round',
  'version-base',
  'version-contributors',
  'version-round',
] as const;

export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  /** Which invariant, e.g. `submission-count`. */
  invariant: Invariant;
  /** Which rows break it and how; ids and counts only, never weights or keys. */
  detail: string;
}

/** An open handle, or where to open one (a `createTestDatabase()` result): opened, read and closed here. */
export type IntegrityTarget = Database | Pick<TestDatabase, 'dataDir' | 'databaseUrl'>;

export async function checkIntegrity(target: IntegrityTarget): Promise<Violation[]> {
  if ('prisma' in target) return findViolations(target.prisma);
  const database = await openDatabase({ databaseUrl: target.databaseUrl ?? '', dataDir: target.dataDir });
  try {
    return await findViolations(database.prisma);
  } finally {
    await database.close();
  }
}

/** One line per violation, for assertion messages. */
export function describeViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.invariant}: ${v.detail}`).join('\n');
}

const STATUSES = new Set(['open', 'summing', 'closed', 'failed']);
const KINDS = new Set(['training', 'statistics', 'evaluation']);

async function findViolations(db: Db): Promise<Violation[]> {
  const [federations, owners, rounds, versions, updates, seats, envelopes, partialSums, heSessions] = [
    await db.federation.findMany({
      select: { id: true, aggregation: true, secureConfig: true, latestModelVersion: true, promotedModelVersion: true, charter: true, charterFingerprint: true },
      orderBy: { id: 'asc' },
    }),
    await db.owner.findMany({ select: { id: true, federationId: true, role: true } }),
    await db.round.findMany({ orderBy: [{ federationId: 'asc' }, { number: 'asc' }] }),
    await db.modelVersion.findMany({ select: { id: true, federationId: true, version: true, roundNumber: true, weights: true, metrics: true }, orderBy: [{ federationId: 'asc' }, { version: 'asc' }] }),
    await db.update.findMany({ select: { id: true, roundId: true, ownerId: true, numSamples: true, weights: true } }),
    await db.committeeSeat.findMany({ select: { id: true, roundId: true, ownerId: true, position: true, roundKey: true } }),
    await db.shareEnvelope.findMany({ select: { id: true, roundId: true, senderId: true, recipientId: true } }),
    await db.partialSum.findMany({ select: { id: true, roundId: true, memberId: true, position: true, includedSetHash: true } }),
    await db.heSession.findMany({ select: { id: true, federationId: true, modelVersion: true } }),
  ];
  const out: Violation[] = [];
  const report = (invariant: Invariant, detail: string) => out.push({ invariant, detail });

  const federationById = new Map(federations.map((f) => [f.id, f]));
  const ownerById = new Map(owners.map((o) => [o.id, o]));
  const roundById = new Map(rounds.map((r) => [r.id, r]));
  const byRound = <T extends { roundId: string }>(rows: T[]) => {
    const map = new Map<string, T[]>();
    for (const row of rows) (map.get(row.roundId) ?? map.set(row.roundId, []).get(row.roundId)!).push(row);
    return map;
  };
  const updatesOf = byRound(updates);
  const seatsOf = byRound(seats);
  const envelopesOf = byRound(envelopes);
  const partialSumsOf = byRound(partialSums);
  const roundName = (r: { federationId: string; number: number }) => `round ${r.number} of federation ${r.federationId}`;

  // ── Contributions: every row belongs to an existing round and owner of the same federation ──────────
  const contributions = [
    ...updates.map((row) => ({ table: 'Update', id: row.id, roundId: row.roundId, ownerId: row.ownerId, mode: 'plain' })),
    ...envelopes.flatMap((row) => [
      { table: 'ShareEnvelope', id: row.id, roundId: row.roundId, ownerId: row.senderId, mode: 'secure' },
      { table: 'ShareEnvelope', id: row.id, roundId: row.roundId, ownerId: row.recipientId, mode: 'secure' },
    ]),
    ...partialSums.map((row) => ({ table: 'PartialSum', id: row.id, roundId: row.roundId, ownerId: row.memberId, mode: 'secure' })),
    ...seats.map((row) => ({ table: 'CommitteeSeat', id: row.id, roundId: row.roundId, ownerId: row.ownerId, mode: 'secure' })),
  ];
  for (const row of contributions) {
    const round = roundById.get(row.roundId);
    const owner = ownerById.get(row.ownerId);
    if (!round || !owner) {
      const missing = [round ? null : `round ${row.roundId}`, owner ? null : `owner ${row.ownerId}`].filter((what) => what !== null);
      report('orphan-row', `${row.table} ${row.id} names ${missing.join(' and ')}, which ${missing.length > 1 ? 'do' : 'does'} not exist`);
      continue;
    }
    if (owner.federationId !== round.federationId) {
      report('cross-federation', `${row.table} ${row.id}: owner ${owner.id} of federation ${owner.federationId} in ${roundName(round)}`);
    }
    const federation = federationById.get(round.federationId);
    if (federation && federation.aggregation !== row.mode) {
      report('mode-mismatch', `${row.table} ${row.id} in ${roundName(round)}, a ${federation.aggregation} federation`);
    }
  }
  for (const row of [...updates.map((u) => ({ table: 'Update', id: u.id, ownerId: u.ownerId })), ...envelopes.map((e) => ({ table: 'ShareEnvelope', id: e.id, ownerId: e.senderId }))]) {
    const owner = ownerById.get(row.ownerId);
    if (owner && owner.role !== 'owner') report('contributor-role', `${row.table} ${row.id} comes from ${owner.id}, an ${owner.role} (only data owners contribute)`);
  }

  // ── Federations and their model versions ──────────────────────────────────────────────────────────
  for (const federation of federations) {
    const mine = versions.filter((v) => v.federationId === federation.id);
    const numbers = mine.map((v) => v.version);
    const newest = numbers.length === 0 ? null : Math.max(...numbers);
    if (newest !== federation.latestModelVersion) {
      report('latest-version', `federation ${federation.id} points at version ${federation.latestModelVersion}, its newest stored version is ${newest ?? 'none'}`);
    }
    if (numbers.length > 0 && numbers.some((n, i) => n !== i)) {
      report('version-gap', `federation ${federation.id} has versions ${numbers.join(', ')}, not 0 to ${newest} each once`);
    }
    for (const v of mine) {
      if ((v.version === 0) !== (v.roundNumber === null)) {
        report('initial-version', `version ${v.version} of federation ${federation.id} has round ${v.roundNumber ?? 'none'} (only version 0, the seeded model, has none)`);
      }
    }
    if (federation.promotedModelVersion !== null && !numbers.includes(federation.promotedModelVersion)) {
      report('promoted-version', `federation ${federation.id} promotes version ${federation.promotedModelVersion}, which is not stored`);
    }
    const secure = secureSettings(federation.secureConfig);
    if (!(federation.aggregation === 'plain' && federation.secureConfig === null) && !(federation.aggregation === 'secure' && secure !== null)) {
      report('aggregation-config', `federation ${federation.id} is "${federation.aggregation}" with ${federation.secureConfig === null ? 'no' : secure ? 'a' : 'an unreadable'} secure configuration`);
    }
    if ((federation.charter === null) !== (federation.charterFingerprint === null) || (federation.charter !== null && sha256(federation.charter) !== federation.charterFingerprint)) {
      report('charter-fingerprint', `federation ${federation.id}'s charter does not hash to its fingerprint`);
    }
    const initialLength = mine.find((v) => v.version === 0)?.weights.byteLength;
    for (const v of mine) {
      if (initialLength !== undefined && v.weights.byteLength !== initialLength) {
        report('weights-length', `version ${v.version} of federation ${federation.id} has ${v.weights.byteLength} bytes of weights, version 0 has ${initialLength}`);
      }
    }
    for (const round of rounds.filter((r) => r.federationId === federation.id && r.kind === 'training')) {
      for (const update of updatesOf.get(round.id) ?? []) {
        if (initialLength !== undefined && update.weights.byteLength !== initialLength) {
          report('weights-length', `Update ${update.id} in ${roundName(round)} has ${update.weights.byteLength} bytes of weights, the model has ${initialLength}`);
        }
      }
    }
  }
  for (const session of heSessions) {
    if (!versions.some((v) => v.federationId === session.federationId && v.version === session.modelVersion)) {
      report('he-session-version', `HE session ${session.id} is pinned to version ${session.modelVersion}, which federation ${session.federationId} does not have`);
    }
  }

  // ── Rounds ─────────────────────────────────────────────────────────────────────────────────────────
  for (const federation of federations) {
    const mine = rounds.filter((r) => r.federationId === federation.id);
    if (mine.some((r, i) => r.number !== i + 1)) {
      report('round-numbers', `federation ${federation.id} has rounds ${mine.map((r) => r.number).join(', ')}, not 1 to ${mine.length}`);
    }
    const unsettled = mine.filter((r) => r.status === 'open' || r.status === 'summing');
    if (unsettled.length > 1 || (unsettled.length === 1 && unsettled[0] !== mine.at(-1))) {
      report('unsettled-rounds', `federation ${federation.id}: rounds ${unsettled.map((r) => r.number).join(', ')} are unsettled, and only its latest round (${mine.at(-1)?.number}) may be`);
    }
  }
  for (const round of rounds) {
    const name = roundName(round);
    const federation = federationById.get(round.federationId);
    if (!STATUSES.has(round.status) || !KINDS.has(round.kind)) {
      report('round-enum', `${name} has status "${round.status}" and kind "${round.kind}"`);
      continue;
    }
    const settled = round.status === 'closed' || round.status === 'failed';
    if (settled !== (round.closedAt !== null)) report('round-closed-at', `${name} is ${round.status} ${round.closedAt ? 'with' : 'without'} a closing time`);
    if ((round.status === 'failed') !== (round.failureReason !== null && round.failureReason !== '')) {
      report('round-failure-reason', `${name} is ${round.status} ${round.failureReason ? 'with' : 'without'} a failure reason`);
    }
    const frozenFields = [round.includedSetHash, round.includedCount, round.summingDeadline].filter((field) => field !== null).length;
    if ((round.status === 'summing' && frozenFields !== 3) || (round.status === 'open' && frozenFields !== 0) || (frozenFields !== 0 && frozenFields !== 3)) {
      report('round-freeze-fields', `${name} is ${round.status} with ${frozenFields} of its 3 freeze fields (included set hash and count, summing deadline) set`);
    }
    if ((round.kind === 'evaluation' && round.status === 'closed') !== (round.evaluationReport !== null)) {
      report('round-evaluation-report', `${name}, a ${round.status} ${round.kind} round, ${round.evaluationReport === null ? 'has no' : 'has an'} evaluation report`);
    }

    // Counters against the rows they count: each is incremented in the same transaction as its insert.
    const secureMode = federation?.aggregation === 'secure';
    const contributors = secureMode ? new Set((envelopesOf.get(round.id) ?? []).map((e) => e.senderId)) : new Set((updatesOf.get(round.id) ?? []).map((u) => u.ownerId));
    if (round.submissionCount !== contributors.size) {
      report('submission-count', `${name} counts ${round.submissionCount} submissions, ${contributors.size} owners' ${secureMode ? 'shares are' : 'updates are'} stored`);
    }
    const sums = partialSumsOf.get(round.id) ?? [];
    if (round.partialSumCount !== sums.length) report('partial-sum-count', `${name} counts ${round.partialSumCount} partial sums, ${sums.length} are stored`);
    const roundSeats = seatsOf.get(round.id) ?? [];
    const keyed = roundSeats.filter((s) => s.roundKey !== null).length;
    if (round.keyedCount !== keyed) report('keyed-count', `${name} counts ${round.keyedCount} committee keys, ${keyed} seats have one`);
    const dataOwners = owners.filter((o) => o.federationId === round.federationId && o.role === 'owner').length;
    if (round.submissionCount > dataOwners) report('too-many-submissions', `${name} counts ${round.submissionCount} submissions from a federation of ${dataOwners} data owners`);

    const secure = secureMode ? secureSettings(federation.secureConfig) : null;
    if (round.status === 'closed' && round.submissionCount < round.minOwners) {
      report('closed-below-minimum', `${name} closed with ${round.submissionCount} of ${round.minOwners} required submissions`);
    }
    if (round.status === 'closed' && secure && round.partialSumCount < secure.threshold) {
      report('closed-below-minimum', `${name} closed with ${round.partialSumCount} of ${secure.threshold} required partial sums`);
    }
    if (round.includedSetHash !== null) {
      const senders = [...new Set((envelopesOf.get(round.id) ?? []).map((e) => e.senderId))];
      if (round.includedSetHash !== includedSetHash(senders) || round.includedCount !== senders.length) {
        report('included-set', `${name} froze ${round.includedCount} owners, but its stored shares come from ${senders.length} owners${round.includedSetHash === includedSetHash(senders) ? '' : ' whose set hashes differently'}`);
      }
    }

    if (!versions.some((v) => v.federationId === round.federationId && v.version === round.baseModelVersion)) {
      report('round-base-version', `${name} starts from version ${round.baseModelVersion}, which is not stored`);
    }

    if (secure) {
      const positions = roundSeats.map((s) => s.position).sort((a, b) => a - b);
      const full = positions.length === secure.size && positions.every((p, i) => p === i + 1);
      // A round whose committee could not be seated fails at opening with no seats at all.
      if (!full && !(round.status === 'failed' && positions.length === 0)) {
        report('committee-seats', `${name} is ${round.status} with seats at positions [${positions.join(', ')}], not 1 to ${secure.size}`);
      }
      const committee = new Set(roundSeats.map((s) => s.ownerId));
      const bySender = new Map<string, Set<string>>();
      for (const e of envelopesOf.get(round.id) ?? []) (bySender.get(e.senderId) ?? bySender.set(e.senderId, new Set()).get(e.senderId)!).add(e.recipientId);
      for (const [sender, recipients] of bySender) {
        const missing = [...committee].filter((member) => !recipients.has(member));
        const extra = [...recipients].filter((recipient) => !committee.has(recipient));
        if (missing.length > 0 || extra.length > 0) {
          report('incomplete-shares', `${name}: owner ${sender}'s upload has ${recipients.size} envelopes for a committee of ${committee.size} (missing ${missing.length}, not seated ${extra.length})`);
        }
      }
      for (const sum of sums) {
        const seat = roundSeats.find((s) => s.ownerId === sum.memberId);
        if (!seat || seat.position !== sum.position || round.includedSetHash === null || sum.includedSetHash !== round.includedSetHash) {
          report('partial-sum-seat', `${name}: partial sum ${sum.id} from ${sum.memberId} at position ${sum.position} does not match a seat and the round's frozen included set`);
        }
      }
    }
  }

  // ── Rounds against the versions they published ─────────────────────────────────────────────────────
  for (const round of rounds) {
    const published = versions.filter((v) => v.federationId === round.federationId && v.roundNumber === round.number);
    const publishes = round.kind === 'training' && round.status === 'closed';
    if (published.length !== (publishes ? 1 : 0)) {
      report('versions-per-round', `${roundName(round)}, ${round.status} ${round.kind}, has ${published.length} model versions${published.length > 0 ? ` (${published.map((v) => v.version).join(', ')})` : ''}, expected ${publishes ? 1 : 0}`);
    }
    for (const version of published) {
      if (version.version !== round.baseModelVersion + 1) {
        report('version-base', `version ${version.version} of federation ${round.federationId} came from round ${round.number}, which started from version ${round.baseModelVersion}`);
      }
      const metrics = JSON.parse(version.metrics) as { owners?: number; samples?: number };
      const secureMode = federationById.get(round.federationId)?.aggregation === 'secure';
      const stored = updatesOf.get(round.id) ?? [];
      const counted = secureMode ? round.includedCount : stored.length;
      if (metrics.owners !== counted) {
        report('version-contributors', `version ${version.version} of federation ${round.federationId} records ${metrics.owners} owners, round ${round.number} holds ${counted}`);
      }
      const samples = stored.reduce((sum, u) => sum + u.numSamples, 0);
      if (!secureMode && metrics.samples !== samples) {
        report('version-contributors', `version ${version.version} of federation ${round.federationId} records ${metrics.samples} samples, round ${round.number}'s updates hold ${samples}`);
      }
    }
  }
  for (const version of versions) {
    if (version.roundNumber === null) continue;
    const round = rounds.find((r) => r.federationId === version.federationId && r.number === version.roundNumber);
    if (!round || round.kind !== 'training' || round.status !== 'closed') {
      report('version-round', `version ${version.version} of federation ${version.federationId} names round ${version.roundNumber}, ${round ? `a ${round.status} ${round.kind} round` : 'which does not exist'}`);
    }
  }
  // An envelope is checked as its sender's and its recipient's row: say each finding once.
  const seen = new Set<string>();
  return out.filter((v) => !seen.has(`${v.invariant}\n${v.detail}`) && seen.add(`${v.invariant}\n${v.detail}`));
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Committee size and threshold from the stored secure configuration; null when absent or unreadable. */
function secureSettings(text: string | null): { size: number; threshold: number } | null {
  if (text === null) return null;
  try {
    const committee = (JSON.parse(text) as { committee?: { size?: unknown; threshold?: unknown } }).committee;
    return Number.isInteger(committee?.size) && Number.isInteger(committee?.threshold) ? { size: committee!.size as number, threshold: committee!.threshold as number } : null;
  } catch {
    return null;
  }
}
