/**
 * Shamir secret sharing (Shamir 1979) of whole vectors over GF(p) — the wide field unless a `field`
 * is given (a compact-field federation's training rounds pass compact-field.ts's), coordinate by coordinate with one
 * polynomial per coordinate: f(X) = s + a_1·X + … + a_{t−1}·X^{t−1}, member x (= 1..k) receives f(x).
 * Sharing is linear, so a committee member's sum of the shares it holds is a share of the sum of the
 * secrets, and any t partial sums reconstruct the sum (DESIGN, protocol 2).
 *
 * The compact form sends t−1 of the k shares as 32-byte PRG seeds. It rests on one fact: for distinct
 * non-zero x_1..x_{t−1}, the map (a_1..a_{t−1}) ↦ (f(x_1)..f(x_{t−1})) − s is given by the matrix
 * [x_i^j] (i, j = 1..t−1), a scaled Vandermonde matrix with determinant Π x_i · Π_{i<j}(x_j − x_i) ≠ 0.
 * It is a bijection, so uniform coefficients give uniform, independent shares at those t−1 points, for
 * every secret; conversely, drawing those t−1 shares uniformly and interpolating the polynomial through
 * them and (0, s) yields exactly splitVector's joint distribution of all k shares. With the shares drawn
 * from expandSeed instead of true randomness the equivalence is computational (ChaCha20 as a PRG).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { assertFieldVector, defaultRandomBytes, WIDE_FIELD, type PrimeField, type RandomBytes } from './field.js';

export interface Share {
  x: number;
  values: Float64Array;
}

export interface CompactShares {
  seeds: { x: number; seed: Uint8Array }[];
  vectors: Share[];
}

export const SEED_BYTES = 32;

function checkParameters(fn: string, threshold: number, members: number, field: PrimeField): void {
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new Error(`${fn}: expected a positive integer threshold, got ${threshold}`);
  if (!Number.isSafeInteger(members) || members < threshold || members >= field.prime) {
    throw new Error(`${fn}: expected an integer number of members in [threshold, p), got ${members} for threshold ${threshold}`);
  }
}

function checkDistinctXs(fn: string, xs: number[], allowZero: boolean, field: PrimeField): void {
  const seen = new Set<number>();
  for (const x of xs) {
    if (!field.isElement(x) || (x === 0 && !allowZero)) throw new Error(`${fn}: expected x in ${allowZero ? '[0, p)' : '[1, p)'}, got ${x}`);
    if (seen.has(x)) throw new Error(`${fn}: duplicate x = ${x}`);
    seen.add(x);
  }
}

/**
 * Lagrange basis at `at` for the nodes xs: L_i(at) = Π_{j≠i} (at − x_j) / (x_i − x_j), so that
 * Σ L_i(at)·f(x_i) = f(at) for every f of degree < xs.length. One inversion per node.
 */
export function lagrangeCoefficients(xs: number[], at: number, field: PrimeField = WIDE_FIELD): number[] {
  checkDistinctXs('lagrangeCoefficients', xs, true, field);
  if (!field.isElement(at)) throw new Error(`lagrangeCoefficients: expected a field element to evaluate at, got ${at}`);
  return xs.map((xi, i) => {
    let numerator = 1;
    let denominator = 1;
    for (let j = 0; j < xs.length; j++) {
      if (j === i) continue;
      numerator = field.mul(numerator, field.sub(at, xs[j]!));
      denominator = field.mul(denominator, field.sub(xi, xs[j]!));
    }
    return field.mul(numerator, field.inv(denominator));
  });
}

/** Shamir 1979: f(0) = Σ λ_i·f(x_i) with λ_i = Π_{j≠i} x_j / (x_j − x_i). Depends only on xs: cache it. */
export function lagrangeAtZero(xs: number[], field: PrimeField = WIDE_FIELD): number[] {
  checkDistinctXs('lagrangeAtZero', xs, false, field);
  return lagrangeCoefficients(xs, 0, field);
}

/** Σ c_i·v_i (mod p) over equal-length vectors. */
export function linearCombination(vectors: Float64Array[], coefficients: number[], field: PrimeField = WIDE_FIELD): Float64Array {
  if (vectors.length !== coefficients.length) {
    throw new Error(`linearCombination: expected one coefficient per vector, got ${coefficients.length} for ${vectors.length}`);
  }
  const out = new Float64Array(vectors[0]?.length ?? 0);
  vectors.forEach((v, i) => field.mulAddVectorInto(out, v, coefficients[i]!));
  return out;
}

/** The polynomial through `points` (degree < points.length), evaluated at `at`, per coordinate. */
export function interpolateAt(points: Share[], at: number, field: PrimeField = WIDE_FIELD): Float64Array {
  const coefficients = lagrangeCoefficients(
    points.map((point) => point.x),
    at,
    field,
  );
  return linearCombination(
    points.map((point) => point.values),
    coefficients,
    field,
  );
}

/**
 * Shares f(1)..f(members) of a fresh random polynomial of degree threshold − 1 per coordinate with
 * f(0) = secret. Coefficient vectors a_1, …, a_{t−1} are drawn in that order from rng, each by
 * randomFieldVector (tests replay chosen coefficients through a scripted rng).
 */
