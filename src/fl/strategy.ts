/**
 * The aggregation contract, in Flower's shape: a strategy configures a round (who takes part, what each
 * owner must do to its update) and turns the round's contributions into the next global weights. In plain
 * mode it sees each owner's update; in secure mode the secure-aggregation stage sits in front of it and it
 * only ever sees their sum. Differential privacy is a wrapper around a strategy (dp-fedavg.strategy.ts).
 * A strategy that cannot produce a model throws; the round then fails and the previous model stays.
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

/** Differential privacy fixed for one round when it opens; owners and the server both follow it. */
export interface DpRoundConfig {
  /** C: every owner's update (new − base weights) is clipped to this L2 norm. */
  clipNorm: number;
  /** z: the round's sum carries Gaussian noise of standard deviation z·C per coordinate. */
  noiseMultiplier: number;
  /** Chance that an owner takes part (1 = every owner). */
  sampleRate: number;
  /** The fixed denominator: expected contributors (rate × owners), so the average reveals no count. */
  expectedOwners: number;
  /** z times the sensitivity: the standard deviation of the noise the round's sum carries, per coordinate. */
  noiseStd: number;
  /**
   * Secure mode: the standard deviation each contributing owner adds itself, noiseStd/√m with m the
   * round's minimum number of contributions, so any sum the round can close with carries at least the
   * full noise (Kairouz et al. 2021, distributed DP). 0 in plain mode, where the server adds it.
   */
  noiseStdPerOwner: number;
}

export interface RoundConfig {
  dp?: DpRoundConfig;
  /** Poisson sampling: owner o takes part iff isSampled(seed, o, rate) (src/crypto/dp/sampling.ts). */
  sampling?: { kind: 'poisson'; rate: number; seed: string };
  /** A statistics round: the numeric columns whose moments owners contribute, in vector order. */
  statistics?: { columns: string[] };
  /** A training round: the local learning rate owners use (the federation's schedule at this round). */
  learningRate?: number;
  /**
   * An evaluation round: owners score `modelVersion` on their rows and contribute tallies over `bins` score
   * bins (src/ml/federated-evaluation.ts); `afterTraining` when it opened after the planned training was
   * over, so agents know no training round follows it.
   */
  evaluation?: { modelVersion: number; bins: number; afterTraining: boolean };
  /**
   * A compact-field secure training round: the largest sample weight an owner may give its update, so
   * that the round's cohort (owners enrolled when it opened) cannot sum beyond the field's headroom. An
   * owner with more samples weights its update at the cap.
   */
  weightCap?: number;
}

/** What the secure stage hands a strategy: the decoded sum of every included owner's vector. */
export interface SummedUpdate {
  /** Σ of the owners' (weighted, clipped, possibly noised) weight changes. */
  delta: Float64Array;
  /** Σ of their weights: sample counts, or one per owner in a DP round. */
  weight: number;
  owners: number;
}

/** What a strategy needs to know to configure a round. */
export interface RoundSetup {
  /** Data owners enrolled when the round opens. */
  owners: number;
  minOwners: number;
  aggregation: 'plain' | 'secure';
  parameters: number;
}

export interface Strategy {
  readonly name: string;
  /** Fixes the round's configuration when it opens (stored with the round, shown to owners). */
  configure(setup: RoundSetup): RoundConfig;
  /** Plain mode: the owners' updates, one each. */
  aggregate(current: Float32Array, updates: ClientUpdate[], config: RoundConfig): AggregateResult;
  /** Secure mode: only their sum. */
  aggregateSum(current: Float32Array, sum: SummedUpdate, config: RoundConfig): AggregateResult;
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
