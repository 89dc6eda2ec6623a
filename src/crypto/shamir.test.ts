/**
 * Tests for Shamir sharing of vectors: every t-subset reconstructs, fewer or malformed shares are
 * refused, sharing is linear (the property secure aggregation rests on), t−1 shares carry no
 * information about the secret, and the compact (seeded) split is splitVector for the coefficients
 * its seeds determine. The PRG has a known-answer vector.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { COMPACT_FIELD } from './compact-field.js';
import { addVectorInto, FIELD_PRIME, randomFieldVector, seededRandomBytes, type RandomBytes } from './field.js';
import {
  expandSeed,
  interpolateAt,
  lagrangeAtZero,
  lagrangeCoefficients,
  reconstructVector,
  splitVector,
  splitVectorCompact,
  type Share,
} from './shamir.js';

const P = FIELD_PRIME;
const Pn = BigInt(P);

function subsets<T>(items: T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (items.length < size) return [];
  const [first, ...rest] = items;
  return [...subsets(rest, size - 1).map((s) => [first!, ...s]), ...subsets(rest, size)];
}

/** randomFieldVector's input format: 7 little-endian bytes per candidate (not the 52-bit wire packing). */
function rejectionSamplerBytes(v: Float64Array): Uint8Array {
  const out = Buffer.alloc(7 * v.length);
  v.forEach((x, i) => {
    out.writeUIntLE(x % 2 ** 48, 7 * i, 6);
    out[7 * i + 6] = Math.floor(x / 2 ** 48);
  });
  return new Uint8Array(out);
}

/** An rng that hands out exactly these coefficient vectors, in the byte format randomFieldVector reads. */
function scriptedCoefficients(vectors: Float64Array[]): RandomBytes {
  const queue = vectors.map(rejectionSamplerBytes);
  return (n) => {
    const next = queue.shift();
    if (!next || next.length !== n) throw new Error(`scripted rng: unexpected request for ${n} bytes`);
    return next;
  };
}

/** Coefficients (constant term first) of the polynomial through the points, per coordinate, in BigInt. */
function interpolatingCoefficients(points: Share[]): Float64Array[] {
  const n = points[0]!.values.length;
  const degree = points.length;
  const out = Array.from({ length: degree }, () => new Float64Array(n));
  const inv = (a: bigint) => {
    let result = 1n;
    let b = ((a % Pn) + Pn) % Pn;
    for (let e = Pn - 2n; e > 0n; e >>= 1n) {
      if (e & 1n) result = (result * b) % Pn;
      b = (b * b) % Pn;
    }
    return result;
  };
  for (let c = 0; c < n; c++) {
    const total = new Array<bigint>(degree).fill(0n);
    points.forEach((pi, i) => {
      // basis_i(X) = Π_{j≠i} (X − x_j) / (x_i − x_j), expanded as a coefficient list
      let basis = [1n];
      let denominator = 1n;
      points.forEach((pj, j) => {
        if (j === i) return;
        const next = new Array<bigint>(basis.length + 1).fill(0n);
        basis.forEach((b, k) => {
          next[k + 1] = (next[k + 1]! + b) % Pn;
          next[k] = (((next[k]! - b * BigInt(pj.x)) % Pn) + Pn) % Pn;
        });
        basis = next;
        denominator = (denominator * BigInt(pi.x - pj.x + P)) % Pn;
      });
      const scale = (BigInt(pi.values[c]!) * inv(denominator)) % Pn;
      basis.forEach((b, k) => (total[k] = (total[k]! + b * scale) % Pn));
    });
    total.forEach((v, k) => (out[k]![c] = Number(v)));
  }
  return out;
}

const secretArb = fc.integer({ min: 0, max: 12 }).chain((n) => fc.array(fc.bigInt({ min: 0n, max: Pn - 1n }).map(Number), { minLength: n, maxLength: n }));
const tkArb = fc.integer({ min: 1, max: 7 }).chain((k) => fc.tuple(fc.integer({ min: 1, max: k }), fc.constant(k)));

