/**
 * Turns a trained model (spec + flat weights, the layout of src/ml/model-spec.ts) into the polynomial
 * CKKS evaluates, or refuses it with a reason. Logistic regression is linear (one level). A one-hidden-
 * layer MLP with a quadratic activation a(z) = c2·z² + c1·z + c0 is folded, by completing the square,
 * into logit = Σⱼ sⱼ·(Uⱼ·x + βⱼ)² + k with sⱼ = ±1, so that it costs one plaintext multiply and one
 * square (two levels) and has no separate linear part:
 *   vⱼ·a(zⱼ) = vⱼc2·(zⱼ + c1/(2c2))² + vⱼ(c0 − c1²/(4c2)),   Uⱼ = √|vⱼc2|·W[:,j],   βⱼ = √|vⱼc2|·(bⱼ + c1/(2c2)).
 * `plainLogit` evaluates the same polynomial in float64, so encrypted results are checked against
 * exactly what was encrypted-evaluated, not against tf's float32 forward pass.
 */

import type { ModelSpec } from '../../ml/model-spec.js';
import { valueBound, type CkksParams } from './params.js';

/** Activations CKKS can evaluate: polynomials of degree 2. */
export type HeActivation = 'square' | 'relu-poly';

/** c2·z² + c1·z + c0 for each HE-evaluable activation. relu-poly is a low-degree ReLU approximation. */
export const HE_ACTIVATIONS: Readonly<Record<HeActivation, { c2: number; c1: number; c0: number }>> = {
  square: { c2: 1, c1: 0, c0: 0 },
  'relu-poly': { c2: 0.125, c1: 0.5, c0: 0.25 },
};

export interface LinearHeModel {
  kind: 'linear';
  inputSize: number;
  /** w, length inputSize. */
  weights: Float64Array;
  bias: number;
  /** Largest intermediate magnitude seen on calibration rows (see peakMagnitude), when calibrated. */
  peak?: number;
}

export interface QuadraticHeModel {
  kind: 'quadratic';
  inputSize: number;
  /** Hidden units, as in the spec (units whose output weight is 0 keep a zero row). */
  units: number;
  /** units × (inputSize + 1), row-major: row j is Uⱼ followed by βⱼ. */
  rows: Float64Array;
  /** sⱼ ∈ {+1, −1}. */
  signs: Int8Array;
  /** k: every constant term folded together. */
  constant: number;
  activation: HeActivation;
  /** Largest intermediate magnitude seen on calibration rows (see peakMagnitude), when calibrated. */
  peak?: number;
}

/** What CKKS evaluates. Plain data (typed arrays and numbers), so it crosses to worker threads as is. */
export type HeModel = LinearHeModel | QuadraticHeModel;

/**
 * The public shape of a model: all a client needs to build a key session and lay out its ciphertexts.
 * A session stays valid for every model version with the same shape.
 */
export interface HeModelShape {
  kind: 'linear' | 'quadratic';
  inputSize: number;
  /** Hidden units (0 for linear). */
  units: number;
}

export function modelShape(model: HeModel): HeModelShape {
  return { kind: model.kind, inputSize: model.inputSize, units: model.kind === 'linear' ? 0 : model.units };
}

export function sameShape(a: HeModelShape, b: HeModelShape): boolean {
  return a.kind === b.kind && a.inputSize === b.inputSize && a.units === b.units;
}

/** Levels (rescales) the polynomial needs before any masking. */
export function modelLevels(shape: HeModelShape): number {
  return shape.kind === 'linear' ? 1 : 2;
}

const isHeActivation = (a: unknown): a is HeActivation => typeof a === 'string' && Object.hasOwn(HE_ACTIVATIONS, a);

export interface CompileOptions {
  /**
   * Standardised rows the model's intermediates are measured on (e.g. the training or validation
   * rows the server evaluates on). CKKS wraps silently once a value outgrows the headroom of the
   * parameters (±32 at N=4096); with a calibrated peak the evaluator scales the polynomial down by a
   * power of two to fit, and the decoder scales it back, at a proportional cost in precision.
   */
  calibration?: ArrayLike<number>[];
}

