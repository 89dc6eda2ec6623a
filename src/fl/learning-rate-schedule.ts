/**
 * Client learning-rate schedules: the local learning rate owners use in a training round, fixed in the
 * round's configuration when it opens so every owner of the round trains with the same one.
 *
 *   constant     η
 *   exponential  η·γ^(r−1)
 *   cosine       η·(f + (1 − f)·(1 + cos(π·(r−1)/(R−1)))/2), from η in round 1 down to f·η in round R
 *
 * r is the training round (1, 2, …) and R the rounds the federation plans; rounds past R stay at the end.
 */

export type LearningRateSchedule = { kind: 'constant' } | { kind: 'exponential'; decay: number } | { kind: 'cosine'; floor: number };

export function scheduledLearningRate(base: number, schedule: LearningRateSchedule, trainingRound: number, plannedRounds: number): number {
  if (!(Number.isFinite(base) && base > 0)) throw new Error(`scheduledLearningRate: expected a positive learning rate, got ${base}`);
  if (!(Number.isSafeInteger(trainingRound) && trainingRound >= 1)) throw new Error(`scheduledLearningRate: expected a training round >= 1, got ${trainingRound}`);
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'exponential':
      return base * schedule.decay ** (trainingRound - 1);
    case 'cosine': {
      const progress = plannedRounds <= 1 ? 1 : Math.min(1, (trainingRound - 1) / (plannedRounds - 1));
      return base * (schedule.floor + ((1 - schedule.floor) * (1 + Math.cos(Math.PI * progress))) / 2);
    }
  }
}
