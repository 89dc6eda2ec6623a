/**
 * Tests for the RDP accountant of the sampled Gaussian mechanism. Reference numbers come from three
 * places, none of them this code:
 *  - Opacus (github.com/pytorch/opacus): the tests in opacus/tests/accountants_test.py, and values
 *    printed by its opacus/accountants/analysis/rdp.py (commit 4d0ebc8, numpy 2.4.6, scipy 1.17.1);
 *  - TF Privacy (github.com/tensorflow/privacy): tensorflow_privacy/privacy/analysis/
 *    rdp_accountant_test.py as of commit 38fe4aa (the file was later replaced by the dp_accounting
 *    library);
 *  - numerical integration of A_α = ∫ N(x; 0, σ²) ((1−q) + q e^((2x−1)/(2σ²)))^α dx in mpmath at 50
 *    digits (the definition, not the series), and the integer-order binomial sum in mpmath, for orders
 *    and regimes neither library's tests reach.
 * Around them: closed forms for q = 1 (the plain Gaussian mechanism), q = 0, and fast-check properties
 * (monotone in α, steps, q and 1/z; additive over steps and rounds).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_ORDERS,
  dpEpsilon,
  epsilonFromRdp,
  erfc,
  erfcx,
  PrivacyLedger,
  rdpSampledGaussian,
  solveNoiseMultiplier,
  type Conversion,
} from './accountant.js';

const close = (actual: number, expected: number, tolerance: number, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} expected ${expected} ± ${tolerance}, got ${actual}`);

/** Standard normal CDF, from this module's erfc (itself checked below). */
const Phi = (x: number) => 0.5 * erfc(-x / Math.SQRT2);

