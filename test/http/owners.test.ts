import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

test('an owner enrols with the token and gets a key shown once, stored only as a hash', async () => {
  const { federationId, keys, ownerIds } = await setupFederation(t, 1);
  assert.match(keys[0]!, /^fsk_/);
  const stored = await t.database.prisma.owner.findUnique({ where: { id: ownerIds[0]! } });
  assert.notEqual(stored!.apiKeyHash, keys[0]);
  assert.equal(stored!.apiKeyHash.length, 64);
  const self = await t.http.get(`/v1/federations/${federationId}/owners/${ownerIds[0]}`).set(bearer(keys[0]!)).expect(200);
  assert.equal(self.body.id, ownerIds[0]);
  assert.equal(self.body.apiKey, undefined);
});

test('a wrong enrolment token is refused and writes nothing', async () => {
  const { federationId } = await setupFederation(t, 0);
  const before = await snapshot(t.database);
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/owners`).send({ enrolmentToken: 'fse_wrong', name: 'x' }), 401, 'unauthorized');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/owners`).send({ enrolmentToken: 'fse_wrong', name: 'x', extra: 1 }), 422, 'validation-failed');
  assert.deepEqual(await snapshot(t.database), before);
});

test('an owner cannot act for another owner', async () => {
  const { federationId, keys, ownerIds } = await setupFederation(t, 2);
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/owners/${ownerIds[1]}`).set(bearer(keys[0]!)), 403, 'forbidden', 'read another owner');
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/owners`).set(bearer(keys[0]!)), 403, 'forbidden', 'list the owners');
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/owners/no-such-owner`).set(bearer(ADMIN_KEY)), 404, 'owner-not-found', 'an unknown owner');
  const list = await t.http.get(`/v1/federations/${federationId}/owners`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(list.body.owners.length, 2);
});

test('a malformed Authorization header is a 401, not anonymous access', async () => {
  const { federationId } = await setupFederation(t, 0);
  for (const header of ['Basic abc', 'Bearer', 'Bearer two words', `Bearer ${ADMIN_KEY}x`]) {
    await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}`).set('Authorization', header), 401, 'unauthorized', header);
  }
  // …and an enrolment with a malformed header is refused before the token is even looked at.
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/owners`).set('Authorization', 'Basic abc').send({ enrolmentToken: 'fse_x', name: 'x' }), 401, 'unauthorized', 'enrolment');
});
