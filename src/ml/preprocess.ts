/**
 * Turns raw records into model inputs exactly as the schema says: numerics transformed (when the column
 * declares a transform, see applyTransform) then standardised with the schema's mean/std, binaries to
 * 0/1, categoricals one-hot in the declared order, ignored columns dropped. Owners, the server's
 * evaluation and the lender's encrypted prediction must all produce the same vector for the same record,
 * so this is the single encoder everyone uses.
 *
 * Two ways to meet a record that does not fit: `encode` throws a RecordError for the first problem, with
 * a message that names the column and the reason but never the value (it may end up in a log);
 * `tryEncode` returns every problem of the record, each with a message for whoever sent the record, which
 * may quote the offending value (at most 40 characters).
 */

import type { ColumnSpec, DatasetSchema, RawRecord, RawValue } from './dataset-schema.js';
import { applyTransform, featureColumns, validateDatasetSchema } from './dataset-schema.js';

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

/** What a column accepts, for a caller that wants to show or check it rather than parse a message. */
export type ExpectedValue =
  | { kind: 'number' }
  | { kind: 'one-of'; values: readonly string[] }
  /** The label of an `ignore`-typed label column: any scalar. */
  | { kind: 'scalar' }
  /** An unknown column: the keys a record may have. */
  | { kind: 'column'; columns: readonly string[] };

/** One thing wrong with one field (or key) of a record. */
export interface RecordProblem {
  /** The schema column; for 'unknown-column' the record's unknown key. */
  column: string;
  reason: RecordErrorReason;
  /**
   * Without the location, e.g. `unknown value "zz" (expected one of u, y, l, t)`, `not a number: "abc"`,
   * `missing`, `unknown column "NOPE"`. It may quote the offending value (truncated to 40 characters), so
   * it goes back only to whoever sent the record — never into a server log.
   */
  message: string;
  expected: ExpectedValue;
}

export interface EncodeAttempt {
  /** The model input, or null when the record has problems. */
  features: Float32Array | null;
  /** Every problem of the record: unknown keys first, then fields in schema order. Empty when it fits. */
  problems: RecordProblem[];
}

export interface FeatureEncoder {
  readonly featureNames: string[];
  readonly size: number;
  /** The model input for `record`; throws a RecordError (no value in its message) for the first problem. */
  encode(record: RawRecord): Float32Array;
  /** The model input, or every problem of the record. Never throws for a bad record. */
  tryEncode(record: RawRecord): EncodeAttempt;
}

// Decimal notation only: Number() would also accept "0x1f", "Infinity" and "" (as 0).
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The one reading of a raw value that every branch shares, so a value is either missing or present,
 * never both: absent, null, blank (only whitespace) and the schema's missing token are missing; anything
 * else is present, as its trimmed text, and is then matched against the column (and reported as an
 * unknown value, never as missing, when it does not match).
 */
function readValue(value: RawValue | undefined, missingToken: string): { missing: true } | { missing: false; text: string } {
  if (value === null || value === undefined) return MISSING;
  if (typeof value !== 'string') return { missing: false, text: String(value) };
  const text = value.trim();
  if (text === '' || text === missingToken || value === missingToken) return MISSING;
  return { missing: false, text };
}
const MISSING = { missing: true } as const;

/** null, undefined, '' or only whitespace, and the missing token (trimmed or not) are all "missing". */
export function isMissingValue(value: RawValue | undefined, missingToken: string): boolean {
  return readValue(value, missingToken).missing;
}

function asNumber(value: RawValue): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    const t = value.trim();
    return DECIMAL.test(t) ? Number(t) : undefined;
  }
  return undefined;
}

