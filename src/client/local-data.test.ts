/**
 * Local data handling on the real crx files: the split must pick exactly its rows, encoding must drop
 * exactly the incomplete ones, standardisation must come from training rows only, and sharding must deal
 * rows out round-robin so that simulated owners are reproducible.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DatasetSchema } from '../ml/dataset-schema.js';
import { initialWeights } from '../ml/model-spec.js';
import {
  applySplit,
  encodeRows,
  ensureNumericStats,
  evaluate,
  lacksNumericStats,
  readCsvFile,
  readSchemaFile,
  readSplitFile,
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

  it('reports unreadable files with the path and the error code', async () => {
    await assert.rejects(readSchemaFile('/nonexistent/schema.json'), /readSchemaFile: cannot read \/nonexistent\/schema.json: ENOENT/);
    await assert.rejects(readSplitFile(crxData), /readSplitFile: .*crx.data: loadSplit: expected JSON/);
  });

  it('rejects a schema file that breaks the wire contract', async () => {
    await assert.rejects(readSchemaFile(crxSplit), /readSchemaFile: .* is not a dataset schema: columns/);
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
