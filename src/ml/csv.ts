/**
 * Delimited-text reading for data owners' files and the reference splits. A small RFC 4180 parser
 * (quoted fields, doubled quotes, \n or \r\n) that remembers the physical line each record starts on,
 * because every accuracy figure in the project is quoted on a split defined by 1-based line numbers of
 * the data file (crx.split.json).
 */

import type { DatasetSchema, RawRecord } from './dataset-schema.js';

export interface CsvRow {
  fields: string[];
  /** 1-based physical line the record starts on. */
  line: number;
  /** True for an empty physical line (no characters at all). */
  blank: boolean;
  /** Only with `tolerant`: why the record is malformed (its fields are then incomplete). */
  error?: string;
}

/**
 * A data or split file whose text is wrong, at a physical line when there is one. `message` names the
 * function (for callers deep in a library); `detail` is the same without it, for messages that name the
 * file instead.
 */
export class DataFileError extends Error {
  constructor(
    fn: string,
    readonly detail: string,
    readonly line?: number,
  ) {
    super(`${fn}: ${detail}`);
    this.name = 'DataFileError';
  }
}

const QUOTE = 34; // "
const LF = 10;
const CR = 13;

/**
 * Like `parseCsv` but keeps each record's starting line. Malformed quoting throws a DataFileError; with
 * `tolerant` the record is returned with an `error` instead and reading resumes on the next physical
 * line, so one stray quote costs one record rather than the file.
 */
export function parseCsvRows(text: string, delimiter: string, options: { tolerant?: boolean } = {}): CsvRow[] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new Error(`parseCsv: expected a single-character delimiter other than a quote or newline, got ${JSON.stringify(delimiter)}`);
  }
  const delim = delimiter.charCodeAt(0);
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a byte-order mark is not data
  let line = 1;
  const rows: CsvRow[] = [];

  while (i < n) {
    const row: CsvRow = { fields: [], line, blank: false };
    const rowStart = i;
    // One iteration per field; `ended` says whether the record is complete.
    let ended = false;
    /** Gives up on this record: throws, or (tolerant) marks it and skips to the line after `from`. */
    const malformed = (detail: string, errorLine: number, from: number): void => {
      if (!options.tolerant) throw new DataFileError('parseCsv', detail, errorLine);
      row.error = detail;
      const next = text.indexOf('\n', from);
      i = next === -1 ? n : next + 1;
      line = errorLine + 1;
      ended = true;
    };
    while (!ended) {
      if (i < n && text.charCodeAt(i) === QUOTE) {
        const fieldLine = line;
        const fieldStart = i;
        let value = '';
        let closed = true;
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q === -1) {
            closed = false;
            break;
          }
          const chunk = text.slice(i, q);
          line += countNewlines(chunk);
          value += chunk;
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        if (!closed) {
          malformed(`unterminated quoted field starting on line ${fieldLine}`, fieldLine, fieldStart);
          break;
        }
        row.fields.push(value);
        const c = i < n ? text.charCodeAt(i) : -1;
        if (c === delim) {
          i++;
        } else if (c === -1) {
          ended = true;
        } else if (c === LF) {
          i++;
          line++;
          ended = true;
        } else if (c === CR && text.charCodeAt(i + 1) === LF) {
          i += 2;
          line++;
          ended = true;
        } else {
          malformed(`expected a delimiter or line end after a closing quote on line ${line}`, line, i);
        }
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === delim || c === LF) break;
          j++;
        }
        let end = j;
        if (j < n && text.charCodeAt(j) === LF && end > i && text.charCodeAt(end - 1) === CR) end--;
        row.fields.push(text.slice(i, end));
        if (j >= n) {
          i = n;
          ended = true;
        } else if (text.charCodeAt(j) === delim) {
          i = j + 1;
        } else {
          i = j + 1;
          line++;
          ended = true;
        }
      }
    }
    if (row.error === undefined && row.fields.length === 1 && row.fields[0] === '' && text.charCodeAt(rowStart) !== QUOTE) row.blank = true;
    rows.push(row);
  }
  return rows;
}

function countNewlines(s: string): number {
  let count = 0;
  for (let k = s.indexOf('\n'); k !== -1; k = s.indexOf('\n', k + 1)) count++;
  return count;
}

/** RFC 4180 records; a trailing line end does not make an extra record, an empty line makes `[""]`. */
export function parseCsv(text: string, delimiter: string): string[][] {
  return parseCsvRows(text, delimiter).map((r) => r.fields);
}

/** The two layouts a data file may have: every schema column, or every column but the label. */
export interface FileLayout {
  /** Column names in file order. */
  names: string[];
  withLabel: boolean;
}

