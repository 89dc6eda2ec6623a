/**
 * Tests for delimited-text reading. Line numbers are load-bearing (every reported figure uses the
 * line-numbered crx split), so they are checked with headers, blank lines and multi-line quoted fields.
 */

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DatasetSchema } from './dataset-schema.js';
import { DataFileError, loadSplit, parseCsv, parseCsvRows, readDataset, selectLines } from './csv.js';

test('parseCsv: plain fields, LF and CRLF, trailing newline', () => {
  assert.deepEqual(parseCsv('a,b,c\n1,2,3\n', ','), [
    ['a', 'b', 'c'],
    ['1', '2', '3'],
  ]);
  assert.deepEqual(parseCsv('a,b\r\n1,2\r\n', ','), [
    ['a', 'b'],
    ['1', '2'],
  ]);
  assert.deepEqual(parseCsv('a,b\n1,2', ','), [
    ['a', 'b'],
    ['1', '2'],
  ]);
  assert.deepEqual(parseCsv('', ','), []);
});

test('parseCsv: empty fields and empty lines', () => {
  assert.deepEqual(parseCsv(',x,\n', ','), [['', 'x', '']]);
  assert.deepEqual(parseCsv('a\n\nb\n', ','), [['a'], [''], ['b']]);
});

test('parseCsv: RFC 4180 quoting', () => {
  const text = '"a,1","say ""hi""",plain\n"multi\nline",""," x "\r\n';
  assert.deepEqual(parseCsv(text, ','), [
    ['a,1', 'say "hi"', 'plain'],
    ['multi\nline', '', ' x '],
  ]);
});

test('parseCsv: other delimiters and a byte-order mark', () => {
  assert.deepEqual(parseCsv('\ufeffa;b\n1;2\n', ';'), [
    ['a', 'b'],
    ['1', '2'],
  ]);
  assert.deepEqual(parseCsv('a\tb\n', '\t'), [['a', 'b']]);
});

test('parseCsv: malformed quoting names the line', () => {
  assert.throws(() => parseCsv('a,b\n"open,c\n', ','), /parseCsv: unterminated quoted field starting on line 2/);
  assert.throws(() => parseCsv('a\n"x"y,z\n', ','), /parseCsv: expected a delimiter or line end after a closing quote on line 2/);
  assert.throws(() => parseCsv('a', '"'), /parseCsv: expected a single-character delimiter/);
});

test('parseCsvRows: records remember the line they start on', () => {
  const rows = parseCsvRows('a,"b\nc"\nd,e\n\nf,g\n', ',');
  assert.deepEqual(
    rows.map((r) => [r.line, r.blank]),
    [
      [1, false],
      [3, false],
      [4, true],
      [5, false],
    ],
  );
});

const schema: DatasetSchema = {
  columns: [
    { name: 'id', type: 'ignore' },
    { name: 'x', type: 'numeric', mean: 0, std: 1 },
    { name: 'y', type: 'binary', values: ['no', 'yes'] },
  ],
  label: { column: 'y', positive: 'yes' },
  missingToken: '?',
  delimiter: ',',
  header: true,
};

test('readDataset: header skipped, records keyed by schema names, physical line numbers', () => {
  const text = 'ID,X,Y\r\n1,0.5,yes\r\n\r\n2,?,no\r\n';
  const { records, lineNumbers } = readDataset(text, schema);
  assert.deepEqual(records, [
    { id: '1', x: '0.5', y: 'yes' },
    { id: '2', x: '?', y: 'no' },
  ]);
  assert.deepEqual(lineNumbers, [2, 4]);
});

test('readDataset: without header the first line is data', () => {
  const { records, lineNumbers } = readDataset('1,2,no\n3,4,yes\n', { ...schema, header: false });
  assert.equal(records.length, 2);
  assert.deepEqual(lineNumbers, [1, 2]);
});

test('readDataset: a wrong field count names the line', () => {
  assert.throws(() => readDataset('id,x,y\n1,2,no\n3,4\n', schema), /readDataset: line 3 has 2 fields, expected 3/);
  assert.throws(() => readDataset('id,x\n1,2,no\n', schema), /readDataset: header line 1 has 2 fields, expected 3/);
});

