/**
 * The one core every round runs on: open → collecting → [summing] → closed | failed. A round is created in
 * one place (with its committee in secure mode), every owner's contribution — an update, a set of shares,
 * a committee member's partial sum — comes in through one acceptance path, and every transition goes out
 * through one settlement path. Modes and kinds of round plug in around it: the strategy aggregates
 * (Flower's shape: a DP wrapper can sit around it), and secure aggregation is a stage in front of the
 * strategy, so it only ever sees a sum.
 *
 * Exactly once: every transition starts with a conditional update of the round row (`WHERE status = …`)
 * inside a transaction, so when several requests or instances decide the same round is due, one wins and
 * the others see zero rows and stand back. That update also takes the row's lock before any contribution
 * is read, so nothing accepted is left out, and a failure for want of contributions checks the count as
 * well, so a decision made from a read that has gone stale cannot fail a round that has what it needs.
 * Publishing writes the next model version in the same transaction as the transition: a round is never
 * closed without its model, nor twice.
 */
import { chainReveal, drawCommittee } from '../crypto/committee-lottery.js';
import { isSampled } from '../crypto/dp/sampling.js';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/client.js';
import type { DbClient } from '../db/db-client.js';
import { advanceLatestModelVersion, findFederation, setStandardisation, type FederationRecord } from '../db/federations.repository.js';
import { finiteJson, findModelWeights, findOptimizerState, insertModelVersion } from '../db/models.repository.js';
import { findOwner, listCommitteeCandidates } from '../db/owners.repository.js';
import {
  countDataOwners,
  countContributions,
  countTrainingRounds,
  failShortRound,
  finishRound,
  findRound,
  insertCommitteeSeats,
  insertRound,
  listDataOwnerIds,
  listMoments,
  listOpenRounds,
  listPartialSums,
  listShareSenders,
  listUpdates,
  lockRound,
  recordIncludedSet,
  setCommitteeDraw,
  setEvaluationReport,
  startSumming,
  acceptContributionsNow,
  insertContributionRows,
  type AcceptedContributions,
  type ContributionRow,
  type RoundRecord,
} from '../db/rounds.repository.js';
import { ConflictError } from '../errors.js';
import { scheduledLearningRate } from '../fl/learning-rate-schedule.js';
import { decideRound, type AggregationMode, type RoundDecision } from '../fl/round-rules.js';
import { applyServerOptimizer } from '../fl/server-optimizer.js';
import { includedSetHash, reconstructSum } from '../fl/secure-aggregation.js';
import type { AggregateResult, RoundConfig, Strategy } from '../fl/strategy.js';
import { federatedStatisticsColumns } from '../ml/dataset-schema.js';
import { EVALUATION_BINS, federatedReport, tallyLength, tallyProblems } from '../ml/federated-evaluation.js';
import { parameterCount } from '../ml/model-spec.js';
import { applyFederatedStatistics, momentProblems, momentsLength } from '../ml/standardisation.js';
import { encodingOfCharter, FIXED_POINT_BITS, maxAbsSum, WIDE_ENCODING, type FixedPointEncoding } from '../crypto/fixed-point.js';
import { secureVectorLength, weightCapFor } from '../crypto/secure-update.js';
import { newId } from './credentials.js';
import { GroupCommit, type Outcome } from './group-commit.js';
import { layoutOf, serverOptimizerOf } from './federations.service.js';
import { applySelection, loadValidationRows, scoreVersion } from './model-quality.js';
import { chargeRound, mayContribute, spent, strategyFor, strategyOfRound } from './privacy.js';
import { noServiceMetrics, secondsSince, type ServiceMetrics, type SubmissionKind } from './service-metrics.js';

/** Contributions written by one transaction at most; bounds how long the round row's lock is held. */
const MAX_GROUP_COMMIT = 256;

/** What an owner or committee member hands in, and how to refuse it. */
export interface Contribution {
  kind: SubmissionKind;
  /** The rows it stores; a unique index refuses a second contribution from the same party. */
  rows: ContributionRow[];
  refuse: { closed: () => Error; duplicate: () => Error };
}

export interface Accepted {
  /** The round after this contribution (and any settlement it made due). */
  round: RoundRecord;
  settled: boolean;
}

