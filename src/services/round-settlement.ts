/**
 * Moving rounds on, exactly once. Every transition starts with a conditional update of the round row
 * (`WHERE status = …`) inside a transaction, so when several requests or instances decide the same round
 * is due, one wins and the others see zero rows and stand back. Publishing writes the next model version
 * in the same transaction as the transition: a round is never closed without its model, nor twice.
 */
import type { Db } from '../db/client.js';
import type { DbClient } from '../db/db-client.js';
import { advanceLatestModelVersion, findFederation, type FederationRecord } from '../db/federations.repository.js';
import { findModelWeights, insertModelVersion } from '../db/models.repository.js';
import { listCommitteeCandidates } from '../db/owners.repository.js';
import {
  finishRound,
  insertCommitteeSeats,
  insertRound,
  listOpenRounds,
  listPartialSums,
  listShareSenders,
  listUpdates,
  recordIncludedSet,
  startSumming,
  type RoundRecord,
} from '../db/rounds.repository.js';
import { decideRound, type AggregationMode, type RoundDecision } from '../fl/round-rules.js';
import { includedSetHash, reconstructAggregate } from '../fl/secure-aggregation.js';
import type { AggregateResult, Strategy } from '../fl/strategy.js';
import { newId } from './credentials.js';
import { randomInt } from 'node:crypto';

/** Aggregating tens of thousands of updates can outlast Prisma's 5 s transaction default. */
const SETTLE_TIMEOUT_MS = 120_000;

export function aggregationMode(federation: FederationRecord): AggregationMode {
  return federation.secureConfig
    ? { aggregation: 'secure', threshold: federation.secureConfig.committee.threshold }
    : { aggregation: 'plain' };
}

export class RoundSettlement {
  constructor(
    private readonly db: Db,
    private readonly strategy: Strategy,
    private readonly clock: () => Date,
    /** Told after every transition this instance committed (waiting requests re-check). */
    private readonly onTransition: (federationId: string) => void = () => {},
  ) {}

  /** Applies whatever is due for this round now; true when this call made a transition. */
  async settleIfDue(federation: FederationRecord, round: RoundRecord): Promise<boolean> {
    return this.apply(federation, round, decideRound(round, aggregationMode(federation), this.clock()));
  }

  async apply(federation: FederationRecord, round: RoundRecord, decision: RoundDecision): Promise<boolean> {
    const moved = await this.transition(federation, round, decision);
    if (moved) this.onTransition(federation.id);
    return moved;
  }

  private async transition(federation: FederationRecord, round: RoundRecord, decision: RoundDecision): Promise<boolean> {
    const now = this.clock();
    switch (decision.action) {
      case 'wait':
        return false;
      case 'fail':
        return finishRound(this.db, round.id, round.status === 'summing' ? 'summing' : 'open', { status: 'failed', reason: decision.reason }, now);
      case 'freeze':
        return this.freeze(federation, round, now);
      case 'aggregate':
        return this.transaction(async (tx) => {
          if (!(await finishRound(tx, round.id, 'open', { status: 'closed' }, now))) return false;
          const base = await this.baseWeights(tx, federation, round);
          const result = this.strategy.aggregate(base, await listUpdates(tx, round.id));
          await this.publish(tx, round, result, now);
          return true;
        });
      case 'reconstruct':
        return this.transaction(async (tx) => {
          if (!(await finishRound(tx, round.id, 'summing', { status: 'closed' }, now))) return false;
          const base = await this.baseWeights(tx, federation, round);
          const partials = await listPartialSums(tx, round.id);
          const sum = reconstructAggregate(base, partials, federation.secureConfig!.committee.threshold);
          const result = this.strategy.aggregate(base, [sum]);
          // Only the included-set size is known about the owners; their losses stayed with them.
          await this.publish(tx, round, result && { ...result, metrics: { ...result.metrics, owners: round.includedCount ?? 0 } }, now);
          return true;
        });
    }
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

  /**
   * Picks a secure round's committee at random from the volunteers (owners with a registered key who
   * offered, and aggregator nodes), so no one can choose to sit on a particular round's committee.
   * Returns false, seating no one, when there are too few volunteers.
   */
  async seatCommittee(tx: DbClient, federation: FederationRecord, roundId: string): Promise<boolean> {
    const { size } = federation.secureConfig!.committee;
    const candidates = await listCommitteeCandidates(tx, federation.id);
    if (candidates.length < size) return false;
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
    }
    const seats = candidates.slice(0, size).map((candidate, i) => ({ position: i + 1, ownerId: candidate.id, publicKey: candidate.publicKey }));
    await insertCommitteeSeats(tx, roundId, seats, newId);
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

  private async publish(tx: DbClient, round: RoundRecord, result: AggregateResult | undefined, now: Date): Promise<void> {
    if (!result) throw new Error(`publish: strategy ${this.strategy.name} produced no model for round ${round.number}`);
    // Re-read inside the transaction: latestModelVersion is the publication counter.
    const federation = await findFederation(tx, round.federationId);
    if (!federation) throw new Error(`publish: federation ${round.federationId} vanished`);
    const version = federation.latestModelVersion + 1;
    if (!(await advanceLatestModelVersion(tx, federation.id, federation.latestModelVersion, version))) {
      throw new Error(`publish: model version ${version} of federation ${federation.id} was published concurrently`);
    }
    await insertModelVersion(tx, { id: newId(), federationId: federation.id, version, roundNumber: round.number, weights: result.weights, metrics: result.metrics });
    const training = federation.trainingConfig;
    if (training.autoAdvance && round.number < training.rounds) {
      const next = await insertRound(tx, {
        id: newId(),
        federationId: federation.id,
        number: round.number + 1,
        baseModelVersion: version,
        minOwners: round.minOwners,
        deadline: new Date(now.getTime() + training.roundDeadlineSeconds * 1000),
      });
      // Without enough volunteers the next round is failed at once (the operator can open it again
      // later) rather than blocking this round's publication.
      if (federation.secureConfig && !(await this.seatCommittee(tx, federation, next.id))) {
        await finishRound(tx, next.id, 'open', { status: 'failed', reason: 'too few committee volunteers when the round opened' }, now);
      }
    }
  }

  private transaction<T>(work: (tx: DbClient) => Promise<T>): Promise<T> {
    return this.db.$transaction(work, { timeout: SETTLE_TIMEOUT_MS, maxWait: SETTLE_TIMEOUT_MS });
  }
}
