/**
 * Security headers on every answer, a Content-Security-Policy that allows nothing on API responses and
 * what Swagger UI needs under /docs (which must keep working), and CORS only for the configured origins.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { ADMIN_KEY, bearer, createTestApp, cspDirectives as csp, type TestApp } from '../helpers/app.js';

const APP_ORIGIN = 'https://lender.example';

describe('security headers, CORS off (the default)', () => {
  let t: TestApp;
  before(async () => (t = await createTestApp()));
  after(async () => t.close());

  test('API answers, successes and problems alike, carry nosniff and a CSP that allows nothing', async () => {
    const answers = [
      await t.http.get('/healthz').expect(200),
      await t.http.get('/v1/federations').set(bearer(ADMIN_KEY)).expect(200),
      await t.http.get('/v1/federations/nope').set(bearer(ADMIN_KEY)).expect(404),
      await t.http.get('/v1/federations').expect(401),
    ];
    for (const res of answers) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.deepEqual(csp(res.headers['content-security-policy']), {
        'default-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'none'"],
        'frame-ancestors': ["'none'"],
      });
    }
  });

  test('Swagger UI and the OpenAPI document still answer, the UI under a policy that lets it load its own files', async () => {
    const page = await t.http.get('/docs/').expect(200);
    assert.match(page.text, /swagger-ui-bundle\.js/);
    const policy = csp(page.headers['content-security-policy']);
    assert.deepEqual(policy['default-src'], ["'self'"]);
    assert.deepEqual(policy['script-src'], ["'self'"], 'no inline or remote script');
    assert.ok(policy['style-src']?.includes("'unsafe-inline'"));
    assert.ok(policy['img-src']?.includes('data:'));
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    // Every script the page loads is served from 'self', which its policy allows.
    for (const src of [...page.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!)) {
      assert.ok(!/^[a-z]+:\/\//.test(src), `script ${src} is same-origin`);
      await t.http.get(new URL(src, 'http://x/docs/').pathname).expect(200);
    }
    const json = await t.http.get('/docs/json').expect(200);
    assert.equal(json.body.openapi, '3.1.0');
  });

  test('no CORS: no Access-Control-* headers, and a preflight is an ordinary 405', async () => {
    const res = await t.http.get('/v1/federations').set(bearer(ADMIN_KEY)).set('Origin', APP_ORIGIN).expect(200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const preflight = await t.http.options('/v1/federations').set('Origin', APP_ORIGIN).set('Access-Control-Request-Method', 'POST').expect(405);
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    assert.equal(preflight.headers['access-control-allow-methods'], undefined);
  });
});

describe('CORS_ORIGINS set', () => {
  let t: TestApp;
  before(async () => (t = await createTestApp({ env: { CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:5173` } })));
  after(async () => t.close());

  test('a listed origin may call the API and read its answers, problems and Retry-After included', async () => {
    const res = await t.http.get('/v1/federations').set(bearer(ADMIN_KEY)).set('Origin', APP_ORIGIN).expect(200);
    assert.equal(res.headers['access-control-allow-origin'], APP_ORIGIN);
    assert.match(res.headers['vary'] ?? '', /Origin/i);
    assert.match(res.headers['access-control-expose-headers'] ?? '', /retry-after/);
    const problem = await t.http.get('/v1/federations/nope').set(bearer(ADMIN_KEY)).set('Origin', 'http://localhost:5173').expect(404);
    assert.equal(problem.headers['access-control-allow-origin'], 'http://localhost:5173');
    const preflight = await t.http
      .options('/v1/federations')
      .set('Origin', APP_ORIGIN)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type');
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], APP_ORIGIN);
    assert.match(preflight.headers['access-control-allow-methods'] ?? '', /POST/);
    assert.match(preflight.headers['access-control-allow-headers'] ?? '', /authorization/);
    assert.equal(preflight.headers['access-control-allow-credentials'], undefined);
  });

  test('an origin not listed gets no CORS headers', async () => {
    const res = await t.http.get('/v1/federations').set(bearer(ADMIN_KEY)).set('Origin', 'https://evil.example').expect(200);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const preflight = await t.http.options('/v1/federations').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
  });

  test('an unknown path is still a 404 with CORS on: the preflight route does not make every path a 405', async () => {
    const res = await t.http.get('/v1/nothing-here').set(bearer(ADMIN_KEY)).expect(404);
    assert.equal(res.body.type, 'https://fedscore.dev/problems/route-not-found');
  });
});

test('CORS_ORIGINS must be origins: a path, a trailing slash or a bare word stops the server from starting', () => {
  assert.deepEqual(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).CORS_ORIGINS, ['https://a.example', 'http://localhost:5173']);
  assert.equal(loadConfig({ CORS_ORIGINS: '' }).CORS_ORIGINS, undefined);
  for (const bad of ['https://a.example/', 'https://a.example/app', 'lender', '*', 'ftp://a.example']) {
    assert.throws(() => loadConfig({ CORS_ORIGINS: bad }), /CORS_ORIGINS/, bad);
  }
});