interface Pending {
  federation: FederationRecord;
  round: RoundRecord;
  contribution: Contribution;
}

/** Thrown inside a batch's transaction to undo it: the round no longer takes this kind of contribution. */
class RoundNotCollecting extends Error {}

/** Aggregating tens of thousands of updates can outlast Prisma's 5 s transaction default. */
const SETTLE_TIMEOUT_MS = 120_000;

export function aggregationMode(federation: FederationRecord): AggregationMode {
  return federation.secureConfig
    ? { aggregation: 'secure', threshold: federation.secureConfig.committee.threshold }
    : { aggregation: 'plain' };
}

/**
 * Values one owner contributes to this round: the model's parameters in a training round, three moments
 * per column in a statistics round (fixed when it opened, so it stays right after the schema gains its
 * statistics), its score tallies in an evaluation round. Secure mode shares these plus one weight coordinate.
 */
export function contributionLength(federation: FederationRecord, round: Pick<RoundRecord, 'config'>): number {
  const { statistics, evaluation } = round.config;
  if (statistics) return momentsLength(statistics.columns);
  if (evaluation) return tallyLength(evaluation.bins);
  return parameterCount(layoutOf(federation));
}

export function secureLengthOf(federation: FederationRecord, round: Pick<RoundRecord, 'config'>): number {
  return secureVectorLength(contributionLength(federation, round));
}

/**
 * The field and lattice step a secure round's vectors are in: the charter's for a training round, the
 * wide field for statistics and evaluation rounds (their counts may exceed the compact field's headroom).
 */
export function roundEncoding(federation: FederationRecord, round: Pick<RoundRecord, 'kind'>): FixedPointEncoding {
  const terms = federation.charter?.secure;
  if (!terms || round.kind !== 'training') return WIDE_ENCODING;
  const encoding = encodingOfCharter(terms.fieldPrime, terms.fixedPointBits);
  if (!encoding) throw new Error(`roundEncoding: federation ${federation.id}'s charter names a field this server does not know (fixedPointBits ${terms.fixedPointBits})`);
  return encoding;
}

/** Why a secure round's committee could not be seated. */
export interface CommitteeShortfall {
  shortfall: string;
}

export interface RoundOpening {
  number: number;
  baseModelVersion: number;
  minOwners: number;
  deadlineSeconds: number;
  /** Open an evaluation round of this model version instead of a training round. */
  evaluate?: number;
}

export class RoundCore {
  constructor(
    private readonly db: Db,
    private readonly strategy: Strategy,
    readonly clock: () => Date,
    /** Told after every transition this instance committed (waiting requests re-check). */
    private readonly onTransition: (federationId: string) => void = () => {},
    private readonly metrics: ServiceMetrics = noServiceMetrics,
  ) {}

  private readonly commits = new GroupCommit<Pending, Accepted>((batch) => this.acceptBatch(batch), MAX_GROUP_COMMIT, (size) => this.metrics.groupCommitted(size));

  // ── Opening ────────────────────────────────────────────────────────────────────────────────────