test('every t-subset of the k shares reconstructs the secret (k ≤ 6)', () => {
  const rng = seededRandomBytes('every-subset');
  for (let k = 1; k <= 6; k++) {
    for (let t = 1; t <= k; t++) {
      const secret = randomFieldVector(9, rng);
      const shares = splitVector(secret, t, k, rng);
      assert.deepEqual(
        shares.map((share) => share.x),
        Array.from({ length: k }, (_, i) => i + 1),
      );
      for (const subset of subsets(shares, t)) {
        assert.deepEqual(reconstructVector(subset, t), secret, `t=${t} k=${k} xs=${subset.map((s) => s.x)}`);
        assert.deepEqual(reconstructVector([...subset].reverse(), t), secret);
      }
    }
  }
});

test('reconstruct(split(x)) = x for random t, k ≤ 7, any t shares in any order', () => {
  fc.assert(
    fc.property(secretArb, tkArb, fc.infiniteStream(fc.nat()), (values, [t, k], picks) => {
      const secret = Float64Array.from(values);
      const shares = splitVector(secret, t, k);
      const pool = [...shares];
      const chosen: Share[] = [];
      const it = picks[Symbol.iterator]();
      while (chosen.length < t) chosen.push(pool.splice(it.next().value % pool.length, 1)[0]!);
      assert.deepEqual(reconstructVector(chosen, t), secret);
    }),
    { numRuns: 300 },
  );
});

test('reconstructVector refuses too few, duplicate, mismatched or malformed shares and uses exactly t', () => {
  const secret = Float64Array.from([1, 2, 3]);
  const shares = splitVector(secret, 3, 5, seededRandomBytes('refuse'));
  assert.throws(() => reconstructVector(shares.slice(0, 2), 3), /reconstructVector: expected at least 3 shares, got 2/);
  assert.throws(() => reconstructVector([shares[0]!, shares[1]!, shares[0]!], 3), /reconstructVector: duplicate x = 1/);
  assert.throws(() => reconstructVector([shares[0]!, shares[1]!, { x: 3, values: new Float64Array(2) }], 3), /share 2 has 2 values, share 0 has 3/);
  assert.throws(() => reconstructVector([{ x: 0, values: secret }, shares[1]!, shares[2]!], 3), /reconstructVector: expected x in \[1, p\), got 0/);
  assert.throws(() => reconstructVector([shares[0]!, shares[1]!, { x: 3, values: Float64Array.of(1, 2, P) }], 3), /share 2 element 2 is not a field element/);
  assert.throws(() => reconstructVector(shares, 0), /expected a positive integer threshold, got 0/);
  // A corrupted fourth share does not matter: only the first t are combined.
  const corrupted = { x: 4, values: Float64Array.of(0, 0, 0) };
  assert.deepEqual(reconstructVector([...shares.slice(0, 3), corrupted], 3), secret);
  assert.notDeepEqual(reconstructVector([corrupted, ...shares.slice(0, 2)], 3), secret);
});

test('splitVector refuses bad parameters and non-field secrets without printing them', () => {
  assert.throws(() => splitVector(Float64Array.of(1), 4, 3), /splitVector: expected an integer number of members in \[threshold, p\), got 3 for threshold 4/);
  assert.throws(() => splitVector(Float64Array.of(1), 0, 3), /splitVector: expected a positive integer threshold, got 0/);
  assert.throws(
    () => splitVector(Float64Array.of(0, 123456.5), 2, 3),
    (error: Error) => /splitVector: secret element 1 is not a field element/.test(error.message) && !error.message.includes('123456'),
  );
});

test('sharing is linear: the sum of reconstructions is the reconstruction of summed shares', () => {
  fc.assert(
    fc.property(tkArb, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 6 }), ([t, k], owners, length) => {
      const rng = seededRandomBytes(`linear-${t}-${k}-${owners}-${length}`);
      const secrets = Array.from({ length: owners }, () => randomFieldVector(length, rng));
      const partials = Array.from({ length: k }, (_, i) => ({ x: i + 1, values: new Float64Array(length) }));
      for (const secret of secrets) splitVector(secret, t, k, rng).forEach((share, i) => addVectorInto(partials[i]!.values, share.values));
      const expected = new Float64Array(length);
      for (const secret of secrets) addVectorInto(expected, secret);
      assert.deepEqual(reconstructVector(partials.slice(k - t), t), expected);
    }),
    { numRuns: 200 },
  );
});

