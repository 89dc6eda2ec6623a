/**
 * Encrypted prediction end to end through the client SDK: models trained federatedly over HTTP, then every
 * row of the crx test split scored under CKKS and compared with the plain endpoint's scores — logits within
 * 5e-3, no decision at 0.5 flipped — for logistic regression and for a polynomial (x²) MLP.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { scoreEncrypted } from '../../src/client/encrypted-scoring.js';
import { FedscoreClient } from '../../src/client/http-client.js';
import { applySplit, encodeRows, readCsvFile, readSchemaFile, readSplitFile, shardRows, type RecordSet } from '../../src/client/local-data.js';
import { runSimulation } from '../../src/client/simulation.js';
import { loadConfig } from '../../src/config.js';
import type { ModelSpec } from '../../src/ml/model-spec.js';
import { initTf } from '../../src/ml/tf.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
import { startServer } from '../../src/server.js';
import { createTestDatabase } from '../helpers/database.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');

let server: { url: string; close(): Promise<void> };
let cleanup: () => Promise<void>;
let operator: FedscoreClient;
let schema: DatasetSchema;
let testSet: RecordSet;
let trainShards: ReturnType<typeof shardRows>;
let evaluation: ReturnType<typeof encodeRows>;

before(async () => {
  await initTf('cpu');
  const target = await createTestDatabase();
  cleanup = target.cleanup;
  const adminKey = randomBytes(24).toString('base64url');
  server = await startServer(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent' }),
    { logger: false },
  );
  operator = new FedscoreClient({ baseUrl: server.url, apiKey: adminKey });
  schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const parts = applySplit(await readCsvFile(path.join(sharedData, 'crx.data'), schema), await readSplitFile(path.join(sharedData, 'crx.split.json')));
  testSet = parts.test!;
  trainShards = shardRows(encodeRows(schema, parts.train), 30);
  evaluation = encodeRows(schema, testSet);
});

after(async () => {
  await server?.close();
  await cleanup?.();
});

async function trainFederated(model: ModelSpec, learningRate: number) {
  return runSimulation({
    operator,
    name: `encrypted ${JSON.stringify(model)}`,
    schema,
    model,
    // Plain averaging: this file checks that encrypted scores equal plain ones, not how the model trains.
    training: { rounds: 3, epochs: 2, batchSize: 8, learningRate, seed: 5, serverOptimizer: { kind: 'fedavg', learningRate: 1 } },
    mode: 'plain',
    shards: trainShards,
    evaluation,
    concurrency: 8,
  });
}

const logit = (p: number) => Math.log(p / (1 - p));

for (const [name, model, learningRate] of [
  ['logistic regression', { kind: 'logreg' }, 0.1],
  ['an MLP with x² activation', { kind: 'mlp', hidden: [8], activation: 'square' }, 0.02],
] as [string, ModelSpec, number][]) {
  describe(`encrypted scores of ${name}, trained federatedly`, () => {
    it('match the plain scores on every crx test row (batched layout), and a few rows one by one (single layout)', async () => {
      const trained = await trainFederated(model, learningRate);
      const federation = await operator.getFederation(trained.federationId);
      const records = testSet.records;
      const plain = await operator.predict(federation.id, { records });
      const encrypted = await scoreEncrypted({ client: operator, federation, records });
      assert.equal(encrypted.layout, 'batched');
      assert.equal(encrypted.modelVersion, plain.modelVersion);
      let worst = 0;
      records.forEach((_, i) => {
        const expected = logit(plain.predictions[i]!.score);
        worst = Math.max(worst, Math.abs(encrypted.logits[i]! - expected));
        assert.equal(encrypted.scores[i]! >= 0.5, plain.predictions[i]!.label, `row ${i}: the decision flipped`);
      });
      assert.ok(worst <= 5e-3, `max |Δlogit| ${worst}`);

      const few = records.slice(0, 3);
      const single = await scoreEncrypted({ client: operator, federation, records: few, layout: 'single' });
      assert.equal(single.layout, 'single');
      few.forEach((_, i) => assert.ok(Math.abs(single.logits[i]! - logit(plain.predictions[i]!.score)) <= 5e-3));
    });
  });
}
