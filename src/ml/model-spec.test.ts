/**
 * Tests for the flat weight layout. Aggregation, secret sharing and homomorphic evaluation all index
 * into the flat vector, so names, shapes, order and counts are pinned here.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialWeights, inputSizeFor, modelLayout, parameterCount, splitWeights, validateModelSpec, type ModelSpec } from './model-spec.js';

const logreg: ModelSpec = { kind: 'logreg' };
const mlp: ModelSpec = { kind: 'mlp', hidden: [16, 8], activation: 'relu' };

test('modelLayout: logistic regression is the output layer only', () => {
  const layout = modelLayout(logreg, 43);
  assert.deepEqual(layout, [
    { name: 'output/kernel', shape: [43, 1] },
    { name: 'output/bias', shape: [1] },
  ]);
  assert.equal(parameterCount(layout), 44);
});

test('modelLayout: mlp layers in order, kernels [in, out]', () => {
  const layout = modelLayout(mlp, 43);
  assert.deepEqual(layout, [
    { name: 'dense_0/kernel', shape: [43, 16] },
    { name: 'dense_0/bias', shape: [16] },
    { name: 'dense_1/kernel', shape: [16, 8] },
    { name: 'dense_1/bias', shape: [8] },
    { name: 'output/kernel', shape: [8, 1] },
    { name: 'output/bias', shape: [1] },
  ]);
  assert.equal(parameterCount(layout), 44 * 16 + 17 * 8 + 9);
});

test('modelLayout: rejects bad specs and sizes', () => {
  assert.throws(() => modelLayout(logreg, 0), /modelLayout: expected a positive integer input size, got 0/);
  assert.throws(() => modelLayout({ kind: 'mlp', hidden: [], activation: 'relu' }, 3), /at least one hidden layer/);
  assert.throws(() => modelLayout({ kind: 'mlp', hidden: [2.5], activation: 'relu' }, 3), /positive integers/);
  assert.throws(() => modelLayout({ kind: 'mlp', hidden: [2], activation: 'gelu' as 'relu' }, 3), /unknown activation "gelu"/);
  assert.deepEqual(validateModelSpec({ kind: 'tree' } as unknown as ModelSpec), ['unknown model kind "tree"']);
});

test('inputSizeFor: inverts parameterCount', () => {
  for (const spec of [logreg, mlp, { kind: 'mlp', hidden: [5], activation: 'square' } as ModelSpec]) {
    for (const inputSize of [1, 7, 43]) {
      assert.equal(inputSizeFor(spec, parameterCount(modelLayout(spec, inputSize))), inputSize);
    }
  }
  assert.throws(() => inputSizeFor(mlp, 100), /inputSizeFor: 100 weights fit no input size/);
});

test('initialWeights: logistic regression starts at zero', () => {
  assert.deepEqual(Array.from(initialWeights(logreg, 3, 9)), [0, 0, 0, 0]);
});

test('initialWeights: mlp is seeded Glorot-uniform with zero biases', () => {
  const a = initialWeights(mlp, 43, 1);
  assert.deepEqual(initialWeights(mlp, 43, 1), a);
  assert.notDeepEqual(initialWeights(mlp, 43, 2), a);
  const layout = modelLayout(mlp, 43);
  const parts = splitWeights(a, layout);
  layout.forEach((t, i) => {
    const part = parts[i]!;
    if (t.name.endsWith('/bias')) {
      assert.ok(part.every((v) => v === 0), t.name);
    } else {
      const [fanIn, fanOut] = t.shape as [number, number];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      assert.ok(part.every((v) => Math.abs(v) <= limit), t.name);
      assert.ok(part.some((v) => v > limit / 2) && part.some((v) => v < -limit / 2), `${t.name} spread`);
    }
  });
});

test('splitWeights: views in layout order, throws on length mismatch', () => {
  const layout = modelLayout({ kind: 'mlp', hidden: [2], activation: 'tanh' }, 3);
  const flat = Float32Array.from({ length: parameterCount(layout) }, (_, i) => i);
  const parts = splitWeights(flat, layout);
  assert.deepEqual(parts.map((p) => Array.from(p)), [[0, 1, 2, 3, 4, 5], [6, 7], [8, 9], [10]]);
  parts[3]![0] = 99;
  assert.equal(flat[10], 99);
  assert.throws(() => splitWeights(new Float32Array(5), layout), /splitWeights: expected 11 weights for the layout, got 5/);
});