test('lagrangeAtZero: known coefficients, they sum to 1, and bad nodes are refused', () => {
  assert.deepEqual(lagrangeAtZero([1, 2]), [2, P - 1]);
  assert.deepEqual(lagrangeAtZero([1, 2, 3]), [3, P - 3, 1]);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 8 }), (xs) => {
      const sum = lagrangeAtZero(xs).reduce((acc, c) => (acc + BigInt(c)) % Pn, 0n);
      assert.equal(sum, 1n);
    }),
  );
  assert.throws(() => lagrangeAtZero([1, 0]), /lagrangeAtZero: expected x in \[1, p\), got 0/);
  assert.throws(() => lagrangeAtZero([2, 2]), /lagrangeAtZero: duplicate x = 2/);
  assert.deepEqual(lagrangeCoefficients([0, 1], 1), [0, 1]);
});

// Why t−1 shares reveal nothing, tested as the bijection it rests on (a frequency test cannot tell a
// uniform 52-bit distribution from a slightly skewed one). For fixed distinct non-zero x_1..x_{t−1},
// the shares are y = s·1 + V·a with V = [x_i^j] invertible. So for ANY other secret s' there is exactly
// one coefficient vector a' with s'·1 + V·a' = y: each share vector y arises from exactly one a under s
// and exactly one a' under s', so with uniform coefficients P(y | s) = P(y | s') = p^-(t−1). The test
// runs the real splitVector for s, builds a' by interpolating the polynomial through (0, s') and the
// observed shares, feeds a' to splitVector through a scripted rng, and checks that the same t−1 shares
// come out (existence) and that a' is the only preimage (the map is injective: a different a'' moves at
// least one of the shares).
test('any t−1 shares are equally likely under every secret (coefficients → shares is a bijection)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 6 }).chain((t) => fc.tuple(fc.constant(t), fc.integer({ min: t, max: 7 }))), fc.nat(), ([t, k], which) => {
      const rng = seededRandomBytes(`bijection-${t}-${k}-${which}`);
      const length = 3;
      const s = randomFieldVector(length, rng);
      const sPrime = randomFieldVector(length, rng);
      const coefficients = Array.from({ length: t - 1 }, () => randomFieldVector(length, rng));
      const shares = splitVector(s, t, k, scriptedCoefficients(coefficients));
      const allSubsets = subsets(shares, t - 1);
      const observed = allSubsets[which % allSubsets.length]!;
      const aPrime = interpolatingCoefficients([{ x: 0, values: sPrime }, ...observed]).slice(1);
      const sharesPrime = splitVector(sPrime, t, k, scriptedCoefficients(aPrime));
      for (const share of observed) assert.deepEqual(sharesPrime[share.x - 1]!.values, share.values);
      // Injective: perturbing any one coefficient of a' changes some observed share.
      for (let j = 0; j < t - 1; j++) {
        const perturbed = aPrime.map((a) => Float64Array.from(a));
        perturbed[j]![0] = (perturbed[j]![0]! + 1) % P;
        const moved = splitVector(sPrime, t, k, scriptedCoefficients(perturbed));
        assert.ok(observed.some((share) => moved[share.x - 1]!.values[0] !== share.values[0]));
      }
    }),
    { numRuns: 150 },
  );
});

// A smoke test of the plumbing, not the argument above: shares at x = 1 for two very different secrets
// have the same flat low-byte histogram (chi-square, 255 degrees of freedom, seeded so it is stable).
test('the low byte of a share looks uniform whatever the secret (chi-square smoke test)', () => {
  const samples = 8_192;
  for (const secretValue of [0, P - 1]) {
    const counts = new Array<number>(256).fill(0);
    const rng = seededRandomBytes(`chi-square-${secretValue}`);
    const secret = Float64Array.of(secretValue);
    for (let i = 0; i < samples; i++) counts[splitVector(secret, 3, 3, rng)[0]!.values[0]! % 256]!++;
    const expected = samples / 256;
    const chiSquare = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    assert.ok(chiSquare < 340, `chi-square ${chiSquare.toFixed(1)} (99.9th percentile ≈ 330)`);
  }
});

