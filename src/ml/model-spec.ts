/**
 * Model architectures as data, and their weights as ONE flat Float32Array. Everything that moves
 * weights around — FedAvg, clipping, fixed-point encoding, Shamir sharing, CKKS evaluation — works on
 * a flat vector, so the layout (tensor names, shapes and order) is fixed here once: dense layers then
 * the output layer, each kernel row-major [in, out] followed by its bias. A kernel followed by its bias
 * is also the bias-augmented matrix [in + 1, out], which training exploits.
 */

import { createRng } from './random.js';

/**
 * Hidden-layer activations. `square` (x²) and `relu-poly` (0.125x² + 0.5x + 0.25, a degree-2 fit of ReLU
 * on about [−2, 2]) are polynomials, so an MLP using them can be evaluated under CKKS encryption.
 */
export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'square' | 'relu-poly';
export type ModelSpec = { kind: 'logreg' } | { kind: 'mlp'; hidden: number[]; activation: Activation };

export interface TensorLayout {
  name: string;
  shape: number[];
}

export const ACTIVATIONS: readonly Activation[] = ['relu', 'tanh', 'sigmoid', 'square', 'relu-poly'];

/** Problems with a spec, [] when it is usable. */
export function validateModelSpec(spec: ModelSpec): string[] {
  if (spec === null || typeof spec !== 'object') return ['model spec must be an object'];
  if (spec.kind === 'logreg') return [];
  if (spec.kind !== 'mlp') return [`unknown model kind ${JSON.stringify((spec as { kind: unknown }).kind)}`];
  const problems: string[] = [];
  if (!Array.isArray(spec.hidden) || spec.hidden.length === 0) {
    problems.push('mlp needs at least one hidden layer');
  } else if (!spec.hidden.every((h) => Number.isSafeInteger(h) && h > 0)) {
    problems.push('mlp hidden layer sizes must be positive integers');
  }
  if (!ACTIVATIONS.includes(spec.activation)) {
    problems.push(`unknown activation ${JSON.stringify(spec.activation)}, expected one of ${ACTIVATIONS.join(', ')}`);
  }
  return problems;
}

function assertSpec(fn: string, spec: ModelSpec, inputSize: number): void {
  const problems = validateModelSpec(spec);
  if (problems.length > 0) throw new Error(`${fn}: invalid model spec: ${problems.join('; ')}`);
  if (!Number.isSafeInteger(inputSize) || inputSize < 1) {
    throw new Error(`${fn}: expected a positive integer input size, got ${inputSize}`);
  }
}

/** Layer widths from input to the single output logit, e.g. [43, 16, 1]. */
export function layerSizes(spec: ModelSpec, inputSize: number): number[] {
  return spec.kind === 'logreg' ? [inputSize, 1] : [inputSize, ...spec.hidden, 1];
}

export function modelLayout(spec: ModelSpec, inputSize: number): TensorLayout[] {
  assertSpec('modelLayout', spec, inputSize);
  const sizes = layerSizes(spec, inputSize);
  const layout: TensorLayout[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const prefix = l + 2 === sizes.length ? 'output' : `dense_${l}`;
    const fanIn = sizes[l] as number;
    const fanOut = sizes[l + 1] as number;
    layout.push({ name: `${prefix}/kernel`, shape: [fanIn, fanOut] });
    layout.push({ name: `${prefix}/bias`, shape: [fanOut] });
  }
  return layout;
}

export function parameterCount(layout: TensorLayout[]): number {
  let total = 0;
  for (const t of layout) total += t.shape.reduce((a, b) => a * b, 1);
  return total;
}

/** The input size a flat weight vector of `weightCount` implies for `spec`, or throws. */
export function inputSizeFor(spec: ModelSpec, weightCount: number): number {
  const problems = validateModelSpec(spec);
  if (problems.length > 0) throw new Error(`inputSizeFor: invalid model spec: ${problems.join('; ')}`);
  // weightCount = (in + 1) * first + rest, where rest counts every layer after the first.
  const widths = spec.kind === 'logreg' ? [1] : [...spec.hidden, 1];
  const first = widths[0] as number;
  let rest = 0;
  for (let l = 1; l < widths.length; l++) rest += ((widths[l - 1] as number) + 1) * (widths[l] as number);
  const inputSize = (weightCount - rest) / first - 1;
  if (!Number.isSafeInteger(inputSize) || inputSize < 1) {
    throw new Error(`inputSizeFor: ${weightCount} weights fit no input size for this model`);
  }
  return inputSize;
}

/**
 * Starting weights. MLP kernels are Glorot-uniform (limit √(6 / (fanIn + fanOut))) from the seeded
 * generator, biases zero. Logistic regression starts at zero whatever the seed: its loss is convex, and
 * a fixed start keeps federated runs comparable across seeds.
 */
export function initialWeights(spec: ModelSpec, inputSize: number, seed: number): Float32Array {
  const layout = modelLayout(spec, inputSize);
  const flat = new Float32Array(parameterCount(layout));
  if (spec.kind === 'logreg') return flat;
  const rng = createRng(seed);
  let offset = 0;
  for (const t of layout) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.name.endsWith('/kernel')) {
      const [fanIn, fanOut] = t.shape as [number, number];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let k = 0; k < size; k++) flat[offset + k] = (2 * rng() - 1) * limit;
    }
    offset += size;
  }
  return flat;
}

/** Views (no copy) of the flat vector, one per layout entry. */
export function splitWeights(flat: Float32Array, layout: TensorLayout[]): Float32Array[] {
  const expected = parameterCount(layout);
  if (flat.length !== expected) {
    throw new Error(`splitWeights: expected ${expected} weights for the layout, got ${flat.length}`);
  }
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const t of layout) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    parts.push(flat.subarray(offset, offset + size));
    offset += size;
  }
  return parts;
}

/** The degree-2 polynomial activations: what CKKS can evaluate, and what trains at smaller rates. */
export function isPolynomial(activation: Activation): boolean {
  return activation === 'square' || activation === 'relu-poly';
}

/**
 * Whether CKKS can evaluate this model: logistic regression, or one hidden layer with a degree-2
 * polynomial activation (square, relu-poly). Anything else needs comparisons or deeper polynomials.
 */
export function heEvaluability(spec: ModelSpec): { evaluable: true; reason: null } | { evaluable: false; reason: string } {
  if (spec.kind === 'logreg') return { evaluable: true, reason: null };
  if (!isPolynomial(spec.activation)) {
    return { evaluable: false, reason: `the ${spec.activation} activation is not a polynomial; use square or relu-poly` };
  }
  if (spec.hidden.length !== 1) {
    return { evaluable: false, reason: `${spec.hidden.length} hidden layers need a degree-${2 ** spec.hidden.length} polynomial; only one hidden layer is supported` };
  }
  return { evaluable: true, reason: null };
}