  /**
   * Creates the round inside the caller's transaction: the strategy configures it (differential privacy,
   * sampling), a DP round is charged to the budget, and a secure round seats its committee. Returns why
   * not when a secure round cannot seat a committee (the caller decides what that means).
   */
  async create(tx: DbClient, federation: FederationRecord, opening: RoundOpening): Promise<RoundRecord | CommitteeShortfall> {
    if (opening.evaluate !== undefined) return this.createEvaluationRound(tx, federation, opening, opening.evaluate);
    if (federation.standardisation === null) return this.createStatisticsRound(tx, federation, opening);
    const owners = await countDataOwners(tx, federation.id);
    const config = strategyFor(federation, this.strategy).configure({
      owners,
      minOwners: opening.minOwners,
      aggregation: federation.aggregation,
      parameters: parameterCount(layoutOf(federation)),
    });
    const trainingIndex = (await countTrainingRounds(tx, federation.id)) + 1;
    const training = federation.trainingConfig;
    config.learningRate = scheduledLearningRate(training.learningRate, training.learningRateSchedule ?? { kind: 'constant' }, trainingIndex, training.rounds);
    const secure = federation.secureConfig;
    const encoding = roundEncoding(federation, { kind: 'training' });
    if (secure && encoding !== WIDE_ENCODING) {
      // The compact field's sums must fit: cap each owner's sample weight for the cohort enrolled now.
      const cap = weightCapFor(encoding, owners, secure.clipNorm);
      if (cap < 1) {
        throw new ConflictError(
          'field-headroom-exceeded',
          'The round’s sum would not fit the compact field',
          `openRound: ${owners} owners at clipNorm ${secure.clipNorm} could sum beyond the compact field's headroom (owners × max(clipNorm, 1) must stay within ${Math.floor(maxAbsSum(encoding))}) even at a sample weight of 1; lower clipNorm (PUT …/secure, before the federation's first round) or use a federation with the wide field`,
        );
      }
      config.weightCap = cap;
    }
    const targetOwners = config.dp ? await this.expectedContributors(tx, federation, config) : null;
    let minOwners = opening.minOwners;
    if (config.dp && federation.secureConfig && targetOwners !== null) {
      // Distributed noise: every owner adds enough for the smallest sum the round may close with.
      minOwners = Math.max(minOwners, Math.ceil((1 - federation.privacyConfig!.dropoutTolerance) * targetOwners));
      config.dp.noiseStdPerOwner = config.dp.noiseStd / Math.sqrt(minOwners);
    }
    const round = await insertRound(tx, {
      id: newId(),
      federationId: federation.id,
      number: opening.number,
      kind: 'training',
      trainingIndex,
      config,
      targetOwners,
      baseModelVersion: opening.baseModelVersion,
      minOwners,
      deadline: new Date(this.clock().getTime() + opening.deadlineSeconds * 1000),
    });
    if (config.dp && targetOwners !== null && targetOwners < minOwners) {
      // Too few owners were sampled to ever reach the minimum: nothing can be learnt, nothing is charged.
      await finishRound(tx, round.id, 'open', { status: 'failed', reason: `sampled ${targetOwners} owner(s), fewer than the ${minOwners} required` }, this.clock());
      return round;
    }
    if (config.dp) {
      await chargeRound(tx, federation, { round: round.number, openedAt: round.openedAt.toISOString(), sampleRate: config.dp.sampleRate, noiseMultiplier: config.dp.noiseMultiplier }, owners);
    }
    return federation.secureConfig ? ((await this.seatCommittee(tx, federation, round)) ?? round) : round;
  }

  /**
   * Federated standardisation (DESIGN protocol 4): while some numeric column has no mean and std, the next
   * round is a statistics round. Every owner enrolled is expected (it closes early once all are in), no
   * budget is charged — its inputs are clipped sums, not noised — and it publishes no model.
   */
  private async createStatisticsRound(tx: DbClient, federation: FederationRecord, opening: RoundOpening): Promise<RoundRecord | CommitteeShortfall> {
    const round = await insertRound(tx, {
      id: newId(),
      federationId: federation.id,
      number: opening.number,
      kind: 'statistics',
      trainingIndex: null,
      config: { statistics: { columns: federatedStatisticsColumns(federation.datasetSchema).map((column) => column.name) } },
      targetOwners: await countDataOwners(tx, federation.id),
      baseModelVersion: opening.baseModelVersion,
      minOwners: opening.minOwners,
      deadline: new Date(this.clock().getTime() + opening.deadlineSeconds * 1000),
    });
    return federation.secureConfig ? ((await this.seatCommittee(tx, federation, round)) ?? round) : round;
  }

  /**
   * Federated evaluation: every owner enrolled scores `modelVersion` on its rows (it closes early once all
   * are in) and contributes tallies; nothing is published but the report. Its base model is the version
   * evaluated, so owners fetch it as they fetch a training round's.
   */
  private async createEvaluationRound(tx: DbClient, federation: FederationRecord, opening: RoundOpening, modelVersion: number): Promise<RoundRecord | CommitteeShortfall> {
    const afterTraining = federation.trainingStop !== null || (await countTrainingRounds(tx, federation.id)) >= federation.trainingConfig.rounds;
    const round = await insertRound(tx, {
      id: newId(),
      federationId: federation.id,
      number: opening.number,
      kind: 'evaluation',
      trainingIndex: null,
      config: { evaluation: { modelVersion, bins: EVALUATION_BINS, afterTraining } },
      targetOwners: await countDataOwners(tx, federation.id),
      baseModelVersion: modelVersion,
      minOwners: opening.minOwners,
      deadline: new Date(this.clock().getTime() + opening.deadlineSeconds * 1000),
    });
    return federation.secureConfig ? ((await this.seatCommittee(tx, federation, round)) ?? round) : round;
  }

