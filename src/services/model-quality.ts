/**
 * Model quality on the server's side: the operator's validation set (checked when attached, encoded with
 * the federation's current standardisation when a version is scored), each version's validation report,
 * and the selection that follows from them — which version is served by default, and whether automatic
 * rounds stop early. Scoring and selection run inside the transaction that publishes a version, so a
 * version, its scores and the promotion they cause are stored together or not at all.
 */
import type { DbClient } from '../db/db-client.js';
import { setPromotedModelVersion, setTrainingStop, type FederationRecord, type TrainingStop } from '../db/federations.repository.js';
import { listModelVersions, type StoredReport } from '../db/models.repository.js';
import { findValidationSet } from '../db/validation-sets.repository.js';
import { ValidationError } from '../errors.js';
import { bestVersion, DEFAULT_SELECTION, shouldStop, type ScoredVersion, type SelectionConfig } from '../fl/model-selection.js';
import { DataFileError, readDataset } from '../ml/csv.js';
import type { DatasetSchema } from '../ml/dataset-schema.js';
import { modelReport, type ModelReport } from '../ml/model-report.js';
import { encodeLabelledRecords } from '../ml/preprocess.js';
import { withPlaceholderStatistics } from '../ml/standardisation.js';
import { predictProba } from '../ml/train.js';

export interface ValidationRows {
  X: Float32Array[];
  y: Uint8Array;
}

/** At most this many problems are listed in a refusal; the count says how many there were. */
const LISTED_PROBLEMS = 20;

/**
 * Reads and checks a validation CSV against the schema: the same layout as the owners' files (every
 * column, the label included), every feature and label valid, no missing value, both classes present.
 * Throws a ValidationError (422) listing the problems by line; returns the row and positive counts.
 */
export function checkValidationCsv(schema: DatasetSchema, csv: string, fn: string): { rows: number; positives: number } {
  // Whether a value fits never depends on the means and standard deviations, which may not exist yet.
  const rows = parseValidation(withPlaceholderStatistics(schema), csv, fn);
  const positives = rows.y.reduce((sum, label) => sum + label, 0);
  if (rows.y.length === 0) throw new ValidationError(`${fn}: the validation set has no data rows`, [{ path: 'body.csv', message: 'no data rows' }]);
  if (positives === 0 || positives === rows.y.length) {
    throw new ValidationError(`${fn}: the validation set has only ${positives === 0 ? 'negative' : 'positive'} rows (${rows.y.length}); AUC, KS and the selection rule need both classes`, [
      { path: 'body.csv', message: `one class only: ${positives} positive of ${rows.y.length}` },
    ]);
  }
  return { rows: rows.y.length, positives };
}

/** The federation's validation rows encoded for scoring, or null when it has none or no standardisation yet. */
export async function loadValidationRows(db: DbClient, federation: FederationRecord): Promise<ValidationRows | null> {
  if (federation.standardisation === null) return null;
  const set = await findValidationSet(db, federation.id);
  return set ? parseValidation(federation.datasetSchema, set.csv, 'loadValidationRows') : null;
}

export function scoreVersion(federation: FederationRecord, weights: Float32Array, rows: ValidationRows): ModelReport {
  return modelReport(predictProba(federation.modelSpec, weights, rows.X), rows.y);
}

export function selectionOf(federation: FederationRecord): SelectionConfig {
  return federation.selection ?? DEFAULT_SELECTION;
}

/**
 * After versions were scored: rule `best` promotes the best eligible version (or none), and early
 * stopping records why automatic rounds end. Returns the stop, if this call decided one.
 */
export async function applySelection(db: DbClient, federation: FederationRecord): Promise<TrainingStop | null> {
  const selection = selectionOf(federation);
  const scored = (await listModelVersions(db, federation.id)).flatMap((model) => (model.validation ? [toScored(model.version, model.validation)] : []));
  const best = bestVersion(scored, selection.metric);
  if (selection.rule === 'best' && best !== federation.promotedModelVersion) await setPromotedModelVersion(db, federation.id, best);
  if (federation.trainingStop !== null || !shouldStop(scored, selection)) return null;
  const latest = Math.max(...scored.map((s) => s.version));
  const stop: TrainingStop = { reason: 'early-stopping', atVersion: latest, bestVersion: best, metric: selection.metric, patience: selection.patience! };
  await setTrainingStop(db, federation.id, stop);
  return stop;
}

function toScored(version: number, report: StoredReport): ScoredVersion {
  const n = (value: number | null): number => value ?? NaN;
  return {
    version,
    accuracy: n(report.accuracy),
    majorityRate: n(report.majorityRate),
    metrics: { auc: n(report.auc), logLoss: n(report.logLoss), accuracy: n(report.accuracy), brier: n(report.brier), ks: n(report.ks) },
  };
}

function parseValidation(schema: DatasetSchema, csv: string, fn: string): ValidationRows {
  let records;
  try {
    records = readDataset(csv, schema);
  } catch (error) {
    if (error instanceof DataFileError) throw new ValidationError(`${fn}: the validation set does not fit the schema: ${error.detail}`, [{ path: 'body.csv', message: error.detail }]);
    throw error;
  }
  const encoded = encodeLabelledRecords(schema, records.records);
  const problems = encoded.problems.map(({ index, problem }) => `line ${records.lineNumbers[index]!}, ${problem.column}: ${problem.message}`);
  if (problems.length > 0) {
    throw new ValidationError(
      `${fn}: ${problems.length} value(s) of the validation set do not fit the schema (missing values included: validation rows must be complete)`,
      problems.slice(0, LISTED_PROBLEMS).map((message) => ({ path: 'body.csv', message })),
    );
  }
  return { X: encoded.X, y: encoded.y };
}
