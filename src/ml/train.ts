/**
 * Local training and prediction on flat weight vectors: what an owner runs each round, what the server
 * runs for evaluation, and what `fedscore simulate` runs once per owner per round (hundreds of one-row
 * owners), so a call must cost well under a millisecond or two. Hence plain minibatch SGD written with
 * raw tf ops and a hand-derived backward pass: autodiff (tf.grads, optimizers) records a tape and adds
 * broadcast/reduction kernels, which measured about five times slower on a one-row step, and
 * model.fit shuffles with Math.random. The gradients are checked against tf.grads in train.test.ts.
 * Minibatch order comes from the seeded generator, so the same inputs give bit-identical weights on a
 * given backend.
 */

import { forwardLogits } from './forward.js';
import { layerSizes, modelLayout, parameterCount, type Activation, type ModelSpec } from './model-spec.js';
import { createRng, shuffleInPlace } from './random.js';
import { getTf, type Tensor, type Tensor1D, type Tensor2D } from './tf.js';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  /** λ of the penalty (λ/2)·Σ kernel²; applied as weight decay W ← W·(1 − lr·λ) each step; biases are not decayed. */
  l2?: number;
}

export interface TrainResult {
  weights: Float32Array;
  /** Mean binary cross-entropy over the samples after training (without the L2 term). */
  loss: number;
  /** Accuracy at threshold 0.5 over the samples after training. */
  accuracy: number;
  numSamples: number;
}

type Tf = ReturnType<typeof getTf>;

/**
 * Parameters as tensors. The first layer's kernel and bias are one bias-augmented matrix [in + 1, out]
 * (the flat layout stores them contiguously in that order) multiplied by inputs carrying a trailing 1,
 * which saves the bias add and the bias gradient. Later layers keep kernel and bias apart because
 * their inputs are computed on the fly.
 */
type Params = {
  first: Tensor2D;
  kernels: Tensor2D[];
  biases: Tensor1D[];
};

interface Net {
  sizes: number[];
  activation: Activation | undefined;
  weightCount: number;
}

function describeNet(fn: string, spec: ModelSpec, inputSize: number, weightCount: number): Net {
  const layout = modelLayout(spec, inputSize);
  const expected = parameterCount(layout);
  if (weightCount !== expected) {
    throw new Error(`${fn}: expected ${expected} weights for this model and ${inputSize} inputs, got ${weightCount}`);
  }
  return { sizes: layerSizes(spec, inputSize), activation: spec.kind === 'mlp' ? spec.activation : undefined, weightCount };
}

function checkRows(fn: string, X: Float32Array[], inputSize: number): void {
  for (let i = 0; i < X.length; i++) {
    const row = X[i];
    if (!(row instanceof Float32Array) || row.length !== inputSize) {
      throw new Error(`${fn}: row ${i} expected a Float32Array of ${inputSize} features, got ${row instanceof Float32Array ? row.length : typeof row}`);
    }
  }
}

/** Rows `indexes` of X as one [rows, in + 1] array with the trailing 1 of the augmented first layer. */
function augmented(X: Float32Array[], indexes: ArrayLike<number>, inputSize: number): Float32Array {
  const width = inputSize + 1;
  const out = new Float32Array(indexes.length * width);
  for (let r = 0; r < indexes.length; r++) {
    out.set(X[indexes[r] as number] as Float32Array, r * width);
    out[r * width + inputSize] = 1;
  }
  return out;
}

function toParams(tf: Tf, net: Net, weights: Float32Array): Params {
  const { sizes } = net;
  const in0 = sizes[0] as number;
  const out0 = sizes[1] as number;
  let offset = (in0 + 1) * out0;
  // slice() copies: the cpu backend keeps a reference to the array it is given.
  const first = tf.tensor2d(weights.slice(0, offset), [in0 + 1, out0]);
  const kernels: Tensor2D[] = [];
  const biases: Tensor1D[] = [];
  for (let l = 1; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l] as number;
    const fanOut = sizes[l + 1] as number;
    kernels.push(tf.tensor2d(weights.slice(offset, offset + fanIn * fanOut), [fanIn, fanOut]));
    offset += fanIn * fanOut;
    biases.push(tf.tensor1d(weights.slice(offset, offset + fanOut)));
    offset += fanOut;
  }
  return { first, kernels, biases };
}

