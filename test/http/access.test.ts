/**
 * Who may read what: model versions are visible to the operator and to the federation's own owners only;
 * a revoked operator key opens nothing; only the operator rotates an enrolment token. Every refusal is
 * problem+json and writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type supertest from 'supertest';
import { insertApiKey } from '../../src/db/api-keys.repository.js';
import { hashSecret } from '../../src/services/credentials.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, federationBody, setupFederation, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

test('model versions: the operator and the federation’s owners read them; another federation’s owner and the anonymous do not', async () => {
  const mine = await setupFederation(t, 1, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 1, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  const theirs = await setupFederation(t, 1);
  await t.http.post(`/v1/federations/${mine.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await t.http.post(`/v1/federations/${mine.federationId}/rounds/1/updates`).set(bearer(mine.keys[0]!)).send({ weights: new Array(mine.featureCount + 1).fill(0.25), numSamples: 2 }).expect(201);

  const paths = ['models', 'models/latest', 'models/1', 'models/0', 'models/latest/weights', 'models/1/weights'].map((p) => `/v1/federations/${mine.federationId}/${p}`);
  for (const path of paths) {
    await t.http.get(path).set(bearer(ADMIN_KEY)).expect(200);
    await t.http.get(path).set(bearer(mine.keys[0]!)).expect(200);
    await assertRefused(t, () => t.http.get(path).set(bearer(theirs.keys[0]!)), 403, 'forbidden', `${path} by another federation's owner`);
    await assertRefused(t, () => t.http.get(path), 401, 'unauthorized', `${path} anonymously`);
    await assertRefused(t, () => t.http.get(path).set(bearer('fsk_not-an-issued-owner-key')), 401, 'unauthorized', `${path} with an unknown key`);
  }
  // What the own owner downloads is the published aggregate.
  const weights = (await t.http.get(`/v1/federations/${mine.federationId}/models/1/weights`).set(bearer(mine.keys[0]!)).expect(200)).body.weights as number[];
  assert.deepEqual(weights, new Array(mine.featureCount + 1).fill(0.25));
});

test('a revoked operator key is refused everywhere it used to work, and writes nothing', async () => {
  const key = 'fso_revoked-operator-key-0123456789abcdefghij';
  await insertApiKey(t.database.prisma, { id: 'to-revoke', label: 'leaving', keyHash: hashSecret(key) });
  const { federationId } = await setupFederation(t, 1);
  await t.http.get(`/v1/federations/${federationId}`).set(bearer(key)).expect(200);
  // What `fedscore admin revoke-key` does: the row stays, marked revoked.
  await t.database.prisma.apiKey.update({ where: { id: 'to-revoke' }, data: { revokedAt: new Date() } });

  const cases: [string, () => supertest.Test][] = [
    ['create a federation', () => t.http.post('/v1/federations').set(bearer(key)).send(federationBody())],
    ['read a federation', () => t.http.get(`/v1/federations/${federationId}`).set(bearer(key))],
    ['open a round', () => t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(key)).send({})],
    ['rotate the enrolment token', () => t.http.post(`/v1/federations/${federationId}/enrolment-token`).set(bearer(key))],
    ['score records', () => t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(key)).send({ records: [{}] })],
    ['download weights', () => t.http.get(`/v1/federations/${federationId}/models/latest/weights`).set(bearer(key))],
  ];
  for (const [name, send] of cases) {
    const res = await assertRefused(t, send, 401, 'unauthorized', name);
    assert.match(String(res.body.detail), /unknown or revoked API key/, name);
  }
  // The environment key and other stored keys still work.
  await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200);
});

test('only the operator rotates an enrolment token; an owner who tries changes nothing and the token still works', async () => {
  const { federationId, enrolmentToken, keys } = await setupFederation(t, 1);
  const other = await setupFederation(t, 1);
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/enrolment-token`).set(bearer(keys[0]!)), 403, 'forbidden', 'its own owner');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/enrolment-token`).set(bearer(other.keys[0]!)), 403, 'forbidden', 'another federation’s owner');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/enrolment-token`), 401, 'unauthorized', 'anonymous');
  await t.http.post(`/v1/federations/${federationId}/owners`).send({ enrolmentToken, name: 'still welcome' }).expect(201);
});
