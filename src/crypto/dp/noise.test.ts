/**
 * Tests for the exact discrete Gaussian sampler and its parts. Distributions are checked with a seeded
 * rng (field.ts's seededRandomBytes), so every statistic below is a fixed number and the tests cannot
 * flake; the bounds are what a correct sampler would pass with probability ≥ 0.999 for a fresh seed,
 * so a fixed seed passing them says something, and a wrong distribution misses them by far (the chi-
 * square statistics of the perturbations tried while writing these were in the hundreds or more).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { seededRandomBytes, type RandomBytes } from '../field.js';
import {
  gaussianNoise,
  gaussianNoiseUnits,
  MAX_SIGMA_UNITS,
  randomizedRound,
  sampleBernoulli,
  sampleBernoulliExp,
  sampleDiscreteGaussian,
  sampleDiscreteLaplace,
} from './noise.js';

/** The 0.999 quantile of χ² with k degrees of freedom, by Wilson & Hilferty 1931 (accurate to ~1 % for k ≥ 3). */
function chiSquare999(k: number): number {
  const z = 3.0902; // Φ^−1(0.999)
  return k * (1 - 2 / (9 * k) + z * Math.sqrt(2 / (9 * k))) ** 3;
}

/**
 * Pearson's χ² of integer samples against a pmf on the integers: one bin per value whose expected count
 * is at least 5, the rest pooled into the two tails.
 */
function chiSquare(samples: ArrayLike<number>, pmf: (x: number) => number): { statistic: number; df: number } {
  const n = samples.length;
  let hi = 0;
  while (n * pmf(hi + 1) >= 5) hi++;
  let lo = 0;
  while (n * pmf(lo - 1) >= 5) lo--;
  const observed = new Map<number, number>();
  let below = 0;
  let above = 0;
  for (let i = 0; i < n; i++) {
    const x = samples[i]!;
    if (x < lo) below++;
    else if (x > hi) above++;
    else observed.set(x, (observed.get(x) ?? 0) + 1);
  }
  let inside = 0;
  let statistic = 0;
  for (let x = lo; x <= hi; x++) {
    const expected = n * pmf(x);
    inside += pmf(x);
    statistic += ((observed.get(x) ?? 0) - expected) ** 2 / expected;
  }
  // The tails are symmetric for every pmf here.
  const tail = (1 - inside) / 2;
  statistic += (below - n * tail) ** 2 / (n * tail) + (above - n * tail) ** 2 / (n * tail);
  return { statistic, df: hi - lo + 2 };
}

/** P(x) ∝ exp(−x²/(2σ²)) on the integers, normalised over |x| ≤ 40σ + 40 (the rest is below 1e-300). */
function discreteGaussianPmf(sigma2: number): (x: number) => number {
  const reach = Math.ceil(40 * Math.sqrt(sigma2)) + 40;
  let total = 0;
  for (let x = -reach; x <= reach; x++) total += Math.exp(-(x * x) / (2 * sigma2));
  return (x) => Math.exp(-(x * x) / (2 * sigma2)) / total;
}

/** An rng that returns these bytes (then fails), whatever the block size asked for, padded with `fill`. */
function scripted(bytes: number[], fill?: number): RandomBytes {
  const queue = [...bytes];
  return (n) => {
    if (queue.length === 0 && fill === undefined) throw new Error('scripted rng: exhausted');
    return Uint8Array.from({ length: n }, () => queue.shift() ?? fill ?? 0);
  };
}

const never: RandomBytes = () => {
  throw new Error('the rng should not be read');
};