describe('published reference values', () => {
  it('q = 0.01, z = 1.1, 10,000 steps, δ = 1e-5: ε ≈ 5.63 (current Opacus conversion), ≈ 6.28 (classic)', () => {
    const tight = dpEpsilon({ sampleRate: 0.01, noiseMultiplier: 1.1, steps: 10_000, delta: 1e-5 });
    const classic = dpEpsilon({ sampleRate: 0.01, noiseMultiplier: 1.1, steps: 10_000, delta: 1e-5, conversion: 'classic' });
    close(tight.epsilon, 5.63, 0.01, 'opacus');
    close(classic.epsilon, 6.28, 0.01, 'classic');
    // Opacus' analysis/rdp.py prints 5.63199236854841 at α = 4.7 (get_privacy_spent on DEFAULT_ALPHAS) and,
    // with its compute_rdp and the classic formula, 6.278710279138394 at α = 4.9.
    close(tight.epsilon, 5.63199236854841, 1e-8);
    close(classic.epsilon, 6.278710279138394, 1e-8);
    assert.equal(tight.order, 4.7);
    assert.equal(classic.order, 4.9);
  });

  it("Opacus' test_rdp_accountant (7.32911117143) uses the Balle et al. conversion, not the classic one", () => {
    // opacus/tests/accountants_test.py: z = 1.5, q = 0.04, steps = int(90 / 0.04) = 2250, δ = 1e-5,
    // assertAlmostEqual(epsilon, 7.32911117143) (7 places). The test dates from Sept. 2021 (dfc822c); the
    // conversion in get_privacy_spent changed to Balle et al. in April 2021 (026ee9e, PR #167).
    const steps = Math.trunc(90 / 0.04);
    assert.equal(steps, 2250);
    const tight = dpEpsilon({ sampleRate: 0.04, noiseMultiplier: 1.5, steps, delta: 1e-5, conversion: 'opacus' });
    close(tight.epsilon, 7.32911117143, 5e-8);
    assert.equal(tight.order, 3.9);
    const classic = dpEpsilon({ sampleRate: 0.04, noiseMultiplier: 1.5, steps, delta: 1e-5, conversion: 'classic' });
    close(classic.epsilon, 8.073848277153212, 1e-8); // Opacus' compute_rdp + Mironov's formula: nowhere near 7.33
    // The default is the Opacus conversion.
    assert.deepEqual(dpEpsilon({ sampleRate: 0.04, noiseMultiplier: 1.5, steps, delta: 1e-5 }), tight);
  });

  it("TF Privacy's compute_rdp values (rdp_accountant_test.py)", () => {
    // test_compute_rdp_scalar: compute_rdp(0.1, 2, 10, 5) ≈ 0.07737 (5 places).
    close(rdpSampledGaussian(0.1, 2, 10, [5])[0]!, 0.07737, 5e-6);
    // test_compute_rdp_sequence: rtol 1e-4.
    const expected = [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2];
    rdpSampledGaussian(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100]).forEach((value, i) => close(value, expected[i]!, 1e-4 * expected[i]!, `order ${i}`));
    // test_compute_rdp_no_data, test_compute_rdp_no_sampling, and the heterogeneous q = 0 + q = 1 case.
    assert.deepEqual(rdpSampledGaussian(0, 10, 1, [20]), [0]);
    assert.deepEqual(rdpSampledGaussian(1, 10, 1, [20]), [0.1]);
    assert.deepEqual(new PrivacyLedger([20]).add({ sampleRate: 0, noiseMultiplier: 10, steps: 1 }).add({ sampleRate: 1, noiseMultiplier: 10, steps: 1 }).rdp, [0.1]);
  });

  it("TF Privacy's conversion tests", () => {
    // test_get_privacy_spent_check_target_delta: constant RDP 1.1 on orders 2..32 → ε = 1.32783806176 at
    // order 32 (TF's _compute_eps uses the same improved conversion as Opacus).
    const orders = Array.from({ length: 31 }, (_, k) => k + 2);
    const spent = epsilonFromRdp(orders, orders.map(() => 1.1), 1e-5, 'opacus');
    close(spent.epsilon, 1.32783806176, 5e-8);
    assert.equal(spent.order, 32);
    // …and the plain Gaussian with z = 4.530877117, "chosen to obtain exactly (1, 1e-6)-DP", on orders
    // 1.001 … 99.999 in steps of 0.001 (TF's list starts at 1.0, which no conversion can use).
    const fine = Array.from({ length: 98_999 }, (_, k) => 0.001 * (k + 1001));
    close(epsilonFromRdp(fine, rdpSampledGaussian(1, 4.530877117, 1, fine), 1e-6).epsilon, 1, 5e-8);
    // test_check_composition: q = 1e-4, z = 0.4 for 40,000 steps, then q = 0.1, z = 2 for 100 steps, δ = 1e-5:
    // "the old RDP -> approx DP conversion" gives 8.509656 at order 2.5; the new one is an upper bound below it.
    const ledger = new PrivacyLedger([1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256]);
    ledger.add({ sampleRate: 1e-4, noiseMultiplier: 0.4, steps: 40_000 }).add({ sampleRate: 0.1, noiseMultiplier: 2, steps: 100 });
    const old = ledger.epsilon(1e-5, 'classic');
    close(old.epsilon, 8.509656, 5e-7);
    assert.equal(old.order, 2.5);
    assert.ok(ledger.epsilon(1e-5).epsilon <= 8.509656);
  });

  it("Opacus' get_noise_multiplier tests, to their bisection's precision", () => {
    // accountants_test.py: ε = 8, δ = 1e-5, q = 0.04 → 1.3562 for 2000 steps and 1.416 for 90 epochs (2250
    // steps), 4 places. Opacus bisects until ε is within 0.01 below the target, so its z is up to ≈ 0.001
    // above the smallest one; ours is the smallest to 6 digits.
    for (const [steps, theirs] of [
      [2000, 1.3562],
      [2250, 1.416],
    ] as const) {
      const z = solveNoiseMultiplier({ epsilon: 8, delta: 1e-5, sampleRate: 0.04, steps });
      assert.ok(z <= theirs + 5e-5 && z > theirs - 2e-3, `steps ${steps}: z = ${z}`);
      assert.ok(dpEpsilon({ sampleRate: 0.04, noiseMultiplier: z, steps, delta: 1e-5 }).epsilon <= 8);
      assert.ok(dpEpsilon({ sampleRate: 0.04, noiseMultiplier: z * (1 - 2e-6), steps, delta: 1e-5 }).epsilon > 8);
    }
  });
});

