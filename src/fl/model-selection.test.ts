import assert from 'node:assert/strict';
import { it } from 'node:test';
import { bestVersion, improves, isEligible, shouldStop, type ScoredVersion } from './model-selection.js';

const scored = (version: number, logLoss: number, accuracy = 0.8, majorityRate = 0.7): ScoredVersion => ({
  version,
  accuracy,
  majorityRate,
  metrics: { auc: 1 - logLoss, logLoss, accuracy, brier: logLoss / 2, ks: 0.5 },
});

it('a version below the majority-class rate is never eligible, whatever its other scores', () => {
  assert.equal(isEligible(0.7, 0.7), true);
  assert.equal(isEligible(0.69, 0.7), false);
  assert.equal(isEligible(NaN, 0.7), false);
  // The best log loss belongs to version 2, but its accuracy is below the majority rate.
  assert.equal(bestVersion([scored(1, 0.6), scored(2, 0.4, 0.65), scored(3, 0.5)], 'logLoss'), 3);
  assert.equal(bestVersion([scored(1, 0.6, 0.5)], 'logLoss'), null);
});

it('direction per metric; ties keep the earliest; NaN never improves', () => {
  assert.equal(improves('logLoss', 0.4, 0.5), true);
  assert.equal(improves('auc', 0.4, 0.5), false);
  assert.equal(improves('auc', NaN, 0.5), false);
  assert.equal(improves('auc', 0.5, NaN), true);
  assert.equal(bestVersion([scored(2, 0.5), scored(1, 0.5)], 'logLoss'), 1);
  assert.equal(bestVersion([scored(1, 0.5), scored(2, 0.4)], 'auc'), 2); // auc = 1 − logLoss here
});

it('early stopping after `patience` scored versions without improvement; version 0 does not count', () => {
  const selection = { rule: 'best' as const, metric: 'logLoss' as const, patience: 2 };
  const history = [scored(0, 0.3), scored(1, 0.6), scored(2, 0.5), scored(3, 0.55)];
  assert.equal(shouldStop(history, selection), false);
  assert.equal(shouldStop([...history, scored(4, 0.51)], selection), true);
  assert.equal(shouldStop([...history, scored(4, 0.49)], selection), false);
  assert.equal(shouldStop([...history, scored(4, 0.51)], { ...selection, patience: null }), false);
});
