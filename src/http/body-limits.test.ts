/**
 * The body-limit table: each class maps to its configured limit, a body-carrying route the table does not
 * name stops the server from starting, and so does a route that sets its own limit or a stale entry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { bodyLimitFor, bodyLimits, bodyLimitsPlugin } from './body-limits.js';

const limits = { metadata: 10, bulk: 1000, he: 100_000 };

test('each class gets its own limit; routes without a body get the metadata one', () => {
  assert.equal(bodyLimitFor({ method: 'POST', url: '/v1/federations/:federationId/owners' }, limits), 10);
  assert.equal(bodyLimitFor({ method: 'POST', url: '/v1/federations/:federationId/rounds/:roundNumber/updates' }, limits), 1000);
  assert.equal(bodyLimitFor({ method: 'POST', url: '/v1/he-sessions/:sessionId/predictions' }, limits), 100_000);
  assert.equal(bodyLimitFor({ method: ['GET', 'HEAD'], url: '/v1/federations' }, limits), 10);
  assert.equal(bodyLimitFor({ method: 'OPTIONS', url: '*' }, limits), 10);
});

test('the metadata limit never exceeds BODY_LIMIT', () => {
  assert.deepEqual(bodyLimits({ BODY_LIMIT: 16 << 20, METADATA_BODY_LIMIT: 65_536, HE_BODY_LIMIT: 64 << 20 }), { metadata: 65_536, bulk: 16 << 20, he: 64 << 20 });
  assert.deepEqual(bodyLimits({ BODY_LIMIT: 4096, METADATA_BODY_LIMIT: 65_536, HE_BODY_LIMIT: 64 << 20 }), { metadata: 4096, bulk: 4096, he: 64 << 20 });
});

test('a body-carrying route missing from the table, or with its own limit, is refused', () => {
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    assert.throws(() => bodyLimitFor({ method, url: '/v1/new-thing' }, limits), new RegExp(`${method} /v1/new-thing takes a body but has no class`));
  }
  assert.throws(() => bodyLimitFor({ method: 'POST', url: '/v1/federations', bodyLimit: 5 }, limits), /sets its own bodyLimit/);
  assert.throws(() => bodyLimitFor({ method: 'GET', url: '/v1/federations', bodyLimit: 5 }, limits), /sets its own bodyLimit/);
});

test('the plugin refuses to start with an undeclared route, or with a declared class for a route that does not exist', async () => {
  const undeclared = Fastify({ logger: false });
  await undeclared.register(bodyLimitsPlugin, { limits });
  assert.throws(() => undeclared.post('/v1/new-thing', async () => ({})), /POST \/v1\/new-thing takes a body but has no class/);
  await undeclared.close();

  // Only one of the declared routes exists: every other entry is reported as stale.
  const partial = Fastify({ logger: false });
  await partial.register(bodyLimitsPlugin, { limits });
  partial.post('/v1/federations', async () => ({}));
  await assert.rejects(async () => partial.ready(), (error: Error) => {
    assert.match(error.message, /gives a body class to routes that do not exist/);
    assert.ok(error.message.includes('POST /v1/he-sessions;'), 'names a missing route');
    assert.ok(!error.message.includes('POST /v1/federations;'), 'does not name the route that exists');
    return true;
  });
  await partial.close();
});
