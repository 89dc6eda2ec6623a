/**
 * Where values sit in the N/2 CKKS slots, shared by the client (which packs features) and the server
 * (which packs weights), so both derive it from the same public model shape and parameters.
 *
 * single — one applicant per ciphertext. The augmented input x̃ = (x, 1) is laid out feature-major with
 * every feature repeated H = nextPow2(units) times (slot i·H + j holds x̃ᵢ for unit j), padded to
 * F = nextPow2(d + 1) feature blocks, and that period P = F·H is tiled across all N/2 slots. The server
 * multiplies by the weights in the same layout, rotate-and-sums with steps H, 2H, …, P/2 (every slot
 * then holds its unit's Uⱼ·x̃ — the period makes the cyclic windows exact, so nothing is left half
 * summed), squares, and rotate-and-sums with steps 1, …, H/2. Every slot ends up holding the same
 * logit, so a key holder decrypts the score and nothing else: no partial sums to mask. The rotation
 * steps are the powers of two below P, and they are the only Galois keys a session uploads.
 * 'single-masked' additionally multiplies by a one-hot so that only slot 0 survives (one more level);
 * it matters only against a key holder who sends inputs that are NOT laid out this way: other slots
 * then hold other windows of the weights (docs/encrypted-prediction.md says what that reveals).
 *
 * batched — one ciphertext per feature, one applicant per slot (N/2 − 2 applicants per set of d
 * ciphertexts, two padding slots kept as canaries); every operation is slot-wise, so no rotations and
 * no Galois keys.
 */

import type { HeModel, HeModelShape } from './he-model.js';
import { modelLevels, modelShape } from './he-model.js';
import { checkCkksParams, ckksParamSet, type CkksParams } from './params.js';

export type HeLayout = 'single' | 'single-masked' | 'batched';

/**
 * Slots of every batched set left as padding (zero features): they must all decrypt to the same
 * value, which lets the client detect an evaluation under keys that are not its own even when a set
 * is full. Costs 2 of 2048 slots at N=4096.
 */
export const BATCH_CANARY_SLOTS = 2;
export const HE_LAYOUTS: readonly HeLayout[] = ['single', 'single-masked', 'batched'];

export const isHeLayout = (v: unknown): v is HeLayout => typeof v === 'string' && (HE_LAYOUTS as readonly string[]).includes(v);

export interface LayoutPlan {
  layout: HeLayout;
  shape: HeModelShape;
  /** N/2. */
  slots: number;
  /** Rescales the evaluation performs (model levels, +1 when masked). */
  levels: number;
  /** Whether a relinearisation key is needed (quadratic models). */
  relin: boolean;
  /** Rotation steps the evaluation uses (empty for batched). */
  galoisSteps: number[];
  /** single: H, the repeat count of each feature (1 for linear). */
  stride: number;
  /** single: P = F·H, the period tiled across the slots. */
  period: number;
  /** Ciphertexts one evaluation unit takes: 1 (single) or inputSize (batched). */
  ciphertextsPerSet: number;
  /** Applicants one evaluation unit scores: 1 (single) or N/2 − BATCH_CANARY_SLOTS (batched). */
  applicantsPerSet: number;
}

export const nextPow2 = (n: number): number => (n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n)));

function describe(shape: HeModelShape, layout: HeLayout): string {
  const model = shape.kind === 'linear' ? 'logistic regression' : `the quadratic MLP (${shape.units} hidden units)`;
  return `${model} in the ${layout} layout`;
}

