/**
 * GET /metrics: only the operator and the METRICS_TOKEN read it; requests are counted by route pattern
 * (never a raw path, so no federation id becomes a label); accepted submissions, settlements and
 * encrypted evaluations are counted as they happen; rounds by status are read from the database, so a
 * second instance over the same database reports the same counts while its own counters stay its own,
 * and a scrape when they cannot be counted still serves everything else. Figures are compared before and
 * after, never timed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeKeySession, createKeySession, encryptApplicants } from '../../src/crypto/ckks/client.js';
import { encodeMaterial } from '../../src/crypto/ckks/material.js';
import { ckksParamSet } from '../../src/crypto/ckks/params.js';
import { encodeFrames } from '../../src/schemas/ciphertext-frames.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, setupFederation, type TestApp } from '../helpers/app.js';

const METRICS_TOKEN = 'metrics-scraper-token-0123456789abcdef';
const training = { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 };

let t: TestApp;
before(async () => {
  t = await createTestApp({ env: { METRICS_TOKEN, HE_WORKERS: '1' } });
});
after(async () => t.close());

type Samples = Map<string, number>;

/** The exposition text as `name{label="value",…}` → value, labels in the order the server wrote them. */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

const series = (name: string, labels: Record<string, string> = {}) =>
  Object.keys(labels).length === 0 ? name : `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;

async function scrape(http = t.http): Promise<{ text: string; samples: Samples }> {
  const res = await http.get('/metrics').set(bearer(METRICS_TOKEN)).expect(200);
  return { text: res.text, samples: parse(res.text) };
}

/** How much each series grew between two scrapes (a series absent before counts from 0). */
const grew = (before: Samples, after: Samples, name: string, labels: Record<string, string> = {}) =>
  (after.get(series(name, labels)) ?? 0) - (before.get(series(name, labels)) ?? 0);

test('only the operator and the metrics token read /metrics, as Prometheus text; the token opens nothing else', async () => {
  const { federationId, keys } = await setupFederation(t, 1);
  const read = await t.http.post(`/v1/federations/${federationId}/api-keys`).set(bearer(ADMIN_KEY)).send({ label: 'dashboard', scopes: ['read'] }).expect(201);
  await assertRefused(t, () => t.http.get('/metrics'), 401, 'unauthorized', 'no key');
  await assertRefused(t, () => t.http.get('/metrics').set(bearer('not-the-metrics-token-0123456789')), 401, 'unauthorized', 'a wrong token');
  await assertRefused(t, () => t.http.get('/metrics').set(bearer(keys[0]!)), 403, 'forbidden', 'an owner key');
  await assertRefused(t, () => t.http.get('/metrics').set(bearer(read.body.apiKey)), 403, 'forbidden', 'a read key');
  for (const key of [ADMIN_KEY, METRICS_TOKEN]) {
    const res = await t.http.get('/metrics').set(bearer(key)).expect(200);
    assert.match(res.headers['content-type']!, /^text\/plain; version=0\.0\.4/);
    assert.match(res.text, /^# HELP /);
    // prom-client's process metrics are there too.
    assert.ok(parse(res.text).has('process_cpu_user_seconds_total'), 'process metrics');
  }
  await assertRefused(t, () => t.http.get('/v1/federations').set(bearer(METRICS_TOKEN)), 403, 'forbidden', 'the token on an operator route');
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}`).set(bearer(METRICS_TOKEN)), 403, 'forbidden', 'the token on a federation');
});

