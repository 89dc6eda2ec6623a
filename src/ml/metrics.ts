/**
 * Evaluation metrics for binary credit decisions, computed in float64 on plain arrays so that the
 * server, the CLI and the research scripts report the same figures as scikit-learn for the same
 * probabilities. An undefined metric (no samples, one class only for AUC, or a non-finite probability
 * from a diverged model) is NaN rather than an exception, so that evaluation cannot abort a round.
 */

/** Throws on caller mistakes; returns false when a probability is not finite (a diverged model). */
function checkPair(fn: string, probs: ArrayLike<number>, y: ArrayLike<number>): boolean {
  if (probs.length !== y.length) throw new Error(`${fn}: expected as many labels as probabilities, got ${y.length} for ${probs.length}`);
  let finite = true;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new Error(`${fn}: labels expected 0 or 1, got ${y[i]} at index ${i}`);
    if (!Number.isFinite(probs[i])) finite = false;
  }
  return finite;
}

/** Share of samples whose decision (prob >= threshold) matches the label. */
export function accuracy(probs: ArrayLike<number>, y: ArrayLike<number>, threshold = 0.5): number {
  if (!checkPair('accuracy', probs, y) || y.length === 0) return NaN;
  let correct = 0;
  for (let i = 0; i < y.length; i++) if (((probs[i] as number) >= threshold ? 1 : 0) === y[i]) correct++;
  return correct / y.length;
}

/**
 * Area under the ROC curve as the Mann–Whitney statistic: the chance that a random positive scores
 * above a random negative, ties counting one half (average ranks), as scikit-learn's roc_auc_score.
 */
export function rocAuc(probs: ArrayLike<number>, y: ArrayLike<number>): number {
  if (!checkPair('rocAuc', probs, y)) return NaN;
  const n = y.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (probs[a] as number) - (probs[b] as number));
  let positives = 0;
  let rankSumPositives = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && probs[order[end] as number] === probs[order[start] as number]) end++;
    const averageRank = (start + 1 + end) / 2; // ranks start+1 … end share their mean
    for (let k = start; k < end; k++) {
      if (y[order[k] as number] === 1) {
        positives++;
        rankSumPositives += averageRank;
      }
    }
    start = end;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Probabilities are clipped to [LOG_LOSS_EPSILON, 1 − LOG_LOSS_EPSILON] for the log loss, as scikit-learn did. */
export const LOG_LOSS_EPSILON = 1e-7;

/** One row's binary cross-entropy, its probability clipped. */
export function rowLogLoss(prob: number, label: number): number {
  const p = Math.min(1 - LOG_LOSS_EPSILON, Math.max(LOG_LOSS_EPSILON, prob));
  return label === 1 ? -Math.log(p) : -Math.log(1 - p);
}

/** Mean binary cross-entropy with probabilities clipped to [1e-7, 1 − 1e-7]. */
export function logLoss(probs: ArrayLike<number>, y: ArrayLike<number>): number {
  if (!checkPair('logLoss', probs, y) || y.length === 0) return NaN;
  let total = 0;
  for (let i = 0; i < y.length; i++) total += rowLogLoss(probs[i] as number, y[i] as number);
  return total / y.length;
}

/**
 * Which of `bins` equal-width bins of [0, 1] a probability falls in ([b/bins, (b+1)/bins), the last one
 * including 1). Every histogram and reliability bin in the product uses this one rule, so a histogram of
 * 2·m bins merges pairwise into the m-bin one exactly (p·2m is 2·(p·m) in binary floating point).
 */
export function scoreBin(prob: number, bins: number): number {
  return Math.min(bins - 1, Math.max(0, Math.floor(prob * bins)));
}

/** Mean squared difference between probability and label (lower is better). */
export function brierScore(probs: ArrayLike<number>, y: ArrayLike<number>): number {
  if (!checkPair('brierScore', probs, y) || y.length === 0) return NaN;
  let total = 0;
  for (let i = 0; i < y.length; i++) total += ((probs[i] as number) - (y[i] as number)) ** 2;
  return total / y.length;
}

export interface RocPoint {
  /** Scores at or above this count as positive. */
  threshold: number;
  fpr: number;
  tpr: number;
}

/**
 * The ROC curve's corner points from the highest threshold down (one per distinct score), starting at
 * (0, 0) and ending at (1, 1), as scikit-learn's roc_curve with drop_intermediate=False; [] when one
 * class is absent or a probability is not finite.
 */
export function rocCurve(probs: ArrayLike<number>, y: ArrayLike<number>): RocPoint[] {
  if (!checkPair('rocCurve', probs, y)) return [];
  const n = y.length;
  let positives = 0;
  for (let i = 0; i < n; i++) positives += y[i] as number;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return [];
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (probs[b] as number) - (probs[a] as number));
  const points: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n; ) {
    const score = probs[order[k] as number] as number;
    while (k < n && probs[order[k] as number] === score) {
      if (y[order[k] as number] === 1) tp++;
      else fp++;
      k++;
    }
    points.push({ threshold: score, fpr: fp / negatives, tpr: tp / positives });
  }
  return points;
}

/** Kolmogorov–Smirnov statistic: the largest gap between the positives' and negatives' score CDFs (max TPR − FPR). */
export function ksStatistic(probs: ArrayLike<number>, y: ArrayLike<number>): number {
  const curve = rocCurve(probs, y);
  if (curve.length === 0) return NaN;
  let best = 0;
  for (const point of curve) best = Math.max(best, point.tpr - point.fpr);
  return best;
}

export interface CalibrationBin {
  /** [lower, upper) of predicted probability; the last bin includes 1. */
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted probability in the bin; null when empty. */
  meanPredicted: number | null;
  /** Share of positives in the bin; null when empty. */
  observedRate: number | null;
}

/** Reliability diagram over `bins` equal-width probability bins (scikit-learn's calibration_curve, strategy 'uniform'). */
export function calibrationCurve(probs: ArrayLike<number>, y: ArrayLike<number>, bins = 10): CalibrationBin[] {
  if (!Number.isSafeInteger(bins) || bins < 1) throw new Error(`calibrationCurve: expected a positive whole number of bins, got ${bins}`);
  if (!checkPair('calibrationCurve', probs, y)) return [];
  const count = new Array<number>(bins).fill(0);
  const predicted = new Array<number>(bins).fill(0);
  const observed = new Array<number>(bins).fill(0);
  for (let i = 0; i < y.length; i++) {
    const p = probs[i] as number;
    const bin = scoreBin(p, bins);
    count[bin]!++;
    predicted[bin]! += p;
    observed[bin]! += y[i] as number;
  }
  return count.map((c, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: c,
    meanPredicted: c > 0 ? predicted[b]! / c : null,
    observedRate: c > 0 ? observed[b]! / c : null,
  }));
}
