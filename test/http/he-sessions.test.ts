import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeKeySession, createKeySession, encryptApplicants, type HeKeySession } from '../../src/crypto/ckks/client.js';
import { decodeMaterial, encodeMaterial } from '../../src/crypto/ckks/material.js';
import { ckksParamSet } from '../../src/crypto/ckks/params.js';
import { insertApiKey } from '../../src/db/owners.repository.js';
import { encodeFrames } from '../../src/schemas/ciphertext-frames.js';
import { hashSecret } from '../../src/services/credentials.js';
import { ADMIN_KEY, bearer, createTestApp, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let now = new Date('2026-03-01T00:00:00Z');
let t: TestApp;
let federationId: string;
let featureCount: number;
let session: HeKeySession;
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
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const weights = Array.from({ length: featureCount + 1 }, (_, i) => ((i % 7) - 3) / 10);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(setup.keys[0]!)).send({ weights, numSamples: 1 }).expect(201);
  session = await createKeySession(ckksParamSet('n4096'), 'batched', { kind: 'linear', inputSize: featureCount, units: 0 });
});

after(async () => {
  closeKeySession(session);
  await t.close();
});

const problem = (type: string) => `https://fedscore.dev/problems/${type}`;
const material = () => Buffer.from(encodeMaterial(session.publicMaterial));

function createSession(body: Buffer, key = ADMIN_KEY, query = `federationId=${federationId}`) {
  return t.http.post(`/v1/he-sessions?${query}`).set(bearer(key)).set('Content-Type', 'application/octet-stream').send(body);
}

function predict(sessionId: string, body: Buffer, key = ADMIN_KEY) {
  return t.http
    .post(`/v1/he-sessions/${sessionId}/predictions`)
    .set(bearer(key))
    .set('Content-Type', 'application/octet-stream')
    .send(body)
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        done(null, /json/.test(String(res.headers['content-type'])) ? JSON.parse(raw.toString('utf8')) : raw);
      });
    });
}

const ciphertexts = () => Buffer.from(encodeFrames(encryptApplicants(session, [new Float32Array(featureCount).fill(0.5)])));

