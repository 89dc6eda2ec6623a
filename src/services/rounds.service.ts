/**
 * Rounds as the API offers them: the operator opens and closes them, members read them (or wait for them
 * to change), and plain-mode owners submit their weights. Everything that moves a round — creating it,
 * accepting a contribution, settling it — is the round core's (round-core.ts); secure mode's shares,
 * inboxes and partial sums are secure-rounds.service.ts, on the same core.
 */
import type { Db } from '../db/client.js';
import type { FederationRecord } from '../db/federations.repository.js';
import { countRoundsByStatus, findLatestRound, findRound, hasUpdate, listRounds, momentsRows, updateRows, type RoundRecord, type RoundStatus } from '../db/rounds.repository.js';
import { ConflictError, DomainError, NotFoundError } from '../errors.js';
import { FedAvg } from '../fl/fedavg.strategy.js';
import { decideRound } from '../fl/round-rules.js';
import type { Strategy } from '../fl/strategy.js';
import { parameterCount } from '../ml/model-spec.js';
import { momentProblems } from '../ml/standardisation.js';
import { tallyProblems } from '../ml/federated-evaluation.js';
import { findModelVersion } from '../db/models.repository.js';
import { resolveVersion } from './models.service.js';
import type { OpenRoundBody, Round, SubmitEvaluationBody, SubmitStatisticsBody, SubmitUpdateBody } from '../schemas/rounds.schema.js';
import { requireOperator, requireOwner, requireReader } from './auth.service.js';
import { newId, type Principal } from './credentials.js';
import { layoutOf, type FederationsService } from './federations.service.js';
import { aggregationMode, RoundCore } from './round-core.js';
import { RoundViews, roundTag, type KnownParticipation } from './round-view.js';
import { RoundWatch } from './round-watch.js';
import type { ServiceMetrics } from './service-metrics.js';

export { roundTag };

const FLOAT32_MAX = 3.4028234663852886e38;

export interface RoundsServiceOptions {
  strategy?: Strategy;
  clock?: () => Date;
  /** Long-poll settings (GET …/rounds/current?waitSeconds=N): cross-instance poll period and waiter cap. */
  wait?: { pollMs: number; maxWaiters: number };
  /** Where accepted submissions and settlements are reported (the server's metrics); default nowhere. */
  metrics?: ServiceMetrics;
}

/** Longest a request may wait for a change; the schema enforces it, the service trusts it. */
export const MAX_WAIT_SECONDS = 60;

/** An update as the service takes it: the body of either wire form, weights as any array of numbers. */
export type PlainUpdate = Omit<SubmitUpdateBody, 'weights'> & { weights: ArrayLike<number> };

export class RoundsService {
  readonly core: RoundCore;
  readonly views: RoundViews;
  readonly clock: () => Date;
  readonly watch: RoundWatch;

  constructor(
    private readonly db: Db,
    private readonly federations: FederationsService,
    options: RoundsServiceOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.watch = new RoundWatch({
      pollMs: options.wait?.pollMs ?? 1000,
      maxWaiters: options.wait?.maxWaiters ?? 10_000,
      currentTag: async (federationId) => roundTag(await findLatestRound(this.db, federationId)),
    });
    this.core = new RoundCore(db, options.strategy ?? new FedAvg(), this.clock, (federationId) => this.watch.notify(federationId), options.metrics);
    this.views = new RoundViews(db);
  }

  async open(principal: Principal, federationId: string, body: OpenRoundBody): Promise<Round> {
    requireOperator(principal, 'openRound');
    const federation = await this.federations.load(federationId);
    const evaluate = body.kind === 'evaluation' ? await this.versionToEvaluate(federation, body.modelVersion ?? 'default') : undefined;
    if (body.kind !== 'evaluation' && body.modelVersion !== undefined) {
      throw new DomainError('validation-failed', 'Request validation failed', 422, 'openRound: modelVersion names the version an evaluation round scores; a training round always starts from the latest', [
        { path: 'body.modelVersion', message: 'only with kind "evaluation"' },
      ]);
    }
    const latest = await findLatestRound(this.db, federationId);
    if (latest && (latest.status === 'open' || latest.status === 'summing')) {
      throw new ConflictError('round-already-open', 'A round is already open', `openRound: round ${latest.number} is still ${latest.status}`);
    }
    const minOwners = body.minOwners ?? federation.trainingConfig.minOwners;
    if (federation.secureConfig && minOwners < 2) {
      throw new DomainError('validation-failed', 'Request validation failed', 422, 'openRound: secure aggregation needs at least 2 owners per round', [
        { path: 'body.minOwners', message: 'expected at least 2 in secure mode' },
      ]);
    }
    const round = await this.core.open(federation, {
      number: (latest?.number ?? 0) + 1,
      baseModelVersion: federation.latestModelVersion,
      minOwners,
      deadlineSeconds: body.deadlineSeconds ?? federation.trainingConfig.roundDeadlineSeconds,
      ...(evaluate !== undefined && { evaluate }),
    });
    return this.views.show(federation, round, principal);
  }

