/**
 * What Fastify and its plugins answer by themselves — an unknown path, a known path with another method, a
 * body too large for its route, an over-long path parameter, headers too large for Node's parser, bytes
 * that are not HTTP, a body that is not JSON, a caller over its rate limit — leaves as RFC 9457
 * problem+json like every domain error, and changes nothing.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, federationBody, problem, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let t: TestApp;
let federationId: string;
let enrolmentToken: string;
let ownerKey: string;
before(async () => {
  t = await createTestApp();
  const setup = await setupFederation(t, 1);
  ({ federationId, enrolmentToken } = setup);
  ownerKey = setup.keys[0]!;
});
after(async () => t.close());

test('404: a path no route has', async () => {
  await assertRefused(t, () => t.http.get('/v1/nothing-here').set(bearer(ADMIN_KEY)), 404, 'route-not-found');
  await assertRefused(t, () => t.http.post('/v1/federations/x/nothing').set(bearer(ADMIN_KEY)).send({}), 404, 'route-not-found', 'POST to no route');
});

test('405: a known path with another method names the methods it has in Allow', async () => {
  const cases: [string, () => PromiseLike<{ status: number; headers: Record<string, string>; body: Record<string, unknown> }>, string][] = [
    ['DELETE /v1/federations', () => t.http.delete('/v1/federations').set(bearer(ADMIN_KEY)), 'GET, HEAD, POST'],
    ['PUT …/updates', () => t.http.put(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(ownerKey)).send({ weights: [0], numSamples: 1 }), 'POST'],
    ['GET …/owners/:ownerId/identity', () => t.http.get(`/v1/federations/${federationId}/owners/someone/identity`).set(bearer(ADMIN_KEY)), 'PUT'],
    ['PATCH /healthz', () => t.http.patch('/healthz').send({}), 'GET, HEAD'],
    ['POST /v1/he-sessions/:sessionId', () => t.http.post('/v1/he-sessions/abc').set(bearer(ADMIN_KEY)).send({}), 'DELETE, GET, HEAD'],
  ];
  for (const [name, send, allow] of cases) {
    const res = await assertRefused(t, send, 405, 'method-not-allowed', name);
    assert.equal(res.headers.allow, allow, `${name}: Allow`);
  }
  // A path that only looks like a route's (one segment too many) is still a 404, not a 405.
  await assertRefused(t, () => t.http.delete(`/v1/federations/${federationId}/charter/extra`).set(bearer(ADMIN_KEY)), 404, 'route-not-found');
});

test('413: a body over its route’s limit, here the 64 KiB of a metadata route', async () => {
  const body = { enrolmentToken, name: 'x' };
  const padded = JSON.stringify({ ...body, name: 'x'.repeat(64 * 1024 + 1 - JSON.stringify(body).length + 1) });
  assert.equal(Buffer.byteLength(padded), 64 * 1024 + 1);
  const res = await assertRefused(
    t,
    () => t.http.post(`/v1/federations/${federationId}/owners`).set('Content-Type', 'application/json').send(padded),
    413,
    'body-too-large',
  );
  assert.match(String(res.body.detail), /limit of 65536 bytes/);
});

test('414: a path parameter longer than the router takes', async () => {
  const res = await assertRefused(t, () => t.http.get(`/v1/federations/${'a'.repeat(101)}`).set(bearer(ADMIN_KEY)), 414, 'path-parameter-too-long');
  assert.doesNotMatch(JSON.stringify(res.body), /a{101}/, 'the over-long parameter is not echoed back');
});

test('431: headers larger than Node’s parser reads, refused before any route runs', async () => {
  const res = await assertRefused(t, () => t.http.get('/v1/federations').set('Authorization', `Bearer ${'a'.repeat(40_000)}`), 431, 'headers-too-large');
  assert.equal(res.body.status, 431);
  assert.doesNotMatch(JSON.stringify(res.body), /a{100}/, 'the header is not echoed back');
});

/** The app on a real port, for requests only a raw socket (or Node's own client) can make. */
let address: Promise<string> | undefined;
const listening = () => (address ??= t.app.listen({ port: 0, host: '127.0.0.1' }));

test('431 to HEAD: the problem’s headers without its body, so a client’s parser reads one whole answer', async () => {
  const { port } = new URL(await listening());
  const before = await snapshot(t.database);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(`HEAD /v1/federations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(40_000)}\r\n\r\n`));
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  const [head, body] = answer.split('\r\n\r\n');
  assert.match(head!, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assert.match(head!, /\r\nContent-Type: application\/problem\+json\r\n/i);
  assert.equal(body, '', 'nothing after the headers');
  // Node's own client, which refused the answer with a body ("Data after Connection: close"), reads this one.
  const status = await new Promise<number>((resolve, reject) =>
    request({ host: '127.0.0.1', port, method: 'HEAD', path: '/v1/federations', headers: { authorization: `Bearer ${'a'.repeat(40_000)}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    })
      .on('error', reject)
      .end(),
  );
  assert.equal(status, 431);
  assert.deepEqual(await snapshot(t.database), before);
});

test('400: bytes that are not an HTTP request, answered on the socket', async () => {
  const before = await snapshot(t.database);
  const { port } = new URL(await listening());
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  const [head, body] = answer.split('\r\n\r\n');
  assert.match(head!, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(head!, /\r\nContent-Type: application\/problem\+json\r\n/i);
  assert.deepEqual(JSON.parse(body!), { type: problem('bad-request'), title: 'Bad request', status: 400, detail: 'the request is not valid HTTP/1.1' });
  assert.deepEqual(await snapshot(t.database), before);
});

test('415: a body that is not JSON, text/plain included, is refused before validation', async () => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
    const res = await assertRefused(
      t,
      () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).set('Content-Type', type).send(JSON.stringify(federationBody())),
      415,
      'unsupported-media-type',
      type,
    );
    assert.match(String(res.body.detail), new RegExp(`POST /v1/federations: a body of media type "${type.replace('+', '\\+')}`));
  }
  await assertRefused(
    t,
    () => t.http.post(`/v1/federations/${federationId}/owners`).set('Content-Type', 'text/plain').send(JSON.stringify({ enrolmentToken, name: 'plain' })),
    415,
    'unsupported-media-type',
    'an enrolment as text/plain',
  );
  // The same body as JSON is accepted: the refusal was the media type's.
  await t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody()).expect(201);
});

test('429: over the rate limit, with Retry-After', async () => {
  const limited = await createTestApp({ env: { RATE_LIMIT_PER_IP: '1', RATE_LIMIT_WINDOW_SECONDS: '3600' } });
  try {
    await limited.http.get('/healthz').expect(200);
    const res = await assertRefused(limited, () => limited.http.get('/healthz'), 429, 'rate-limited');
    assert.equal(res.body.title, 'Too many requests');
    assert.equal(res.body.status, 429);
    assert.match(String(res.body.detail), /more than 1 requests in 3600 s/);
    assert.match(res.headers['retry-after'] ?? '', /^[1-9][0-9]*$/);
  } finally {
    await limited.close();
  }
});
