/**
 * Tests for the metrics against values worked out by hand (and matching scikit-learn's definitions),
 * including AUC with tied scores.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accuracy, logLoss, rocAuc } from './metrics.js';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('accuracy: threshold inclusive, custom threshold', () => {
  assert.equal(accuracy([0.9, 0.5, 0.2, 0.4], [1, 1, 0, 1]), 0.75);
  assert.equal(accuracy([0.9, 0.5, 0.2, 0.4], [1, 1, 0, 1], 0.3), 1);
  assert.ok(Number.isNaN(accuracy([], [])));
});

test('rocAuc: perfect, reversed and hand-computed rankings', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
  // Positives at 0.35 and 0.8, negatives at 0.1 and 0.4: 3 of 4 pairs ordered.
  assert.equal(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
});

test('rocAuc: ties count one half', () => {
  // Pairs (pos, neg): (0.5, 0.5) tie = 0.5, (0.5, 0.2) = 1, (0.7, 0.5) = 1, (0.7, 0.2) = 1 -> 3.5 / 4.
  assert.equal(rocAuc([0.5, 0.7, 0.5, 0.2], [1, 1, 0, 0]), 0.875);
  assert.equal(rocAuc([0.3, 0.3, 0.3], [1, 0, 0]), 0.5);
  assert.ok(Number.isNaN(rocAuc([0.2, 0.3], [1, 1])));
});

test('logLoss: mean cross-entropy with clipping', () => {
  close(logLoss([0.8, 0.3], [1, 0]), -(Math.log(0.8) + Math.log(0.7)) / 2);
  // Both clipped to 1e-7 from the wrong end (1 − (1 − 1e-7) is 1e-7 up to rounding).
  close(logLoss([0, 1], [1, 0]), -Math.log(1e-7), 1e-8);
  close(logLoss([1], [1]), -Math.log(1 - 1e-7));
});

test('metrics: reject mismatched lengths and non-binary labels', () => {
  assert.throws(() => accuracy([0.1], [1, 0]), /accuracy: expected as many labels as probabilities, got 2 for 1/);
  assert.throws(() => rocAuc([0.1, 0.2], [1, 2]), /rocAuc: labels expected 0 or 1, got 2 at index 1/);
});

test('metrics: a diverged model (non-finite probabilities) scores NaN', () => {
  for (const metric of [accuracy, rocAuc, logLoss]) {
    assert.ok(Number.isNaN(metric([0.2, Number.NaN], [0, 1])), metric.name);
    assert.ok(Number.isNaN(metric([Number.POSITIVE_INFINITY, 0.1], [1, 0])), metric.name);
  }
});

test('brierScore, rocCurve and ksStatistic by hand', async () => {
  const { brierScore, rocCurve, ksStatistic, calibrationCurve } = await import('./metrics.js');
  close(brierScore([0.9, 0.2], [1, 0]), (0.01 + 0.04) / 2);
  // Scores 0.9(+) 0.8(−) 0.7(+) 0.1(−): thresholds from +∞ down.
  const curve = rocCurve([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]);
  assert.deepEqual(curve.map((p) => [p.fpr, p.tpr]), [[0, 0], [0, 0.5], [0.5, 0.5], [0.5, 1], [1, 1]]);
  assert.equal(ksStatistic([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 0]), 0.5);
  // Tied scores make one point.
  assert.equal(rocCurve([0.5, 0.5, 0.5], [1, 0, 1]).length, 2);
  assert.deepEqual(rocCurve([0.5, 0.6], [1, 1]), []);
  const bins = calibrationCurve([0.05, 0.15, 0.12, 1], [0, 1, 0, 1], 10);
  assert.equal(bins.length, 10);
  assert.deepEqual([bins[1]!.count, bins[1]!.observedRate], [2, 0.5]);
  close(bins[1]!.meanPredicted!, 0.135);
  assert.equal(bins[9]!.count, 1);
  assert.equal(bins[5]!.meanPredicted, null);
});