test('readDataset: strict by default, the error carries the line and a detail without the function name', () => {
  assert.throws(
    () => readDataset('1,2\n', { ...schema, header: false }),
    (err: unknown) => err instanceof DataFileError && err.line === 1 && err.detail === 'line 1 has 2 fields, expected 3',
  );
});

test('readDataset, label optional: a file with or without the label column, decided by its first line', () => {
  const bare = { ...schema, header: false };
  const without = readDataset('1,0.5\n\n2,?\n', bare, { label: 'optional' });
  assert.deepEqual(without, { records: [{ id: '1', x: '0.5' }, { id: '2', x: '?' }], lineNumbers: [1, 3], withLabel: false });
  const withLabel = readDataset('1,0.5,yes\n2,?,no\n', bare, { label: 'optional' });
  assert.deepEqual(withLabel.records, [{ id: '1', x: '0.5', y: 'yes' }, { id: '2', x: '?', y: 'no' }]);
  assert.equal(withLabel.withLabel, true);
  // With a header, the header decides.
  assert.equal(readDataset('ID,X\n1,2\n', schema, { label: 'optional' }).withLabel, false);
  assert.deepEqual(readDataset('', bare, { label: 'optional' }), { records: [], lineNumbers: [], withLabel: false });
  assert.equal(readDataset('1,2,no\n', bare).withLabel, true);
});

test('readDataset, label optional: a file mixing both layouts, or with neither, names the line', () => {
  const bare = { ...schema, header: false };
  assert.throws(
    () => readDataset('1,0.5\n2,0.1\n3,4,yes\n', bare, { label: 'optional' }),
    (err: unknown) =>
      err instanceof DataFileError &&
      err.line === 3 &&
      err.detail === 'line 3 has 3 fields (with the label y) but line 1 has 2 (without the label y); a file has the label column on every line or on none',
  );
  assert.throws(() => readDataset('ID,X,Y\n1,2\n', schema, { label: 'optional' }), /line 2 has 2 fields \(without the label y\) but header line 1 has 3 \(with the label y\)/);
  assert.throws(
    () => readDataset('1\n', bare, { label: 'optional' }),
    /readDataset: line 1 has 1 fields, expected 3 \(every column\) or 2 \(every column but the label y\)/,
  );
  assert.throws(() => readDataset('1,2\n3,4,yes,x\n', bare, { label: 'optional' }), /readDataset: line 2 has 4 fields, expected 2$/);
});

test('parseCsvRows, tolerant: a malformed record is marked and reading resumes on the next line', () => {
  const rows = parseCsvRows('a,b\n"x"y,z\nc,d\n"open,e\nf,g\n', ',', { tolerant: true });
  assert.deepEqual(
    rows.map((r) => [r.line, r.error ?? null, r.error === undefined ? r.fields : null]),
    [
      [1, null, ['a', 'b']],
      [2, 'expected a delimiter or line end after a closing quote on line 2', null],
      [3, null, ['c', 'd']],
      [4, 'unterminated quoted field starting on line 4', null],
      [5, null, ['f', 'g']],
    ],
  );
  assert.throws(() => parseCsvRows('"open\n', ','), (err: unknown) => err instanceof DataFileError && err.line === 1);
});

test('loadSplit: reads train and test, rejects bad or overlapping lines', () => {
  assert.deepEqual(loadSplit('{"description":"d","train":[1,3],"test":[2]}'), { train: [1, 3], test: [2] });
  assert.throws(() => loadSplit('{"train":[1],"test":[1]}'), /loadSplit: line 1 appears twice \(in train and test\)/);
  assert.throws(() => loadSplit('{"train":[0],"test":[]}'), /loadSplit: "train" expected positive integer line numbers, got 0/);
  assert.throws(() => loadSplit('{"train":[1]}'), /loadSplit: expected "test" to be an array/);
  assert.throws(() => loadSplit('nope'), /loadSplit: expected JSON/);
});

test('selectLines: keeps the order of the wanted lines, throws on an absent line', () => {
  const rows = ['a', 'b', 'c'];
  const lines = [2, 4, 5];
  assert.deepEqual(selectLines(rows, lines, [5, 2]), ['c', 'a']);
  assert.throws(() => selectLines(rows, lines, [3]), /selectLines: line 3 is not a data line/);
  assert.throws(() => selectLines(rows, [1], [1]), /selectLines: expected as many line numbers as rows/);
});