  /** Owners a DP round expects: every data owner, or those its Poisson seed samples. */
  private async expectedContributors(tx: DbClient, federation: FederationRecord, config: RoundConfig): Promise<number> {
    const ids = await listDataOwnerIds(tx, federation.id);
    const sampling = config.sampling;
    return sampling ? ids.filter((id) => isSampled(sampling.seed, id, sampling.rate)).length : ids.length;
  }

  /**
   * Whether an owner may contribute to a round: in a DP round only the cohort fixed at opening — owners
   * enrolled by then, and sampled if the round samples. Refusals are 409s the owner can act on.
   */
  async assertMayContribute(round: RoundRecord, ownerId: string, action: string): Promise<void> {
    // A compact-field round's weight cap is sized for the owners enrolled when it opened: they are its cohort too.
    if (!round.config.dp && round.config.weightCap === undefined) return;
    const owner = await findOwner(this.db, ownerId);
    if (!owner || !mayContribute(owner.createdAt, round.openedAt)) {
      throw new ConflictError('not-in-cohort', 'Not in this round’s cohort', `${action}: round ${round.number} was opened before this owner enrolled; take part from the next round`);
    }
    const sampling = round.config.sampling;
    if (sampling && !isSampled(sampling.seed, ownerId, sampling.rate)) {
      throw new ConflictError('not-sampled', 'Not sampled for this round', `${action}: this owner was not sampled for round ${round.number} (rate ${sampling.rate}; the round's seed decides)`);
    }
  }

  /** The operator's open: one transaction; a lost race for the round number is a 409, as is a missing committee. */
  async open(federation: FederationRecord, opening: RoundOpening): Promise<RoundRecord> {
    try {
      const round = await this.db.$transaction(async (tx) => {
        const created = await this.create(tx, federation, opening);
        if ('shortfall' in created) throw new ConflictError('committee-unavailable', 'No committee can be seated', `openRound: ${created.shortfall}`);
        return created;
      });
      this.onTransition(federation.id);
      return round;
    } catch (error) {
      // Another request opened the same round number first.
      if (isUniqueViolation(error)) throw new ConflictError('round-already-open', 'A round is already open', 'openRound: another round was opened concurrently');
      throw error;
    }
  }

  /**
   * Seats a secure round's committee by the charter's policy, so the server cannot pick it: `named` seats
   * the charter's aggregator nodes in the charter's order; `lottery` reveals this round's value of the hash
   * chain the charter commits to and seats the volunteers it draws, storing the draw's inputs so every
   * owner can recompute it. Returns why not, seating no one, when the committee cannot be filled.
   */
  private async seatCommittee(tx: DbClient, federation: FederationRecord, round: RoundRecord): Promise<CommitteeShortfall | null> {
    const secure = federation.secureConfig!;
    const candidates = await listCommitteeCandidates(tx, federation.id);
    const policy = federation.charter?.secure?.policy;
    if (policy?.kind === 'named') {
      const nodes = new Map(candidates.filter((c) => c.role === 'aggregator').map((c) => [Buffer.from(c.identityKey).toString('base64'), c]));
      const missing = policy.aggregators.filter((node) => !nodes.has(node.identityKey)).map((node) => node.name);
      if (missing.length > 0) {
        return { shortfall: `the charter's aggregator node(s) ${missing.join(', ')} have not enrolled with their identity key yet; every named node is seated in every round` };
      }
      const seats = policy.aggregators.map((node, i) => ({ position: i + 1, ownerId: nodes.get(node.identityKey)!.id, identityKey: nodes.get(node.identityKey)!.identityKey }));
      await insertCommitteeSeats(tx, round.id, seats, newId);
      return null;
    }
    if (policy?.kind !== 'lottery' || federation.lotterySeed === null) {
      return { shortfall: `federation ${federation.id} has no charter (it predates them); create it again` };
    }
    if (round.number > policy.chainLength) {
      return { shortfall: `the committee lottery's chain covers ${policy.chainLength} rounds and this would be round ${round.number}; continue in a new federation` };
    }
    const { size } = secure.committee;
    if (candidates.length < size) {
      return { shortfall: `secure aggregation needs ${size} committee members with registered identities; ${candidates.length} volunteered` };
    }
    const reveal = chainReveal(federation.lotterySeed, policy.chainLength, round.number);
    const volunteers = candidates.map((c) => ({ ownerId: c.id, identityKey: c.identityKey }));
    const drawn = drawCommittee(reveal, volunteers, size);
    await insertCommitteeSeats(tx, round.id, drawn.map((v, i) => ({ position: i + 1, ownerId: v.ownerId, identityKey: v.identityKey })), newId);
    await setCommitteeDraw(tx, round.id, {
      reveal: Buffer.from(reveal).toString('hex'),
      volunteers: volunteers.map((v) => ({ ownerId: v.ownerId, identityKey: Buffer.from(v.identityKey).toString('base64') })),
    });
    return null;
  }

