/**
 * The query budget of encrypted-prediction sessions: every request is charged its applicant slots (one per
 * ciphertext in the single layout, N/2 − 2 per ciphertext set in the batched one) before anything is
 * evaluated; a request that would go past HE_SESSION_QUERY_BUDGET is a 403 query-budget-exhausted that
 * changes nothing, an evaluation that fails gives its slots back, and the count lives in the database, so a
 * restart keeps it and two instances cannot overspend it between them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeKeySession, createKeySession, decryptScores, encryptApplicants, responsesFor, type HeKeySession } from '../../src/crypto/ckks/client.js';
import { encodeMaterial } from '../../src/crypto/ckks/material.js';
import { ckksParamSet } from '../../src/crypto/ckks/params.js';
import { decodeFrames, encodeFrames } from '../../src/schemas/ciphertext-frames.js';
import { featureNamesOf } from '../../src/ml/dataset-schema.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, crxSchema, setupFederation, type TestApp } from '../helpers/app.js';
import { postBinary } from '../helpers/binary-http.js';

/** Slots of one batched set at N = 4096: N/2 minus the two canary slots. */
const SET = 2046;
const apps: TestApp[] = [];
let single: HeKeySession;
let batched: HeKeySession;
let featureCount: number;

before(async () => {
  featureCount = featureNamesOf(crxSchema).length;
  const shape = { kind: 'linear', inputSize: featureCount, units: 0 } as const;
  single = await createKeySession(ckksParamSet('n4096'), 'single', shape);
  batched = await createKeySession(ckksParamSet('n4096'), 'batched', shape);
});

after(async () => {
  closeKeySession(single);
  closeKeySession(batched);
  for (const t of apps) await t.close();
});

async function appWithBudget(budget: number): Promise<TestApp> {
  const t = await createTestApp({ env: { HE_SESSION_QUERY_BUDGET: String(budget), HE_WORKERS: '1' } });
  apps.push(t);
  return t;
}

/** A federation whose version 1 is a logistic regression with non-zero weights (one owner's update, published by FedAvg). */
async function publishedFederation(t: TestApp): Promise<string> {
  const { federationId, keys } = await setupFederation(t, 1, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 1, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const weights = Array.from({ length: featureCount + 1 }, (_, i) => ((i % 7) - 3) / 10);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights, numSamples: 1 }).expect(201);
  return federationId;
}

async function openSession(t: TestApp, federationId: string, keys: HeKeySession): Promise<string> {
  const res = await t.http
    .post(`/v1/he-sessions?federationId=${federationId}`)
    .set(bearer(ADMIN_KEY))
    .set('Content-Type', 'application/octet-stream')
    .send(Buffer.from(encodeMaterial(keys.publicMaterial)))
    .expect(201);
  return res.body.id as string;
}

function predict(http: TestApp['http'], sessionId: string, body: Buffer) {
  return postBinary(http, `/v1/he-sessions/${sessionId}/predictions`, body, ADMIN_KEY);
}

const rows = (count: number): Float32Array[] => Array.from({ length: count }, (_, r) => Float32Array.from({ length: featureCount }, (_, i) => Math.sin(r * 7.3 + i * 1.7)));
const encrypt = (keys: HeKeySession, count: number) => Buffer.from(encodeFrames(encryptApplicants(keys, rows(count))));

/** A successful prediction really evaluated: one answer per applicant (or set), each passing the decryption's consistency check. */
async function scored(t: TestApp, keys: HeKeySession, sessionId: string, count: number): Promise<void> {
  const res = await predict(t.http, sessionId, encrypt(keys, count)).expect(200);
  const answers = decodeFrames(new Uint8Array(res.body as Buffer));
  assert.equal(answers.length, responsesFor(keys, count));
  assert.equal(decryptScores(keys, answers, count).length, count);
}

async function budgetOf(t: TestApp, sessionId: string) {
  const view = (await t.http.get(`/v1/he-sessions/${sessionId}`).set(bearer(ADMIN_KEY)).expect(200)).body;
  return { budget: view.queryBudget, used: view.queriesUsed, remaining: view.queriesRemaining };
}

