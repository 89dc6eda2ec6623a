/**
 * The periodic deadline sweep as a running server has it (the other HTTP tests switch the timer off and
 * call `sweep()` themselves): a round past its deadline is failed by the timer alone, with no request to
 * trigger it, even when the instance that opened the round is gone. And what several instances add: two
 * sweeps of one due round, a sweep acting on a read that a later commit made stale, a settlement while
 * another instance is in the middle of accepting an update.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findFederation } from '../../src/db/federations.repository.js';
import { openDatabase } from '../../src/db/client.js';
import { countContributions, findRound, insertContributionRows, momentsRows } from '../../src/db/rounds.repository.js';
import { decideRound } from '../../src/fl/round-rules.js';
import { aggregationMode } from '../../src/services/round-core.js';
import { ownerMoments } from '../../src/ml/standardisation.js';
import { ADMIN_KEY, assertRefused, bearer, commitUpdateWithoutSettling, createTestApp, crxRecord, crxSchema, setupFederation, waitFor, type TestApp } from '../helpers/app.js';
import { testDatabaseKind } from '../helpers/database.js';

let now = new Date('2026-05-01T00:00:00Z');
let t: TestApp;
before(async () => (t = await createTestApp({ clock: () => now, sweepDeadlines: true, env: { DEADLINE_SWEEP_MS: '25' } })));
after(async () => t.close());

const training = { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 60, autoAdvance: true, seed: 1 };

test('the timer fails a round past its deadline, once, after the instance that opened it was restarted', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2, { training });
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: new Array(featureCount + 1).fill(0), numSamples: 1 }).expect(201);
  await t.restart();
  const status = async () => (await t.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal((await status()).status, 'open', 'nothing settles before the deadline');

  now = new Date(now.getTime() + 61_000);
  await waitFor('the sweep to fail round 1', async () => (await status()).status === 'failed');
  const failed = await status();
  assert.match(failed.failureReason, /deadline passed with 1 of 2 required updates/);
  assert.equal(failed.closedAt, now.toISOString());
  // Failed, not published, and auto-advance does not open a round after a failure.
  const federation = (await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(federation.latestModelVersion, 0);
  await assertRefused(t, () => t.http.get(`/v1/federations/${federationId}/rounds/2`).set(bearer(ADMIN_KEY)), 404, 'round-not-found');
  await assertRefused(
    t,
    () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[1]!)).send({ weights: new Array(featureCount + 1).fill(0), numSamples: 1 }),
    409,
    'round-not-open',
    'an update after the sweep',
  );
});

test('the timer also settles a round that is due without a deadline passing', async () => {
  // Enough updates committed but never settled (a crash between the commit and the settlement): the
  // sweep aggregates it on its next tick.
  const { federationId, featureCount, keys, ownerIds } = await setupFederation(t, 2, { training: { ...training, autoAdvance: false } });
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: new Array(featureCount + 1).fill(2), numSamples: 1 }).expect(201);
  await commitUpdateWithoutSettling(t.database, { federationId, round: 1, ownerId: ownerIds[1]!, weights: new Float32Array(featureCount + 1).fill(4), numSamples: 1 });
  await waitFor('the sweep to aggregate round 1', async () => (await t.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY))).body.status === 'closed');
  const weights = (await t.http.get(`/v1/federations/${federationId}/models/1/weights`).set(bearer(keys[1]!)).expect(200)).body.weights;
  assert.deepEqual(weights, new Array(featureCount + 1).fill(3));
});

test('another instance fails the round at its deadline once the instance that opened it is gone', async () => {
  const { federationId } = await setupFederation(t, 2, { training });
  // Both instances sweep; the opener closes before the deadline, so only the other one can settle the round.
  const opener = await t.startAnother();
  await opener.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await opener.close();
  const status = async () => (await t.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal((await status()).status, 'open');

  now = new Date(now.getTime() + 61_000);
  await waitFor('the other instance to fail round 1', async () => (await status()).status === 'failed');
  assert.match((await status()).failureReason, /deadline passed with 0 of 2 required updates/);
});

// Two instances in one process cannot write one SQLite file at once: better-sqlite3 waits for the file's
// lock synchronously, which stops the very event loop the other instance's transaction needs to finish.
const concurrentWriters = testDatabaseKind() === 'postgres' ? {} : { skip: 'PostgreSQL only: two SQLite connections in one thread block each other' };

test('two instances sweeping the same due round settle it once: one model, one next round', concurrentWriters, async () => {
  // Sweeps called by hand here, on two instances at once, with no timer to get there first.
  const pair = await createTestApp({ clock: () => now });
  try {
    const other = await pair.startAnother();
    const { federationId, featureCount, ownerIds } = await setupFederation(pair, 2, { training });
    await pair.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
    for (const [i, ownerId] of ownerIds.entries()) {
      await commitUpdateWithoutSettling(pair.database, { federationId, round: 1, ownerId, weights: new Float32Array(featureCount + 1).fill(i + 1), numSamples: 1 });
    }
    const settled = await Promise.all([pair.app.services.rounds.sweep(), other.app.services.rounds.sweep()]);
    assert.equal(settled[0] + settled[1], 1, `settlements made by the two sweeps: ${settled}`);
    const models = await pair.database.prisma.modelVersion.findMany({ where: { federationId }, select: { version: true, roundNumber: true }, orderBy: { version: 'asc' } });
    assert.deepEqual(models, [
      { version: 0, roundNumber: null },
      { version: 1, roundNumber: 1 },
    ]);
    const rounds = await pair.database.prisma.round.findMany({ where: { federationId }, select: { number: true, status: true }, orderBy: { number: 'asc' } });
    assert.deepEqual(rounds, [
      { number: 1, status: 'closed' },
      { number: 2, status: 'open' },
    ]);
  } finally {
    await pair.close();
  }
});

test('a sweep that read the round before a late update committed does not fail it: the round is aggregated', async () => {
  // Two instances' view of one moment: a sweep reads round 1 one update short; before it acts, another
  // instance commits the second update (its own settlement still to come). The sweep's decision is stale.
  const late = await createTestApp({ clock: () => now });
  try {
    const { federationId, featureCount, keys, ownerIds } = await setupFederation(late, 2, { training: { ...training, autoAdvance: false } });
    await late.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
    await late.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: new Array(featureCount + 1).fill(2), numSamples: 1 }).expect(201);
    const federation = (await findFederation(late.database.prisma, federationId))!;
    const seen = (await findRound(late.database.prisma, federationId, 1))!;
    await commitUpdateWithoutSettling(late.database, { federationId, round: 1, ownerId: ownerIds[1]!, weights: new Float32Array(featureCount + 1).fill(4), numSamples: 1 });
    now = new Date(now.getTime() + 61_000);
    const stale = decideRound(seen, aggregationMode(federation), now);
    assert.deepEqual(stale, { action: 'fail', reason: 'deadline passed with 1 of 2 required updates' }, 'what the sweep decided from its read');

    assert.equal(await late.app.services.rounds.core.apply(federation, seen, stale), false, 'the stale failure is not applied');
    const round = (await late.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
    assert.deepEqual([round.status, round.submissionCount], ['open', 2]);
    // The next look at the round, with both updates in view, aggregates them.
    assert.equal(await late.app.services.rounds.sweep(), 1);
    const weights = (await late.http.get(`/v1/federations/${federationId}/models/1/weights`).set(bearer(keys[0]!)).expect(200)).body.weights;
    assert.deepEqual(weights, new Array(featureCount + 1).fill(3));
  } finally {
    await late.close();
  }
});

test('a statistics round settled at its deadline while another instance is accepting an update sums that update too', concurrentWriters, async () => {
  const app = await createTestApp({ clock: () => now });
  // The other instance's connection: it holds an acceptance open while this instance settles the round.
  const other = await openDatabase({ databaseUrl: app.config.DATABASE_URL, dataDir: app.config.DATA_DIR });
  try {
    const pending = { ...crxSchema, columns: crxSchema.columns.map((c) => (c.type === 'numeric' ? { name: c.name, type: 'numeric' as const, range: c.range! } : c)) };
    const { federationId, keys, ownerIds } = await setupFederation(app, 3, { datasetSchema: pending, training: { ...training, autoAdvance: false } });
    const opened = (await app.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body;
    assert.deepEqual([opened.kind, opened.minOwners], ['statistics', 2]);
    // Two rows per owner; A2 is never missing, so its count says how many owners' moments were summed.
    const rows = (owner: number) => [0, 1].map((k) => ({ ...crxRecord(), A2: String(20 + 7 * owner + k) }));
    const moments = (owner: number) => Array.from(ownerMoments(pending, opened.statistics.columns, rows(owner)));
    for (const owner of [0, 1]) {
      await app.http.post(`/v1/federations/${federationId}/rounds/1/statistics`).set(bearer(keys[owner]!)).send({ moments: moments(owner) }).expect(201);
    }

    // Owner 2's acceptance on the other instance: counted and inserted, not yet committed.
    let written!: () => void;
    let commit!: () => void;
    const inserted = new Promise<void>((resolve) => (written = resolve));
    const released = new Promise<void>((resolve) => (commit = resolve));
    const accepting = other.prisma.$transaction(
      async (tx) => {
        const round = (await findRound(tx, federationId, 1))!;
        await insertContributionRows(tx, momentsRows({ id: 'in-flight', roundId: round.id, ownerId: ownerIds[2]!, values: Float64Array.from(moments(2)), rows: 2 }));
        assert.ok(await countContributions(tx, round.id, 'open', 1));
        written();
        await released;
      },
      { timeout: 60_000 },
    );
    await inserted;
    now = new Date(now.getTime() + 61_000);
    const federation = (await findFederation(app.database.prisma, federationId))!;
    const seen = (await findRound(app.database.prisma, federationId, 1))!;
    assert.equal(seen.submissionCount, 2, 'the uncommitted count is not visible yet');
    const settling = app.app.services.rounds.core.settleIfDue(federation, seen);
    // The settlement reaches the round row the acceptance holds, and waits for it.
    const waiting = async () => (await other.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`))[0]!.n;
    await waitFor('the settlement to wait for the round row', async () => (await waiting()) > 0);
    commit();
    await accepting;
    assert.equal(await settling, true);

    const round = (await app.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
    assert.deepEqual([round.status, round.submissionCount], ['closed', 3]);
    const standardisation = (await app.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body.standardisation;
    assert.equal(standardisation.columns.A2.count, 6, 'every accepted owner’s moments are in the sum');
  } finally {
    await other.close();
    await app.close();
  }
});
