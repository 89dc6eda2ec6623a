/**
 * The prime field of secure aggregation (DESIGN, protocol 2): every share, partial sum and encoded
 * update is a vector over GF(p) with p = 2^52 − 47, the largest prime below 2^52. Elements are held as
 * float64 integers: any two sum to less than 2^53, so addition is exact and needs one conditional
 * subtraction, which keeps the committee's hot loop (summing tens of thousands of shares) on
 * Float64Array. Multiplication, only needed off that loop (share generation, Lagrange), splits both
 * factors into 26-bit halves and folds the high part with 2^52 ≡ 47 (mod p); every intermediate stays
 * below 2^53, so it is exact too. field.test.ts proves p prime (deterministic Miller–Rabin) and checks
 * every operation against BigInt.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';

/** Injectable source of randomness: returns n fresh bytes. Tests pass a seeded or scripted one. */
export type RandomBytes = (n: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (n) => randomBytes(n);

/**
 * A reproducible byte stream for known-answer tests and benchmarks: the ChaCha20 keystream under
 * SHA-256(label). Anyone who knows the label knows every byte, so it must never generate real keys,
 * shares or seeds; production code takes the default rng.
 */
export function seededRandomBytes(label: string): RandomBytes {
  const key = createHash('sha256').update(`fedscore/seeded-random-bytes/${label}`).digest();
  const cipher = createCipheriv('chacha20', key, Buffer.alloc(16));
  return (n) => new Uint8Array(cipher.update(new Uint8Array(n)));
}

/**
 * A prime field as secure aggregation uses it: element-wise kernels over Float64Array, the rejection
 * sampler, and the bit width elements travel in (share-codec packs them that wide). Two exist: this
 * file's wide field, 2^52 − 47, and compact-field.ts's 2^37 − 25, which a federation may choose for
 * smaller uploads when its sums fit (fixed-point.ts, "encodings").
 */
export interface PrimeField {
  /** The prime, below 2^52 so that a sum of two elements is exact in float64. */
  readonly prime: number;
  /** Bits per packed element: ⌈log2 p⌉. */
  readonly bits: number;
  isElement(x: unknown): x is number;
  add(a: number, b: number): number;
  sub(a: number, b: number): number;
  mul(a: number, b: number): number;
  inv(a: number): number;
  /** acc ← acc + v (mod p): the committee's hot loop. */
  addVectorInto(acc: Float64Array, v: Float64Array): void;
  /** acc ← acc + c·v (mod p). */
  mulAddVectorInto(acc: Float64Array, v: Float64Array, c: number): void;
  /** acc ← c·acc + v (mod p). */
  mulVectorAddInto(acc: Float64Array, c: number, v: Float64Array): void;
  /** `length` independent uniform elements, bytes consumed in order (expandSeed relies on it). */
  randomVector(length: number, rng?: RandomBytes): Float64Array;
}

/** 2^52 − C with C = 47: prime (see field.test.ts), and 2^52 ≡ C (mod p) drives mulMod's folding. */
const C = 47;
export const FIELD_PRIME = 2 ** 52 - C;
export const FIELD_BITS = 52;
/** Bytes per element in the little-endian fixed-width encodings (share-codec, rejection sampling). */
export const FIELD_BYTES = Math.ceil(FIELD_BITS / 8);

const P = FIELD_PRIME;
const TWO26 = 2 ** 26;
const INV_TWO26 = 2 ** -26; // multiplying by it is exact, like dividing by 2^26
const TWO32 = 2 ** 32;

export function isFieldElement(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < P;
}

/**
 * Throws unless every element of v is an integer in [0, p) of `field` (the wide one unless given). The
 * message names the index only: the value may be a share or an encoded weight.
 */
export function assertFieldVector(fn: string, v: ArrayLike<number>, what = 'element', field: PrimeField = WIDE_FIELD): void {
  for (let i = 0; i < v.length; i++) {
    if (!field.isElement(v[i])) throw new Error(`${fn}: ${what} ${i} is not a field element (an integer in [0, p))`);
  }
}

// The scalar operations trust their inputs to be field elements: they sit inside loops over whole
// vectors, which check their inputs once at the edge.

// Conditional subtraction is written `s - P * +(s >= P)` rather than `s >= P ? s - P : s`: V8 compiles
// it without a branch, and on uniformly random elements the branch mispredicts half the time (≈4× slower
// summing loop on this project's machine). Both forms are exact.

export function addMod(a: number, b: number): number {
  const s = a + b; // < 2p < 2^53: exact
  return s - P * +(s >= P);
}

export function subMod(a: number, b: number): number {
  const d = a - b;
  return d + P * +(d < 0);
}

export function negMod(a: number): number {
  return a === 0 ? 0 : P - a;
}

/**
 * a·b mod p without BigInt. With a = ah·2^26 + al and b likewise (halves < 2^26):
 *   a·b = (ah·bh)·2^52 + (ah·bl + al·bh)·2^26 + al·bl,
 * each product < 2^52 and the middle sum < 2^53. Splitting the middle term as mh·2^26 + ml gives
 *   a·b = high·2^52 + ml·2^26 + al·bl  with high = ah·bh + mh < 2^52 + 2^27,
 * and 2^52 ≡ 47 folds high·2^52 to 47·high = 47·hh·2^26 + 47·hl (high = hh·2^26 + hl). The new
 * coefficient of 2^26, t = 47·hh + ml < 2^33, folds once more (t = th·2^26 + tl, th < 2^7). What is
 * left, tl·2^26 + al·bl < 2^53 − 3·2^26 < 2p, and 47·(hl + th) < 2^32 each need one subtraction.
 */
export function mulMod(a: number, b: number): number {
  const ah = Math.floor(a * INV_TWO26);
  const al = a - ah * TWO26;
  const bh = Math.floor(b * INV_TWO26);
  const bl = b - bh * TWO26;
  const mid = ah * bl + al * bh;
  const mh = Math.floor(mid * INV_TWO26);
  const ml = mid - mh * TWO26;
  const high = ah * bh + mh;
  const hh = Math.floor(high * INV_TWO26);
  const hl = high - hh * TWO26;
  const t = hh * C + ml;
  const th = Math.floor(t * INV_TWO26);
  const tl = t - th * TWO26;
  let r = tl * TWO26 + al * bl;
  r -= P * +(r >= P);
  r += (hl + th) * C;
  return r - P * +(r >= P);
}

/** a^e mod p by square-and-multiply; e a non-negative safe integer. */
export function powMod(a: number, e: number): number {
  if (!Number.isSafeInteger(e) || e < 0) throw new Error(`powMod: expected a non-negative safe integer exponent, got ${e}`);
  let result = 1;
  let base = a;
  let rest = e;
  while (rest > 0) {
    if (rest % 2 === 1) result = mulMod(result, base);
    base = mulMod(base, base);
    rest = Math.floor(rest / 2);
  }
  return result;
}

/** Fermat: a^(p−2) = a^(−1) for a ≠ 0 in a prime field. */
export function invMod(a: number): number {
  if (!isFieldElement(a) || a === 0) {
    // Zero is the only value worth naming; anything else out of range is a caller bug, not a secret.
    throw new Error(a === 0 ? 'invMod: expected a non-zero element, got 0' : 'invMod: expected a field element in [1, p)');
  }
  return powMod(a, P - 2);
}

/**
 * acc ← acc + v (mod p), element-wise: the committee's hot loop. Both must hold field elements
 * (unpackFieldVector and expandSeed guarantee it), so one comparison per element suffices.
 */
export function addVectorInto(acc: Float64Array, v: Float64Array): void {
  const n = acc.length;
  if (v.length !== n) throw new Error(`addVectorInto: expected vectors of equal length, got ${n} and ${v.length}`);
  for (let i = 0; i < n; i++) {
    const s = acc[i]! + v[i]!;
    acc[i] = s - P * +(s >= P);
  }
}

// The two vector kernels below repeat mulMod's arithmetic inline, with the constant factor split once
// outside the loop. Calling the shared mulMod from them would make V8 mix its type feedback (small
// integer x here, 52-bit doubles there) and deoptimise; inlined, each loop stays on doubles.

/** acc ← acc + c·v (mod p): Lagrange combinations, off the hot loop. c a field element. */
export function mulAddVectorInto(acc: Float64Array, v: Float64Array, c: number): void {
  const n = acc.length;
  if (v.length !== n) throw new Error(`mulAddVectorInto: expected vectors of equal length, got ${n} and ${v.length}`);
  if (c === 0) return;
  const ch = Math.floor(c * INV_TWO26);
  const cl = c - ch * TWO26;
  for (let i = 0; i < n; i++) {
    const a = v[i]!;
    const ah = Math.floor(a * INV_TWO26);
    const al = a - ah * TWO26;
    const mid = ah * cl + al * ch;
    const mh = Math.floor(mid * INV_TWO26);
    const ml = mid - mh * TWO26;
    const high = ah * ch + mh;
    const hh = Math.floor(high * INV_TWO26);
    const hl = high - hh * TWO26;
    const t = hh * C + ml;
    const th = Math.floor(t * INV_TWO26);
    const tl = t - th * TWO26;
    let r = tl * TWO26 + al * cl;
    r -= P * +(r >= P);
    r += (hl + th) * C;
    r -= P * +(r >= P);
    const s = acc[i]! + r;
    acc[i] = s - P * +(s >= P);
  }
}

/** acc ← c·acc + v (mod p): one Horner step of polynomial evaluation at c, for share generation. */
export function mulVectorAddInto(acc: Float64Array, c: number, v: Float64Array): void {
  const n = acc.length;
  if (v.length !== n) throw new Error(`mulVectorAddInto: expected vectors of equal length, got ${n} and ${v.length}`);
  const ch = Math.floor(c * INV_TWO26);
  const cl = c - ch * TWO26;
  for (let i = 0; i < n; i++) {
    const a = acc[i]!;
    const ah = Math.floor(a * INV_TWO26);
    const al = a - ah * TWO26;
    const mid = ah * cl + al * ch;
    const mh = Math.floor(mid * INV_TWO26);
    const ml = mid - mh * TWO26;
    const high = ah * ch + mh;
    const hh = Math.floor(high * INV_TWO26);
    const hl = high - hh * TWO26;
    const t = hh * C + ml;
    const th = Math.floor(t * INV_TWO26);
    const tl = t - th * TWO26;
    let r = tl * TWO26 + al * cl;
    r -= P * +(r >= P);
    r += (hl + th) * C;
    r -= P * +(r >= P);
    const s = r + v[i]!;
    acc[i] = s - P * +(s >= P);
  }
}

/** The low 52 bits of the 7-byte little-endian integer at offset (bits 52..55 are dropped). */
function readUint52(bytes: Uint8Array, offset: number): number {
  const lo = (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
  const hi = bytes[offset + 4]! | (bytes[offset + 5]! << 8) | ((bytes[offset + 6]! & 0x0f) << 16);
  return hi * TWO32 + lo;
}

/**
 * `length` independent uniform elements of GF(p). Each candidate is 52 bits from 7 rng bytes, kept if
 * below p: rejection sampling, so the result is exactly uniform (a candidate is rejected with
 * probability 47/2^52, and a rejected one is replaced by fresh bytes rather than reduced, which would
 * bias the low residues). Bytes are consumed in order, so a deterministic rng gives a deterministic
 * vector; expandSeed relies on that.
 */
export function randomFieldVector(length: number, rng: RandomBytes = defaultRandomBytes): Float64Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new Error(`randomFieldVector: expected a non-negative integer length, got ${length}`);
  const out = new Float64Array(length);
  let filled = 0;
  while (filled < length) {
    const want = (length - filled) * FIELD_BYTES;
    const bytes = rng(want);
    if (bytes.length !== want) throw new Error(`randomFieldVector: rng returned ${bytes.length} bytes, expected ${want}`);
    for (let offset = 0; offset < want; offset += FIELD_BYTES) {
      const candidate = readUint52(bytes, offset);
      if (candidate < P) out[filled++] = candidate;
    }
  }
  return out;
}

/** The wide field, 2^52 − 47: the default, and the only field of rounds that are not training rounds. */
export const WIDE_FIELD: PrimeField = Object.freeze({
  prime: FIELD_PRIME,
  bits: FIELD_BITS,
  isElement: isFieldElement,
  add: addMod,
  sub: subMod,
  mul: mulMod,
  inv: invMod,
  addVectorInto,
  mulAddVectorInto,
  mulVectorAddInto,
  randomVector: randomFieldVector,
});
