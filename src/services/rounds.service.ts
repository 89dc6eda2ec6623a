/**
 * Plain federated rounds: the operator opens a round, each owner submits one update, and the round closes
 * exactly once — when its minimum number of owners have submitted, or failing at its deadline. Closing,
 * aggregating and publishing the next model version happen in one transaction guarded by a conditional
 * update of the round row, so concurrent requests and several instances publish exactly one version.
 */
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/client.js';
import type { DbClient } from '../db/db-client.js';
import { advanceLatestModelVersion, findFederation, type FederationRecord } from '../db/federations.repository.js';
import { findModelVersionByRound, findModelWeights, insertModelVersion } from '../db/models.repository.js';
import {
  countSubmission,
  findLatestRound,
  findRound,
  finishRound,
  hasUpdate,
  insertRound,
  insertUpdate,
  listOpenRounds,
  listRounds,
  listUpdates,
  type RoundRecord,
} from '../db/rounds.repository.js';
import { ConflictError, DomainError, NotFoundError } from '../errors.js';
import { FedAvg } from '../fl/fedavg.strategy.js';
import { decideRound, type RoundDecision } from '../fl/round-rules.js';
import type { Strategy } from '../fl/strategy.js';
import { parameterCount } from '../ml/model-spec.js';
import type { Round, SubmitUpdateBody } from '../schemas/rounds.schema.js';
import { requireMember, requireOperator, requireOwner } from './auth.service.js';
import { newId, type Principal } from './credentials.js';
import { layoutOf, type FederationsService } from './federations.service.js';

const FLOAT32_MAX = 3.4028234663852886e38;
/** Aggregating tens of thousands of updates can outlast Prisma's 5 s default. */
const SETTLE_TIMEOUT_MS = 120_000;

export interface RoundsServiceOptions {
  strategy?: Strategy;
  clock?: () => Date;
  onError?: (error: unknown) => void;
}

export class RoundsService {
  private readonly strategy: Strategy;
  private readonly clock: () => Date;

  constructor(
    private readonly db: Db,
    private readonly federations: FederationsService,
    options: RoundsServiceOptions = {},
  ) {
    this.strategy = options.strategy ?? new FedAvg();
    this.clock = options.clock ?? (() => new Date());
  }

  async open(principal: Principal, federationId: string, body: { minOwners?: number; deadlineSeconds?: number }): Promise<Round> {
    requireOperator(principal, 'openRound');
    const federation = await this.federations.load(federationId);
    const latest = await findLatestRound(this.db, federationId);
    if (latest?.status === 'open') {
      throw new ConflictError('round-already-open', 'A round is already open', `openRound: round ${latest.number} is still open`);
    }
    try {
      const round = await insertRound(this.db, {
        id: newId(),
        federationId,
        number: (latest?.number ?? 0) + 1,
        baseModelVersion: federation.latestModelVersion,
        minOwners: body.minOwners ?? federation.trainingConfig.minOwners,
        deadline: this.deadlineFrom(body.deadlineSeconds ?? federation.trainingConfig.roundDeadlineSeconds),
      });
      return this.toDto(round);
    } catch (error) {
      // Another request opened the same round number first.
      if (isUniqueViolation(error)) {
        throw new ConflictError('round-already-open', 'A round is already open', 'openRound: another round was opened concurrently');
      }
      throw error;
    }
  }

  async get(principal: Principal, federationId: string, number: number): Promise<Round> {
    requireMember(principal, federationId, 'getRound');
    return this.toDto(await this.load(federationId, number));
  }

  async current(principal: Principal, federationId: string): Promise<Round> {
    requireMember(principal, federationId, 'getCurrentRound');
    await this.federations.load(federationId);
    const round = await findLatestRound(this.db, federationId);
    if (!round) throw new DomainError('no-rounds', 'No round has been opened', 404, `getCurrentRound: federation ${federationId} has no rounds yet`);
    return this.toDto(round);
  }

  async list(principal: Principal, federationId: string): Promise<Round[]> {
    requireMember(principal, federationId, 'listRounds');
    await this.federations.load(federationId);
    return Promise.all((await listRounds(this.db, federationId)).map((round) => this.toDto(round)));
  }