  // ── Accepting ──────────────────────────────────────────────────────────────────────────────────

  /**
   * The one way a contribution enters a round. Its rows go in first, then the round row's conditional
   * count (status still at this stage) in the same transaction. The count takes the row's lock, which a
   * transition takes too before it reads any contribution, so a contribution lands wholly before a
   * concurrent transition (and counts) or wholly after it (and is refused with `closed()`, its rows
   * undone); nothing accepted is ever left out. Counting last holds that lock — which every contribution
   * to the round queues for — only from the count to the commit. A second contribution from the same
   * party hits a unique index and is refused with `duplicate()`. Then the round settles if it is due. A
   * partial sum counts while the round is summing; every other kind while it is collecting (open).
   *
   * Contributions to one round that arrive together share a transaction (src/services/group-commit.ts);
   * each caller is answered after that transaction commits.
   */
  accept(federation: FederationRecord, round: RoundRecord, contribution: Contribution): Promise<Accepted> {
    const stage = contribution.kind === 'partial-sum' ? 'summing' : 'open';
    return this.commits.submit(`${round.id}/${stage}`, { federation, round, contribution });
  }

  /** One batch of contributions to one round and stage: one transaction, one settlement check. */
  private async acceptBatch(batch: Pending[]): Promise<Outcome<Accepted>[]> {
    const { federation, round } = batch[0]!;
    const stage = batch[0]!.contribution.kind === 'partial-sum' ? 'summing' : 'open';
    const now = await acceptContributionsNow(this.db, round, stage, batch.map(({ contribution }) => contribution.rows));
    if (now) return this.afterAcceptance(batch, now);
    let counted: RoundRecord;
    try {
      counted = await this.db.$transaction(async (tx) => {
        for (const { contribution } of batch) await insertContributionRows(tx, contribution.rows);
        const counted = await countContributions(tx, round.id, stage, batch.length);
        if (!counted) throw new RoundNotCollecting();
        return counted;
      });
    } catch (error) {
      if (error instanceof RoundNotCollecting) return batch.map(({ contribution }) => ({ ok: false, error: contribution.refuse.closed() }));
      // One item of a batch failing (a duplicate, say) undoes the whole batch: each is written alone instead.
      if (batch.length > 1) {
        const outcomes: Outcome<Accepted>[] = [];
        for (const pending of batch) outcomes.push(...(await this.acceptBatch([pending])));
        return outcomes;
      }
      return [{ ok: false, error: isUniqueViolation(error) ? batch[0]!.contribution.refuse.duplicate() : error }];
    }
    return this.afterAcceptance(batch, { closed: false, duplicate: batch.map(() => false), round: counted });
  }

