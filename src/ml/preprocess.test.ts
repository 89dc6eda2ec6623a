/**
 * Tests for the encoder. Owners, the server and lenders must turn a record into the same vector, so
 * the one-hot order, the standardisation and each error reason are pinned here, including that error
 * messages name the column but never the applicant's value.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DatasetSchema, RawRecord } from './dataset-schema.js';
import {
  RecordError,
  computeNumericStats,
  createEncoder,
  encodeDataset,
  encodeLabel,
  missingColumns,
  quoteValue,
  tryEncodeLabel,
  type RecordProblem,
} from './preprocess.js';

const schema: DatasetSchema = {
  columns: [
    { name: 'id', type: 'ignore' },
    { name: 'age', type: 'numeric', mean: 40, std: 10 },
    { name: 'owner', type: 'binary', values: ['f', 't'] },
    { name: 'job', type: 'categorical', values: ['clerk', 'nurse', 'pilot'] },
    { name: 'class', type: 'binary', values: ['-', '+'] },
  ],
  label: { column: 'class', positive: '+' },
  missingToken: '?',
  delimiter: ',',
  header: false,
};

const record: RawRecord = { id: '17', age: '55', owner: 't', job: 'nurse', class: '+' };

function assertRecordError(fn: () => unknown, column: string, reason: RecordError['reason'], forbidden?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RecordError, `expected RecordError, got ${String(err)}`);
    assert.equal(err.column, column);
    assert.equal(err.reason, reason);
    assert.ok(err.message.includes(column), err.message);
    if (forbidden !== undefined) assert.ok(!err.message.includes(forbidden), `message leaks the value: ${err.message}`);
    return true;
  });
}

test('createEncoder: feature names in schema order, one-hot in declared order', () => {
  const enc = createEncoder(schema);
  assert.deepEqual(enc.featureNames, ['age', 'owner', 'job=clerk', 'job=nurse', 'job=pilot']);
  assert.equal(enc.size, 5);
});

test('encode: standardises numerics, binaries to 0/1, one-hot categoricals', () => {
  const enc = createEncoder(schema);
  assert.deepEqual(Array.from(enc.encode(record)), [1.5, 1, 0, 1, 0]);
  assert.deepEqual(Array.from(enc.encode({ age: 35, owner: 'f', job: 'pilot' })), [-0.5, 0, 0, 0, 1]);
  // JSON clients may send numbers and booleans; surrounding whitespace is not data.
  assert.deepEqual(Array.from(enc.encode({ age: ' 40 ', owner: true, job: ' clerk' })), [0, 1, 1, 0, 0]);
});

test('encode: a signed-log column is transformed, then standardised with the transformed mean/std', () => {
  const logged: DatasetSchema = {
    ...schema,
    columns: [
      { name: 'id', type: 'ignore' },
      { name: 'pay', type: 'numeric', transform: 'signed-log', mean: 1, std: 2 },
      { name: 'age', type: 'numeric', mean: 40, std: 10 },
      { name: 'class', type: 'binary', values: ['-', '+'] },
    ],
  };
  const enc = createEncoder(logged);
  const pay = (value: string | number) => enc.encode({ pay: value, age: 40 })[0]!;
  // (sign(x)·ln(1 + |x|) − 1)/2, as float32.
  assert.equal(pay(0), -0.5);
  assert.equal(pay('-0'), -0.5);
  assert.equal(pay(Math.E - 1), Math.fround((Math.log1p(Math.E - 1) - 1) / 2));
  assert.ok(Math.abs(pay(Math.E - 1)) < 1e-7, 'ln(e) = 1 standardises to 0');
  assert.ok(Math.abs(pay('3') - (2 * Math.LN2 - 1) / 2) < 1e-7);
  assert.ok(Math.abs(pay(-99) - (-Math.log(100) - 1) / 2) < 1e-7);
  assert.ok(Math.abs(pay(' 1e6 ') - (Math.log(1e6 + 1) - 1) / 2) < 1e-6);
  // Only the declared column is transformed; the others and every problem report are as before.
  assert.deepEqual(Array.from(enc.encode({ pay: 0, age: 55 })), [-0.5, 1.5]);
  assert.deepEqual(Array.from(enc.tryEncode({ pay: -99, age: 40 }).features!), Array.from(enc.encode({ pay: -99, age: 40 })));
  assert.deepEqual(brief(enc.tryEncode({ pay: 'lots', age: 40 }).problems), [['pay', 'not-a-number', 'not a number: "lots"']]);
});

test('encode: missing values in every spelling', () => {
  const enc = createEncoder(schema);
  for (const v of ['?', ' ? ', '', '  ', null]) {
    assertRecordError(() => enc.encode({ ...record, job: v }), 'job', 'missing');
  }
  const { age: _age, ...withoutAge } = record;
  assertRecordError(() => enc.encode(withoutAge), 'age', 'missing');
});

test('encode: unknown category, not a number, unknown column', () => {
  const enc = createEncoder(schema);
  assertRecordError(() => enc.encode({ ...record, job: 'astronaut' }), 'job', 'unknown-category', 'astronaut');
  assertRecordError(() => enc.encode({ ...record, owner: 'maybe' }), 'owner', 'unknown-category', 'maybe');
  for (const v of ['abc', '0x1f', 'Infinity', '1,5', Number.NaN, true]) {
    assertRecordError(() => enc.encode({ ...record, age: v }), 'age', 'not-a-number', 'abc');
  }
  assertRecordError(() => enc.encode({ ...record, salary: '1' }), 'salary', 'unknown-column');
});

test('encode: the label and ignored columns may be absent or anything', () => {
  const enc = createEncoder(schema);
  const { class: _c, id: _i, ...features } = record;
  assert.deepEqual(enc.encode(features), enc.encode({ ...record, class: 'whatever', id: null }));
});

const brief = (problems: RecordProblem[]) => problems.map((p) => [p.column, p.reason, p.message]);

test('tryEncode: every problem of a record, unknown keys first, then fields in schema order', () => {
  const enc = createEncoder(schema);
  const attempt = enc.tryEncode({ id: 'x', age: 'abc', owner: '', job: 'astronaut', Job: 'pilot', salary: '1' });
  assert.equal(attempt.features, null);
  assert.deepEqual(brief(attempt.problems), [
    ['Job', 'unknown-column', 'unknown column "Job" (did you mean job?)'],
    ['salary', 'unknown-column', 'unknown column "salary"'],
    ['age', 'not-a-number', 'not a number: "abc"'],
    ['owner', 'missing', 'missing'],
    ['job', 'unknown-category', 'unknown value "astronaut" (expected one of clerk, nurse, pilot)'],
  ]);
  assert.deepEqual(
    attempt.problems.map((p) => p.expected),
    [
      { kind: 'column', columns: ['id', 'age', 'owner', 'job', 'class'] },
      { kind: 'column', columns: ['id', 'age', 'owner', 'job', 'class'] },
      { kind: 'number' },
      { kind: 'one-of', values: ['f', 't'] },
      { kind: 'one-of', values: ['clerk', 'nurse', 'pilot'] },
    ],
  );
});

test('tryEncode: a record that fits gives the same vector as encode and no problems', () => {
  const enc = createEncoder(schema);
  for (const r of [record, { age: 35, owner: true, job: ' pilot ' }]) {
    const attempt = enc.tryEncode(r);
    assert.deepEqual(attempt.problems, []);
    assert.deepEqual(attempt.features, enc.encode(r));
  }
});

test('tryEncode: a present value is never "missing"; only absent, null, blank and the token are', () => {
  const enc = createEncoder(schema);
  const reasonFor = (job: RawRecord[string] | undefined) => {
    const { job: _job, ...rest } = record;
    return enc.tryEncode(job === undefined ? rest : { ...rest, job }).problems.map((p) => [p.reason, p.message]);
  };
  for (const v of [undefined, null, '', '  ', '?', ' ? ']) assert.deepEqual(reasonFor(v), [['missing', 'missing']], JSON.stringify(v));
  assert.deepEqual(reasonFor('zz'), [['unknown-category', 'unknown value "zz" (expected one of clerk, nurse, pilot)']]);
  assert.deepEqual(reasonFor('??'), [['unknown-category', 'unknown value "??" (expected one of clerk, nurse, pilot)']]);
  assert.deepEqual(reasonFor(5), [['unknown-category', 'unknown value 5 (expected one of clerk, nurse, pilot)']]);
  // Invisible characters are shown, so "pilot\u200b" is visibly not "pilot".
  assert.deepEqual(reasonFor('pilot\u200b'), [['unknown-category', 'unknown value "pilot\\u200b" (expected one of clerk, nurse, pilot)']]);
  // Binary columns: the same rules.
  const owner = (v: RawRecord[string]) => enc.tryEncode({ ...record, owner: v }).problems.map((p) => p.message);
  assert.deepEqual(owner('maybe'), ['unknown value "maybe" (expected one of f, t)']);
  assert.deepEqual(owner('?'), ['missing']);
});

test('encode: its errors stay free of the value whatever tryEncode quotes', () => {
  const enc = createEncoder(schema);
  const bad = { ...record, job: 'astronaut', age: 'abc' };
  assert.ok(enc.tryEncode(bad).problems.some((p) => p.message.includes('astronaut')));
  assertRecordError(() => enc.encode(bad), 'age', 'not-a-number', 'abc');
  assertRecordError(() => enc.encode({ ...record, job: 'astronaut' }), 'job', 'unknown-category', 'astronaut');
});

test('quoteValue: at most 40 characters, invisible characters escaped, JSON for non-strings', () => {
  assert.equal(quoteValue('zz'), '"zz"');
  assert.equal(quoteValue('x'.repeat(40)), `"${'x'.repeat(40)}"`);
  assert.equal(quoteValue('x'.repeat(41)), `"${'x'.repeat(40)}"…`);
  // By characters, not UTF-16 units: an emoji is not cut in half.
  assert.equal(quoteValue('😀'.repeat(50)), `"${'😀'.repeat(40)}"…`);
  assert.equal(quoteValue('\u00a0'), '"\\u00a0"');
  assert.equal(quoteValue('a\tb"c'), '"a\\tb\\"c"');
  assert.equal(quoteValue(5), '5');
  assert.equal(quoteValue(true), 'true');
  assert.equal(quoteValue(null), 'null');
});

test('tryEncodeLabel: the label, or its one problem', () => {
  assert.deepEqual(tryEncodeLabel(schema, record), { label: 1, problem: null });
  assert.deepEqual(tryEncodeLabel(schema, { ...record, class: '-' }), { label: 0, problem: null });
  const missing = tryEncodeLabel(schema, { ...record, class: '?' });
  assert.equal(missing.label, null);
  assert.deepEqual([missing.problem?.reason, missing.problem?.message], ['missing', 'missing']);
  const bad = tryEncodeLabel(schema, { ...record, class: 'x' });
  assert.deepEqual([bad.problem?.reason, bad.problem?.message], ['bad-label', 'unknown value "x" (expected one of -, +)']);
  const numericLabel: DatasetSchema = { ...schema, columns: [...schema.columns.slice(0, 4), { name: 'class', type: 'numeric' }], label: { column: 'class', positive: '1' } };
  assert.deepEqual(tryEncodeLabel(numericLabel, { class: 'yes' }).problem?.message, 'not a number: "yes"');
});

test('createEncoder: numeric columns need statistics', () => {
  const raw: DatasetSchema = { ...schema, columns: [...schema.columns, { name: 'income', type: 'numeric' }] };
  assert.throws(() => createEncoder(raw), /createEncoder: numeric column income has no mean\/std; run computeNumericStats first/);
  assert.throws(() => createEncoder({ ...schema, label: { column: 'x', positive: '+' } }), /createEncoder: invalid dataset schema: label column x/);
});

test('encodeLabel: positive value -> 1, other declared values -> 0, missing and undeclared throw', () => {
  assert.equal(encodeLabel(schema, record), 1);
  assert.equal(encodeLabel(schema, { ...record, class: '-' }), 0);
  assertRecordError(() => encodeLabel(schema, { ...record, class: '?' }), 'class', 'missing');
  assertRecordError(() => encodeLabel(schema, { ...record, class: 'x' }), 'class', 'bad-label');
  const numericLabel: DatasetSchema = {
    ...schema,
    columns: [...schema.columns.slice(0, 4), { name: 'class', type: 'numeric' }],
    label: { column: 'class', positive: '1' },
  };
  assert.equal(encodeLabel(numericLabel, { class: '1.0' }), 1);
  assert.equal(encodeLabel(numericLabel, { class: 0 }), 0);
  assertRecordError(() => encodeLabel(numericLabel, { class: 'yes' }), 'class', 'bad-label');
});

const records: RawRecord[] = [
  record,
  { id: '2', age: '?', owner: 'f', job: 'clerk', class: '-' },
  { id: '3', age: '30', owner: 'f', job: 'pilot', class: '?' },
  { id: '4', age: '20', owner: 'f', job: 'clerk', class: '-' },
];

test('encodeDataset: drop skips records with a missing feature or label', () => {
  const { X, y, kept } = encodeDataset(schema, records, 'drop');
  assert.deepEqual(kept, [0, 3]);
  assert.deepEqual(Array.from(y), [1, 0]);
  assert.deepEqual(X.map((x) => Array.from(x)), [
    [1.5, 1, 0, 1, 0],
    [-2, 0, 1, 0, 0],
  ]);
});

test('encodeDataset: reject throws on the first missing value, with the record index', () => {
  assert.throws(
    () => encodeDataset(schema, records, 'reject'),
    (err: unknown) => err instanceof RecordError && err.reason === 'missing' && err.column === 'age' && err.index === 1 && /record 1/.test(err.message),
  );
});

test('encodeDataset: other problems throw even when dropping missing values', () => {
  const bad = [...records, { id: '5', age: '1', owner: 'f', job: 'cook', class: '+' }];
  assert.throws(
    () => encodeDataset(schema, bad, 'drop'),
    (err: unknown) => err instanceof RecordError && err.reason === 'unknown-category' && err.index === 4,
  );
});

test('missingColumns: features and label, not ignored columns', () => {
  assert.deepEqual(missingColumns(schema, { id: '?', age: '', owner: 'f', job: null }), ['age', 'job', 'class']);
});

test('computeNumericStats: mean and population std over non-missing values, input untouched', () => {
  const raw: DatasetSchema = {
    ...schema,
    columns: [
      { name: 'id', type: 'ignore' },
      { name: 'age', type: 'numeric' },
      { name: 'flat', type: 'numeric' },
      { name: 'class', type: 'binary', values: ['-', '+'] },
    ],
  };
  const rows: RawRecord[] = [
    { age: '2', flat: '5', class: '+' },
    { age: '4', flat: '5', class: '-' },
    { age: '?', flat: '5', class: '-' },
    { age: 9, flat: '5', class: '?' },
  ];
  const out = computeNumericStats(raw, rows);
  assert.deepEqual(out.columns[1], { name: 'age', type: 'numeric', mean: 5, std: Math.sqrt(26 / 3) });
  assert.deepEqual(out.columns[2], { name: 'flat', type: 'numeric', mean: 5, std: 1 });
  assert.deepEqual(raw.columns[1], { name: 'age', type: 'numeric' });
  assert.throws(() => computeNumericStats(raw, [{ age: 'x', flat: '1' }]), /computeNumericStats: record 0: column age expected a number/);
  assert.throws(() => computeNumericStats(raw, [{ age: '?', flat: '1' }]), /computeNumericStats: column age has no non-missing values/);
});

test('computeNumericStats: a transformed column gets the mean and std of its transformed values', () => {
  const raw: DatasetSchema = {
    ...schema,
    columns: [
      { name: 'pay', type: 'numeric', transform: 'signed-log' },
      { name: 'age', type: 'numeric' },
      { name: 'class', type: 'binary', values: ['-', '+'] },
    ],
  };
  const rows: RawRecord[] = [
    { pay: '0', age: '2', class: '+' },
    { pay: '3', age: '4', class: '-' },
    { pay: -3, age: '?', class: '-' },
    { pay: '?', age: 9, class: '-' },
  ];
  const out = computeNumericStats(raw, rows);
  // ln 1 = 0, ln 4 and −ln 4: mean 0, population std ln 4·√(2/3).
  const pay = out.columns[0] as { transform: string; mean: number; std: number };
  assert.equal(pay.transform, 'signed-log', 'the transform stays declared');
  assert.ok(Math.abs(pay.mean) < 1e-15);
  assert.ok(Math.abs(pay.std - 2 * Math.LN2 * Math.sqrt(2 / 3)) < 1e-15);
  assert.deepEqual(out.columns[1], { name: 'age', type: 'numeric', mean: 5, std: Math.sqrt(26 / 3) }, 'an untransformed column is unaffected');
  // Encoding with those statistics standardises the transformed values: mean 0, std 1 over the rows.
  const encoded = rows.filter((r) => r.pay !== '?').map((r) => createEncoder(out).encode({ pay: r.pay!, age: 1 })[0]!);
  const mean = encoded.reduce((a, b) => a + b, 0) / encoded.length;
  const variance = encoded.reduce((a, b) => a + (b - mean) ** 2, 0) / encoded.length;
  assert.ok(Math.abs(mean) < 1e-6 && Math.abs(variance - 1) < 1e-6, `${mean} ${variance}`);
});
