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
}

const QUOTE = 34; // "
const LF = 10;
const CR = 13;

/** Like `parseCsv` but keeps each record's starting line. */
export function parseCsvRows(text: string, delimiter: string): CsvRow[] {
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
    while (!ended) {
      if (i < n && text.charCodeAt(i) === QUOTE) {
        const fieldLine = line;
        let value = '';
        i++;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q === -1) throw new Error(`parseCsv: unterminated quoted field starting on line ${fieldLine}`);
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
          throw new Error(`parseCsv: expected a delimiter or line end after a closing quote on line ${line}`);
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
    if (row.fields.length === 1 && row.fields[0] === '' && text.charCodeAt(rowStart) !== QUOTE) row.blank = true;
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

/**
 * Maps each data line to a record keyed by the schema's column names, by position. Values stay raw
 * strings (the missing token included) so that the encoder is the one place deciding what they mean.
 * Empty lines are skipped; they still count for line numbers.
 */
export function readDataset(text: string, schema: DatasetSchema): { records: RawRecord[]; lineNumbers: number[] } {
  const names = schema.columns.map((c) => c.name);
  const rows = parseCsvRows(text, schema.delimiter);
  const records: RawRecord[] = [];
  const lineNumbers: number[] = [];
  let headerPending = schema.header;
  for (const row of rows) {
    if (row.blank) continue;
    if (row.fields.length !== names.length) {
      const what = headerPending ? `header line ${row.line}` : `line ${row.line}`;
      throw new Error(`readDataset: ${what} has ${row.fields.length} fields, expected ${names.length}`);
    }
    if (headerPending) {
      headerPending = false;
      continue;
    }
    const record: RawRecord = {};
    for (let k = 0; k < names.length; k++) record[names[k] as string] = row.fields[k] as string;
    records.push(record);
    lineNumbers.push(row.line);
  }
  return { records, lineNumbers };
}

/** Reads a split file (`{"train": [...], "test": [...]}` of 1-based line numbers) and checks it. */
export function loadSplit(json: string): { train: number[]; test: number[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new Error(`loadSplit: expected JSON, got a parse error (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object') throw new Error('loadSplit: expected an object with train and test arrays');
  const obj = parsed as Record<string, unknown>;
  const seen = new Map<number, string>();
  const read = (key: 'train' | 'test'): number[] => {
    const arr = obj[key];
    if (!Array.isArray(arr)) throw new Error(`loadSplit: expected "${key}" to be an array of line numbers`);
    for (const v of arr) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
        throw new Error(`loadSplit: "${key}" expected positive integer line numbers, got ${JSON.stringify(v)}`);
      }
      const previous = seen.get(v);
      if (previous !== undefined) throw new Error(`loadSplit: line ${v} appears twice (in ${previous} and ${key})`);
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
