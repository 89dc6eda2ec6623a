/**
 * The vector an owner secret-shares in secure mode, and how the server reads the reconstructed sum.
 * Layout: [n·clip(w − w₀)₁, …, n·clip(w − w₀)_d, n] in fixed point, where w₀ is the round's base model, w
 * the owner's locally trained weights and n its sample count. Sharing the sample-weighted delta and the
 * weight together lets the server compute exactly the sample-weighted FedAvg, w₀ + Σ nᵢΔᵢ / Σ nᵢ, while
 * learning only the two sums. Clipping bounds each owner's influence and keeps the sum inside the field's
 * headroom: every coordinate of the SUM must stay below MAX_ABS_SUM ≈ 2.1·10⁹, i.e. the federation's total
 * sample count times clipNorm (e.g. 21 million samples at clipNorm 100). A single owner may hold many
 * samples, so the per-value bound is the whole headroom, not the 100,000-summand default.
 */
import { clipL2 } from './clipping.js';
import { gaussianNoiseUnits, randomizedRound } from './dp/noise.js';
import { defaultRandomBytes, FIELD_PRIME, type RandomBytes } from './field.js';
import { decodeFixed, encodeFixed, FIXED_POINT_BITS, MAX_ABS_SUM, maxAbsSum, WIDE_ENCODING, type FixedPointEncoding } from './fixed-point.js';

const UNITS = 2 ** FIXED_POINT_BITS;

/** Signed integer lattice units as field elements (negatives wrap to p − |u|). */
function encodeUnits(units: Float64Array): Float64Array {
  const out = new Float64Array(units.length);
  for (let i = 0; i < units.length; i++) {
    const u = units[i]!;
    if (!Number.isSafeInteger(u) || Math.abs(u) > MAX_ABS_SUM * UNITS) throw new Error(`encodeDpSecureUpdate: element ${i} is out of the field's range`);
    out[i] = u < 0 ? FIELD_PRIME + u : u;
  }
  return out;
}

export interface SecureUpdateEncoding {
  vector: Float64Array;
  /** L2 norm of the delta before clipping, and whether the clip bound it (reported to the owner only). */
  norm: number;
  clipped: boolean;
}

/** Field elements per share for a model with `parameters` weights. */
export function secureVectorLength(parameters: number): number {
  return parameters + 1;
}

/**
 * [n·clip(w − w₀), n] in `encoding` (the federation's field). In the compact field the round caps n
 * (round view, secure.weightCap) so that the sum over its cohort fits; the caller applies the cap.
 */
export function encodeSecureUpdate(
  base: Float32Array,
  trained: Float32Array,
  numSamples: number,
  clipNorm: number,
  encoding: FixedPointEncoding = WIDE_ENCODING,
): SecureUpdateEncoding {
  if (base.length !== trained.length) {
    throw new Error(`encodeSecureUpdate: expected ${base.length} trained weights, got ${trained.length}`);
  }
  if (!Number.isInteger(numSamples) || numSamples < 1) {
    throw new Error(`encodeSecureUpdate: expected a positive integer sample count, got ${numSamples}`);
  }
  const delta = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) delta[i] = trained[i]! - base[i]!;
  const { values, norm, clipped } = clipL2(delta, clipNorm);
  const weighted = new Float64Array(values.length + 1);
  for (let i = 0; i < values.length; i++) weighted[i] = values[i]! * numSamples;
  weighted[values.length] = numSamples;
  return { vector: encodeFixed(weighted, maxAbsSum(encoding), encoding), norm, clipped };
}

/**
 * The largest integer sample weight n with which `cohort` owners' vectors [n·clip(Δ), n] always sum
 * within the encoding's headroom: every coordinate is at most n·max(clipNorm, 1) in magnitude, and each
 * owner's rounding adds at most half a unit, so cohort·(n·max(clipNorm, 1)·2^bits + ½) ≤ (p − 1)/2.
 * Zero when not even n = 1 fits.
 */