  /** Answers each item of a written batch, after settling the round if the batch made it due. */
  private async afterAcceptance(batch: Pending[], written: AcceptedContributions): Promise<Outcome<Accepted>[]> {
    if (written.closed) return batch.map(({ contribution }) => ({ ok: false, error: contribution.refuse.closed() }));
    const { federation, round } = batch[0]!;
    batch.forEach(({ contribution }, i) => {
      if (!written.duplicate[i]) this.metrics.submissionAccepted(contribution.kind);
    });
    const settled = await this.settleIfDue(federation, written.round);
    const after = settled ? (await findRound(this.db, round.federationId, round.number))! : written.round;
    return batch.map(({ contribution }, i) =>
      written.duplicate[i] ? { ok: false, error: contribution.refuse.duplicate() } : { ok: true, value: { round: after, settled } },
    );
  }

  // ── Settling ───────────────────────────────────────────────────────────────────────────────────

  /** Applies whatever is due for this round now; true when this call made a transition. */
  async settleIfDue(federation: FederationRecord, round: RoundRecord): Promise<boolean> {
    return this.apply(federation, round, decideRound(round, aggregationMode(federation), this.clock()));
  }

  /** The one settlement path: every transition of every round goes through here. */
  async apply(federation: FederationRecord, round: RoundRecord, decision: RoundDecision): Promise<boolean> {
    const started = performance.now();
    const moved = await this.transition(federation, round, decision);
    if (!moved) return false;
    if (decision.action === 'aggregate' || decision.action === 'reconstruct') {
      this.metrics.roundSettled({ aggregation: federation.aggregation, kind: round.kind }, secondsSince(started));
    }
    this.onTransition(federation.id);
    return true;
  }

  /** Settles every open or summing round that is due; each instance runs this periodically. */
  async sweep(): Promise<number> {
    let settled = 0;
    const federations = new Map<string, FederationRecord | null>();
    for (const round of await listOpenRounds(this.db)) {
      if (!federations.has(round.federationId)) federations.set(round.federationId, await findFederation(this.db, round.federationId));
      const federation = federations.get(round.federationId);
      if (federation && (await this.settleIfDue(federation, round))) settled++;
    }
    return settled;
  }

  private async transition(federation: FederationRecord, round: RoundRecord, decision: RoundDecision): Promise<boolean> {
    const now = this.clock();
    switch (decision.action) {
      case 'wait':
        return false;
      case 'fail':
        // Every failure decided here is a shortfall (at a deadline, or closed by the operator): it holds
        // only while the round is still short of what it needs, whatever has been committed since `round` was read.
        return round.status === 'summing'
          ? failShortRound(this.db, round.id, 'summing', federation.secureConfig!.committee.threshold, decision.reason, now)
          : failShortRound(this.db, round.id, 'open', round.minOwners, decision.reason, now);
      case 'freeze':
        return this.freeze(federation, round, now);
      case 'aggregate':
        if (round.config.statistics || round.config.evaluation) {
          return this.transaction(async (tx) => {
            // Whether it closes or fails depends on the sum: hold the round before reading what is in it.
            if (!(await lockRound(tx, round.id, 'open'))) return false;
            const vectors = await listMoments(tx, round.id);
            return this.settleSum(tx, federation, round, 'open', { values: sumVectors(vectors, contributionLength(federation, round)), owners: vectors.length }, now);
          });
        }
        return this.transaction(async (tx) => {
          if (!(await finishRound(tx, round.id, 'open', { status: 'closed' }, now))) return false;
          const base = await this.baseWeights(tx, federation, round);
          const result = strategyOfRound(round.config, this.strategy).aggregate(base, await listUpdates(tx, round.id), round.config);
          await this.publish(tx, round, base, result, now);
          return true;
        });
      case 'reconstruct':
        return this.transaction(async (tx) => {
          const threshold = federation.secureConfig!.committee.threshold;
          if (round.config.statistics || round.config.evaluation) {
            if (!(await lockRound(tx, round.id, 'summing'))) return false;
            const sum = reconstructSum(contributionLength(federation, round), await listPartialSums(tx, round.id), threshold, round.includedCount ?? 0);
            return this.settleSum(tx, federation, round, 'summing', { values: sum.delta, owners: sum.owners }, now);
          }
          if (!(await finishRound(tx, round.id, 'summing', { status: 'closed' }, now))) return false;
          const base = await this.baseWeights(tx, federation, round);
          const sum = reconstructSum(base.length, await listPartialSums(tx, round.id), threshold, round.includedCount ?? 0, roundEncoding(federation, round));
          await this.publish(tx, round, base, strategyOfRound(round.config, this.strategy).aggregateSum(base, sum, round.config), now);
          return true;
        });
    }
  }

