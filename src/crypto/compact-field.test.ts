/**
 * GF(2^37 − 25): the prime is prime and the largest below 2^37, and every operation agrees with BigInt
 * where fast-check looks and at the edges of the limb split and the float reduction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { COMPACT_BITS, COMPACT_FIELD, COMPACT_PRIME } from './compact-field.js';
import { seededRandomBytes } from './field.js';
import { isPrime } from '../../test/helpers/primes.js';

const F = COMPACT_FIELD;
const P = COMPACT_PRIME;
const Pn = BigInt(P);
const element = fc.bigInt({ min: 0n, max: Pn - 1n }).map(Number);
const EDGES = [0, 1, 2, 24, 25, 26, 2 ** 13 - 1, 2 ** 13, 2 ** 26 - 1, 2 ** 26, 2 ** 36, P - 2 ** 26, P - 2, P - 1];
const edgeOrAny = fc.oneof(fc.constantFrom(...EDGES), element);
const big = (x: bigint) => Number(((x % Pn) + Pn) % Pn);

test('COMPACT_PRIME = 2^37 − 25 is prime, the largest below 2^37, and packs in 37 bits', () => {
  assert.equal(P, 2 ** 37 - 25);
  assert.ok(isPrime(Pn));
  for (let c = 1n; c < 25n; c += 2n) assert.ok(!isPrime(2n ** 37n - c), `2^37 − ${c} should be composite`);
  assert.equal(COMPACT_BITS, 37);
  assert.equal(F.bits, 37);
  assert.equal(F.prime, P);
});

test('add, sub, mul and inv agree with BigInt, edges included', () => {
  fc.assert(
    fc.property(edgeOrAny, edgeOrAny, (a, b) => {
      const A = BigInt(a);
      const B = BigInt(b);
      assert.equal(F.add(a, b), big(A + B));
      assert.equal(F.sub(a, b), big(A - B));
      assert.equal(F.mul(a, b), big(A * B));
    }),
    { numRuns: 20_000 },
  );
  for (const a of EDGES) for (const b of EDGES) assert.equal(F.mul(a, b), big(BigInt(a) * BigInt(b)), `${a}·${b}`);
  fc.assert(
    fc.property(element, (a) => {
      if (a !== 0) assert.equal(F.mul(a, F.inv(a)), 1);
    }),
    { numRuns: 500 },
  );
  assert.throws(() => F.inv(0), /inv: expected a non-zero element, got 0/);
  assert.throws(() => F.inv(P), /inv: expected a field element/);
});

test('the vector kernels agree with BigInt element-wise and check lengths', () => {
  const vector = (n: number) => fc.array(edgeOrAny, { minLength: n, maxLength: n });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 20 }).chain((n) => fc.tuple(vector(n), vector(n), edgeOrAny)),
      ([a, b, c]) => {
        const acc = Float64Array.from(a);
        F.addVectorInto(acc, Float64Array.from(b));
        assert.deepEqual(Array.from(acc), a.map((x, i) => big(BigInt(x) + BigInt(b[i]!))));
        const acc2 = Float64Array.from(a);
        F.mulAddVectorInto(acc2, Float64Array.from(b), c);
        assert.deepEqual(Array.from(acc2), a.map((x, i) => big(BigInt(x) + BigInt(b[i]!) * BigInt(c))));
        const acc3 = Float64Array.from(a);
        F.mulVectorAddInto(acc3, c, Float64Array.from(b));
        assert.deepEqual(Array.from(acc3), a.map((x, i) => big(BigInt(x) * BigInt(c) + BigInt(b[i]!))));
      },
    ),
    { numRuns: 2_000 },
  );
  assert.throws(() => F.addVectorInto(new Float64Array(3), new Float64Array(2)), /addVectorInto: expected vectors of equal length, got 3 and 2/);
  assert.throws(() => F.mulAddVectorInto(new Float64Array(1), new Float64Array(2), 5), /mulAddVectorInto: expected vectors of equal length/);
});

test('randomVector: reproducible, below p, 5 little-endian bytes with the top 3 bits masked, rejects ≥ p', () => {
  const a = F.randomVector(1000, seededRandomBytes('compact'));
  assert.deepEqual(a, F.randomVector(1000, seededRandomBytes('compact')));
  for (const x of a) assert.ok(F.isElement(x));
  const high = a.filter((x) => x >= 2 ** 36).length;
  assert.ok(high > 430 && high < 570, `high-half count ${high}`);
  assert.deepEqual(Array.from(F.randomVector(1, () => Uint8Array.of(0x01, 0x02, 0x03, 0x04, 0xe5))), [0x05_04_03_02_01]);
  const pItself = [0xe7, 0xff, 0xff, 0xff, 0x1f]; // exactly p: rejected, fresh bytes drawn
  const calls: number[] = [];
  const script = [Uint8Array.from(pItself), Uint8Array.of(9, 0, 0, 0, 0)];
  const rng = (n: number) => {
    calls.push(n);
    return script.shift()!;
  };
  assert.deepEqual(Array.from(F.randomVector(1, rng)), [9]);
  assert.deepEqual(calls, [5, 5]);
});
