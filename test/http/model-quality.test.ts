/**
 * Model quality through the API: a validation set every version is scored on (the scores match what the
 * predictions endpoint gives on the same rows), the promoted version predictions use by default (never
 * one below the majority-class rate), explicit promotion, early stopping, and every bad validation set or
 * promotion refused with problem+json and nothing written.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { accuracy, logLoss, rocAuc } from '../../src/ml/metrics.js';
import { initialWeights } from '../../src/ml/model-spec.js';
import { createEncoder, encodeLabel } from '../../src/ml/preprocess.js';
import { trainLocalSync } from '../../src/ml/train.js';
import { initTf } from '../../src/ml/tf.js';
import { readDataset } from '../../src/ml/csv.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, crxSchema, setupFederation, sharedData, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => {
  await initTf('cpu');
  t = await createTestApp();
});
after(async () => t.close());

const lines = readFileSync(path.join(sharedData, 'crx.data'), 'utf8').split('\n');
const split = JSON.parse(readFileSync(path.join(sharedData, 'crx.split.json'), 'utf8')) as { train: number[]; test: number[] };
const csvOf = (numbers: number[]) => numbers.map((n) => lines[n - 1]).join('\n') + '\n';
const validationCsv = csvOf(split.test);
const records = readDataset(validationCsv, crxSchema).records;
const training = { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: true, seed: 7 };

/** A good logistic regression trained centrally on the crx training rows: what two owners will both submit. */
function trainedWeights(): number[] {
  const rows = readDataset(csvOf(split.train), crxSchema).records.filter((r) => !Object.values(r).includes('?'));
  const encoder = createEncoder(crxSchema);
  const X = rows.map((r) => encoder.encode(r));
  const y = Uint8Array.from(rows.map((r) => encodeLabel(crxSchema, r)));
  return Array.from(trainLocalSync({ kind: 'logreg' }, initialWeights({ kind: 'logreg' }, X[0]!.length, 1), X, y, { epochs: 30, batchSize: 32, learningRate: 0.1, seed: 1 }).weights);
}

async function submitBoth(federationId: string, round: number, keys: string[], weights: number[]) {
  for (const key of keys) {
    await t.http.post(`/v1/federations/${federationId}/rounds/${round}/updates`).set(bearer(key)).send({ weights, numSamples: 1 }).expect(201);
  }
}

const federation = async (id: string) => (await t.http.get(`/v1/federations/${id}`).set(bearer(ADMIN_KEY)).expect(200)).body;

