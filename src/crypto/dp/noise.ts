/**
 * Gaussian noise on fedscore's fixed-point lattice (DESIGN, protocol 3). Updates travel as integers
 * round(x·2^20) (fixed-point.ts), so the noise is drawn on the same lattice: the discrete Gaussian
 * N_Z(0, σ²), P(x) ∝ exp(−x²/(2σ²)) on the integers, sampled exactly by Canonne, Kamath & Steinke 2020
 * ("The Discrete Gaussian for Differential Privacy", §5, Algorithms 1–3). Exact means no floating
 * point touches a probability: every coin is a comparison of random bytes with a rational number in
 * BigInt, so the output distribution is the stated one, not an approximation whose rounding errors
 * leak (Mironov 2012's attack on floating-point Laplace noise). The discrete Gaussian satisfies the
 * same concentrated-DP bound as the continuous one (CKS 2020, Thm. 4), so the RDP accountant applies.
 *
 * Every sampler takes an injectable rng (field.ts's RandomBytes), the operating system's by default.
 * Bytes are read in blocks, so a seeded rng gives a reproducible sample but not the same position in
 * its stream as a byte-at-a-time reader would.
 */
import { defaultRandomBytes, type RandomBytes } from '../field.js';
import { FIXED_POINT_BITS } from '../fixed-point.js';

const UNITS_PER_ONE = 2 ** FIXED_POINT_BITS;
/** Largest σ (in lattice units) accepted: samples stay far inside the safe integers (2^53). */
export const MAX_SIGMA_UNITS = 2 ** 40;

/** A buffered byte reader over an rng. */
class ByteSource {
  readonly #rng: RandomBytes;
  readonly #block: number;
  readonly #fn: string;
  #buffer: Uint8Array = new Uint8Array(0);
  #offset = 0;

  constructor(fn: string, rng: RandomBytes, block: number) {
    if (typeof rng !== 'function') throw new Error(`${fn}: expected an rng function, got ${typeof rng}`);
    this.#fn = fn;
    this.#rng = rng;
    this.#block = block;
  }

  byte(): number {
    if (this.#offset === this.#buffer.length) {
      const bytes = this.#rng(this.#block);
      if (!(bytes instanceof Uint8Array) || bytes.length !== this.#block) {
        throw new Error(`${this.#fn}: rng returned ${bytes?.length} bytes, expected ${this.#block}`);
      }
      this.#buffer = bytes;
      this.#offset = 0;
    }
    return this.#buffer[this.#offset++]!;
  }

