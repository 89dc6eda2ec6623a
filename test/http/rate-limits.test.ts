/**
 * Rate limits: a valid API key has its own budget of requests per window, everything else counts against
 * its IP address; over the budget the answer is a 429 rate-limited problem with Retry-After, before the
 * request does anything. A limit of 0 turns that limit off. The window is an hour here, so it cannot roll
 * over during a test and no timing is involved.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { rateLimitBucket } from '../../src/http/plugins/rate-limit.plugin.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, setupFederation, type TestApp } from '../helpers/app.js';

const WINDOW = 3600;
const apps: TestApp[] = [];
after(async () => {
  for (const app of apps) await app.close();
});

async function appWith(perKey: number, perIp: number): Promise<TestApp> {
  const t = await createTestApp({ env: { RATE_LIMIT_PER_KEY: String(perKey), RATE_LIMIT_PER_IP: String(perIp), RATE_LIMIT_WINDOW_SECONDS: String(WINDOW) } });
  apps.push(t);
  return t;
}

function assertRetryAfter(res: { headers: Record<string, string> }): void {
  const seconds = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= WINDOW, `Retry-After ${res.headers['retry-after']} is whole seconds within the window`);
}

test('without a key, requests count against the address: enrolment, health and charters share its limit', async () => {
  const t = await appWith(1000, 3);
  const { federationId, enrolmentToken } = await setupFederation(t, 0);
  const enrol = (name: string) => t.http.post(`/v1/federations/${federationId}/owners`).send({ enrolmentToken, name });
  const first = await enrol('first').expect(201);
  assert.equal(first.headers['x-ratelimit-limit'], '3');
  assert.equal(first.headers['x-ratelimit-remaining'], '2');
  await t.http.get(`/v1/federations/${federationId}/charter`).expect(200);
  await t.http.get('/healthz').expect(200);

  const refused = await assertRefused(t, () => enrol('one too many'), 429, 'rate-limited', 'an enrolment over the limit');
  assertRetryAfter(refused);
  assert.match(String(refused.body.detail), /more than 3 requests in 3600 s from this address/);
  await assertRefused(t, () => t.http.get('/healthz'), 429, 'rate-limited', 'health over the limit');
  // Keys have budgets of their own: the operator and the owner that enrolled are not held back.
  await t.http.get('/v1/federations').set(bearer(ADMIN_KEY)).expect(200);
  await t.http.get(`/v1/federations/${federationId}/owners/${first.body.owner.id}`).set(bearer(first.body.apiKey)).expect(200);
});

test('with a key, requests count against that key alone', async () => {
  const t = await appWith(3, 1000);
  const { federationId, keys, ownerIds } = await setupFederation(t, 2);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const [busy, quiet] = keys as [string, string];
  for (let i = 0; i < 3; i++) await t.http.get(`/v1/federations/${federationId}/owners/${ownerIds[0]}`).set(bearer(busy)).expect(200);
  const update = { weights: new Array(44).fill(0), numSamples: 1 };
  const refused = await assertRefused(
    t,
    () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(busy)).send(update),
    429,
    'rate-limited',
    'an update over the key’s limit',
  );
  assertRetryAfter(refused);
  assert.match(String(refused.body.detail), /from this API key/);
  // Another owner, the operator and anonymous callers from the same address are unaffected.
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(quiet)).send(update).expect(201);
  await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200);
  await t.http.get('/healthz').expect(200);
});

test('a limit of 0 is no limit; with both at 0 the limiter is not installed', async () => {
  const t = await appWith(0, 2);
  const { federationId, keys } = await setupFederation(t, 1);
  // setupFederation's enrolment used one of the address's two requests; the key has no limit at all.
  for (let i = 0; i < 10; i++) await t.http.get(`/v1/federations/${federationId}`).set(bearer(keys[0]!)).expect(200);
  await t.http.get('/healthz').expect(200);
  await assertRefused(t, () => t.http.get('/healthz'), 429, 'rate-limited');

  const open = await appWith(0, 0);
  for (let i = 0; i < 10; i++) {
    const res = await open.http.get('/healthz').expect(200);
    assert.equal(res.headers['x-ratelimit-limit'], undefined);
  }
});

test('a bucket is the SHA-256 of an accepted key, never the key; a key nobody accepted counts as its address, IPv6 by its /64', () => {
  const token = 'fso_an-operator-key-for-this-test-0123456789';
  const header = { authorization: `Bearer ${token}` };
  const bucket = rateLimitBucket({ headers: header, ip: '192.0.2.7', principal: { kind: 'operator' } });
  assert.equal(bucket, `key:${createHash('sha256').update(token).digest('hex')}`);
  assert.ok(!bucket.includes(token));
  // Outside /v1 (no principal) and for an anonymous principal, the address decides.
  assert.equal(rateLimitBucket({ headers: header, ip: '192.0.2.7' }), 'ip:192.0.2.7');
  assert.equal(rateLimitBucket({ headers: header, ip: '192.0.2.7', principal: { kind: 'anonymous' } }), 'ip:192.0.2.7');
  // IPv6 addresses count by their /64, and an IPv4-mapped one as the IPv4 address.
  assert.equal(rateLimitBucket({ headers: {}, ip: '2001:db8:0:1::1' }), rateLimitBucket({ headers: {}, ip: '2001:db8:0:1:ffff::2' }));
  assert.notEqual(rateLimitBucket({ headers: {}, ip: '2001:db8:0:1::1' }), rateLimitBucket({ headers: {}, ip: '2001:db8:0:2::1' }));
  assert.equal(rateLimitBucket({ headers: {}, ip: '::ffff:192.0.2.7' }), 'ip:192.0.2.7');
});

test('guessing keys counts against the address: wrong and revoked keys are refused 401 until the address is over its limit, then 429', async () => {
  const t = await appWith(1000, 3);
  const { federationId } = await setupFederation(t, 0);
  const guess = (n: number) => t.http.get(`/v1/federations/${federationId}`).set(bearer(`fso_guess-${n}-0123456789abcdefghijklmnop`));
  for (let n = 0; n < 3; n++) await assertRefused(t, () => guess(n), 401, 'unauthorized', `guess ${n}`);
  const limited = await assertRefused(t, () => guess(3), 429, 'rate-limited', 'the fourth guess');
  assertRetryAfter(limited);
  // The operator's own accepted key has its own budget, untouched by the guesses.
  await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200);
});

test('behind a trusted proxy each client address has its own limit; an untrusted X-Forwarded-For changes nothing', async () => {
  const behindProxy = await createTestApp({ env: { RATE_LIMIT_PER_KEY: '1000', RATE_LIMIT_PER_IP: '2', RATE_LIMIT_WINDOW_SECONDS: String(WINDOW), TRUST_PROXY: '127.0.0.1,::1,::ffff:127.0.0.1' } });
  apps.push(behindProxy);
  const from = (t: TestApp, client: string) => t.http.get('/healthz').set('X-Forwarded-For', client);
  for (let n = 0; n < 2; n++) await from(behindProxy, '203.0.113.7').expect(200);
  await assertRefused(behindProxy, () => from(behindProxy, '203.0.113.7'), 429, 'rate-limited', 'the third request of one client');
  await from(behindProxy, '198.51.100.9').expect(200);

  // Without TRUST_PROXY the header is the client's word, not the proxy's: every request counts as the connection's.
  const direct = await appWith(1000, 2);
  await from(direct, '203.0.113.7').expect(200);
  await from(direct, '198.51.100.9').expect(200);
  await assertRefused(direct, () => from(direct, '192.0.2.1'), 429, 'rate-limited', 'a spoofed X-Forwarded-For');
});
