/**
 * The hot statements (hot-sql.ts) must give exactly the records Prisma gives: every repository read with a
 * hot path is run on the root client (hot) and inside a transaction (Prisma) over rows holding every kind
 * of value — nulls and not, bytes, booleans, dates with milliseconds, JSON text — on this test's database.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTestDatabase } from '../../test/helpers/database.js';
import { findActiveApiKey } from './api-keys.repository.js';
import { openDatabase } from './client.js';
import type { DbClient } from './db-client.js';
import { findFederation } from './federations.repository.js';
import { hotSqlOf } from './hot-sql.js';
import { findModelWeights } from './models.repository.js';
import { findOwnerByKeyHash } from './owners.repository.js';
import { acceptContributionsNow, findRound, hasShares, hasUpdate, listCommitteeSeats, listInbox, shareEnvelopeRows, updateRows } from './rounds.repository.js';
import { federationsWithValidationSets } from './validation-sets.repository.js';

test('every hot read returns what Prisma returns, and transactions keep using Prisma', async (t) => {
  const { db } = await openTestDatabase(t);
  const p = db.prisma;
  const at = (ms: number) => new Date(Date.UTC(2026, 10, 30, 12, 0, 0, ms));
  await p.federation.create({
    data: {
      id: 'f1', name: 'full', datasetSchema: '{"columns":[]}', modelSpec: '{"kind":"logreg"}', trainingConfig: '{"rounds":3}', aggregation: 'secure',
      secureConfig: '{"committee":{"size":5}}', privacyConfig: '{"epsilon":1}', privacyLedger: '[]', standardisation: '{"source":"operator"}',
      charter: '{"a":1}', charterFingerprint: 'ab'.repeat(32), lotterySeed: new Uint8Array([0, 1, 2, 255]), enrolmentTokenHash: 'h1',
      latestModelVersion: 7, promotedModelVersion: 5, selection: '{"rule":"best"}', trainingStop: '{"reason":"early-stopping"}', createdAt: at(123),
    },
  });
  await p.federation.create({ data: { id: 'f2', name: 'bare', datasetSchema: '{}', modelSpec: '{}', trainingConfig: '{}', enrolmentTokenHash: 'h2' } });
  await p.owner.create({ data: { id: 'o1', federationId: 'f1', name: 'n', role: 'aggregator', apiKeyHash: 'k1', identityKey: new Uint8Array(32).fill(9), committeeVolunteer: true, createdAt: at(1), removedAt: at(999) } });
  await p.owner.create({ data: { id: 'o2', federationId: 'f2', name: 'm', apiKeyHash: 'k2' } });
  await p.apiKey.create({ data: { id: 'a1', label: 'lender', keyHash: 's1', federationId: 'f1', scopes: '["predict"]', createdAt: at(5) } });
  await p.apiKey.create({ data: { id: 'a2', label: 'ops', keyHash: 's2' } });
  await p.apiKey.create({ data: { id: 'a3', label: 'old', keyHash: 's3', revokedAt: at(7) } });
  await p.round.create({
    data: {
      id: 'r1', federationId: 'f1', number: 1, kind: 'training', trainingIndex: 1, config: '{"learningRate":0.1}', targetOwners: 9, status: 'summing',
      baseModelVersion: 0, minOwners: 3, deadline: at(42), submissionCount: 4, closedAt: at(43), failureReason: 'x', includedSetHash: 'cd', includedCount: 4,
      summingDeadline: at(44), partialSumCount: 2, committeeDraw: '{"reveal":"00","volunteers":[]}', keyedCount: 5, evaluationReport: null,
    },
  });
  await p.round.create({ data: { id: 'r2', federationId: 'f2', number: 1, status: 'open', baseModelVersion: 0, minOwners: 1, deadline: at(0) } });
  await p.update.create({ data: { id: 'u1', roundId: 'r2', ownerId: 'o2', numSamples: 1, weights: new Uint8Array(8), metrics: '{}' } });
  await p.shareEnvelope.create({ data: { id: 'e1', roundId: 'r1', senderId: 'o1', recipientId: 'o1', envelope: new Uint8Array(3) } });
  await p.committeeSeat.create({ data: { id: 's2', roundId: 'r1', position: 2, ownerId: 'o1', identityKey: new Uint8Array(32).fill(1), roundKey: new Uint8Array(32).fill(2), signature: new Uint8Array(64).fill(3), keyedAt: at(8) } });
  await p.owner.create({ data: { id: 'o3', federationId: 'f1', name: 'member', apiKeyHash: 'k3' } });
  await p.committeeSeat.create({ data: { id: 's1', roundId: 'r1', position: 1, ownerId: 'o3' } });
  await p.owner.create({ data: { id: 'o10', federationId: 'f1', name: 'tenth', apiKeyHash: 'k10' } });
  for (const sender of ['o2', 'o3', 'o10']) {
    await p.shareEnvelope.create({ data: { id: `e-${sender}`, roundId: 'r1', senderId: sender, recipientId: 'o3', envelope: Uint8Array.of(1, 2, sender.length) } });
  }
  const weights = new Uint8Array(new Float32Array([0.5, -1.25, 3e-8]).buffer);
  await p.modelVersion.create({ data: { id: 'm1', federationId: 'f1', version: 1, weights, metrics: '{}' } });

  assert.ok(hotSqlOf(p), 'the root client has a hot path');
  const reads: [string, (db: DbClient) => Promise<unknown>][] = [
    ['federation, every column set', (db) => findFederation(db, 'f1')],
    ['federation, nulls and defaults', (db) => findFederation(db, 'f2')],
    ['missing federation', (db) => findFederation(db, 'nope')],
    ['owner, every column set', (db) => findOwnerByKeyHash(db, 'k1')],
    ['owner, nulls and defaults', (db) => findOwnerByKeyHash(db, 'k2')],
    ['scoped key', (db) => findActiveApiKey(db, 's1')],
    ['operator key', (db) => findActiveApiKey(db, 's2')],
    ['revoked key', (db) => findActiveApiKey(db, 's3')],
    ['round, every column set', (db) => findRound(db, 'f1', 1)],
    ['round, nulls and defaults', (db) => findRound(db, 'f2', 1)],
    ['missing round', (db) => findRound(db, 'f2', 2)],
    ['an update', (db) => hasUpdate(db, 'r2', 'o2')],
    ['no update', (db) => hasUpdate(db, 'r2', 'o1')],
    ['shares', (db) => hasShares(db, 'r1', 'o1')],
    ['no shares', (db) => hasShares(db, 'r2', 'o1')],
    ['weights', (db) => findModelWeights(db, 'f1', 1)],
    ['weights again (cached)', (db) => findModelWeights(db, 'f1', 1)],
    ['missing weights', (db) => findModelWeights(db, 'f1', 2)],
    ['no validation set', (db) => federationsWithValidationSets(db, 'f1')],
    ['committee seats, keyed and not, by position', (db) => listCommitteeSeats(db, 'r1')],
    ['no committee seats', (db) => listCommitteeSeats(db, 'r2')],
    ['an inbox page, by sender id', (db) => listInbox(db, 'r1', 'o3', { take: 2 })],
    ['the next page', (db) => listInbox(db, 'r1', 'o3', { after: 'o10', take: 2 })],
    ['past the last page', (db) => listInbox(db, 'r1', 'o3', { after: 'o3', take: 2 })],
    ['an empty inbox', (db) => listInbox(db, 'r2', 'o3', { take: 2 })],
  ];
  for (const [what, read] of reads) {
    const viaPrisma = await p.$transaction((tx) => {
      assert.equal(hotSqlOf(tx), undefined, 'a transaction client has no hot path');
      return read(tx);
    });
    assert.deepEqual(await read(p), viaPrisma, what);
  }
  assert.equal((await findOwnerByKeyHash(p, 'k1'))?.createdAt.toISOString(), at(1).toISOString());
  assert.deepEqual([...(await findModelWeights(p, 'f1', 1))!], [...new Float32Array([0.5, -1.25, 3e-8])]);
});

test('cached weights are copies: a caller changing its array changes no one else’s', async (t) => {
  const { db } = await openTestDatabase(t);
  const p = db.prisma;
  await p.federation.create({ data: { id: 'f', name: 'f', datasetSchema: '{}', modelSpec: '{}', trainingConfig: '{}', enrolmentTokenHash: 'h' } });
  await p.modelVersion.create({ data: { id: 'm', federationId: 'f', version: 0, weights: new Uint8Array(new Float32Array([1, 2]).buffer), metrics: '{}' } });
  const first = (await findModelWeights(p, 'f', 0))!;
  first[0] = 99;
  assert.deepEqual([...(await findModelWeights(p, 'f', 0))!], [1, 2]);
});

test('acceptContributionsNow: one synchronous transaction on SQLite — a duplicate undoes only itself, a closed round takes nothing', async (t) => {
  const { db, ...target } = await openTestDatabase(t);
  const p = db.prisma;
  await p.federation.create({ data: { id: 'f', name: 'f', datasetSchema: '{}', modelSpec: '{}', trainingConfig: '{}', enrolmentTokenHash: 'h' } });
  for (const id of ['o1', 'o2', 'o3']) await p.owner.create({ data: { id, federationId: 'f', name: id, apiKeyHash: `k-${id}` } });
  await p.round.create({ data: { id: 'r', federationId: 'f', number: 1, status: 'open', baseModelVersion: 0, minOwners: 9, deadline: new Date() } });
  const round = { id: 'r', federationId: 'f', number: 1 };
  const update = (id: string, ownerId: string) => updateRows({ id, roundId: 'r', ownerId, numSamples: 1, weights: new Float32Array([1, 2]), metrics: { loss: 0.5 } });
  const envelopes = (sender: string) =>
    shareEnvelopeRows(['o1', 'o2'].map((recipientId) => ({ id: `${sender}-${recipientId}`, roundId: 'r', senderId: sender, recipientId, envelope: new Uint8Array([7]) })));

  const written = await acceptContributionsNow(p, round, 'open', [update('u1', 'o1'), update('u2', 'o1'), update('u3', 'o2')]);
  if (!target.databaseUrl) {
    assert.ok(written && !written.closed);
    assert.deepEqual(written.duplicate, [false, true, false]);
    assert.equal(written.round.submissionCount, 2);
    assert.deepEqual((await p.update.findMany({ orderBy: { id: 'asc' }, select: { id: true } })).map((row) => row.id), ['u1', 'u3']);
    // Read back through Prisma: the hot path stored what Prisma would have.
    const stored = await p.update.findFirstOrThrow({ where: { id: 'u1' } });
    assert.deepEqual([...new Float32Array(new Uint8Array(stored.weights).buffer)], [1, 2]);
    assert.equal(stored.metrics, '{"loss":0.5}');
    assert.ok(Math.abs(stored.createdAt.getTime() - Date.now()) < 60_000, 'createdAt is now, read back as UTC');

    // A share upload's several rows: the second sender's clash with a row already there undoes all of its rows.
    await p.shareEnvelope.create({ data: { id: 'pre', roundId: 'r', senderId: 'o3', recipientId: 'o2', envelope: new Uint8Array(1) } });
    const shares = await acceptContributionsNow(p, round, 'open', [envelopes('o2'), envelopes('o3')]);
    assert.ok(shares && !shares.closed);
    assert.deepEqual(shares.duplicate, [false, true]);
    assert.deepEqual((await p.shareEnvelope.findMany({ where: { senderId: 'o3' }, select: { id: true } })).map((row) => row.id), ['pre']);
    assert.equal(shares.round.submissionCount, 3);

    await p.round.update({ where: { id: 'r' }, data: { status: 'closed' } });
    assert.deepEqual(await acceptContributionsNow(p, round, 'open', [update('u4', 'o3')]), { closed: true });
    assert.equal(await p.update.count({ where: { id: 'u4' } }), 0, 'nothing of a refused batch is stored');
    assert.equal((await p.round.findUniqueOrThrow({ where: { id: 'r' } })).submissionCount, 3);
  } else {
    assert.equal(written, null, 'PostgreSQL has no synchronous path: acceptance goes through Prisma');
  }
  assert.equal(await p.$transaction((tx) => acceptContributionsNow(tx, round, 'open', [update('u5', 'o3')])), null, 'never inside a transaction');
});

test('stableRows: an answer is reused only while nothing can have changed, whoever writes and however', async (t) => {
  const { db, ...target } = await openTestDatabase(t);
  // Another instance: its own connection to the same database.
  const other = await openDatabase(target);
  t.after(() => other.close());
  const p = db.prisma;
  const hot = hotSqlOf(p)!;
  await p.apiKey.create({ data: { id: 'a1', label: 'v0', keyHash: 's1' } });
  const SQL = 'SELECT "label" FROM "ApiKey" WHERE "keyHash" = $1 LIMIT 1';
  const label = async () => (await hot.stableRows(SQL, ['s1']))[0]?.label;

  const first = await hot.stableRows(SQL, ['s1']);
  assert.equal(first[0]?.label, 'v0');
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first[0]), 'shared rows are frozen');
  if (!target.databaseUrl) assert.equal(await hot.stableRows(SQL, ['s1']), first, 'SQLite: unchanged, so the same rows');
  assert.equal((await hot.stableRows(SQL, ['s2'])).length, 0, 'other arguments, another answer');

  // Through Prisma on this connection, outside and inside an interactive transaction.
  await p.apiKey.update({ where: { id: 'a1' }, data: { label: 'v1' } });
  assert.equal(await label(), 'v1');
  await p.$transaction(async (tx) => {
    await tx.apiKey.update({ where: { id: 'a1' }, data: { label: 'v2' } });
  });
  assert.equal(await label(), 'v2');
  // A transaction that rolls back leaves the answer as it was.
  await assert.rejects(
    p.$transaction(async (tx) => {
      await tx.apiKey.update({ where: { id: 'a1' }, data: { label: 'never' } });
      throw new Error('roll back');
    }),
  );
  assert.equal(await label(), 'v2');
  // Through another connection (SQLite: data_version moves).
  await other.prisma.apiKey.update({ where: { id: 'a1' }, data: { label: 'v3' } });
  assert.equal(await label(), 'v3');
  // Through the hot path's own synchronous transaction (SQLite only).
  if (hot.transaction) {
    await hot.transaction((sql) => ({ rollback: false, result: sql.run('UPDATE "ApiKey" SET "label" = $1 WHERE "id" = $2', ['v4', 'a1']) }));
    assert.equal(await label(), 'v4');
  }
  await other.prisma.apiKey.delete({ where: { id: 'a1' } });
  assert.equal(await label(), undefined);
});
