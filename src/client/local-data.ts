/**
 * An owner's (or a simulation's) local data: read a CSV with its dataset schema, apply the fixed
 * train/test split, encode it exactly as the federation does, deal rows out to owners and score a model on
 * held-out rows. The records never leave this process; only model weights go to the server.
 *
 * People call these with files they typed the names of, so errors name the file and say what is wrong in
 * words (`cannot read F: no such file`, `F is not JSON: … at line 3 column 5`, `F: line 7 has 15 fields,
 * expected 16`); bad values are reported by the file's physical line, every one of them, and may quote
 * the value, since the messages stay on this machine.
 */
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { datasetSchemaSchema } from '../schemas/dataset-schema.schema.js';
import { DataFileError, fileLayouts, parseCsvRows, readDataset, selectLines, splitFromJson } from '../ml/csv.js';
import { validateDatasetSchema, type DatasetSchema, type RawRecord } from '../ml/dataset-schema.js';
import { accuracy, logLoss, rocAuc } from '../ml/metrics.js';
import type { ModelSpec } from '../ml/model-spec.js';
import {
  computeNumericStats,
  createEncoder,
  encodeLabelledRecords,
  tryEncodeLabel,
  type RecordErrorReason,
  type RecordProblem,
} from '../ml/preprocess.js';
import { withPlaceholderStatistics } from '../ml/standardisation.js';
import { predictProba } from '../ml/train.js';

/** Records with the physical line each came from, so a split file can name them. */
export interface RecordSet {
  records: RawRecord[];
  /** 1-based physical line numbers in the source file, parallel to `records`. */
  lineNumbers: number[];
  /** False when the file had no label column (only `readCsvFile(…, { label: 'optional' })` allows that). */
  withLabel?: boolean;
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

/**
 * Reads and validates a dataset schema JSON file (the same document a federation is created with).
 * Errors name the file and say what is wrong in words: `cannot read F: no such file`,
 * `F is not JSON: … at line 3 column 5`, `F is not a dataset schema: columns.3.type: expected one of …`.
 */
export async function readSchemaFile(file: string): Promise<DatasetSchema> {
  const json = parseJsonFile(file, await readTextFile(file));
  const parsed = datasetSchemaSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`${file} is not a dataset schema: ${parsed.error.issues.map(describeIssue).join('; ')}`);
  }
  const schema: DatasetSchema = parsed.data;
  const problems = validateDatasetSchema(schema);
  if (problems.length > 0) throw new Error(`${file} is not a usable dataset schema: ${problems.join('; ')}`);
  return schema;
}

/** Reads a split file: `{ train: number[], test: number[] }` of 1-based line numbers. */
export async function readSplitFile(file: string): Promise<DataSplit> {
  const json = parseJsonFile(file, await readTextFile(file));
  try {
    return splitFromJson(json);
  } catch (error) {
    if (error instanceof DataFileError) throw new Error(`${file} is not a split file: ${error.detail}`);
    throw error;
  }
}

/**
 * Reads a delimited data file as the schema describes it (delimiter, header, missing token). By default
 * every line must have every schema column (training needs labels); `label: 'optional'` also accepts a
 * file without the label column (scoring), as `readDataset` explains. Errors name the file and the line.
 */
