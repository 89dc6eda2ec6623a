/**
 * compileHeModel and the slot layout, without encryption: the folded polynomial equals the network's
 * forward pass for both quadratic activations (coefficients written out here, not read from the code
 * under test), training's own forward pass and gradient use the same polynomial as the encrypted
 * evaluation, non-polynomial or deeper models are refused with a reason naming the activation or the
 * depth, and the layout needs exactly the rotation steps it uses.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { initialWeights, type ModelSpec } from '../../ml/model-spec.js';
import { predictLogits, predictProba, trainLocalSync } from '../../ml/train.js';
import { compileHeModel, HE_ACTIVATIONS, modelShape, peakMagnitude, plainLogit, type HeActivation, type HeModel } from './he-model.js';
import { packSingleInput, packSingleWeights, planLayout, recommendedParams, requiredGaloisSteps, type LayoutPlan } from './layout.js';
import { ckksParamSet } from './params.js';

/** The MLP's forward pass straight from the flat layout (kernel [in, h] row-major, bias, output kernel, bias). */
function forward(weights: Float64Array, d: number, h: number, act: (z: number) => number, x: number[]): number {
  let out = weights[(d + 1) * h + h] as number;
  for (let j = 0; j < h; j++) {
    let z = weights[d * h + j] as number;
    for (let i = 0; i < d; i++) z += (weights[i * h + j] as number) * (x[i] as number);
    out += act(z) * (weights[(d + 1) * h + j] as number);
  }
  return out;
}

const mlp = (h: number, activation: string): ModelSpec => ({ kind: 'mlp', hidden: [h], activation }) as unknown as ModelSpec;
const compiled = (spec: ModelSpec, w: ArrayLike<number>, d: number): HeModel => {
  const m = compileHeModel(spec, Float64Array.from(w), d);
  if ('refused' in m) throw new Error(m.refused);
  return m;
};

/**
 * The activations by hand, independent of HE_ACTIVATIONS: relu-poly is ReLU's degree-2 stand-in
 * 0.125z² + 0.5z + 0.25 as model-spec.ts and docs/encrypted-prediction.md state it, square is z².
 */
const ACTIVATION_BY_HAND: Record<HeActivation, (z: number) => number> = {
  square: (z) => z * z,
  'relu-poly': (z) => 0.125 * z * z + 0.5 * z + 0.25,
};

test('the folded quadratic equals the forward pass, for square and relu-poly', () => {
  // An activation added to the HE table without a hand-written oracle here would go untested.
  assert.deepEqual(Object.keys(HE_ACTIVATIONS).sort(), Object.keys(ACTIVATION_BY_HAND).sort());
  const d = 5;
  const h = 4;
  const count = (d + 1) * h + h + 1;
  const arbWeights = fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: count, maxLength: count });
  const arbX = fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: d, maxLength: d });
  for (const [activation, act] of Object.entries(ACTIVATION_BY_HAND)) {
    fc.assert(
      fc.property(arbWeights, arbX, (w, x) => {
        // Keep at least one live unit so that the model compiles.
        w[0] = 1;
        w[(d + 1) * h] = 1;
        const model = compiled(mlp(h, activation), w, d);
        const expected = forward(Float64Array.from(w), d, h, act, x);
        assert.ok(Math.abs(plainLogit(model, x) - expected) <= 1e-9 * (1 + Math.abs(expected)), activation);
      }),
      { numRuns: 200 },
    );
  }
});

