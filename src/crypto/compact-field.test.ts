/**
 * GF(2^37 − 25): the prime is prime and the largest below 2^37, and every operation agrees with BigInt
 * where fast-check looks and at the edges of the limb split and the float reduction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { COMPACT_BITS, COMPACT_FIELD, COMPACT_PRIME } from './compact-field.js';
import { seededRandomBytes } from './field.js';
import { assertKernelsAgreeWithBigInt } from '../../test/helpers/field-kernels.js';
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
  assertKernelsAgreeWithBigInt(F, edgeOrAny);
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
