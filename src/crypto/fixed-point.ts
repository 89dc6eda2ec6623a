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
import { FIELD_PRIME } from './field.js';

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
 * Rounds half away from zero so that encode(−x) = −encode(x). Throws on a non-finite value or one
 * beyond ±maxAbs, naming its index only (the value is a weight). The default bound lets any 100,000
 * encodings sum without wrap-around; a caller that knows its sum is smaller (a sample count, say, where
 * the total over all owners is what must fit) may pass a larger bound, at most MAX_ABS_SUM.
 */
export function encodeFixed(values: ArrayLike<number>, maxAbs: number = MAX_ENCODABLE): Float64Array {
  if (!(maxAbs > 0 && maxAbs <= MAX_ABS_SUM)) throw new Error(`encodeFixed: expected 0 < maxAbs ≤ MAX_ABS_SUM (${MAX_ABS_SUM}), got ${maxAbs}`);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (!Number.isFinite(x)) throw new Error(`encodeFixed: element ${i} is not a finite number`);
    if (Math.abs(x) > maxAbs) {
      throw new Error(`encodeFixed: element ${i} exceeds ${maxAbs === MAX_ENCODABLE ? `MAX_ENCODABLE (${MAX_ENCODABLE})` : maxAbs} in magnitude`);
    }
    const units = Math.round(Math.abs(x) * SCALE); // ·2^20 is exact, so units ≤ MAX_ENCODABLE_UNITS
    out[i] = x < 0 && units > 0 ? P - units : units;
  }
  return out;
}

/** Lifts each element to (−p/2, p/2] and scales by 2^-20; exact in float64 (|units| < 2^52). */
export function decodeFixed(field: Float64Array): Float64Array {
  const out = new Float64Array(field.length);
  for (let i = 0; i < field.length; i++) {
    const v = field[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < P)) throw new Error(`decodeFixed: element ${i} is not a field element (an integer in [0, p))`);
    out[i] = (v > HALF ? v - P : v) / SCALE;
  }
  return out;
}
