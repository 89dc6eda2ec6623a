/**
 * The compact field GF(2^37 − 25) (2^37 − 25 is the largest prime below 2^37): a federation that chooses
 * it sends 37 bits per share element instead of 52, which brings an owner's upload at committee 5,
 * threshold 3 (three full vectors, two seeds) from 4.875× to 3.47× the bytes of its float32 update. The
 * price is headroom: sums must stay within ±(p − 1)/2 ≈ 6.9·10^10 field units (fixed-point.ts).
 *
 * Elements are float64 integers as in field.ts. A product of two 37-bit elements does not fit a double,
 * so `mul` splits one factor into 13-bit limbs (b = b₂·2^26 + b₁·2^13 + b₀) and reduces after each
 * Horner step; every intermediate stays below 2^52, and the reduction's quotient, taken from a float
 * multiply by 1/p, is off by at most one, which one conditional correction each way fixes. Addition, the
 * committee's hot loop, is the same branch-free conditional subtraction as the wide field's.
 */
import { defaultRandomBytes, type PrimeField, type RandomBytes } from './field.js';

export const COMPACT_PRIME = 2 ** 37 - 25;
export const COMPACT_BITS = 37;

const P = COMPACT_PRIME;
const INV_P = 1 / P;
const TWO13 = 2 ** 13;
const TWO26 = 2 ** 26;
const TWO32 = 2 ** 32;
/** Bytes per rejection-sampling candidate: 40 bits, the top 3 masked off. */
const CANDIDATE_BYTES = 5;

function isElement(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < P;
}

/** x mod p for an integer 0 ≤ x < 2^52. */
function reduce(x: number): number {
  const q = Math.floor(x * INV_P); // < 2^15, so q·p < 2^52 is exact
  let r = x - q * P;
  r += P * +(r < 0);
  return r - P * +(r >= P);
}

/** a·b mod p with b given as its limbs b₂ (< 2^11), b₁, b₀ (< 2^13). */
function mulLimbs(a: number, b2: number, b1: number, b0: number): number {
  let r = reduce(a * b2); // < 2^48
  r = reduce(r * TWO13 + a * b1); // each term < 2^50
  return reduce(r * TWO13 + a * b0);
}

function limbs(b: number): [number, number, number] {
  const b2 = Math.floor(b / TWO26);
  const rest = b - b2 * TWO26;
  const b1 = Math.floor(rest / TWO13);
  return [b2, b1, rest - b1 * TWO13];
}

function mul(a: number, b: number): number {
  const [b2, b1, b0] = limbs(b);
  return mulLimbs(a, b2, b1, b0);
}

function add(a: number, b: number): number {
  const s = a + b;
  return s - P * +(s >= P);
}

function sub(a: number, b: number): number {
  const d = a - b;
  return d + P * +(d < 0);
}

/** Fermat: a^(p−2). */
function inv(a: number): number {
  if (!isElement(a) || a === 0) throw new Error(a === 0 ? 'inv: expected a non-zero element, got 0' : 'inv: expected a field element in [1, p)');
  let result = 1;
  let base = a;
  for (let e = P - 2; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result = mul(result, base);
    base = mul(base, base);
  }
  return result;
}

function sameLength(fn: string, a: Float64Array, b: Float64Array): void {
  if (a.length !== b.length) throw new Error(`${fn}: expected vectors of equal length, got ${a.length} and ${b.length}`);
}

function addVectorInto(acc: Float64Array, v: Float64Array): void {
  sameLength('addVectorInto', acc, v);
  for (let i = 0; i < acc.length; i++) {
    const s = acc[i]! + v[i]!;
    acc[i] = s - P * +(s >= P);
  }
}

function mulAddVectorInto(acc: Float64Array, v: Float64Array, c: number): void {
  sameLength('mulAddVectorInto', acc, v);
  if (c === 0) return;
  const [c2, c1, c0] = limbs(c);
  for (let i = 0; i < acc.length; i++) acc[i] = add(acc[i]!, mulLimbs(v[i]!, c2, c1, c0));
}

function mulVectorAddInto(acc: Float64Array, c: number, v: Float64Array): void {
  sameLength('mulVectorAddInto', acc, v);
  const [c2, c1, c0] = limbs(c);
  for (let i = 0; i < acc.length; i++) acc[i] = add(mulLimbs(acc[i]!, c2, c1, c0), v[i]!);
}

/**
 * Rejection sampling as in field.ts: each candidate is the low 37 bits of 5 little-endian rng bytes,
 * kept if below p (a candidate is rejected with probability 25/2^37) and never reduced.
 */
function randomVector(length: number, rng: RandomBytes = defaultRandomBytes): Float64Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new Error(`randomVector: expected a non-negative integer length, got ${length}`);
  const out = new Float64Array(length);
  let filled = 0;
  while (filled < length) {
    const want = (length - filled) * CANDIDATE_BYTES;
    const bytes = rng(want);
    if (bytes.length !== want) throw new Error(`randomVector: rng returned ${bytes.length} bytes, expected ${want}`);
    for (let o = 0; o < want; o += CANDIDATE_BYTES) {
      const low = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
      const candidate = (bytes[o + 4]! & 0x1f) * TWO32 + low;
      if (candidate < P) out[filled++] = candidate;
    }
  }
  return out;
}

export const COMPACT_FIELD: PrimeField = Object.freeze({
  prime: P,
  bits: COMPACT_BITS,
  isElement,
  add,
  sub,
  mul,
  inv,
  addVectorInto,
  mulAddVectorInto,
  mulVectorAddInto,
  randomVector,
});