/** 0/1 for a binary column, or undefined when the value is neither declared value. */
function binaryIndex(values: readonly [string, string], value: RawValue, text: string): 0 | 1 | undefined {
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

const QUOTE_LIMIT = 40;
// Characters a terminal shows as nothing or as a plain space: escaped, so `"\u00a0"` is visibly not `" "`.
const INVISIBLE = /[\u007f-\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]/g;

/**
 * A value as a message may quote it: strings in double quotes with invisible characters escaped and at
 * most 40 characters (then `…`), numbers and booleans as JSON (so `5` and `"5"` differ).
 */
export function quoteValue(value: RawValue | undefined): string {
  if (typeof value !== 'string') return value === undefined ? 'nothing' : JSON.stringify(value);
  const chars = Array.from(value);
  const shown = chars.length > QUOTE_LIMIT ? chars.slice(0, QUOTE_LIMIT).join('') : value;
  const quoted = JSON.stringify(shown).replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return chars.length > QUOTE_LIMIT ? `${quoted}…` : quoted;
}

function expectedOf(column: ColumnSpec): ExpectedValue {
  switch (column.type) {
    case 'numeric':
      return { kind: 'number' };
    case 'binary':
    case 'categorical':
      return { kind: 'one-of', values: column.values };
    case 'ignore':
      return { kind: 'scalar' };
  }
}

function missingProblem(column: ColumnSpec): RecordProblem {
  return { column: column.name, reason: 'missing', message: 'missing', expected: expectedOf(column) };
}

function notANumber(name: string, reason: RecordErrorReason, value: RawValue): RecordProblem {
  return { column: name, reason, message: `not a number: ${quoteValue(value)}`, expected: { kind: 'number' } };
}

function unknownValue(name: string, reason: RecordErrorReason, values: readonly string[], value: RawValue): RecordProblem {
  return {
    column: name,
    reason,
    message: `unknown value ${quoteValue(value)} (expected one of ${describe(values)})`,
    expected: { kind: 'one-of', values },
  };
}

function unknownColumn(key: string, columns: readonly string[]): RecordProblem {
  const near = columns.find((name) => name.toLowerCase() === key.trim().toLowerCase());
  return {
    column: key,
    reason: 'unknown-column',
    message: `unknown column ${quoteValue(key)}${near === undefined ? '' : ` (did you mean ${near}?)`}`,
    expected: { kind: 'column', columns },
  };
}

/**
 * The throwing path's error for a problem. Its message names the function, the column and what was
 * expected, never the value: RecordErrors can reach logs.
 */
function recordErrorOf(fn: string, problem: RecordProblem, index?: number): RecordError {
  const { column, reason, expected } = problem;
  let text: string;
  if (reason === 'unknown-column') text = `column ${JSON.stringify(column.slice(0, 64))} is not in the schema`;
  else if (reason === 'missing') text = `column ${column} is missing`;
  else if (expected.kind === 'one-of') text = `column ${column} expected one of ${describe(expected.values)}`;
  else if (expected.kind === 'number') text = `column ${column} expected a number`;
  else text = `column ${column} expected a scalar`;
  return new RecordError(column, reason, `${fn}: ${text}`, index);
}

/** Writes the column's features into `out`, or returns why it cannot. */
type Step = (record: RawRecord, out: Float32Array) => RecordProblem | undefined;

function compileStep(column: ColumnSpec, offset: number, missingToken: string): Step {
  const name = column.name;
  switch (column.type) {
    case 'numeric': {
      const { mean, std, transform } = column;
      if (mean === undefined || std === undefined) {
        throw new Error(`createEncoder: numeric column ${name} has no mean/std; run computeNumericStats first`);
      }
      return (record, out) => {
        const v = record[name];
        if (readValue(v, missingToken).missing) return missingProblem(column);
        const x = asNumber(v as RawValue);
        if (x === undefined) return notANumber(name, 'not-a-number', v as RawValue);
        out[offset] = (applyTransform(transform, x) - mean) / std;
        return undefined;
      };
    }
    case 'binary': {
      const values = column.values;
      return (record, out) => {
        const v = record[name];
        const read = readValue(v, missingToken);
        if (read.missing) return missingProblem(column);
        const bit = binaryIndex(values, v as RawValue, read.text);
        if (bit === undefined) return unknownValue(name, 'unknown-category', values, v as RawValue);
        out[offset] = bit;
        return undefined;
      };
    }
    case 'categorical': {
      const index = new Map(column.values.map((v, i) => [v, i] as const));
      const values = column.values;
      return (record, out) => {
        const v = record[name];
        const read = readValue(v, missingToken);
        if (read.missing) return missingProblem(column);
        const k = index.get(read.text);
        if (k === undefined) return unknownValue(name, 'unknown-category', values, v as RawValue);
        out[offset + k] = 1;
        return undefined;
      };
    }
    case 'ignore':
      return () => undefined;
  }
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
    steps.push(compileStep(column, featureNames.length, schema.missingToken));
    if (column.type === 'categorical') for (const v of column.values) featureNames.push(`${column.name}=${v}`);
    else featureNames.push(column.name);
  }
  const columnNames = schema.columns.map((c) => c.name);
  const known = new Set(columnNames);
  const size = featureNames.length;
  const checkRecord = (fn: string, record: RawRecord): void => {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) throw new TypeError(`${fn}: expected a record object`);
  };
  return {
    featureNames,
    size,
    encode(record: RawRecord): Float32Array {
      checkRecord('encode', record);
      for (const key of Object.keys(record)) {
        if (!known.has(key)) throw recordErrorOf('encode', unknownColumn(key, columnNames));
      }
      const out = new Float32Array(size);
      for (const step of steps) {
        const problem = step(record, out);
        if (problem !== undefined) throw recordErrorOf('encode', problem);
      }
      return out;
    },
    tryEncode(record: RawRecord): EncodeAttempt {
      checkRecord('tryEncode', record);
      const problems: RecordProblem[] = [];
      for (const key of Object.keys(record)) {
        if (!known.has(key)) problems.push(unknownColumn(key, columnNames));
      }
      const out = new Float32Array(size);
      for (const step of steps) {
        const problem = step(record, out);
        if (problem !== undefined) problems.push(problem);
      }
      return { features: problems.length === 0 ? out : null, problems };
    },
  };
}