describe('exact coins', () => {
  it('Bernoulli(n/d) compares random base-256 digits with the expansion of n/d', () => {
    // 1/3 = 0.555…₁₆₈ in base 256 (0x55 repeating).
    assert.equal(sampleBernoulli(1, 3, scripted([0x54])), true);
    assert.equal(sampleBernoulli(1, 3, scripted([0x56])), false);
    assert.equal(sampleBernoulli(1, 3, scripted([0x55, 0x55, 0x54])), true);
    assert.equal(sampleBernoulli(1, 3, scripted([0x55, 0x56])), false);
    // 1/2 = 0x80 exactly: U = 0x80 00 … is not below it.
    assert.equal(sampleBernoulli(1n, 2n, scripted([0x7f])), true);
    assert.equal(sampleBernoulli(1n, 2n, scripted([0x80])), false);
    // Certain outcomes read nothing.
    assert.equal(sampleBernoulli(0, 7, never), false);
    assert.equal(sampleBernoulli(7, 7, never), true);
    // Large denominators take the BigInt path. 1/(2^80 + 1) is just below 2^-80 = 256^-10, so its digits are
    // ten zeros, ten 0xff, then 0x00…: U = 256^-10 is not below it, U = 0.(ten zeros)fe… is, and the
    // comparison runs 21 digits deep before U = 0.(ten zeros)(ten ff)01 turns out not to be.
    const zeros = new Array<number>(10).fill(0);
    const ffs = new Array<number>(10).fill(0xff);
    assert.equal(sampleBernoulli(1n, 2n ** 80n + 1n, scripted([...zeros.slice(1), 1])), false);
    assert.equal(sampleBernoulli(1n, 2n ** 80n + 1n, scripted([...zeros, 0xfe])), true);
    assert.equal(sampleBernoulli(1n, 2n ** 80n + 1n, scripted([...zeros, ...ffs, 0x01])), false);
    assert.equal(sampleBernoulli(1n, 2n ** 80n + 1n, scripted([...zeros, ...ffs.slice(1), 0xfe])), true);
  });

  it('Bernoulli(exp(−γ)) has frequency e^−γ, including γ > 1 and γ given as a big fraction', () => {
    const n = 20_000;
    for (const [num, den] of [
      [0n, 1n],
      [1n, 2n],
      [1n, 1n],
      [5n, 2n],
      [7n * 10n ** 30n, 10n ** 31n], // γ = 0.7 with 100-bit integers
    ] as const) {
      const rng = seededRandomBytes(`noise.test/bernoulli-exp/${num}/${den}`);
      let hits = 0;
      for (let i = 0; i < n; i++) if (sampleBernoulliExp(num, den, rng)) hits++;
      const p = Math.exp(-Number(num) / Number(den));
      const se = Math.sqrt((p * (1 - p)) / n);
      assert.ok(Math.abs(hits / n - p) <= 4 * se, `γ = ${num}/${den}: ${hits / n} vs ${p}`);
    }
  });

  it('the discrete Laplace distribution matches exp(−|x|/t) (χ², t = 1 and 3)', () => {
    for (const t of [1, 3]) {
      const rng = seededRandomBytes(`noise.test/laplace/${t}`);
      const samples = Array.from({ length: 20_000 }, () => sampleDiscreteLaplace(t, rng));
      const z = (1 + Math.exp(-1 / t)) / (1 - Math.exp(-1 / t));
      const { statistic, df } = chiSquare(samples, (x) => Math.exp(-Math.abs(x) / t) / z);
      assert.ok(statistic < chiSquare999(df - 1), `t = ${t}: χ² = ${statistic} on ${df - 1} degrees of freedom`);
    }
  });
});

