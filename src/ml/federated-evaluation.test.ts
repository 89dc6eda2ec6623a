import assert from 'node:assert/strict';
import { it } from 'node:test';
import { EVALUATION_BINS, federatedReport, scoreTallies, tallyLength, tallyProblems } from './federated-evaluation.js';
import { modelReport, REPORT_ROC_POINTS } from './model-report.js';
import { createRng } from './random.js';

/** Scores as a model gives them (float32), labels correlated with them, split over many small owners. */
function scoredRows(seed: number, n: number): { probs: Float32Array; y: Uint8Array } {
  const rng = createRng(seed);
  const probs = Float32Array.from({ length: n }, () => rng());
  // A few scores on and right around the 0.5 edge, where a confusion count could slip.
  probs.set([0.5, Math.fround(0.5 - 2 ** -25), Math.fround(0.5 + 2 ** -24), 0, 1, 0.95, 0.05], 0);
  const y = Uint8Array.from(probs, (p) => (rng() < p ? 1 : 0));
  return { probs, y };
}

function sumOverOwners(probs: Float32Array, y: Uint8Array, owners: number): Float64Array {
  const sum = new Float64Array(tallyLength(EVALUATION_BINS));
  const size = Math.ceil(probs.length / owners);
  for (let start = 0; start < probs.length; start += size) {
    const tallies = scoreTallies(probs.subarray(start, start + size), y.subarray(start, start + size));
    assert.deepEqual(tallyProblems(tallies, EVALUATION_BINS), []);
    tallies.forEach((value, i) => (sum[i] = sum[i]! + value));
  }
  return sum;
}

it('the summed tallies of many owners give the central counts exactly and the AUC to histogram resolution', () => {
  const { probs, y } = scoredRows(11, 3000);
  const central = modelReport(probs, y);
  const sum = sumOverOwners(probs, y, 1000);
  assert.deepEqual(tallyProblems(sum, EVALUATION_BINS), []);
  const { report, aucResolution } = federatedReport(sum);

  assert.equal(report.rows, central.rows);
  assert.equal(report.positives, central.positives);
  assert.equal(report.majorityRate, central.majorityRate);
  assert.deepEqual(report.confusion, central.confusion);
  assert.equal(report.accuracy, central.accuracy);
  assert.deepEqual(report.scoreHistogram, central.scoreHistogram);
  assert.deepEqual(
    report.calibration.map((bin) => [bin.lower, bin.upper, bin.count, bin.observedRate]),
    central.calibration.map((bin) => [bin.lower, bin.upper, bin.count, bin.observedRate]),
  );
  report.calibration.forEach((bin, i) => assert.ok(Math.abs(bin.meanPredicted! - central.calibration[i]!.meanPredicted!) < 1e-12));
  assert.ok(Math.abs(report.logLoss - central.logLoss) < 1e-12, `log loss ${report.logLoss} vs ${central.logLoss}`);
  assert.ok(Math.abs(report.brier - central.brier) < 1e-12, `Brier ${report.brier} vs ${central.brier}`);

  assert.ok(aucResolution > 0 && aucResolution < 0.005, `resolution ${aucResolution}`);
  assert.ok(Math.abs(report.auc - central.auc) <= aucResolution, `AUC ${report.auc} vs ${central.auc} (± ${aucResolution})`);
  // KS at the bin edges is one of the central curve's gaps, so never above the central KS.
  assert.ok(report.ks <= central.ks + 1e-12 && report.ks > central.ks - 0.05, `KS ${report.ks} vs ${central.ks}`);
  assert.equal(report.roc.length, REPORT_ROC_POINTS, 'the 201 edge points thinned as the central curve is');
  assert.deepEqual(report.roc[0], { threshold: null, fpr: 0, tpr: 0 });
  assert.deepEqual(report.roc.at(-1), { threshold: 0, fpr: 1, tpr: 1 });
});

it('a diverged model: unscored rows count as predicted negative, the score metrics are undefined, as centrally', () => {
  const probs = [0.9, NaN, 0.2, NaN];
  const y = [1, 1, 0, 0];
  const central = modelReport(probs, y);
  const tallies = scoreTallies(probs, y);
  assert.deepEqual(tallyProblems(tallies, EVALUATION_BINS), []);
  const { report } = federatedReport(tallies);
  assert.deepEqual(report.confusion, central.confusion);
  assert.deepEqual(report.scoreHistogram, central.scoreHistogram);
  assert.deepEqual([report.rows, report.positives], [4, 2]);
  for (const metric of ['accuracy', 'auc', 'logLoss', 'brier', 'ks'] as const) {
    assert.ok(Number.isNaN(report[metric]) && Number.isNaN(central[metric]), metric);
  }
  assert.deepEqual(report.roc, []);
  assert.deepEqual(report.calibration, []);
});

it('one class only: the counts hold, AUC, KS and the resolution are undefined', () => {
  const { report, aucResolution } = federatedReport(scoreTallies([0.2, 0.7], [0, 0]));
  assert.deepEqual([report.rows, report.positives, report.majorityRate], [2, 0, 1]);
  assert.ok(Number.isNaN(report.auc) && Number.isNaN(report.ks) && Number.isNaN(aucResolution));
  assert.equal(report.accuracy, 0.5);
});

it('tallies no rows could give are refused, each with its reason', () => {
  const good = scoreTallies([0.12, 0.8, 0.81], [0, 1, 0]);
  assert.deepEqual(tallyProblems(good, EVALUATION_BINS), []);
  const bad = (edit: (values: Float64Array) => void) => {
    const values = Float64Array.from(good);
    edit(values);
    return tallyProblems(values, EVALUATION_BINS);
  };
  assert.match(bad((v) => (v[3] = -1))[0]!, /negatives in bin 3 is -1/);
  assert.match(bad((v) => (v[EVALUATION_BINS + 16] = 0.5))[0]!, /positives in bin 16 is 0.5, not a whole/);
  assert.match(bad((v) => (v[2 * EVALUATION_BINS + 24] = 0.5))[0]!, /score sum of bin 24 is 0.5/); // one score in [0.120, 0.125)
  assert.match(bad((v) => (v[2 * EVALUATION_BINS + 7] = 0.3))[0]!, /score sum of bin 7/); // an empty bin with a score
  assert.match(bad((v) => (v[3 * EVALUATION_BINS] = 1e6))[0]!, /log loss sum is 1000000/);
  assert.match(bad((v) => (v[3 * EVALUATION_BINS + 1] = -0.5))[0]!, /Brier sum is -0.5/);
  assert.match(bad((v) => (v[3 * EVALUATION_BINS + 2] = NaN))[0]!, /unscored negatives is not a finite number/);
  assert.match(tallyProblems([1, 2, 3], EVALUATION_BINS)[0]!, /expected 604 values \(200 bins\), got 3/);
  assert.deepEqual(tallyProblems(new Float64Array(tallyLength(EVALUATION_BINS)), EVALUATION_BINS), ['no rows were scored']);
  // A secure sum carries fixed-point rounding: within the tolerance it passes, beyond it it does not.
  assert.deepEqual(bad((v) => (v[1] = 2 ** -22)).length, 1);
  assert.deepEqual(tallyProblems(good.map((x, i) => (i === 1 ? x + 2 ** -22 : x)), EVALUATION_BINS, 2 ** -20), []);
});
