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

/** Mean binary cross-entropy with probabilities clipped to [1e-7, 1 − 1e-7]. */
export function logLoss(probs: ArrayLike<number>, y: ArrayLike<number>): number {
  if (!checkPair('logLoss', probs, y) || y.length === 0) return NaN;
  const eps = 1e-7;
  let total = 0;
  for (let i = 0; i < y.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probs[i] as number));
    total += y[i] === 1 ? -Math.log(p) : -Math.log(1 - p);
  }
  return total / y.length;
}