describe('the discrete Gaussian', () => {
  it('matches the normalised exp(−x²/(2σ²)) exactly at small σ (χ², σ² = 1/4, 1, 4, and σ = 1.7)', () => {
    for (const sigma of [0.5, 1, 2, 1.7]) {
      const samples = gaussianNoiseUnits(20_000, sigma, seededRandomBytes(`noise.test/chi-square/${sigma}`));
      const { statistic, df } = chiSquare(samples, discreteGaussianPmf(sigma * sigma));
      assert.ok(statistic < chiSquare999(df - 1), `σ = ${sigma}: χ² = ${statistic} on ${df - 1} degrees of freedom`);
    }
  });

  it('has mean ≈ 0, variance ≈ σ² and Gaussian mass within ±σ at lattice-sized σ', () => {
    // N = 10,000 draws. The sample mean has standard error σ/√N; the sample variance, for a Gaussian,
    // σ²·√(2/N) ≈ 0.014σ²; the fraction within ±σ, √(p(1−p)/N) ≈ 0.0047 around p = 0.6827 (for σ ≥ 100
    // the discrete Gaussian's variance and that mass differ from the continuous ones by < 10^−4). Bounds
    // are 4 standard errors. The mass within ±σ separates a Gaussian from, say, a Laplace of the same
    // variance (0.757).
    const n = 10_000;
    for (const sigma of [1e6, 0.01 * 2 ** 20 + 0.3, 1e7]) {
      const samples = gaussianNoiseUnits(n, sigma, seededRandomBytes(`noise.test/moments/${sigma}`));
      let sum = 0;
      let within = 0;
      for (const x of samples) {
        assert.ok(Number.isInteger(x));
        sum += x;
        if (Math.abs(x) <= sigma) within++;
      }
      const mean = sum / n;
      let squares = 0;
      for (const x of samples) squares += (x - mean) ** 2;
      const variance = squares / (n - 1);
      assert.ok(Math.abs(mean) <= (4 * sigma) / Math.sqrt(n), `σ = ${sigma}: mean ${mean}`);
      assert.ok(Math.abs(variance / (sigma * sigma) - 1) <= 4 * Math.sqrt(2 / n), `σ = ${sigma}: variance/σ² = ${variance / (sigma * sigma)}`);
      assert.ok(Math.abs(within / n - 0.682689) <= 4 * Math.sqrt((0.682689 * 0.317311) / n), `σ = ${sigma}: P(|x| ≤ σ) = ${within / n}`);
    }
  });

  it('is deterministic under a seeded rng, and gaussianNoise is gaussianNoiseUnits / 2^20', () => {
    const a = gaussianNoiseUnits(500, 12_345.5, seededRandomBytes('noise.test/determinism'));
    const b = gaussianNoiseUnits(500, 12_345.5, seededRandomBytes('noise.test/determinism'));
    const c = gaussianNoiseUnits(500, 12_345.5, seededRandomBytes('noise.test/determinism/other'));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const real = gaussianNoise(500, 12_345.5 / 2 ** 20, seededRandomBytes('noise.test/determinism'));
    assert.deepEqual(real, a.map((x) => x / 2 ** 20));
    // A pinned vector: a change in how the sampler consumes bytes shows up here first.
    assert.deepEqual(Array.from(gaussianNoiseUnits(12, 3, seededRandomBytes('fedscore/dp-noise/kat'))), KAT_SIGMA_3);
    assert.deepEqual(gaussianNoiseUnits(0, 3, never), new Float64Array(0));
  });

  it('sampleDiscreteGaussian draws one value from the same distribution', () => {
    const rng = seededRandomBytes('noise.test/single');
    const samples = Array.from({ length: 20_000 }, () => sampleDiscreteGaussian(2, rng));
    const { statistic, df } = chiSquare(samples, discreteGaussianPmf(4));
    assert.ok(statistic < chiSquare999(df - 1), `χ² = ${statistic} on ${df - 1} degrees of freedom`);
  });
});

const KAT_SIGMA_3 = [1, 4, -3, -4, -2, -1, 0, -2, 1, -3, -5, -3];

