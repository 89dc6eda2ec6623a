/**
 * Encrypted prediction over HTTP. Every successful prediction is decrypted with the lender's secret key
 * and compared with the score computed here from the pinned version's published weights, so a server
 * that evaluates the wrong model, the wrong version or nothing at all fails; every refusal is checked for
 * its status, its problem type and an unchanged database.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeKeySession, createKeySession, decryptScores, encryptApplicants, responsesFor, type HeKeySession } from '../../src/crypto/ckks/client.js';
import { decodeMaterial, encodeMaterial } from '../../src/crypto/ckks/material.js';
import { ckksParamSet } from '../../src/crypto/ckks/params.js';
import { insertApiKey } from '../../src/db/api-keys.repository.js';
import { decodeFrames, encodeFrames } from '../../src/schemas/ciphertext-frames.js';
import { hashSecret } from '../../src/services/credentials.js';
import { ADMIN_KEY, assertProblem, assertRefused, bearer, createTestApp, federationBody, setupFederation, snapshot, type TestApp } from '../helpers/app.js';
import { postBinary } from '../helpers/binary-http.js';

let now = new Date('2026-03-01T00:00:00Z');
let t: TestApp;
let federationId: string;
let featureCount: number;
let ownerKey: string;
let session: HeKeySession;
/** The single layout needs Galois keys: its material is megabytes, where the batched one is a few hundred bytes. */
let single: HeKeySession;
const OTHER_OPERATOR = 'fso_second-operator-key-for-tests-0123456789';

