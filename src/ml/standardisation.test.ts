import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DatasetSchema, RawRecord } from './dataset-schema.js';
import { computeNumericStats } from './preprocess.js';
import { applyFederatedStatistics, momentProblems, operatorStandardisation, ownerMoments } from './standardisation.js';

const schema: DatasetSchema = {
  columns: [
    { name: 'age', type: 'numeric', range: [18, 100] },
    { name: 'income', type: 'numeric', range: [0, 1000] },
    { name: 'fixed', type: 'numeric', mean: 5, std: 2 },
    { name: 'flag', type: 'binary', values: ['n', 'y'] },
    { name: 'label', type: 'binary', values: ['0', '1'] },
  ],
  label: { column: 'label', positive: '1' },
  missingToken: '?',
  delimiter: ',',
  header: false,
};
const columns = ['age', 'income'];

/** Rows spread over three owners, with a missing value and numbers given as text, as files give them. */
const owners: RawRecord[][] = [
  [
    { age: '23', income: '120.5', fixed: '1', flag: 'n', label: '0' },
    { age: 41, income: '?', fixed: '2', flag: 'y', label: '1' },
  ],
  [{ age: '35.5', income: 800, fixed: '3', flag: 'y', label: '1' }],
  [
    { age: '67', income: '0', fixed: '4', flag: 'n', label: '0' },
    { age: ' 29 ', income: '455', fixed: '5', flag: 'n', label: '1' },
  ],
];

function sum(vectors: Float64Array[]): Float64Array {
  const out = new Float64Array(vectors[0]!.length);
  for (const vector of vectors) vector.forEach((value, i) => (out[i] = out[i]! + value));
  return out;
}

test('summed owner moments give the pooled means and population stds, as computed centrally', () => {
  const summed = sum(owners.map((records) => ownerMoments(schema, columns, records)));
  const { schema: federated, standardisation } = applyFederatedStatistics(schema, columns, summed, 1);
  const central = computeNumericStats({ ...schema, columns: schema.columns.map((c) => (c.name === 'fixed' ? { name: 'fixed', type: 'numeric' as const } : c)) }, owners.flat());
  for (const name of columns) {
    const expected = central.columns.find((c) => c.name === name) as { mean: number; std: number };
    const got = federated.columns.find((c) => c.name === name) as { mean: number; std: number };
    assert.ok(Math.abs(got.mean - expected.mean) < 1e-9, `${name} mean ${got.mean} vs ${expected.mean}`);
    assert.ok(Math.abs(got.std - expected.std) < 1e-9, `${name} std ${got.std} vs ${expected.std}`);
  }
  assert.deepEqual(standardisation.columns.age!.count, 5);
  assert.deepEqual(standardisation.columns.income!.count, 4, 'a missing value is left out of its column only');
  assert.deepEqual(standardisation.columns.fixed, { source: 'operator', count: null, mean: 5, std: 2 }, 'the operator’s own statistics stay and say so');
  assert.equal(standardisation.source, 'federated');
  assert.equal(standardisation.roundNumber, 1);
});

test('a value outside its range is clipped to it, so one extreme value moves the mean by a bounded amount', () => {
  const honest = ownerMoments(schema, ['income'], [{ income: '1000' }]);
  const extreme = ownerMoments(schema, ['income'], [{ income: '1e12' }]);
  assert.deepEqual(Array.from(extreme), Array.from(honest));
  const below = ownerMoments(schema, ['income'], [{ income: '-50' }]);
  assert.deepEqual(Array.from(below), [1, 0, 0]);
});

test('without any value a column takes the middle of its range; without spread, std 1', () => {
  const none = applyFederatedStatistics(schema, columns, new Float64Array(6), 1).schema;
  assert.deepEqual(none.columns.slice(0, 2).map((c) => [(c as { mean: number }).mean, (c as { std: number }).std]), [[59, 1], [500, 1]]);
  const constant = sum([ownerMoments(schema, ['age'], [{ age: 30 }, { age: 30 }])]);
  const { schema: out } = applyFederatedStatistics(schema, ['age'], constant, 1);
  assert.deepEqual([(out.columns[0] as { mean: number }).mean, (out.columns[0] as { std: number }).std], [30, 1]);
});