function fromParams(net: Net, params: Params): Float32Array {
  const out = new Float32Array(net.weightCount);
  let offset = 0;
  const put = (t: Tensor): void => {
    const values = t.dataSync();
    out.set(values, offset);
    offset += values.length;
  };
  put(params.first);
  params.kernels.forEach((k, l) => {
    put(k);
    put(params.biases[l] as Tensor1D);
  });
  return out;
}

function disposeParams(params: Params): void {
  params.first.dispose();
  for (const t of params.kernels) t.dispose();
  for (const t of params.biases) t.dispose();
}

interface Forward {
  /** Pre-activations of each hidden layer (kept only where the derivative needs them). */
  zs: Tensor2D[];
  /** Activations of each hidden layer. */
  as: Tensor2D[];
  /** Output: probabilities when `sigmoidOut`, logits otherwise. */
  out: Tensor2D;
}

// relu and sigmoid fuse into the matMul kernel; tanh and square need their own op.
function fusable(a: Activation): a is 'relu' | 'sigmoid' {
  return a === 'relu' || a === 'sigmoid';
}

function forward(tf: Tf, net: Net, params: Params, xAug: Tensor2D, sigmoidOut: boolean): Forward {
  const zs: Tensor2D[] = [];
  const as: Tensor2D[] = [];
  const hiddenLayers = params.kernels.length;
  const act = net.activation;
  const outAct = sigmoidOut ? 'sigmoid' : 'linear';
  const dense = (a: Tensor2D, b: Tensor2D, bias: Tensor1D | undefined, activation: 'linear' | 'relu' | 'sigmoid'): Tensor2D =>
    tf.fused.matMul({ a, b, bias, activation }) as Tensor2D;
  if (hiddenLayers === 0 || act === undefined) {
    return { zs, as, out: dense(xAug, params.first, undefined, outAct) };
  }
  let input: Tensor2D = xAug;
  for (let l = 0; l <= hiddenLayers; l++) {
    const isOutput = l === hiddenLayers;
    const kernel = l === 0 ? params.first : (params.kernels[l - 1] as Tensor2D);
    const bias = l === 0 ? undefined : (params.biases[l - 1] as Tensor1D);
    if (isOutput) {
      return { zs, as, out: dense(input, kernel, bias, outAct) };
    }
    if (fusable(act)) {
      const a = dense(input, kernel, bias, act);
      zs.push(a);
      as.push(a);
      input = a;
    } else {
      const z = dense(input, kernel, bias, 'linear');
      const a: Tensor2D = act === 'tanh' ? tf.tanh(z) : act === 'square' ? tf.square(z) : reluPoly(tf, z);
      zs.push(z);
      as.push(a);
      input = a;
    }
  }
  throw new Error('forward: unreachable');
}

/** d activation / d z, expressed through whichever of z or a is cheaper. */
function activationGrad(tf: Tf, act: Activation, z: Tensor2D, a: Tensor2D): Tensor {
  switch (act) {
    case 'relu':
      return tf.step(a);
    case 'sigmoid':
      return tf.mul(a, tf.sub(1, a));
    case 'tanh':
      return tf.sub(1, tf.square(a));
    case 'square':
      return tf.mul(z, 2);
    case 'relu-poly':
      return tf.add(tf.mul(z, 0.25), 0.5);
  }
}

/** 0.125z² + 0.5z + 0.25: ReLU's degree-2 stand-in that CKKS can evaluate. */
function reluPoly(tf: Tf, z: Tensor2D): Tensor2D {
  return tf.add(tf.mul(tf.add(tf.mul(z, 0.125), 0.5), z), 0.25) as Tensor2D;
}

interface StepConstants {
  /** learningRate / batch rows, per distinct batch size. */
  scale: Map<number, Tensor>;
  /** Weight-decay factor for kernels, and the same as a column mask sparing the first layer's bias row. */
  decay: Tensor | undefined;
  decayFirst: Tensor | undefined;
}

