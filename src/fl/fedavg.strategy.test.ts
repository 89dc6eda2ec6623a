import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FedAvg } from './fedavg.strategy.js';
import type { ClientUpdate } from './strategy.js';

const update = (weights: number[], numSamples: number, loss?: number): ClientUpdate => ({
  weights: Float32Array.from(weights),
  numSamples,
  metrics: loss === undefined ? {} : { loss },
});

test('FedAvg weights each model by its sample count', () => {
  const result = new FedAvg().aggregate(new Float32Array(2), [update([1, 10], 1, 0.5), update([4, 40], 3, 0.1)], {});
  assert.ok(result);
  assert.deepEqual(Array.from(result.weights), [3.25, 32.5]);
  assert.equal(result.metrics.owners, 2);
  assert.equal(result.metrics.samples, 4);
  assert.ok(Math.abs(result.metrics.trainLoss! - 0.2) < 1e-12);
  assert.equal(result.metrics.trainAccuracy, null);
});

test('FedAvg of no updates is an error: the round fails and the previous model stays', () => {
  assert.throws(() => new FedAvg().aggregate(new Float32Array(3), [], {}), /expected at least one update, got 0/);
});

test('FedAvg from a sum alone gives the same sample-weighted mean', () => {
  const base = Float32Array.from([1, -1]);
  const individually = new FedAvg().aggregate(base, [update([2, 0], 1), update([5, 3], 3)], {});
  // Σ nᵢ(wᵢ − w₀) = 1·(1, 1) + 3·(4, 4) = (13, 13); Σ nᵢ = 4.
  const fromSum = new FedAvg().aggregateSum(base, { delta: Float64Array.from([13, 13]), weight: 4, owners: 2 });
  assert.deepEqual(Array.from(fromSum.weights), Array.from(individually.weights));
  assert.deepEqual(fromSum.metrics, { owners: 2, samples: 4, trainLoss: null, trainAccuracy: null });
  assert.throws(() => new FedAvg().aggregateSum(base, { delta: new Float64Array(2), weight: 0, owners: 0 }), /positive total weight/);
});

test('FedAvg rejects an update of the wrong length', () => {
  assert.throws(() => new FedAvg().aggregate(new Float32Array(2), [update([1], 1)], {}), /expected 2 weights, got 1/);
});

test('FedAvg does not depend on the order updates arrive in', () => {
  const vector = fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e3, max: 1e3 }), {
    minLength: 4,
    maxLength: 4,
  });
  fc.assert(
    fc.property(fc.array(fc.tuple(vector, fc.integer({ min: 1, max: 50 })), { minLength: 1, maxLength: 12 }), (raw) => {
      const updates = raw.map(([w, n]) => update(w, n));
      const forward = new FedAvg().aggregate(new Float32Array(4), updates, {});
      const backward = new FedAvg().aggregate(new Float32Array(4), [...updates].reverse(), {});
      assert.deepEqual(forward.weights, backward.weights);
    }),
  );
});

test('FedAvg of identical models is that model', () => {
  const result = new FedAvg().aggregate(new Float32Array(3), [update([0.1, -2, 3], 2), update([0.1, -2, 3], 7)], {});
  assert.deepEqual(result.weights, Float32Array.from([0.1, -2, 3]));
});
