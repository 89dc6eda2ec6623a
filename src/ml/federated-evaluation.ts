/**
 * Federated evaluation: each owner scores a model version on its own rows and contributes only tallies —
 * per score bin (200 of [0, 1]), how many of its negatives and positives fall there and the sum of their scores, plus
 * its summed log loss and Brier score. The server adds the owners' tallies (plainly, or in secure mode
 * as one more secret-shared vector, so it sees only the sum) and derives every metric of a ModelReport
 * from the sum without seeing a row or a score:
 *
 *   - rows, positives, the confusion counts at 0.5 (0.5 is a bin edge) and the per-class histograms (the
 *     report's twenty bins, each ten of these merged) are exactly what a central computation on the same
 *     rows and the same model gives;
 *   - log loss and Brier score too, up to floating-point summation order (and, in secure mode, each
 *     owner's fixed-point rounding, at most 2⁻²¹ per value);
 *   - the reliability curve's counts and positive rates exactly, its mean scores from the bin sums;
 *   - AUC, KS and the ROC curve to histogram resolution: two rows in the same bin count as a tie, so the
 *     AUC differs from the exact one by at most `aucResolution` = Σ_b pos_b·neg_b / (2·P·N).
 *
 * Layout of one tally vector with B bins: [negatives × B, positives × B, score sums × B, Σ log loss,
 * Σ Brier, unscored negatives, unscored positives]. A row whose score is not finite (a diverged model)
 * (NaN) is "unscored": it counts as predicted negative in the confusion, as the central report counts it, and
 * makes the score-based metrics undefined (NaN), as they are centrally.
 */
import { REPORT_CALIBRATION_BINS, REPORT_HISTOGRAM_BINS, REPORT_ROC_POINTS, thin, type ModelReport } from './model-report.js';
import { LOG_LOSS_EPSILON, rowLogLoss, scoreBin } from './metrics.js';

/**
 * Bins of a federated evaluation. Fine bins make AUC, KS and the ROC points close to exact (two scores
 * count as tied only within 1/200); they merge ten by ten into the report's twenty histogram bins and
 * twenty by twenty into its ten reliability bins. 604 values per owner, a few kilobytes even as shares.
 */
export const EVALUATION_BINS = 10 * REPORT_HISTOGRAM_BINS;

/** Values one owner contributes for `bins` bins. */
export function tallyLength(bins: number): number {
  return 3 * bins + 4;
}

/** Summed tallies, read by field. */
interface Tallies {
  negatives: number[];
  positives: number[];
  scoreSums: number[];
  logLoss: number;
  brier: number;
  unscoredNegatives: number;
  unscoredPositives: number;
}

function checkBins(fn: string, bins: number): void {
  // 0.5 must be an edge (exact confusion counts), and the histogram and reliability bins unions of these.
  if (!Number.isSafeInteger(bins) || bins < REPORT_HISTOGRAM_BINS || bins % REPORT_HISTOGRAM_BINS !== 0) {
    throw new Error(`${fn}: expected a positive multiple of ${REPORT_HISTOGRAM_BINS} bins, got ${bins}`);
  }
}

/** Sums of consecutive groups of `bins / into` counts. */
function merge(counts: number[], into: number): number[] {
  const group = counts.length / into;
  return Array.from({ length: into }, (_, m) => counts.slice(m * group, (m + 1) * group).reduce((a, b) => a + b, 0));
}

/** One owner's tallies of `probs` (the model's scores of its rows) against labels `y` (0/1). */
export function scoreTallies(probs: ArrayLike<number>, y: ArrayLike<number>, bins: number = EVALUATION_BINS): Float64Array {
  checkBins('scoreTallies', bins);
  if (probs.length !== y.length) throw new Error(`scoreTallies: expected as many labels as scores, got ${y.length} for ${probs.length}`);
  const tallies = new Float64Array(tallyLength(bins));
  for (let i = 0; i < y.length; i++) {
    const label = y[i] as number;
    const p = probs[i] as number;
    if (label !== 0 && label !== 1) throw new Error(`scoreTallies: labels expected 0 or 1, got ${label} at index ${i}`);
    if (!Number.isFinite(p)) {
      tallies[3 * bins + 2 + label]! += 1;
      continue;
    }
    const bin = scoreBin(p, bins);
    tallies[label * bins + bin]! += 1;
    tallies[2 * bins + bin]! += p;
    tallies[3 * bins]! += rowLogLoss(p, label);
    tallies[3 * bins + 1]! += (p - label) ** 2;
  }
  return tallies;
}