  /** A round whose owners contribute sums rather than weights (statistics, evaluation) ends. */
  private settleSum(tx: DbClient, federation: FederationRecord, round: RoundRecord, from: 'open' | 'summing', sum: { values: Float64Array; owners: number }, now: Date): Promise<boolean> {
    return round.config.evaluation ? this.settleEvaluation(tx, round, from, sum, now) : this.settleStatistics(tx, federation, round, from, sum.values, now);
  }

  /**
   * An evaluation round ends: the report derived from the owners' summed tallies is stored with the round,
   * or — if the sum is impossible (an owner sent tallies no rows could give) — the round fails and
   * nothing is stored. Nothing else changes: no version, no promotion, no next round.
   */
  private async settleEvaluation(tx: DbClient, round: RoundRecord, from: 'open' | 'summing', sum: { values: Float64Array; owners: number }, now: Date): Promise<boolean> {
    const { modelVersion, bins } = round.config.evaluation!;
    // Secure sums carry each owner's fixed-point rounding (at most half a unit per value).
    const problems = tallyProblems(sum.values, bins, from === 'summing' ? sum.owners * 2 ** -FIXED_POINT_BITS : 0);
    if (problems.length > 0) {
      return finishRound(tx, round.id, from, { status: 'failed', reason: `the summed evaluation tallies are impossible (${problems[0]}); an owner sent tallies that no rows could give` }, now);
    }
    if (!(await finishRound(tx, round.id, from, { status: 'closed' }, now))) return false;
    const { report, aucResolution } = federatedReport(sum.values, bins);
    await setEvaluationReport(tx, round.id, finiteJson({ modelVersion, owners: sum.owners, aucResolution, report }));
    return true;
  }

  /**
   * A statistics round ends: the summed moments become the federation's means and standard deviations,
   * stored with its schema in the same transaction as the round's closing — or, if the sum is impossible
   * (an owner sent moments no rows could have), the round fails and nothing is stored. Then, with
   * auto-advance, training round 1 opens from the initial model.
   */
  private async settleStatistics(tx: DbClient, federation: FederationRecord, round: RoundRecord, from: 'open' | 'summing', sums: Float64Array, now: Date): Promise<boolean> {
    const columns = round.config.statistics!.columns;
    // Secure sums carry each owner's fixed-point rounding (at most half a unit per value).
    const problems = momentProblems(columns, sums, 2 ** -FIXED_POINT_BITS);
    if (problems.length > 0) {
      return finishRound(tx, round.id, from, { status: 'failed', reason: `the summed statistics are impossible (${problems[0]}); an owner sent moments that no rows could give` }, now);
    }
    if (!(await finishRound(tx, round.id, from, { status: 'closed' }, now))) return false;
    const current = await findFederation(tx, federation.id);
    if (!current) throw new Error(`settleStatistics: federation ${federation.id} vanished`);
    const { schema, standardisation } = applyFederatedStatistics(current.datasetSchema, columns, sums, round.number);
    await setStandardisation(tx, federation.id, schema, standardisation);
    const training = current.trainingConfig;
    if (training.autoAdvance) {
      const updated = { ...current, datasetSchema: schema, standardisation };
      await this.createOrFail(tx, updated, { number: round.number + 1, baseModelVersion: current.latestModelVersion, minOwners: training.minOwners, deadlineSeconds: training.roundDeadlineSeconds }, now);
    }
    return true;
  }

  /** open → summing: the included set is exactly the owners whose shares are in when the status flips. */
  private async freeze(federation: FederationRecord, round: RoundRecord, now: Date): Promise<boolean> {
    const deadline = new Date(now.getTime() + federation.secureConfig!.summingDeadlineSeconds * 1000);
    return this.transaction(async (tx) => {
      if (!(await startSumming(tx, round.id, deadline))) return false;
      const senders = await listShareSenders(tx, round.id);
      await recordIncludedSet(tx, round.id, includedSetHash(senders), senders.length);
      return true;
    });
  }