test('splitVectorCompact: t−1 seeds, k−t+1 vectors, and every t-subset reconstructs', () => {
  const rng = seededRandomBytes('compact');
  for (let k = 1; k <= 6; k++) {
    for (let t = 1; t <= k; t++) {
      for (const seededXs of subsets(
        Array.from({ length: k }, (_, i) => i + 1),
        t - 1,
      )) {
        const secret = randomFieldVector(5, rng);
        const compact = splitVectorCompact(secret, t, k, [...seededXs].reverse(), rng);
        assert.deepEqual(
          compact.seeds.map((s) => s.x),
          seededXs,
        );
        assert.equal(compact.vectors.length, k - t + 1);
        for (const { seed } of compact.seeds) assert.equal(seed.length, 32);
        const shares: Share[] = [...compact.seeds.map(({ x, seed }) => ({ x, values: expandSeed(seed, 5) })), ...compact.vectors];
        assert.deepEqual(
          shares.map((s) => s.x).sort((a, b) => a - b),
          Array.from({ length: k }, (_, i) => i + 1),
        );
        for (const subset of subsets(shares, t)) assert.deepEqual(reconstructVector(subset, t), secret);
      }
    }
  }
});

// The distribution claim, made exact: the compact split IS splitVector run with the coefficient vector
// a* that maps (by the bijection above) to the expanded seeds. So if the expanded seeds are uniform (a
// PRG's promise), a* is uniform and the k shares are distributed exactly as splitVector's.
test('splitVectorCompact equals splitVector for the coefficients its seeds determine', () => {
  fc.assert(
    fc.property(tkArb, fc.integer({ min: 0, max: 6 }), fc.nat(), ([t, k], length, which) => {
      const rng = seededRandomBytes(`compact-equals-${t}-${k}-${length}-${which}`);
      const secret = randomFieldVector(length, rng);
      const choices = subsets(
        Array.from({ length: k }, (_, i) => i + 1),
        t - 1,
      );
      const seededXs = choices[which % choices.length]!;
      const compact = splitVectorCompact(secret, t, k, seededXs, rng);
      const seededShares = compact.seeds.map(({ x, seed }) => ({ x, values: expandSeed(seed, length) }));
      const coefficients = length === 0 ? [] : interpolatingCoefficients([{ x: 0, values: secret }, ...seededShares]).slice(1);
      const full = splitVector(secret, t, k, length === 0 ? () => new Uint8Array(0) : scriptedCoefficients(coefficients));
      for (const share of [...seededShares, ...compact.vectors]) assert.deepEqual(share.values, full[share.x - 1]!.values, `x=${share.x}`);
    }),
    { numRuns: 200 },
  );
});

test('splitVectorCompact refuses seeded x that are not t−1 distinct members', () => {
  const secret = Float64Array.of(1, 2);
  assert.throws(() => splitVectorCompact(secret, 3, 5, [1]), /splitVectorCompact: expected exactly threshold − 1 = 2 seeded x, got 1/);
  assert.throws(() => splitVectorCompact(secret, 3, 5, [2, 2]), /splitVectorCompact: duplicate x = 2/);
  assert.throws(() => splitVectorCompact(secret, 3, 5, [1, 6]), /splitVectorCompact: expected seeded x in 1..5, got 6/);
  assert.throws(() => splitVectorCompact(secret, 3, 5, [0, 1]), /splitVectorCompact: expected x in \[1, p\), got 0/);
  assert.throws(() => splitVectorCompact(secret, 3, 5, [1, 2], () => new Uint8Array(16)), /rng returned 16 bytes, expected 32/);
});

test('interpolateAt passes through its points', () => {
  const points = [
    { x: 0, values: Float64Array.of(5, 7) },
    { x: 2, values: Float64Array.of(9, 1) },
  ];
  assert.deepEqual(interpolateAt(points, 0), points[0]!.values);
  assert.deepEqual(interpolateAt(points, 2), points[1]!.values);
  assert.deepEqual(interpolateAt(points, 1), Float64Array.of(7, (7 + P - 3) % P)); // the line 5 + 2x, and 7 − 3x
});

