/**
 * The check both fields' vector kernels must pass: addVectorInto, mulAddVectorInto and mulVectorAddInto
 * agree with BigInt element-wise over fast-check's vectors, and refuse vectors of unequal length.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { PrimeField } from '../../src/crypto/field.js';

export function assertKernelsAgreeWithBigInt(field: PrimeField, element: fc.Arbitrary<number>): void {
  const p = BigInt(field.prime);
  const mod = (x: bigint) => Number(((x % p) + p) % p);
  const vector = (n: number) => fc.array(element, { minLength: n, maxLength: n });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 20 }).chain((n) => fc.tuple(vector(n), vector(n), element)),
      ([a, b, c]) => {
        const acc = Float64Array.from(a);
        field.addVectorInto(acc, Float64Array.from(b));
        assert.deepEqual(Array.from(acc), a.map((x, i) => mod(BigInt(x) + BigInt(b[i]!))));
        const acc2 = Float64Array.from(a);
        field.mulAddVectorInto(acc2, Float64Array.from(b), c);
        assert.deepEqual(Array.from(acc2), a.map((x, i) => mod(BigInt(x) + BigInt(b[i]!) * BigInt(c))));
        const acc3 = Float64Array.from(a);
        field.mulVectorAddInto(acc3, c, Float64Array.from(b));
        assert.deepEqual(Array.from(acc3), a.map((x, i) => mod(BigInt(x) * BigInt(c) + BigInt(b[i]!))));
      },
    ),
    { numRuns: 2_000 },
  );
  assert.throws(() => field.addVectorInto(new Float64Array(3), new Float64Array(2)), /addVectorInto: expected vectors of equal length, got 3 and 2/);
  assert.throws(() => field.mulAddVectorInto(new Float64Array(1), new Float64Array(2), 5), /mulAddVectorInto: expected vectors of equal length, got 1 and 2/);
  assert.throws(() => field.mulVectorAddInto(new Float64Array(1), 5, new Float64Array(2)), /mulVectorAddInto: expected vectors of equal length, got 1 and 2/);
}
