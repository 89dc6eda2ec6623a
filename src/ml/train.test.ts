/**
 * Tests for local training. The backward pass is written by hand for speed, so one SGD step is
 * checked against tfjs's autodiff for every activation; then determinism, learning on a separable toy
 * set, prediction, input checks, and that no call leaks tensors.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialWeights, modelLayout, splitWeights, type ModelSpec } from './model-spec.js';
import { createRng } from './random.js';
import { getTf, type Tensor, type Tensor2D } from './tf.js';
import { predictLogits, predictProba, trainLocal, trainLocalSync } from './train.js';

function toyData(n: number, d: number, seed: number): { X: Float32Array[]; y: Uint8Array } {
  // Linearly separable with a margin: label = [x0 + x1 > 0], points near the boundary removed.
  const rng = createRng(seed);
  const X: Float32Array[] = [];
  const labels: number[] = [];
  while (X.length < n) {
    const x = Float32Array.from({ length: d }, () => 4 * rng() - 2);
    const s = (x[0] as number) + (x[1] as number);
    if (Math.abs(s) < 0.3) continue;
    X.push(x);
    labels.push(s > 0 ? 1 : 0);
  }
  return { X, y: Uint8Array.from(labels) };
}

/** One SGD step computed by autodiff on the same model: the reference for the hand-written backward pass. */
function referenceStep(spec: ModelSpec, weights: Float32Array, X: Float32Array[], y: Uint8Array, lr: number, l2: number): Float32Array {
  const tf = getTf();
  const layout = modelLayout(spec, (X[0] as Float32Array).length);
  const parts = splitWeights(weights, layout);
  return tf.tidy(() => {
    const params = parts.map((p, i) => tf.tensor(Array.from(p), layout[i]!.shape));
    const x = tf.tensor2d(X.map((r) => Array.from(r)));
    const labels = tf.tensor2d(Array.from(y), [y.length, 1]);
    const act = (z: Tensor): Tensor => {
      if (spec.kind === 'logreg') return z;
      switch (spec.activation) {
        case 'relu':
          return tf.relu(z);
        case 'tanh':
          return tf.tanh(z);
        case 'sigmoid':
          return tf.sigmoid(z);
        case 'square':
          return tf.square(z);
        case 'relu-poly':
          return tf.add(tf.add(tf.mul(tf.square(z), 0.125), tf.mul(z, 0.5)), 0.25);
      }
    };
    const loss = (...ps: Tensor[]): Tensor => {
      let h: Tensor = x;
      for (let k = 0; k < ps.length; k += 2) {
        const z = tf.add(tf.matMul(h as Tensor2D, ps[k] as Tensor2D), ps[k + 1] as Tensor);
        h = k + 2 === ps.length ? z : act(z);
      }
      const bce = tf.mean(tf.sub(tf.softplus(h), tf.mul(h, labels)));
      let penalty: Tensor = tf.scalar(0);
      for (let k = 0; k < ps.length; k += 2) penalty = tf.add(penalty, tf.sum(tf.square(ps[k] as Tensor)));
      return tf.add(bce, tf.mul(penalty, l2 / 2));
    };
    const grads = tf.grads(loss)(params);
    const updated = params.map((p, i) => tf.sub(p, tf.mul(grads[i] as Tensor, lr)).dataSync());
    const out = new Float32Array(weights.length);
    let offset = 0;
    for (const u of updated) {
      out.set(u, offset);
      offset += u.length;
    }
    return out;
  });
}

const specs: ModelSpec[] = [
  { kind: 'logreg' },
  { kind: 'mlp', hidden: [5], activation: 'relu' },
  { kind: 'mlp', hidden: [5], activation: 'tanh' },
  { kind: 'mlp', hidden: [5], activation: 'sigmoid' },
  { kind: 'mlp', hidden: [4, 3], activation: 'square' },
  { kind: 'mlp', hidden: [4, 3], activation: 'relu' },
  { kind: 'mlp', hidden: [5], activation: 'relu-poly' },
];

test('trainLocal: one full-batch step equals gradient descent by autodiff, for every activation', () => {
  const { X, y } = toyData(7, 4, 3);
  for (const spec of specs) {
    const w0 = initialWeights(spec, 4, 11);
    if (spec.kind === 'logreg') w0.set([0.3, -0.2, 0.1, 0.5, -0.1]);
    for (const l2 of [0, 0.1]) {
      const opts = { epochs: 1, batchSize: 7, learningRate: 0.5, seed: 1, l2 };
      const ours = trainLocalSync(spec, w0, X, y, opts).weights;
      const ref = referenceStep(spec, w0, X, y, 0.5, l2);
      for (let i = 0; i < ref.length; i++) {
        assert.ok(Math.abs((ours[i] as number) - (ref[i] as number)) < 1e-5, `${JSON.stringify(spec)} l2=${l2} weight ${i}: ${ours[i]} vs ${ref[i]}`);
      }
      assert.notDeepEqual(ours, w0);
    }
  }
});

test('trainLocal: same inputs give bit-identical results; the seed changes minibatch order', async () => {
  const { X, y } = toyData(40, 6, 5);
  const spec: ModelSpec = { kind: 'mlp', hidden: [8], activation: 'tanh' };
  const w0 = initialWeights(spec, 6, 1);
  const opts = { epochs: 3, batchSize: 7, learningRate: 0.2, seed: 9 };
  const a = await trainLocal(spec, w0, X, y, opts);
  const b = await trainLocal(spec, w0, X, y, opts);
  assert.deepEqual(a, b);
  const c = await trainLocal(spec, w0, X, y, { ...opts, seed: 10 });
  assert.notDeepEqual(c.weights, a.weights);
});

