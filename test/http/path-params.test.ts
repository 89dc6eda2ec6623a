/**
 * Path parameters that are not what a route names — round 0 or −1, a version that is not a number, an
 * identifier with forbidden characters or longer than any id, a number beyond the database's 32-bit
 * columns — are refused with problem+json before any service runs, and change nothing.
 */
import { after, before, test } from 'node:test';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, setupFederation, type TestApp } from '../helpers/app.js';

let t: TestApp;
let federationId: string;
let ownerKey: string;
before(async () => {
  t = await createTestApp();
  const setup = await setupFederation(t, 1);
  federationId = setup.federationId;
  ownerKey = setup.keys[0]!;
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
});
after(async () => t.close());

const update = () => ({ weights: new Array(44).fill(0), numSamples: 1 });

test('round numbers: 0, negative, fractional, exponent, hex, blank and beyond 32 bits are validation failures', async () => {
  for (const bad of ['0', '-1', '1.5', '1e3', '0x1', '%20', '+1', 'abc', '2147483648', '99999999999999999999']) {
    await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/rounds/${bad}`).set(bearer(ADMIN_KEY)), 422, 'validation-failed', `GET round ${bad}`);
    await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/${bad}/updates`).set(bearer(ownerKey)).send(update()), 422, 'validation-failed', `POST update to round ${bad}`);
    await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/${bad}/close`).set(bearer(ADMIN_KEY)), 422, 'validation-failed', `close round ${bad}`);
  }
  // The largest 32-bit number is a well-formed round that does not exist (a 500 on PostgreSQL before).
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/rounds/2147483647`).set(bearer(ADMIN_KEY)), 404, 'round-not-found');
});

test('model versions: only "latest" or a decimal integer; " " is not version 0', async () => {
  for (const bad of ['abc', '-1', '1.0', '%20', '0x0', 'LATEST', '2147483648']) {
    for (const suffix of ['', '/weights']) {
      await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/models/${bad}${suffix}`).set(bearer(ADMIN_KEY)), 422, 'validation-failed', `model ${bad}${suffix}`);
    }
  }
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/models/2147483647`).set(bearer(ADMIN_KEY)), 404, 'model-version-not-found');
  await assertRefused(
    t,
    () => t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records: [{}], modelVersion: 2 ** 31 }),
    422,
    'validation-failed',
    'a prediction version beyond 32 bits',
  );
  await assertRefused(
    t,
    () => t.http.post(`/v1/he-sessions?federationId=${federationId}&modelVersion=1e0`).set(bearer(ADMIN_KEY)).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(8)),
    422,
    'validation-failed',
    'an HE session version in exponent form',
  );
});

test('identifiers: forbidden characters and over-long ids, up to past the router’s limit', async () => {
  const paths = (id: string) => [
    `/v1/federations/${id}`,
    `/v1/federations/${id}/rounds/1`,
    `/v1/federations/${federationId}/owners/${id}`,
    `/v1/he-sessions/${id}`,
  ];
  for (const id of ['a'.repeat(65), 'has.dot', 'has%20space', 'ünïcode']) {
    for (const path of paths(id)) await assertRefused(t, () => t.http.get(path).set(bearer(ADMIN_KEY)), 422, 'validation-failed', `GET ${path.slice(0, 60)}`);
  }
  // Longer than the router accepts: refused by the router itself, still as problem+json.
  for (const id of ['a'.repeat(101), 'b'.repeat(5000)]) {
    for (const path of paths(id)) await assertRefused(t, () => t.http.get(path).set(bearer(ADMIN_KEY)), 414, 'path-parameter-too-long', `GET ${path.slice(0, 60)}…`);
    await assertRefused(t, () => t.http.post(`/v1/federations/${id}/rounds/1/updates`).set(bearer(ownerKey)).send(update()), 414, 'path-parameter-too-long');
  }
});