describe('randomizedRound', () => {
  it('returns ⌊x⌋ or ⌈x⌉, and integers untouched without reading the rng', () => {
    for (const x of [0, -0, 3, -7, 2 ** 52, -(2 ** 60)]) assert.equal(randomizedRound(x, never), x);
    fc.assert(
      fc.property(fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (x, bytes) => {
        const rounded = randomizedRound(x, scripted([...bytes], 0));
        assert.ok(rounded === Math.floor(x) || rounded === Math.ceil(x));
      }),
      { numRuns: 500 },
    );
  });

  it('rounds up exactly when the random fraction U falls below x − ⌊x⌋', () => {
    // All-zero bytes make U = 0: every non-integer rounds up. All-ones make U → 1: every one rounds down,
    // even 1 − 2^-52, whose fraction needs 7 bytes to tell apart from U.
    for (const x of [0.5, 2 ** -40, -3.25, 1 - 2 ** -52, 5e-324]) {
      assert.equal(randomizedRound(x, scripted([], 0x00)), Math.ceil(x));
      assert.equal(randomizedRound(x, scripted([], 0xff)), Math.floor(x));
    }
    // 2.75: fraction 0.75 = 0xC0. U = 0xBF… < 0.75 → 3; U = 0xC0 00 … = 0.75 is not below it → 2.
    assert.equal(randomizedRound(2.75, scripted([0xbf])), 3);
    assert.equal(randomizedRound(2.75, scripted([0xc0], 0)), 2);
  });

  it('is unbiased: the mean of many roundings is x', () => {
    const n = 40_000;
    for (const x of [0.3, -2.75, 7.001, 1e6 + 0.9]) {
      const rng = seededRandomBytes(`noise.test/round/${x}`);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += randomizedRound(x, rng) - Math.floor(x);
      const p = x - Math.floor(x);
      // Each rounding is ⌊x⌋ + Bernoulli(p): standard error √(p(1−p)/n), bound 4 of them.
      assert.ok(Math.abs(sum / n - p) <= 4 * Math.sqrt((p * (1 - p)) / n), `x = ${x}: mean fraction ${sum / n}`);
    }
  });
});

describe('input validation', () => {
  it('names the function, the expectation and the value', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => gaussianNoiseUnits(-1, 1), /gaussianNoiseUnits: expected a non-negative integer length, got -1/],
      [() => gaussianNoiseUnits(1.5, 1), /gaussianNoiseUnits: expected a non-negative integer length, got 1\.5/],
      [() => gaussianNoiseUnits(1, 0), /gaussianNoiseUnits: expected a sigma in \(0, 2\^40\] lattice units, got 0/],
      [() => gaussianNoiseUnits(1, -2), /gaussianNoiseUnits: expected a sigma in \(0, 2\^40\] lattice units, got -2/],
      [() => gaussianNoiseUnits(1, Number.NaN), /gaussianNoiseUnits: expected a sigma in \(0, 2\^40\] lattice units, got NaN/],
      [() => gaussianNoiseUnits(1, MAX_SIGMA_UNITS * 2), /gaussianNoiseUnits: expected a sigma in \(0, 2\^40\] lattice units, got 2199023255552/],
      [() => gaussianNoise(1, Infinity), /gaussianNoise: expected a sigma in \(0, 2\^20\], got Infinity/],
      [() => gaussianNoise(1, 2 ** 21), /gaussianNoise: expected a sigma in \(0, 2\^20\], got 2097152/],
      [() => sampleDiscreteGaussian(0), /sampleDiscreteGaussian: expected a sigma in \(0, 2\^40\] lattice units, got 0/],
      [() => sampleDiscreteLaplace(1.5), /sampleDiscreteLaplace: expected an integer scale in \[1, 2\^40 \+ 1\], got 1\.5/],
      [() => sampleBernoulli(3, 2), /sampleBernoulli: expected num ≤ den, got 3\/2/],
      [() => sampleBernoulli(1, 0), /sampleBernoulli: expected a positive integer den, got 0/],
      [() => sampleBernoulliExp(-1, 2), /sampleBernoulliExp: expected a non-negative integer num, got -1/],
      [() => sampleBernoulliExp(0.5, 2), /sampleBernoulliExp: expected a non-negative integer num, got 0\.5/],
      [() => randomizedRound(Number.NaN), /randomizedRound: expected a finite number, got NaN/],
      [() => randomizedRound(-Infinity), /randomizedRound: expected a finite number, got -Infinity/],
      [() => gaussianNoiseUnits(4, 10, () => new Uint8Array(3)), /gaussianNoiseUnits: rng returned 3 bytes, expected 1024/],
    ];
    for (const [call, message] of cases) assert.throws(call, message);
  });
});
