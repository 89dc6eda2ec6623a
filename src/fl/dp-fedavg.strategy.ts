/**
 * DP-FedAvg (McMahan, Ramage, Talwar, Zhang 2018, "Learning Differentially Private Recurrent Language
 * Models"): owner-level differential privacy around federated averaging. Each round every contributing
 * owner's update Δᵢ = wᵢ − w₀ is clipped to L2 norm C, the clipped updates are summed, Gaussian noise of
 * standard deviation z·C is added to the sum, and the sum is divided by a fixed denominator — the expected
 * number of contributors — so the published average is a post-processing of the noised sum. One owner is
 * one privacy unit: owners count once each, whatever their sample counts.
 *
 * Plain mode (central DP): the server clips and adds the noise. Secure mode (distributed DP): each owner
 * clips its own update and adds noise of standard deviation z·C/√m, m the round's minimum number of
 * contributors, on the fixed-point lattice (Kairouz, Liu, Steinke 2021, "The Distributed Discrete
 * Gaussian Mechanism for Federated Learning with Secure Aggregation"), so whenever the round closes the
 * sum the server reconstructs already carries at least the full noise; this wrapper then only divides.
 * Randomised rounding to the 2⁻²⁰ lattice can lengthen a clipped update by up to √d·2⁻²⁰, so secure
 * rounds calibrate the noise to that slightly larger sensitivity.
 *
 * Sampling: every owner (rate 1), or Poisson sampling at a rate q with a per-round public seed
 * (src/crypto/dp/sampling.ts); the accountant credits the amplification for q < 1.
 */
import { clipL2 } from '../crypto/clipping.js';
import { gaussianNoise } from '../crypto/dp/noise.js';
import { newSamplingSeed } from '../crypto/dp/sampling.js';
import { defaultRandomBytes, type RandomBytes } from '../crypto/field.js';
import { FIXED_POINT_BITS } from '../crypto/fixed-point.js';
import { aggregateMetrics, canonicalOrder, type AggregateResult, type ClientUpdate, type RoundConfig, type RoundSetup, type Strategy, type SummedUpdate } from './strategy.js';

export interface DpSettings {
  clipNorm: number;
  noiseMultiplier: number;
  sampling: { kind: 'all' } | { kind: 'poisson'; rate: number };
}

export class DpFedAvg implements Strategy {
  readonly name = 'dp-fedavg';

  constructor(
    private readonly settings: DpSettings,
    private readonly rng: RandomBytes = defaultRandomBytes,
  ) {
    if (!(settings.clipNorm > 0 && Number.isFinite(settings.clipNorm))) throw new Error(`DpFedAvg: expected a positive finite clipNorm, got ${settings.clipNorm}`);
    if (!(settings.noiseMultiplier > 0 && Number.isFinite(settings.noiseMultiplier))) {
      throw new Error(`DpFedAvg: expected a positive finite noiseMultiplier, got ${settings.noiseMultiplier}`);
    }
  }

  configure(setup: RoundSetup): RoundConfig {
    const { clipNorm, noiseMultiplier, sampling } = this.settings;
    const sampleRate = sampling.kind === 'poisson' ? sampling.rate : 1;
    const sensitivity = setup.aggregation === 'secure' ? clipNorm + Math.sqrt(setup.parameters) * 2 ** -FIXED_POINT_BITS : clipNorm;
    const noiseStd = noiseMultiplier * sensitivity;
    return {
      dp: {
        clipNorm,
        noiseMultiplier,
        sampleRate,
        expectedOwners: Math.max(1, sampleRate * setup.owners),
        noiseStd,
        noiseStdPerOwner: setup.aggregation === 'secure' ? noiseStd / Math.sqrt(Math.max(1, setup.minOwners)) : 0,
      },
      ...(sampling.kind === 'poisson' && { sampling: { kind: 'poisson' as const, rate: sampling.rate, seed: newSamplingSeed(this.rng) } }),
    };
  }

  /** Central DP: clip every update, sum, add N(0, (zC)²) per coordinate, divide by the expected count. */
  aggregate(current: Float32Array, updates: ClientUpdate[], config: RoundConfig): AggregateResult {
    const dp = requireDp('aggregate', config);
    const size = current.length;
    const sum = new Float64Array(size);
    for (const update of canonicalOrder(updates)) {
      if (update.weights.length !== size) throw new Error(`DpFedAvg.aggregate: expected ${size} weights, got ${update.weights.length}`);
      const delta = Float64Array.from(update.weights, (w, i) => w - current[i]!);
      const { values } = clipL2(delta, dp.clipNorm);
      for (let i = 0; i < size; i++) sum[i]! += values[i]!;
    }
    const noise = gaussianNoise(size, dp.noiseStd, this.rng);
    const weights = new Float32Array(size);
    for (let i = 0; i < size; i++) weights[i] = current[i]! + (sum[i]! + noise[i]!) / dp.expectedOwners;
    return { weights, metrics: aggregateMetrics(updates) };
  }

  /** Distributed DP: the owners clipped and noised before sharing; only the fixed denominator is left. */
  aggregateSum(current: Float32Array, sum: SummedUpdate, config: RoundConfig): AggregateResult {
    const dp = requireDp('aggregateSum', config);
    if (sum.delta.length !== current.length) throw new Error(`DpFedAvg.aggregateSum: expected ${current.length} values, got ${sum.delta.length}`);
    const weights = new Float32Array(current.length);
    for (let i = 0; i < current.length; i++) weights[i] = current[i]! + sum.delta[i]! / dp.expectedOwners;
    return { weights, metrics: { owners: sum.owners, samples: Math.round(sum.weight), trainLoss: null, trainAccuracy: null } };
  }
}

function requireDp(fn: string, config: RoundConfig) {
  if (!config.dp) throw new Error(`DpFedAvg.${fn}: the round was opened without differential privacy settings`);
  return config.dp;
}
