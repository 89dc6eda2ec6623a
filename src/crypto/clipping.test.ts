/**
 * Tests for L2 clipping: updates within the bound pass unchanged, larger ones come back with norm at
 * most the bound and the same direction, and the norm survives values that would overflow a naive sum
 * of squares.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { clipL2, l2Norm } from './clipping.js';

test('an update within the bound is returned as a float64 copy, unclipped', () => {
  const input = Float32Array.of(3, 4);
  const result = clipL2(input, 5);
  assert.deepEqual(result, { values: Float64Array.of(3, 4), norm: 5, clipped: false });
  assert.notEqual(result.values.buffer, input.buffer);
  assert.deepEqual(clipL2(new Float64Array(0), 1), { values: new Float64Array(0), norm: 0, clipped: false });
});

test('a larger update is scaled onto the ball: norm ≤ maxNorm, same direction', () => {
  assert.deepEqual(clipL2(Float64Array.of(6, -8), 5), { values: Float64Array.of(3, -4), norm: 10, clipped: true });
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 60 }),
      fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
      (raw, maxNorm) => {
        const input = Float64Array.from(raw);
        const { values, norm, clipped } = clipL2(input, maxNorm);
        assert.equal(clipped, norm > maxNorm);
        assert.ok(l2Norm(values) <= maxNorm || !clipped);
        if (clipped) {
          assert.ok(l2Norm(values) >= maxNorm * (1 - 1e-12));
          const ratio = maxNorm / norm;
          input.forEach((x, i) => assert.ok(Math.abs(values[i]! - x * ratio) <= 1e-12 * maxNorm + 1e-300));
        } else {
          assert.deepEqual(values, input);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('the norm does not overflow or underflow', () => {
  assert.equal(l2Norm([1e300, 1e300]), Math.SQRT2 * 1e300);
  assert.ok(Math.abs(l2Norm([3e-310, 4e-310]) - 5e-310) < 1e-320);
  const { values, norm } = clipL2(Float64Array.of(1e300, -1e300), 1);
  assert.equal(norm, Math.SQRT2 * 1e300);
  assert.ok(Math.abs(values[0]! - Math.SQRT1_2) < 1e-15 && Math.abs(values[1]! + Math.SQRT1_2) < 1e-15);
});

test('clipL2 refuses a bad bound and non-finite values, naming the index only', () => {
  for (const bad of [0, -1, Number.NaN, Infinity]) assert.throws(() => clipL2(Float64Array.of(1), bad), /clipL2: expected a positive finite maxNorm, got/);
  assert.throws(() => clipL2(Float64Array.of(0.25, Number.NaN), 1), /clipL2: element 1 is not a finite number/);
  assert.throws(() => clipL2(Float32Array.of(Infinity), 1), /clipL2: element 0 is not a finite number/);
});