test('a key session stores public material only, pinned to the latest version, and scores ciphertexts', async () => {
  const created = await createSession(material()).expect(201);
  assert.equal(created.body.modelVersion, 1);
  assert.equal(created.body.layout, 'batched');
  assert.deepEqual(created.body.galoisSteps, []);
  const res = await predict(created.body.id, ciphertexts()).expect(200);
  assert.match(res.headers['content-type']!, /application\/octet-stream/);
  assert.ok((res.body as Buffer).length > 1000);
  // JSON fallback: base64 in, base64 out.
  const json = await t.http
    .post(`/v1/he-sessions/${created.body.id}/predictions`)
    .set(bearer(ADMIN_KEY))
    .send({ ciphertexts: encryptApplicants(session, [new Float32Array(featureCount)]).map((c) => Buffer.from(c).toString('base64')) })
    .expect(200);
  assert.equal(json.body.ciphertexts.length, 1);
  const read = await t.http.get(`/v1/he-sessions/${created.body.id}`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(read.body.id, created.body.id);
});

test('bad key sessions are refused and nothing is stored', async () => {
  const before = await snapshot(t.database);
  const weak = decodeMaterial(material());
  const weakBody = Buffer.from(encodeMaterial({ ...weak, params: { polyModulusDegree: 4096, coeffModulusBits: [40, 40, 40], scaleBits: 30 } }));
  const wrongShape = Buffer.from(encodeMaterial({ ...weak, shape: { kind: 'linear', inputSize: featureCount + 3, units: 0 } }));
  const relu = await setupFederation(t, 0, { model: { kind: 'mlp', hidden: [4], activation: 'relu' } });
  const beforeRelu = await snapshot(t.database);
  const cases: [string, () => Promise<{ status: number; body: { type: string; detail: string } }>, number, string][] = [
    ['parameters below 128-bit security', () => createSession(weakBody), 422, 'he-params-refused'],
    ['keys made for another model shape', () => createSession(wrongShape), 422, 'he-material-mismatch'],
    ['not key material at all', () => createSession(Buffer.from('definitely not FSHE')), 422, 'invalid-he-material'],
    ['a truncated body', () => createSession(material().subarray(0, material().length - 10)), 422, 'invalid-he-material'],
    ['an unknown federation', () => createSession(material(), ADMIN_KEY, 'federationId=nope'), 404, 'federation-not-found'],
    ['an unpublished version', () => createSession(material(), ADMIN_KEY, `federationId=${federationId}&modelVersion=9`), 404, 'model-version-not-found'],
    ['a model CKKS cannot evaluate', () => createSession(material(), ADMIN_KEY, `federationId=${relu.federationId}`), 409, 'model-not-he-evaluable'],
    ['no key', () => t.http.post(`/v1/he-sessions?federationId=${federationId}`).set('Content-Type', 'application/octet-stream').send(material()), 401, 'unauthorized'],
  ];
  for (const [name, send, status, type] of cases) {
    const res = await send();
    assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.type, problem(type), name);
    assert.deepEqual(await snapshot(t.database), beforeRelu, `${name}: nothing stored`);
  }
  const notEvaluable = await createSession(material(), ADMIN_KEY, `federationId=${relu.federationId}`);
  assert.match(notEvaluable.body.detail, /relu/);
  // A model version records whether it is HE-evaluable, and why not.
  const reluModel = (await t.http.get(`/v1/federations/${relu.federationId}/models/latest`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(reluModel.heEvaluable, false);
  assert.match(reluModel.heRefusal, /relu activation is not a polynomial/);
  const logreg = (await t.http.get(`/v1/federations/${federationId}/models/latest`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.deepEqual([logreg.heEvaluable, logreg.heRefusal], [true, null]);
  assert.equal(before.heSessions, beforeRelu.heSessions);
});

test('bad predictions are refused, and the worker pool stays healthy', async () => {
  const created = (await createSession(material()).expect(201)).body;
  const foreign = await createKeySession(ckksParamSet('n8192'), 'batched', { kind: 'linear', inputSize: featureCount, units: 0 });
  const foreignCiphertexts = Buffer.from(encodeFrames(encryptApplicants(foreign, [new Float32Array(featureCount)])));
  closeKeySession(foreign);
  const good = ciphertexts();
  const frames = encryptApplicants(session, [new Float32Array(featureCount)]);
  const truncated = Buffer.from(encodeFrames(frames.map((c) => c.subarray(0, Math.floor(c.length / 2)))));
  const cases: [string, () => Promise<{ status: number; body: { type: string } }>, number, string][] = [
    ['truncated ciphertexts', () => predict(created.id, truncated), 422, 'invalid-ciphertext'],
    ['ciphertexts under other parameters', () => predict(created.id, foreignCiphertexts), 422, 'invalid-ciphertext'],
    ['broken framing', () => predict(created.id, good.subarray(0, good.length - 3)), 400, 'malformed-frames'],
    ['garbage bytes', () => predict(created.id, Buffer.from(encodeFrames([new Uint8Array(300).fill(7)]))), 422, 'invalid-ciphertext'],
    ['another caller’s session', () => predict(created.id, good, OTHER_OPERATOR), 403, 'forbidden'],
    ['an owner key', async () => predict(created.id, good, (await setupFederation(t, 1)).keys[0]!), 403, 'forbidden'],
    ['an unknown session', () => predict('no-such-session', good), 404, 'he-session-not-found'],
    ['an oversized body', () => predict(created.id, Buffer.alloc(9 * 1024 * 1024, 1)), 413, 'body-too-large'],
  ];
  for (const [name, send, status, type] of cases) {
    const res = await send();
    assert.equal(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.type, problem(type), name);
  }
  // The pool still answers.
  await predict(created.id, good).expect(200);
});

test('an expired session is refused; a deleted one is gone', async () => {
  const created = (await createSession(material()).expect(201)).body;
  now = new Date(now.getTime() + 601_000);
  const expired = await predict(created.id, ciphertexts()).expect(410);
  assert.equal(expired.body.type, problem('he-session-expired'));
  await t.http.delete(`/v1/he-sessions/${created.id}`).set(bearer(OTHER_OPERATOR)).expect(403);
  await t.http.delete(`/v1/he-sessions/${created.id}`).set(bearer(ADMIN_KEY)).expect(204);
  await t.http.get(`/v1/he-sessions/${created.id}`).set(bearer(ADMIN_KEY)).expect(404);
  // The periodic sweep deletes expired sessions and their key material.
  const stale = (await createSession(material()).expect(201)).body;
  await t.app.services.heSessions.sweepExpired(); // sessions of the earlier tests, long expired
  assert.equal(await t.database.prisma.heSession.count({ where: { id: stale.id } }), 1, 'a live session survives the sweep');
  assert.equal(await t.app.services.heSessions.sweepExpired(), 0);
  now = new Date(now.getTime() + 601_000);
  assert.equal(await t.app.services.heSessions.sweepExpired(), 1);
  assert.equal(await t.database.prisma.heSession.count({ where: { id: stale.id } }), 0);
});

test('sessions persist across a restart', async () => {
  now = new Date(now.getTime() + 1000);
  const created = (await createSession(material()).expect(201)).body;
  const restarted = await t.restart();
  const res = await restarted.http
    .post(`/v1/he-sessions/${created.id}/predictions`)
    .set(bearer(ADMIN_KEY))
    .send({ ciphertexts: encryptApplicants(session, [new Float32Array(featureCount)]).map((c) => Buffer.from(c).toString('base64')) })
    .expect(200);
  assert.equal(res.body.ciphertexts.length, 1);
});