test('single layout: one slot per ciphertext, and a request past the budget is refused whole, before evaluation', async () => {
  const t = await appWithBudget(3);
  const sessionId = await openSession(t, await publishedFederation(t), single);
  assert.deepEqual(await budgetOf(t, sessionId), { budget: 3, used: 0, remaining: 3 });
  await scored(t, single, sessionId, 2);
  assert.deepEqual(await budgetOf(t, sessionId), { budget: 3, used: 2, remaining: 1 });

  const refused = await assertRefused(t, () => predict(t.http, sessionId, encrypt(single, 2)), 403, 'query-budget-exhausted', 'two applicants with one slot left');
  assert.match(String(refused.body.detail), /has 1 of its 3 applicant slots left and this request needs 2/);
  // Ciphertexts no worker would accept are refused for the budget first: nothing reached the evaluation.
  await assertRefused(t, () => predict(t.http, sessionId, Buffer.from(encodeFrames([new Uint8Array(300).fill(7), new Uint8Array(300).fill(7)]))), 403, 'query-budget-exhausted', 'garbage past the budget');

  await scored(t, single, sessionId, 1);
  assert.deepEqual(await budgetOf(t, sessionId), { budget: 3, used: 3, remaining: 0 });
  await assertRefused(t, () => predict(t.http, sessionId, encrypt(single, 1)), 403, 'query-budget-exhausted', 'one more on a spent session');
  // The count is in the database: a restarted server still knows the session is spent.
  await t.restart();
  assert.deepEqual(await budgetOf(t, sessionId), { budget: 3, used: 3, remaining: 0 });
  await assertRefused(t, () => predict(t.http, sessionId, encrypt(single, 1)), 403, 'query-budget-exhausted', 'after a restart');
});

test('an evaluation that fails gives its slots back', async () => {
  const t = await appWithBudget(3);
  const sessionId = await openSession(t, await publishedFederation(t), single);
  await scored(t, single, sessionId, 2);
  // Within the budget, so charged, then refused by the worker: the charge is undone and the database is as before.
  await assertRefused(t, () => predict(t.http, sessionId, Buffer.from(encodeFrames([new Uint8Array(300).fill(7)]))), 422, 'invalid-ciphertext');
  assert.deepEqual(await budgetOf(t, sessionId), { budget: 3, used: 2, remaining: 1 });
  await scored(t, single, sessionId, 1);
});

test('batched layout: a ciphertext set costs all its slots, however few applicants fill it', async () => {
  const t = await appWithBudget(2 * SET);
  const federationId = await publishedFederation(t);
  const sessionId = await openSession(t, federationId, batched);
  await scored(t, batched, sessionId, 5);
  assert.deepEqual(await budgetOf(t, sessionId), { budget: 2 * SET, used: SET, remaining: SET });
  // SET + 1 applicants fill two sets: 2 · SET slots, one set more than is left.
  await assertRefused(t, () => predict(t.http, sessionId, encrypt(batched, SET + 1)), 403, 'query-budget-exhausted', 'two sets with one left');
  await scored(t, batched, sessionId, 1);
  assert.deepEqual(await budgetOf(t, sessionId), { budget: 2 * SET, used: 2 * SET, remaining: 0 });
  // A budget smaller than one set makes a batched session unusable; a single-layout one still works.
  const small = await appWithBudget(SET - 1);
  const smallSession = await openSession(small, await publishedFederation(small), batched);
  await assertRefused(small, () => predict(small.http, smallSession, encrypt(batched, 1)), 403, 'query-budget-exhausted', 'a set over the whole budget');
});

test('two instances over one database cannot overspend a session between them', async () => {
  const t = await appWithBudget(3);
  const sessionId = await openSession(t, await publishedFederation(t), single);
  const other = await t.startAnother();
  const [a, b] = await Promise.all([predict(t.http, sessionId, encrypt(single, 2)), predict(other.http, sessionId, encrypt(single, 2))]);
  // Two plus two is past three: whichever charge the database applied second found no room.
  assert.deepEqual([a.status, b.status].sort(), [200, 403]);
  assert.equal((a.status === 403 ? a : b).body.type, 'https://fedscore.dev/problems/query-budget-exhausted');
  assert.deepEqual(await budgetOf(t, sessionId), { budget: 3, used: 2, remaining: 1 });
});
