/**
 * Request ids: every answer — a success, a refusal, the router's own 414 — carries X-Request-Id, which is
 * the caller's when it sent a sane token and a fresh UUID otherwise, and every log line written for the
 * request carries the same id as `reqId`. The log is captured in memory, at trace level.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, bearer, createTestApp, federationBody, type TestApp } from '../helpers/app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let t: TestApp;
const lines: Record<string, unknown>[] = [];
before(async () => {
  t = await createTestApp({ log: { level: 'trace', stream: { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) } } });
});
after(async () => t.close());

/** The log lines written for one request id. */
const linesOf = (id: string) => lines.filter((line) => line.reqId === id);

function assertLogged(id: string, status: number): void {
  const mine = linesOf(id);
  assert.ok(mine.some((line) => line.msg === 'incoming request'), `${id}: the request's first line carries its id`);
  assert.ok(
    mine.some((line) => line.msg === 'request completed' && (line.res as { statusCode: number }).statusCode === status),
    `${id}: the line saying how it ended carries its id`,
  );
}

test('a sane X-Request-Id is echoed on success and on every kind of refusal, and names the request’s log lines', async () => {
  const cases: [string, () => Promise<{ status: number; headers: Record<string, string> }>, number][] = [
    ['ok-1', () => t.http.get('/healthz').set('X-Request-Id', 'ok-1'), 200],
    ['created.2', () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).set('X-Request-Id', 'created.2').send(federationBody()), 201],
    ['no-key:3', () => t.http.get('/v1/federations').set('X-Request-Id', 'no-key:3'), 401],
    ['no_route_4', () => t.http.get('/v1/nothing-here').set('X-Request-Id', 'no_route_4'), 404],
    ['invalid-5', () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).set('X-Request-Id', 'invalid-5').send({ name: 1 }), 422],
    ['bad-json-6', () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).set('X-Request-Id', 'bad-json-6').set('Content-Type', 'application/json').send('{"name":'), 400],
    // The router refuses this before any hook runs.
    ['too-long-7', () => t.http.get(`/v1/federations/${'x'.repeat(200)}`).set('X-Request-Id', 'too-long-7'), 414],
  ];
  for (const [id, send, status] of cases) {
    const res = await send();
    assert.equal(res.status, status, id);
    assert.equal(res.headers['x-request-id'], id, `${id}: echoed`);
    if (status >= 400) assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/, `${id}: a problem`);
    assertLogged(id, status);
  }
});

test('without a sane X-Request-Id each request gets a fresh UUID, in the answer and in its log lines', async () => {
  const ids: string[] = [];
  for (const header of [undefined, 'has space', 'x'.repeat(129), 'quote"', '']) {
    const request = t.http.get('/v1/federations');
    if (header !== undefined) request.set('X-Request-Id', header);
    const res = await request.expect(401);
    const id = res.headers['x-request-id']!;
    assert.match(id, UUID, `for ${JSON.stringify(header)}`);
    assertLogged(id, 401);
    ids.push(id);
  }
  assert.equal(new Set(ids).size, ids.length, 'a fresh id per request');
});

test('every line written about a request names it', () => {
  const aboutARequest = lines.filter((line) => 'req' in line || 'res' in line || 'responseTime' in line);
  assert.ok(aboutARequest.length >= 24, `the tests above wrote ${aboutARequest.length} request lines`);
  for (const line of aboutARequest) assert.equal(typeof line.reqId, 'string', JSON.stringify(line));
});
