/**
 * Server-side optimisation (Reddi et al. 2021, "Adaptive Federated Optimization"; Hsu et al. 2019 for
 * momentum). The aggregation strategy turns a round's contributions into an averaged model; the
 * difference Δ = average − current is a pseudo-gradient, and the server optimiser decides how far to
 * move along it:
 *
 *   fedavg   w ← w + η·Δ                                  (η = 1 is McMahan's FedAvg)
 *   fedavgm  v ← β·v + Δ;  w ← w + η·v
 *   fedadam  m ← β₁m + (1−β₁)Δ;  v ← β₂v + (1−β₂)Δ²;  w ← w + η·m̂/(√v̂ + τ)
 *   fedyogi  as fedadam, but v ← v − (1−β₂)·Δ²·sign(v − Δ²)
 *
 * m̂ and v̂ are bias-corrected as in Adam (Flower's FedAdam does the same), so the first rounds are not
 * a hundred times too timid. The optimiser only ever sees the aggregate, so it works unchanged behind
 * secure aggregation and differential privacy (post-processing of a private average). Its state (m, v
 * and the step count) travels with each published model version, so any instance can take the next step.
 */

import { isPolynomial, type ModelSpec } from '../ml/model-spec.js';

export type ServerOptimizerConfig =
  | { kind: 'fedavg'; learningRate: number }
  | { kind: 'fedavgm'; learningRate: number; momentum: number }
  | { kind: 'fedadam' | 'fedyogi'; learningRate: number; beta1: number; beta2: number; tau: number };

export type ServerOptimizerKind = ServerOptimizerConfig['kind'];

export interface ServerOptimizerState {
  /** Steps taken so far (the round about to be applied is step + 1). */
  step: number;
  /** First moment (fedadam, fedyogi) or velocity (fedavgm), one per parameter. */
  m: Float32Array | null;
  /** Second moment (fedadam, fedyogi). */
  v: Float32Array | null;
}

export interface ServerStep {
  weights: Float32Array;
  state: ServerOptimizerState;
}

/** Moves `current` towards `averaged` as the optimiser says; neither input is modified. */
export function applyServerOptimizer(
  config: ServerOptimizerConfig,
  current: Float32Array,
  averaged: Float32Array,
  previous: ServerOptimizerState | null,
): ServerStep {
  const size = current.length;
  if (averaged.length !== size) throw new Error(`applyServerOptimizer: expected ${size} averaged weights, got ${averaged.length}`);
  const state = freshState(config, size, previous);
  const step = state.step + 1;
  const eta = config.learningRate;
  const weights = new Float32Array(size);
  switch (config.kind) {
    case 'fedavg':
      for (let i = 0; i < size; i++) weights[i] = current[i]! + eta * (averaged[i]! - current[i]!);
      return { weights, state: { step, m: null, v: null } };
    case 'fedavgm': {
      const velocity = state.m!;
      for (let i = 0; i < size; i++) {
        velocity[i] = config.momentum * velocity[i]! + (averaged[i]! - current[i]!);
        weights[i] = current[i]! + eta * velocity[i]!;
      }
      return { weights, state: { step, m: velocity, v: null } };
    }
    case 'fedadam':
    case 'fedyogi': {
      const { beta1, beta2, tau } = config;
      const m = state.m!;
      const v = state.v!;
      const correct1 = 1 - beta1 ** step;
      const correct2 = 1 - beta2 ** step;
      for (let i = 0; i < size; i++) {
        const delta = averaged[i]! - current[i]!;
        const squared = delta * delta;
        m[i] = beta1 * m[i]! + (1 - beta1) * delta;
        v[i] = config.kind === 'fedadam' ? beta2 * v[i]! + (1 - beta2) * squared : v[i]! - (1 - beta2) * squared * Math.sign(v[i]! - squared);
        weights[i] = current[i]! + (eta * (m[i]! / correct1)) / (Math.sqrt(v[i]! / correct2) + tau);
      }
      return { weights, state: { step, m, v } };
    }
  }
}

