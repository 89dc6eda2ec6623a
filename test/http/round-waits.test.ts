/**
 * Waiting for a round to change (GET …/rounds/current?waitSeconds=N&after=TAG): an agent's request is held
 * while the round's tag equals `after` and answered as soon as the round moves on — through this instance
 * or another one on the same database — or when the wait runs out. Every check waits for the server to
 * hold the request before causing the change, so nothing depends on timing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, setupFederation, waitFor, type Instance, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp({ env: { ROUND_WAIT_POLL_MS: '50', ROUND_WAIT_MAX_WAITERS: '3' } })));
after(async () => t.close());

const training = { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: true, seed: 1 };
const current = (federationId: string, key: string, query = '', via: { http: TestApp['http'] } = t) =>
  via.http.get(`/v1/federations/${federationId}/rounds/current${query}`).set(bearer(key));
const held = (via: { app: TestApp['app'] } = t) => via.app.services.rounds.watch.waiting;

test('without a wait, or when the round already differs from `after`, the answer is immediate', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training });
  await assertRefused(t, () => current(federationId, keys[0]!), 404, 'no-rounds');
  await assertRefused(t, () => current(federationId, keys[0]!, '?waitSeconds=0&after=none'), 404, 'no-rounds');
  const opened = (await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body;
  assert.equal(opened.tag, '1:open');
  const differs = await current(federationId, keys[0]!, '?waitSeconds=30&after=none').expect(200);
  assert.equal(differs.body.tag, '1:open');
  assert.equal(held(), 0);
});

test('a waiting owner hears of the next round as soon as it opens, and of the close that auto-advances', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2, { training });
  const waiting = current(federationId, keys[0]!, '?waitSeconds=30&after=none').then((res) => res);
  await waitFor('the server to hold the request', async () => held() === 1);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const first = await waiting;
  assert.equal(first.status, 200);
  assert.equal(first.body.tag, '1:open');

  // A submission that does not move the round on does not wake anyone; the one that closes it does.
  const next = current(federationId, keys[1]!, '?waitSeconds=30&after=1:open').then((res) => res);
  await waitFor('the server to hold the request', async () => held() === 1);
  const weights = new Array(featureCount + 1).fill(0.5);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights, numSamples: 1 }).expect(201);
  assert.equal(held(), 1, 'still waiting after a submission that left the round open');
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[1]!)).send({ weights, numSamples: 1 }).expect(201);
  const advanced = await next;
  assert.equal(advanced.body.tag, '2:open', 'round 1 closed and autoAdvance opened round 2');
  assert.deepEqual(advanced.body.participation, { sampled: true, submitted: false, committeePosition: null, partialSumSubmitted: false });
});

test('a wait that sees no change answers with the round as it stands when the time is up', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training });
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const res = await current(federationId, keys[0]!, '?waitSeconds=1&after=1:open').expect(200);
  assert.equal(res.body.tag, '1:open');
  assert.equal(held(), 0);
  // Before any round: the wait ends in the same 404 an immediate answer gives.
  const empty = await setupFederation(t, 1, { training });
  await assertRefused(t, () => current(empty.federationId, empty.keys[0]!, '?waitSeconds=1&after=none'), 404, 'no-rounds');
});

test('a change made through another instance wakes a request waiting on this one', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training });
  let other: Instance | undefined;
  try {
    other = await t.startAnother();
    const waiting = current(federationId, keys[0]!, '?waitSeconds=30&after=none', other).then((res) => res);
    await waitFor('the other instance to hold the request', async () => held(other) === 1);
    await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
    assert.equal(held(), 0, 'nobody waited on the instance that opened the round');
    assert.equal((await waiting).body.tag, '1:open');
  } finally {
    await other?.close();
  }
});

test('an instance holding its limit of waiting requests answers 503 with Retry-After and writes nothing', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training });
  const waits = [0, 1, 0].map((i) => current(federationId, keys[i]!, '?waitSeconds=30&after=none').then((res) => res));
  await waitFor('three held requests', async () => held() === 3);
  const refused = await assertRefused(t, () => current(federationId, keys[1]!, '?waitSeconds=30&after=none'), 503, 'too-many-waiters');
  assert.equal(refused.headers['retry-after'], '2');
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  for (const res of await Promise.all(waits)) assert.equal(res.body.tag, '1:open');
});

test('a client that hangs up stops waiting; a shutdown answers every waiting request at once', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training });
  const controller = new AbortController();
  const url = new URL(`/v1/federations/${federationId}/rounds/current?waitSeconds=30&after=none`, await listening());
  const abandoned = fetch(url, { headers: bearer(keys[0]!), signal: controller.signal }).catch((error: Error) => error.name);
  await waitFor('the server to hold the request', async () => held() === 1);
  controller.abort();
  assert.equal(await abandoned, 'AbortError');
  await waitFor('the server to drop the abandoned request', async () => held() === 0);

  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const pending = fetch(new URL(`/v1/federations/${federationId}/rounds/current?waitSeconds=60&after=1:open`, await listening()), { headers: bearer(keys[0]!) });
  await waitFor('the server to hold the request', async () => held() === 1);
  await t.restart();
  const answered = await pending;
  assert.equal(answered.status, 200);
  assert.equal(((await answered.json()) as { tag: string }).tag, '1:open', 'answered with the round as it stood');
});

test('bad wait parameters are validation failures', async () => {
  const { federationId, keys } = await setupFederation(t, 1, { training });
  for (const query of ['?waitSeconds=61&after=none', '?waitSeconds=-1&after=none', '?waitSeconds=1.5&after=none', '?waitSeconds=5&after=open', '?waitSeconds=5&after=1:closing', '?wait=5']) {
    await assertRefused(t, () => current(federationId, keys[0]!, query), 422, 'validation-failed', query);
  }
});

/** The current instance's address, listening on a real port (supertest listens per request). */
async function listening(): Promise<string> {
  const server = t.app.server;
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('listening: no TCP address');
  return `http://127.0.0.1:${address.port}`;
}
