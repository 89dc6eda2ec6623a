/**
 * Local data handling on the real crx files: the split must pick exactly its rows, encoding must drop
 * exactly the incomplete ones, standardisation must come from training rows only, and sharding must deal
 * rows out round-robin so that simulated owners are reproducible.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DatasetSchema } from '../ml/dataset-schema.js';
import { initialWeights } from '../ml/model-spec.js';
import { createEncoder } from '../ml/preprocess.js';
import {
  applySplit,
  describeJsonError,
  describeReadError,
  encodeRows,
  ensureNumericStats,
  evaluate,
  featureProblems,
  lacksNumericStats,
  loadOwnerRows,
  readCsvFile,
  readSchemaFile,
  readSplitFile,
  RowProblemsError,
  shardRows,
} from './local-data.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
const crxData = path.join(sharedData, 'crx.data');
const crxSplit = path.join(sharedData, 'crx.split.json');
const crxSchemaFile = path.join(repoRoot, 'schemas', 'crx.json');

async function loadCrx() {
  const schema = await readSchemaFile(crxSchemaFile);
  const all = await readCsvFile(crxData, schema);
  const split = await readSplitFile(crxSplit);
  return { schema, all, split };
}

function withoutStats(schema: DatasetSchema): DatasetSchema {
  return {
    ...schema,
    columns: schema.columns.map((column) => (column.type === 'numeric' ? { name: column.name, type: 'numeric' } : column)),
  };
}

describe('crx loading and splitting', () => {
  it('reads 690 records and splits them 522/131 with nothing dropped', async () => {
    const { schema, all, split } = await loadCrx();
    assert.equal(all.records.length, 690);
    const { train, test } = applySplit(all, split);
    assert.deepEqual(train.lineNumbers, split.train);
    assert.ok(test);
    assert.deepEqual(test.lineNumbers, split.test);
    const encodedTrain = encodeRows(schema, train);
    const encodedTest = encodeRows(schema, test);
    assert.equal(encodedTrain.X.length, 522);
    assert.equal(encodedTest.X.length, 131);
    assert.equal(encodedTrain.dropped + encodedTest.dropped, 0);
    assert.equal(encodedTrain.X[0]!.length, 43);
  });

  it('without a split keeps every row for training and drops the 37 incomplete ones', async () => {
    const { schema, all } = await loadCrx();
    const { train, test } = applySplit(all);
    assert.equal(test, null);
    const encoded = encodeRows(schema, train);
    assert.equal(encoded.X.length, 653);
    assert.equal(encoded.dropped, 37);
    assert.equal(encoded.lineNumbers.length, 653);
    assert.equal(encoded.lineNumbers.includes(72), false, 'crx.data line 72 has a missing A14');
    assert.equal(encoded.lineNumbers.includes(71), true);
  });

  it('refuses a split naming lines the data file does not have', async () => {
    const { all } = await loadCrx();
    assert.throws(() => applySplit(all, { train: [1, 2, 691], test: [3] }), /train names 1 line\(s\) absent.*first 691/);
  });

  it('computes standardisation from the training rows only, matching the shipped schema', async () => {
    const { schema, all, split } = await loadCrx();
    const stripped = withoutStats(schema);
    assert.equal(lacksNumericStats(stripped), true);
    const { train } = applySplit(all, split);
    const { schema: computed, computed: wasComputed } = ensureNumericStats(stripped, train.records);
    assert.equal(wasComputed, true);
    for (const [i, column] of schema.columns.entries()) {
      const got = computed.columns[i]!;
      if (column.type !== 'numeric' || got.type !== 'numeric') continue;
      assert.ok(Math.abs(got.mean! - column.mean!) < 1e-9 * Math.abs(column.mean!), `${column.name} mean`);
      assert.ok(Math.abs(got.std! - column.std!) < 1e-9 * column.std!, `${column.name} std`);
    }
    assert.equal(ensureNumericStats(schema, train.records).computed, false);
  });

});

describe('file errors name the file and say what is wrong in words', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fedscore-local-data-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const message = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      return (error as Error).message;
    }
    assert.fail('expected a rejection');
  };

  it('cannot read: no such file, is a directory, permission denied', async () => {
    assert.equal(await message(readSchemaFile('/nonexistent/schema.json')), 'cannot read /nonexistent/schema.json: no such file');
    assert.equal(await message(readCsvFile('/x/crx.data', {} as DatasetSchema)), 'cannot read /x/crx.data: no such file');
    assert.equal(await message(readSplitFile(dir)), `cannot read ${dir}: is a directory`);
    // Tests may run as root, whom no file mode stops, so the errno mapping is checked directly.
    assert.equal(describeReadError(Object.assign(new Error('EACCES: permission denied, open \'/x\''), { code: 'EACCES' })), 'permission denied');
    assert.equal(describeReadError(Object.assign(new Error('ENOTDIR: not a directory, open \'/x\''), { code: 'ENOTDIR' })), 'a part of the path is not a directory');
    assert.equal(describeReadError(Object.assign(new Error('EBUSY: resource busy or locked, open \'/x\''), { code: 'EBUSY' })), 'resource busy or locked');
  });

  it('not JSON: the parser\'s reason at a line and column', async () => {
    const broken = await write('broken.json', '{\n  "columns": [\n    x\n  ]\n}\n');
    assert.equal(await message(readSchemaFile(broken)), `${broken} is not JSON: Unexpected token 'x' at line 3 column 5`);
    const trailing = await write('trailing.json', '{"train": [1],\n "test": [2],\n}');
    assert.equal(await message(readSplitFile(trailing)), `${trailing} is not JSON: Expected double-quoted property name at line 3 column 1`);
    const cut = (text: string) => {
      try {
        JSON.parse(text);
      } catch (error) {
        return describeJsonError(text, error as Error);
      }
      return 'parsed';
    };
    assert.equal(cut(''), 'Unexpected end of JSON input at line 1 column 1');
    assert.equal(cut('{"a": 1}\n\n  }'), 'Unexpected non-whitespace character after JSON at line 3 column 3');
    assert.equal(cut('[1, 2\n'), "Expected ',' or ']' after array element at line 2 column 1");
    assert.equal(cut('{"a": "b\tc"}'), 'Bad control character in string literal at line 1 column 9');
  });

  it('not a dataset schema: each zod issue by path, in words', async () => {
    const schema = JSON.parse(await readFile(crxSchemaFile, 'utf8'));
    schema.columns[3].type = 'category';
    const badType = await write('x.json', JSON.stringify(schema, null, 2));
    assert.equal(await message(readSchemaFile(badType)), `${badType} is not a dataset schema: columns.3.type: expected one of numeric, binary, categorical, ignore`);
    assert.equal(
      await message(readSchemaFile(crxSplit)),
      `${crxSplit} is not a dataset schema: columns: missing (expected an array); label: missing (expected an object); top level: unknown keys "train", "test"`,
    );
    schema.columns[3].type = 'categorical';
    schema.columns[1].mean = '3';
    const badMean = await write('mean.json', JSON.stringify(schema));
    assert.equal(await message(readSchemaFile(badMean)), `${badMean} is not a dataset schema: columns.1.mean: expected a number, got a string`);
    schema.columns[1].mean = 3;
    schema.label.column = 'A99';
    const inconsistent = await write('label.json', JSON.stringify(schema));
    assert.equal(await message(readSchemaFile(inconsistent)), `${inconsistent} is not a usable dataset schema: label column A99 is not among the columns`);
  });

  it('not a split file, and a data line of the wrong width', async () => {
    assert.equal(await message(readSplitFile(crxSchemaFile)), `${crxSchemaFile} is not a split file: expected "train" to be an array of line numbers`);
    const overlap = await write('overlap.json', '{"train": [1, 2], "test": [2]}');
    assert.equal(await message(readSplitFile(overlap)), `${overlap} is not a split file: line 2 appears twice (in train and test)`);
    const schema = await readSchemaFile(crxSchemaFile);
    const short = await write('short.data', 'b,30.83,0,u,g,w,v,1.25,t,t,01,f,g,00202,0\n');
    assert.equal(await message(readCsvFile(short, schema)), `${short}: line 1 has 15 fields, expected 16`);
    assert.deepEqual((await readCsvFile(short, schema, { label: 'optional' })).withLabel, false);
  });
});

describe('encodeRows', () => {
  it('drops rows with missing values and lists every other bad value by line', async () => {
    const { schema } = await loadCrx();
    const lines = [
      'b,30.83,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,+',
      'b,?,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,+',
      'b,30.83,0,zz,g,w,v,1.25,t,t,01,f,g,?,0,+',
      'b,abc,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,x',
    ];
    const records = lines.map((line) => Object.fromEntries(schema.columns.map((c, i) => [c.name, line.split(',')[i]!])));
    const ok = encodeRows(schema, { records: records.slice(0, 2), lineNumbers: [10, 11] });
    assert.deepEqual([ok.X.length, ok.dropped, ok.lineNumbers], [1, 1, [10]]);
    assert.throws(
      () => encodeRows(schema, { records, lineNumbers: [10, 11, 12, 14] }),
      (error: unknown) => {
        assert.ok(error instanceof RowProblemsError);
        assert.deepEqual(error.problems.map((p) => p.message), [
          'line 12, A4: unknown value "zz" (expected one of u, y, l, t)',
          'line 14, A2: not a number: "abc"',
          'line 14, A16: unknown value "x" (expected one of -, +)',
        ]);
        assert.match(error.message, /^3 value\(s\) do not fit the schema: line 12, A4: unknown value "zz"/);
        return true;
      },
    );
  });
});

describe('featureProblems', () => {
  it('lists every feature value that does not fit, by line, ignoring the label', async () => {
    const { schema } = await loadCrx();
    const base = Object.fromEntries(schema.columns.map((c, i) => [c.name, 'b,30.83,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,+'.split(',')[i]!]));
    const { A16: _label, ...unlabelled } = base;
    const records = [base, { ...unlabelled, A4: 'zz', A14: '?' }, { ...base, A16: 'not a label', NOPE: '1' }];
    assert.deepEqual(
      featureProblems(schema, { records, lineNumbers: [1, 3, 4] }).map((p) => [p.line, p.column, p.reason, p.message]),
      [
        [3, 'A4', 'unknown-category', 'line 3, A4: unknown value "zz" (expected one of u, y, l, t)'],
        [3, 'A14', 'missing', 'line 3, A14: missing'],
        [4, 'NOPE', 'unknown-column', 'line 4: unknown column "NOPE"'],
      ],
    );
  });
});

describe('loadOwnerRows', () => {
  let dir: string;
  let schema: DatasetSchema;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fedscore-owner-rows-'));
    schema = await readSchemaFile(crxSchemaFile);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const GOOD = 'b,30.83,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,+';
  const NEGATIVE = 'a,58.67,4.46,u,g,q,h,3.04,t,t,06,f,g,00043,560,-';
  /** GOOD with some fields replaced, by column name. */
  const withValues = (values: Record<string, string>) =>
    GOOD.split(',')
      .map((value, i) => values[schema.columns[i]!.name] ?? value)
      .join(',');
  const fileWith = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };

  it('keeps the usable rows and reports every bad field of every other line, by physical line', async () => {
    const text = [
      GOOD, // 1
      '', // 2: blank lines are skipped but counted
      GOOD.split(',').slice(0, 15).join(','), // 3: no label column
      withValues({ A2: '?', A14: '' }), // 4: two missing values
      withValues({ A4: 'zz', A2: 'abc', A9: 'maybe' }), // 5: three bad fields
      withValues({ A16: 'x' }), // 6: unusable label
      withValues({ A16: '?' }), // 7: missing label
      '"b"x,30.83', // 8: malformed quoting
      NEGATIVE, // 9
      `${GOOD},extra`, // 10: too many fields
    ].join('\n');
    const rows = await loadOwnerRows(await fileWith('owner.csv', text), schema);
    assert.deepEqual(rows.lineNumbers, [1, 9]);
    const recordOf = (line: string) => Object.fromEntries(schema.columns.map((c, i) => [c.name, line.split(',')[i]!]));
    assert.deepEqual(rows.records, [recordOf(GOOD), recordOf(NEGATIVE)]);
    const encoded = encodeRows(schema, rows);
    assert.deepEqual(Array.from(encoded.y), [1, 0]);
    const encoder = createEncoder(schema);
    assert.deepEqual(encoded.X, [encoder.encode(recordOf(GOOD)), encoder.encode(recordOf(NEGATIVE))]);
    assert.deepEqual(
      rows.problems.map((p) => [p.line, p.column ?? null, p.reason, p.message]),
      [
        [3, null, 'field-count', 'line 3: 15 fields, expected 16'],
        [4, 'A2', 'missing', 'line 4, A2: missing'],
        [4, 'A14', 'missing', 'line 4, A14: missing'],
        [5, 'A2', 'not-a-number', 'line 5, A2: not a number: "abc"'],
        [5, 'A4', 'unknown-category', 'line 5, A4: unknown value "zz" (expected one of u, y, l, t)'],
        [5, 'A9', 'unknown-category', 'line 5, A9: unknown value "maybe" (expected one of f, t)'],
        [6, 'A16', 'bad-label', 'line 6, A16: unknown value "x" (expected one of -, +)'],
        [7, 'A16', 'missing', 'line 7, A16: missing'],
        [8, null, 'bad-quoting', 'line 8: expected a delimiter or line end after a closing quote on line 8'],
        [10, null, 'field-count', 'line 10: 17 fields, expected 16'],
      ],
    );
  });

  it('skips the header the schema declares, and reports one of the wrong width', async () => {
    const header = { ...schema, header: true };
    const names = schema.columns.map((c) => c.name).join(',');
    const ok = await loadOwnerRows(await fileWith('header.csv', `${names}\n${GOOD}\n`), header);
    assert.deepEqual([ok.lineNumbers, ok.problems], [[2], []]);
    const bad = await loadOwnerRows(await fileWith('short-header.csv', `A1,A2\n${GOOD}\n`), header);
    assert.deepEqual(bad.lineNumbers, [2]);
    assert.deepEqual(bad.problems.map((p) => p.message), ['line 1: the header has 2 fields, expected 16']);
  });

  it('throws, naming the file and summarising why, when no usable row remains', async () => {
    const noLabels = Array.from({ length: 12 }, () => GOOD.split(',').slice(0, 15).join(','));
    const missing = [withValues({ A2: '?' }), withValues({ A14: '?', A4: 'zz' }), withValues({ A1: '' })];
    const file = await fileWith('unusable.csv', [...noLabels, ...missing, withValues({ A16: '1' })].join('\n'));
    await assert.rejects(
      loadOwnerRows(file, schema),
      (error: Error) => {
        assert.equal(
          error.message,
          `${file}: no usable row: 12 lines have 15 fields (expected 16; owners train, so the label column A16 is required), ` +
            '3 have missing values, 1 has an unknown value, 1 has an unusable label; first: line 1: 15 fields, expected 16',
        );
        return true;
      },
    );
    const numbers = await fileWith('numbers.csv', `${withValues({ A2: 'x' })}\n${withValues({ A3: '1.5.5' })}\n`);
    await assert.rejects(loadOwnerRows(numbers, schema), { message: `${numbers}: no usable row: 2 lines have values that are not numbers; first: line 1, A2: not a number: "x"` });
    const quoting = await fileWith('quoting.csv', '"b,30\n');
    await assert.rejects(loadOwnerRows(quoting, schema), { message: `${quoting}: no usable row: 1 line has malformed quoting; first: line 1: unterminated quoted field starting on line 1` });
    const empty = await fileWith('empty.csv', '\n\n');
    await assert.rejects(loadOwnerRows(empty, schema), { message: `${empty}: no usable row: the file has no data lines` });
  });

  it('throws for an unreadable file', async () => {
    await assert.rejects(loadOwnerRows(path.join(dir, 'absent.csv'), schema), { message: `cannot read ${path.join(dir, 'absent.csv')}: no such file` });
    await assert.rejects(loadOwnerRows(dir, schema), { message: `cannot read ${dir}: is a directory` });
  });

  it('checks the values of a schema whose statistics the federation has yet to compute', async () => {
    const pending = { ...schema, columns: schema.columns.map((c) => (c.type === 'numeric' ? { name: c.name, type: 'numeric' as const, range: [0, 100] as [number, number] } : c)) };
    const rows = await loadOwnerRows(await fileWith('pending.csv', [GOOD, withValues({ A2: 'abc' }), NEGATIVE].join('\n')), pending);
    assert.deepEqual(rows.lineNumbers, [1, 3]);
    assert.deepEqual(rows.problems.map((p) => p.message), ['line 2, A2: not a number: "abc"']);
    assert.throws(() => encodeRows(pending, rows), /has no mean\/std/, 'encoding waits for the statistics');
  });

  it('reads all of crx.data: 653 usable rows, the 37 incomplete ones reported as missing values', async () => {
    const rows = await loadOwnerRows(crxData, schema);
    assert.equal(rows.records.length, 653);
    assert.equal(new Set(rows.problems.map((p) => p.line)).size, 37);
    assert.ok(rows.problems.every((p) => p.reason === 'missing'));
    assert.ok(rows.problems.some((p) => p.message === 'line 72, A14: missing'));
  });
});