/**
 * The model as CKKS evaluates it, or `{ refused }` naming why it cannot be (an activation that is not a
 * polynomial, more than one hidden layer, non-finite or all-zero weights). Throws only on a weight
 * vector whose length does not match the spec, which is a caller bug rather than a model property.
 */
export function compileHeModel(
  spec: ModelSpec,
  weights: Float32Array | Float64Array,
  inputSize: number,
  options: CompileOptions = {},
): HeModel | { refused: string } {
  const model = compileUncalibrated(spec, weights, inputSize);
  if ('refused' in model || options.calibration === undefined || options.calibration.length === 0) return model;
  let peak = 0;
  for (const row of options.calibration) peak = Math.max(peak, peakMagnitude(model, row));
  return { ...model, peak };
}

function compileUncalibrated(spec: ModelSpec, weights: Float32Array | Float64Array, inputSize: number): HeModel | { refused: string } {
  const fn = 'compileHeModel';
  if (!Number.isSafeInteger(inputSize) || inputSize < 1) throw new Error(`${fn}: expected a positive integer input size, got ${inputSize}`);
  for (let i = 0; i < weights.length; i++) {
    if (!Number.isFinite(weights[i] as number)) return { refused: `${fn}: weight ${i} is not a finite number` };
  }
  const kind = (spec as { kind?: unknown }).kind;
  if (kind === 'logreg') {
    if (weights.length !== inputSize + 1) throw new Error(`${fn}: expected ${inputSize + 1} weights for logistic regression on ${inputSize} inputs, got ${weights.length}`);
    const w = Float64Array.from(weights.subarray(0, inputSize));
    if (w.every((v) => v === 0)) return { refused: `${fn}: every feature weight is zero, so the score does not depend on the applicant (an untrained model?)` };
    return { kind: 'linear', inputSize, weights: w, bias: weights[inputSize] as number };
  }
  if (kind !== 'mlp') return { refused: `${fn}: model kind ${JSON.stringify(String(kind)).slice(0, 40)} cannot be evaluated under CKKS` };
  const mlp = spec as { hidden?: unknown; activation?: unknown };
  const hidden = Array.isArray(mlp.hidden) ? (mlp.hidden as number[]) : [];
  const activation = String(mlp.activation);
  if (!isHeActivation(activation)) {
    return {
      refused: `${fn}: activation ${JSON.stringify(activation.slice(0, 40))} is not a polynomial, so CKKS cannot evaluate it; train with ${Object.keys(HE_ACTIVATIONS).join(' or ')}`,
    };
  }
  if (hidden.length !== 1) {
    return {
      refused: `${fn}: ${hidden.length} hidden layers would need degree 2^${hidden.length} (${hidden.length + 1} levels or more); encrypted prediction supports exactly one hidden layer`,
    };
  }
  const h = hidden[0] as number;
  if (!Number.isSafeInteger(h) || h < 1) throw new Error(`${fn}: expected a positive hidden width, got ${h}`);
  const expected = (inputSize + 1) * h + h + 1;
  if (weights.length !== expected) throw new Error(`${fn}: expected ${expected} weights for an MLP ${inputSize}-${h}-1, got ${weights.length}`);

  // Flat layout: dense_0/kernel [in, h] row-major, dense_0/bias [h], output/kernel [h, 1], output/bias [1].
  const kernel = (i: number, j: number): number => weights[i * h + j] as number;
  const b1 = (j: number): number => weights[inputSize * h + j] as number;
  const v = (j: number): number => weights[(inputSize + 1) * h + j] as number;
  const b2 = weights[(inputSize + 1) * h + h] as number;

  const { c2, c1, c0 } = HE_ACTIVATIONS[activation];
  const shift = c1 / (2 * c2);
  const width = inputSize + 1;
  const rows = new Float64Array(h * width);
  const signs = new Int8Array(h).fill(1);
  let constant = b2;
  let live = false;
  for (let j = 0; j < h; j++) {
    const a = v(j) * c2;
    constant += v(j) * (c0 - c1 * shift / 2);
    if (a === 0) continue;
    const r = Math.sqrt(Math.abs(a));
    signs[j] = a > 0 ? 1 : -1;
    for (let i = 0; i < inputSize; i++) {
      const u = r * kernel(i, j);
      rows[j * width + i] = u;
      if (u !== 0) live = true;
    }
    rows[j * width + inputSize] = r * (b1(j) + shift);
  }
  if (!live) return { refused: `${fn}: no hidden unit both reads a feature and reaches the output, so the score does not depend on the applicant` };
  return { kind: 'quadratic', inputSize, units: h, rows, signs, constant, activation };
}

