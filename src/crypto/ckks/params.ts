/**
 * CKKS parameter sets, and the check the server runs on a parameter description a CLIENT sends when it
 * opens a key session. The client picks the parameters (it holds the secret key), so the server must
 * refuse anything below 128-bit security or too short for the model's multiplicative depth before it
 * spends CPU on it. The check is pure (no wasm): the 128-bit bounds are SEAL's own table
 * (CoeffModulus.MaxBitCount(N, tc128), from the HomomorphicEncryption.org standard), pinned here and
 * compared against SEAL in params.test.ts.
 */

/** A serialisable CKKS parameter description: what a key session is created with and stored as. */
export interface CkksParams {
  /** Ring dimension N; N/2 complex slots per ciphertext. */
  polyModulusDegree: number;
  /**
   * Bit sizes of the RNS primes, SEAL order: the first is the base prime the result is decrypted under,
   * the middle ones are dropped one per rescale (one multiplicative level each), the last is the
   * special prime used only for key switching.
   */
  coeffModulusBits: number[];
  /** log2 of the CKKS scale Δ every fresh ciphertext is encoded at. */
  scaleBits: number;
}

/**
 * Named sets (each passes checkCkksParams); recommendedParams (layout.ts) picks between them.
 * Measured on crx-trained models (bench/he.bench.ts):
 *  - n4096: two levels, ±32 headroom (outputGain scales models down to fit). The single-applicant
 *    set: the layout decrypts to N/2 copies of the logit, whose mean is within ~2e-3; ≈25 ms per
 *    prediction for a 16-unit MLP. Batched logistic regression is within ~5e-4 here too, but the
 *    batched MLP only within ~1–5e-3: the rounding of its first rescale is squared, and nothing
 *    averages it.
 *  - n8192: three levels, ±2^14 headroom, scale 2^35. The single-masked MLP (the mask costs the third
 *    level) and the batched MLP (error ~1e-6, still >6,000 applicants/s in one thread).
 */
export const CKKS_PARAM_SETS = {
  n4096: { polyModulusDegree: 4096, coeffModulusBits: [30, 24, 24, 30], scaleBits: 24 },
  n8192: { polyModulusDegree: 8192, coeffModulusBits: [50, 35, 35, 35, 50], scaleBits: 35 },
} as const satisfies Record<string, CkksParams>;

export type CkksParamSetName = keyof typeof CKKS_PARAM_SETS;

/** A fresh, mutable copy of a named set. */
export function ckksParamSet(name: CkksParamSetName): CkksParams {
  const set = CKKS_PARAM_SETS[name];
  if (set === undefined) throw new Error(`ckksParamSet: expected one of ${Object.keys(CKKS_PARAM_SETS).join(', ')}, got ${JSON.stringify(name)}`);
  return { polyModulusDegree: set.polyModulusDegree, coeffModulusBits: [...set.coeffModulusBits], scaleBits: set.scaleBits };
}

/**
 * SEAL's CoeffModulus.MaxBitCount(N, sec_level_type::tc128): the largest total coefficient modulus
 * that keeps 128-bit classical security for ring dimension N (HE standard, ternary secrets).
 */
export const MAX_COEFF_BITS_128: Readonly<Record<number, number>> = {
  1024: 27,
  2048: 54,
  4096: 109,
  8192: 218,
  16384: 438,
  32768: 881,
};

/**
 * Ring dimensions a client may ask for. 2048 cannot hold two levels at 128 bits; 32768 costs ~8× the
 * CPU and memory of 8192 per ciphertext, which a client could use to tie up the server.
 */
export const ALLOWED_DEGREES: readonly number[] = [4096, 8192, 16384];

const PRIME_BITS = { min: 20, max: 60 };
const SCALE_BITS = { min: 20, max: 55 };
/** Bits of the base prime above the scale: results must stay below 2^(headroom-1) in magnitude. */
const MIN_HEADROOM_BITS = 6;

/** Multiplicative levels of a chain: every prime but the base prime and the special prime. */
export function levelsOf(params: CkksParams): number {
  return params.coeffModulusBits.length - 2;
}

/** Largest magnitude a decrypted value may reach before it wraps modulo the base prime. */
export function valueBound(params: CkksParams): number {
  return 2 ** ((params.coeffModulusBits[0] as number) - params.scaleBits - 1);
}

