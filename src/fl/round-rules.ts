/**
 * When a round stops collecting. A round closes as soon as its minimum number of owners have submitted;
 * at its deadline with fewer, it fails and publishes nothing — a model built from too few owners would
 * reveal too much about each of them.
 */

export interface RoundProgress {
  status: 'open' | 'closed' | 'failed';
  submissionCount: number;
  minOwners: number;
  deadline: Date;
}

export type RoundDecision = { action: 'wait' } | { action: 'aggregate' } | { action: 'fail'; reason: string };

export function decideRound(round: RoundProgress, now: Date): RoundDecision {
  if (round.status !== 'open') return { action: 'wait' };
  if (round.submissionCount >= round.minOwners) return { action: 'aggregate' };
  if (now.getTime() >= round.deadline.getTime()) {
    return {
      action: 'fail',
      reason: `deadline passed with ${round.submissionCount} of ${round.minOwners} required updates`,
    };
  }
  return { action: 'wait' };
}
