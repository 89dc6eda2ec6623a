import assert from 'node:assert/strict';
import { it } from 'node:test';
import { rocAuc } from './metrics.js';
import { modelReport, REPORT_ROC_POINTS } from './model-report.js';
import { createRng } from './random.js';

it('counts, majority rate, confusion at 0.5 and histograms agree with the rows', () => {
  const report = modelReport([0.9, 0.6, 0.4, 0.1, 0.55], [1, 0, 1, 0, 1]);
  assert.equal(report.rows, 5);
  assert.equal(report.positives, 3);
  assert.equal(report.majorityRate, 0.6);
  assert.deepEqual(report.confusion, { truePositives: 2, falsePositives: 1, trueNegatives: 1, falseNegatives: 1 });
  assert.equal(report.accuracy, 0.6);
  assert.equal(report.scoreHistogram.positives.reduce((a, b) => a + b), 3);
  assert.equal(report.scoreHistogram.negatives[2], 1); // 0.1 falls in [0.10, 0.15)
  assert.equal(report.roc[0]!.threshold, null);
});

it('thins a long ROC curve to its limit, keeping both ends', () => {
  const rng = createRng(3);
  const probs = Array.from({ length: 5000 }, () => rng());
  const y = probs.map((p) => (rng() < p ? 1 : 0));
  const report = modelReport(probs, y);
  assert.equal(report.roc.length, REPORT_ROC_POINTS);
  assert.deepEqual([report.roc[0]!.fpr, report.roc[0]!.tpr], [0, 0]);
  assert.deepEqual([report.roc.at(-1)!.fpr, report.roc.at(-1)!.tpr], [1, 1]);
  assert.equal(report.auc, rocAuc(probs, y));
});

it('one class only: AUC and KS are NaN, the counts still hold', () => {
  const report = modelReport([0.2, 0.7], [0, 0]);
  assert.ok(Number.isNaN(report.auc) && Number.isNaN(report.ks));
  assert.equal(report.majorityRate, 1);
  assert.deepEqual(report.roc, []);
});