/** One SGD step on mean sigmoid cross-entropy; returns new parameters (the caller disposes the old). */
function sgdStep(tf: Tf, net: Net, params: Params, xAug: Tensor2D, y: Tensor2D, consts: StepConstants): Params {
  return tf.tidy(() => {
    const rows = xAug.shape[0];
    const fwd = forward(tf, net, params, xAug, true);
    // d mean(BCE) / d logit = (p − y) / rows; the learning rate is folded in here once.
    let delta = tf.mul(tf.sub(fwd.out, y), consts.scale.get(rows) as Tensor) as Tensor2D;
    const hidden = params.kernels.length;
    const newKernels: Tensor2D[] = new Array(hidden);
    const newBiases: Tensor1D[] = new Array(hidden);
    for (let l = hidden; l >= 1; l--) {
      // Layer l (1-based among the non-first layers) maps as[l-1] through kernels[l-1].
      const kernel = params.kernels[l - 1] as Tensor2D;
      const bias = params.biases[l - 1] as Tensor1D;
      const input = fwd.as[l - 1] as Tensor2D;
      const gradKernel = tf.matMul(input, delta, true, false);
      const decayed = consts.decay === undefined ? kernel : tf.mul(kernel, consts.decay);
      newKernels[l - 1] = tf.sub(decayed, gradKernel);
      newBiases[l - 1] = tf.sub(bias, tf.sum(delta, 0));
      const back = tf.matMul(delta, kernel, false, true);
      const act = net.activation as Activation;
      delta = tf.mul(back, activationGrad(tf, act, fwd.zs[l - 1] as Tensor2D, fwd.as[l - 1] as Tensor2D)) as Tensor2D;
    }
    const decayedFirst = consts.decayFirst === undefined ? params.first : tf.mul(params.first, consts.decayFirst);
    const first = tf.sub(decayedFirst, tf.matMul(xAug, delta, true, false)) as Tensor2D;
    return { first, kernels: newKernels, biases: newBiases };
  });
}

function checkOptions(opts: TrainOptions): void {
  const { epochs, batchSize, learningRate, seed, l2 } = opts;
  if (!Number.isSafeInteger(epochs) || epochs < 0) throw new Error(`trainLocal: epochs expected an integer >= 0, got ${epochs}`);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new Error(`trainLocal: batchSize expected an integer >= 1, got ${batchSize}`);
  if (!(Number.isFinite(learningRate) && learningRate > 0)) throw new Error(`trainLocal: learningRate expected a finite number > 0, got ${learningRate}`);
  if (!Number.isSafeInteger(seed)) throw new Error(`trainLocal: seed expected a safe integer, got ${seed}`);
  if (l2 !== undefined && !(Number.isFinite(l2) && l2 >= 0)) throw new Error(`trainLocal: l2 expected a finite number >= 0, got ${l2}`);
}

/** Mean BCE from logits (stable softplus form) and accuracy at p >= 0.5, in float64. */
function lossAndAccuracy(logits: ArrayLike<number>, y: Uint8Array): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    const z = logits[i] as number;
    const t = y[i] as number;
    loss += Math.max(z, 0) - z * t + Math.log1p(Math.exp(-Math.abs(z)));
    if ((z >= 0 ? 1 : 0) === t) correct++;
  }
  return { loss: loss / y.length, accuracy: correct / y.length };
}