test('training and encrypted evaluation use the same relu-poly: forward pass and gradient', () => {
  // Training (src/ml/train.ts) writes relu-poly and its derivative as tf ops of its own; a model trained
  // with one polynomial and scored under encryption with another would be silently wrong.
  const d = 4;
  const h = 3;
  const spec: ModelSpec = { kind: 'mlp', hidden: [h], activation: 'relu-poly' };
  const weights = initialWeights(spec, d, 5);
  // Non-zero biases and output weights, so that every coefficient of the polynomial matters.
  weights.set([0.3, -0.6, 0.2, /* v */ 1.5, -0.8, 1.1, /* b2 */ -0.2], d * h);
  const rows = [
    [0.5, -1.2, 2, 0.1],
    [-1.5, 0.3, -0.4, 1.8],
    [2.2, 1.1, -2.5, -0.7],
  ].map((r) => Float32Array.from(r));
  const he = (w: ArrayLike<number>): HeModel => compiled(spec, w, d);
  const trained = predictLogits(spec, weights, rows);
  rows.forEach((x, k) => {
    const expected = plainLogit(he(weights), x);
    assert.ok(Math.abs((trained[k] as number) - expected) <= 1e-5 * (1 + Math.abs(expected)), `row ${k}: training's forward pass ${trained[k]}, HE polynomial ${expected}`);
  });

  // One SGD step on one row moves the weights by lr·(p − y)·∂logit/∂w; the HE polynomial's own
  // derivative (central differences are exact for a polynomial of degree 2 in each weight) must agree.
  const x = rows[0]!;
  const y = 1;
  const lr = 1;
  const p = predictProba(spec, weights, [x])[0]!;
  const stepped = trainLocalSync(spec, weights, [x], Uint8Array.of(y), { epochs: 1, batchSize: 1, learningRate: lr, seed: 1 }).weights;
  const eps = 1e-3;
  for (let k = 0; k < weights.length; k++) {
    const plus = Float64Array.from(weights);
    const minus = Float64Array.from(weights);
    plus[k] = plus[k]! + eps;
    minus[k] = minus[k]! - eps;
    const heGrad = (plainLogit(he(plus), x) - plainLogit(he(minus), x)) / (2 * eps);
    const trainGrad = ((weights[k] as number) - (stepped[k] as number)) / (lr * (p - y));
    assert.ok(Math.abs(trainGrad - heGrad) <= 1e-4 * (1 + Math.abs(heGrad)), `weight ${k}: training's gradient ${trainGrad}, HE polynomial's ${heGrad}`);
  }
});

test('logistic regression compiles to w·x + b', () => {
  const model = compiled({ kind: 'logreg' }, [1, -2, 0.5, 0.25], 3);
  assert.equal(model.kind, 'linear');
  assert.equal(plainLogit(model, [1, 1, 2]), 1 - 2 + 1 + 0.25);
  assert.deepEqual(modelShape(model), { kind: 'linear', inputSize: 3, units: 0 });
});

test('the folded MLP has one sign per unit and no separate linear part', () => {
  // relu-poly = 0.125(z + 2)² − 0.25: each unit is a square of a shifted input, the rest a constant.
  const d = 2;
  const w = [1, 0, 0, 1, /* b1 */ 0, 0, /* v */ 8, -8, /* b2 */ 0.5];
  const model = compiled(mlp(2, 'relu-poly'), w, d);
  assert.equal(model.kind, 'quadratic');
  if (model.kind !== 'quadratic') return;
  assert.deepEqual(Array.from(model.signs), [1, -1]);
  assert.deepEqual(Array.from(model.rows), [1, 0, 2, 0, 1, 2]);
  assert.equal(model.constant, 0.5);
});

test('refuses activations that are not polynomials, naming the activation', () => {
  const d = 3;
  const w = new Float32Array((d + 1) * 2 + 2 + 1).fill(0.5);
  for (const activation of ['relu', 'tanh', 'sigmoid']) {
    const result = compileHeModel(mlp(2, activation), w, d);
    assert.ok('refused' in result);
    assert.match(result.refused, new RegExp(`activation "${activation}" is not a polynomial`));
    assert.match(result.refused, /square or relu-poly/);
  }
});

test('refuses deeper networks, naming the depth', () => {
  const spec = { kind: 'mlp', hidden: [4, 4], activation: 'square' } as ModelSpec;
  const result = compileHeModel(spec, new Float32Array(100), 3);
  assert.ok('refused' in result);
  assert.match(result.refused, /2 hidden layers would need degree 2\^2.*exactly one hidden layer/);
});

test('refuses models whose score ignores the applicant and non-finite weights; throws on a wrong length', () => {
  const zero = compileHeModel({ kind: 'logreg' }, new Float32Array([0, 0, 0, 1]), 3);
  assert.ok('refused' in zero && /does not depend on the applicant/.test(zero.refused));
  const deadMlp = compileHeModel(mlp(2, 'square'), new Float32Array((3 + 1) * 2 + 2 + 1).fill(0).map((_, k) => (k >= 8 ? 1 : 0)), 3);
  assert.ok('refused' in deadMlp && /does not depend on the applicant/.test(deadMlp.refused));
  const nan = compileHeModel({ kind: 'logreg' }, new Float32Array([1, NaN, 0, 1]), 3);
  assert.ok('refused' in nan && /weight 1 is not a finite number/.test(nan.refused));
  assert.throws(() => compileHeModel({ kind: 'logreg' }, new Float32Array(3), 3), /compileHeModel: expected 4 weights for logistic regression on 3 inputs, got 3/);
});