/** The layout for a model shape under given parameters, or why the parameters cannot hold it. */
export function planLayout(shape: HeModelShape, params: CkksParams, layout: HeLayout): LayoutPlan | { refused: string } {
  if (!isHeLayout(layout)) return { refused: `planLayout: layout expected one of ${HE_LAYOUTS.join(', ')}, got ${JSON.stringify(String(layout)).slice(0, 40)}` };
  const d = shape.inputSize;
  if (!Number.isSafeInteger(d) || d < 1) return { refused: `planLayout: inputSize expected a positive integer, got ${d}` };
  if (shape.kind === 'quadratic' && (!Number.isSafeInteger(shape.units) || shape.units < 1)) {
    return { refused: `planLayout: units expected a positive integer for a quadratic model, got ${shape.units}` };
  }
  const slots = params.polyModulusDegree / 2;
  const levels = modelLevels(shape) + (layout === 'single-masked' ? 1 : 0);
  const relin = shape.kind === 'quadratic';
  let stride = 1;
  let period = 1;
  let galoisSteps: number[] = [];
  if (layout !== 'batched') {
    stride = shape.kind === 'linear' ? 1 : nextPow2(shape.units);
    period = nextPow2(d + 1) * stride;
    for (let s = 1; s < period; s *= 2) galoisSteps.push(s);
  } else {
    galoisSteps = [];
  }
  const check = checkCkksParams(params, { levels, slots: layout === 'batched' ? 1 : period, what: describe(shape, layout) });
  if (!check.ok) return { refused: check.reason };
  return {
    layout,
    shape: { kind: shape.kind, inputSize: d, units: shape.kind === 'linear' ? 0 : shape.units },
    slots,
    levels,
    relin,
    galoisSteps,
    stride,
    period,
    ciphertextsPerSet: layout === 'batched' ? d : 1,
    applicantsPerSet: layout === 'batched' ? slots - BATCH_CANARY_SLOTS : 1,
  };
}

/** planLayout that throws (for callers that already validated the parameters). */
export function mustPlan(fn: string, shape: HeModelShape, params: CkksParams, layout: HeLayout): LayoutPlan {
  const plan = planLayout(shape, params, layout);
  if ('refused' in plan) throw new Error(`${fn}: ${plan.refused}`);
  return plan;
}

/**
 * The parameter set to use when the caller has no reason to choose: n4096 wherever it is exact enough,
 * n8192 where a quadratic model needs the third level (single-masked) or the precision (batched;
 * see CKKS_PARAM_SETS for the measurements).
 */
export function recommendedParams(layout: HeLayout, shape: HeModelShape): CkksParams {
  return ckksParamSet(shape.kind === 'quadratic' && layout !== 'single' ? 'n8192' : 'n4096');
}

/** The rotation steps a session for this model needs: the only Galois keys worth uploading. */
export function requiredGaloisSteps(model: HeModel | HeModelShape, params: CkksParams, layout: HeLayout = 'single'): number[] {
  const shape = 'rows' in model || 'weights' in model ? modelShape(model as HeModel) : (model as HeModelShape);
  return mustPlan('requiredGaloisSteps', shape, params, layout).galoisSteps;
}

/** Client side, single layout: one applicant's features as the slot vector described above. */
export function packSingleInput(plan: LayoutPlan, x: ArrayLike<number>): Float64Array {
  const d = plan.shape.inputSize;
  const out = new Float64Array(plan.slots);
  const H = plan.stride;
  for (let i = 0; i <= d; i++) {
    const value = i === d ? 1 : (x[i] as number);
    if (value === 0) continue;
    for (let tile = 0; tile < plan.slots; tile += plan.period) out.fill(value, tile + i * H, tile + i * H + H);
  }
  return out;
}

/**
 * Server side, single layout: the weights in the input's layout. For a quadratic model, units with
 * sign `sign` only (the others are zero), because the two signs are multiplied separately.
 */
export function packSingleWeights(plan: LayoutPlan, model: HeModel, sign: 1 | -1 = 1): Float64Array {
  const d = plan.shape.inputSize;
  const out = new Float64Array(plan.slots);
  const H = plan.stride;
  for (let tile = 0; tile < plan.slots; tile += plan.period) {
    if (model.kind === 'linear') {
      out.set(model.weights, tile);
      out[tile + d] = model.bias;
      continue;
    }
    for (let j = 0; j < model.units; j++) {
      if (model.signs[j] !== sign) continue;
      for (let i = 0; i <= d; i++) out[tile + i * H + j] = model.rows[j * (d + 1) + i] as number;
    }
  }
  return out;
}
