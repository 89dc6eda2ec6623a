/**
 * The compact field's weight cap: a cohort of owners at the cap, every coordinate at its extreme, still
 * sums inside the field, and one more unit of weight is what would not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMPACT_ENCODING, maxAbsSum, WIDE_ENCODING } from './fixed-point.js';
import { decodeSecureSumVector, encodeSecureUpdate, weightCapFor } from './secure-update.js';

test('weightCapFor: the largest weight whose cohort sum fits, zero when not even 1 does', () => {
  // (2^37 − 26)/2 − 261 units over 2^16 · 522 owners · clipNorm 100
  assert.equal(weightCapFor(COMPACT_ENCODING, 522, 100), Math.floor(((2 ** 37 - 26) / 2 - 261) / (2 ** 16 * 522 * 100)));
  assert.equal(weightCapFor(COMPACT_ENCODING, 522, 100), 20);
  assert.equal(weightCapFor(COMPACT_ENCODING, 30_000, 1), 34);
  assert.equal(weightCapFor(COMPACT_ENCODING, 30_000, 0.5), 34); // the weight coordinate itself is bounded by max(clipNorm, 1)
  assert.equal(weightCapFor(COMPACT_ENCODING, 30_000, 100), 0);
  assert.ok(weightCapFor(WIDE_ENCODING, 30_000, 100) >= 700);
  assert.equal(weightCapFor(COMPACT_ENCODING, 0, 100), Number.MAX_SAFE_INTEGER);
});

test('a cohort at the cap, every change at ±clipNorm, sums and decodes exactly in the compact field', () => {
  const cohort = 40;
  const clipNorm = 3;
  const cap = weightCapFor(COMPACT_ENCODING, cohort, clipNorm);
  assert.ok(cap * cohort * clipNorm <= maxAbsSum(COMPACT_ENCODING));
  assert.ok((cap + 1) * cohort * clipNorm > maxAbsSum(COMPACT_ENCODING) - cohort / 2 ** 17); // one more would not be guaranteed
  const base = new Float32Array(1);
  const field = COMPACT_ENCODING.field;
  for (const sign of [1, -1]) {
    const sum = new Float64Array(2);
    for (let i = 0; i < cohort; i++) field.addVectorInto(sum, encodeSecureUpdate(base, Float32Array.of(sign * clipNorm), cap, clipNorm, COMPACT_ENCODING).vector);
    const { delta, weight } = decodeSecureSumVector(sum, 1, COMPACT_ENCODING);
    assert.equal(weight, cohort * cap);
    assert.equal(delta[0], sign * cohort * cap * clipNorm);
  }
});
