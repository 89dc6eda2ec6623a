/**
 * Scoped keys and owner keys: the operator issues a key for one federation and some scopes, lists,
 * revokes and rotates it; each scope opens exactly its routes, in its own federation; an owner rotates its
 * own key; the operator removes an owner, whose later submissions are refused while what it submitted
 * before is kept. Every refusal is problem+json and writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { countDataOwners, listDataOwnerIds } from '../../src/db/rounds.repository.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, crxRecord, setupFederation, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

async function issue(federationId: string, scopes: string[], label = 'lender scoring') {
  const res = await t.http.post(`/v1/federations/${federationId}/api-keys`).set(bearer(ADMIN_KEY)).send({ label, scopes }).expect(201);
  return { id: res.body.key.id as string, apiKey: res.body.apiKey as string, body: res.body };
}

const record = () => {
  const { A16: _label, ...features } = crxRecord();
  return features;
};

describe('scoped keys', () => {
  test('a predict key scores in its own federation and nothing else', async () => {
    const mine = await setupFederation(t, 1);
    const theirs = await setupFederation(t, 1);
    const key = await issue(mine.federationId, ['predict']);
    assert.match(key.apiKey, /^fsl_[A-Za-z0-9_-]{43}$/, '256 random bits, base64url, with the scoped prefix');
    assert.deepEqual(key.body.key.scopes, ['predict']);
    assert.equal(key.body.key.revokedAt, null);

    const scored = await t.http.post(`/v1/federations/${mine.federationId}/predictions`).set(bearer(key.apiKey)).send({ records: [record()] }).expect(200);
    assert.equal(scored.body.predictions.length, 1);

    const f = `/v1/federations/${mine.federationId}`;
    await assertRefused(t, () => t.http.post(`/v1/federations/${theirs.federationId}/predictions`).set(bearer(key.apiKey)).send({ records: [record()] }), 403, 'forbidden', 'another federation');
    await assertRefused(t, () => t.http.get(f).set(bearer(key.apiKey)), 403, 'forbidden', 'reading without the read scope');
    await assertRefused(t, () => t.http.get(`${f}/models/latest/weights`).set(bearer(key.apiKey)), 403, 'forbidden', 'weights');
    await assertRefused(t, () => t.http.post(`${f}/rounds`).set(bearer(key.apiKey)).send({}), 403, 'forbidden', 'opening a round');
    await assertRefused(t, () => t.http.post(`${f}/api-keys`).set(bearer(key.apiKey)).send({ label: 'escalate', scopes: ['read'] }), 403, 'forbidden', 'issuing keys');
    await assertRefused(t, () => t.http.post('/v1/he-sessions').set(bearer(key.apiKey)).send({ federationId: mine.federationId, material: 'AAAA' }), 403, 'forbidden', 'an HE session');
    const refused = await assertRefused(t, () => t.http.get(`${f}/owners`).set(bearer(key.apiKey)), 403, 'forbidden', 'owners');
    assert.match(String(refused.body.detail), /listOwners: requires the operator key; this key is a scoped key with predict/);
  });

  test('a read key reads the federation, its rounds and model metadata, never weights, owners or the validation set', async () => {
    const { federationId } = await setupFederation(t, 1);
    const key = await issue(federationId, ['read']);
    const f = `/v1/federations/${federationId}`;
    for (const path of [f, `${f}/rounds`, `${f}/models`, `${f}/models/latest`, `${f}/models/0`]) await t.http.get(path).set(bearer(key.apiKey)).expect(200);
    for (const path of [`${f}/models/latest/weights`, `${f}/owners`, `${f}/validation`, `${f}/api-keys`]) {
      await assertRefused(t, () => t.http.get(path).set(bearer(key.apiKey)), 403, 'forbidden', path);
    }
    await assertRefused(t, () => t.http.post(`${f}/predictions`).set(bearer(key.apiKey)).send({ records: [record()] }), 403, 'forbidden', 'scoring');
  });

  test('listing shows every key of the federation without its secret; revoking stops it at once; rotating replaces the secret', async () => {
    const { federationId } = await setupFederation(t, 1);
    const other = await setupFederation(t, 1);
    const a = await issue(federationId, ['predict', 'read'], 'scoring system');
    const b = await issue(federationId, ['read'], 'dashboard');
    await issue(other.federationId, ['read'], 'elsewhere');
    const listed = await t.http.get(`/v1/federations/${federationId}/api-keys`).set(bearer(ADMIN_KEY)).expect(200);
    assert.deepEqual(listed.body.keys.map((k: { label: string }) => k.label), ['scoring system', 'dashboard']);
    assert.ok(!JSON.stringify(listed.body).includes(a.apiKey.slice(4)), 'no secret in the list');
    const stored = await t.database.prisma.apiKey.findUniqueOrThrow({ where: { id: a.id } });
    assert.notEqual(stored.keyHash, a.apiKey, 'only a hash is stored');
    assert.ok(!stored.keyHash.includes(a.apiKey.slice(4, 20)));

    const rotated = await t.http.post(`/v1/federations/${federationId}/api-keys/${a.id}/rotation`).set(bearer(ADMIN_KEY)).expect(200);
    assert.equal(rotated.body.key.id, a.id);
    assert.deepEqual(rotated.body.key.scopes, ['predict', 'read']);
    assert.notEqual(rotated.body.apiKey, a.apiKey);
    await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}`).set(bearer(a.apiKey)), 401, 'unauthorized', 'the old secret');
    await t.http.get(`/v1/federations/${federationId}`).set(bearer(rotated.body.apiKey)).expect(200);

    const revoked = await t.http.delete(`/v1/federations/${federationId}/api-keys/${b.id}`).set(bearer(ADMIN_KEY)).expect(200);
    assert.ok(revoked.body.revokedAt);
    await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}`).set(bearer(b.apiKey)), 401, 'unauthorized', 'a revoked key');
    await assertRefused(t, () => t.http.delete(`/v1/federations/${federationId}/api-keys/${b.id}`).set(bearer(ADMIN_KEY)), 409, 'api-key-revoked', 'revoking twice');
    await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/api-keys/${b.id}/rotation`).set(bearer(ADMIN_KEY)), 409, 'api-key-revoked', 'rotating a revoked key');
    await assertRefused(t, () => t.http.delete(`/v1/federations/${other.federationId}/api-keys/${a.id}`).set(bearer(ADMIN_KEY)), 404, 'api-key-not-found', 'another federation’s key');
    await assertRefused(t, () => t.http.delete(`/v1/federations/${federationId}/api-keys/no-such-key`).set(bearer(ADMIN_KEY)), 404, 'api-key-not-found', 'an unknown key');
    await assertRefused(t, () => t.http.get(`/v1/federations/no-such-federation/api-keys`).set(bearer(ADMIN_KEY)), 404, 'federation-not-found', 'an unknown federation');
  });

  test('bad key requests are 422 and issue nothing', async () => {
    const { federationId } = await setupFederation(t, 1);
    const url = `/v1/federations/${federationId}/api-keys`;
    for (const [name, body] of [
      ['no scopes', { label: 'x', scopes: [] }],
      ['an unknown scope', { label: 'x', scopes: ['admin'] }],
      ['a scope twice', { label: 'x', scopes: ['read', 'read'] }],
      ['a blank label', { label: '  ', scopes: ['read'] }],
      ['an unknown field', { label: 'x', scopes: ['read'], federationId: 'other' }],
    ] as const) {
      await assertRefused(t, () => t.http.post(url).set(bearer(ADMIN_KEY)).send(body), 422, 'validation-failed', name);
    }
  });
});

describe('owner keys', () => {
  test('an owner rotates its own key: the new one works, the old one no longer does; nobody else may rotate it', async () => {
    const { federationId, keys, ownerIds } = await setupFederation(t, 2);
    const url = (ownerId: string) => `/v1/federations/${federationId}/owners/${ownerId}/key-rotation`;
    await assertRefused(t, () => t.http.post(url(ownerIds[0]!)).set(bearer(keys[1]!)), 403, 'forbidden', 'another owner');
    await assertRefused(t, () => t.http.post(url(ownerIds[0]!)).set(bearer(ADMIN_KEY)), 403, 'forbidden', 'the operator');
    const rotated = await t.http.post(url(ownerIds[0]!)).set(bearer(keys[0]!)).expect(200);
    assert.match(rotated.body.apiKey, /^fsk_/);
    assert.equal(rotated.body.owner.id, ownerIds[0]);
    await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/owners/${ownerIds[0]}`).set(bearer(keys[0]!)), 401, 'unauthorized', 'the old key');
    await t.http.get(`/v1/federations/${federationId}/owners/${ownerIds[0]}`).set(bearer(rotated.body.apiKey)).expect(200);
  });

  test('a removed owner is refused from then on, no longer counted, and what it submitted before is kept', async () => {
    const training = { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 3, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 };
    const { federationId, keys, ownerIds, featureCount } = await setupFederation(t, 3, { training });
    const f = `/v1/federations/${federationId}`;
    await t.http.post(`${f}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
    const update = (value: number) => ({ weights: new Array(featureCount + 1).fill(value), numSamples: 1 });
    await t.http.post(`${f}/rounds/1/updates`).set(bearer(keys[0]!)).send(update(0.5)).expect(201);

    await assertRefused(t, () => t.http.delete(`${f}/owners/${ownerIds[0]}`).set(bearer(keys[1]!)), 403, 'forbidden', 'an owner removing another');
    const removed = await t.http.delete(`${f}/owners/${ownerIds[0]}`).set(bearer(ADMIN_KEY)).expect(200);
    assert.ok(removed.body.removedAt);
    const refused = await assertRefused(t, () => t.http.get(`${f}/rounds/current`).set(bearer(keys[0]!)), 401, 'unauthorized', 'the removed owner');
    assert.match(String(refused.body.detail), /was removed from federation/);
    await assertRefused(t, () => t.http.delete(`${f}/owners/${ownerIds[0]}`).set(bearer(ADMIN_KEY)), 409, 'owner-removed', 'removing twice');
    await assertRefused(t, () => t.http.delete(`${f}/owners/no-such-owner`).set(bearer(ADMIN_KEY)), 404, 'owner-not-found', 'an unknown owner');

    // The accepted update stays in the round; the two remaining owners complete it (minOwners 3 counts the kept one).
    await t.http.post(`${f}/rounds/1/updates`).set(bearer(keys[1]!)).send(update(0.25)).expect(201);
    await t.http.post(`${f}/rounds/1/updates`).set(bearer(keys[2]!)).send(update(0.25)).expect(201);
    const round = await t.http.get(`${f}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200);
    assert.equal(round.body.status, 'closed');
    assert.equal(round.body.submissionCount, 3);
    const weights = (await t.http.get(`${f}/models/1/weights`).set(bearer(ADMIN_KEY)).expect(200)).body.weights as number[];
    assert.ok(Math.abs(weights[0]! - 1 / 3) < 1e-6, 'the removed owner’s accepted update is in the average');
    // Listed with removedAt; no longer counted as a data owner for the next round.
    const owners = (await t.http.get(`${f}/owners`).set(bearer(ADMIN_KEY)).expect(200)).body.owners as { id: string; removedAt: string | null }[];
    assert.deepEqual(owners.map((o) => o.removedAt !== null), [true, false, false]);
    assert.equal(await countDataOwners(t.database.prisma, federationId), 2, 'who later rounds may ask');
    assert.deepEqual(await listDataOwnerIds(t.database.prisma, federationId), ownerIds.slice(1).sort(), 'who a sampled round draws from');
  });
});