test('calibration records the largest intermediate the rows reach', () => {
  const model = compileHeModel(mlp(2, 'square'), Float64Array.from([1, 0, 0, 1, 0, 0, 1, -1, 0]), 2, { calibration: [[3, 0], [0, 1]] });
  assert.ok(!('refused' in model));
  // Row (3, 0): squares 9 + 0, logit 9; row (0, 1): 0 + 1, logit −1.
  assert.equal(model.peak, 9);
  assert.equal(peakMagnitude(model, [3, 4]), 25);
});

test('layout: steps are the powers of two below the period; batched needs none', () => {
  const params = ckksParamSet('n4096');
  const linear = compiled({ kind: 'logreg' }, new Array(44).fill(0.1), 43);
  assert.deepEqual(requiredGaloisSteps(linear, params), [1, 2, 4, 8, 16, 32]);
  const quad = compiled(mlp(16, 'square'), new Array(44 * 16 + 17).fill(0.1), 43);
  assert.deepEqual(requiredGaloisSteps(quad, params), [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
  assert.deepEqual(requiredGaloisSteps(modelShape(quad), params, 'batched'), []);
  const plan = planLayout(modelShape(quad), params, 'single') as LayoutPlan;
  assert.equal(plan.levels, 2);
  assert.equal((planLayout(modelShape(linear), params, 'single-masked') as LayoutPlan).levels, 2);
  const masked = planLayout(modelShape(quad), params, 'single-masked');
  assert.ok('refused' in masked && /chain of 2 levels is too short: the quadratic MLP \(16 hidden units\) in the single-masked layout needs 3/.test(masked.refused));
  const wide = planLayout({ kind: 'quadratic', inputSize: 43, units: 64 }, params, 'single');
  assert.ok('refused' in wide && /needs 4096 slots, N=4096 has 2048/.test(wide.refused));
  // The recommendation always plans.
  for (const shape of [modelShape(linear), modelShape(quad)]) {
    for (const layout of ['single', 'single-masked', 'batched'] as const) assert.ok(!('refused' in planLayout(shape, recommendedParams(layout, shape), layout)));
  }
  assert.equal(recommendedParams('batched', modelShape(quad)).polyModulusDegree, 8192);
  assert.equal(recommendedParams('single', modelShape(quad)).polyModulusDegree, 4096);
});

test('layout: summing each unit over its feature blocks, cyclically, gives Uⱼ·x̃ in every slot', () => {
  // The plaintext model of the encrypted pipeline: product, windows of stride H over the period, then
  // windows of 1 over H. Every slot must end with the same Σⱼ sⱼ(Uⱼ·x̃)².
  const d = 5;
  const h = 3;
  const params = { polyModulusDegree: 4096, coeffModulusBits: [30, 24, 24, 30], scaleBits: 24 };
  const w = Array.from({ length: (d + 1) * h + h + 1 }, (_, k) => Math.sin(k + 1));
  const model = compiled(mlp(h, 'square'), w, d);
  const plan = planLayout(modelShape(model), params, 'single') as LayoutPlan;
  const x = [0.5, -1, 2, 0.25, -0.75];
  const input = packSingleInput(plan, x);
  const n = plan.slots;
  const rotateSum = (v: Float64Array, from: number, below: number): Float64Array => {
    let acc = v;
    for (let s = from; s < below; s *= 2) acc = acc.map((value, t) => value + (acc[(t + s) % n] as number));
    return acc;
  };
  const stage = (sign: 1 | -1): Float64Array => {
    const weights = packSingleWeights(plan, model, sign);
    const product = input.map((v, t) => v * (weights[t] as number));
    return rotateSum(product, plan.stride, plan.period).map((z) => sign * z * z);
  };
  const negative = stage(-1);
  const squares = stage(1).map((v, t) => v + (negative[t] as number));
  const out = rotateSum(squares, 1, plan.stride).map((v) => v + (model.kind === 'quadratic' ? model.constant : 0));
  const expected = plainLogit(model, x);
  for (const v of out) assert.ok(Math.abs(v - expected) < 1e-9);
});
