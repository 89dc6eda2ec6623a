/**
 * A world of callers, for tests that try operations as every kind of caller: a federation with data owners,
 * an aggregator node and a scoped key of each scope, a revoked key and a spare one, and another federation
 * with its own owner and scoped key. The authorization matrix proves which of them get past authorization;
 * the fuzz test sends its requests as them. Everything is made through the API, as a real deployment would
 * be, except encrypted-prediction sessions (`sessionRow`), whose creation is itself an operation under test.
 */
import type { Database } from '../../src/db/client.js';
import { ADMIN_KEY, bearer, setupFederation, type TestApp } from './app.js';

/** The Prometheus scraper's token: the app must be started with WORLD_ENV for the `metrics` caller to be one. */
export const METRICS_TOKEN = 'metrics-scraper-token-0123456789abcdef';

/**
 * What an app needs to host a world: the metrics token, and no per-address limit — hundreds of refused
 * requests come from one address (the limit is tested on its own, in rate-limits.test.ts).
 */
export const WORLD_ENV: Readonly<Record<string, string>> = { METRICS_TOKEN, RATE_LIMIT_PER_IP: '0' };

export type Caller =
  | 'none'
  | 'operator'
  | 'owner'
  | 'aggregator'
  | 'read'
  | 'predict'
  | 'he-predict'
  | 'metrics'
  | 'other-federation owner'
  | 'other-federation read'
  | 'revoked';

/** Every kind of caller. The operator goes last: its allowed calls may remove the owner whose key the others use. */
export const CALLERS: readonly Caller[] = ['none', 'owner', 'aggregator', 'read', 'predict', 'he-predict', 'metrics', 'other-federation owner', 'other-federation read', 'revoked', 'operator'];

/** The callers whose role is one of the table's roles when they call into their own federation. */
export const ROLE_CALLERS = ['operator', 'owner', 'aggregator', 'read', 'predict', 'he-predict', 'metrics'] as const satisfies readonly Caller[];

export interface Party {
  id: string;
  apiKey: string;
}

export interface World {
  federationId: string;
  enrolmentToken: string;
  otherFederationId: string;
  /** The key each caller sends; `owner` is the first of `owners`. */
  keys: Record<Exclude<Caller, 'none'>, string>;
  /** The id a session records as its creator, per caller that has one. */
  keyIds: Partial<Record<Caller, string>>;
  /** `owner` is owners[0], `otherOwner` owners[1]; `spareKey` a read key no caller uses, to revoke or rotate. */
  ids: { owner: string; aggregator: string; otherOwner: string; spareKey: string };
  /** Every data owner of the federation, in enrolment order. */
  owners: Party[];
  aggregator: Party;
}

export interface WorldOptions {
  /** Overrides of the federation's creation body (test/helpers/app.ts's federationBody). */
  federation?: Record<string, unknown>;
  /** Data owners to enrol; at least 2 (the matrix names one owner from another). */
  owners?: number;
}

export async function issueScopedKey(t: TestApp, federationId: string, scopes: string[], label = 'world'): Promise<{ id: string; apiKey: string }> {
  const res = await t.http.post(`/v1/federations/${federationId}/api-keys`).set(bearer(ADMIN_KEY)).send({ label, scopes }).expect(201);
  return { id: res.body.key.id, apiKey: res.body.apiKey };
}

/** A federation with one of every kind of caller, and another federation with its own owner and key. */
export async function buildWorld(t: TestApp, options: WorldOptions = {}): Promise<World> {
  const owners = options.owners ?? 2;
  if (owners < 2) throw new Error(`buildWorld: expected at least 2 owners, got ${owners}`);
  const main = await setupFederation(t, owners, options.federation);
  const aggregator = await t.http.post(`/v1/federations/${main.federationId}/owners`).send({ enrolmentToken: main.enrolmentToken, name: 'node', role: 'aggregator' }).expect(201);
  const other = await setupFederation(t, 1);
  const [read, predict, hePredict, revoked, spare, otherRead] = await Promise.all([
    issueScopedKey(t, main.federationId, ['read']),
    issueScopedKey(t, main.federationId, ['predict']),
    issueScopedKey(t, main.federationId, ['he-predict']),
    issueScopedKey(t, main.federationId, ['read', 'predict', 'he-predict']),
    issueScopedKey(t, main.federationId, ['read']),
    issueScopedKey(t, other.federationId, ['read', 'predict', 'he-predict']),
  ]);
  await t.http.delete(`/v1/federations/${main.federationId}/api-keys/${revoked.id}`).set(bearer(ADMIN_KEY)).expect(200);
  return {
    federationId: main.federationId,
    enrolmentToken: main.enrolmentToken,
    otherFederationId: other.federationId,
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
    owners: main.ownerIds.map((id, i) => ({ id, apiKey: main.keys[i]! })),
    aggregator: { id: aggregator.body.owner.id, apiKey: aggregator.body.apiKey },
  };
}

/**
 * An encrypted-prediction session in the world's federation opened by `caller`'s key, written directly so
 * the "only the key that opened it" rule passes for that caller. `material` must be real public key
 * material (src/crypto/ckks/material.ts) for the row to read back as a session.
 */
export async function sessionRow(database: Database, w: World, caller: Caller, material: Uint8Array<ArrayBuffer>): Promise<string> {
  const id = `session-${caller.replace(/\W/g, '-')}-${Math.random().toString(36).slice(2)}`;
  await database.prisma.heSession.create({
    data: { id, federationId: w.federationId, modelVersion: 0, creatorKeyId: w.keyIds[caller] ?? 'nobody', layout: 'batched', material, expiresAt: new Date(Date.now() + 3_600_000) },
  });
  return id;
}

/** Removes the world's federations and everything in them (owners, keys, rounds, models, sessions). */
export async function dropWorld(database: Database, w: World): Promise<void> {
  await database.prisma.federation.deleteMany({ where: { id: { in: [w.federationId, w.otherFederationId] } } });
}