before(async () => {
  t = await createTestApp({ clock: () => now, env: { BODY_LIMIT: '262144', HE_BODY_LIMIT: '8388608', HE_WORKERS: '1', HE_SESSION_TTL_SECONDS: '600' } });
  await insertApiKey(t.database.prisma, { id: 'second', label: 'second operator', keyHash: hashSecret(OTHER_OPERATOR) });
  // A trained-looking logistic regression: publish version 1 from one owner's non-zero weights.
  const setup = await setupFederation(t, 1, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 1, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  federationId = setup.federationId;
  featureCount = setup.featureCount;
  ownerKey = setup.keys[0]!;
  await publish(Array.from({ length: featureCount + 1 }, (_, i) => ((i % 7) - 3) / 10));
  const shape = { kind: 'linear', inputSize: featureCount, units: 0 } as const;
  session = await createKeySession(ckksParamSet('n4096'), 'batched', shape);
  single = await createKeySession(ckksParamSet('n4096'), 'single', shape);
});

after(async () => {
  closeKeySession(session);
  closeKeySession(single);
  await t.close();
});

/** Opens a round and has the one owner submit `weights`: with one owner, FedAvg publishes them as the next version. */
async function publish(weights: number[]): Promise<void> {
  const round = await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await t.http.post(`/v1/federations/${federationId}/rounds/${round.body.number}/updates`).set(bearer(ownerKey)).send({ weights, numSamples: 1 }).expect(201);
}

const material = () => Buffer.from(encodeMaterial(session.publicMaterial));

function createSession(body: Buffer, key = ADMIN_KEY, query = `federationId=${federationId}`) {
  return t.http.post(`/v1/he-sessions?${query}`).set(bearer(key)).set('Content-Type', 'application/octet-stream').send(body);
}

function predict(sessionId: string, body: Buffer, key = ADMIN_KEY) {
  return postBinary(t.http, `/v1/he-sessions/${sessionId}/predictions`, body, key);
}

/**
 * Standardised applicants, each different and none at the origin: an evaluation that ignored the input
 * or mixed applicants up would not score them all right.
 */
const applicants = (count: number, seed = 0): Float32Array[] =>
  Array.from({ length: count }, (_, r) => Float32Array.from({ length: featureCount }, (_, i) => 1.5 * Math.sin((r + seed) * 7.3 + i * 1.7)));

const encrypt = (keys: HeKeySession, rows: Float32Array[]) => Buffer.from(encodeFrames(encryptApplicants(keys, rows)));
const ciphertexts = () => encrypt(session, applicants(2));
const base64 = (keys: HeKeySession, rows: Float32Array[]) => encryptApplicants(keys, rows).map((c) => Buffer.from(c).toString('base64'));

/** The lender's side: the answer's ciphertexts, decrypted into probabilities as the SDK does. */
function decrypt(keys: HeKeySession, responses: Uint8Array[], applicantCount: number): number[] {
  assert.equal(responses.length, responsesFor(keys, applicantCount), 'one answer per applicant, or per batch set');
  return Array.from(decryptScores(keys, responses, applicantCount), sigmoid);
}
const decryptBinary = (keys: HeKeySession, body: Buffer, applicantCount: number) => decrypt(keys, decodeFrames(new Uint8Array(body)), applicantCount);
const decryptJson = (keys: HeKeySession, body: { ciphertexts: string[] }, applicantCount: number) =>
  decrypt(keys, body.ciphertexts.map((c) => new Uint8Array(Buffer.from(c, 'base64'))), applicantCount);

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** sigmoid(w·x + b) from the version's published weights (flat: w, then b), computed here in float64. */
async function plainScores(version: number, rows: Float32Array[]): Promise<number[]> {
  const res = await t.http.get(`/v1/federations/${federationId}/models/${version}/weights`).set(bearer(ADMIN_KEY)).expect(200);
  const weights = res.body.weights as number[];
  assert.equal(weights.length, featureCount + 1);
  return rows.map((x) => sigmoid(x.reduce((sum, v, i) => sum + v * weights[i]!, weights[featureCount]!)));
}

/**
 * CKKS error on a probability. The logistic regression's logit is off by 1e-5 to 1e-4 (README: 2.1e-5
 * on the crx test rows; the server scales an uncalibrated model down to fit N=4096, which costs a
 * little) and the sigmoid's slope is at most 1/4: 1e-3 is a wide margin for noise, yet 20 times below
 * WRONG_GAP, the least by which any wrong answer checked here differs.
 */
const TOLERANCE = 1e-3;
const WRONG_GAP = 20 * TOLERANCE;

function assertScores(label: string, got: number[], expected: number[]): void {
  assert.equal(got.length, expected.length, `${label}: one score per applicant`);
  // A model that ignores the applicant (the all-zero model's 0.5, or any constant) must fail below.
  assert.ok(expected.every((p) => Math.abs(p - 0.5) > WRONG_GAP), `${label}: some expected score is within ${WRONG_GAP} of 0.5`);
  assert.ok(Math.max(...expected) - Math.min(...expected) > WRONG_GAP, `${label}: the expected scores hardly differ`);
  expected.forEach((p, k) => assert.ok(Math.abs(got[k]! - p) <= TOLERANCE, `${label}: applicant ${k} decrypted to ${got[k]}, the pinned model gives ${p}`));
}

test('a key session stores public material only, pinned to the latest version, and scores ciphertexts', async () => {
  const created = await createSession(material()).expect(201);
  assert.equal(created.body.modelVersion, 1);
  assert.equal(created.body.layout, 'batched');
  assert.deepEqual(created.body.galoisSteps, []);
  const stored = await t.database.prisma.heSession.findUniqueOrThrow({ where: { id: created.body.id } });
  assert.deepEqual(Buffer.from(stored.material), material(), 'the stored material is the upload, nothing added');
  const rows = applicants(5);
  const res = await predict(created.body.id, encrypt(session, rows)).expect(200);
  assert.match(res.headers['content-type']!, /application\/octet-stream/);
  assertScores('binary', decryptBinary(session, res.body as Buffer, rows.length), await plainScores(1, rows));
  // JSON fallback: base64 in, base64 out.
  const jsonRows = applicants(3, 11);
  const json = await t.http.post(`/v1/he-sessions/${created.body.id}/predictions`).set(bearer(ADMIN_KEY)).send({ ciphertexts: base64(session, jsonRows) }).expect(200);
  assertScores('JSON', decryptJson(session, json.body, jsonRows.length), await plainScores(1, jsonRows));
  const read = await t.http.get(`/v1/he-sessions/${created.body.id}`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(read.body.id, created.body.id);
});

test('bad key sessions are refused and nothing is stored', async () => {
  await createSession(material()).expect(201);
  const before = await snapshot(t.database);
  const weak = decodeMaterial(material());
  const weakBody = Buffer.from(encodeMaterial({ ...weak, params: { polyModulusDegree: 4096, coeffModulusBits: [40, 40, 40], scaleBits: 30 } }));
  const wrongShape = Buffer.from(encodeMaterial({ ...weak, shape: { kind: 'linear', inputSize: featureCount + 3, units: 0 } }));
  const relu = await setupFederation(t, 0, { model: { kind: 'mlp', hidden: [4], activation: 'relu' } });
  const beforeRelu = await snapshot(t.database);
  assert.ok(before.HeSession !== undefined && before.HeSession.length > 0, 'the snapshot holds the HeSession table');
  assert.deepEqual(beforeRelu.HeSession, before.HeSession, 'setting up another federation touched no key session');
  const cases: [string, Parameters<typeof assertRefused>[1], number, string][] = [
    ['parameters below 128-bit security', () => createSession(weakBody), 422, 'he-params-refused'],
    ['keys made for another model shape', () => createSession(wrongShape), 422, 'he-material-mismatch'],
    ['not key material at all', () => createSession(Buffer.from('definitely not FSHE')), 422, 'invalid-he-material'],
    ['a truncated body', () => createSession(material().subarray(0, material().length - 10)), 422, 'invalid-he-material'],
    ['an unknown federation', () => createSession(material(), ADMIN_KEY, 'federationId=nope'), 404, 'federation-not-found'],
    ['an unpublished version', () => createSession(material(), ADMIN_KEY, `federationId=${federationId}&modelVersion=9`), 404, 'model-version-not-found'],
    ['the all-zero initial version', () => createSession(material(), ADMIN_KEY, `federationId=${federationId}&modelVersion=0`), 409, 'model-not-he-evaluable'],
    ['a model CKKS cannot evaluate', () => createSession(material(), ADMIN_KEY, `federationId=${relu.federationId}`), 409, 'model-not-he-evaluable'],
    ['no key', () => t.http.post(`/v1/he-sessions?federationId=${federationId}`).set('Content-Type', 'application/octet-stream').send(material()), 401, 'unauthorized'],
  ];
  for (const [name, send, status, type] of cases) await assertRefused(t, send, status, type, name);
  const notEvaluable = await assertRefused(t, () => createSession(material(), ADMIN_KEY, `federationId=${relu.federationId}`), 409, 'model-not-he-evaluable');
  assert.match(String(notEvaluable.body.detail), /relu/);
  // A model version records whether it is HE-evaluable, and why not.
  const reluModel = (await t.http.get(`/v1/federations/${relu.federationId}/models/latest`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(reluModel.heEvaluable, false);
  assert.match(reluModel.heRefusal, /relu activation is not a polynomial/);
  const logreg = (await t.http.get(`/v1/federations/${federationId}/models/latest`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.deepEqual([logreg.heEvaluable, logreg.heRefusal], [true, null]);
});

test('bad predictions are refused, and the worker pool stays healthy', async () => {
  const created = (await createSession(material()).expect(201)).body;
  const foreign = await createKeySession(ckksParamSet('n8192'), 'batched', { kind: 'linear', inputSize: featureCount, units: 0 });
  const foreignCiphertexts = encrypt(foreign, applicants(1));
  closeKeySession(foreign);
  const good = ciphertexts();
  const frames = encryptApplicants(session, applicants(1));
  const truncated = Buffer.from(encodeFrames(frames.map((c) => c.subarray(0, Math.floor(c.length / 2)))));
  const cases: [string, Parameters<typeof assertRefused>[1], number, string][] = [
    ['truncated ciphertexts', () => predict(created.id, truncated), 422, 'invalid-ciphertext'],
    ['ciphertexts under other parameters', () => predict(created.id, foreignCiphertexts), 422, 'invalid-ciphertext'],
    ['broken framing', () => predict(created.id, good.subarray(0, good.length - 3)), 400, 'malformed-frames'],
    ['garbage bytes', () => predict(created.id, Buffer.from(encodeFrames([new Uint8Array(300).fill(7)]))), 422, 'invalid-ciphertext'],
    ['another caller’s session', () => predict(created.id, good, OTHER_OPERATOR), 403, 'forbidden'],
    ['an owner key of the federation', () => predict(created.id, good, ownerKey), 403, 'forbidden'],
    ['an unknown session', () => predict('no-such-session', good), 404, 'he-session-not-found'],
    ['an oversized body', () => predict(created.id, Buffer.alloc(9 * 1024 * 1024, 1)), 413, 'body-too-large'],
  ];
  for (const [name, send, status, type] of cases) await assertRefused(t, send, status, type, name);
  // The pool still answers, and still right.
  const rows = applicants(4, 2);
  const res = await predict(created.id, encrypt(session, rows)).expect(200);
  assertScores('after the refusals', decryptBinary(session, res.body as Buffer, rows.length), await plainScores(created.modelVersion, rows));
});

test('key sessions take bodies up to HE_BODY_LIMIT, not the JSON routes’ BODY_LIMIT', async () => {
  const big = Buffer.from(encodeMaterial(single.publicMaterial));
  // The test means something only if this material is refused by the JSON limit and fits the HE one.
  assert.ok(big.length > t.config.BODY_LIMIT && big.length < t.config.HE_BODY_LIMIT, `single-layout material is ${big.length} bytes`);
  const overJsonLimit = federationBody({ name: 'x'.repeat(big.length) });
  await assertRefused(t, () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(overJsonLimit), 413, 'body-too-large', 'a JSON route over BODY_LIMIT');
  const created = (await createSession(big).expect(201)).body;
  assert.equal(created.layout, 'single');
  const rows = applicants(3, 5);
  const res = await predict(created.id, encrypt(single, rows)).expect(200);
  assertScores('single layout', decryptBinary(single, res.body as Buffer, rows.length), await plainScores(created.modelVersion, rows));
  // Over HE_BODY_LIMIT, in either form, the body is refused before anything is parsed or stored.
  const oversized = Buffer.concat([big, Buffer.alloc(t.config.HE_BODY_LIMIT + 1 - big.length, 1)]);
  await assertRefused(t, () => createSession(oversized), 413, 'body-too-large', 'binary key material over HE_BODY_LIMIT');
  const oversizedJson = { federationId, material: 'A'.repeat(t.config.HE_BODY_LIMIT) };
  await assertRefused(t, () => t.http.post('/v1/he-sessions').set(bearer(ADMIN_KEY)).send(oversizedJson), 413, 'body-too-large', 'JSON key material over HE_BODY_LIMIT');
});

test('a session stays pinned to its model version after a newer one is published', async () => {
  const pinned: number = (await t.http.get(`/v1/federations/${federationId}/models/latest`).set(bearer(ADMIN_KEY)).expect(200)).body.version;
  const implicit = (await createSession(material()).expect(201)).body;
  const explicit = (await createSession(material(), ADMIN_KEY, `federationId=${federationId}&modelVersion=${pinned}`).expect(201)).body;
  assert.deepEqual([implicit.modelVersion, explicit.modelVersion], [pinned, pinned]);
  const rows = applicants(4, 7);
  const oldScores = await plainScores(pinned, rows);
  // Scored once before the new version exists, so a worker already holds this session and version prepared.
  const warm = await predict(implicit.id, encrypt(session, rows)).expect(200);
  assertScores('before the new version', decryptBinary(session, warm.body as Buffer, rows.length), oldScores);
  // The first version's pattern with its sign flipped and grown: every applicant's score moves across 0.5.
  await publish(Array.from({ length: featureCount + 1 }, (_, i) => (3 - (i % 7)) / 6));
  const newest: number = (await t.http.get(`/v1/federations/${federationId}/models/latest`).set(bearer(ADMIN_KEY)).expect(200)).body.version;
  assert.equal(newest, pinned + 1);
  const newScores = await plainScores(newest, rows);
  oldScores.forEach((p, k) => assert.ok(Math.abs(p - newScores[k]!) > WRONG_GAP, `applicant ${k}: versions ${pinned} and ${newest} score alike`));
  for (const [label, created] of [['pinned to the latest', implicit], ['pinned by ?modelVersion', explicit]] as const) {
    const res = await predict(created.id, encrypt(session, rows)).expect(200);
    assertScores(label, decryptBinary(session, res.body as Buffer, rows.length), oldScores);
  }
  // A session opened now takes the new version.
  const fresh = (await createSession(material()).expect(201)).body;
  assert.equal(fresh.modelVersion, newest);
  const res = await predict(fresh.id, encrypt(session, rows)).expect(200);
  assertScores('opened after the new version', decryptBinary(session, res.body as Buffer, rows.length), newScores);
});

test('an expired session is refused; a deleted one is gone', async () => {
  const created = (await createSession(material()).expect(201)).body;
  now = new Date(now.getTime() + 601_000);
  await assertRefused(t, () => predict(created.id, ciphertexts()), 410, 'he-session-expired', 'an expired session');
  await assertRefused(t, () => t.http.delete(`/v1/he-sessions/${created.id}`).set(bearer(OTHER_OPERATOR)), 403, 'forbidden', 'deleting another operator’s session');
  assert.equal(await t.database.prisma.heSession.count({ where: { id: created.id } }), 1, 'the refused DELETE left the session in place');
  await t.http.delete(`/v1/he-sessions/${created.id}`).set(bearer(ADMIN_KEY)).expect(204);
  assert.equal(await t.database.prisma.heSession.count({ where: { id: created.id } }), 0);
  await assertRefused(t, () => t.http.get(`/v1/he-sessions/${created.id}`).set(bearer(ADMIN_KEY)), 404, 'he-session-not-found', 'a deleted session');
  // The periodic sweep deletes expired sessions and their key material.
  const stale = (await createSession(material()).expect(201)).body;
  await t.app.services.heSessions.sweepExpired(); // sessions of the earlier tests, long expired
  assert.equal(await t.database.prisma.heSession.count({ where: { id: stale.id } }), 1, 'a live session survives the sweep');
  assert.equal(await t.app.services.heSessions.sweepExpired(), 0);
  now = new Date(now.getTime() + 601_000);
  assert.equal(await t.app.services.heSessions.sweepExpired(), 1);
  assert.equal(await t.database.prisma.heSession.count({ where: { id: stale.id } }), 0);
});

test('deletes of one session at once: one deletes it, the others find it gone', async () => {
  // On PostgreSQL the reads and deletes interleave; the later deletes failed (a 500) before.
  for (let i = 0; i < 5; i++) {
    const created = (await createSession(material()).expect(201)).body;
    const before = await snapshot(t.database);
    const answers = await Promise.all([0, 1, 2].map(() => t.http.delete(`/v1/he-sessions/${created.id}`).set(bearer(ADMIN_KEY))));
    assert.deepEqual(answers.map((res) => res.status).sort(), [204, 404, 404], JSON.stringify(answers.map((res) => res.body)));
    for (const res of answers.filter((res) => res.status === 404)) assertProblem(res, 404, 'he-session-not-found');
    assert.deepEqual(await snapshot(t.database), { ...before, HeSession: before.HeSession!.filter((row) => row.id !== created.id) }, 'only the session is gone');
  }
});

test('sessions persist across a restart', async () => {
  now = new Date(now.getTime() + 1000);
  const created = (await createSession(material()).expect(201)).body;
  const restarted = await t.restart();
  const rows = applicants(3, 13);
  const res = await restarted.http.post(`/v1/he-sessions/${created.id}/predictions`).set(bearer(ADMIN_KEY)).send({ ciphertexts: base64(session, rows) }).expect(200);
  assertScores('after a restart', decryptJson(session, res.body, rows.length), await plainScores(created.modelVersion, rows));
});

test('a session opened on one instance scores on another that never loaded it, after the first is gone', async () => {
  // Instances share only the database: the second has never opened this session in a worker, so it must
  // load the key material from the stored row.
  const opener = await t.startAnother();
  const created = (
    await opener.http.post(`/v1/he-sessions?federationId=${federationId}`).set(bearer(ADMIN_KEY)).set('Content-Type', 'application/octet-stream').send(material()).expect(201)
  ).body;
  await opener.close();
  const rows = applicants(4, 17);
  const res = await predict(created.id, encrypt(session, rows)).expect(200);
  assertScores('on another instance', decryptBinary(session, res.body as Buffer, rows.length), await plainScores(created.modelVersion, rows));
});

test('a lender’s he-predict key opens sessions and scores in them, in its own federation; other keys may not use them', async () => {
  const issue = async (scopes: string[], federation = federationId) =>
    (await t.http.post(`/v1/federations/${federation}/api-keys`).set(bearer(ADMIN_KEY)).send({ label: 'lender', scopes }).expect(201)).body.apiKey as string;
  const lender = await issue(['he-predict']);
  const colleague = await issue(['he-predict']);
  const plainOnly = await issue(['predict', 'read']);
  const other = await t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody()).expect(201);
  const elsewhere = await issue(['he-predict'], other.body.federation.id);

  const created = (await createSession(material(), lender).expect(201)).body;
  const rows = applicants(3, 11);
  const res = await predict(created.id, encrypt(session, rows), lender).expect(200);
  assertScores('scoped key', decryptBinary(session, res.body as Buffer, rows.length), await plainScores(created.modelVersion, rows));
  await t.http.get(`/v1/he-sessions/${created.id}`).set(bearer(lender)).expect(200);

  const good = encrypt(session, rows);
  await assertRefused(t, () => predict(created.id, good, colleague), 403, 'forbidden', 'another he-predict key of the federation');
  await assertRefused(t, () => predict(created.id, good, plainOnly), 403, 'forbidden', 'a key without he-predict');
  await assertRefused(t, () => predict(created.id, good, elsewhere), 403, 'forbidden', 'another federation’s he-predict key');
  await assertRefused(t, () => predict(created.id, good), 403, 'forbidden', 'the operator (not the creator)');
  await assertRefused(t, () => createSession(material(), plainOnly), 403, 'forbidden', 'opening a session without he-predict');
  await assertRefused(t, () => createSession(material(), elsewhere), 403, 'forbidden', 'opening a session in another federation');
  await t.http.delete(`/v1/he-sessions/${created.id}`).set(bearer(lender)).expect(204);
});

test('the operator lists a federation’s sessions with their prediction counts, never their key material', async () => {
  now = new Date(now.getTime() + 1000);
  const issued = (await t.http.post(`/v1/federations/${federationId}/api-keys`).set(bearer(ADMIN_KEY)).send({ label: 'lender', scopes: ['he-predict'] }).expect(201)).body;
  const lender = issued.apiKey as string;
  const created = (await createSession(material(), lender).expect(201)).body;
  await predict(created.id, encrypt(session, applicants(3, 5)), lender).expect(200);
  const own = (await t.http.get(`/v1/he-sessions/${created.id}`).set(bearer(lender)).expect(200)).body;
  assert.ok(own.queriesUsed > 0, 'the prediction was counted');

  const listed = (await t.http.get(`/v1/federations/${federationId}/he-sessions`).set(bearer(ADMIN_KEY)).expect(200)).body.sessions;
  const entry = listed.find((s: { id: string }) => s.id === created.id);
  assert.deepEqual(entry, {
    id: created.id,
    modelVersion: own.modelVersion,
    layout: own.layout,
    creatorKeyId: issued.key.id,
    createdAt: own.createdAt,
    expiresAt: own.expiresAt,
    expired: false,
    queryBudget: own.queryBudget,
    queriesUsed: own.queriesUsed,
    queriesRemaining: own.queriesRemaining,
  });
  // Every stored session of the federation, newest first, with the stored counts; nothing of another federation.
  const rows = await t.database.prisma.heSession.findMany({ where: { federationId }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }] });
  assert.deepEqual(
    listed.map((s: { id: string; queriesUsed: number; expired: boolean }) => [s.id, s.queriesUsed, s.expired]),
    rows.map((row) => [row.id, row.queriesUsed, row.expiresAt.getTime() <= now.getTime()]),
  );
  assert.ok(listed.every((s: Record<string, unknown>) => !('material' in s) && !('params' in s) && !('galoisSteps' in s)));

  // Time passes: the same session is listed as expired until the sweep deletes it.
  now = new Date(now.getTime() + 601_000);
  const later = (await t.http.get(`/v1/federations/${federationId}/he-sessions`).set(bearer(ADMIN_KEY)).expect(200)).body.sessions;
  assert.equal(later.find((s: { id: string }) => s.id === created.id).expired, true);

  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/he-sessions`), 401, 'unauthorized', 'no key');
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/he-sessions`).set(bearer(lender)), 403, 'forbidden', 'a he-predict key');
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/he-sessions`).set(bearer(ownerKey)), 403, 'forbidden', 'an owner key');
  await assertRefused(t, () => t.http.get('/v1/federations/no-such-federation/he-sessions').set(bearer(ADMIN_KEY)), 404, 'federation-not-found', 'an unknown federation');
  await assertRefused(t, () => t.http.get('/v1/federations/bad%20id/he-sessions').set(bearer(ADMIN_KEY)), 422, 'validation-failed', 'a malformed federation id');
});