describe('rdpSampledGaussian against the definition (mpmath integration)', () => {
  // [q, σ, α, RDP_α] with RDP_α = log A_α/(α − 1); A_α by mpmath.quad at 50 digits, split at 0, ±2, ±5, …
  // and at z0. The q = ½, large-σ rows are the slowly converging tail (≈ i^−(α+2)) that the series sums
  // with Euler's transform; 256.1 is where Opacus' analysis/rdp.py returns −0.683.
  const integrated: [number, number, number, number][] = [
    [0.5, 1000, 1.1, 1.3750002062499753e-7],
    [0.5, 10, 1.1, 0.001377060014973602],
    [0.5, 100, 2.5, 3.1251562547200726e-5],
    [0.5, 1, 1.1, 0.156130475685493],
    [0.01, 1.1, 4.7, 0.000317788071821947],
    [0.1, 1, 1.5, 0.011734592196685236],
    [0.9, 1, 1.5, 0.6343891543408237],
    [0.3, 5, 3.3, 0.0061175496912123884],
    [1e-7, 0.1, 1.01, 4.003412322526395e-6],
    [0.1, 100, 20.5, 1.0252214593881177e-5],
    [0.999, 100, 256.1, 0.012779725746660574],
    [0.5, 100, 256.1, 0.0032218370510349874],
    [1e-5, 0.1, 256.1, 12793.441943506158573], // integrand peaked at x ≈ 256: integrated in log scale around it
    [0.5, 0.05, 3.5, 699.029593947216],
    [0.2, 0.3, 63.5, 351.14258885861113],
  ];
  // Integer orders: Σ C(α,i) q^i (1−q)^(α−i) e^((i²−i)/(2σ²)) in mpmath at 60 digits.
  const binomial: [number, number, number, number][] = [
    [1e-6, 0.1, 256, 12786.130310969257974],
    [0.99, 0.1, 256, 12799.989910251063299],
    [1e-6, 1, 27, 3.3728889634032684e-11],
  ];

  it('matches log A_α to 1e-14 absolute (float64 rounding) or 1e-12 relative', () => {
    for (const [q, sigma, alpha, expected] of [...integrated, ...binomial]) {
      const actual = rdpSampledGaussian(q, sigma, 1, [alpha])[0]!;
      // Compare log A = RDP·(α − 1): its rounding error is absolute, and small orders magnify it in RDP.
      close(actual * (alpha - 1), expected * (alpha - 1), 1e-14 + 1e-12 * expected * (alpha - 1), `q ${q}, σ ${sigma}, α ${alpha}:`);
    }
  });

  it('erfc and erfcx match known values across the series/continued-fraction switch', () => {
    // mpmath at 30 digits.
    const known: [number, number][] = [
      [0, 1],
      [0.5, 0.47950012218695346232],
      [1, 0.15729920705028513066],
      [1.9999, 0.0046798020929706083079],
      [2, 0.0046777349810472658379],
      [3, 0.000022090496998585441373],
      [5, 1.5374597944280348502e-12],
      [10, 2.088487583762544757e-45],
      [-1, 1.8427007929497148693],
    ];
    for (const [x, value] of known) close(erfc(x), value, 1e-14 * value, `erfc(${x})`);
    close(erfcx(30), 0.018795888861416751497, 1e-16);
    assert.equal(erfc(40), 0); // underflows, as it should; erfcx does not
    close(erfcx(40), 0.014100335983377813625, 1e-16);
  });
});