describe('shardRows', () => {
  const rows = (n: number) => ({
    X: Array.from({ length: n }, (_, i) => Float32Array.of(i)),
    y: Uint8Array.from({ length: n }, (_, i) => i % 2),
  });

  it('gives one row per owner by default', () => {
    const shards = shardRows(rows(5));
    assert.equal(shards.length, 5);
    shards.forEach((shard, i) => {
      assert.deepEqual(shard.X.map((x) => x[0]), [i]);
      assert.deepEqual([...shard.y], [i % 2]);
    });
  });

  it('deals rows round-robin with sizes differing by at most one', () => {
    const shards = shardRows(rows(10), 3);
    assert.deepEqual(
      shards.map((shard) => shard.X.map((x) => x[0])),
      [
        [0, 3, 6, 9],
        [1, 4, 7],
        [2, 5, 8],
      ],
    );
    assert.deepEqual(
      shards.map((shard) => [...shard.y]),
      [
        [0, 1, 0, 1],
        [1, 0, 1],
        [0, 1, 0],
      ],
    );
  });

  it('refuses more owners than rows, and non-positive owner counts', () => {
    assert.throws(() => shardRows(rows(3), 4), /at most one owner per row, got 4 owners for 3 rows/);
    assert.throws(() => shardRows(rows(3), 0), /positive whole number of owners, got 0/);
    assert.throws(() => shardRows(rows(3), 1.5), /positive whole number of owners, got 1.5/);
  });
});

describe('evaluate', () => {
  it('scores the all-zero logistic model as a coin: AUC 0.5, log loss ln 2', async () => {
    const { schema, all, split } = await loadCrx();
    const test = encodeRows(schema, applySplit(all, split).test!);
    const spec = { kind: 'logreg' } as const;
    const score = evaluate(spec, initialWeights(spec, 43, 1), test.X, test.y);
    const positives = test.y.reduce((sum, label) => sum + label, 0);
    assert.equal(score.n, 131);
    assert.equal(score.auc, 0.5);
    assert.ok(Math.abs(score.logLoss - Math.LN2) < 1e-6);
    // p = 0.5 counts as positive at the 0.5 threshold
    assert.equal(score.accuracy, positives / 131);
  });

  it('refuses an empty evaluation set', () => {
    assert.throws(() => evaluate({ kind: 'logreg' }, new Float32Array(2), [], new Uint8Array(0)), /at least one row/);
  });
});
