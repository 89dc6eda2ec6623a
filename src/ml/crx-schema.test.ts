/**
 * Checks schemas/crx.json against the data it describes: it validates, lists every value crx.names
 * declares, encodes all complete rows to 43 features, and its numeric statistics are exactly those of
 * the 522 train rows of the fixed split (no test-set leakage). Skipped when the shared data directory
 * (FEDSCORE_DATA_DIR, default ../shared/data beside the repository) is absent.
 */

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadSplit, readDataset, selectLines } from './csv.js';
import { validateDatasetSchema, type DatasetSchema } from './dataset-schema.js';
import { computeNumericStats, createEncoder, encodeDataset } from './preprocess.js';

const schemaPath = fileURLToPath(new URL('../../schemas/crx.json', import.meta.url));
const dataDir = process.env.FEDSCORE_DATA_DIR ?? fileURLToPath(new URL('../../../shared/data', import.meta.url));
const hasData = existsSync(`${dataDir}/crx.data`) && existsSync(`${dataDir}/crx.split.json`);
const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as DatasetSchema;

test('schemas/crx.json is a valid schema with 43 features', () => {
  assert.deepEqual(validateDatasetSchema(schema), []);
  const enc = createEncoder(schema);
  assert.equal(enc.size, 43);
  assert.equal(enc.featureNames[0], 'A1');
  assert.deepEqual(enc.featureNames.slice(3, 7), ['A4=u', 'A4=y', 'A4=l', 'A4=t']);
  assert.equal(schema.label.column, 'A16');
  assert.equal(schema.label.positive, '+');
});

test('schemas/crx.json matches crx.data and its train split', { skip: hasData ? false : `no data in ${dataDir}` }, () => {
  const { records, lineNumbers } = readDataset(readFileSync(`${dataDir}/crx.data`, 'utf8'), schema);
  assert.equal(records.length, 690);
  const complete = encodeDataset(schema, records, 'drop');
  assert.equal(complete.X.length, 653);
  assert.equal(complete.y.reduce((s, v) => s + v, 0), 296);

  const split = loadSplit(readFileSync(`${dataDir}/crx.split.json`, 'utf8'));
  assert.equal(split.train.length, 522);
  assert.equal(split.test.length, 131);
  const train = selectLines(records, lineNumbers, split.train);
  const recomputed = computeNumericStats(schema, train);
  assert.deepEqual(recomputed.columns, schema.columns);
  // Every declared value set covers what the file holds (encodeDataset would throw otherwise).
  encodeDataset(schema, selectLines(records, lineNumbers, split.test), 'reject');
});
