/**
 * A federation of one-row owners, each taking one local SGD step (one epoch of its single row), averaged by
 * FedAvg and moved by the server optimiser, is the full-batch gradient step on all rows followed by the
 * same server step: the owners' average is w − η·mean∇. `npm run bench -- model-quality` relies on this to
 * report UCI_Credit_Card.csv (24,000 owners, hundreds of rounds) without 24,000 HTTP clients per round;
 * this test is what makes that figure the federated one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readDataset } from '../ml/csv.js';
import type { DatasetSchema } from '../ml/dataset-schema.js';
import { initialWeights, type ModelSpec } from '../ml/model-spec.js';
import { encodeLabelledRecords } from '../ml/preprocess.js';
import { initTf } from '../ml/tf.js';
import { trainLocalSync } from '../ml/train.js';
import { FedAvg } from './fedavg.strategy.js';
import { applyServerOptimizer, defaultServerOptimizer, type ServerOptimizerState } from './server-optimizer.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const schema = JSON.parse(readFileSync(path.join(repoRoot, 'schemas', 'crx.json'), 'utf8')) as DatasetSchema;
const text = readFileSync(path.resolve(repoRoot, '..', 'shared', 'data', 'crx.data'), 'utf8');
// Every fifth complete row: both classes (the file is sorted by class), 130-odd owners.
const rows = encodeLabelledRecords(
  schema,
  readDataset(
    text
      .split('\n')
      .filter((line, i) => line !== '' && !line.includes('?') && i % 5 === 0)
      .join('\n') + '\n',
    schema,
  ).records,
);

before(async () => initTf('cpu'));

for (const [name, spec, local] of [
  ['logistic regression', { kind: 'logreg' }, { learningRate: 1, l2: 0 }],
  ['MLP with weight decay', { kind: 'mlp', hidden: [16], activation: 'relu' }, { learningRate: 1, l2: 0.01 }],
  ['HE-evaluable MLP', { kind: 'mlp', hidden: [16], activation: 'relu-poly' }, { learningRate: 0.3, l2: 0 }],
] as [string, ModelSpec, { learningRate: number; l2: number }][]) {
  it(`${name}: three rounds of one-row owners are three full-batch steps`, () => {
    const optimizer = defaultServerOptimizer(spec);
    let federated = initialWeights(spec, rows.X[0]!.length, 3);
    let fullBatch = federated;
    let federatedState: ServerOptimizerState | null = null;
    let fullBatchState: ServerOptimizerState | null = null;
    for (let round = 1; round <= 3; round++) {
      const updates = rows.X.map((x, i) => ({
        weights: trainLocalSync(spec, federated, [x], rows.y.subarray(i, i + 1), { epochs: 1, batchSize: 32, seed: round * 1000 + i, ...local }).weights,
        numSamples: 1,
        metrics: {},
      }));
      const stepped = applyServerOptimizer(optimizer, federated, new FedAvg().aggregate(federated, updates).weights, federatedState);
      [federated, federatedState] = [stepped.weights, stepped.state];

      const averaged = trainLocalSync(spec, fullBatch, rows.X, rows.y, { epochs: 1, batchSize: rows.X.length, seed: round, ...local }).weights;
      const batchStep = applyServerOptimizer(optimizer, fullBatch, averaged, fullBatchState);
      [fullBatch, fullBatchState] = [batchStep.weights, batchStep.state];
    }
    const moved = Math.max(...Array.from(federated, (w, i) => Math.abs(w - initialWeights(spec, rows.X[0]!.length, 3)[i]!)));
    const diff = Math.max(...Array.from(federated, (w, i) => Math.abs(w - fullBatch[i]!)));
    assert.ok(moved > 0.01, `the model moved (${moved})`);
    assert.ok(diff < 1e-5, `max |federated − full batch| = ${diff}`);
  });
}
