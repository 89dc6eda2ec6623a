/**
 * When a round moves on. Plain mode: a round closes as soon as its target of owners have submitted —
 * its minimum, or in a differentially private round every owner expected to take part — and at its
 * deadline with at least the minimum. Secure mode puts a stage in front of aggregation: at min owners the included set is frozen and
 * the committee starts summing; as soon as t partial sums are in, the server reconstructs the sum. At a
 * deadline with too little, the round fails and publishes nothing — a model built from too few owners
 * would reveal too much about each of them, and fewer than t partial sums reveal nothing at all.
 */

export interface RoundProgress {
  status: 'open' | 'summing' | 'closed' | 'failed';
  submissionCount: number;
  minOwners: number;
  /** Close as soon as this many are in (null: minOwners); at the deadline, minOwners is enough. */
  targetOwners: number | null;
  deadline: Date;
  partialSumCount: number;
  summingDeadline: Date | null;
}

export type AggregationMode = { aggregation: 'plain' } | { aggregation: 'secure'; threshold: number };

export type RoundDecision =
  | { action: 'wait' }
  /** plain: FedAvg the updates and publish */
  | { action: 'aggregate' }
  /** secure: freeze the included set and start summing */
  | { action: 'freeze' }
  /** secure: reconstruct the sum from t partial sums and publish */
  | { action: 'reconstruct' }
  | { action: 'fail'; reason: string };

export function decideRound(round: RoundProgress, mode: AggregationMode, now: Date): RoundDecision {
  const past = (deadline: Date | null) => deadline !== null && now.getTime() >= deadline.getTime();
  if (round.status === 'open') {
    const move = { action: mode.aggregation === 'plain' ? 'aggregate' : 'freeze' } as const;
    const target = Math.max(round.minOwners, round.targetOwners ?? round.minOwners);
    if (round.submissionCount >= target) return move;
    if (past(round.deadline)) {
      if (round.submissionCount >= round.minOwners) return move;
      return { action: 'fail', reason: `deadline passed with ${round.submissionCount} of ${round.minOwners} required updates` };
    }
    return { action: 'wait' };
  }
  if (round.status === 'summing' && mode.aggregation === 'secure') {
    if (round.partialSumCount >= mode.threshold) return { action: 'reconstruct' };
    if (past(round.summingDeadline)) {
      return {
        action: 'fail',
        reason: `summing deadline passed with ${round.partialSumCount} of ${mode.threshold} required partial sums`,
      };
    }
  }
  return { action: 'wait' };
}
