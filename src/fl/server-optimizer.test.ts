/**
 * Server optimisers against their update rules worked by hand, the state codec, and the property that
 * makes FedAdam the MLP default: its per-weight step stays near η however large the averaged change.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyServerOptimizer, decodeOptimizerState, defaultServerOptimizer, encodeOptimizerState, type ServerOptimizerConfig } from './server-optimizer.js';

const close = (a: number, b: number, tol = 1e-6): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
const f32 = (...values: number[]) => Float32Array.from(values);

describe('applyServerOptimizer', () => {
  it('fedavg with η = 1 returns the average itself, and η scales the step', () => {
    const one = applyServerOptimizer({ kind: 'fedavg', learningRate: 1 }, f32(1, 2), f32(3, -2), null);
    assert.deepEqual(Array.from(one.weights), [3, -2]);
    assert.equal(one.state.m, null);
    const half = applyServerOptimizer({ kind: 'fedavg', learningRate: 0.5 }, f32(1, 2), f32(3, -2), null);
    assert.deepEqual(Array.from(half.weights), [2, 0]);
  });

  it('fedavgm accumulates velocity across rounds', () => {
    const config: ServerOptimizerConfig = { kind: 'fedavgm', learningRate: 1, momentum: 0.5 };
    const first = applyServerOptimizer(config, f32(0), f32(1), null);
    close(first.weights[0]!, 1);
    // Δ = 1 again: v = 0.5·1 + 1 = 1.5.
    const second = applyServerOptimizer(config, first.weights, f32(2), first.state);
    close(second.weights[0]!, 2.5);
    assert.equal(second.state.step, 2);
  });

  it('fedadam takes a bias-corrected first step of η·sign(Δ) whatever Δ’s size', () => {
    const config: ServerOptimizerConfig = { kind: 'fedadam', learningRate: 0.03, beta1: 0.9, beta2: 0.99, tau: 1e-9 };
    const step = applyServerOptimizer(config, f32(0, 0, 0), f32(1000, -0.001, 0), null);
    close(step.weights[0]!, 0.03);
    close(step.weights[1]!, -0.03, 1e-5);
    assert.equal(step.weights[2], 0);
    close(step.state.m![0]!, 100, 1e-3);
    close(step.state.v![0]!, 10_000, 1e-1);
  });

  it('fedyogi grows v additively while Δ² exceeds it', () => {
    const config: ServerOptimizerConfig = { kind: 'fedyogi', learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 };
    const step = applyServerOptimizer(config, f32(0), f32(2), null);
    // v = 0 − 0.01·4·sign(0 − 4) = 0.04.
    close(step.state.v![0]!, 0.04);
  });

  it('never modifies its inputs, and refuses a state of another size', () => {
    const current = f32(1, 1);
    const averaged = f32(2, 2);
    const state = { step: 1, m: f32(0.5, 0.5), v: f32(1, 1) };
    applyServerOptimizer({ kind: 'fedadam', learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 }, current, averaged, state);
    assert.deepEqual(Array.from(current), [1, 1]);
    assert.deepEqual(Array.from(state.m), [0.5, 0.5]);
    assert.throws(() => applyServerOptimizer({ kind: 'fedavgm', learningRate: 1, momentum: 0.9 }, f32(1, 2, 3), f32(1, 2, 3), state), /2 values for 3 parameters/);
  });
});

describe('optimiser state codec', () => {
  it('round-trips step, m and v, and a state with m only', () => {
    const state = { step: 7, m: f32(0.25, -1.5), v: f32(2, 3) };
    assert.deepEqual(decodeOptimizerState(encodeOptimizerState(state)), state);
    const momentum = { step: 3, m: f32(1, 2, 3), v: null };
    assert.deepEqual(decodeOptimizerState(encodeOptimizerState(momentum)), momentum);
  });

  it('refuses malformed bytes', () => {
    assert.throws(() => decodeOptimizerState(new Uint8Array(3)), /at least 10 bytes/);
    const bytes = encodeOptimizerState({ step: 1, m: f32(1), v: f32(1) });
    assert.throws(() => decodeOptimizerState(bytes.subarray(0, bytes.length - 2)), /malformed/);
  });
});

it('defaults: plain averaging for logistic regression, FedAdam for an MLP, with a larger step for polynomial activations', () => {
  assert.deepEqual(defaultServerOptimizer({ kind: 'logreg' }), { kind: 'fedavg', learningRate: 1 });
  assert.deepEqual(defaultServerOptimizer({ kind: 'mlp', hidden: [16], activation: 'relu' }), { kind: 'fedadam', learningRate: 0.03, beta1: 0.9, beta2: 0.99, tau: 0.001 });
  assert.deepEqual(defaultServerOptimizer({ kind: 'mlp', hidden: [16], activation: 'relu-poly' }), { kind: 'fedadam', learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.001 });
  assert.equal(defaultServerOptimizer({ kind: 'mlp', hidden: [8], activation: 'square' }).learningRate, 0.1);
});
