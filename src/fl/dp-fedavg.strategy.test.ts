/**
 * DP-FedAvg: updates are clipped to C, the sum carries N(0, (zC)²) per coordinate, and the average uses
 * the fixed expected count; configure() fixes the per-round settings owners follow in secure mode.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandomBytes } from '../crypto/field.js';
import { DpFedAvg } from './dp-fedavg.strategy.js';
import type { ClientUpdate, RoundConfig } from './strategy.js';

const update = (weights: ArrayLike<number>, numSamples = 1): ClientUpdate => ({ weights: Float32Array.from(weights), numSamples, metrics: {} });
const dpConfig = (overrides: Partial<NonNullable<RoundConfig['dp']>> = {}): RoundConfig => ({
  dp: { clipNorm: 1, noiseMultiplier: 1, sampleRate: 1, expectedOwners: 4, noiseStd: (overrides.noiseMultiplier ?? 1) * (overrides.clipNorm ?? 1), noiseStdPerOwner: 0, ...overrides },
});

test('configure: every owner, or Poisson with a fresh public seed; secure owners each add z·C′/√m', () => {
  const all = new DpFedAvg({ clipNorm: 2, noiseMultiplier: 1.5, sampling: { kind: 'all' } }, seededRandomBytes('cfg'));
  assert.deepEqual(all.configure({ owners: 50, minOwners: 10, aggregation: 'plain', parameters: 44 }), {
    dp: { clipNorm: 2, noiseMultiplier: 1.5, sampleRate: 1, expectedOwners: 50, noiseStd: 3, noiseStdPerOwner: 0 },
  });
  const secure = all.configure({ owners: 50, minOwners: 16, aggregation: 'secure', parameters: 44 });
  // Rounding to the 2⁻²⁰ lattice can lengthen a clipped update by √d·2⁻²⁰: the noise covers that too.
  assert.ok(Math.abs(secure.dp!.noiseStdPerOwner - (1.5 * (2 + Math.sqrt(44) * 2 ** -20)) / 4) < 1e-12);
  const poisson = new DpFedAvg({ clipNorm: 1, noiseMultiplier: 1, sampling: { kind: 'poisson', rate: 0.1 } }, seededRandomBytes('seed'));
  const a = poisson.configure({ owners: 1000, minOwners: 2, aggregation: 'plain', parameters: 3 });
  const b = poisson.configure({ owners: 1000, minOwners: 2, aggregation: 'plain', parameters: 3 });
  assert.equal(a.dp!.expectedOwners, 100);
  assert.match(a.sampling!.seed, /^[0-9a-f]{64}$/);
  assert.notEqual(a.sampling!.seed, b.sampling!.seed, 'every round draws its own seed');
});

test('plain: each update is clipped to C before averaging over the expected count', () => {
  // z tiny, so the noise is negligible next to the signal.
  const strategy = new DpFedAvg({ clipNorm: 1, noiseMultiplier: 1e-6, sampling: { kind: 'all' } }, seededRandomBytes('clip'));
  const base = Float32Array.from([0, 0]);
  const result = strategy.aggregate(base, [update([30, 40], 500), update([0.3, 0.4], 1)], dpConfig({ noiseMultiplier: 1e-6, expectedOwners: 4 }));
  // (3,4)/5 clipped to norm 1 = (0.6, 0.8); the small one passes unclipped; one owner one vote: / 4.
  assert.ok(Math.abs(result.weights[0]! - (0.6 + 0.3) / 4) < 1e-5, String(result.weights[0]));
  assert.ok(Math.abs(result.weights[1]! - (0.8 + 0.4) / 4) < 1e-5, String(result.weights[1]));
  assert.equal(result.metrics.owners, 2);
});

test('plain: the noise on the sum has standard deviation z·C', () => {
  const d = 20_000;
  const strategy = new DpFedAvg({ clipNorm: 0.5, noiseMultiplier: 2, sampling: { kind: 'all' } }, seededRandomBytes('noise'));
  const zeros = new Float32Array(d);
  const result = strategy.aggregate(zeros, [update(zeros)], dpConfig({ clipNorm: 0.5, noiseMultiplier: 2, expectedOwners: 1 }));
  let sum = 0;
  let sumSq = 0;
  for (const w of result.weights) {
    sum += w;
    sumSq += w * w;
  }
  const mean = sum / d;
  const std = Math.sqrt(sumSq / d - mean * mean);
  // Expected std 1; with 20,000 draws the sample std is within 1 % at 6σ and the mean within 0.05.
  assert.ok(Math.abs(std - 1) < 0.03, `std ${std}`);
  assert.ok(Math.abs(mean) < 0.05, `mean ${mean}`);
});

test('secure: the sum already carries the noise; only the fixed denominator is applied', () => {
  const strategy = new DpFedAvg({ clipNorm: 1, noiseMultiplier: 1, sampling: { kind: 'all' } });
  const result = strategy.aggregateSum(Float32Array.from([1, 2]), { delta: Float64Array.from([2, -4]), weight: 3, owners: 3 }, dpConfig({ expectedOwners: 4 }));
  assert.deepEqual(Array.from(result.weights), [1.5, 1]);
  assert.deepEqual(result.metrics, { owners: 3, samples: 3, trainLoss: null, trainAccuracy: null });
  assert.throws(() => strategy.aggregateSum(Float32Array.from([1]), { delta: Float64Array.from([1]), weight: 1, owners: 1 }, {}), /opened without differential privacy/);
});

test('bad settings are refused', () => {
  assert.throws(() => new DpFedAvg({ clipNorm: 0, noiseMultiplier: 1, sampling: { kind: 'all' } }), /expected a positive finite clipNorm, got 0/);
  assert.throws(() => new DpFedAvg({ clipNorm: 1, noiseMultiplier: Number.POSITIVE_INFINITY, sampling: { kind: 'all' } }), /positive finite noiseMultiplier/);
});