test('moments no rows could give are named, column by column', () => {
  assert.deepEqual(momentProblems(columns, [2, 1, 0.6, 1, 0.5, 0.25]), []);
  assert.deepEqual(momentProblems(columns, [2, 1, 0.6]), ['expected 6 values (3 per column), got 3']);
  assert.deepEqual(momentProblems(columns, [2.5, 1, 0.6, 1, 0.5, 0.25]), ['age: the count must be a whole number ≥ 0, got 2.5']);
  assert.deepEqual(momentProblems(columns, [-1, 0, 0, 1, 0.5, 0.25]), ['age: the count must be a whole number ≥ 0, got -1']);
  assert.deepEqual(momentProblems(columns, [2, 3, 2, 1, 0.5, 0.25]), ['age: the sum of rescaled values must lie in [0, count]']);
  assert.deepEqual(momentProblems(columns, [2, 1, 2.5, 1, -0.5, 0.25]), ['age: the sum of squares must lie in [0, count]', 'income: the sum of rescaled values must lie in [0, count]']);
  assert.deepEqual(momentProblems(columns, [2, 1.8, 0.5, 1, 0.5, 0.25]), ['age: the sum and the sum of squares are inconsistent ((Σx′)² > n·Σx′²)']);
  assert.deepEqual(momentProblems(columns, [Number.NaN, 0, 0, 1, 0.5, 0.25]), ['age: the count must be a whole number ≥ 0, got NaN']);
});

test('operator statistics: a standardisation record exactly when every numeric column has them', () => {
  assert.equal(operatorStandardisation(schema), null);
  const complete: DatasetSchema = { ...schema, columns: schema.columns.map((c) => (c.type === 'numeric' ? { name: c.name, type: 'numeric' as const, mean: 1, std: 3 } : c)) };
  assert.deepEqual(operatorStandardisation(complete), {
    source: 'operator',
    roundNumber: null,
    columns: { age: { source: 'operator', count: null, mean: 1, std: 3 }, income: { source: 'operator', count: null, mean: 1, std: 3 }, fixed: { source: 'operator', count: null, mean: 1, std: 3 } },
  });
});

const logged: DatasetSchema = {
  ...schema,
  columns: [
    { name: 'pay', type: 'numeric', transform: 'signed-log', range: [-5000, 1e6] },
    { name: 'age', type: 'numeric', range: [18, 100] },
    { name: 'label', type: 'binary', values: ['0', '1'] },
  ],
};

test('with a transform, federated statistics equal computeNumericStats on the same in-range rows', () => {
  const shards: RawRecord[][] = [
    [
      { pay: '0', age: '23', label: '0' },
      { pay: '-4500', age: 41, label: '1' },
    ],
    [{ pay: 125000, age: '35.5', label: '1' }],
    [
      { pay: ' 3.25 ', age: '67', label: '0' },
      { pay: '?', age: '29', label: '1' },
      { pay: '999999', age: '18', label: '1' },
      { pay: '-1', age: '?', label: '0' },
    ],
  ];
  const names = ['pay', 'age'];
  const summed = sum(shards.map((records) => ownerMoments(logged, names, records)));
  assert.deepEqual(momentProblems(names, summed), []);
  const { schema: federated, standardisation } = applyFederatedStatistics(logged, names, summed, 1);
  const central = computeNumericStats(logged, shards.flat());
  for (const name of names) {
    const expected = central.columns.find((c) => c.name === name) as { mean: number; std: number };
    const got = federated.columns.find((c) => c.name === name) as { mean: number; std: number; transform?: string };
    assert.ok(Math.abs(got.mean - expected.mean) < 1e-12 * Math.max(1, Math.abs(expected.mean)), `${name} mean ${got.mean} vs ${expected.mean}`);
    assert.ok(Math.abs(got.std - expected.std) < 1e-12 * expected.std, `${name} std ${got.std} vs ${expected.std}`);
    assert.equal(standardisation.columns[name]!.mean, got.mean);
  }
  assert.equal((federated.columns[0] as { transform?: string }).transform, 'signed-log');
  assert.deepEqual((federated.columns[0] as { range?: number[] }).range, [-5000, 1e6], 'the range stays in raw units');
  // In transformed units: a mean of raw amounts would be in the tens of thousands.
  assert.ok(Math.abs((federated.columns[0] as { mean: number }).mean) < 15);
});

test('with a transform, values are clipped in raw units, then transformed', () => {
  const atTop = ownerMoments(logged, ['pay'], [{ pay: 1e6 }]);
  assert.deepEqual(Array.from(ownerMoments(logged, ['pay'], [{ pay: '1e15' }])), Array.from(atTop));
  assert.deepEqual(Array.from(atTop), [1, 1, 1]);
  assert.deepEqual(Array.from(ownerMoments(logged, ['pay'], [{ pay: -1e9 }])), [1, 0, 0]);
  // One value: its transform is the mean, whatever the range.
  const one = applyFederatedStatistics(logged, ['pay'], ownerMoments(logged, ['pay'], [{ pay: 99 }]), 1).schema.columns[0] as { mean: number; std: number };
  assert.ok(Math.abs(one.mean - Math.log(100)) < 1e-12, String(one.mean));
  assert.equal(one.std, 1);
  // No value: the middle of the transformed range.
  const none = applyFederatedStatistics(logged, ['pay'], new Float64Array(3), 1).schema.columns[0] as { mean: number };
  assert.ok(Math.abs(none.mean - (Math.log1p(1e6) - Math.log1p(5000)) / 2) < 1e-12);
});
