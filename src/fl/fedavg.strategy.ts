/**
 * FedAvg (McMahan et al. 2017, Algorithm 1): the next global model is the mean of the owners' models
 * weighted by their sample counts. Sums run in float64 over a canonical order, so the result is the same
 * whatever order the updates arrived in.
 */
import { aggregateMetrics, canonicalOrder, type AggregateResult, type ClientUpdate, type Strategy } from './strategy.js';

export class FedAvg implements Strategy {
  readonly name = 'fedavg';

  aggregate(current: Float32Array, updates: ClientUpdate[]): AggregateResult | undefined {
    if (updates.length === 0) return undefined;
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
}