describe('closed forms and limits', () => {
  it('q = 1 is the plain Gaussian mechanism: RDP_α = T·α/(2z²), and the classic ε is ρ + 2√(ρ log(1/δ)) on a fine grid', () => {
    assert.deepEqual(rdpSampledGaussian(1, 2, 3, [1.5, 2, 10]), [(3 * 1.5) / 8, (3 * 2) / 8, (3 * 10) / 8]);
    // Minimising T·α/(2z²) + log(1/δ)/(α − 1) over real α gives ε = ρ + 2√(ρ log(1/δ)), ρ = T/(2z²).
    const fine = Array.from({ length: 20_000 }, (_, k) => 1 + (k + 1) / 1000);
    for (const [z, steps, delta] of [
      [1, 1, 1e-5],
      [3, 50, 1e-6],
      [10, 1000, 1e-3],
    ] as const) {
      const rho = steps / (2 * z * z);
      const optimum = rho + 2 * Math.sqrt(rho * Math.log(1 / delta));
      const { epsilon } = dpEpsilon({ sampleRate: 1, noiseMultiplier: z, steps, delta, conversion: 'classic', orders: fine });
      assert.ok(epsilon >= optimum - 1e-12 && epsilon <= optimum + 1e-6, `z ${z}: ${epsilon} vs ${optimum}`);
    }
  });

  it('q = 1: ε is an upper bound on the exact ε of the Gaussian mechanism, and not a loose one (Balle & Wang 2018, Thm. 8)', () => {
    // Exact: the Gaussian mechanism with μ = √T/z is (ε, δ)-DP iff δ ≥ Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2);
    // the right side falls in ε, so bisection finds the exact ε.
    const exactDelta = (epsilon: number, mu: number) => Phi(-epsilon / mu + mu / 2) - Math.exp(epsilon) * Phi(-epsilon / mu - mu / 2);
    const exactEpsilon = (mu: number, delta: number) => {
      let lo = 0;
      let hi = 1000;
      for (let k = 0; k < 100; k++) {
        const mid = (lo + hi) / 2;
        if (exactDelta(mid, mu) > delta) lo = mid;
        else hi = mid;
      }
      return hi;
    };
    // RDP-based ε exceeds the exact one by 6–8 % with the Opacus conversion and 12–21 % with the classic one here.
    for (const [conversion, slack] of [
      ['opacus', 1.1],
      ['classic', 1.25],
    ] as const) {
      for (const [z, steps, delta] of [
        [1, 1, 1e-5],
        [0.8, 4, 1e-6],
        [5, 100, 1e-5],
      ] as const) {
        const { epsilon } = dpEpsilon({ sampleRate: 1, noiseMultiplier: z, steps, delta, conversion });
        const mu = Math.sqrt(steps) / z;
        assert.ok(exactDelta(epsilon, mu) <= delta, `${conversion} z ${z}: δ(ε = ${epsilon}) = ${exactDelta(epsilon, mu)} > ${delta}`);
        const exact = exactEpsilon(mu, delta);
        assert.ok(epsilon >= exact && epsilon <= slack * exact, `${conversion} z ${z}: ε = ${epsilon}, exact ${exact}`);
      }
    }
  });

  it('q = 0 or no steps spends nothing: RDP 0 and ε 0, whatever z', () => {
    for (const conversion of ['opacus', 'classic'] as const) {
      assert.equal(dpEpsilon({ sampleRate: 0, noiseMultiplier: 0.5, steps: 1000, delta: 1e-5, conversion }).epsilon, 0);
      assert.equal(dpEpsilon({ sampleRate: 0.5, noiseMultiplier: 0.5, steps: 0, delta: 1e-5, conversion }).epsilon, 0);
      assert.equal(new PrivacyLedger().epsilon(1e-5, conversion).epsilon, 0);
    }
    assert.ok(rdpSampledGaussian(0, 1, 10).every((value) => value === 0));
    assert.ok(rdpSampledGaussian(0.5, 1, 0).every((value) => value === 0));
  });

  it('a noise multiplier below 1e-150 gives no privacy at any order (Infinity), at once, whatever q', () => {
    // These threw "did not converge in 1000000 terms" after seconds of work (a 500 from PUT …/privacy).
    for (const q of [5e-324, 1e-300, 1e-5, 0.5, 1]) {
      for (const z of [5e-263, 1e-160, 1.4e-154, 1e-151]) {
        assert.ok(rdpSampledGaussian(q, z, 1).every((value) => value === Infinity), `q ${q}, z ${z}`);
        assert.equal(dpEpsilon({ sampleRate: q, noiseMultiplier: z, steps: 1, delta: 1e-5 }).epsilon, Infinity);
      }
    }
    // From 1e-150 up the series runs as before, and finds the loss the bound says: at least α/(2z²) − 11·745.
    for (const q of [1e-300, 0.5]) {
      rdpSampledGaussian(q, 1e-150, 1, [1.1, 2, 10]).forEach((value, i) => assert.ok(value >= [1.1, 2, 10][i]! / 2e-300 - 11 * 745, `q ${q}: ${value}`));
    }
  });

  it('the Opacus conversion is below the classic one at every order, by −log(α)/(α−1) + log(1 − 1/α)', () => {
    const rdp = rdpSampledGaussian(0.02, 1.3, 500);
    const logDelta = Math.log(1e-5);
    DEFAULT_ORDERS.forEach((alpha, i) => {
      const single = [alpha];
      const tight = epsilonFromRdp(single, [rdp[i]!], 1e-5, 'opacus').epsilon;
      const classic = epsilonFromRdp(single, [rdp[i]!], 1e-5, 'classic').epsilon;
      close(classic, rdp[i]! - logDelta / (alpha - 1), 1e-12);
      close(tight, classic - Math.log(alpha) / (alpha - 1) + Math.log1p(-1 / alpha), 1e-12);
    });
  });

  it('DEFAULT_ORDERS are Opacus’ DEFAULT_ALPHAS: 1.1 … 10.9 by 0.1, then 12 … 63', () => {
    assert.equal(DEFAULT_ORDERS.length, 99 + 52);
    assert.deepEqual(DEFAULT_ORDERS.slice(0, 3), [1.1, 1.2, 1.3]);
    assert.deepEqual(DEFAULT_ORDERS.slice(97, 102), [10.8, 10.9, 12, 13, 14]);
    assert.equal(DEFAULT_ORDERS.at(-1), 63);
    assert.deepEqual(DEFAULT_ORDERS.filter(Number.isInteger).slice(0, 3), [2, 3, 4]);
  });
});