/** The synchronous core of `trainLocal`, for in-process simulation loops. */
export function trainLocalSync(spec: ModelSpec, weights: Float32Array, X: Float32Array[], y: Uint8Array, opts: TrainOptions): TrainResult {
  checkOptions(opts);
  const n = X.length;
  if (n === 0) throw new Error('trainLocal: expected at least one sample, got 0');
  if (y.length !== n) throw new Error(`trainLocal: expected ${n} labels, got ${y.length}`);
  for (let i = 0; i < n; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new Error(`trainLocal: labels expected 0 or 1, got ${y[i]} at index ${i}`);
  }
  const inputSize = (X[0] as Float32Array).length;
  checkRows('trainLocal', X, inputSize);
  const net = describeNet('trainLocal', spec, inputSize, weights.length);
  const tf = getTf();
  const batchSize = Math.min(opts.batchSize, n);
  const lr = opts.learningRate;
  const l2 = opts.l2 ?? 0;

  const all = new Int32Array(n).map((_, i) => i);
  const consts: StepConstants = { scale: new Map(), decay: undefined, decayFirst: undefined };
  for (const rows of new Set([batchSize, n % batchSize || batchSize])) consts.scale.set(rows, tf.scalar(lr / rows));
  if (l2 > 0) {
    const factor = 1 - lr * l2;
    consts.decay = tf.scalar(factor);
    const mask = new Float32Array(inputSize + 1).fill(factor);
    mask[inputSize] = 1;
    consts.decayFirst = tf.tensor2d(mask, [inputSize + 1, 1]);
  }
  const yAll = Float32Array.from(y);
  const xFull = tf.tensor2d(augmented(X, all, inputSize), [n, inputSize + 1]);
  const yFull = tf.tensor2d(yAll, [n, 1]);

  let params = toParams(tf, net, weights);
  try {
    if (batchSize === n) {
      // Full batch: the order of rows changes nothing but rounding, so skip shuffling and reuse tensors.
      for (let e = 0; e < opts.epochs; e++) {
        const next = sgdStep(tf, net, params, xFull, yFull, consts);
        disposeParams(params);
        params = next;
      }
    } else {
      const rng = createRng(opts.seed);
      const order = Array.from(all);
      const width = inputSize + 1;
      for (let e = 0; e < opts.epochs; e++) {
        shuffleInPlace(order, rng);
        for (let start = 0; start < n; start += batchSize) {
          const idx = order.slice(start, start + batchSize);
          const xb = tf.tensor2d(augmented(X, idx, inputSize), [idx.length, width]);
          const yb = tf.tensor2d(Float32Array.from(idx, (i) => yAll[i] as number), [idx.length, 1]);
          const next = sgdStep(tf, net, params, xb, yb, consts);
          xb.dispose();
          yb.dispose();
          disposeParams(params);
          params = next;
        }
      }
    }
    const trained = fromParams(net, params);
    const { loss, accuracy } = lossAndAccuracy(forwardLogits(net.sizes, net.activation, trained, X), y);
    return { weights: trained, loss, accuracy, numSamples: n };
  } finally {
    disposeParams(params);
    xFull.dispose();
    yFull.dispose();
    for (const t of consts.scale.values()) t.dispose();
    consts.decay?.dispose();
    consts.decayFirst?.dispose();
  }
}

/**
 * Plain minibatch SGD on mean sigmoid cross-entropy, starting from `weights` (not modified). Batches
 * are drawn in a seeded shuffled order each epoch; when the batch covers all rows there is nothing to
 * shuffle. Async so that a native backend can be slotted in; on 'cpu' it completes synchronously.
 */
export async function trainLocal(spec: ModelSpec, weights: Float32Array, X: Float32Array[], y: Uint8Array, opts: TrainOptions): Promise<TrainResult> {
  return trainLocalSync(spec, weights, X, y, opts);
}

/** Logits of every row, by the plain forward pass of forward.ts (bit-identical to tf.js's 'cpu' backend). */
export function predictLogits(spec: ModelSpec, weights: Float32Array, X: Float32Array[]): Float32Array {
  if (X.length === 0) return new Float32Array(0);
  const inputSize = (X[0] as Float32Array).length;
  checkRows('predictLogits', X, inputSize);
  const net = describeNet('predictLogits', spec, inputSize, weights.length);
  return forwardLogits(net.sizes, net.activation, weights, X);
}

export function predictProba(spec: ModelSpec, weights: Float32Array, X: Float32Array[]): Float32Array {
  const logits = predictLogits(spec, weights, X);
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i] as number;
    // Two branches so that exp never overflows.
    out[i] = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
  }
  return out;
}