  /**
   * The version an evaluation round may score: one that exists, in a federation whose owners can encode
   * their rows (its statistics are in) and whose privacy promise it would not break.
   */
  private async versionToEvaluate(federation: FederationRecord, ref: number | 'default'): Promise<number> {
    if (federation.privacyConfig) {
      throw new ConflictError(
        'evaluation-not-private',
        'Federated evaluation is not differentially private',
        `openRound: federation ${federation.id} promises differential privacy, and an evaluation round releases exact per-class counts of the owners' rows, which its budget does not cover; evaluate on the operator's validation set (PUT …/validation) instead`,
      );
    }
    if (federation.standardisation === null) {
      throw new ConflictError('statistics-pending', 'The federation has no standardisation yet', `openRound: federation ${federation.id} has not computed its means and standard deviations yet, so owners cannot encode their rows; evaluate after the statistics round`);
    }
    const version = await resolveVersion(this.db, federation, ref);
    if (!(await findModelVersion(this.db, federation.id, version))) throw new NotFoundError('model-version', version);
    return version;
  }

  async get(principal: Principal, federationId: string, number: number): Promise<Round> {
    requireReader(principal, federationId, 'getRound');
    const federation = await this.federations.load(federationId);
    return this.views.show(federation, await this.find(federationId, number), principal);
  }

  /**
   * The most recent round. With `wait` and an `after` tag equal to the round's current tag, answers only
   * when the round moves on (opens, freezes, closes, fails, or a new one opens) or `wait.seconds` pass,
   * whichever is first; then it answers with the round as it stands, changed or not.
   */
  async current(principal: Principal, federationId: string, wait?: { seconds: number; after?: string | undefined }, signal?: AbortSignal): Promise<Round> {
    requireReader(principal, federationId, 'getCurrentRound');
    const federation = await this.federations.load(federationId);
    let round = await findLatestRound(this.db, federationId);
    const after = wait?.after;
    if (wait && wait.seconds > 0 && after !== undefined && roundTag(round) === after) {
      if (!this.watch.hasRoom()) {
        throw new DomainError('too-many-waiters', 'Too many waiting requests', 503, `getCurrentRound: this instance holds ${this.watch.waiting} waiting requests; retry shortly`, undefined, 2);
      }
      const giveUp = Date.now() + Math.min(wait.seconds, MAX_WAIT_SECONDS) * 1000;
      while (roundTag(round) === after && Date.now() < giveUp && !signal?.aborted && this.watch.hasRoom()) {
        await this.watch.wait(federationId, after, giveUp - Date.now(), signal);
        round = await findLatestRound(this.db, federationId);
      }
    }
    if (!round) throw new DomainError('no-rounds', 'No round has been opened', 404, `getCurrentRound: federation ${federationId} has no rounds yet`);
    return this.views.show(federation, round, principal);
  }

  async list(principal: Principal, federationId: string): Promise<Round[]> {
    requireReader(principal, federationId, 'listRounds');
    const federation = await this.federations.load(federationId);
    return Promise.all((await listRounds(this.db, federationId)).map((round) => this.views.show(federation, round, principal)));
  }

  /** Plain mode: one owner's new weights (a JSON array, or float32 from the binary form). */
  async submitUpdate(principal: Principal, federationId: string, number: number, body: PlainUpdate): Promise<Round> {
    const ownerId = requireOwner(principal, federationId, 'submitUpdate');
    const federation = await this.federations.load(federationId);
    requireMode(federation, 'plain', 'submitUpdate');
    const round = await this.find(federationId, number);
    assertKind(round, 'training', 'submitUpdate');
    assertCollecting(round, this.clock(), 'submitUpdate');
    const weights = checkWeights(body.weights, parameterCount(layoutOf(federation)));
    await this.core.assertMayContribute(round, ownerId, 'submitUpdate');
    if (await hasUpdate(this.db, round.id, ownerId)) throw duplicateSubmission(number);
    const accepted = await this.core.accept(federation, round, {
      kind: 'update',
      rows: updateRows({ id: newId(), roundId: round.id, ownerId, numSamples: body.numSamples, weights, metrics: body.metrics }),
      refuse: { closed: () => roundNotOpen('submitUpdate', number, 'closed'), duplicate: () => duplicateSubmission(number) },
    });
    return this.show(federation, accepted.round, principal, { submitted: true });
  }

