/**
 * The aggregation contract, in Flower's shape: a strategy turns the updates of one round into the next
 * global weights, or returns undefined to keep the previous model. Secure aggregation (a later stage)
 * sits in front of this, so a strategy may only ever see a sum.
 */

export interface LocalMetrics {
  loss?: number;
  accuracy?: number;
}

export interface ClientUpdate {
  /** Flat float32 parameters in the model layout order. */
  weights: Float32Array;
  numSamples: number;
  metrics: LocalMetrics;
}

export interface AggregateMetrics {
  owners: number;
  samples: number;
  trainLoss: number | null;
  trainAccuracy: number | null;
}

export interface AggregateResult {
  weights: Float32Array;
  metrics: AggregateMetrics;
}

export interface Strategy {
  readonly name: string;
  /** Returns undefined when the updates cannot produce a model (the round then fails). */
  aggregate(current: Float32Array, updates: ClientUpdate[]): AggregateResult | undefined;
}

/** Sample-weighted means of the metrics owners reported; null when nobody reported one. */
export function aggregateMetrics(updates: ClientUpdate[]): AggregateMetrics {
  const mean = (pick: (m: LocalMetrics) => number | undefined): number | null => {
    let sum = 0;
    let weight = 0;
    for (const update of updates) {
      const value = pick(update.metrics);
      if (value === undefined) continue;
      sum += value * update.numSamples;
      weight += update.numSamples;
    }
    return weight > 0 ? sum / weight : null;
  };
  return {
    owners: updates.length,
    samples: updates.reduce((total, update) => total + update.numSamples, 0),
    trainLoss: mean((m) => m.loss),
    trainAccuracy: mean((m) => m.accuracy),
  };
}

/**
 * Orders updates by content (sample count, then weight bytes) so that float summation order, and so the
 * aggregate's last bits, do not depend on arrival order or on randomly drawn owner ids.
 */
export function canonicalOrder(updates: ClientUpdate[]): ClientUpdate[] {
  return [...updates].sort((a, b) => {
    if (a.numSamples !== b.numSamples) return a.numSamples - b.numSamples;
    const x = new Uint8Array(a.weights.buffer, a.weights.byteOffset, a.weights.byteLength);
    const y = new Uint8Array(b.weights.buffer, b.weights.byteOffset, b.weights.byteLength);
    return Buffer.compare(x, y);
  });
}
