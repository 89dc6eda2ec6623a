/**
 * Tests for GF(p): that p is prime (a deterministic Miller–Rabin in BigInt), that the float64
 * arithmetic agrees with BigInt everywhere fast-check looks and at the edges where the split multiply
 * could overflow, the field axioms, and the rejection sampler.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  addMod,
  FIELD_BITS,
  FIELD_BYTES,
  FIELD_PRIME,
  invMod,
  mulAddVectorInto,
  mulMod,
  mulVectorAddInto,
  negMod,
  powMod,
  randomFieldVector,
  seededRandomBytes,
  subMod,
  WIDE_FIELD,
} from './field.js';
import { assertKernelsAgreeWithBigInt } from '../../test/helpers/field-kernels.js';
import { isPrime } from '../../test/helpers/primes.js';

const P = FIELD_PRIME;
const Pn = BigInt(P);

const element = fc.bigInt({ min: 0n, max: Pn - 1n }).map(Number);
const TWO26 = 2 ** 26;
const EDGES = [0, 1, 2, 46, 47, 48, TWO26 - 1, TWO26, TWO26 + 1, 2 ** 51, 2 ** 52 - 2 ** 26, P - TWO26, P - 2, P - 1];
const edgeOrAny = fc.oneof(fc.constantFrom(...EDGES), element);

test('Miller–Rabin is right on known primes, composites and strong pseudoprimes', () => {
  for (const prime of [2n, 3n, 37n, 41n, 65537n, 2n ** 31n - 1n, 2n ** 61n - 1n]) assert.ok(isPrime(prime), `${prime}`);
  // 3215031751 is a strong pseudoprime to bases 2, 3, 5 and 7; 3825123056546413051 to 2..23.
  for (const composite of [1n, 561n, 3215031751n, 3825123056546413051n, 2n ** 52n - 1n, 65537n * 65539n]) {
    assert.ok(!isPrime(composite), `${composite}`);
  }
});

test('FIELD_PRIME = 2^52 − 47 is prime, the largest below 2^52, and sums of two elements are exact', () => {
  assert.equal(P, 2 ** 52 - 47);
  assert.ok(isPrime(Pn));
  for (let c = 1n; c < 47n; c += 2n) assert.ok(!isPrime(2n ** 52n - c), `2^52 − ${c} should be composite`);
  assert.equal(FIELD_BITS, 52);
  assert.equal(FIELD_BYTES, 7);
  assert.ok(2 * (P - 1) < Number.MAX_SAFE_INTEGER);
});

test('addMod, subMod, negMod and mulMod agree with BigInt', () => {
  fc.assert(
    fc.property(edgeOrAny, edgeOrAny, (a, b) => {
      const A = BigInt(a);
      const B = BigInt(b);
      assert.equal(addMod(a, b), Number((A + B) % Pn));
      assert.equal(subMod(a, b), Number((((A - B) % Pn) + Pn) % Pn));
      assert.equal(negMod(a), Number((Pn - A) % Pn));
      assert.equal(mulMod(a, b), Number((A * B) % Pn));
    }),
    { numRuns: 20_000 },
  );
  // Every pair of edge values, where the split multiply's intermediate bounds are tightest, then many
  // factors whose high halves are maximal (ah = bh = 2^26 − 1 maximises every partial product).
  for (const a of EDGES) for (const b of EDGES) assert.equal(mulMod(a, b), Number((BigInt(a) * BigInt(b)) % Pn), `${a}·${b}`);
  const rng = seededRandomBytes('mulMod-high-halves');
  for (let i = 0; i < 20_000; i++) {
    const [u, v] = new Uint32Array(rng(8).buffer);
    const a = (TWO26 - 1) * TWO26 + (u! % (TWO26 - 47)); // every a with ah = 2^26 − 1 that is < p
    const b = P - 1 - (v! % 1_000_000);
    assert.equal(mulMod(a, b), Number((BigInt(a) * BigInt(b)) % Pn), `${a}·${b}`);
  }
});

test('field axioms hold', () => {
  fc.assert(
    fc.property(element, element, element, (a, b, c) => {
      assert.equal(addMod(a, b), addMod(b, a));
      assert.equal(mulMod(a, b), mulMod(b, a));
      assert.equal(addMod(addMod(a, b), c), addMod(a, addMod(b, c)));
      assert.equal(mulMod(mulMod(a, b), c), mulMod(a, mulMod(b, c)));
      assert.equal(mulMod(a, addMod(b, c)), addMod(mulMod(a, b), mulMod(a, c)));
      assert.equal(addMod(a, 0), a);
      assert.equal(mulMod(a, 1), a);
      assert.equal(addMod(a, negMod(a)), 0);
      assert.equal(subMod(a, b), addMod(a, negMod(b)));
      if (a !== 0) assert.equal(mulMod(a, invMod(a)), 1);
    }),
    { numRuns: 2_000 },
  );
});

test('invMod and powMod: Fermat, known values, and zero refused', () => {
  assert.equal(invMod(1), 1);
  assert.equal(invMod(P - 1), P - 1);
  assert.equal(invMod(2), (P + 1) / 2);
  assert.equal(powMod(3, P - 1), 1);
  assert.equal(powMod(7, 0), 1);
  assert.equal(powMod(2, 52), 47); // 2^52 ≡ 47
  assert.throws(() => invMod(0), /invMod: expected a non-zero element, got 0/);
  assert.throws(() => invMod(P), /invMod: expected a field element/);
  assert.throws(() => powMod(2, -1), /powMod: expected a non-negative safe integer exponent, got -1/);
});

test('addVectorInto, mulAddVectorInto and mulVectorAddInto agree with BigInt element-wise and check lengths', () => {
  assertKernelsAgreeWithBigInt(WIDE_FIELD, edgeOrAny);
  // The kernels inline mulMod's arithmetic: check them at every pair of edge values too.
  const edges = Float64Array.from(EDGES);
  for (const c of EDGES) {
    const acc = new Float64Array(edges.length);
    mulAddVectorInto(acc, edges, c);
    assert.deepEqual(Array.from(acc), EDGES.map((x) => mulMod(x, c)));
    const acc2 = Float64Array.from(edges);
    mulVectorAddInto(acc2, c, new Float64Array(edges.length));
    assert.deepEqual(Array.from(acc2), EDGES.map((x) => Number((BigInt(x) * BigInt(c)) % Pn)));
  }
});

test('randomFieldVector: reproducible from its rng, elements below p, bytes read little-endian', () => {
  const a = randomFieldVector(1000, seededRandomBytes('field'));
  assert.deepEqual(a, randomFieldVector(1000, seededRandomBytes('field')));
  assert.notDeepEqual(a, randomFieldVector(1000, seededRandomBytes('other')));
  for (const x of a) assert.ok(Number.isInteger(x) && x >= 0 && x < P);
  // The top bit of the 52 is set about half the time: the high bytes are used, not dropped.
  const high = a.filter((x) => x >= 2 ** 51).length;
  assert.ok(high > 430 && high < 570, `high-half count ${high}`);
  // 7 bytes, little-endian; the top nibble of the 7th byte is masked off.
  const bytes = Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0xf7]);
  assert.deepEqual(Array.from(randomFieldVector(1, () => bytes)), [0x07_06_05_04_03_02_01]);
  assert.deepEqual(randomFieldVector(0, () => new Uint8Array(0)), new Float64Array(0));
});

test('randomFieldVector rejects candidates ≥ p and draws fresh bytes instead of reducing them', () => {
  const reject = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]; // 2^52 − 1 ≥ p
  const pItself = [0xd1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]; // exactly p: rejected too
  const pMinus1 = [0xd0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]; // p − 1: kept
  const calls: number[] = [];
  const script = [Uint8Array.from([...reject, 5, 0, 0, 0, 0, 0, 0]), Uint8Array.from(pItself), Uint8Array.from(pMinus1)];
  const rng = (n: number) => {
    calls.push(n);
    return script.shift()!;
  };
  assert.deepEqual(Array.from(randomFieldVector(2, rng)), [5, P - 1]);
  assert.deepEqual(calls, [14, 7, 7]);
  assert.throws(() => randomFieldVector(2, () => new Uint8Array(3)), /randomFieldVector: rng returned 3 bytes, expected 14/);
  assert.throws(() => randomFieldVector(-1), /randomFieldVector: expected a non-negative integer length, got -1/);
});

test('seededRandomBytes is a reproducible stream', () => {
  const a = seededRandomBytes('x');
  const b = seededRandomBytes('x');
  const first = a(10);
  assert.deepEqual(first, b(10));
  assert.notDeepEqual(a(10), first);
});
