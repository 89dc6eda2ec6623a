/**
 * The Rényi-DP accountant of the sampled Gaussian mechanism (DESIGN, protocol 3): how much privacy a
 * federation has spent after rounds that each sample owners with probability q, clip their updates to
 * L2 norm C and add Gaussian noise of standard deviation z·C. Per RDP order α it computes the Rényi
 * divergence bound of Mironov, Talwar & Zhang 2019 ("Rényi Differential Privacy of the Sampled Gaussian
 * Mechanism", arXiv:1908.10530, §3.3), adds it over steps and rounds (RDP composes additively, Mironov
 * 2017 Prop. 1), and converts the sum to (ε, δ)-DP at the best order. The numbers match TensorFlow
 * Privacy's `compute_rdp` (tensorflow_privacy/privacy/analysis/rdp_accountant.py) and Opacus'
 * opacus/accountants/analysis/rdp.py on Opacus' default orders; see accountant.test.ts.
 *
 * Two conversions are offered. 'classic' is Mironov 2017 Prop. 3: ε = RDP_α + log(1/δ)/(α−1). 'opacus'
 * (the default, and what Opacus' `get_privacy_spent` uses since 2021) is Balle et al. 2020 Thm. 21 /
 * Canonne, Kamath & Steinke 2020 Prop. 12: ε = RDP_α − (log δ + log α)/(α−1) + log((α−1)/α), smaller
 * than the classic one at every order (both extra terms are negative for α > 1). Both also use the
 * total-variation bound TF Privacy uses (Bretagnolle–Huber: TV ≤ √(1 − e^(−KL)) ≤ √(1 − e^(−RDP_α))),
 * so that a mechanism that touched no data (q = 0, or no steps) reports ε = 0 rather than
 * log(1/δ)/(α−1), and report ε ≥ 0.
 */

export type Conversion = 'opacus' | 'classic';

export const CONVERSIONS: readonly Conversion[] = ['opacus', 'classic'];

/**
 * Opacus' RDPAccountant.DEFAULT_ALPHAS (opacus/accountants/rdp.py): 1.1, 1.2, …, 10.9, then 12, …, 63.
 * 1 + x/10 is computed as Opacus does, so 2, 3, …, 10 come out as exact integers and take the integer
 * expansion.
 */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, k) => 1 + (k + 1) / 10),
  ...Array.from({ length: 52 }, (_, k) => 12 + k),
]);

/** One homogeneous stretch of the mechanism: `steps` repetitions at sampling rate q and noise multiplier z. */
export interface SampledGaussianSteps {
  sampleRate: number;
  noiseMultiplier: number;
  steps: number;
}

export interface PrivacySpent {
  epsilon: number;
  /** The RDP order at which the conversion gave the smallest ε. */
  order: number;
}

// ---------------------------------------------------------------------------------------------------
// Validation: messages name the function, the expectation and the (public) value.

function checkSampleRate(fn: string, q: unknown): asserts q is number {
  if (!(typeof q === 'number' && q >= 0 && q <= 1)) throw new Error(`${fn}: expected a sampleRate in [0, 1], got ${String(q)}`);
}

function checkNoiseMultiplier(fn: string, z: unknown): asserts z is number {
  if (!(typeof z === 'number' && Number.isFinite(z) && z > 0)) throw new Error(`${fn}: expected a positive finite noiseMultiplier, got ${String(z)}`);
}

function checkSteps(fn: string, steps: unknown): asserts steps is number {
  if (!(Number.isSafeInteger(steps) && (steps as number) >= 0)) throw new Error(`${fn}: expected a non-negative integer steps, got ${String(steps)}`);
}

function checkDelta(fn: string, delta: unknown): asserts delta is number {
  if (!(typeof delta === 'number' && delta > 0 && delta < 1)) throw new Error(`${fn}: expected a delta in (0, 1), got ${String(delta)}`);
}

function checkEpsilon(fn: string, epsilon: unknown): asserts epsilon is number {
  if (!(typeof epsilon === 'number' && Number.isFinite(epsilon) && epsilon > 0)) throw new Error(`${fn}: expected a positive finite epsilon, got ${String(epsilon)}`);
}

function checkConversion(fn: string, conversion: unknown): asserts conversion is Conversion {
  if (!CONVERSIONS.includes(conversion as Conversion)) throw new Error(`${fn}: expected a conversion of ${CONVERSIONS.join(' or ')}, got ${String(conversion)}`);
}