test('requests by route pattern, submissions by kind and settlements are counted; rounds by status come from the database', async () => {
  const { federationId, keys, featureCount } = await setupFederation(t, 2, { training });
  const start = (await scrape()).samples;
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  for (const [i, key] of keys.entries()) {
    const weights = Array.from({ length: featureCount + 1 }, (_, j) => ((i + j) % 5) / 10 - 0.2);
    await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(key)).send({ weights, numSamples: 10 }).expect(201);
  }
  // The round closed with the second update: a third is refused.
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: Array(featureCount + 1).fill(0), numSamples: 1 }).expect(409);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const { text, samples: end } = await scrape();

  assert.equal(grew(start, end, 'fedscore_submissions_accepted_total', { kind: 'update' }), 2, 'two updates accepted; the refused one is not counted');
  for (const kind of ['shares', 'statistics', 'evaluation', 'partial-sum']) assert.equal(grew(start, end, 'fedscore_submissions_accepted_total', { kind }), 0, kind);
  assert.equal(grew(start, end, 'fedscore_round_settlement_seconds_count', { aggregation: 'plain', kind: 'training' }), 1, 'one round settled');
  assert.equal(grew(start, end, 'fedscore_rounds', { status: 'closed' }), 1);
  assert.equal(grew(start, end, 'fedscore_rounds', { status: 'open' }), 1);
  const updates = { method: 'POST', route: '/v1/federations/:federationId/rounds/:roundNumber/updates' };
  assert.equal(grew(start, end, 'fedscore_http_requests_total', { ...updates, status_code: '201' }), 2);
  assert.equal(grew(start, end, 'fedscore_http_requests_total', { ...updates, status_code: '409' }), 1);
  assert.equal(grew(start, end, 'fedscore_http_request_duration_seconds_count', { ...updates, status_code: '201' }), 2);
  assert.ok(!text.includes(federationId), 'no raw path (nor any federation id) becomes a label');

  // Another instance over the same database: the same rounds, none of this instance's counts.
  const other = await t.startAnother();
  const { samples: elsewhere } = await scrape(other.http);
  for (const status of ['open', 'summing', 'closed', 'failed']) {
    assert.equal(elsewhere.get(series('fedscore_rounds', { status })), end.get(series('fedscore_rounds', { status })), `${status} rounds, from the database`);
  }
  assert.equal(elsewhere.get(series('fedscore_submissions_accepted_total', { kind: 'update' })), 0, 'its own counters');

  await other.close();

  // When the rounds cannot be counted, every other metric is still served, and no stale round counts.
  await t.database.prisma.$executeRawUnsafe('ALTER TABLE "Round" RENAME TO "RoundAway"');
  try {
    const { samples: degraded } = await scrape();
    assert.equal(degraded.get(series('fedscore_submissions_accepted_total', { kind: 'update' })), end.get(series('fedscore_submissions_accepted_total', { kind: 'update' })));
    assert.ok(degraded.has('process_cpu_user_seconds_total'));
    assert.deepEqual([...degraded.keys()].filter((name) => name.startsWith('fedscore_rounds')), []);
  } finally {
    await t.database.prisma.$executeRawUnsafe('ALTER TABLE "RoundAway" RENAME TO "Round"');
  }
  assert.equal((await scrape()).samples.get(series('fedscore_rounds', { status: 'closed' })), end.get(series('fedscore_rounds', { status: 'closed' })), 'counted again');
});

test('encrypted evaluations are counted and timed, and leave the queue empty', async () => {
  const { federationId, keys, featureCount } = await setupFederation(t, 1, { training: { ...training, minOwners: 1 } });
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const weights = Array.from({ length: featureCount + 1 }, (_, i) => ((i % 7) - 3) / 10);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights, numSamples: 1 }).expect(201);
  const keySession = await createKeySession(ckksParamSet('n4096'), 'batched', { kind: 'linear', inputSize: featureCount, units: 0 });
  try {
    const created = await t.http
      .post(`/v1/he-sessions?federationId=${federationId}`)
      .set(bearer(ADMIN_KEY))
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from(encodeMaterial(keySession.publicMaterial)))
      .expect(201);
    const start = (await scrape()).samples;
    const rows = [Float32Array.from({ length: featureCount }, (_, i) => Math.sin(i))];
    const body = Buffer.from(encodeFrames(encryptApplicants(keySession, rows)));
    for (let i = 0; i < 2; i++) {
      await t.http.post(`/v1/he-sessions/${created.body.id}/predictions`).set(bearer(ADMIN_KEY)).set('Content-Type', 'application/octet-stream').send(body).expect(200);
    }
    const end = (await scrape()).samples;
    assert.equal(grew(start, end, 'fedscore_he_evaluation_seconds_count'), 2);
    assert.ok(grew(start, end, 'fedscore_he_evaluation_seconds_sum') > 0);
    assert.equal(end.get('fedscore_he_queue_length'), 0);
  } finally {
    closeKeySession(keySession);
  }
});