/** A copy of the previous state to update, or zeros when there is none (or it does not fit this model). */
function freshState(config: ServerOptimizerConfig, size: number, previous: ServerOptimizerState | null): ServerOptimizerState {
  const needsM = config.kind !== 'fedavg';
  const needsV = config.kind === 'fedadam' || config.kind === 'fedyogi';
  const copy = (values: Float32Array | null): Float32Array => {
    if (values === null) return new Float32Array(size);
    if (values.length !== size) throw new Error(`applyServerOptimizer: stored optimiser state has ${values.length} values for ${size} parameters`);
    return Float32Array.from(values);
  };
  return {
    step: previous?.step ?? 0,
    m: needsM ? copy(previous?.m ?? null) : null,
    v: needsV ? copy(previous?.v ?? null) : null,
  };
}

// State bytes: step as a little-endian float64, two flags, then m and v as little-endian float32.
const HEADER = 10;

export function encodeOptimizerState(state: ServerOptimizerState): Uint8Array {
  const mLength = state.m?.length ?? 0;
  const vLength = state.v?.length ?? 0;
  const bytes = new Uint8Array(HEADER + 4 * (mLength + vLength));
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, state.step, true);
  bytes[8] = state.m ? 1 : 0;
  bytes[9] = state.v ? 1 : 0;
  let offset = HEADER;
  for (const part of [state.m, state.v]) {
    if (!part) continue;
    for (let i = 0; i < part.length; i++, offset += 4) view.setFloat32(offset, part[i]!, true);
  }
  return bytes;
}

export function decodeOptimizerState(bytes: Uint8Array): ServerOptimizerState {
  if (bytes.length < HEADER) throw new Error(`decodeOptimizerState: expected at least ${HEADER} bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const step = view.getFloat64(0, true);
  const parts = (bytes[8] === 1 ? 1 : 0) + (bytes[9] === 1 ? 1 : 0);
  const values = (bytes.length - HEADER) / 4;
  if (!Number.isSafeInteger(step) || step < 0 || !Number.isInteger(values) || (parts > 0 && values % parts !== 0) || (parts === 0 && values !== 0)) {
    throw new Error('decodeOptimizerState: malformed optimiser state');
  }
  const length = parts === 0 ? 0 : values / parts;
  let offset = HEADER;
  const read = (): Float32Array => {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++, offset += 4) out[i] = view.getFloat32(offset, true);
    return out;
  };
  const m = bytes[8] === 1 ? read() : null;
  const v = bytes[9] === 1 ? read() : null;
  return { step, m, v };
}

/**
 * The server optimiser a federation uses when its training settings name none. Chosen per model family,
 * never per data set (README, "How the defaults were chosen"): logistic regression's loss is convex and
 * plain averaging of one-epoch updates at local rate 1 converged smoothly on every credit set tried;
 * an MLP's is not, and FedAdam's per-weight step (at most about η) kept it from overshooting where
 * plain averaging either crawled or oscillated. A polynomial activation (the HE-evaluable MLPs) trains
 * at a tenth of the local rate, so its averaged change is small beside τ and FedAdam's step with it:
 * η 0.1 gives back the pace (and lands within a point of centralised on crx and the credit-card data).
 */
export const DEFAULT_MLP_SERVER_OPTIMIZER: Readonly<ServerOptimizerConfig> = Object.freeze({ kind: 'fedadam', learningRate: 0.03, beta1: 0.9, beta2: 0.99, tau: 0.001 });
export const DEFAULT_POLYNOMIAL_MLP_SERVER_OPTIMIZER: Readonly<ServerOptimizerConfig> = Object.freeze({ ...DEFAULT_MLP_SERVER_OPTIMIZER, learningRate: 0.1 });
export const DEFAULT_LOGREG_SERVER_OPTIMIZER: Readonly<ServerOptimizerConfig> = Object.freeze({ kind: 'fedavg', learningRate: 1 });

export function defaultServerOptimizer(model: ModelSpec): ServerOptimizerConfig {
  if (model.kind === 'logreg') return { ...DEFAULT_LOGREG_SERVER_OPTIMIZER };
  return { ...(isPolynomial(model.activation) ? DEFAULT_POLYNOMIAL_MLP_SERVER_OPTIMIZER : DEFAULT_MLP_SERVER_OPTIMIZER) };
}