function checkOrders(fn: string, orders: unknown): asserts orders is readonly number[] {
  if (!Array.isArray(orders) || orders.length === 0) throw new Error(`${fn}: expected a non-empty array of orders, got ${Array.isArray(orders) ? 'an empty array' : String(orders)}`);
  orders.forEach((alpha: unknown, i) => {
    // α ≤ 1 is no use for either conversion (both divide by α − 1).
    if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha > 1)) throw new Error(`${fn}: expected finite orders > 1, got ${String(alpha)} at index ${i}`);
  });
}

// ---------------------------------------------------------------------------------------------------
// Log-space arithmetic and the Gaussian tail.

const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);

/** log(e^a + e^b) without overflow. */
function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  const lo = Math.min(a, b);
  if (lo === -Infinity) return hi;
  return hi + Math.log1p(Math.exp(lo - hi));
}

/** log(e^a − e^b) for a ≥ b. */
function logSub(a: number, b: number): number {
  if (b === -Infinity) return a;
  if (!(a >= b)) throw new Error(`rdpSampledGaussian: lost precision summing the series (log ${a} − log ${b}); try other orders`);
  if (a === b) return -Infinity;
  return a + Math.log(-Math.expm1(b - a));
}

function logSumExp(terms: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < terms.length; i++) max = Math.max(max, terms[i]!);
  if (max === -Infinity || max === Infinity) return max;
  let sum = 0;
  for (let i = 0; i < terms.length; i++) sum += Math.exp(terms[i]! - max);
  return max + Math.log(sum);
}

/** erf(x) for 0 ≤ x < 1 by Abramowitz & Stegun 7.1.6, a series of positive terms (no cancellation). */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 0; term > sum * 1e-17; n++) {
    term *= (2 * x2) / (2 * n + 3);
    sum += term;
  }
  return 2 * INV_SQRT_PI * Math.exp(-x2) * sum;
}

/**
 * The scaled complementary error function erfcx(x) = e^(x²)·erfc(x), for x ≥ 0. Below 1, from the
 * series (1 − erf loses under one digit there, erfc(1) ≈ 0.157); from 1 up, A&S 7.1.14's continued
 * fraction √π·erfcx(x) = 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))), by the modified Lentz method (≈ 190
 * terms at x = 1, 60 at 2, 17 at 5).
 */
export function erfcx(x: number): number {
  if (!(x >= 0)) throw new Error(`erfcx: expected x ≥ 0, got ${x}`);
  if (x < 1) return Math.exp(x * x) * (1 - erfSeries(x));
  if (x === Infinity) return 0;
  const tiny = 1e-300;
  let f = tiny;
  let c = f;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k === 1 ? 1 : (k - 1) / 2;
    d = x + a * d;
    c = x + a / c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return f * INV_SQRT_PI;
}

/** erfc(x) with full relative accuracy in the right tail (no 1 − erf there). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 1) return 1 - erfSeries(x);
  return Math.exp(-x * x) * erfcx(x);
}

// ---------------------------------------------------------------------------------------------------
// log A_α (Mironov, Talwar & Zhang 2019, §3.3). With μ0 = N(0, σ²), μ1 = N(1, σ²) and the sampled
// mechanism's output μ = (1 − q)μ0 + qμ1, A_α = E_{x∼μ0}[(μ(x)/μ0(x))^α] and RDP_α = log A_α / (α − 1).

/** Integer α: the binomial expansion A_α = Σ_{i=0}^{α} C(α,i) (1−q)^(α−i) q^i exp((i² − i)/(2σ²)). */
function logAInteger(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoS2 = 2 * sigma * sigma;
  const terms = new Float64Array(alpha + 1);
  let logBinom = 0; // log C(α, i), updated by the ratio C(α, i+1)/C(α, i) = (α − i)/(i + 1)
  for (let i = 0; i <= alpha; i++) {
    terms[i] = logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / twoS2;
    if (i < alpha) logBinom += Math.log((alpha - i) / (i + 1));
  }
  return logSumExp(terms);
}

