/**
 * A model version's quality on labelled rows, as stored with the version and served by the API: the
 * headline metrics a lender's model-risk review asks for, the confusion counts at the 0.5 decision
 * threshold, and the curve points (ROC, reliability, score distribution per class) a console draws.
 */
import { accuracy, brierScore, calibrationCurve, ksStatistic, logLoss, rocAuc, rocCurve, scoreBin, type CalibrationBin } from './metrics.js';

export const REPORT_ROC_POINTS = 101;
export const REPORT_CALIBRATION_BINS = 10;
export const REPORT_HISTOGRAM_BINS = 20;

export interface ModelReport {
  rows: number;
  positives: number;
  /** Accuracy of always predicting the more common class: the floor any served model must beat. */
  majorityRate: number;
  accuracy: number;
  auc: number;
  logLoss: number;
  brier: number;
  ks: number;
  /** At threshold 0.5. */
  confusion: { truePositives: number; falsePositives: number; trueNegatives: number; falseNegatives: number };
  /** At most REPORT_ROC_POINTS points from (0, 0) to (1, 1); thresholds are scores, the first +∞ shown as null. */
  roc: { threshold: number | null; fpr: number; tpr: number }[];
  calibration: CalibrationBin[];
  /** Counts of scores per equal-width bin of [0, 1], per class. */
  scoreHistogram: { positives: number[]; negatives: number[] };
}

/** Every metric of `probs` against labels `y` (0/1). NaN metrics (one class only) are kept as NaN. */
export function modelReport(probs: ArrayLike<number>, y: ArrayLike<number>): ModelReport {
  const rows = y.length;
  let positives = 0;
  const confusion = { truePositives: 0, falsePositives: 0, trueNegatives: 0, falseNegatives: 0 };
  const histogram = { positives: new Array<number>(REPORT_HISTOGRAM_BINS).fill(0), negatives: new Array<number>(REPORT_HISTOGRAM_BINS).fill(0) };
  for (let i = 0; i < rows; i++) {
    const label = y[i] as number;
    const p = probs[i] as number;
    positives += label;
    const predicted = p >= 0.5;
    if (label === 1) predicted ? confusion.truePositives++ : confusion.falseNegatives++;
    else predicted ? confusion.falsePositives++ : confusion.trueNegatives++;
    if (Number.isFinite(p)) {
      const bin = scoreBin(p, REPORT_HISTOGRAM_BINS);
      (label === 1 ? histogram.positives : histogram.negatives)[bin]!++;
    }
  }
  return {
    rows,
    positives,
    majorityRate: rows === 0 ? NaN : Math.max(positives, rows - positives) / rows,
    accuracy: accuracy(probs, y),
    auc: rocAuc(probs, y),
    logLoss: logLoss(probs, y),
    brier: brierScore(probs, y),
    ks: ksStatistic(probs, y),
    confusion,
    roc: thin(rocCurve(probs, y), REPORT_ROC_POINTS).map((point) => ({ threshold: Number.isFinite(point.threshold) ? point.threshold : null, fpr: point.fpr, tpr: point.tpr })),
    calibration: calibrationCurve(probs, y, REPORT_CALIBRATION_BINS),
    scoreHistogram: histogram,
  };
}

/** At most `limit` items, always keeping the first and the last, evenly spaced by index in between. */
export function thin<T>(items: T[], limit: number): T[] {
  if (items.length <= limit) return items;
  const out: T[] = [];
  for (let k = 0; k < limit; k++) out.push(items[Math.round((k * (items.length - 1)) / (limit - 1))]!);
  return out;
}