export function weightCapFor(encoding: FixedPointEncoding, cohort: number, clipNorm: number): number {
  if (!Number.isSafeInteger(cohort) || cohort < 1) return Number.MAX_SAFE_INTEGER; // no owner yet: nothing can overflow
  const units = (encoding.field.prime - 1) / 2 - cohort / 2;
  return Math.max(0, Math.floor(units / (2 ** encoding.fractionBits * cohort * Math.max(clipNorm, 1))));
}

/**
 * Differential privacy in secure mode (distributed DP, Kairouz et al. 2021): [clip(w − w₀) + noise, 1]
 * on the fixed-point lattice. Each coordinate of the clipped change is rounded to the lattice at random
 * (unbiased), then the owner's share of the Gaussian noise — integer lattice units from the discrete
 * Gaussian — is added, so the vector is exactly integers before it is ever shared. The last coordinate
 * counts the owner once: in a DP round owners are privacy units, not sample counts.
 */
export function encodeDpSecureUpdate(
  base: Float32Array,
  trained: Float32Array,
  clipNorm: number,
  noiseStdPerOwner: number,
  rng: RandomBytes = defaultRandomBytes,
): SecureUpdateEncoding {
  if (base.length !== trained.length) throw new Error(`encodeDpSecureUpdate: expected ${base.length} trained weights, got ${trained.length}`);
  if (!(noiseStdPerOwner >= 0 && Number.isFinite(noiseStdPerOwner))) {
    throw new Error(`encodeDpSecureUpdate: expected a non-negative finite noise standard deviation, got ${noiseStdPerOwner}`);
  }
  const delta = new Float64Array(base.length);
  for (let i = 0; i < base.length; i++) delta[i] = trained[i]! - base[i]!;
  const { values, norm, clipped } = clipL2(delta, clipNorm);
  const noise = noiseStdPerOwner > 0 ? gaussianNoiseUnits(values.length, noiseStdPerOwner * UNITS, rng) : new Float64Array(values.length);
  const units = new Float64Array(values.length + 1);
  for (let i = 0; i < values.length; i++) units[i] = randomizedRound(values[i]! * UNITS, rng) + noise[i]!;
  units[values.length] = UNITS; // 1.0: one owner
  return { vector: encodeUnits(units), norm, clipped };
}

/**
 * A statistics round's vector: [moments…, 1] in fixed point — the owner's per-column count, Σx′ and Σx′²
 * (each at most its row count, so far inside the field's headroom) and a 1 that counts the owner.
 */
export function encodeSecureStatistics(moments: Float64Array): Float64Array {
  const values = new Float64Array(moments.length + 1);
  values.set(moments);
  values[moments.length] = 1;
  return encodeFixed(values, MAX_ABS_SUM);
}

/** The decoded sum of every included owner's vector: Σ of the changes and Σ of the weights. */
export function decodeSecureSumVector(sum: Float64Array, parameters: number, encoding: FixedPointEncoding = WIDE_ENCODING): { delta: Float64Array; weight: number } {
  if (sum.length !== secureVectorLength(parameters)) {
    throw new Error(`decodeSecureSumVector: expected ${secureVectorLength(parameters)} elements, got ${sum.length}`);
  }
  const decoded = decodeFixed(sum, encoding);
  return { delta: decoded.subarray(0, parameters), weight: decoded[parameters]! };
}

/** The new global weights from the reconstructed field sum of every included owner's vector. */
export function decodeSecureSum(base: Float32Array, sum: Float64Array, encoding: FixedPointEncoding = WIDE_ENCODING): { weights: Float32Array; totalSamples: number } {
  if (sum.length !== secureVectorLength(base.length)) {
    throw new Error(`decodeSecureSum: expected ${secureVectorLength(base.length)} elements, got ${sum.length}`);
  }
  const decoded = decodeFixed(sum, encoding);
  const totalSamples = Math.round(decoded[base.length]!);
  if (totalSamples < 1) throw new Error(`decodeSecureSum: expected a positive total sample count, got ${totalSamples}`);
  const weights = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) weights[i] = base[i]! + decoded[i]! / totalSamples;
  return { weights, totalSamples };
}
