/**
 * compileHeModel and the slot layout, without encryption: the folded polynomial equals the network's
 * forward pass for both quadratic activations, non-polynomial or deeper models are refused with a
 * reason naming the activation or the depth, and the layout needs exactly the rotation steps it uses.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ModelSpec } from '../../ml/model-spec.js';
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

test('the folded quadratic equals the forward pass, for square and relu-poly', () => {
  const d = 5;
  const h = 4;
  const count = (d + 1) * h + h + 1;
  const arbWeights = fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: count, maxLength: count });
  const arbX = fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: d, maxLength: d });
  for (const activation of Object.keys(HE_ACTIVATIONS) as HeActivation[]) {
    const { c2, c1, c0 } = HE_ACTIVATIONS[activation];
    fc.assert(
      fc.property(arbWeights, arbX, (w, x) => {
        // Keep at least one live unit so that the model compiles.
        w[0] = 1;
        w[(d + 1) * h] = 1;
        const model = compiled(mlp(h, activation), w, d);
        const expected = forward(Float64Array.from(w), d, h, (z) => c2 * z * z + c1 * z + c0, x);
        assert.ok(Math.abs(plainLogit(model, x) - expected) <= 1e-9 * (1 + Math.abs(expected)), activation);
      }),
      { numRuns: 200 },
    );
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