  /**
   * Plain mode, statistics round: one owner's moments — per column its count of values, Σx′ and Σx′² of
   * the values clipped to the column's range and rescaled to [0, 1]. Moments no rows could give are
   * refused before anything is stored.
   */
  submitStatistics(principal: Principal, federationId: string, number: number, body: SubmitStatisticsBody): Promise<Round> {
    return this.submitSums(principal, federationId, number, 'statistics', 'submitStatistics', (round) => {
      const columns = round.config.statistics!.columns;
      const problems = momentProblems(columns, body.moments);
      if (problems.length > 0) {
        throw new DomainError(
          'implausible-statistics',
          'Statistics no rows could give',
          422,
          `submitStatistics: ${problems.length} problem(s) with the moments of ${columns.length} column(s) (${columns.join(', ')})`,
          problems.map((message) => ({ path: 'moments', message })),
        );
      }
      const values = Float64Array.from(body.moments);
      return { values, rows: Math.max(0, ...columns.map((_, j) => Math.round(values[3 * j]!))) };
    });
  }

  /**
   * Plain mode, evaluation round: one owner's tallies of the round's version scored on its rows. Tallies no
   * rows could give (wrong length, fractional or negative counts, a bin's score sum outside its edges) are
   * refused before anything is stored.
   */
  submitEvaluation(principal: Principal, federationId: string, number: number, body: SubmitEvaluationBody): Promise<Round> {
    return this.submitSums(principal, federationId, number, 'evaluation', 'submitEvaluation', (round) => {
      const { bins } = round.config.evaluation!;
      const problems = tallyProblems(body.tallies, bins);
      if (problems.length > 0) {
        throw new DomainError(
          'implausible-tallies',
          'Evaluation tallies no rows could give',
          422,
          `submitEvaluation: ${problems.length} problem(s) with the tallies over ${bins} bins`,
          problems.slice(0, 20).map((message) => ({ path: 'tallies', message })),
        );
      }
      const values = Float64Array.from(body.tallies);
      return { values, rows: Math.round(values.slice(0, 2 * bins).reduce((a, b) => a + b, 0) + values[3 * bins + 2]! + values[3 * bins + 3]!) };
    });
  }

  /**
   * The one way a plain owner's sums (a statistics round's moments, an evaluation round's tallies) enter a
   * round: the owner, mode, kind and collecting checks, then `read` checks the values (throwing a 422) and
   * says how many rows they cover, then the duplicate check and the round core's acceptance.
   */
  private async submitSums(
    principal: Principal,
    federationId: string,
    number: number,
    kind: 'statistics' | 'evaluation',
    action: string,
    read: (round: RoundRecord) => { values: Float64Array; rows: number },
  ): Promise<Round> {
    const ownerId = requireOwner(principal, federationId, action);
    const federation = await this.federations.load(federationId);
    requireMode(federation, 'plain', action);
    const round = await this.find(federationId, number);
    assertKind(round, kind, action);
    assertCollecting(round, this.clock(), action);
    const { values, rows } = read(round);
    if (await hasUpdate(this.db, round.id, ownerId)) throw duplicateSubmission(number);
    const accepted = await this.core.accept(federation, round, {
      kind: kind,
      rows: momentsRows({ id: newId(), roundId: round.id, ownerId, values, rows }),
      refuse: { closed: () => roundNotOpen(action, number, 'closed'), duplicate: () => duplicateSubmission(number) },
    });
    return this.show(federation, accepted.round, principal, { submitted: true });
  }

