import assert from 'node:assert/strict';
import { it } from 'node:test';
import { scheduledLearningRate } from './learning-rate-schedule.js';

const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

it('constant, exponential and cosine schedules by training round', () => {
  assert.equal(scheduledLearningRate(0.5, { kind: 'constant' }, 9, 10), 0.5);
  close(scheduledLearningRate(1, { kind: 'exponential', decay: 0.9 }, 3, 10), 0.81);
  close(scheduledLearningRate(2, { kind: 'cosine', floor: 0.1 }, 1, 11), 2);
  close(scheduledLearningRate(2, { kind: 'cosine', floor: 0.1 }, 6, 11), 2 * (0.1 + 0.9 * 0.5));
  close(scheduledLearningRate(2, { kind: 'cosine', floor: 0.1 }, 11, 11), 0.2);
  // Past the planned rounds the rate stays at the end of the schedule.
  close(scheduledLearningRate(2, { kind: 'cosine', floor: 0.1 }, 30, 11), 0.2);
  assert.throws(() => scheduledLearningRate(1, { kind: 'constant' }, 0, 10), /training round >= 1/);
});