test('trainLocal: learns a separable toy set and leaves its inputs alone', () => {
  const { X, y } = toyData(64, 5, 8);
  for (const spec of [specs[0], specs[1], specs[4]] as ModelSpec[]) {
    const w0 = initialWeights(spec, 5, 2);
    const copy = w0.slice();
    const before = trainLocalSync(spec, w0, X, y, { epochs: 0, batchSize: 8, learningRate: 0.1, seed: 1 });
    const after = trainLocalSync(spec, w0, X, y, { epochs: 30, batchSize: 8, learningRate: 0.1, seed: 1 });
    assert.deepEqual(before.weights, w0);
    assert.deepEqual(w0, copy);
    assert.equal(after.numSamples, 64);
    assert.ok(after.loss < before.loss / 3, `${JSON.stringify(spec)}: loss ${before.loss} -> ${after.loss}`);
    assert.ok(after.accuracy >= 0.95, `${JSON.stringify(spec)}: accuracy ${after.accuracy}`);
  }
  // Zero weights predict 0.5 everywhere: loss ln 2.
  const zero = trainLocalSync({ kind: 'logreg' }, new Float32Array(6), X, y, { epochs: 0, batchSize: 1, learningRate: 1, seed: 1 });
  assert.ok(Math.abs(zero.loss - Math.LN2) < 1e-12);
});

test('trainLocal and predict leak no tensors, also when they throw', () => {
  const tf = getTf();
  const { X, y } = toyData(10, 3, 1);
  const spec: ModelSpec = { kind: 'mlp', hidden: [4], activation: 'square' };
  const w0 = initialWeights(spec, 3, 1);
  trainLocalSync(spec, w0, X, y, { epochs: 1, batchSize: 3, learningRate: 0.1, seed: 1, l2: 0.01 });
  const before = tf.memory().numTensors;
  trainLocalSync(spec, w0, X, y, { epochs: 2, batchSize: 3, learningRate: 0.1, seed: 1, l2: 0.01 });
  trainLocalSync({ kind: 'logreg' }, new Float32Array(4), X.slice(0, 1), y.slice(0, 1), { epochs: 5, batchSize: 1, learningRate: 0.1, seed: 1 });
  predictProba(spec, w0, X);
  assert.throws(() => trainLocalSync(spec, new Float32Array(3), X, y, { epochs: 1, batchSize: 1, learningRate: 0.1, seed: 1 }));
  assert.equal(tf.memory().numTensors, before);
});

test('predictLogits / predictProba: logistic regression by hand', () => {
  const w = Float32Array.from([0.5, -1, 0.25]);
  const X = [Float32Array.from([2, 1]), Float32Array.from([-4, 0.5])];
  assert.deepEqual(Array.from(predictLogits({ kind: 'logreg' }, w, X)), [0.25, -2.25]);
  const p = predictProba({ kind: 'logreg' }, w, X);
  assert.ok(Math.abs((p[0] as number) - 1 / (1 + Math.exp(-0.25))) < 1e-7);
  assert.ok(Math.abs((p[1] as number) - 1 / (1 + Math.exp(2.25))) < 1e-7);
  assert.deepEqual(predictProba({ kind: 'logreg' }, w, []), new Float32Array(0));
});

test('trainLocal: rejects inconsistent inputs with a clear message', () => {
  const X = [Float32Array.from([1, 2])];
  const y = Uint8Array.of(1);
  const spec: ModelSpec = { kind: 'logreg' };
  const ok = { epochs: 1, batchSize: 1, learningRate: 0.1, seed: 1 };
  const w = new Float32Array(3);
  assert.throws(() => trainLocalSync(spec, new Float32Array(4), X, y, ok), /trainLocal: expected 3 weights for this model and 2 inputs, got 4/);
  assert.throws(() => trainLocalSync(spec, w, [], new Uint8Array(0), ok), /trainLocal: expected at least one sample, got 0/);
  assert.throws(() => trainLocalSync(spec, w, X, Uint8Array.of(1, 0), ok), /trainLocal: expected 1 labels, got 2/);
  assert.throws(() => trainLocalSync(spec, w, X, Uint8Array.of(2), ok), /trainLocal: labels expected 0 or 1, got 2 at index 0/);
  assert.throws(() => trainLocalSync(spec, w, [...X, Float32Array.from([1])], Uint8Array.of(1, 0), ok), /trainLocal: row 1 expected a Float32Array of 2 features, got 1/);
  assert.throws(() => trainLocalSync(spec, w, X, y, { ...ok, batchSize: 0 }), /trainLocal: batchSize expected an integer >= 1, got 0/);
  assert.throws(() => trainLocalSync(spec, w, X, y, { ...ok, learningRate: -1 }), /trainLocal: learningRate expected a finite number > 0, got -1/);
  assert.throws(() => trainLocalSync(spec, w, X, y, { ...ok, epochs: 1.5 }), /trainLocal: epochs expected an integer >= 0, got 1.5/);
  assert.throws(() => trainLocalSync(spec, w, X, y, { ...ok, l2: -0.1 }), /trainLocal: l2 expected a finite number >= 0, got -0.1/);
});