/** A term below the running sum by this factor (e^−36 ≈ 2·10^−16) no longer changes it. */
const NEGLIGIBLE = 36;
/** Far more terms than the accelerated tail ever needs (a few hundred at most in accountant.test.ts). */
const MAX_SERIES_TERMS = 1_000_000;
/** Levels of repeated averaging in the tail (Euler's transform): binomial weights C(8, k)/2^8. */
const EULER_WEIGHTS = [1, 8, 28, 56, 70, 56, 28, 8, 1].map((w) => w / 256);

/**
 * Fractional α: split the integral at z0 = σ² log(1/q − 1) + ½, where (1−q)μ0 = qμ1, and expand
 * (μ/μ0)^α binomially on each side in the ratio that is below 1 there:
 *   A_α = Σ_i C(α,i) (1−q)^(α−i) q^i e^((i²−i)/(2σ²)) Φ((z0 − i)/σ)        (x ≤ z0)
 *       + Σ_i C(α,i) q^(α−i) (1−q)^i e^((j²−j)/(2σ²)) Φ((j − z0)/σ),  j = α − i   (x ≥ z0)
 * with Φ(y) = ½ erfc(−y/√2). C(α,i) is positive for i < α and alternates in sign after that.
 *
 * Far from z0, e^((k²−k)/(2σ²)) and Φ are huge and tiny; their product is formed in closed form
 * instead: with x = |k − z0|/(√2σ) > 0, (k²−k)/(2σ²) − x² = k·log(1/q − 1) − z0²/(2σ²) exactly, and
 * Φ = ½ e^(−x²) erfcx(x). Once i > max(α, z0, α − z0) both terms take that form, and together they are
 * |C(α,i)| (1−q)^α e^(−z0²/(2σ²)) · ½(erfcx(x0) + erfcx(x1)), x0 and x1 affine in i: a completely
 * monotone sequence (|C(α,i)| is a Hausdorff moment sequence in i, erfcx a Laplace transform) under
 * alternating signs. Such a tail can fall as slowly as i^−(α+2) (near q = ½ with large σ: 10^5 terms
 * and more), so it is summed with Euler's transform: the 8-fold averages of consecutive partial sums
 * again alternate around the limit, so two of them bracket it, and the sum stops when the bracket is
 * negligible.
 *
 * TF Privacy and Opacus add the huge and tiny logs in floating point and stop at an absolute −30 in log
 * space; for large fractional α with αq ≳ 30 that stops at i = 0 and returns a negative RDP (Opacus:
 * q = 0.5, σ = 100, α = 256.1 gives −0.683). Neither happens at Opacus' default orders.
 */
function logAFractional(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const logOdds = log1mQ - logQ; // log(1/q − 1)
  const s2 = sigma * sigma;
  const z0 = s2 * logOdds + 0.5;
  const offset = (z0 * z0) / (2 * s2);
  const rt2s = Math.SQRT2 * sigma;
  /** log of e^((k²−k)/(2σ²)) · ½ erfc(x), with x = ±(k − z0)/(√2σ) as the caller orients it. */
  const logMoment = (k: number, x: number): number =>
    x > 0 ? k * logOdds - offset + Math.log(0.5 * erfcx(x)) : (k * k - k) / (2 * s2) + Math.log1p(-0.5 * erfc(-x));
  const monotoneFrom = Math.max(alpha, z0, alpha - z0);

  let logA0 = -Infinity;
  let logA1 = -Infinity;
  // In the completely monotone tail: partial sums in units of e^ref, the last EULER_WEIGHTS.length + 1.
  let ref = 0;
  let partial: number[] | null = null;
  let coef = 1; // C(α, i)
  for (let i = 0; i < MAX_SERIES_TERMS; i++) {
    const j = alpha - i;
    const logCoef = Math.log(Math.abs(coef));
    const logS0 = logCoef + i * logQ + j * log1mQ + logMoment(i, (i - z0) / rt2s);
    const logS1 = logCoef + j * logQ + i * log1mQ + logMoment(j, (z0 - j) / rt2s);
    if (partial === null) {
      if (coef > 0) {
        logA0 = logAdd(logA0, logS0);
        logA1 = logAdd(logA1, logS1);
      } else {
        logA0 = logSub(logA0, logS0);
        logA1 = logSub(logA1, logS1);
      }
      const total = logAdd(logA0, logA1);
      if (i > alpha && Math.max(logS0, logS1) < total - NEGLIGIBLE) return total;
      if (i > monotoneFrom) {
        ref = total;
        partial = [1];
      }
    } else {
      const term = Math.exp(logS0 - ref) + Math.exp(logS1 - ref);
      const last = partial[partial.length - 1]!;
      const sum = coef > 0 ? last + term : last - term;
      if (term < sum * Math.exp(-NEGLIGIBLE)) return ref + Math.log(sum);
      partial.push(sum);
      if (partial.length > EULER_WEIGHTS.length + 1) partial.shift();
      if (partial.length === EULER_WEIGHTS.length + 1) {
        let t0 = 0;
        let t1 = 0;
        EULER_WEIGHTS.forEach((w, k) => {
          t0 += w * partial![k]!;
          t1 += w * partial![k + 1]!;
        });
        if (Math.abs(t1 - t0) < t1 * Math.exp(-NEGLIGIBLE)) return ref + Math.log((t0 + t1) / 2);
      }
    }
    coef *= (alpha - i) / (i + 1);
  }
  throw new Error(`rdpSampledGaussian: the series for order ${alpha} did not converge in ${MAX_SERIES_TERMS} terms`);
}