function readTallies(values: ArrayLike<number>, bins: number): Tallies {
  const slice = (from: number) => Array.from({ length: bins }, (_, b) => values[from + b] as number);
  return {
    negatives: slice(0),
    positives: slice(bins),
    scoreSums: slice(2 * bins),
    logLoss: values[3 * bins] as number,
    brier: values[3 * bins + 1] as number,
    unscoredNegatives: values[3 * bins + 2] as number,
    unscoredPositives: values[3 * bins + 3] as number,
  };
}

/**
 * What is wrong with a tally vector, as messages ([] when it is something real rows could give): counts
 * must be whole and non-negative, each bin's score sum must lie between its edges times its count, and
 * the loss sums within what its rows allow. `tolerance` absorbs rounding per value — 0 for one owner's
 * plain tallies (a relative 10⁻⁹ is always allowed for float summation), the fixed-point error of a
 * secure sum. The server checks every plain submission and every secure sum; a malicious owner can still
 * send plausible false tallies, as it could train on false rows.
 */
export function tallyProblems(values: ArrayLike<number>, bins: number, tolerance = 0): string[] {
  checkBins('tallyProblems', bins);
  if (values.length !== tallyLength(bins)) return [`expected ${tallyLength(bins)} values (${bins} bins), got ${values.length}`];
  const problems: string[] = [];
  const slack = (value: number) => tolerance + 1e-9 * (1 + Math.abs(value));
  const count = (value: number, what: string) => {
    if (!Number.isFinite(value)) problems.push(`${what} is not a finite number`);
    else if (value < -slack(value) || Math.abs(value - Math.round(value)) > slack(value)) problems.push(`${what} is ${value}, not a whole non-negative count`);
  };
  const t = readTallies(values, bins);
  for (let b = 0; b < bins; b++) {
    count(t.negatives[b]!, `negatives in bin ${b}`);
    count(t.positives[b]!, `positives in bin ${b}`);
  }
  count(t.unscoredNegatives, 'unscored negatives');
  count(t.unscoredPositives, 'unscored positives');
  if (problems.length > 0) return problems;
  let scored = 0;
  for (let b = 0; b < bins; b++) {
    const rows = Math.round(t.negatives[b]!) + Math.round(t.positives[b]!);
    scored += rows;
    const sum = t.scoreSums[b]!;
    const [low, high] = [(rows * b) / bins, (rows * (b + 1)) / bins];
    if (!Number.isFinite(sum) || sum < low - slack(low) || sum > high + slack(high)) {
      problems.push(`score sum of bin ${b} is ${sum}; ${rows} score(s) in [${b / bins}, ${(b + 1) / bins}] sum to between ${low} and ${high}`);
    }
  }
  const maxLoss = scored * -Math.log(LOG_LOSS_EPSILON);
  if (!Number.isFinite(t.logLoss) || t.logLoss < -slack(0) || t.logLoss > maxLoss + slack(maxLoss)) {
    problems.push(`log loss sum is ${t.logLoss}; ${scored} scored row(s) give between 0 and ${maxLoss}`);
  }
  if (!Number.isFinite(t.brier) || t.brier < -slack(0) || t.brier > scored + slack(scored)) {
    problems.push(`Brier sum is ${t.brier}; ${scored} scored row(s) give between 0 and ${scored}`);
  }
  const rows = scored + Math.round(t.unscoredNegatives) + Math.round(t.unscoredPositives);
  if (problems.length === 0 && rows === 0) problems.push('no rows were scored');
  return problems;
}

