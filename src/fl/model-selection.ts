/**
 * Which model version a federation serves, and when its training should stop. Pure rules over the
 * validation reports stored with the versions, so the decision can be recomputed from the audit trail:
 *
 * - A version is eligible only if its validation accuracy is at least the majority-class rate: a model
 *   that does worse than always predicting the common class is never served by default.
 * - Rule `best` promotes the eligible version with the best value of the chosen metric (earliest on ties);
 *   rule `manual` leaves promotion to the operator.
 * - Early stopping (patience N): once N scored versions in a row have not improved on the best so far,
 *   automatic rounds stop.
 */

export type SelectionMetric = 'auc' | 'logLoss' | 'accuracy' | 'brier' | 'ks';

export interface SelectionConfig {
  rule: 'manual' | 'best';
  metric: SelectionMetric;
  /** Stop opening rounds after this many scored versions without improvement; null: never stop early. */
  patience: number | null;
}

export const DEFAULT_SELECTION: Readonly<SelectionConfig> = Object.freeze({ rule: 'best', metric: 'logLoss', patience: null });

/** What selection needs from a version's validation report. */
export interface ScoredVersion {
  version: number;
  accuracy: number;
  majorityRate: number;
  metrics: Record<SelectionMetric, number>;
}

const LOWER_IS_BETTER: Record<SelectionMetric, boolean> = { auc: false, logLoss: true, accuracy: false, brier: true, ks: false };

/** At least as accurate as always predicting the majority class (and every figure finite). */
export function isEligible(accuracy: number, majorityRate: number): boolean {
  return Number.isFinite(accuracy) && Number.isFinite(majorityRate) && accuracy >= majorityRate;
}

/** Strictly better by `metric`; a NaN is never better. */
export function improves(metric: SelectionMetric, candidate: number, incumbent: number): boolean {
  if (!Number.isFinite(candidate)) return false;
  if (!Number.isFinite(incumbent)) return true;
  return LOWER_IS_BETTER[metric] ? candidate < incumbent : candidate > incumbent;
}

/** The best eligible version by `metric`, the earliest among equals; null when none is eligible. */
export function bestVersion(versions: ScoredVersion[], metric: SelectionMetric): number | null {
  let best: ScoredVersion | null = null;
  for (const scored of [...versions].sort((a, b) => a.version - b.version)) {
    if (!isEligible(scored.accuracy, scored.majorityRate)) continue;
    if (best === null || improves(metric, scored.metrics[metric], best.metrics[metric])) best = scored;
  }
  return best?.version ?? null;
}

/**
 * Early stopping: true when the last `patience` scored training versions (version 0, the initial model,
 * never counts) have not improved on the best metric value reached before them.
 */
export function shouldStop(versions: ScoredVersion[], selection: SelectionConfig): boolean {
  const patience = selection.patience;
  if (patience === null) return false;
  const trained = versions.filter((scored) => scored.version > 0).sort((a, b) => a.version - b.version);
  if (trained.length <= patience) return false;
  let bestIndex = -1;
  for (let i = 0; i < trained.length; i++) {
    if (bestIndex === -1 || improves(selection.metric, trained[i]!.metrics[selection.metric], trained[bestIndex]!.metrics[selection.metric])) bestIndex = i;
  }
  return trained.length - 1 - bestIndex >= patience;
}
