import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

test('GET /healthz answers ok', async () => {
  const res = await t.http.get('/healthz').expect(200);
  assert.deepEqual(res.body, { status: 'ok' });
});

test('GET /readyz checks the database', async () => {
  const res = await t.http.get('/readyz').expect(200);
  assert.equal(res.body.status, 'ready');
  assert.equal(res.body.database, t.database.provider);
});

test('the OpenAPI 3.1 document is served at /docs/json with every /v1 route', async () => {
  const res = await t.http.get('/docs/json').expect(200);
  assert.equal(res.body.openapi, '3.1.0');
  for (const route of [
    '/v1/federations',
    '/v1/federations/{federationId}/owners',
    '/v1/federations/{federationId}/rounds/{roundNumber}/updates',
    '/v1/federations/{federationId}/models/{version}/weights',
    '/v1/federations/{federationId}/predictions',
  ]) {
    assert.ok(res.body.paths[route], `missing ${route}`);
  }
  assert.ok(res.body.components.schemas.Problem);
});

test('Swagger UI is served at /docs', async () => {
  const res = await t.http.get('/docs/').redirects(1);
  assert.equal(res.status, 200);
  assert.match(res.text, /swagger/i);
});

test('an unknown route is a problem+json 404', async () => {
  const res = await t.http.get('/v1/nothing-here').expect(404);
  assert.match(res.headers['content-type']!, /application\/problem\+json/);
  assert.equal(res.body.type, 'https://fedscore.dev/problems/route-not-found');
});