export interface FederatedReport {
  report: ModelReport;
  /** The largest possible |AUC − exact AUC| from scores sharing a bin; NaN with one class. */
  aucResolution: number;
}

/** Every metric of the summed tallies (plausible ones: check tallyProblems first). Counts are rounded to whole numbers. */
export function federatedReport(values: ArrayLike<number>, bins: number = EVALUATION_BINS): FederatedReport {
  checkBins('federatedReport', bins);
  if (values.length !== tallyLength(bins)) throw new Error(`federatedReport: expected ${tallyLength(bins)} values, got ${values.length}`);
  const raw = readTallies(values, bins);
  const negatives = raw.negatives.map(Math.round);
  const positives = raw.positives.map(Math.round);
  const unscoredNegatives = Math.round(raw.unscoredNegatives);
  const unscoredPositives = Math.round(raw.unscoredPositives);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const P = sum(positives) + unscoredPositives;
  const N = sum(negatives) + unscoredNegatives;
  const rows = P + N;
  const half = bins / 2;
  // Scores ≥ 0.5 are bins half … bins − 1; an unscored row is predicted negative, as centrally.
  const confusion = {
    truePositives: sum(positives.slice(half)),
    falsePositives: sum(negatives.slice(half)),
    trueNegatives: sum(negatives.slice(0, half)) + unscoredNegatives,
    falseNegatives: sum(positives.slice(0, half)) + unscoredPositives,
  };
  const scored = unscoredNegatives + unscoredPositives === 0 && rows > 0;
  const bothClasses = scored && P > 0 && N > 0;

  // ROC at the bin edges, from the top: scores ≥ k/bins count as positive.
  const roc: ModelReport['roc'] = [];
  let auc = NaN;
  let ks = NaN;
  let aucResolution = NaN;
  if (bothClasses) {
    roc.push({ threshold: null, fpr: 0, tpr: 0 });
    let tp = 0;
    let fp = 0;
    let ranked = 0; // Σ pos_b · (negatives below b + ½ negatives in b)
    let below = N;
    let ties = 0;
    ks = 0;
    for (let b = bins - 1; b >= 0; b--) {
      tp += positives[b]!;
      fp += negatives[b]!;
      below -= negatives[b]!;
      ranked += positives[b]! * (below + negatives[b]! / 2);
      ties += positives[b]! * negatives[b]!;
      roc.push({ threshold: b / bins, fpr: fp / N, tpr: tp / P });
      ks = Math.max(ks, tp / P - fp / N);
    }
    auc = ranked / (P * N);
    aucResolution = ties / (2 * P * N);
  }
  const rocPoints = thin(roc, REPORT_ROC_POINTS);

  const calibration: ModelReport['calibration'] = [];
  if (scored) {
    const merge = bins / REPORT_CALIBRATION_BINS;
    for (let c = 0; c < REPORT_CALIBRATION_BINS; c++) {
      let count = 0;
      let observed = 0;
      let predicted = 0;
      for (let b = c * merge; b < (c + 1) * merge; b++) {
        count += negatives[b]! + positives[b]!;
        observed += positives[b]!;
        predicted += raw.scoreSums[b]!;
      }
      calibration.push({
        lower: c / REPORT_CALIBRATION_BINS,
        upper: (c + 1) / REPORT_CALIBRATION_BINS,
        count,
        meanPredicted: count > 0 ? predicted / count : null,
        observedRate: count > 0 ? observed / count : null,
      });
    }
  }

  return {
    report: {
      rows,
      positives: P,
      majorityRate: rows === 0 ? NaN : Math.max(P, N) / rows,
      accuracy: scored ? (confusion.truePositives + confusion.trueNegatives) / rows : NaN,
      auc,
      logLoss: scored ? raw.logLoss / rows : NaN,
      brier: scored ? raw.brier / rows : NaN,
      ks,
      confusion,
      roc: rocPoints,
      calibration,
      scoreHistogram: { positives: merge(positives, REPORT_HISTOGRAM_BINS), negatives: merge(negatives, REPORT_HISTOGRAM_BINS) },
    },
    aucResolution,
  };
}