/** Below this σ², one step's RDP is reported as Infinity (see rdpOneStep). */
const TINY_NOISE_VARIANCE = 1e-300;

/** RDP of one step at order α. */
function rdpOneStep(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  // Noise this small breaks the series in floating point (it stops converging near σ = 1e-154). The mixture
  // is at least q·N(1, σ²), so A_α ≥ q^α·e^(α(α−1)/(2σ²)) and RDP_α ≥ α/(2σ²) − 11·745 for α ≥ 1.1 and any
  // q > 0 (log q ≥ −745): above 10^299 at every order. Infinity, no privacy, overstates it safely.
  if (sigma * sigma < TINY_NOISE_VARIANCE) return Infinity;
  // q = 1 is the plain Gaussian mechanism: D_α(N(1,σ²) ‖ N(0,σ²)) = α/(2σ²) (Mironov 2017, Prop. 7).
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha);
  // A_α ≥ 1 (Jensen), so log A_α ≥ 0; a rounding error below zero is clamped.
  return Math.max(0, logA / (alpha - 1));
}

/**
 * RDP of `steps` repetitions of the sampled Gaussian mechanism (sampling rate q, noise multiplier z),
 * one value per order. Steps compose additively (Mironov 2017, Prop. 1). Values may be Infinity (no
 * privacy at that order), never NaN.
 */
export function rdpSampledGaussian(q: number, noiseMultiplier: number, steps: number, orders: readonly number[] = DEFAULT_ORDERS): number[] {
  const fn = 'rdpSampledGaussian';
  checkSampleRate(fn, q);
  checkNoiseMultiplier(fn, noiseMultiplier);
  checkSteps(fn, steps);
  checkOrders(fn, orders);
  if (steps === 0 || q === 0) return orders.map(() => 0);
  return orders.map((alpha) => rdpOneStep(q, noiseMultiplier, alpha) * steps);
}

// ---------------------------------------------------------------------------------------------------
// RDP → (ε, δ).

/** ε at one order; NaN never comes out (Infinity does). */
function epsilonAtOrder(alpha: number, rdp: number, logDelta: number, delta: number, conversion: Conversion): number {
  if (rdp === Infinity) return Infinity;
  // TV ≤ √(1 − e^(−KL)) and KL ≤ RDP_α for α ≥ 1: (0, δ)-DP as soon as 1 − e^(−RDP) ≤ δ².
  if (delta * delta + Math.expm1(-rdp) >= 0) return 0;
  const epsilon =
    conversion === 'classic'
      ? rdp - logDelta / (alpha - 1) // Mironov 2017, Prop. 3
      : rdp - (logDelta + Math.log(alpha)) / (alpha - 1) + Math.log1p(-1 / alpha); // Balle et al. 2020, Thm. 21
  // A negative bound (possible for large δ) says no more than (0, δ)-DP does.
  return Math.max(0, epsilon);
}

/**
 * The smallest ε over the orders for which RDP values `rdp` give (ε, δ)-DP, and the order that gave it
 * (the first, on ties). An optimum at the first or last order suggests widening the orders.
 */