export async function readCsvFile(file: string, schema: DatasetSchema, options: { label?: 'required' | 'optional' } = {}): Promise<RecordSet> {
  const text = await readTextFile(file);
  try {
    return readDataset(text, schema, options);
  } catch (error) {
    if (error instanceof DataFileError) throw new Error(`${file}: ${error.detail}`);
    throw error;
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

/**
 * Rows of a data file that do not fit the schema for a reason other than a missing value: every problem,
 * by physical line. The message lists the first few; `problems` has them all.
 */
export class RowProblemsError extends Error {
  constructor(readonly problems: RowProblem[]) {
    const shown = problems.slice(0, 5).map((problem) => problem.message);
    const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
    super(`${problems.length} value(s) do not fit the schema: ${shown.join('; ')}${more}`);
    this.name = 'RowProblemsError';
  }
}

/**
 * Encodes rows, dropping (and counting) any with a missing value, as the seed notebook did. Any other
 * problem (an unknown category, a non-number, an undeclared label) is a mistake in the file or the
 * schema rather than a gap in the data, so it throws a RowProblemsError listing every such value by line.
 */
export function encodeRows(schema: DatasetSchema, data: RecordSet): EncodedRows {
  const encoded = encodeLabelledRecords(schema, data.records);
  // Only missing values: the row is dropped quietly (and counted).
  const problems = encoded.problems.filter(({ problem }) => problem.reason !== 'missing').map(({ index, problem }) => rowProblem(data.lineNumbers[index] as number, problem));
  if (problems.length > 0) throw new RowProblemsError(problems);
  return { X: encoded.X, y: encoded.y, lineNumbers: encoded.kept.map((index) => data.lineNumbers[index] as number), dropped: data.records.length - encoded.X.length };
}

/**
 * Every feature value of `data` that does not fit the schema, by line, as the server's encoder would
 * refuse it (the label is not looked at): what a lender checks before sending applicants anywhere.
 */
export function featureProblems(schema: DatasetSchema, data: RecordSet): RowProblem[] {
  const encoder = createEncoder(schema);
  return data.records.flatMap((record, index) =>
    encoder.tryEncode(record).problems.map((problem) => rowProblem(data.lineNumbers[index] as number, problem)),
  );
}

/** Why a line of a data file was left out or refused. */
export type RowProblemReason = RecordErrorReason | 'field-count' | 'bad-quoting';

export interface RowProblem {
  /** 1-based physical line of the file (the header and blank lines count). */
  line: number;
  /** The column, when the problem is one field's. */
  column?: string;
  reason: RowProblemReason;
  /**
   * Ready to print: `line 3, A4: unknown value "zz" (expected one of u, y, l, t)`, `line 5, A2: not a
   * number: "abc"`, `line 7, A14: missing`, `line 9: 15 fields, expected 16`. It may quote the value (at
   * most 40 characters): keep it on the owner's machine.
   */
  message: string;
}

/** An owner's usable rows, as read, and why the others were left out. */
export interface OwnerRows {
  /** Every usable row (all values present and fitting the schema, the label included), as read. */
  records: RawRecord[];
  /** Physical line of each record. */
  lineNumbers: number[];
  /** Every problem of every left-out line, in file order (a line may have several). */
  problems: RowProblem[];
}


/**
 * Loads an owner's local training data, tolerating bad lines: `fedscore owner run --data FILE` trains on
 * what is usable and reports the rest, instead of refusing the whole file for one bad line.
 *
 * Every line of FILE (after the header, when the schema declares one) must have every schema column,
 * the label included, since owners train. A line is left out, and each of its problems reported by
 * physical line number (1-based; the header and blank lines count, as in split files), when it
 * - has the wrong number of fields (`field-count`; also a header of the wrong width),
 * - has malformed quoting (`bad-quoting`; reading resumes on the next line),
 * - has a missing value in a feature or the label (`missing`: empty, blank or the schema's missing token),
 * - has a value outside a categorical or binary column's declared values (`unknown-category`),
 * - has a value that is not a decimal number in a numeric column (`not-a-number`),
 * - has a label that is not one of the label column's values, or not a number (`bad-label`).
 * Every bad field of a line is reported, not only the first. The rows are returned as read: a federation
 * whose first round computes its statistics encodes them only afterwards (`encodeRows`).
 *
 * Throws only when FILE cannot be read (`cannot read FILE: no such file`) or when no usable row remains
 * (`FILE: no usable row: 12 lines have 15 fields (expected 16; …), 3 have missing values; first: line 1: …`).
 * Problem messages may quote values from the file; they are for the owner, not for the server.
 */
export async function loadOwnerRows(file: string, schema: DatasetSchema): Promise<OwnerRows> {
  const encoder = createEncoder(withPlaceholderStatistics(schema));
  const text = await readTextFile(file);
  const { full } = fileLayouts(schema);
  const width = full.names.length;
  const records: RawRecord[] = [];
  const lineNumbers: number[] = [];
  const problems: RowProblem[] = [];
  /** Lines (the header included) by their wrong field count, for the summary. */
  const widths = new Map<number, number>();
  const wrongWidth = (line: number, count: number, what: string): void => {
    widths.set(count, (widths.get(count) ?? 0) + 1);
    problems.push({ line, reason: 'field-count', message: `line ${line}: ${what}${count} fields, expected ${width}` });
  };
  let dataLines = 0;
  let headerPending = schema.header;
  for (const row of parseCsvRows(text, schema.delimiter, { tolerant: true })) {
    if (row.blank) continue;
    if (row.error !== undefined) {
      if (!headerPending) dataLines++;
      headerPending = false;
      problems.push({ line: row.line, reason: 'bad-quoting', message: `line ${row.line}: ${row.error}` });
      continue;
    }
    if (headerPending) {
      headerPending = false;
      if (row.fields.length !== width) wrongWidth(row.line, row.fields.length, 'the header has ');
      continue;
    }
    dataLines++;
    if (row.fields.length !== width) {
      wrongWidth(row.line, row.fields.length, '');
      continue;
    }
    const record: RawRecord = {};
    full.names.forEach((name, k) => (record[name] = row.fields[k] as string));
    const attempt = encoder.tryEncode(record);
    const label = tryEncodeLabel(schema, record);
    const found = label.problem === null ? attempt.problems : [...attempt.problems, label.problem];
    if (attempt.features === null || label.label === null) {
      for (const problem of found) problems.push(rowProblem(row.line, problem));
      continue;
    }
    records.push(record);
    lineNumbers.push(row.line);
  }
  if (records.length === 0) throw new Error(`${file}: no usable row: ${summariseProblems(problems, widths, dataLines, width, schema)}`);
  return { records, lineNumbers, problems };
}

function rowProblem(line: number, problem: RecordProblem): RowProblem {
  // Only records built by hand can have an unknown column: a file's columns come from the schema.
  const where = problem.reason === 'unknown-column' ? `line ${line}` : `line ${line}, ${problem.column}`;
  return { line, column: problem.column, reason: problem.reason, message: `${where}: ${problem.message}` };
}

/** "12 lines have 15 fields (expected 16 …), 3 have a missing value, …; first: line 1: …" */
function summariseProblems(problems: RowProblem[], fieldCounts: Map<number, number>, dataLines: number, width: number, schema: DatasetSchema): string {
  if (dataLines === 0) return 'the file has no data lines';
  const linesBy = new Map<string, Set<number>>();
  for (const problem of problems) {
    const lines = linesBy.get(problem.reason) ?? new Set<number>();
    lines.add(problem.line);
    linesBy.set(problem.reason, lines);
  }
  const parts: string[] = [];
  if (fieldCounts.size > 0) {
    const counts = [...fieldCounts].sort((a, b) => b[1] - a[1]);
    const hint = counts.some(([count]) => count === width - 1) ? `; owners train, so the label column ${schema.label.column} is required` : '';
    const listed = counts.map(([count, lines], i) => `${lines} ${i === 0 ? plural(lines, 'line has', 'lines have') : plural(lines, 'has', 'have')} ${count} ${plural(count, 'field', 'fields')}`);
    parts.push(`${listed.join(', ')} (expected ${width}${hint})`);
  }
  const wording: [RowProblemReason, string, string][] = [
    ['missing', 'has a missing value', 'have missing values'],
    ['unknown-category', 'has an unknown value', 'have unknown values'],
    ['not-a-number', 'has a value that is not a number', 'have values that are not numbers'],
    ['bad-label', 'has an unusable label', 'have unusable labels'],
    ['bad-quoting', 'has malformed quoting', 'have malformed quoting'],
  ];
  for (const [reason, one, many] of wording) {
    const lines = linesBy.get(reason)?.size ?? 0;
    if (lines > 0) parts.push(`${lines} ${parts.length === 0 ? plural(lines, 'line', 'lines') + ' ' : ''}${plural(lines, one, many)}`);
  }
  return `${parts.join(', ')}; first: ${problems[0]?.message ?? 'none'}`;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
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

async function readTextFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${describeReadError(error)}`);
  }
}

/** What went wrong reading a file, in words: `no such file`, `permission denied`, `is a directory`, … */
export function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files';
    case 'EIO':
      return 'input/output error';
    default: {
      const message = error instanceof Error ? error.message : String(error);
      // Node's text repeats the code and the path: "EBUSY: resource busy or locked, open '/x'".
      return message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
    }
  }
}

/** JSON.parse with an error that names the file and the line and column of the mistake. */
function parseJsonFile(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${describeJsonError(text, error as Error)}`);
  }
}