  async submitUpdate(principal: Principal, federationId: string, number: number, body: SubmitUpdateBody): Promise<Round> {
    const ownerId = requireOwner(principal, federationId, 'submitUpdate');
    const federation = await this.federations.load(federationId);
    const round = await this.findIn(federationId, number);
    assertAcceptsUpdates(round, this.clock());
    const weights = checkWeights(body.weights, parameterCount(layoutOf(federation)));
    if (await hasUpdate(this.db, round.id, ownerId)) throw duplicateUpdate(number);
    let counted: RoundRecord;
    try {
      counted = await this.db.$transaction(async (tx) => {
        if (!(await countSubmission(tx, round.id))) throw roundNotOpen('submitUpdate', number, 'closed');
        await insertUpdate(tx, { id: newId(), roundId: round.id, ownerId, numSamples: body.numSamples, weights, metrics: body.metrics });
        return (await findRound(tx, federationId, number))!;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateUpdate(number);
      throw error;
    }
    const decision = decideRound(counted, this.clock());
    if (decision.action === 'wait') return this.toDto(counted);
    await this.settle(counted, decision);
    return this.toDto(await this.findIn(federationId, number));
  }

  /** The operator ends collection now: aggregate if enough updates are in, otherwise fail the round. */
  async close(principal: Principal, federationId: string, number: number): Promise<Round> {
    requireOperator(principal, 'closeRound');
    const round = await this.load(federationId, number);
    if (round.status !== 'open') throw roundNotOpen('closeRound', number, round.status);
    const decision: RoundDecision =
      round.submissionCount >= round.minOwners
        ? { action: 'aggregate' }
        : { action: 'fail', reason: `closed by the operator with ${round.submissionCount} of ${round.minOwners} required updates` };
    await this.settle(round, decision);
    return this.toDto(await this.load(federationId, number));
  }

  /** Settles every open round that is due; each instance runs this periodically. */
  async sweep(): Promise<number> {
    let settled = 0;
    const now = this.clock();
    for (const round of await listOpenRounds(this.db)) {
      const decision = decideRound(round, now);
      if (decision.action !== 'wait' && (await this.settle(round, decision))) settled++;
    }
    return settled;
  }

  /** Applies a decision; returns false when another request or instance got there first. */
  private async settle(round: RoundRecord, decision: RoundDecision): Promise<boolean> {
    if (decision.action === 'wait') return false;
    const now = this.clock();
    if (decision.action === 'fail') {
      return finishRound(this.db, round.id, { status: 'failed', reason: decision.reason }, now);
    }
    return this.db.$transaction(
      async (tx) => {
        if (!(await finishRound(tx, round.id, { status: 'closed' }, now))) return false;
        const federation = await findFederation(tx, round.federationId);
        if (!federation) throw new Error(`settle: federation ${round.federationId} vanished`);
        await this.publish(tx, federation, round, now);
        return true;
      },
      { timeout: SETTLE_TIMEOUT_MS, maxWait: SETTLE_TIMEOUT_MS },
    );
  }

  private async publish(tx: DbClient, federation: FederationRecord, round: RoundRecord, now: Date): Promise<void> {
    const current = await findModelWeights(tx, federation.id, round.baseModelVersion);
    if (!current) throw new Error(`publish: base model version ${round.baseModelVersion} is missing`);
    const result = this.strategy.aggregate(current, await listUpdates(tx, round.id));
    if (!result) throw new Error(`publish: strategy ${this.strategy.name} produced no model for round ${round.number}`);
    const version = federation.latestModelVersion + 1;
    if (!(await advanceLatestModelVersion(tx, federation.id, federation.latestModelVersion, version))) {
      throw new Error(`publish: model version ${version} of federation ${federation.id} was published concurrently`);
    }
    await insertModelVersion(tx, {
      id: newId(),
      federationId: federation.id,
      version,
      roundNumber: round.number,
      weights: result.weights,
      metrics: result.metrics,
    });
    if (federation.trainingConfig.autoAdvance && round.number < federation.trainingConfig.rounds) {
      await insertRound(tx, {
        id: newId(),
        federationId: federation.id,
        number: round.number + 1,
        baseModelVersion: version,
        minOwners: round.minOwners,
        deadline: new Date(now.getTime() + federation.trainingConfig.roundDeadlineSeconds * 1000),
      });
    }
  }

  private async load(federationId: string, number: number): Promise<RoundRecord> {
    await this.federations.load(federationId);
    return this.findIn(federationId, number);
  }

  /** For callers that have already loaded the federation. */
  private async findIn(federationId: string, number: number): Promise<RoundRecord> {
    const round = await findRound(this.db, federationId, number);
    if (!round) throw new NotFoundError('round', number);
    return round;
  }

  private deadlineFrom(seconds: number): Date {
    return new Date(this.clock().getTime() + seconds * 1000);
  }

  private async toDto(round: RoundRecord): Promise<Round> {
    return {
      number: round.number,
      status: round.status,
      baseModelVersion: round.baseModelVersion,
      modelVersion: round.status === 'closed' ? await findModelVersionByRound(this.db, round.federationId, round.number) : null,
      minOwners: round.minOwners,
      submissionCount: round.submissionCount,
      deadline: round.deadline.toISOString(),
      openedAt: round.openedAt.toISOString(),
      closedAt: round.closedAt?.toISOString() ?? null,
      failureReason: round.failureReason,
    };
  }
}

function assertAcceptsUpdates(round: RoundRecord, now: Date): void {
  if (round.status !== 'open') throw roundNotOpen('submitUpdate', round.number, round.status);
  if (now.getTime() >= round.deadline.getTime()) {
    throw new ConflictError('round-deadline-passed', 'The round deadline has passed', `submitUpdate: round ${round.number} stopped collecting at ${round.deadline.toISOString()}`);
  }
}

/** Checks length and float32 range before anything is written; returns the float32 vector. */
function checkWeights(values: number[], expected: number): Float32Array {
  if (values.length !== expected) {
    throw new DomainError('weights-shape-mismatch', 'Weights do not match the model', 422, `submitUpdate: expected ${expected} weights, got ${values.length}`, [
      { path: 'weights', message: `expected ${expected} values, got ${values.length}` },
    ]);
  }
  const bad = values.findIndex((value) => !Number.isFinite(value) || Math.abs(value) > FLOAT32_MAX);
  if (bad !== -1) {
    throw new DomainError('weights-not-finite', 'Weights must be finite float32 values', 422, `submitUpdate: weight ${bad} is not a finite float32`, [
      { path: `weights.${bad}`, message: 'expected a finite float32 value' },
    ]);
  }
  return Float32Array.from(values);
}

function roundNotOpen(action: string, number: number, status: string): ConflictError {
  return new ConflictError('round-not-open', 'The round is not open', `${action}: round ${number} is ${status}`);
}

function duplicateUpdate(number: number): ConflictError {
  return new ConflictError('duplicate-update', 'Update already submitted', `submitUpdate: this owner already submitted an update for round ${number}`);
}