export interface ChainNeeds {
  /** Rescales the evaluation performs. */
  levels: number;
  /** Slots the layout needs in one ciphertext (at most N/2). */
  slots?: number;
  /** Who needs them, for the refusal message, e.g. "the quadratic MLP in the single layout". */
  what?: string;
}

export type ParamsCheck = { ok: true; params: CkksParams } | { ok: false; reason: string };

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * Checks a parameter description received from a client. Returns a normalised copy when it is usable,
 * otherwise the first reason it is refused. Never throws on malformed input.
 */
export function checkCkksParams(input: unknown, needs?: ChainNeeds): ParamsCheck {
  const refuse = (reason: string): ParamsCheck => ({ ok: false, reason: `checkCkksParams: ${reason}` });
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return refuse('expected an object');
  const obj = input as Record<string, unknown>;
  const known = ['polyModulusDegree', 'coeffModulusBits', 'scaleBits'];
  const extra = Object.keys(obj).filter((k) => !known.includes(k));
  if (extra.length > 0) return refuse(`unknown field ${JSON.stringify(extra[0]!.slice(0, 40))}`);

  const n = obj.polyModulusDegree;
  if (!isInt(n) || !ALLOWED_DEGREES.includes(n)) {
    return refuse(`polyModulusDegree expected one of ${ALLOWED_DEGREES.join(', ')}, got ${String(n).slice(0, 20)}`);
  }
  const bits = obj.coeffModulusBits;
  if (!Array.isArray(bits) || bits.length < 3 || bits.length > 16) {
    return refuse(`coeffModulusBits expected an array of 3 to 16 prime sizes, got ${Array.isArray(bits) ? `${bits.length} entries` : typeof bits}`);
  }
  for (const b of bits) {
    if (!isInt(b) || b < PRIME_BITS.min || b > PRIME_BITS.max) {
      return refuse(`coeffModulusBits entries expected integers in [${PRIME_BITS.min}, ${PRIME_BITS.max}], got ${String(b).slice(0, 20)}`);
    }
  }
  const scaleBits = obj.scaleBits;
  if (!isInt(scaleBits) || scaleBits < SCALE_BITS.min || scaleBits > SCALE_BITS.max) {
    return refuse(`scaleBits expected an integer in [${SCALE_BITS.min}, ${SCALE_BITS.max}], got ${String(scaleBits).slice(0, 20)}`);
  }
  const primes = bits as number[];
  const total = primes.reduce((a, b) => a + b, 0);
  const max = MAX_COEFF_BITS_128[n] as number;
  if (total > max) {
    return refuse(`a ${total}-bit coefficient modulus is below 128-bit security for N=${n} (at most ${max} bits)`);
  }
  const base = primes[0] as number;
  const special = primes[primes.length - 1] as number;
  const middle = primes.slice(1, -1);
  // Each rescale divides by one middle prime; a prime of another size drifts the scale level by level.
  const off = middle.find((b) => b !== scaleBits);
  if (off !== undefined) return refuse(`every middle prime must have scaleBits (${scaleBits}) bits, got ${off}`);
  if (base - scaleBits < MIN_HEADROOM_BITS) {
    return refuse(`the first prime (${base} bits) must exceed scaleBits (${scaleBits}) by at least ${MIN_HEADROOM_BITS} bits, or results above ±${2 ** (MIN_HEADROOM_BITS - 1)} wrap`);
  }
  // Key switching divides its noise by the special prime; a smaller one than the data primes swamps results.
  if (special < Math.max(...primes.slice(0, -1))) {
    return refuse(`the last (special) prime (${special} bits) must be at least as large as every other prime`);
  }
  const params: CkksParams = { polyModulusDegree: n, coeffModulusBits: [...primes], scaleBits };
  if (needs !== undefined) {
    const levels = levelsOf(params);
    if (levels < needs.levels) {
      const who = needs.what ?? 'the evaluation';
      return refuse(`a chain of ${levels} level${levels === 1 ? '' : 's'} is too short: ${who} needs ${needs.levels} (one middle prime per rescale)`);
    }
    if (needs.slots !== undefined && needs.slots > n / 2) {
      const who = needs.what ?? 'the layout';
      return refuse(`${who} needs ${needs.slots} slots, N=${n} has ${n / 2}; use a larger polyModulusDegree`);
    }
  }
  return { ok: true, params };
}

/** A stable key for caches: equal descriptions give equal keys. */
export function paramsKey(params: CkksParams): string {
  return `${params.polyModulusDegree}:${params.coeffModulusBits.join(',')}:${params.scaleBits}`;
}
