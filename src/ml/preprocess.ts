/**
 * Turns raw records into model inputs exactly as the schema says: numerics standardised with the
 * schema's mean/std, binaries to 0/1, categoricals one-hot in the declared order, ignored columns
 * dropped. Owners, the server's evaluation and the lender's encrypted prediction must all produce the
 * same vector for the same record, so this is the single encoder everyone uses. Errors name the column
 * and the reason but never echo the applicant's value.
 */

import type { ColumnSpec, DatasetSchema, RawRecord, RawValue } from './dataset-schema.js';
import { featureColumns, validateDatasetSchema } from './dataset-schema.js';

export type RecordErrorReason = 'missing' | 'unknown-category' | 'not-a-number' | 'unknown-column' | 'bad-label';

export class RecordError extends Error {
  readonly column: string;
  readonly reason: RecordErrorReason;
  /** Index of the offending record when the error comes from a whole-dataset operation. */
  readonly index?: number;

  constructor(column: string, reason: RecordErrorReason, message: string, index?: number) {
    super(message);
    this.name = 'RecordError';
    this.column = column;
    this.reason = reason;
    if (index !== undefined) this.index = index;
  }
}

export interface FeatureEncoder {
  readonly featureNames: string[];
  readonly size: number;
  encode(record: RawRecord): Float32Array;
}

// Decimal notation only: Number() would also accept "0x1f", "Infinity" and "" (as 0).
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** null, undefined, '' (after trimming) and the missing token are all "missing". */
export function isMissingValue(value: RawValue | undefined, missingToken: string): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value !== 'string') return false;
  const t = value.trim();
  return t === '' || t === missingToken || value === missingToken;
}

function asNumber(value: RawValue): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    const t = value.trim();
    return DECIMAL.test(t) ? Number(t) : undefined;
  }
  return undefined;
}

function asText(value: RawValue): string {
  return typeof value === 'string' ? value.trim() : String(value);
}