/**
 * V8's JSON message without its echo of the text, with the place as line and column. V8 gives an offset
 * for some mistakes and none for others (`Unexpected token '}', "…" is not valid JSON`), so the place
 * comes from `jsonErrorOffset`, which follows the same grammar.
 */
export function describeJsonError(text: string, error: Error): string {
  const what = error.message
    .replace(/^(Unexpected token '.*?'), [\s\S]* is not valid JSON$/, '$1')
    .replace(/ (?:in JSON )?at position \d+[\s\S]*$/, '')
    .replace(/ \(line \d+ column \d+\)$/, '');
  const reported = /at position (\d+)/.exec(error.message);
  const offset = jsonErrorOffset(text) ?? (reported ? Number(reported[1]) : undefined);
  if (offset === undefined) return what;
  const before = text.slice(0, offset);
  const line = countChar(before, '\n') + 1;
  const column = offset - (before.lastIndexOf('\n') + 1) + 1;
  return `${what} at line ${line} column ${column}`;
}

function countChar(text: string, char: string): number {
  let count = 0;
  for (let k = text.indexOf(char); k !== -1; k = text.indexOf(char, k + 1)) count++;
  return count;
}

/** Offset of the first character that breaks RFC 8259 JSON (text.length for a premature end), or undefined if none does. */
export function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const n = text.length;
  class Stop {
    constructor(readonly at: number) {}
  }
  const stop = (at = i): never => {
    throw new Stop(at);
  };
  const space = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const digits = () => {
    const start = i;
    while (i < n && text[i]! >= '0' && text[i]! <= '9') i++;
    if (i === start) stop();
  };
  const literal = (word: string) => {
    for (const c of word) {
      if (text[i] !== c) stop();
      i++;
    }
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= n) stop();
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c < 0x20) stop();
      if (c === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) stop(i + 1);
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          i += 2;
        } else {
          stop(i + 1);
        }
      } else {
        i++;
      }
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      space();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        space();
        if (text[i] !== '"') stop();
        string();
        space();
        if (text[i] !== ':') stop();
        i++;
        value();
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        stop();
      }
    }
    if (c === '[') {
      i++;
      space();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        space();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        stop();
      }
    }
    if (c === '"') return string();
    if (c === 't') return literal('true');
    if (c === 'f') return literal('false');
    if (c === 'n') return literal('null');
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      if (c === '-') i++;
      if (text[i] === '0') i++;
      else digits();
      if (text[i] === '.') {
        i++;
        digits();
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        digits();
      }
      return;
    }
    stop();
  };
  try {
    value();
    space();
    return i < n ? i : undefined;
  } catch (error) {
    if (error instanceof Stop) return error.at;
    throw error;
  }
}

/** A zod issue in words: `columns.3.type: expected one of numeric, binary, categorical, ignore`. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length === 0 ? 'top level' : issue.path.join('.');
  if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options)) {
    return `${where}: expected one of ${issue.options.join(', ')}`;
  }
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown ${plural(issue.keys.length, 'key', 'keys')} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`;
  }
  if (issue.code === 'invalid_type') {
    const received = /received (\w+)/.exec(issue.message)?.[1];
    if (received === 'undefined') return `${where}: missing (expected ${article(issue.expected)})`;
    return `${where}: expected ${article(issue.expected)}${received === undefined ? '' : `, got ${article(received)}`}`;
  }
  return `${where}: ${issue.message}`;
}

function article(kind: string): string {
  if (kind === 'null' || kind === 'undefined') return kind;
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}