describe('properties', () => {
  const rate = fc.double({ min: 0, max: 1, noNaN: true });
  const noise = fc.double({ min: 0.1, max: 50, noNaN: true });
  const conversion = fc.constantFrom<Conversion>('opacus', 'classic');
  const eps = (sampleRate: number, noiseMultiplier: number, steps: number, c: Conversion) =>
    dpEpsilon({ sampleRate, noiseMultiplier, steps, delta: 1e-5, conversion: c }).epsilon;
  const atMost = (a: number, b: number) => a <= b * (1 + 1e-9) + 1e-12;

  it('RDP is non-decreasing in the order (Rényi divergences are), across integer and fractional orders', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-4, max: 1, noNaN: true }), fc.double({ min: 0.3, max: 30, noNaN: true }), (q, z) => {
        const rdp = rdpSampledGaussian(q, z, 1, DEFAULT_ORDERS);
        // log A is accurate to ~1e-16 absolute; divided by α − 1 ≥ 0.1 that is ~1e-15.
        for (let i = 1; i < rdp.length; i++) assert.ok(rdp[i - 1]! <= rdp[i]! * (1 + 1e-12) + 1e-14, `q ${q}, z ${z}, α ${DEFAULT_ORDERS[i]}`);
      }),
      { numRuns: 60 },
    );
  });

  it('ε is non-decreasing in steps and in q, and non-increasing in z', () => {
    fc.assert(
      fc.property(rate, rate, noise, noise, fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }), conversion, (q1, q2, z1, z2, s1, s2, c) => {
        const [qLo, qHi] = q1 <= q2 ? [q1, q2] : [q2, q1];
        const [zLo, zHi] = z1 <= z2 ? [z1, z2] : [z2, z1];
        const [sLo, sHi] = s1 <= s2 ? [s1, s2] : [s2, s1];
        assert.ok(atMost(eps(qLo, zLo, sLo, c), eps(qLo, zLo, sHi, c)), 'steps');
        assert.ok(atMost(eps(qLo, zLo, sHi, c), eps(qHi, zLo, sHi, c)), 'q');
        assert.ok(atMost(eps(qHi, zHi, sHi, c), eps(qHi, zLo, sHi, c)), '1/z');
      }),
      { numRuns: 40 },
    );
  });

  it('RDP adds over steps, and a ledger of heterogeneous rounds is the sum of their RDP vectors', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ sampleRate: rate, noiseMultiplier: noise, steps: fc.integer({ min: 0, max: 1000 }) }), { minLength: 1, maxLength: 5 }),
        (rounds) => {
          const ledger = new PrivacyLedger();
          const sum = DEFAULT_ORDERS.map(() => 0);
          for (const round of rounds) {
            ledger.add(round);
            rdpSampledGaussian(round.sampleRate, round.noiseMultiplier, round.steps).forEach((value, i) => (sum[i]! += value));
          }
          assert.deepEqual(ledger.rdp, sum);
          assert.deepEqual(ledger.epsilon(1e-5), epsilonFromRdp(DEFAULT_ORDERS, sum, 1e-5));
          const [first] = rounds;
          const once = rdpSampledGaussian(first!.sampleRate, first!.noiseMultiplier, 1);
          rdpSampledGaussian(first!.sampleRate, first!.noiseMultiplier, first!.steps).forEach((value, i) => close(value, once[i]! * first!.steps, 1e-12 * value));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('solveNoiseMultiplier returns the smallest z meeting the target, to 6 digits', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.3, max: 20, noNaN: true }),
        fc.double({ min: 1e-4, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 3000 }),
        conversion,
        (epsilon, sampleRate, steps, c) => {
          const z = solveNoiseMultiplier({ epsilon, delta: 1e-5, sampleRate, steps, conversion: c });
          assert.ok(eps(sampleRate, z, steps, c) <= epsilon);
          if (z > 0.01) assert.ok(eps(sampleRate, z * (1 - 2e-6), steps, c) > epsilon, `z = ${z} is not the smallest`);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('solveNoiseMultiplier edges', () => {
  it('returns the bottom of the range when any z meets the target, and refuses an unreachable target', () => {
    assert.equal(solveNoiseMultiplier({ epsilon: 1, delta: 1e-5, sampleRate: 0, steps: 100 }), 0.01);
    assert.equal(solveNoiseMultiplier({ epsilon: 1, delta: 1e-5, sampleRate: 0.5, steps: 0 }), 0.01);
    assert.throws(
      () => solveNoiseMultiplier({ epsilon: 1e-3, delta: 1e-5, sampleRate: 1, steps: 1_000_000 }),
      /solveNoiseMultiplier: no noise multiplier in \[0\.01, 1000\] reaches ε ≤ 0\.001 at δ = 0\.00001 with sampleRate 1 over 1000000 steps \(z = 1000 gives ε = /,
    );
  });
});

describe('PrivacyLedger', () => {
  it('accounts heterogeneous rounds, answers "what if" without recording, and survives JSON', () => {
    const ledger = new PrivacyLedger();
    ledger.add({ sampleRate: 0.1, noiseMultiplier: 1.2, steps: 1 }).add({ sampleRate: 0.25, noiseMultiplier: 0.9, steps: 3 });
    const before = ledger.epsilon(1e-5);
    const next = { sampleRate: 0.5, noiseMultiplier: 2, steps: 1 };
    const forecast = ledger.epsilonAfter(next, 1e-5);
    assert.ok(forecast.epsilon > before.epsilon);
    assert.deepEqual(ledger.epsilon(1e-5), before, 'epsilonAfter records nothing');
    assert.equal(ledger.rounds.length, 2);
    ledger.add(next);
    assert.deepEqual(ledger.epsilon(1e-5), forecast);

    const text = JSON.stringify(ledger);
    assert.deepEqual(JSON.parse(text), { version: 1, orders: [...DEFAULT_ORDERS], rounds: [{ sampleRate: 0.1, noiseMultiplier: 1.2, steps: 1 }, { sampleRate: 0.25, noiseMultiplier: 0.9, steps: 3 }, next] });
    for (const restored of [PrivacyLedger.fromJSON(text), PrivacyLedger.fromJSON(JSON.parse(text))]) {
      assert.deepEqual(restored.rdp, ledger.rdp);
      assert.deepEqual(restored.epsilon(1e-5), ledger.epsilon(1e-5));
      assert.deepEqual(restored.epsilon(1e-6, 'classic'), ledger.epsilon(1e-6, 'classic'));
      assert.deepEqual(restored.rounds, ledger.rounds);
    }
    // Custom orders travel too.
    const custom = PrivacyLedger.fromJSON(JSON.stringify(new PrivacyLedger([2, 4, 8]).add(next)));
    assert.deepEqual(custom.orders, [2, 4, 8]);
    assert.deepEqual(custom.rdp, rdpSampledGaussian(0.5, 2, 1, [2, 4, 8]));
  });

  it('the ledger holds copies: changing what was passed in or read out changes nothing', () => {
    const round = { sampleRate: 0.1, noiseMultiplier: 1, steps: 2 };
    const ledger = new PrivacyLedger().add(round);
    round.steps = 1000;
    ledger.rounds[0]!.steps = 1000;
    ledger.rdp[0] = 1000;
    assert.deepEqual(ledger.rounds, [{ sampleRate: 0.1, noiseMultiplier: 1, steps: 2 }]);
    assert.deepEqual(ledger.rdp, rdpSampledGaussian(0.1, 1, 2));
  });

  it('fromJSON refuses malformed ledgers, naming what is wrong', () => {
    const good = { version: 1, orders: [2, 3], rounds: [{ sampleRate: 0.1, noiseMultiplier: 1, steps: 1 }] };
    assert.throws(() => PrivacyLedger.fromJSON(null), /PrivacyLedger\.fromJSON: expected an object, got null/);
    assert.throws(() => PrivacyLedger.fromJSON({ ...good, version: 2 }), /PrivacyLedger\.fromJSON: expected version 1, got 2/);
    assert.throws(() => PrivacyLedger.fromJSON({ ...good, orders: [2, 1] }), /PrivacyLedger\.fromJSON: expected finite orders > 1, got 1 at index 1/);
    assert.throws(() => PrivacyLedger.fromJSON({ ...good, rounds: 'none' }), /PrivacyLedger\.fromJSON: expected an array of rounds, got string/);
    assert.throws(
      () => PrivacyLedger.fromJSON({ ...good, rounds: [good.rounds[0], { sampleRate: 2, noiseMultiplier: 1, steps: 1 }] }),
      /PrivacyLedger\.fromJSON: round 1: PrivacyLedger\.add: expected a sampleRate in \[0, 1\], got 2/,
    );
    assert.throws(() => PrivacyLedger.fromJSON({ ...good, rounds: [7] }), /PrivacyLedger\.fromJSON: expected round 0 to be an object, got number/);
  });
});

describe('input validation', () => {
  it('names the function, the expectation and the value', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => rdpSampledGaussian(-0.1, 1, 1), /rdpSampledGaussian: expected a sampleRate in \[0, 1\], got -0\.1/],
      [() => rdpSampledGaussian(1.5, 1, 1), /rdpSampledGaussian: expected a sampleRate in \[0, 1\], got 1\.5/],
      [() => rdpSampledGaussian(Number.NaN, 1, 1), /rdpSampledGaussian: expected a sampleRate in \[0, 1\], got NaN/],
      [() => rdpSampledGaussian(0.1, 0, 1), /rdpSampledGaussian: expected a positive finite noiseMultiplier, got 0/],
      [() => rdpSampledGaussian(0.1, Infinity, 1), /rdpSampledGaussian: expected a positive finite noiseMultiplier, got Infinity/],
      [() => rdpSampledGaussian(0.1, 1, 1.5), /rdpSampledGaussian: expected a non-negative integer steps, got 1\.5/],
      [() => rdpSampledGaussian(0.1, 1, -1), /rdpSampledGaussian: expected a non-negative integer steps, got -1/],
      [() => rdpSampledGaussian(0.1, 1, 1, []), /rdpSampledGaussian: expected a non-empty array of orders, got an empty array/],
      [() => rdpSampledGaussian(0.1, 1, 1, [2, Infinity]), /rdpSampledGaussian: expected finite orders > 1, got Infinity at index 1/],
      [() => dpEpsilon({ sampleRate: 0.1, noiseMultiplier: 1, steps: 1, delta: 0 }), /dpEpsilon: expected a delta in \(0, 1\), got 0/],
      [() => dpEpsilon({ sampleRate: 0.1, noiseMultiplier: 1, steps: 1, delta: 1 }), /dpEpsilon: expected a delta in \(0, 1\), got 1/],
      [() => dpEpsilon({ sampleRate: 0.1, noiseMultiplier: 1, steps: 1, delta: 1e-5, conversion: 'tight' as Conversion }), /dpEpsilon: expected a conversion of opacus or classic, got tight/],
      [() => epsilonFromRdp([2, 3], [0.1], 1e-5), /epsilonFromRdp: expected 2 RDP values \(one per order\), got 1/],
      [() => epsilonFromRdp([2, 3], [0.1, -1], 1e-5), /epsilonFromRdp: expected non-negative RDP values, got -1 at index 1/],
      [() => epsilonFromRdp([2, 3], [0.1, Number.NaN], 1e-5), /epsilonFromRdp: expected non-negative RDP values, got NaN at index 1/],
      [() => solveNoiseMultiplier({ epsilon: 0, delta: 1e-5, sampleRate: 0.1, steps: 1 }), /solveNoiseMultiplier: expected a positive finite epsilon, got 0/],
      [() => solveNoiseMultiplier({ epsilon: 1, delta: 2, sampleRate: 0.1, steps: 1 }), /solveNoiseMultiplier: expected a delta in \(0, 1\), got 2/],
      [() => new PrivacyLedger().add({ sampleRate: 0.1, noiseMultiplier: -1, steps: 1 }), /PrivacyLedger\.add: expected a positive finite noiseMultiplier, got -1/],
      [() => new PrivacyLedger().epsilon(0), /epsilonFromRdp: expected a delta in \(0, 1\), got 0/],
      [() => erfcx(-1), /erfcx: expected x ≥ 0, got -1/],
    ];
    for (const [call, message] of cases) assert.throws(call, message);
  });

  it('ε is never negative: a bound below zero (possible for large δ) is reported as 0', () => {
    // α = 63, δ = 0.1, RDP 0.02: the Balle et al. formula gives 0.02 − (log 0.1 + log 63)/62 + log(62/63) ≈ −0.026,
    // and the total-variation bound does not apply (1 − e^−0.02 > δ²).
    assert.deepEqual(epsilonFromRdp([63], [0.02], 0.1, 'opacus'), { epsilon: 0, order: 63 });
    close(epsilonFromRdp([63], [0.02], 0.1, 'classic').epsilon, 0.02 + Math.log(10) / 62, 1e-15);
  });

  it('Infinity RDP (no privacy at an order) gives Infinity there, not NaN, and other orders still count', () => {
    assert.deepEqual(epsilonFromRdp([2, 3], [Infinity, Infinity], 1e-5), { epsilon: Infinity, order: 2 });
    assert.equal(epsilonFromRdp([2, 3], [Infinity, 1], 1e-5).order, 3);
  });
});
