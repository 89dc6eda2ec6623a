/**
 * Tests for schema validation: a federation's schema is user input, and every mistake it can hold
 * should come back as a readable problem before any data is encoded with it.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyTransform, featureColumns, validateDatasetSchema, type DatasetSchema } from './dataset-schema.js';

const good: DatasetSchema = {
  columns: [
    { name: 'id', type: 'ignore' },
    { name: 'age', type: 'numeric', mean: 40, std: 10 },
    { name: 'owner', type: 'binary', values: ['f', 't'] },
    { name: 'job', type: 'categorical', values: ['a', 'b'] },
    { name: 'class', type: 'binary', values: ['-', '+'] },
  ],
  label: { column: 'class', positive: '+' },
  missingToken: '?',
  delimiter: ',',
  header: false,
};

function withColumns(columns: unknown[]): DatasetSchema {
  return { ...good, columns: columns as DatasetSchema['columns'] };
}

test('validateDatasetSchema: a good schema has no problems', () => {
  assert.deepEqual(validateDatasetSchema(good), []);
  assert.deepEqual(validateDatasetSchema({ ...good, columns: [...good.columns, { name: 'x', type: 'numeric' }] }), []);
});

test('validateDatasetSchema: reports each kind of problem', () => {
  const cases: [DatasetSchema, RegExp][] = [
    [withColumns([...good.columns, { name: 'age', type: 'numeric' }]), /duplicate column name age/],
    [{ ...good, label: { column: 'nope', positive: '+' } }, /label column nope is not among the columns/],
    [{ ...good, label: { column: 'class', positive: 'yes' } }, /label.positive is not one of the values of column class/],
    [withColumns([...good.columns, { name: 'c', type: 'categorical', values: [] }]), /column c: categorical needs at least one value/],
    [withColumns([...good.columns, { name: 'c', type: 'categorical', values: ['a', 'a'] }]), /column c: categorical values must be distinct/],
    [withColumns([...good.columns, { name: 'b', type: 'binary', values: ['x', 'x'] }]), /column b: binary values must differ/],
    [withColumns([...good.columns, { name: 'b', type: 'binary', values: ['x'] }]), /column b: binary needs exactly two values/],
    [withColumns([...good.columns, { name: 'n', type: 'numeric', mean: 0, std: 0 }]), /column n: std must be a finite number > 0/],
    [withColumns([...good.columns, { name: 'n', type: 'numeric', mean: 0 }]), /column n: mean and std must be given together/],
    [withColumns([...good.columns, { name: 'c', type: 'categorical', values: ['?'] }]), /column c: value "\?" equals the missing token/],
    [withColumns([...good.columns, { name: 'c', type: 'categorical', values: [' a'] }]), /surrounding whitespace/],
    [withColumns([...good.columns, { name: 'w', type: 'weird' }]), /column w: unknown type "weird"/],
    [withColumns([...good.columns, { name: '', type: 'ignore' }]), /column #6 needs a non-empty name/],
    [withColumns([]), /columns must be a non-empty array/],
    [withColumns([{ name: 'id', type: 'ignore' }, good.columns[4]]), /schema has no feature columns/],
    [{ ...good, delimiter: ',,' }, /delimiter must be exactly one character/],
    [{ ...good, delimiter: '"' }, /delimiter cannot be/],
  ];
  for (const [schema, pattern] of cases) {
    const problems = validateDatasetSchema(schema);
    assert.ok(problems.some((p) => pattern.test(p)), `${pattern} not in ${JSON.stringify(problems)}`);
  }
});

test('validateDatasetSchema: a numeric column may declare the signed-log transform, nothing else may', () => {
  assert.deepEqual(validateDatasetSchema(withColumns([...good.columns, { name: 'pay', type: 'numeric', transform: 'signed-log', range: [-1000, 1e6] }])), []);
  assert.deepEqual(validateDatasetSchema(withColumns([...good.columns, { name: 'pay', type: 'numeric', transform: 'log' }])), [
    'column pay: unknown transform "log" (expected one of signed-log)',
  ]);
  assert.deepEqual(validateDatasetSchema(withColumns([...good.columns, { name: 'kind', type: 'categorical', values: ['a'], transform: 'signed-log' }])), [
    'column kind: only numeric columns can have a transform, this one is categorical',
  ]);
  assert.deepEqual(validateDatasetSchema(withColumns([...good.columns, { name: 'flag', type: 'binary', values: ['n', 'y'], transform: 'signed-log' }])), [
    'column flag: only numeric columns can have a transform, this one is binary',
  ]);
  // Ends that a transform cannot tell apart would divide the federated statistics by zero.
  const narrow = validateDatasetSchema(withColumns([...good.columns, { name: 'pay', type: 'numeric', transform: 'signed-log', range: [1e20, 1e20 + 65536] }]));
  assert.equal(narrow.length, 1);
  assert.match(narrow[0]!, /^column pay: range \[1\d+, 1\d+\] is too narrow to tell its ends apart after the signed-log transform$/);
});

test('applyTransform: signed-log is sign(x)·ln(1 + |x|), odd, 0 at 0; no transform is the identity', () => {
  assert.equal(applyTransform('signed-log', 0), 0);
  assert.ok(Object.is(applyTransform('signed-log', -0), 0), 'never -0');
  assert.equal(applyTransform('signed-log', 3), Math.log1p(3));
  assert.ok(Math.abs(applyTransform('signed-log', 3) - 2 * Math.LN2) < 1e-15);
  assert.ok(Math.abs(applyTransform('signed-log', -99) + Math.log(100)) < 1e-15);
  assert.equal(applyTransform('signed-log', -99), -applyTransform('signed-log', 99));
  assert.ok(Math.abs(applyTransform('signed-log', 1e-12) - 1e-12) < 1e-24, 'small values stay exact (log1p)');
  assert.equal(applyTransform(undefined, -12.5), -12.5);
});

test('featureColumns: drops the label and ignored columns, keeps order', () => {
  assert.deepEqual(
    featureColumns(good).map((c) => c.name),
    ['age', 'owner', 'job'],
  );
});
