/**
 * Fixed-point encoding of real-valued updates into GF(p), so that the field sum of encodings is the
 * encoding of the real sum (DESIGN, protocol 2: "encodes it in fixed point in a prime field"). A value x
 * becomes round(x·2^20) as a signed integer, negatives as p − |round(x·2^20)|; decoding lifts an element
 * back to the signed range (−p/2, p/2] and divides by 2^20. Rounding costs at most 2^-21 per value,
 * finer than the 2^-16 the protocol needs.
 *
 * Headroom: a field sum decodes correctly while the signed integer total stays within ±(p−1)/2, i.e.
 * while |real sum| ≤ MAX_ABS_SUM = (p−1)/2 / 2^20 ≈ 2^31 ≈ 2.15·10^9. The per-value bound
 * MAX_ENCODABLE = ⌊(p−1)/2 / MAX_SUMMANDS⌋ / 2^20 ≈ 21,474.8 splits that headroom over MAX_SUMMANDS =
 * 100,000 summands: any sum of at most 100,000 encodings decodes without wrap-around, which covers
 * 100,000 updates of |coordinate| ≤ 1,000 with a factor of 21 to spare. A coordinate that is itself a
 * large count (say a sample count of 30,000) is over the per-value bound: scale it down before encoding.
 */
import { COMPACT_FIELD } from './compact-field.js';
import { FIELD_PRIME, WIDE_FIELD, type PrimeField } from './field.js';

export const FIXED_POINT_BITS = 20;
const SCALE = 2 ** FIXED_POINT_BITS;
const P = FIELD_PRIME;
const HALF = (P - 1) / 2; // p is odd: the signed range is [−HALF, HALF]

/** How many encodings may be summed while each stays within MAX_ENCODABLE. */
export const MAX_SUMMANDS = 100_000;
/** The largest |sum| (in real units) that decodes without wrap-around: (p−1)/2 / 2^20 ≈ 2^31. */
export const MAX_ABS_SUM = HALF / SCALE;
const MAX_ENCODABLE_UNITS = Math.floor(HALF / MAX_SUMMANDS);
/** Per-value bound: MAX_SUMMANDS values of this magnitude still sum within MAX_ABS_SUM. ≈ 21,474.8. */
export const MAX_ENCODABLE = MAX_ENCODABLE_UNITS / SCALE;

/**
 * A federation's field and lattice step, fixed in its charter (fieldPrime, fixedPointBits). Wide is the
 * default: 2^52 − 47 and steps of 2^-20, sums up to ≈ 2^31. Compact trades headroom for bytes: 2^37 − 25
 * and steps of 2^-16 (the resolution DESIGN protocol 2 asks for), sums up to (p−1)/2 / 2^16 = 2^20 −
 * 2^-4 ≈ 1.05·10^6, in 37 bits per element instead of 52. Only training rounds use a federation's
 * compact field; statistics and evaluation rounds, whose counts may be large, always use the wide one.
 */
export type FieldName = 'wide' | 'compact';

export interface FixedPointEncoding {
  readonly name: FieldName;
  readonly field: PrimeField;
  readonly fractionBits: number;
}

export const WIDE_ENCODING: FixedPointEncoding = Object.freeze({ name: 'wide', field: WIDE_FIELD, fractionBits: FIXED_POINT_BITS });
export const COMPACT_ENCODING: FixedPointEncoding = Object.freeze({ name: 'compact', field: COMPACT_FIELD, fractionBits: 16 });

export function encodingNamed(name: FieldName): FixedPointEncoding {
  return name === 'compact' ? COMPACT_ENCODING : WIDE_ENCODING;
}

/** The encoding a charter's (fieldPrime, fixedPointBits) names, or null when it names none this code knows. */
export function encodingOfCharter(fieldPrime: string, fixedPointBits: number): FixedPointEncoding | null {
  return [WIDE_ENCODING, COMPACT_ENCODING].find((e) => String(e.field.prime) === fieldPrime && e.fractionBits === fixedPointBits) ?? null;
}

/** The largest |sum| in real units an encoding decodes without wrap-around: (p−1)/2 / 2^bits. */
export function maxAbsSum(encoding: FixedPointEncoding): number {
  return (encoding.field.prime - 1) / 2 / 2 ** encoding.fractionBits;
}

/**
 * Rounds half away from zero so that encode(−x) = −encode(x). Throws on a non-finite value or one
 * beyond ±maxAbs, naming its index only (the value is a weight). The default bound lets any 100,000
 * encodings sum without wrap-around; a caller that knows its sum is smaller (a sample count, say, where
 * the total over all owners is what must fit) may pass a larger bound, at most MAX_ABS_SUM.
 */
export function encodeFixed(values: ArrayLike<number>, maxAbs: number = MAX_ENCODABLE, encoding: FixedPointEncoding = WIDE_ENCODING): Float64Array {
  const limit = maxAbsSum(encoding);
  if (!(maxAbs > 0 && maxAbs <= limit)) throw new Error(`encodeFixed: expected 0 < maxAbs ≤ the encoding's sum headroom (${limit}), got ${maxAbs}`);
  const scale = 2 ** encoding.fractionBits;
  const p = encoding.field.prime;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!Number.isFinite(x)) throw new Error(`encodeFixed: element ${i} is not a finite number`);
    if (Math.abs(x) > maxAbs) {
      throw new Error(`encodeFixed: element ${i} exceeds ${maxAbs === MAX_ENCODABLE ? `MAX_ENCODABLE (${MAX_ENCODABLE})` : maxAbs} in magnitude`);
    }
    const units = Math.round(Math.abs(x) * scale); // a power of two: exact, so units ≤ the headroom in units
    out[i] = x < 0 && units > 0 ? p - units : units;
  }
  return out;
}

/** Lifts each element to (−p/2, p/2] and scales by 2^-bits; exact in float64 (|units| < 2^52). */
export function decodeFixed(elements: Float64Array, encoding: FixedPointEncoding = WIDE_ENCODING): Float64Array {
  const p = encoding.field.prime;
  const half = (p - 1) / 2;
  const scale = 2 ** encoding.fractionBits;
  const out = new Float64Array(elements.length);
  for (let i = 0; i < elements.length; i++) {
    const v = elements[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < p)) throw new Error(`decodeFixed: element ${i} is not a field element (an integer in [0, p))`);
    out[i] = (v > half ? v - p : v) / scale;
  }
  return out;
}