  /** Uniform on {0, …, n − 1}, n ≤ 2^48, by rejection (accepts with probability > ½). */
  uniformInt(n: number): number {
    if (n === 1) return 0;
    let bits = 1;
    while (2 ** bits < n) bits++;
    const bytes = Math.ceil(bits / 8);
    const topMask = (1 << (bits - 8 * (bytes - 1))) - 1;
    for (;;) {
      let value = this.byte() & topMask;
      for (let k = 1; k < bytes; k++) value = value * 256 + this.byte();
      if (value < n) return value;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Exact coins.

/**
 * Bernoulli(n/d) for integers 0 ≤ n ≤ d, d > 0: draws a uniform U ∈ [0, 1) one base-256 digit at a time
 * and compares it with the expansion of n/d, stopping at the first differing digit (on average after
 * 256/255 bytes). Exact: P(U < n/d) = n/d.
 */
function bernoulli(source: ByteSource, n: bigint, d: bigint): boolean {
  if (n <= 0n) return false;
  if (n >= d) return true;
  let r = n;
  for (;;) {
    r *= 256n;
    const digit = Number(r / d);
    r %= d;
    const b = source.byte();
    if (b !== digit) return b < digit;
    if (r === 0n) return false; // U = n/d so far and every later digit of n/d is 0: U ≥ n/d
  }
}

/** bernoulli for small numbers (d·256 < 2^53), without BigInt: the hot path of the Laplace step. */
function bernoulliSmall(source: ByteSource, n: number, d: number): boolean {
  if (n <= 0) return false;
  if (n >= d) return true;
  let r = n;
  for (;;) {
    r *= 256;
    const digit = Math.floor(r / d);
    r -= digit * d;
    const b = source.byte();
    if (b !== digit) return b < digit;
    if (r === 0) return false;
  }
}

const SMALL_LIMIT = 2 ** 44;

function bernoulliAny(source: ByteSource, n: bigint | number, d: bigint | number): boolean {
  if (typeof n === 'number' && typeof d === 'number' && d < SMALL_LIMIT) return bernoulliSmall(source, n, d);
  return bernoulli(source, BigInt(n), BigInt(d));
}

/**
 * Bernoulli(exp(−n/d)), CKS 2020 Algorithm 1. For γ = n/d ∈ [0, 1]: draw Bernoulli(γ/k) for k = 1, 2, …
 * until one fails at k = K; K is odd with probability Σ (−γ)^k/k! = e^(−γ). For γ > 1: e^(−γ) is
 * e^(−1) ⌊γ⌋ times, then e^(−(γ − ⌊γ⌋)); stop at the first failure.
 */
function bernoulliExp(source: ByteSource, n: bigint | number, d: bigint | number): boolean {
  let whole: bigint | number;
  let rest: bigint | number;
  if (typeof n === 'number' && typeof d === 'number' && n < SMALL_LIMIT && d < SMALL_LIMIT) {
    whole = Math.floor(n / d); // exact: n, d < 2^44 keep n/d away from the next integer by > 2^-44 relatively
    rest = n - whole * d;
  } else {
    const bn = BigInt(n);
    const bd = BigInt(d);
    whole = bn / bd;
    rest = bn % bd;
  }
  for (let k = BigInt(whole); k > 0n; k--) {
    if (!bernoulliExpAtMostOne(source, 1, 1)) return false;
  }
  return bernoulliExpAtMostOne(source, rest, d);
}

function bernoulliExpAtMostOne(source: ByteSource, n: bigint | number, d: bigint | number): boolean {
  let k = 1;
  for (;;) {
    const denominator = typeof d === 'number' && d * k < SMALL_LIMIT ? d * k : BigInt(d) * BigInt(k);
    if (!bernoulliAny(source, n, denominator)) break;
    k++;
  }
  return k % 2 === 1;
}

/**
 * The discrete Laplace distribution with scale t ∈ {1, 2, …}: P(x) ∝ exp(−|x|/t), CKS 2020 Algorithm 2
 * with s = 1. X = U + t·V with U uniform on {0, …, t−1} kept with probability e^(−U/t) and V geometric
 * (P(V = v) ∝ e^(−v)) is geometric with ratio e^(−1/t); a random sign, with −0 rejected so 0 is not
 * counted twice, makes it two-sided.
 */
function discreteLaplace(source: ByteSource, t: number): number {
  for (;;) {
    const u = source.uniformInt(t);
    if (!bernoulliExpAtMostOne(source, u, t)) continue;
    let v = 0;
    while (bernoulliExpAtMostOne(source, 1, 1)) v++;
    const x = u + t * v;
    const negative = (source.byte() & 1) === 1;
    if (negative && x === 0) continue;
    return negative ? -x : x;
  }
}

/** σ as an exact fraction N/D (D a power of two: every double is one) and what the sampler derives from it. */
interface GaussianParameters {
  /** Laplace scale t = ⌊σ⌋ + 1 (CKS 2020, Algorithm 3). */
  t: number;
  tBig: bigint;
  /** σ² = N²/D². */
  sigma2Num: bigint;
  sigma2Den: bigint;
  /** 2σ²t², the denominator of γ up to the common D² (see discreteGaussian). */
  gammaDen: bigint;
}

function exactFraction(x: number): { num: bigint; den: bigint } {
  let scaled = x;
  let den = 1n;
  while (!Number.isInteger(scaled)) {
    scaled *= 2; // exact: only the exponent changes
    den *= 2n;
  }
  return { num: BigInt(scaled), den };
}

function gaussianParameters(fn: string, sigma: number): GaussianParameters {
  if (!(typeof sigma === 'number' && Number.isFinite(sigma) && sigma > 0 && sigma <= MAX_SIGMA_UNITS)) {
    throw new Error(`${fn}: expected a sigma in (0, 2^40] lattice units, got ${String(sigma)}`);
  }
  const { num, den } = exactFraction(sigma);
  const t = Math.floor(sigma) + 1;
  const tBig = BigInt(t);
  const sigma2Num = num * num;
  const sigma2Den = den * den;
  return { t, tBig, sigma2Num, sigma2Den, gammaDen: 2n * sigma2Num * sigma2Den * tBig * tBig };
}

/**
 * The discrete Gaussian N_Z(0, σ²), CKS 2020 Algorithm 3: draw Y from the discrete Laplace with scale t
 * and accept with probability exp(−(|Y| − σ²/t)²/(2σ²)), which is at most 1 and proportional to
 * N_Z(Y)/Lap(Y). With σ² = N²/D², γ = (|Y|·t·D² − N²)² / (2N²·D²·t²), a ratio of integers. Each round
 * accepts with probability bounded below by a constant (CKS 2020, §5.3), so the expected cost does not
 * grow with σ.
 */
function discreteGaussian(source: ByteSource, p: GaussianParameters): number {
  for (;;) {
    const y = discreteLaplace(source, p.t);
    const distance = BigInt(Math.abs(y)) * p.tBig * p.sigma2Den - p.sigma2Num;
    if (bernoulliExp(source, distance * distance, p.gammaDen)) return y;
  }
}

// ---------------------------------------------------------------------------------------------------
// Public samplers.

/** Bernoulli(num/den) for integers 0 ≤ num ≤ den, den > 0: exact. */
export function sampleBernoulli(num: bigint | number, den: bigint | number, rng: RandomBytes = defaultRandomBytes): boolean {
  const fn = 'sampleBernoulli';
  checkFraction(fn, num, den);
  if (BigInt(num) > BigInt(den)) throw new Error(`${fn}: expected num ≤ den, got ${num}/${den}`);
  return bernoulliAny(new ByteSource(fn, rng, 16), num, den);
}

/** Bernoulli(exp(−num/den)) for integers num ≥ 0, den > 0: exact (CKS 2020, Algorithm 1). */
export function sampleBernoulliExp(num: bigint | number, den: bigint | number, rng: RandomBytes = defaultRandomBytes): boolean {
  const fn = 'sampleBernoulliExp';
  checkFraction(fn, num, den);
  return bernoulliExp(new ByteSource(fn, rng, 16), num, den);
}

/** One draw from the discrete Laplace distribution P(x) ∝ exp(−|x|/scale), scale a positive integer. */
export function sampleDiscreteLaplace(scale: number, rng: RandomBytes = defaultRandomBytes): number {
  const fn = 'sampleDiscreteLaplace';
  if (!(Number.isSafeInteger(scale) && scale >= 1 && scale <= MAX_SIGMA_UNITS + 1)) {
    throw new Error(`${fn}: expected an integer scale in [1, 2^40 + 1], got ${String(scale)}`);
  }
  return discreteLaplace(new ByteSource(fn, rng, 16), scale);
}

/** One draw from the discrete Gaussian N_Z(0, σ²), σ in (0, 2^40]. */
export function sampleDiscreteGaussian(sigma: number, rng: RandomBytes = defaultRandomBytes): number {
  const fn = 'sampleDiscreteGaussian';
  return discreteGaussian(new ByteSource(fn, rng, 32), gaussianParameters(fn, sigma));
}

/**
 * `length` independent draws from N_Z(0, σ²) with σ in lattice units (2^-20): the noise an owner adds to
 * its encoded update, or the server to an encoded sum, before anything leaves it. Integers, as
 * float64 (exact: |x| stays far below 2^53).
 */
export function gaussianNoiseUnits(length: number, sigmaInUnits: number, rng: RandomBytes = defaultRandomBytes): Float64Array {
  const fn = 'gaussianNoiseUnits';
  checkLength(fn, length);
  const parameters = gaussianParameters(fn, sigmaInUnits);
  const source = new ByteSource(fn, rng, 1024);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = discreteGaussian(source, parameters);
  return out;
}

/**
 * gaussianNoiseUnits(length, σ·2^20) divided by 2^20: real-valued noise of standard deviation ≈ σ on
 * the lattice the update is encoded on (the server's central noise in plain mode), so that encoding the
 * noised value adds no second rounding. σ·2^20 must be in (0, 2^40], i.e. σ ≤ 2^20.
 */
export function gaussianNoise(length: number, sigma: number, rng: RandomBytes = defaultRandomBytes): Float64Array {
  const fn = 'gaussianNoise';
  checkLength(fn, length);
  if (!(typeof sigma === 'number' && Number.isFinite(sigma) && sigma > 0 && sigma * UNITS_PER_ONE <= MAX_SIGMA_UNITS)) {
    throw new Error(`${fn}: expected a sigma in (0, 2^20], got ${String(sigma)}`);
  }
  const units = gaussianNoiseUnits(length, sigma * UNITS_PER_ONE, rng); // ·2^20 is exact
  for (let i = 0; i < length; i++) units[i] = units[i]! / UNITS_PER_ONE;
  return units;
}

/**
 * Unbiased stochastic rounding: ⌊x⌋ + Bernoulli(x − ⌊x⌋), so E[result] = x exactly. x − ⌊x⌋ is exact in
 * float64 and a dyadic fraction, so the coin is exact too. Integers come back unchanged without reading
 * the rng. Used on a clipped update in lattice units before lattice noise is added, so the rounding adds
 * no bias (round-to-nearest would, in sums over many owners).
 */
export function randomizedRound(x: number, rng: RandomBytes = defaultRandomBytes): number {
  const fn = 'randomizedRound';
  // The value is a weight: name only what is wrong with it.
  if (!(typeof x === 'number' && Number.isFinite(x))) throw new Error(`${fn}: expected a finite number, got ${typeof x === 'number' ? String(x) : typeof x}`);
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction === 0) return x;
  const { num, den } = exactFraction(fraction);
  return bernoulliAny(new ByteSource(fn, rng, 8), num, den) ? floor + 1 : floor;
}

function checkLength(fn: string, length: number): void {
  if (!(Number.isSafeInteger(length) && length >= 0)) throw new Error(`${fn}: expected a non-negative integer length, got ${String(length)}`);
}

function checkFraction(fn: string, num: bigint | number, den: bigint | number): void {
  const integer = (v: unknown) => typeof v === 'bigint' || Number.isSafeInteger(v);
  if (!integer(num) || BigInt(num) < 0n) throw new Error(`${fn}: expected a non-negative integer num, got ${String(num)}`);
  if (!integer(den) || BigInt(den) <= 0n) throw new Error(`${fn}: expected a positive integer den, got ${String(den)}`);
}
