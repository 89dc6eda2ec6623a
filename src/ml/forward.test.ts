/**
 * The plain forward pass against the tf.js ops training used to score with (a bias-augmented first layer,
 * fused matMul, the activation kernels): every model kind and activation, inputs narrower and wider than
 * tf.js's 48-wide matMul blocks, weights and inputs of both signs. The scores must be bit-identical, so
 * switching scoring away from tf.js changed no prediction, validation report or model selection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forwardLogits } from './forward.js';
import { ACTIVATIONS, layerSizes, modelLayout, parameterCount, type Activation, type ModelSpec } from './model-spec.js';
import { createRng } from './random.js';
import { getTf, type Tensor1D, type Tensor2D } from './tf.js';
import { predictLogits } from './train.js';

/** The logits as tf.js computes them on the 'cpu' backend, op for op as train.ts's forward did. */
function tfLogits(spec: ModelSpec, weights: Float32Array, X: Float32Array[]): Float32Array {
  const tf = getTf();
  const sizes = layerSizes(spec, X[0]!.length);
  return tf.tidy(() => {
    const width = sizes[0]! + 1;
    const xAug = new Float32Array(X.length * width);
    X.forEach((row, r) => {
      xAug.set(row, r * width);
      xAug[r * width + width - 1] = 1;
    });
    let input: Tensor2D = tf.tensor2d(xAug, [X.length, width]);
    let offset = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      const fanIn = l === 0 ? width : sizes[l]!;
      const fanOut = sizes[l + 1]!;
      const kernel = tf.tensor2d(weights.slice(offset, offset + fanIn * fanOut), [fanIn, fanOut]);
      offset += fanIn * fanOut;
      let bias: Tensor1D | undefined;
      if (l > 0) {
        bias = tf.tensor1d(weights.slice(offset, offset + fanOut));
        offset += fanOut;
      }
      const hidden = l + 2 < sizes.length;
      const activation = spec.kind === 'mlp' && hidden ? spec.activation : 'linear';
      const fused = activation === 'relu' || activation === 'sigmoid' ? activation : 'linear';
      const z = tf.fused.matMul({ a: input, b: kernel, bias, activation: fused }) as Tensor2D;
      input = fused !== activation ? unfused(activation as Activation, z) : z;
    }
    return input.dataSync() as Float32Array;
  });
}

function unfused(activation: Activation, z: Tensor2D): Tensor2D {
  const tf = getTf();
  if (activation === 'tanh') return tf.tanh(z);
  if (activation === 'square') return tf.square(z);
  return tf.add(tf.mul(tf.add(tf.mul(z, 0.125), 0.5), z), 0.25) as Tensor2D;
}

function randomCase(spec: ModelSpec, inputSize: number, rows: number, seed: number) {
  const rng = createRng(seed);
  const count = parameterCount(modelLayout(spec, inputSize));
  const weights = Float32Array.from({ length: count }, () => (rng() - 0.5) * 1.5);
  const X = Array.from({ length: rows }, () => Float32Array.from({ length: inputSize }, () => (rng() - 0.5) * 6));
  return { weights, X };
}

const SPECS: ModelSpec[] = [{ kind: 'logreg' }, ...ACTIVATIONS.map((activation): ModelSpec => ({ kind: 'mlp', hidden: [16, 5], activation }))];

test('forwardLogits: bit-identical to tf.js for every model kind and activation, below and above 48 inputs', () => {
  let seed = 1;
  for (const spec of SPECS) {
    for (const inputSize of [3, 47, 48, 100]) {
      const { weights, X } = randomCase(spec, inputSize, 7, seed++);
      const expected = tfLogits(spec, weights, X);
      const got = forwardLogits(layerSizes(spec, inputSize), spec.kind === 'mlp' ? spec.activation : undefined, weights, X);
      assert.deepEqual(got, expected, `${JSON.stringify(spec)}, ${inputSize} inputs`);
      assert.deepEqual(predictLogits(spec, weights, X), expected, `predictLogits, ${JSON.stringify(spec)}, ${inputSize} inputs`);
    }
  }
});

test('forwardLogits: one row scores the same alone as inside a batch', () => {
  const spec: ModelSpec = { kind: 'mlp', hidden: [8], activation: 'tanh' };
  const { weights, X } = randomCase(spec, 20, 5, 99);
  const batch = predictLogits(spec, weights, X);
  X.forEach((row, i) => assert.equal(predictLogits(spec, weights, [row])[0], batch[i]));
});