export function epsilonFromRdp(orders: readonly number[], rdp: readonly number[], delta: number, conversion: Conversion = 'opacus'): PrivacySpent {
  const fn = 'epsilonFromRdp';
  checkOrders(fn, orders);
  if (!Array.isArray(rdp) || rdp.length !== orders.length) throw new Error(`${fn}: expected ${orders.length} RDP values (one per order), got ${Array.isArray(rdp) ? rdp.length : String(rdp)}`);
  rdp.forEach((value: unknown, i) => {
    if (!(typeof value === 'number' && value >= 0)) throw new Error(`${fn}: expected non-negative RDP values, got ${String(value)} at index ${i}`);
  });
  checkDelta(fn, delta);
  checkConversion(fn, conversion);
  const logDelta = Math.log(delta);
  let best: PrivacySpent = { epsilon: Infinity, order: orders[0]! };
  orders.forEach((alpha, i) => {
    const epsilon = epsilonAtOrder(alpha, rdp[i]!, logDelta, delta, conversion);
    if (epsilon < best.epsilon) best = { epsilon, order: alpha };
  });
  return best;
}

export interface DpEpsilonOptions extends SampledGaussianSteps {
  delta: number;
  /** Default 'opacus' (Balle et al. 2020), the tighter one. */
  conversion?: Conversion;
  orders?: readonly number[];
}

/** (ε, δ) of `steps` repetitions of the sampled Gaussian mechanism. */
export function dpEpsilon({ sampleRate, noiseMultiplier, steps, delta, conversion = 'opacus', orders = DEFAULT_ORDERS }: DpEpsilonOptions): PrivacySpent {
  const fn = 'dpEpsilon';
  checkSampleRate(fn, sampleRate);
  checkNoiseMultiplier(fn, noiseMultiplier);
  checkSteps(fn, steps);
  checkDelta(fn, delta);
  checkConversion(fn, conversion);
  checkOrders(fn, orders);
  return epsilonFromRdp(orders, rdpSampledGaussian(sampleRate, noiseMultiplier, steps, orders), delta, conversion);
}

export interface SolveNoiseOptions {
  /** The target: the answer gives ε ≤ epsilon. */
  epsilon: number;
  delta: number;
  sampleRate: number;
  steps: number;
  conversion?: Conversion;
  orders?: readonly number[];
}

/** The search range for the noise multiplier. */
export const NOISE_MULTIPLIER_RANGE: Readonly<{ min: number; max: number }> = Object.freeze({ min: 0.01, max: 1000 });
/** Bisection stops when the bracket's ends differ by this factor: 6 significant digits. */
const SOLVE_RELATIVE_TOLERANCE = 1e-6;

/**
 * The smallest noise multiplier z in [0.01, 1000] (to 6 significant digits, never below the exact
 * answer) whose ε after `steps` steps at sampling rate q is at most the target. ε falls as z grows, so
 * this bisects, on a log scale since the range spans five decades. When even z = 0.01 meets the target
 * (no steps, q = 0, or a generous target) the answer is 0.01; when z = 1000 does not, it throws.
 */
export function solveNoiseMultiplier({ epsilon, delta, sampleRate, steps, conversion = 'opacus', orders = DEFAULT_ORDERS }: SolveNoiseOptions): number {
  const fn = 'solveNoiseMultiplier';
  checkEpsilon(fn, epsilon);
  checkDelta(fn, delta);
  checkSampleRate(fn, sampleRate);
  checkSteps(fn, steps);
  checkConversion(fn, conversion);
  checkOrders(fn, orders);
  const spent = (z: number) => epsilonFromRdp(orders, rdpSampledGaussian(sampleRate, z, steps, orders), delta, conversion).epsilon;
  let lo = NOISE_MULTIPLIER_RANGE.min;
  let hi = NOISE_MULTIPLIER_RANGE.max;
  if (spent(lo) <= epsilon) return lo;
  const atMax = spent(hi);
  if (!(atMax <= epsilon)) {
    throw new Error(
      `${fn}: no noise multiplier in [${lo}, ${hi}] reaches ε ≤ ${epsilon} at δ = ${delta} with sampleRate ${sampleRate} over ${steps} steps (z = ${hi} gives ε = ${atMax})`,
    );
  }
  // Invariant: spent(lo) > epsilon ≥ spent(hi).
  while (hi / lo > 1 + SOLVE_RELATIVE_TOLERANCE) {
    const mid = Math.sqrt(lo * hi);
    if (spent(mid) <= epsilon) hi = mid;
    else lo = mid;
  }
  return hi;
}