/** The schema's columns with and without the label column, in file order. */
export function fileLayouts(schema: DatasetSchema): { full: FileLayout; unlabelled: FileLayout } {
  const names = schema.columns.map((c) => c.name);
  return {
    full: { names, withLabel: true },
    unlabelled: { names: names.filter((name) => name !== schema.label.column), withLabel: false },
  };
}

/**
 * Maps each data line to a record keyed by the schema's column names, by position. Values stay raw
 * strings (the missing token included) so that the encoder is the one place deciding what they mean.
 * Empty lines are skipped; they still count for line numbers.
 *
 * `label: 'required'` (the default, for training) wants every schema column on every line. With
 * `label: 'optional'` (for scoring) a file may also leave the label column out: the header, or the first
 * data line without a header, decides which, and every other line must agree. Records of a file without
 * the label column have no label key. Throws a DataFileError naming the line for a wrong field count.
 */
export function readDataset(
  text: string,
  schema: DatasetSchema,
  options: { label?: 'required' | 'optional' } = {},
): { records: RawRecord[]; lineNumbers: number[]; withLabel: boolean } {
  const { full, unlabelled } = fileLayouts(schema);
  const optional = options.label === 'optional';
  const rows = parseCsvRows(text, schema.delimiter);
  const records: RawRecord[] = [];
  const lineNumbers: number[] = [];
  let layout: FileLayout | undefined = optional ? undefined : full;
  let decidedBy = '';
  let headerPending = schema.header;
  for (const row of rows) {
    if (row.blank) continue;
    const what = headerPending ? `header line ${row.line}` : `line ${row.line}`;
    const count = row.fields.length;
    if (layout === undefined) {
      layout = count === full.names.length ? full : count === unlabelled.names.length ? unlabelled : undefined;
      if (layout === undefined) {
        throw new DataFileError(
          'readDataset',
          `${what} has ${count} fields, expected ${full.names.length} (every column) or ${unlabelled.names.length} (every column but the label ${schema.label.column})`,
          row.line,
        );
      }
      decidedBy = what;
    } else if (count !== layout.names.length) {
      const other = layout === full ? unlabelled : full;
      const detail =
        optional && count === other.names.length
          ? `${what} has ${count} fields (${describeLayout(other, schema)}) but ${decidedBy} has ${layout.names.length} (${describeLayout(layout, schema)}); ` +
            'a file has the label column on every line or on none'
          : `${what} has ${count} fields, expected ${layout.names.length}`;
      throw new DataFileError('readDataset', detail, row.line);
    }
    if (headerPending) {
      headerPending = false;
      continue;
    }
    const names = layout.names;
    const record: RawRecord = {};
    for (let k = 0; k < names.length; k++) record[names[k] as string] = row.fields[k] as string;
    records.push(record);
    lineNumbers.push(row.line);
  }
  return { records, lineNumbers, withLabel: layout?.withLabel ?? !optional };
}

function describeLayout(layout: FileLayout, schema: DatasetSchema): string {
  return layout.withLabel ? `with the label ${schema.label.column}` : `without the label ${schema.label.column}`;
}

/** Reads a split file (`{"train": [...], "test": [...]}` of 1-based line numbers) and checks it. */
export function loadSplit(json: string): { train: number[]; test: number[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new DataFileError('loadSplit', `expected JSON, got a parse error (${(err as Error).message})`);
  }
  return splitFromJson(parsed);
}

/** Checks an already parsed split document; throws a DataFileError saying what is wrong. */
export function splitFromJson(parsed: unknown): { train: number[]; test: number[] } {
  const fail = (detail: string): never => {
    throw new DataFileError('loadSplit', detail);
  };
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) fail('expected an object with train and test arrays');
  const obj = parsed as Record<string, unknown>;
  const seen = new Map<number, string>();
  const read = (key: 'train' | 'test'): number[] => {
    const arr = obj[key];
    if (!Array.isArray(arr)) return fail(`expected "${key}" to be an array of line numbers`);
    for (const v of arr) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
        fail(`"${key}" expected positive integer line numbers, got ${JSON.stringify(v)}`);
      }
      const previous = seen.get(v);
      if (previous !== undefined) fail(`line ${v} appears twice (in ${previous} and ${key})`);
      seen.set(v, key);
    }
    return arr as number[];
  };
  return { train: [...read('train')], test: [...read('test')] };
}

/** Picks rows by line number, in the order of `wanted`. */
export function selectLines<T>(rows: T[], lineNumbers: number[], wanted: number[]): T[] {
  if (rows.length !== lineNumbers.length) {
    throw new Error(`selectLines: expected as many line numbers as rows, got ${lineNumbers.length} for ${rows.length}`);
  }
  const index = new Map<number, number>();
  lineNumbers.forEach((line, i) => index.set(line, i));
  return wanted.map((line) => {
    const i = index.get(line);
    if (i === undefined) throw new Error(`selectLines: line ${line} is not a data line`);
    return rows[i] as T;
  });
}