test('every version is scored on the validation set; only a version beating the majority rate is served by default', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training });
  assert.deepEqual((await federation(federationId)).training.serverOptimizer, { kind: 'fedavg', learningRate: 1 });
  const attached = (await t.http.put(`/v1/federations/${federationId}/validation`).set(bearer(ADMIN_KEY)).send({ csv: validationCsv }).expect(200)).body;
  const positives = records.filter((r) => r.A16 === '+').length;
  assert.deepEqual([attached.rows, attached.positives, attached.scoredVersions], [records.length, positives, 1]);

  // Version 0 (all-zero weights) scores 0.5 everywhere: every row "positive", below the majority rate.
  const initial = (await t.http.get(`/v1/federations/${federationId}/models/0`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(initial.validation.accuracy, positives / records.length);
  assert.ok(initial.validation.accuracy < initial.validation.majorityRate);
  assert.equal((await federation(federationId)).defaultModelVersion, null);
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records: records.slice(0, 2) }), 409, 'no-eligible-model');
  // Owners never see the validation scores.
  assert.equal((await t.http.get(`/v1/federations/${federationId}/models/0`).set(bearer(keys[0]!)).expect(200)).body.validation, null);

  const good = trainedWeights();
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await submitBoth(federationId, 1, keys, good);
  const after = await federation(federationId);
  assert.deepEqual([after.promotedModelVersion, after.defaultModelVersion], [1, 1]);

  // The stored scores are the metrics of the scores the API itself gives on those rows.
  const scored = (await t.http.get(`/v1/federations/${federationId}/models/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  const predicted = (await t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records }).expect(200)).body;
  assert.equal(predicted.modelVersion, 1);
  const probs = predicted.predictions.map((p: { score: number }) => p.score);
  const labels = records.map((r) => (r.A16 === '+' ? 1 : 0));
  assert.ok(Math.abs(scored.validation.auc - rocAuc(probs, labels)) < 1e-6);
  assert.ok(Math.abs(scored.validation.logLoss - logLoss(probs, labels)) < 1e-6);
  assert.equal(scored.validation.accuracy, accuracy(probs, labels));
  const c = scored.validation.confusion;
  assert.equal(c.truePositives + c.falsePositives + c.trueNegatives + c.falseNegatives, records.length);
  assert.equal(scored.promoted, true);
  assert.ok(scored.validation.roc.length > 2 && scored.validation.calibration.length === 10);
});

test('early stopping: a version that does not improve for `patience` rounds stops the automatic rounds', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training: { ...training, rounds: 5 }, selection: { rule: 'best', metric: 'logLoss', patience: 1 } });
  await t.http.put(`/v1/federations/${federationId}/validation`).set(bearer(ADMIN_KEY)).send({ csv: validationCsv }).expect(200);
  const good = trainedWeights();
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await submitBoth(federationId, 1, keys, good);
  // Round 2 opened automatically; a worse model (the weights halved) does not improve the log loss.
  await submitBoth(federationId, 2, keys, good.map((w) => w / 2));
  const stopped = await federation(federationId);
  assert.deepEqual(stopped.trainingStop, { reason: 'early-stopping', atVersion: 2, bestVersion: 1, metric: 'logLoss', patience: 1 });
  assert.equal(stopped.defaultModelVersion, 1);
  const rounds = (await t.http.get(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).expect(200)).body.rounds;
  assert.deepEqual(rounds.map((r: { number: number; endsTraining: boolean }) => [r.number, r.endsTraining]), [[1, false], [2, true]]);
});

test('promotion by hand: a real version of this federation, not below the majority rate; the rule becomes manual', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training });
  const other = await setupFederation(t, 2, { training });
  await t.http.put(`/v1/federations/${federationId}/validation`).set(bearer(ADMIN_KEY)).send({ csv: validationCsv }).expect(200);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await submitBoth(federationId, 1, keys, trainedWeights());

  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/models/0/promote`).set(bearer(ADMIN_KEY)), 409, 'below-majority-rate');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/models/7/promote`).set(bearer(ADMIN_KEY)), 404, 'model-version-not-found', 'a version that does not exist');
  // Version 1 exists in this federation, not in the other: promoting it there is a 404 too.
  await assertRefused(t, () => t.http.post(`/v1/federations/${other.federationId}/models/1/promote`).set(bearer(ADMIN_KEY)), 404, 'model-version-not-found', 'another federation’s version');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/models/1/promote`).set(bearer(keys[0]!)), 403, 'forbidden', 'an owner promoting');

  const promoted = (await t.http.post(`/v1/federations/${federationId}/models/1/promote`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.deepEqual([promoted.promotedModelVersion, promoted.defaultModelVersion, promoted.selection.rule], [1, 1, 'manual']);
});

test('rule manual promotes nothing by itself; switching to best promotes the best scored version at once', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training, selection: { rule: 'manual' } });
  await t.http.put(`/v1/federations/${federationId}/validation`).set(bearer(ADMIN_KEY)).send({ csv: validationCsv }).expect(200);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await submitBoth(federationId, 1, keys, trainedWeights());
  const manual = await federation(federationId);
  assert.deepEqual([manual.promotedModelVersion, manual.defaultModelVersion], [null, 1]);
  const best = (await t.http.put(`/v1/federations/${federationId}/selection`).set(bearer(ADMIN_KEY)).send({ selection: { rule: 'best', metric: 'auc' } }).expect(200)).body;
  assert.deepEqual([best.selection, best.promotedModelVersion], [{ rule: 'best', metric: 'auc', patience: null }, 1]);
});

test('a validation set that does not fit the schema, has a missing value or one class only is refused; nothing is stored', async () => {
  const { federationId } = await setupFederation(t, 2, { training });
  const put = (csv: string) => () => t.http.put(`/v1/federations/${federationId}/validation`).set(bearer(ADMIN_KEY)).send({ csv });
  const first = lines[split.test[0]! - 1]!;
  const negatives = split.test.filter((n) => lines[n - 1]!.endsWith(',-'));

  const short = await assertRefused(t, put(first.split(',').slice(0, 10).join(',') + '\n'), 422, 'validation-failed', 'a line with too few fields');
  assert.match(String(short.body.detail), /does not fit the schema: line 1 has 10 fields, expected 16/);
  const unknown = await assertRefused(t, put(first.replace(/^[ab],/, 'z,') + '\n'), 422, 'validation-failed', 'an unknown category');
  assert.match(JSON.stringify(unknown.body.errors), /line 1, A1/);
  await assertRefused(t, put(first.replace(/^([ab]),[^,]+,/, '$1,?,') + '\n'), 422, 'validation-failed', 'a missing value');
  const oneClass = await assertRefused(t, put(csvOf(negatives)), 422, 'validation-failed', 'one class only');
  assert.match(String(oneClass.body.detail), /only negative rows/);
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/validation`).set(bearer(ADMIN_KEY)), 404, 'validation-set-not-found', 'no validation set yet');
  await assertRefused(t, () => t.http.put(`/v1/federations/${federationId}/selection`).set(bearer(ADMIN_KEY)).send({ selection: { metric: 'f1' } }), 422, 'validation-failed', 'an unknown metric');
});