export function splitVector(secret: Float64Array, threshold: number, members: number, rng: RandomBytes = defaultRandomBytes, field: PrimeField = WIDE_FIELD): Share[] {
  checkParameters('splitVector', threshold, members, field);
  assertFieldVector('splitVector', secret, 'secret element', field);
  const n = secret.length;
  const coefficients = Array.from({ length: threshold - 1 }, () => field.randomVector(n, rng));
  const shares: Share[] = [];
  for (let x = 1; x <= members; x++) {
    // Horner: f(x) = (…(a_{t−1}·x + a_{t−2})·x + … + a_1)·x + s, one vector step at a time
    const values = new Float64Array(n);
    for (let j = threshold - 2; j >= 0; j--) field.mulVectorAddInto(values, x, coefficients[j]!);
    field.mulVectorAddInto(values, x, secret);
    shares.push({ x, values });
  }
  return shares;
}

/**
 * Shamir 1979: any t points fix the polynomial, so f(0) = Σ λ_i·y_i over the first `threshold` shares.
 * All shares given are checked (distinct x, equal lengths, field elements); extra ones are not used.
 */
export function reconstructVector(shares: Share[], threshold: number, field: PrimeField = WIDE_FIELD): Float64Array {
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new Error(`reconstructVector: expected a positive integer threshold, got ${threshold}`);
  if (shares.length < threshold) throw new Error(`reconstructVector: expected at least ${threshold} shares, got ${shares.length}`);
  checkDistinctXs(
    'reconstructVector',
    shares.map((share) => share.x),
    false,
    field,
  );
  const n = shares[0]!.values.length;
  shares.forEach((share, i) => {
    if (share.values.length !== n) throw new Error(`reconstructVector: share ${i} has ${share.values.length} values, share 0 has ${n}`);
    assertFieldVector('reconstructVector', share.values, `share ${i} element`, field);
  });
  const used = shares.slice(0, threshold);
  return linearCombination(
    used.map((share) => share.values),
    lagrangeAtZero(
      used.map((share) => share.x),
      field,
    ),
    field,
  );
}

// The PRG's ChaCha20 nonce: a fixed label, so this keystream is never the one the same 32 bytes would
// give in another role (domain separation). node's 16-byte chacha20 IV is the RFC 8439 §2.3 block
// counter (32-bit little-endian, here 0) followed by the 96-bit nonce.
const PRG_IV = Buffer.concat([Buffer.alloc(4), createHash('sha256').update('fedscore/shamir-seed-prg/v1').digest().subarray(0, 12)]);

/**
 * Expands a 32-byte seed into `length` uniform field elements: the ChaCha20 keystream under key = seed
 * and the label nonce, read by randomFieldVector's rejection sampler. Deterministic, so a committee
 * member holding the seed recomputes exactly the share the owner interpolated against.
 */
export function expandSeed(seed: Uint8Array, length: number, field: PrimeField = WIDE_FIELD): Float64Array {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new Error(`expandSeed: expected a ${SEED_BYTES}-byte seed, got ${seed instanceof Uint8Array ? `${seed.length} bytes` : typeof seed}`);
  }
  const cipher = createCipheriv('chacha20', seed, PRG_IV);
  return field.randomVector(length, (n) => cipher.update(new Uint8Array(n)));
}

/**
 * Shamir shares of `secret` where the members at seededXs (exactly t−1 distinct x in 1..k) receive a
 * seed instead of a vector: their share is expandSeed(seed, length). Those t−1 shares and (0, secret)
 * fix the polynomial; the other k−t+1 shares are interpolated from them. By the bijection in the file
 * comment, the shares are distributed as splitVector's (computationally, ChaCha20 standing in for
 * uniform bytes). Seeds and vectors come back in ascending x.
 */
export function splitVectorCompact(
  secret: Float64Array,
  threshold: number,
  members: number,
  seededXs: number[],
  rng: RandomBytes = defaultRandomBytes,
  field: PrimeField = WIDE_FIELD,
): CompactShares {
  checkParameters('splitVectorCompact', threshold, members, field);
  if (seededXs.length !== threshold - 1) {
    throw new Error(`splitVectorCompact: expected exactly threshold − 1 = ${threshold - 1} seeded x, got ${seededXs.length}`);
  }
  checkDistinctXs('splitVectorCompact', seededXs, false, field);
  for (const x of seededXs) {
    if (!Number.isInteger(x) || x > members) throw new Error(`splitVectorCompact: expected seeded x in 1..${members}, got ${x}`);
  }
  assertFieldVector('splitVectorCompact', secret, 'secret element', field);
  const sortedSeeded = [...seededXs].sort((a, b) => a - b);
  const seeds = sortedSeeded.map((x) => {
    const drawn = rng(SEED_BYTES);
    if (drawn.length !== SEED_BYTES) throw new Error(`splitVectorCompact: rng returned ${drawn.length} bytes, expected ${SEED_BYTES}`);
    return { x, seed: Uint8Array.from(drawn) };
  });
  const points: Share[] = [{ x: 0, values: secret }, ...seeds.map(({ x, seed }) => ({ x, values: expandSeed(seed, secret.length, field) }))];
  const seeded = new Set(sortedSeeded);
  const vectors: Share[] = [];
  for (let x = 1; x <= members; x++) if (!seeded.has(x)) vectors.push({ x, values: interpolateAt(points, x, field) });
  return { seeds, vectors };
}
