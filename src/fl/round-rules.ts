/**
 * When a round moves on. Plain mode: a round closes as soon as its minimum number of owners have
 * submitted. Secure mode puts a stage in front of aggregation: at min owners the included set is frozen and
 * the committee starts summing; as soon as t partial sums are in, the server reconstructs the sum. At a
 * deadline with too little, the round fails and publishes nothing — a model built from too few owners
 * would reveal too much about each of them, and fewer than t partial sums reveal nothing at all.
 */

export interface RoundProgress {
  status: 'open' | 'summing' | 'closed' | 'failed';
  submissionCount: number;
  minOwners: number;
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
    if (round.submissionCount >= round.minOwners) return { action: mode.aggregation === 'plain' ? 'aggregate' : 'freeze' };
    if (past(round.deadline)) {
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