function labelSpec(fn: string, schema: DatasetSchema): ColumnSpec {
  const spec = schema.columns.find((c) => c.name === schema.label.column);
  if (spec === undefined) throw new Error(`${fn}: label column ${schema.label.column} is not among the columns`);
  return spec;
}

/** The record's label as 0/1, or why it has none. */
function labelOf(spec: ColumnSpec, schema: DatasetSchema, record: RawRecord): 0 | 1 | RecordProblem {
  const name = spec.name;
  const v = record[name];
  const read = readValue(v, schema.missingToken);
  if (read.missing) return missingProblem(spec);
  const value = v as RawValue;
  const positive = schema.label.positive;
  switch (spec.type) {
    case 'binary':
    case 'categorical':
      if (!spec.values.includes(read.text)) return unknownValue(name, 'bad-label', spec.values, value);
      return read.text === positive ? 1 : 0;
    case 'numeric': {
      const x = asNumber(value);
      if (x === undefined) return notANumber(name, 'bad-label', value);
      // Numerically, so that "1.0" in a file matches a declared positive of "1".
      const p = asNumber(positive);
      return p !== undefined ? (x === p ? 1 : 0) : read.text === positive ? 1 : 0;
    }
    case 'ignore':
      if (typeof value === 'object') {
        return { column: name, reason: 'bad-label', message: 'expected a single value', expected: { kind: 'scalar' } };
      }
      return read.text === positive ? 1 : 0;
  }
}

function encodeLabelWith(spec: ColumnSpec, schema: DatasetSchema, record: RawRecord): 0 | 1 {
  const label = labelOf(spec, schema, record);
  if (typeof label === 'number') return label;
  throw recordErrorOf('encodeLabel', label);
}

export function encodeLabel(schema: DatasetSchema, record: RawRecord): 0 | 1 {
  return encodeLabelWith(labelSpec('encodeLabel', schema), schema, record);
}

/** The record's label as 0/1, or the problem with it (missing, an undeclared value, not a number). */
export function tryEncodeLabel(schema: DatasetSchema, record: RawRecord): { label: 0 | 1 | null; problem: RecordProblem | null } {
  const label = labelOf(labelSpec('tryEncodeLabel', schema), schema, record);
  return typeof label === 'number' ? { label, problem: null } : { label: null, problem: label };
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

/** The column's non-missing values, transformed as the column declares (the values its mean/std describe). */
function numericValues(fn: string, schema: DatasetSchema, column: Extract<ColumnSpec, { type: 'numeric' }>, records: RawRecord[]): number[] {
  const xs: number[] = [];
  const name = column.name;
  records.forEach((record, i) => {
    const v = record[name];
    if (isMissingValue(v, schema.missingToken)) return;
    const x = asNumber(v as RawValue);
    if (x === undefined) {
      throw new RecordError(name, 'not-a-number', `${fn}: record ${i}: column ${name} expected a number`, i);
    }
    xs.push(applyTransform(column.transform, x));
  });
  return xs;
}

function numericFeatureColumns(schema: DatasetSchema): Extract<ColumnSpec, { type: 'numeric' }>[] {
  return featureColumns(schema).filter((c): c is Extract<ColumnSpec, { type: 'numeric' }> => c.type === 'numeric');
}

/**
 * A copy of the schema with mean and population std filled in for every numeric feature column — of its
 * transformed values when it declares a transform — each column skipping the records where it is missing. A constant column gets std 1 so that it
 * encodes to 0 instead of dividing by zero.
 */
export function computeNumericStats(schema: DatasetSchema, records: RawRecord[]): DatasetSchema {
  const out = structuredClone(schema);
  for (const column of numericFeatureColumns(out)) {
    const xs = numericValues('computeNumericStats', schema, column, records);
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

export interface LabelledEncoding {
  X: Float32Array[];
  y: Uint8Array;
  /** Index in `records` of each encoded row. */
  kept: number[];
  /** Every problem of the records left out (missing values included), by record index. */
  problems: { index: number; problem: RecordProblem }[];
}

/** Features and label of every record that fits the schema completely; what is wrong with the others. */
export function encodeLabelledRecords(schema: DatasetSchema, records: RawRecord[]): LabelledEncoding {
  const encoder = createEncoder(schema);
  const X: Float32Array[] = [];
  const labels: number[] = [];
  const kept: number[] = [];
  const problems: LabelledEncoding['problems'] = [];
  records.forEach((record, index) => {
    const attempt = encoder.tryEncode(record);
    const label = tryEncodeLabel(schema, record);
    if (attempt.features !== null && label.label !== null) {
      X.push(attempt.features);
      labels.push(label.label);
      kept.push(index);
      return;
    }
    for (const problem of label.problem === null ? attempt.problems : [...attempt.problems, label.problem]) problems.push({ index, problem });
  });
  return { X, y: Uint8Array.from(labels), kept, problems };
}
