/**
 * Tests for the fixed-point encoding: precision (within 2^-21 per value), signs, the headroom the
 * doc comment promises (100,000 summands at the per-value bound decode exactly), and that field sums
 * of encodings decode to the sums of the rounded values.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { addVectorInto, FIELD_PRIME, negMod } from './field.js';
import {
  COMPACT_ENCODING,
  decodeFixed,
  encodeFixed,
  encodingNamed,
  encodingOfCharter,
  FIXED_POINT_BITS,
  MAX_ABS_SUM,
  MAX_ENCODABLE,
  MAX_SUMMANDS,
  maxAbsSum,
  WIDE_ENCODING,
} from './fixed-point.js';

const P = FIELD_PRIME;
const HALF = (P - 1) / 2;
const encodable = fc.double({ min: -MAX_ENCODABLE, max: MAX_ENCODABLE, noNaN: true });

test('constants: 20 fractional bits, headroom ≈ 2^31, per-value bound covers 100,000 × |1,000|', () => {
  assert.equal(FIXED_POINT_BITS, 20);
  assert.equal(MAX_ABS_SUM, HALF / 2 ** 20);
  assert.ok(MAX_ABS_SUM > 2 ** 31 - 1 && MAX_ABS_SUM < 2 ** 31);
  assert.equal(MAX_SUMMANDS, 100_000);
  assert.ok(MAX_ENCODABLE * MAX_SUMMANDS <= MAX_ABS_SUM);
  assert.ok(MAX_ENCODABLE >= 1_000 && 100_000 * 1_000 <= MAX_ABS_SUM);
  assert.ok(Math.abs(MAX_ENCODABLE - 21_474.83) < 0.01);
  assert.equal(MAX_ENCODABLE * 2 ** 20, Math.floor(HALF / MAX_SUMMANDS)); // a whole number of units
});

test('round trip is within 2^-21 and exact on multiples of 2^-20', () => {
  fc.assert(
    fc.property(fc.array(encodable, { maxLength: 20 }), (values) => {
      const decoded = decodeFixed(encodeFixed(values));
      values.forEach((x, i) => assert.ok(Math.abs(decoded[i]! - x) <= 2 ** -21, `${x} → ${decoded[i]}`));
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), (units) => {
      assert.equal(decodeFixed(encodeFixed([units / 2 ** 20]))[0], units / 2 ** 20);
    }),
  );
});

test('signs: negatives encode as p − |units|, encode(−x) = −encode(x), decode lifts to (−p/2, p/2)', () => {
  assert.deepEqual(Array.from(encodeFixed([0, -0, 1, -1, 2 ** -20, -(2 ** -20), 0.5 * 2 ** -20, -0.5 * 2 ** -20])), [
    0,
    0,
    2 ** 20,
    P - 2 ** 20,
    1,
    P - 1,
    1, // half a unit rounds away from zero, in both directions
    P - 1,
  ]);
  fc.assert(
    fc.property(encodable, (x) => {
      assert.equal(encodeFixed([-x])[0], negMod(encodeFixed([x])[0]!));
    }),
  );
  assert.deepEqual(Array.from(decodeFixed(Float64Array.from([HALF, HALF + 1, P - 1]))), [HALF / 2 ** 20, -HALF / 2 ** 20, -(2 ** -20)]);
  assert.ok(Object.is(decodeFixed(Float64Array.of(0))[0], 0));
});

test('encodeFixed refuses non-finite values and values beyond MAX_ENCODABLE, naming the index only', () => {
  assert.deepEqual(decodeFixed(encodeFixed([MAX_ENCODABLE, -MAX_ENCODABLE])), Float64Array.from([MAX_ENCODABLE, -MAX_ENCODABLE]));
  for (const bad of [Number.NaN, Infinity, -Infinity]) assert.throws(() => encodeFixed([0, bad]), /encodeFixed: element 1 is not a finite number/);
  const justOver = MAX_ENCODABLE + 2 ** -30; // rounds to the bound's own units, yet is over it
  assert.throws(() => encodeFixed([justOver]), /encodeFixed: element 0 exceeds MAX_ENCODABLE/);
  assert.throws(() => encodeFixed([-justOver]), /encodeFixed: element 0 exceeds MAX_ENCODABLE/);
  assert.throws(() => encodeFixed([1e9]), (error: Error) => !error.message.includes('1000000000'));
  assert.throws(() => decodeFixed(Float64Array.of(P)), /decodeFixed: element 0 is not a field element/);
  assert.throws(() => decodeFixed(Float64Array.of(1.5)), /decodeFixed: element 0 is not a field element/);
});

test('headroom: 100,000 values at ±MAX_ENCODABLE sum in the field and decode exactly', () => {
  for (const sign of [1, -1]) {
    const one = encodeFixed([sign * MAX_ENCODABLE, sign * 1_000, sign * 2 ** -20]);
    const acc = new Float64Array(3);
    for (let i = 0; i < MAX_SUMMANDS; i++) addVectorInto(acc, one);
    assert.deepEqual(Array.from(decodeFixed(acc)), [sign * MAX_SUMMANDS * MAX_ENCODABLE, sign * 1e8, sign * MAX_SUMMANDS * 2 ** -20]);
  }
  // …and the bound is tight: one unit past (p−1)/2 wraps to the most negative value.
  const acc = Float64Array.of(HALF);
  addVectorInto(acc, Float64Array.of(1));
  assert.equal(decodeFixed(acc)[0], -HALF / 2 ** 20);
});

test('field sums of encodings decode to the sum of the rounded values (linearity)', () => {
  fc.assert(
    fc.property(fc.array(fc.array(fc.double({ min: -1_000, max: 1_000, noNaN: true }), { minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 30 }), (rows) => {
      const acc = new Float64Array(4);
      for (const row of rows) addVectorInto(acc, encodeFixed(row));
      const decoded = decodeFixed(acc);
      for (let j = 0; j < 4; j++) {
        const expected = rows.reduce((sum, row) => sum + Math.sign(row[j]!) * Math.round(Math.abs(row[j]!) * 2 ** 20), 0) / 2 ** 20;
        assert.equal(decoded[j], expected);
        assert.ok(Math.abs(decoded[j]! - rows.reduce((sum, row) => sum + row[j]!, 0)) <= rows.length * 2 ** -21 + 1e-9);
      }
    }),
    { numRuns: 300 },
  );
});

test('a larger per-value bound admits a big sample count, still within the sum headroom', () => {
  assert.throws(() => encodeFixed([30_000]), /exceeds/);
  assert.deepEqual(Array.from(decodeFixed(encodeFixed([30_000, -1.5], MAX_ABS_SUM))), [30_000, -1.5]);
  assert.throws(() => encodeFixed([1], MAX_ABS_SUM * 2), /maxAbs/);
});

test('encodings: the compact one is 2^37 − 25 with steps of 2^-16, ≈ 2^20 of headroom, named by the charter', () => {
  assert.equal(COMPACT_ENCODING.field.prime, 2 ** 37 - 25);
  assert.equal(COMPACT_ENCODING.fractionBits, 16);
  assert.equal(maxAbsSum(COMPACT_ENCODING), (2 ** 37 - 26) / 2 / 2 ** 16);
  assert.ok(maxAbsSum(COMPACT_ENCODING) > 2 ** 20 - 1 && maxAbsSum(COMPACT_ENCODING) < 2 ** 20);
  assert.equal(maxAbsSum(WIDE_ENCODING), MAX_ABS_SUM);
  assert.equal(encodingOfCharter(String(2 ** 37 - 25), 16), COMPACT_ENCODING);
  assert.equal(encodingOfCharter(String(P), 20), WIDE_ENCODING);
  assert.equal(encodingOfCharter(String(P), 16), null); // a prime with another step is not an encoding this code knows
  assert.equal(encodingNamed('compact'), COMPACT_ENCODING);
  assert.equal(encodingNamed('wide'), WIDE_ENCODING);
});

test('compact: round trip within 2^-17, field sums decode to sums, and the headroom is enforced', () => {
  const F = COMPACT_ENCODING.field;
  fc.assert(
    fc.property(fc.array(fc.double({ min: -1000, max: 1000, noNaN: true }), { minLength: 1, maxLength: 20 }), (values) => {
      const encoded = encodeFixed(values, maxAbsSum(COMPACT_ENCODING), COMPACT_ENCODING);
      for (const x of encoded) assert.ok(F.isElement(x));
      decodeFixed(encoded, COMPACT_ENCODING).forEach((x, i) => assert.ok(Math.abs(x - values[i]!) <= 2 ** -17));
      const sum = new Float64Array(values.length);
      F.addVectorInto(sum, encoded);
      F.addVectorInto(sum, encoded);
      decodeFixed(sum, COMPACT_ENCODING).forEach((x, i) => assert.ok(Math.abs(x - 2 * values[i]!) <= 2 ** -16));
    }),
  );
  assert.throws(() => encodeFixed([2 ** 20], maxAbsSum(COMPACT_ENCODING), COMPACT_ENCODING), /element 0 exceeds/);
  assert.throws(() => encodeFixed([1], 2 ** 21, COMPACT_ENCODING), /expected 0 < maxAbs ≤ the encoding's sum headroom/);
});
