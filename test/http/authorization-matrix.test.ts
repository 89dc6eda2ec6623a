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
import { ADMIN_KEY, assertProblem, bearer, createTestApp, setupFederation, type TestApp } from '../helpers/app.js';

let t: TestApp;
/** Real public key material, so a session row reads back as a session. */
let material: Uint8Array<ArrayBuffer>;
const METRICS_TOKEN = 'metrics-scraper-token-0123456789abcdef';
before(async () => {
  // Hundreds of refused requests from one address: the per-address rate limit (tested on its own) is off here.
  t = await createTestApp({ env: { METRICS_TOKEN, RATE_LIMIT_PER_IP: '0' } });
  const keys = await createKeySession(ckksParamSet('n4096'), 'batched', { kind: 'linear', inputSize: 43, units: 0 });
  material = new Uint8Array(encodeMaterial(keys.publicMaterial));
  closeKeySession(keys);
});
after(async () => t.close());

type Caller = 'none' | 'operator' | 'owner' | 'aggregator' | 'read' | 'predict' | 'he-predict' | 'metrics' | 'other-federation owner' | 'other-federation read' | 'revoked';
/** The operator goes last: its allowed calls may remove the owner whose key the other cells use. */
const CALLERS: readonly Caller[] = ['none', 'owner', 'aggregator', 'read', 'predict', 'he-predict', 'metrics', 'other-federation owner', 'other-federation read', 'revoked', 'operator'];

interface World {
  federationId: string;
  keys: Record<Exclude<Caller, 'none'>, string>;
  /** The id a session records as its creator, per caller that has one. */
  keyIds: Partial<Record<Caller, string>>;
  ids: { owner: string; aggregator: string; otherOwner: string; spareKey: string };
}

async function scopedKey(federationId: string, scopes: string[]): Promise<{ id: string; apiKey: string }> {
  const res = await t.http.post(`/v1/federations/${federationId}/api-keys`).set(bearer(ADMIN_KEY)).send({ label: 'matrix', scopes }).expect(201);
  return { id: res.body.key.id, apiKey: res.body.apiKey };
}

/** A federation with one of every kind of caller, and another federation with its own owner and key. */
async function world(): Promise<World> {
  const main = await setupFederation(t, 2);
  const aggregator = await t.http.post(`/v1/federations/${main.federationId}/owners`).send({ enrolmentToken: main.enrolmentToken, name: 'node', role: 'aggregator' }).expect(201);
  const other = await setupFederation(t, 1);
  const [read, predict, hePredict, revoked, spare, otherRead] = await Promise.all([
    scopedKey(main.federationId, ['read']),
    scopedKey(main.federationId, ['predict']),
    scopedKey(main.federationId, ['he-predict']),
    scopedKey(main.federationId, ['read', 'predict', 'he-predict']),
    scopedKey(main.federationId, ['read']),
    scopedKey(other.federationId, ['read', 'predict', 'he-predict']),
  ]);
  await t.http.delete(`/v1/federations/${main.federationId}/api-keys/${revoked.id}`).set(bearer(ADMIN_KEY)).expect(200);
  return {
    federationId: main.federationId,
    keys: {
      operator: ADMIN_KEY,
      owner: main.keys[0]!,
      aggregator: aggregator.body.apiKey,
      read: read.apiKey,
      predict: predict.apiKey,
      'he-predict': hePredict.apiKey,
      metrics: METRICS_TOKEN,
      'other-federation owner': other.keys[0]!,
      'other-federation read': otherRead.apiKey,
      revoked: revoked.apiKey,
    },
    keyIds: { operator: 'env', read: read.id, predict: predict.id, 'he-predict': hePredict.id, 'other-federation read': otherRead.id, revoked: revoked.id },
    ids: { owner: main.ownerIds[0]!, aggregator: aggregator.body.owner.id, otherOwner: main.ownerIds[1]!, spareKey: spare.id },
  };
}

/**
 * A session in this world's federation opened by `caller`'s key (written directly: opening one over HTTP
 * is itself a cell), so the "only the key that opened it" rule passes for the caller being tried.
 */
async function sessionOf(w: World, caller: Caller): Promise<string> {
  const id = `session-${caller.replace(/\W/g, '-')}-${Math.random().toString(36).slice(2)}`;
  await t.database.prisma.heSession.create({
    data: { id, federationId: w.federationId, modelVersion: 0, creatorKeyId: w.keyIds[caller] ?? 'nobody', layout: 'batched', material, expiresAt: new Date(Date.now() + 3_600_000) },
  });
  return id;
}

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
  return (['operator', 'owner', 'aggregator', 'read', 'predict', 'he-predict', 'metrics'] as const).some((role) => role === caller && roles.includes(role));
}

test('every operation, every caller: exactly the allowed cells get past authorization', async () => {
  const documented = new Set(Object.values((t.app.swagger() as { paths: Record<string, Record<string, { operationId?: string }>> }).paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId)));
  assert.deepEqual([...documented].sort(), Object.values(ROUTE_ACCESS).map((entry) => entry.operationId).sort(), 'the table and the served operations are the same set');

  let cells = 0;
  for (const [route, access] of Object.entries(ROUTE_ACCESS)) {
    const [method, pattern] = route.split(' ') as [string, string];
    const w = await world();
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
      const sessionId = pattern.includes(':sessionId') ? await sessionOf(w, caller) : undefined;
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
