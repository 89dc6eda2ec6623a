/**
 * FedAvg (McMahan et al. 2017, Algorithm 1): the next global model is the mean of the owners' models
 * weighted by their sample counts. Sums run in float64 over a canonical order, so the result is the same
 * whatever order the updates arrived in.
 */
import { aggregateMetrics, canonicalOrder, type AggregateResult, type ClientUpdate, type RoundConfig, type Strategy, type SummedUpdate } from './strategy.js';

export class FedAvg implements Strategy {
  readonly name = 'fedavg';

  /** Every owner takes part; nothing is asked of them beyond training. */
  configure(): RoundConfig {
    return {};
  }

  aggregate(current: Float32Array, updates: ClientUpdate[], _config: RoundConfig = {}): AggregateResult {
    if (updates.length === 0) throw new Error('FedAvg.aggregate: expected at least one update, got 0');
    const size = current.length;
    const sum = new Float64Array(size);
    let totalSamples = 0;
    for (const update of canonicalOrder(updates)) {
      if (update.weights.length !== size) {
        throw new Error(`FedAvg.aggregate: expected ${size} weights, got ${update.weights.length}`);
      }
      const n = update.numSamples;
      for (let i = 0; i < size; i++) sum[i] = sum[i]! + n * update.weights[i]!;
      totalSamples += n;
    }
    const weights = new Float32Array(size);
    for (let i = 0; i < size; i++) weights[i] = sum[i]! / totalSamples;
    return { weights, metrics: aggregateMetrics(updates) };
  }

  /** w₀ + Σ nᵢΔᵢ / Σ nᵢ: the same sample-weighted mean, from the sum alone. */
  aggregateSum(current: Float32Array, sum: SummedUpdate, _config: RoundConfig = {}): AggregateResult {
    if (sum.delta.length !== current.length) throw new Error(`FedAvg.aggregateSum: expected ${current.length} values, got ${sum.delta.length}`);
    if (!(sum.weight > 0)) throw new Error(`FedAvg.aggregateSum: expected a positive total weight, got ${sum.weight}`);
    const weights = new Float32Array(current.length);
    for (let i = 0; i < current.length; i++) weights[i] = current[i]! + sum.delta[i]! / sum.weight;
    // Only the sum is known: owners' losses stayed with them.
    return { weights, metrics: { owners: sum.owners, samples: Math.round(sum.weight), trainLoss: null, trainAccuracy: null } };
  }
}
