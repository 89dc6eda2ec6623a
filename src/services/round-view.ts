/**
 * A round as the API shows it: its state and tag, the published version once closed, the secure stage's
 * committee and progress, and — for an owner asking — that owner's own part in it (`participation`), which
 * is what an agent restarted after a crash resumes from.
 */
import type { Db } from '../db/client.js';
import { findFederation, type FederationRecord } from '../db/federations.repository.js';
import { findModelVersionByRound } from '../db/models.repository.js';
import { hasPartialSum, hasShares, hasUpdate, listCommitteeSeats, type CommitteeSeatRecord, type RoundRecord } from '../db/rounds.repository.js';
import { isSampled } from '../crypto/dp/sampling.js';
import type { Round } from '../schemas/rounds.schema.js';
import type { Principal } from './credentials.js';
import { roundEncoding, secureLengthOf } from './round-core.js';

/**
 * What a waiting agent compares: the round's number and status, or `none` before the first round. While a
 * secure round's committee is publishing its keys, each key changes the tag too: owners wait for the last.
 */
export function roundTag(round: Pick<RoundRecord, 'number' | 'status' | 'keyedCount'> | null): string {
  if (!round) return 'none';
  return round.keyedCount > 0 && round.status === 'open' ? `${round.number}:${round.status}:${round.keyedCount}` : `${round.number}:${round.status}`;
}

const base64 = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString('base64'));

/** What a caller already knows about an owner's part in a round, and the round's seats, so an answer need not read them again. */
export interface KnownParticipation {
  submitted?: boolean;
  partialSumSubmitted?: boolean;
  seats?: CommitteeSeatRecord[];
}

export class RoundViews {
  constructor(private readonly db: Db) {}

  async show(federation: FederationRecord, round: RoundRecord, principal?: Principal, known: KnownParticipation = {}): Promise<Round> {
    const secure = federation.secureConfig;
    const seats = secure ? (known.seats ?? (await listCommitteeSeats(this.db, round.id))) : [];
    const modelVersion = round.status === 'closed' ? await findModelVersionByRound(this.db, round.federationId, round.number) : null;
    // Read afresh: the round's own publication may have stopped training after `federation` was loaded.
    const stop = modelVersion === null ? null : ((await findFederation(this.db, round.federationId))?.trainingStop ?? null);
    return {
      number: round.number,
      kind: round.kind,
      trainingRound: round.trainingIndex,
      statistics: round.config.statistics ?? null,
      evaluation: round.config.evaluation ? { ...round.config.evaluation, result: round.evaluationReport && { round: round.number, ...round.evaluationReport } } : null,
      status: round.status,
      tag: roundTag(round),
      baseModelVersion: round.baseModelVersion,
      modelVersion,
      endsTraining: stop !== null && stop.atVersion === modelVersion,
      minOwners: round.minOwners,
      submissionCount: round.submissionCount,
      deadline: round.deadline.toISOString(),
      openedAt: round.openedAt.toISOString(),
      closedAt: round.closedAt?.toISOString() ?? null,
      failureReason: round.failureReason,
      aggregation: federation.aggregation,
      secure: secure && {
        threshold: secure.committee.threshold,
        clipNorm: secure.clipNorm,
        vectorLength: secureLengthOf(federation, round),
        policy: federation.charter?.secure?.policy.kind ?? 'lottery',
        field: roundEncoding(federation, round).name,
        weightCap: round.config.weightCap ?? null,
        committee: seats.map((seat) => ({
          position: seat.position,
          ownerId: seat.ownerId,
          identityKey: base64(seat.identityKey),
          publicKey: base64(seat.roundKey),
          signature: base64(seat.signature),
        })),
        keyed: seats.length > 0 && seats.every((seat) => seat.roundKey !== null),
        includedSetHash: round.includedSetHash,
        includedCount: round.includedCount,
        summingDeadline: round.summingDeadline?.toISOString() ?? null,
        partialSumCount: round.partialSumCount,
      },
      privacy: round.config.dp ?? null,
      sampling: round.config.sampling ?? null,
      learningRate: round.config.learningRate ?? null,
      participation:
        principal?.kind === 'owner' && principal.federationId === round.federationId ? await this.participation(federation, round, principal.ownerId, seats, known) : null,
    };
  }

  private async participation(federation: FederationRecord, round: RoundRecord, ownerId: string, seats: CommitteeSeatRecord[], known: KnownParticipation) {
    const seat = seats.find((s) => s.ownerId === ownerId);
    // At most one query per answer in the common case: thousands of agents ask at once when a round moves on.
    const submitted = known.submitted ?? (federation.secureConfig ? await hasShares(this.db, round.id, ownerId) : await hasUpdate(this.db, round.id, ownerId));
    const sampling = round.config.sampling;
    return {
      sampled: sampling ? isSampled(sampling.seed, ownerId, sampling.rate) : true,
      submitted,
      committeePosition: seat?.position ?? null,
      partialSumSubmitted: seat ? (known.partialSumSubmitted ?? (await hasPartialSum(this.db, round.id, ownerId))) : false,
    };
  }
}
