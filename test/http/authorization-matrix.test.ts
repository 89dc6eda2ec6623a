/**
 * The authorization matrix, generated from src/http/route-access.ts and proved against the running server:
 * every operation is tried with every kind of caller — no key, the operator, an owner, an aggregator node,
 * a scoped key of each scope, the metrics token, an owner and a scoped key of another federation, a revoked
 * scoped key — and
 * exactly the cells the table allows get past authorization (whatever they answer next: 2xx, 404, 422),
 * while every other cell is a 401 or 403 problem+json. An owner naming another owner in the path is
 * refused too. Each operation gets a fresh pair of federations, so an allowed call that changes something
 * (rotating a key, removing an owner) cannot disturb the next cell. docs/security.md prints the same table.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeKeySession, createKeySession } from '../../src/crypto/ckks/client.js';
import { encodeMaterial } from '../../src/crypto/ckks/material.js';
import { ckksParamSet } from '../../src/crypto/ckks/params.js';
import { ROUTE_ACCESS, type Role } from '../../src/http/route-access.js';
import { assertProblem, bearer, createTestApp, type TestApp } from '../helpers/app.js';
import { buildWorld, CALLERS, ROLE_CALLERS, sessionRow, WORLD_ENV, type Caller, type World } from '../helpers/world.js';

let t: TestApp;
/** Real public key material, so a session row reads back as a session. */
let material: Uint8Array<ArrayBuffer>;
before(async () => {
  t = await createTestApp({ env: { ...WORLD_ENV } });
  const keys = await createKeySession(ckksParamSet('n4096'), 'batched', { kind: 'linear', inputSize: 43, units: 0 });
  material = new Uint8Array(encodeMaterial(keys.publicMaterial));
  closeKeySession(keys);
});
after(async () => t.close());

/** The path with every parameter filled: the caller's own owner id where it has one, so "itself" rules pass. */
function fill(pattern: string, w: World, caller: Caller, ownerId?: string, sessionId = 'no-such-session'): string {
  const own = ownerId ?? (caller === 'aggregator' ? w.ids.aggregator : w.ids.owner);
  return pattern
    .replace(':federationId', w.federationId)
    .replace(':ownerId', own)
    .replace(':roundNumber', '1')
    .replace(':version', '0')
    .replace(':keyId', w.ids.spareKey)
    .replace(':sessionId', sessionId);
}

/**
 * An empty JSON body, except where the federation is known only to the service (named in the body, or
 * through the session): there a well-formed body, so a key of another federation meets the service's check.
 */
function bodyFor(operationId: string, w: World): object {
  if (operationId === 'createHeSession') return { federationId: w.federationId, material: 'AAAA' };
  if (operationId === 'predictEncrypted') return { ciphertexts: ['AAAA'] };
  return {};
}

function send(method: string, path: string, key: string | undefined, body: object = {}) {
  const request = t.http[method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'](path);
  if (key !== undefined) request.set(bearer(key));
  return method === 'POST' || method === 'PUT' ? request.send(body) : request;
}

/** Whether the table lets this caller in: its role is listed, and a non-operator key is of this federation. */
function allowed(roles: readonly Role[], caller: Caller): boolean {
  if (roles.includes('public')) return true;
  return ROLE_CALLERS.some((role) => role === caller && roles.includes(role));
}

test('every operation, every caller: exactly the allowed cells get past authorization', async () => {
  const documented = new Set(Object.values((t.app.swagger() as { paths: Record<string, Record<string, { operationId?: string }>> }).paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId)));
  assert.deepEqual([...documented].sort(), Object.values(ROUTE_ACCESS).map((entry) => entry.operationId).sort(), 'the table and the served operations are the same set');

  let cells = 0;
  for (const [route, access] of Object.entries(ROUTE_ACCESS)) {
    const [method, pattern] = route.split(' ') as [string, string];
    const w = await buildWorld(t);
    // First, before any allowed call rotates a key: an owner or node naming another party in the path is
    // refused, even where its role is allowed.
    if (pattern.includes(':ownerId')) {
      for (const caller of ['owner', 'aggregator'] as const) {
        if (!allowed(access.roles, caller)) continue;
        const res = await send(method, fill(pattern, w, caller, w.ids.otherOwner), w.keys[caller]);
        assertProblem(res, 403, 'forbidden', `${access.operationId} as ${caller} naming another owner`);
        cells++;
      }
    }
    for (const caller of CALLERS) {
      const key = caller === 'none' ? undefined : w.keys[caller];
      const sessionId = pattern.includes(':sessionId') ? await sessionRow(t.database, w, caller, material) : undefined;
      const res = await send(method, fill(pattern, w, caller, undefined, sessionId), key, bodyFor(access.operationId, w));
      const name = `${access.operationId} as ${caller}`;
      cells++;
      if (allowed(access.roles, caller)) {
        assert.ok(res.status !== 401 && res.status !== 403, `${name}: allowed by the table, answered ${res.status} ${res.body?.detail ?? ''}`);
        assert.ok(res.status < 500, `${name}: ${res.status}`);
      } else if (caller === 'none' || caller === 'revoked') {
        assertProblem(res, 401, 'unauthorized', name);
      } else {
        assertProblem(res, 403, 'forbidden', name);
      }
    }
  }
  assert.ok(cells >= Object.keys(ROUTE_ACCESS).length * CALLERS.length);
});