/** The logit of `x` under exactly the polynomial the encrypted evaluation computes, in float64. */
export function plainLogit(model: HeModel, x: ArrayLike<number>): number {
  if (x.length !== model.inputSize) throw new Error(`plainLogit: expected ${model.inputSize} features, got ${x.length}`);
  const d = model.inputSize;
  if (model.kind === 'linear') {
    let s = model.bias;
    for (let i = 0; i < d; i++) s += (model.weights[i] as number) * (x[i] as number);
    return s;
  }
  let logit = model.constant;
  const width = d + 1;
  for (let j = 0; j < model.units; j++) {
    let z = model.rows[j * width + d] as number;
    for (let i = 0; i < d; i++) z += (model.rows[j * width + i] as number) * (x[i] as number);
    logit += (model.signs[j] as number) * z * z;
  }
  return logit;
}

/**
 * The largest magnitude an encrypted intermediate that sits near the base prime reaches for `x`: the
 * logit and, for the quadratic model, Σⱼ (Uⱼ·x + βⱼ)², which bounds every partial sum of the squares
 * the evaluation accumulates (products before the first rescale have ample headroom). CKKS wraps
 * silently above valueBound(params).
 */
export function peakMagnitude(model: HeModel, x: ArrayLike<number>): number {
  const logit = Math.abs(plainLogit(model, x));
  if (model.kind === 'linear') return logit;
  const d = model.inputSize;
  let squares = 0;
  for (let j = 0; j < model.units; j++) {
    let z = model.rows[j * (d + 1) + d] as number;
    for (let i = 0; i < d; i++) z += (model.rows[j * (d + 1) + i] as number) * (x[i] as number);
    squares += z * z;
  }
  return Math.max(logit, squares);
}

/** Calibrated peaks are kept below half the headroom: rows never seen may go further. */
const PEAK_SAFETY = 2;
/**
 * Peak assumed for an uncalibrated model. Standardised credit features reach 25σ (crx's A14/A15), so
 * ±32 is not safe without measuring; these values keep an uncalibrated crx-sized model in range at
 * N=4096 (gain 1/2 linear, 1/4 quadratic) and cost nothing at N=8192, whose headroom is far larger.
 */
export const UNCALIBRATED_PEAK: Readonly<Record<HeModel['kind'], number>> = { linear: 32, quadratic: 64 };
/** The most a polynomial is scaled down to fit (its error grows by the same factor). */
export const MIN_GAIN = 1 / 16;

/**
 * The power of two the model's output is scaled by so that its peak (calibrated, else
 * UNCALIBRATED_PEAK) fits these parameters' headroom with a 2× margin, or why it cannot fit. The inner products
 * are multiplied by √gain (quadratic) or gain (linear); afterwards the ciphertext's recorded scale is
 * multiplied by gain, so the client decodes the true value: headroom traded for precision, no level.
 */
export function outputGain(model: HeModel, params: CkksParams): number | { refused: string } {
  const peak = model.peak !== undefined && model.peak > 0 ? model.peak : UNCALIBRATED_PEAK[model.kind];
  const room = valueBound(params) / (PEAK_SAFETY * peak);
  if (room >= 1) return 1;
  const gain = 2 ** Math.floor(Math.log2(room));
  if (gain < MIN_GAIN) {
    return {
      refused: `outputGain: the model's calibrated peak ${peak.toFixed(1)} needs more headroom than ±${valueBound(params)} at N=${params.polyModulusDegree} can give without losing precision; use larger parameters`,
    };
  }
  return gain;
}