/** 0/1 for a binary column, or undefined when the value is neither declared value. */
function binaryIndex(values: readonly [string, string], value: RawValue): 0 | 1 | undefined {
  const text = asText(value);
  if (text === values[0]) return 0;
  if (text === values[1]) return 1;
  // JSON clients naturally send booleans for yes/no columns whatever the file spells them as.
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

function describe(values: readonly string[]): string {
  const shown = values.slice(0, 20).join(', ');
  return values.length > 20 ? `${shown}, … (${values.length} values)` : shown;
}

type Step = (record: RawRecord, out: Float32Array) => void;

function compileStep(fn: string, column: ColumnSpec, offset: number, missingToken: string): Step {
  const name = column.name;
  const missing = (): RecordError => new RecordError(name, 'missing', `${fn}: column ${name} is missing`);
  switch (column.type) {
    case 'numeric': {
      const { mean, std } = column;
      if (mean === undefined || std === undefined) {
        throw new Error(`createEncoder: numeric column ${name} has no mean/std; run computeNumericStats first`);
      }
      return (record, out) => {
        const v = record[name];
        if (isMissingValue(v, missingToken)) throw missing();
        const x = asNumber(v as RawValue);
        if (x === undefined) throw new RecordError(name, 'not-a-number', `${fn}: column ${name} expected a number`);
        out[offset] = (x - mean) / std;
      };
    }
    case 'binary': {
      const values = column.values;
      return (record, out) => {
        const v = record[name];
        if (isMissingValue(v, missingToken)) throw missing();
        const bit = binaryIndex(values, v as RawValue);
        if (bit === undefined) {
          throw new RecordError(name, 'unknown-category', `${fn}: column ${name} expected one of ${describe(values)}`);
        }
        out[offset] = bit;
      };
    }
    case 'categorical': {
      const index = new Map(column.values.map((v, i) => [v, i] as const));
      const values = column.values;
      return (record, out) => {
        const v = record[name];
        if (isMissingValue(v, missingToken)) throw missing();
        const k = index.get(asText(v as RawValue));
        if (k === undefined) {
          throw new RecordError(name, 'unknown-category', `${fn}: column ${name} expected one of ${describe(values)}`);
        }
        out[offset + k] = 1;
      };
    }
    case 'ignore':
      return () => {};
  }
}

function featureWidth(column: ColumnSpec): number {
  return column.type === 'categorical' ? column.values.length : column.type === 'ignore' ? 0 : 1;
}

function assertValidSchema(fn: string, schema: DatasetSchema): void {
  const problems = validateDatasetSchema(schema);
  if (problems.length > 0) throw new Error(`${fn}: invalid dataset schema: ${problems.join('; ')}`);
}

export function createEncoder(schema: DatasetSchema): FeatureEncoder {
  assertValidSchema('createEncoder', schema);
  const features = featureColumns(schema);
  const featureNames: string[] = [];
  const steps: Step[] = [];
  for (const column of features) {
    steps.push(compileStep('encode', column, featureNames.length, schema.missingToken));
    if (column.type === 'categorical') for (const v of column.values) featureNames.push(`${column.name}=${v}`);
    else featureNames.push(column.name);
  }
  const known = new Set(schema.columns.map((c) => c.name));
  const size = featureNames.length;
  return {
    featureNames,
    size,
    encode(record: RawRecord): Float32Array {
      if (record === null || typeof record !== 'object') throw new TypeError('encode: expected a record object');
      for (const key of Object.keys(record)) {
        if (!known.has(key)) {
          throw new RecordError(key, 'unknown-column', `encode: column ${JSON.stringify(key.slice(0, 64))} is not in the schema`);
        }
      }
      const out = new Float32Array(size);
      for (const step of steps) step(record, out);
      return out;
    },
  };
}

function labelSpec(fn: string, schema: DatasetSchema): ColumnSpec {
  const spec = schema.columns.find((c) => c.name === schema.label.column);
  if (spec === undefined) throw new Error(`${fn}: label column ${schema.label.column} is not among the columns`);
  return spec;
}

function encodeLabelWith(spec: ColumnSpec, schema: DatasetSchema, record: RawRecord): 0 | 1 {
  const name = spec.name;
  const v = record[name];
  if (isMissingValue(v, schema.missingToken)) throw new RecordError(name, 'missing', `encodeLabel: column ${name} is missing`);
  const value = v as RawValue;
  const positive = schema.label.positive;
  switch (spec.type) {
    case 'binary':
    case 'categorical': {
      const text = asText(value);
      if (!spec.values.includes(text)) {
        throw new RecordError(name, 'bad-label', `encodeLabel: column ${name} expected one of ${describe(spec.values)}`);
      }
      return text === positive ? 1 : 0;
    }
    case 'numeric': {
      const x = asNumber(value);
      if (x === undefined) throw new RecordError(name, 'bad-label', `encodeLabel: column ${name} expected a number`);
      // Numerically, so that "1.0" in a file matches a declared positive of "1".
      const p = asNumber(positive);
      return p !== undefined ? (x === p ? 1 : 0) : asText(value) === positive ? 1 : 0;
    }
    case 'ignore': {
      if (typeof value === 'object') throw new RecordError(name, 'bad-label', `encodeLabel: column ${name} expected a scalar`);
      return asText(value) === positive ? 1 : 0;
    }
  }
}

export function encodeLabel(schema: DatasetSchema, record: RawRecord): 0 | 1 {
  return encodeLabelWith(labelSpec('encodeLabel', schema), schema, record);
}

/** Names of the feature and label columns that are missing in a record, in schema order. */
export function missingColumns(schema: DatasetSchema, record: RawRecord): string[] {
  const names: string[] = [];
  for (const c of schema.columns) {
    if (c.type === 'ignore' && c.name !== schema.label.column) continue;
    if (isMissingValue(record[c.name], schema.missingToken)) names.push(c.name);
  }
  return names;
}

/**
 * Encodes features and labels. `onMissing` governs only missing values (in a feature or the label):
 * 'drop' skips such records, 'reject' throws. Any other problem (unknown category, non-number, unknown
 * column, bad label) always throws, because silently dropping malformed data hides schema mistakes.
 * Thrown RecordErrors carry the record's index.
 */
export function encodeDataset(
  schema: DatasetSchema,
  records: RawRecord[],
  onMissing: 'drop' | 'reject',
): { X: Float32Array[]; y: Uint8Array; kept: number[] } {
  const encoder = createEncoder(schema);
  const spec = labelSpec('encodeDataset', schema);
  const X: Float32Array[] = [];
  const labels: number[] = [];
  const kept: number[] = [];
  records.forEach((record, i) => {
    if (onMissing === 'drop' && missingColumns(schema, record).length > 0) return;
    try {
      X.push(encoder.encode(record));
      labels.push(encodeLabelWith(spec, schema, record));
    } catch (err) {
      if (err instanceof RecordError) {
        throw new RecordError(err.column, err.reason, `encodeDataset: record ${i}: ${err.message}`, i);
      }
      throw err;
    }
    kept.push(i);
  });
  return { X, y: Uint8Array.from(labels), kept };
}

export interface NumericMoments {
  count: number;
  sum: number;
  sumOfSquares: number;
}

function numericValues(fn: string, schema: DatasetSchema, column: string, records: RawRecord[]): number[] {
  const xs: number[] = [];
  records.forEach((record, i) => {
    const v = record[column];
    if (isMissingValue(v, schema.missingToken)) return;
    const x = asNumber(v as RawValue);
    if (x === undefined) {
      throw new RecordError(column, 'not-a-number', `${fn}: record ${i}: column ${column} expected a number`, i);
    }
    xs.push(x);
  });
  return xs;
}

function numericFeatureColumns(schema: DatasetSchema): Extract<ColumnSpec, { type: 'numeric' }>[] {
  return featureColumns(schema).filter((c): c is Extract<ColumnSpec, { type: 'numeric' }> => c.type === 'numeric');
}

/**
 * A copy of the schema with mean and population std filled in for every numeric feature column,
 * each column skipping the records where it is missing. A constant column gets std 1 so that it
 * encodes to 0 instead of dividing by zero.
 */
export function computeNumericStats(schema: DatasetSchema, records: RawRecord[]): DatasetSchema {
  const out = structuredClone(schema);
  for (const column of numericFeatureColumns(out)) {
    const xs = numericValues('computeNumericStats', schema, column.name, records);
    if (xs.length === 0) throw new Error(`computeNumericStats: column ${column.name} has no non-missing values`);
    // Two passes: the textbook Σx² − n·mean² loses digits on columns like crx's A15 (values up to 1e5).
    let sum = 0;
    for (const x of xs) sum += x;
    const mean = sum / xs.length;
    let ss = 0;
    for (const x of xs) ss += (x - mean) * (x - mean);
    const std = Math.sqrt(ss / xs.length);
    column.mean = mean;
    column.std = std > 0 ? std : 1;
  }
  return out;
}

/**
 * Per-column (count, Σx, Σx²) of the numeric feature columns: what an owner contributes to federated
 * standardisation, where the server only ever sees the sum over owners.
 */
export function numericMoments(schema: DatasetSchema, records: RawRecord[]): Record<string, NumericMoments> {
  const out: Record<string, NumericMoments> = {};
  for (const column of numericFeatureColumns(schema)) {
    const xs = numericValues('numericMoments', schema, column.name, records);
    let sum = 0;
    let sumOfSquares = 0;
    for (const x of xs) {
      sum += x;
      sumOfSquares += x * x;
    }
    out[column.name] = { count: xs.length, sum, sumOfSquares };
  }
  return out;
}

/** A copy of the schema with mean/std taken from summed moments (population std; 0 -> 1). */
export function applyNumericMoments(schema: DatasetSchema, moments: Record<string, NumericMoments>): DatasetSchema {
  const out = structuredClone(schema);
  for (const column of numericFeatureColumns(out)) {
    const m = moments[column.name];
    if (m === undefined || !(m.count > 0)) {
      throw new Error(`applyNumericMoments: column ${column.name} expected a positive count, got ${m?.count ?? 'none'}`);
    }
    const mean = m.sum / m.count;
    const variance = m.sumOfSquares / m.count - mean * mean;
    // Σx² − n·mean² of a constant column leaves rounding noise, not a real spread.
    const std = variance > 1e-12 * Math.max(1, mean * mean) ? Math.sqrt(variance) : 0;
    column.mean = mean;
    column.std = std > 0 ? std : 1;
  }
  return out;
}