  private async baseWeights(tx: DbClient, federation: FederationRecord, round: RoundRecord): Promise<Float32Array> {
    const base = await findModelWeights(tx, federation.id, round.baseModelVersion);
    if (!base) throw new Error(`settle: base model version ${round.baseModelVersion} is missing`);
    return base;
  }

  /**
   * Publishes the round's model: the server optimiser steps from the base model towards the strategy's
   * average (its state travels with the version), the version is scored on the validation set if there
   * is one, selection promotes and may stop training early — all in the caller's transaction.
   */
  private async publish(tx: DbClient, round: RoundRecord, base: Float32Array, result: AggregateResult, now: Date): Promise<void> {
    // Re-read inside the transaction: latestModelVersion is the publication counter, the ledger what was spent.
    const federation = await findFederation(tx, round.federationId);
    if (!federation) throw new Error(`publish: federation ${round.federationId} vanished`);
    const version = federation.latestModelVersion + 1;
    if (!(await advanceLatestModelVersion(tx, federation.id, federation.latestModelVersion, version))) {
      throw new Error(`publish: model version ${version} of federation ${federation.id} was published concurrently`);
    }
    const previous = await findOptimizerState(tx, federation.id, round.baseModelVersion);
    const step = applyServerOptimizer(serverOptimizerOf(federation), base, result.weights, previous);
    const validationRows = await loadValidationRows(tx, federation);
    const privacy = spent(federation);
    await insertModelVersion(tx, {
      id: newId(),
      federationId: federation.id,
      version,
      roundNumber: round.number,
      weights: step.weights,
      metrics: result.metrics,
      epsilon: privacy?.epsilon ?? null,
      delta: privacy?.delta ?? null,
      optimizerState: step.state.m === null ? null : step.state,
      validation: validationRows ? scoreVersion(federation, step.weights, validationRows) : null,
    });
    const stop = validationRows ? await applySelection(tx, federation) : null;
    const training = federation.trainingConfig;
    if (stop === null && federation.trainingStop === null && training.autoAdvance && round.trainingIndex! < training.rounds) {
      // A DP round's minimum may have been raised for its noise; the next one starts from the setting again.
      const minOwners = round.config.dp ? training.minOwners : round.minOwners;
      await this.createOrFail(tx, federation, { number: round.number + 1, baseModelVersion: version, minOwners, deadlineSeconds: training.roundDeadlineSeconds }, now);
    }
  }

  /**
   * Auto-advance: the next round, or — when it cannot run (too few committee volunteers, the privacy
   * budget spent) — nothing that blocks this round's publication: a committee shortage leaves a failed
   * round the operator can retry later, an exhausted budget simply ends the training.
   */
  private async createOrFail(tx: DbClient, federation: FederationRecord, opening: RoundOpening, now: Date): Promise<void> {
    let next: RoundRecord | CommitteeShortfall;
    try {
      next = await this.create(tx, federation, opening);
    } catch (error) {
      if (error instanceof ConflictError && error.slug === 'privacy-budget-exhausted') return;
      throw error;
    }
    if ('shortfall' in next) {
      const created = (await findRound(tx, federation.id, opening.number))!;
      await finishRound(tx, created.id, 'open', { status: 'failed', reason: `no committee could be seated when the round opened: ${next.shortfall}` }, now);
    }
  }

  private transaction<T>(work: (tx: DbClient) => Promise<T>): Promise<T> {
    return this.db.$transaction(work, { timeout: SETTLE_TIMEOUT_MS, maxWait: SETTLE_TIMEOUT_MS });
  }
}

/** Σ of the owners' moment vectors (plain statistics rounds), in a fixed order so the result repeats. */
function sumVectors(vectors: Float64Array[], length: number): Float64Array {
  const sum = new Float64Array(length);
  for (const vector of vectors) {
    if (vector.length !== length) throw new Error(`sumVectors: expected ${length} values, got ${vector.length}`);
    for (let i = 0; i < length; i++) sum[i] = sum[i]! + vector[i]!;
  }
  return sum;
}
