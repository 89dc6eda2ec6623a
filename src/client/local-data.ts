/**
 * An owner's (or a simulation's) local data: read a CSV with its dataset schema, apply the fixed
 * train/test split, encode it exactly as the federation does, deal rows out to owners and score a model on
 * held-out rows. The records never leave this process; only model weights go to the server.
 */
import { readFile } from 'node:fs/promises';
import { datasetSchemaSchema } from '../schemas/dataset-schema.schema.js';
import { loadSplit, readDataset, selectLines } from '../ml/csv.js';
import { validateDatasetSchema, type DatasetSchema, type RawRecord } from '../ml/dataset-schema.js';
import { accuracy, logLoss, rocAuc } from '../ml/metrics.js';
import type { ModelSpec } from '../ml/model-spec.js';
import { computeNumericStats, encodeDataset } from '../ml/preprocess.js';
import { predictProba } from '../ml/train.js';

/** Records with the physical line each came from, so a split file can name them. */
export interface RecordSet {
  records: RawRecord[];
  /** 1-based physical line numbers in the source file, parallel to `records`. */
  lineNumbers: number[];
}

export interface DataSplit {
  train: number[];
  test: number[];
}

/** Encoded rows ready for training or scoring. */
export interface EncodedRows {
  X: Float32Array[];
  y: Uint8Array;
  /** Source line of each kept row. */
  lineNumbers: number[];
  /** Rows left out because a value was missing. */
  dropped: number;
}

export interface Shard {
  X: Float32Array[];
  y: Uint8Array;
}

export interface Evaluation {
  accuracy: number;
  auc: number;
  logLoss: number;
  n: number;
}

/** Reads and validates a dataset schema JSON file (the same document a federation is created with). */
export async function readSchemaFile(file: string): Promise<DatasetSchema> {
  const text = await readTextFile(file, 'readSchemaFile');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`readSchemaFile: ${file} is not JSON: ${(error as Error).message}`);
  }
  const parsed = datasetSchemaSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`readSchemaFile: ${file} is not a dataset schema: ${issues.join('; ')}`);
  }
  const schema: DatasetSchema = parsed.data;
  const problems = validateDatasetSchema(schema);
  if (problems.length > 0) throw new Error(`readSchemaFile: ${file} is inconsistent: ${problems.join('; ')}`);
  return schema;
}

/** Reads a split file: `{ train: number[], test: number[] }` of 1-based line numbers. */
export async function readSplitFile(file: string): Promise<DataSplit> {
  const text = await readTextFile(file, 'readSplitFile');
  try {
    return loadSplit(text);
  } catch (error) {
    throw new Error(`readSplitFile: ${file}: ${(error as Error).message}`);
  }
}

/** Reads a delimited data file as the schema describes it (delimiter, header, missing token). */
export async function readCsvFile(file: string, schema: DatasetSchema): Promise<RecordSet> {
  const text = await readTextFile(file, 'readCsvFile');
  try {
    return readDataset(text, schema);
  } catch (error) {
    throw new Error(`readCsvFile: ${file}: ${(error as Error).message}`);
  }
}

/**
 * Picks the split's train and test rows. Without a split every row is a training row and `test` is null,
 * so callers must say plainly that they report training metrics.
 */
export function applySplit(data: RecordSet, split?: DataSplit): { train: RecordSet; test: RecordSet | null } {
  if (split === undefined) return { train: data, test: null };
  return { train: pickLines(data, split.train, 'train'), test: pickLines(data, split.test, 'test') };
}

function pickLines(data: RecordSet, wanted: number[], part: string): RecordSet {
  const available = new Set(data.lineNumbers);
  const missing = wanted.filter((line) => !available.has(line));
  if (missing.length > 0) {
    throw new Error(
      `applySplit: ${part} names ${missing.length} line(s) absent from the data file, first ${missing[0]}; is it the right file?`,
    );
  }
  return {
    records: selectLines(data.records, data.lineNumbers, wanted),
    lineNumbers: selectLines(data.lineNumbers, data.lineNumbers, wanted),
  };
}

/** True when some numeric column has no standardisation mean or std yet. */
export function lacksNumericStats(schema: DatasetSchema): boolean {
  return schema.columns.some((column) => column.type === 'numeric' && (column.mean === undefined || column.std === undefined));
}

/**
 * Fills missing standardisation statistics from `records` (the training rows only, so test rows never
 * leak into preprocessing). A schema that already has them is returned unchanged.
 */
export function ensureNumericStats(schema: DatasetSchema, records: RawRecord[]): { schema: DatasetSchema; computed: boolean } {
  if (!lacksNumericStats(schema)) return { schema, computed: false };
  return { schema: computeNumericStats(schema, records), computed: true };
}

/** Encodes rows, dropping (and counting) any with a missing value, as the seed notebook did. */
export function encodeRows(schema: DatasetSchema, data: RecordSet): EncodedRows {
  const { X, y, kept } = encodeDataset(schema, data.records, 'drop');
  return {
    X,
    y,
    lineNumbers: kept.map((index) => data.lineNumbers[index] as number),
    dropped: data.records.length - kept.length,
  };
}

/**
 * Deals rows out to `owners` shards round-robin (row i goes to owner i mod owners), so every owner gets
 * rows from across the file and shard sizes differ by at most one. The default is one row per owner,
 * the seed notebook's one virtual worker per applicant.
 */
export function shardRows(data: Shard, owners: number = data.X.length): Shard[] {
  const rows = data.X.length;
  if (data.y.length !== rows) throw new Error(`shardRows: expected one label per row, got ${data.y.length} labels for ${rows} rows`);
  if (!Number.isInteger(owners) || owners < 1) throw new Error(`shardRows: expected a positive whole number of owners, got ${owners}`);
  if (owners > rows) throw new Error(`shardRows: expected at most one owner per row, got ${owners} owners for ${rows} rows`);
  const shards: { X: Float32Array[]; labels: number[] }[] = Array.from({ length: owners }, () => ({ X: [], labels: [] }));
  for (let row = 0; row < rows; row++) {
    const shard = shards[row % owners]!;
    shard.X.push(data.X[row]!);
    shard.labels.push(data.y[row]!);
  }
  return shards.map((shard) => ({ X: shard.X, y: Uint8Array.from(shard.labels) }));
}

/** Scores `weights` on labelled rows: accuracy at 0.5, ROC AUC and mean log loss. */
export function evaluate(spec: ModelSpec, weights: Float32Array, X: Float32Array[], y: Uint8Array): Evaluation {
  if (X.length === 0) throw new Error('evaluate: expected at least one row, got 0');
  if (y.length !== X.length) throw new Error(`evaluate: expected one label per row, got ${y.length} for ${X.length} rows`);
  const probs = predictProba(spec, weights, X);
  return { accuracy: accuracy(probs, y), auc: rocAuc(probs, y), logLoss: logLoss(probs, y), n: X.length };
}

async function readTextFile(file: string, fn: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`${fn}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