// ---------------------------------------------------------------------------------------------------
// The ledger.

export interface PrivacyLedgerJson {
  version: 1;
  orders: number[];
  rounds: SampledGaussianSteps[];
}

/**
 * Per-federation privacy accounting across rounds whose sampling rate and noise multiplier may differ:
 * each round's RDP vector is added to the running total (RDP composes additively over any sequence of
 * mechanisms, adaptively chosen or not; Mironov 2017, Prop. 1). The rounds themselves are what is
 * stored (toJSON); the RDP total is recomputed from them, in the same order, on load.
 */
export class PrivacyLedger {
  readonly orders: readonly number[];
  readonly #rounds: SampledGaussianSteps[] = [];
  readonly #rdp: number[];

  constructor(orders: readonly number[] = DEFAULT_ORDERS) {
    checkOrders('PrivacyLedger', orders);
    this.orders = Object.freeze([...orders]);
    this.#rdp = orders.map(() => 0);
  }

  /** Records a round (or any stretch of identical steps). Returns the ledger, for chaining. */
  add(round: SampledGaussianSteps): this {
    const rdp = this.#roundRdp('PrivacyLedger.add', round);
    rdp.forEach((value, i) => (this.#rdp[i]! += value));
    this.#rounds.push({ sampleRate: round.sampleRate, noiseMultiplier: round.noiseMultiplier, steps: round.steps });
    return this;
  }

  /** (ε, δ) spent so far: ε = 0 for an empty ledger. */
  epsilon(delta: number, conversion: Conversion = 'opacus'): PrivacySpent {
    return epsilonFromRdp(this.orders, this.#rdp, delta, conversion);
  }

  /** (ε, δ) the ledger would show after `round`, without recording it: the check before opening a round. */
  epsilonAfter(round: SampledGaussianSteps, delta: number, conversion: Conversion = 'opacus'): PrivacySpent {
    const rdp = this.#roundRdp('PrivacyLedger.epsilonAfter', round);
    return epsilonFromRdp(this.orders, rdp.map((value, i) => this.#rdp[i]! + value), delta, conversion);
  }

  get rounds(): SampledGaussianSteps[] {
    return this.#rounds.map((round) => ({ ...round }));
  }

  /** The running RDP total, one value per order. */
  get rdp(): number[] {
    return [...this.#rdp];
  }

  toJSON(): PrivacyLedgerJson {
    return { version: 1, orders: [...this.orders], rounds: this.rounds };
  }

  /** Rebuilds a ledger from toJSON's output (an object, or its JSON text); throws on anything else. */
  static fromJSON(json: unknown): PrivacyLedger {
    const fn = 'PrivacyLedger.fromJSON';
    const value: unknown = typeof json === 'string' ? JSON.parse(json) : json;
    if (typeof value !== 'object' || value === null) throw new Error(`${fn}: expected an object, got ${value === null ? 'null' : typeof value}`);
    const { version, orders, rounds } = value as Partial<Record<keyof PrivacyLedgerJson, unknown>>;
    if (version !== 1) throw new Error(`${fn}: expected version 1, got ${String(version)}`);
    checkOrders(fn, orders);
    if (!Array.isArray(rounds)) throw new Error(`${fn}: expected an array of rounds, got ${typeof rounds}`);
    const ledger = new PrivacyLedger(orders);
    rounds.forEach((round: unknown, i) => {
      if (typeof round !== 'object' || round === null) throw new Error(`${fn}: expected round ${i} to be an object, got ${round === null ? 'null' : typeof round}`);
      try {
        ledger.add(round as SampledGaussianSteps);
      } catch (error) {
        throw new Error(`${fn}: round ${i}: ${(error as Error).message}`);
      }
    });
    return ledger;
  }

  #roundRdp(fn: string, round: SampledGaussianSteps): number[] {
    if (typeof round !== 'object' || round === null) throw new Error(`${fn}: expected { sampleRate, noiseMultiplier, steps }, got ${String(round)}`);
    checkSampleRate(fn, round.sampleRate);
    checkNoiseMultiplier(fn, round.noiseMultiplier);
    checkSteps(fn, round.steps);
    return rdpSampledGaussian(round.sampleRate, round.noiseMultiplier, round.steps, this.orders);
  }
}