test('expandSeed: known answer, deterministic, prefix-stable, seed-sensitive, refuses bad seeds', () => {
  const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
  const kat = expandSeed(seed, 4);
  assert.deepEqual(Array.from(kat), KAT_EXPAND_SEED);
  // Independently: the first element is the low 52 bits of the first 7 bytes of ChaCha20 (RFC 8439)
  // under key = seed, counter 0, nonce = SHA-256("fedscore/shamir-seed-prg/v1")[0..12].
  const nonce = createHash('sha256').update('fedscore/shamir-seed-prg/v1').digest().subarray(0, 12);
  const stream = createCipheriv('chacha20', seed, Buffer.concat([Buffer.alloc(4), nonce])).update(Buffer.alloc(7));
  const littleEndian = BigInt(`0x${Buffer.from(stream).reverse().toString('hex')}`);
  assert.equal(kat[0], Number(littleEndian & ((1n << 52n) - 1n)));
  assert.deepEqual(expandSeed(seed, 4), kat);
  assert.deepEqual(expandSeed(seed, 1000).subarray(0, 4), kat);
  const other = Uint8Array.from(seed);
  other[31]! ^= 1;
  assert.notDeepEqual(expandSeed(other, 4), kat);
  for (const x of expandSeed(seed, 5000)) assert.ok(x < P);
  assert.throws(() => expandSeed(new Uint8Array(31), 4), /expandSeed: expected a 32-byte seed, got 31 bytes/);
});

// node's chacha20 IV layout (32-bit little-endian counter, then the 96-bit nonce) is what the PRG's
// determinism across machines rests on: pin it to RFC 8439 §2.4.2's test vector.
test('node chacha20 matches RFC 8439 §2.4.2', () => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const iv = Buffer.from('01000000' + '000000000000004a00000000', 'hex');
  const plaintext = Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
  assert.equal(
    createCipheriv('chacha20', key, iv).update(plaintext).toString('hex'),
    '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0bf91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d807ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab77937365af90bbf74a35be6b40b8eedf2785e42874d',
  );
});

// expandSeed(00 01 … 1f, 4), pinned so a change to the PRG (key, nonce, sampler) cannot pass unnoticed.
const KAT_EXPAND_SEED = [3213392972795659, 2393461400302422, 2071640640453838, 3410981470601532];

test('in the compact field: the compact split reconstructs from every t-subset, and sharing stays linear', () => {
  const rng = seededRandomBytes('compact field shamir');
  const F = COMPACT_FIELD;
  for (const [k, t] of [
    [5, 3],
    [3, 2],
    [4, 4],
  ] as const) {
    const a = F.randomVector(7, rng);
    const b = F.randomVector(7, rng);
    const seededXs = Array.from({ length: t - 1 }, (_, i) => i + 1);
    const share = (secret: Float64Array): Share[] => {
      const { seeds, vectors } = splitVectorCompact(secret, t, k, seededXs, rng, F);
      return [...seeds.map(({ x, seed }) => ({ x, values: expandSeed(seed, 7, F) })), ...vectors].sort((p, q) => p.x - q.x);
    };
    const sa = share(a);
    const sb = share(b);
    for (const s of [...sa, ...sb]) for (const x of s.values) assert.ok(F.isElement(x));
    for (const subset of subsets(sa, t)) assert.deepEqual(reconstructVector(subset, t, F), a);
    // Members add what they hold; any t of those sums reconstruct a + b.
    const summed = sa.map((s, i) => {
      const values = Float64Array.from(s.values);
      F.addVectorInto(values, sb[i]!.values);
      return { x: s.x, values };
    });
    const expected = Float64Array.from(a);
    F.addVectorInto(expected, b);
    for (const subset of subsets(summed, t)) assert.deepEqual(reconstructVector(subset, t, F), expected);
  }
  // A wide-field element is out of range here, and is refused rather than reduced.
  assert.throws(() => splitVector(Float64Array.of(2 ** 40), 2, 3, rng, F), /splitVector: secret element 0 is not a field element/);
});