  /** The operator ends the current stage now: move on if enough is in, otherwise fail the round. */
  async close(principal: Principal, federationId: string, number: number): Promise<Round> {
    requireOperator(principal, 'closeRound');
    const federation = await this.federations.load(federationId);
    const round = await this.find(federationId, number);
    if (round.status !== 'open' && round.status !== 'summing') throw roundNotOpen('closeRound', number, round.status);
    let decision = decideRound(round, aggregationMode(federation), this.clock());
    if (decision.action === 'wait' && round.status === 'open' && round.submissionCount >= round.minOwners) {
      // Still waiting for more than the minimum (every owner of a statistics or DP round): what is in is enough.
      decision = { action: federation.secureConfig ? 'freeze' : 'aggregate' };
    }
    if (decision.action === 'wait') {
      decision =
        round.status === 'open'
          ? { action: 'fail', reason: `closed by the operator with ${round.submissionCount} of ${round.minOwners} required updates` }
          : {
              action: 'fail',
              reason: `closed by the operator with ${round.partialSumCount} of ${federation.secureConfig!.committee.threshold} required partial sums`,
            };
    }
    await this.core.apply(federation, round, decision);
    return this.views.show(federation, await this.find(federationId, number), principal);
  }

  async sweep(): Promise<number> {
    return this.core.sweep();
  }

  /**
   * Rounds of every federation by status, for the metrics scrape (which the route has already authorized):
   * counts only, no federation's data.
   */
  countByStatus(): Promise<Record<RoundStatus, number>> {
    return countRoundsByStatus(this.db);
  }

  /** The round after a contribution; `known` is what the caller just did, so it is not read back. */
  show(federation: FederationRecord, round: RoundRecord, principal: Principal, known: KnownParticipation = {}): Promise<Round> {
    return this.views.show(federation, round, principal, known);
  }

  /** Releases every waiting request; called when the server shuts down. */
  shutdown(): void {
    this.watch.close();
  }

  async find(federationId: string, number: number): Promise<RoundRecord> {
    const round = await findRound(this.db, federationId, number);
    if (!round) throw new NotFoundError('round', number);
    return round;
  }
}

export function requireMode(federation: FederationRecord, mode: 'plain' | 'secure', action: string): void {
  if (federation.aggregation !== mode) {
    throw new ConflictError(
      'wrong-aggregation-mode',
      'Not available in this aggregation mode',
      `${action}: federation ${federation.id} uses ${federation.aggregation} aggregation`,
    );
  }
}

export function assertCollecting(round: RoundRecord, now: Date, action: string): void {
  if (round.status !== 'open') throw roundNotOpen(action, round.number, round.status);
  if (now.getTime() >= round.deadline.getTime()) {
    throw new ConflictError('round-deadline-passed', 'The round deadline has passed', `${action}: round ${round.number} stopped collecting at ${round.deadline.toISOString()}`);
  }
}

/** Training rounds take weights, statistics rounds moments, evaluation rounds tallies: the owner's agent chose the wrong call. */
export function assertKind(round: RoundRecord, kind: RoundRecord['kind'], action: string): void {
  if (round.kind === kind) return;
  const instead = { statistics: 'submit its moments to …/statistics', evaluation: 'submit its tallies to …/evaluation', training: 'submit its weights to …/updates' }[round.kind];
  throw new ConflictError('wrong-round-kind', `Not a ${kind} round`, `${action}: round ${round.number} is a ${round.kind} round; ${instead} (secure mode: shares, as always)`);
}

/** Checks length and float32 range before anything is written; returns the float32 vector. */
function checkWeights(values: ArrayLike<number>, expected: number): Float32Array {
  if (values.length !== expected) {
    throw new DomainError('weights-shape-mismatch', 'Weights do not match the model', 422, `submitUpdate: expected ${expected} weights, got ${values.length}`, [
      { path: 'weights', message: `expected ${expected} values, got ${values.length}` },
    ]);
  }
  let bad = -1;
  for (let i = 0; i < values.length && bad === -1; i++) {
    const value = values[i]!;
    if (!Number.isFinite(value) || Math.abs(value) > FLOAT32_MAX) bad = i;
  }
  if (bad !== -1) {
    throw new DomainError('weights-not-finite', 'Weights must be finite float32 values', 422, `submitUpdate: weight ${bad} is not a finite float32`, [
      { path: `weights.${bad}`, message: 'expected a finite float32 value' },
    ]);
  }
  return Float32Array.from(values);
}

export function roundNotOpen(action: string, number: number, status: string): ConflictError {
  return new ConflictError('round-not-open', 'The round is not open', `${action}: round ${number} is ${status}`);
}

export function duplicateSubmission(number: number): ConflictError {
  return new ConflictError('duplicate-update', 'Update already submitted', `this owner already submitted for round ${number}`);
}

