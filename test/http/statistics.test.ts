/**
 * Federated standardisation (DESIGN protocol 4) over the API: a federation whose schema leaves numeric
 * columns without mean and std opens with a statistics round; owners send per-column moments (plain) or
 * shares of them (secure); the sum becomes the federation's means and standard deviations, and training
 * round 1 follows. Every refusal is a problem+json that changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RoundView } from '../../src/client/http-client.js';
import { buildShareUpload, sumInbox } from '../../src/client/secure-shares.js';
import { keyCommittee, registerParty, type CommitteeParty } from '../helpers/committee.js';
import { FIXED_POINT_BITS } from '../../src/crypto/fixed-point.js';
import type { DatasetSchema, RawRecord } from '../../src/ml/dataset-schema.js';
import { computeNumericStats } from '../../src/ml/preprocess.js';
import { ownerMoments } from '../../src/ml/standardisation.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, crxRecord, crxSchema, federationBody, setupFederation, type TestApp } from '../helpers/app.js';
import { readEveryRow } from '../helpers/database-contents.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

/** crx's schema without the operator's statistics: each numeric column keeps only its range. */
const pendingSchema: DatasetSchema = {
  ...crxSchema,
  columns: crxSchema.columns.map((column) => (column.type === 'numeric' ? { name: column.name, type: 'numeric' as const, range: column.range! } : column)),
};
const numericColumns = ['A2', 'A3', 'A8', 'A11', 'A14', 'A15'];

/** Owner i's rows: crx's first line with its numbers varied, one row missing A14. */
function rowsOf(owner: number): RawRecord[] {
  return [0, 1].map((k) => ({
    ...crxRecord(),
    A2: String(20 + 7 * owner + k),
    A3: String(0.5 * owner + k),
    A8: String(1.25 * (owner + k)),
    A11: String(owner * k),
    A14: owner === 1 && k === 1 ? '?' : String(100 * owner + 40 * k),
    A15: String(1000 * owner * owner + k),
  }));
}

const body = (overrides: Record<string, unknown> = {}) => ({
  datasetSchema: pendingSchema,
  training: { rounds: 2, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: true, seed: 7 },
  ...overrides,
});

async function getFederation(id: string) {
  return (await t.http.get(`/v1/federations/${id}`).set(bearer(ADMIN_KEY)).expect(200)).body;
}

/** The means and stds the owners' rows give when pooled in one place. */
function centralStatistics(owners: number): Map<string, { mean: number; std: number }> {
  const unstandardised = { ...pendingSchema, columns: pendingSchema.columns.map((c) => (c.type === 'numeric' ? { name: c.name, type: 'numeric' as const } : c)) };
  const pooled = computeNumericStats(unstandardised, Array.from({ length: owners }, (_, i) => rowsOf(i)).flat());
  return new Map(pooled.columns.filter((c) => c.type === 'numeric').map((c) => [c.name, { mean: (c as { mean: number }).mean, std: (c as { std: number }).std }]));
}

describe('creating a federation that computes its own statistics', () => {
  it('needs a range for every numeric column it has no mean and std for', async () => {
    const schema = { ...pendingSchema, columns: pendingSchema.columns.map((c) => (c.name === 'A2' || c.name === 'A14' ? { name: c.name, type: 'numeric' } : c)) };
    const res = await assertRefused(t, () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody(body({ datasetSchema: schema }))), 422, 'validation-failed');
    assert.deepEqual(res.body.errors, [
      { path: 'datasetSchema.columns.1', message: 'A2: expected "mean" and "std", or "range": [min, max]' },
      { path: 'datasetSchema.columns.13', message: 'A14: expected "mean" and "std", or "range": [min, max]' },
    ]);
  });

  it('refuses a range that is not [min, max] with min < max', async () => {
    for (const range of [[5, 5], [9, 1], [0, 'x'], [1]]) {
      const schema = { ...pendingSchema, columns: pendingSchema.columns.map((c) => (c.name === 'A3' ? { name: 'A3', type: 'numeric', range } : c)) };
      await assertRefused(t, () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody(body({ datasetSchema: schema }))), 422, 'validation-failed', JSON.stringify(range));
    }
  });

  it('with the operator’s statistics, says so, and the first round trains', async () => {
    const { federationId, keys } = await setupFederation(t, 2);
    const federation = await getFederation(federationId);
    assert.equal(federation.standardisation.source, 'operator');
    assert.equal(federation.standardisation.roundNumber, null);
    assert.deepEqual(federation.standardisation.columns.A2, { source: 'operator', count: null, mean: 31.39377394636016, std: 11.720811211294862 });
    const round = (await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body;
    assert.deepEqual([round.kind, round.trainingRound, round.statistics], ['training', 1, null]);
    await assertRefused(
      t,
      () => t.http.post(`/v1/federations/${federationId}/rounds/1/statistics`).set(bearer(keys[0]!)).send({ moments: [1, 0.5, 0.25] }),
      409,
      'wrong-round-kind',
    );
  });
});

describe('a plain statistics round', () => {
  it('turns the owners’ moments into the federation’s means and stds, then training round 1 opens', async () => {
    const { federationId, keys } = await setupFederation(t, 3, body());
    const created = await getFederation(federationId);
    assert.equal(created.standardisation, null);
    assert.equal(created.featureNames.length, 43, 'the feature layout does not wait for the statistics');
    await assertRefused(
      t,
      () => t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records: [crxRecord()] }),
      409,
      'statistics-pending',
    );

    const round: RoundView = (await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body;
    assert.deepEqual([round.number, round.kind, round.trainingRound, round.statistics], [1, 'statistics', null, { columns: numericColumns }]);
    const url = `/v1/federations/${federationId}/rounds/1/statistics`;
    const moments = (owner: number) => Array.from(ownerMoments(pendingSchema, numericColumns, rowsOf(owner)));

    // Refused, each changing nothing: weights for a statistics round, the wrong length, impossible moments.
    await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: [0], numSamples: 1 }), 409, 'wrong-round-kind');
    const short = await assertRefused(t, () => t.http.post(url).set(bearer(keys[0]!)).send({ moments: moments(0).slice(0, 15) }), 422, 'implausible-statistics', 'short');
    assert.deepEqual(short.body.errors, [{ path: 'moments', message: 'expected 18 values (3 per column), got 15' }]);
    const inflated = moments(0);
    inflated[4] = 5; // Σx′ of A3 above its count
    const impossible = await assertRefused(t, () => t.http.post(url).set(bearer(keys[0]!)).send({ moments: inflated }), 422, 'implausible-statistics', 'impossible');
    assert.deepEqual(impossible.body.errors, [{ path: 'moments', message: 'A3: the sum of rescaled values must lie in [0, count]' }]);
    await assertRefused(t, () => t.http.post(url).set(bearer(keys[0]!)).send({ moments: moments(0).map(String) }), 422, 'validation-failed', 'strings');
    await assertRefused(t, () => t.http.post(url).set(bearer(ADMIN_KEY)).send({ moments: moments(0) }), 403, 'forbidden', 'operator');

    // Every enrolled owner is expected: two of three in, the round still collects (minOwners is 2).
    const first = (await t.http.post(url).set(bearer(keys[0]!)).send({ moments: moments(0) }).expect(201)).body.round;
    assert.equal(first.status, 'open');
    await assertRefused(t, () => t.http.post(url).set(bearer(keys[0]!)).send({ moments: moments(0) }), 409, 'duplicate-update');
    assert.equal((await t.http.post(url).set(bearer(keys[1]!)).send({ moments: moments(1) }).expect(201)).body.round.status, 'open');
    const last = (await t.http.post(url).set(bearer(keys[2]!)).send({ moments: moments(2) }).expect(201)).body.round;
    assert.deepEqual([last.status, last.modelVersion], ['closed', null], 'a statistics round publishes no model');

    const federation = await getFederation(federationId);
    assert.equal(federation.standardisation.source, 'federated');
    assert.equal(federation.standardisation.roundNumber, 1);
    assert.equal(federation.latestModelVersion, 0);
    const central = centralStatistics(3);
    for (const name of numericColumns) {
      const got = federation.standardisation.columns[name];
      const column = federation.datasetSchema.columns.find((c: { name: string }) => c.name === name);
      assert.equal(got.source, 'federated');
      assert.equal(got.count, name === 'A14' ? 5 : 6);
      assert.ok(Math.abs(got.mean - central.get(name)!.mean) < 1e-9 * Math.max(1, Math.abs(central.get(name)!.mean)), `${name} mean`);
      assert.ok(Math.abs(got.std - central.get(name)!.std) < 1e-9 * Math.max(1, central.get(name)!.std), `${name} std`);
      assert.deepEqual([column.mean, column.std, column.range], [got.mean, got.std, pendingSchema.columns.find((c) => c.name === name)!.type === 'numeric' ? (pendingSchema.columns.find((c) => c.name === name) as { range: number[] }).range : null]);
    }

    const training: RoundView = (await t.http.get(`/v1/federations/${federationId}/rounds/current`).set(bearer(keys[0]!)).expect(200)).body;
    assert.deepEqual([training.number, training.kind, training.trainingRound, training.status, training.baseModelVersion], [2, 'training', 1, 'open', 0]);
    await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/2/statistics`).set(bearer(keys[0]!)).send({ moments: moments(0) }), 409, 'wrong-round-kind');
    await t.http.post(`/v1/federations/${federationId}/predictions`).set(bearer(ADMIN_KEY)).send({ records: [crxRecord()] }).expect(200);
  });

  it('at the operator’s close, settles with what came in if that is at least minOwners, and fails below it', async () => {
    const { federationId, keys } = await setupFederation(t, 3, body());
    await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
    const url = `/v1/federations/${federationId}/rounds/1/statistics`;
    await t.http.post(url).set(bearer(keys[0]!)).send({ moments: Array.from(ownerMoments(pendingSchema, numericColumns, rowsOf(0))) }).expect(201);
    const failed = (await t.http.post(`/v1/federations/${federationId}/rounds/1/close`).set(bearer(ADMIN_KEY)).expect(200)).body;
    assert.equal(failed.status, 'failed');
    assert.equal((await getFederation(federationId)).standardisation, null, 'nothing computed from one owner');

    // The next round is a statistics round again.
    const again = (await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body;
    assert.deepEqual([again.number, again.kind], [2, 'statistics']);
    for (const owner of [0, 2]) {
      await t.http.post(`/v1/federations/${federationId}/rounds/2/statistics`).set(bearer(keys[owner]!)).send({ moments: Array.from(ownerMoments(pendingSchema, numericColumns, rowsOf(owner))) }).expect(201);
    }
    const closed = (await t.http.post(`/v1/federations/${federationId}/rounds/2/close`).set(bearer(ADMIN_KEY)).expect(200)).body;
    assert.equal(closed.status, 'closed');
    const federation = await getFederation(federationId);
    assert.equal(federation.standardisation.roundNumber, 2);
    assert.equal(federation.standardisation.columns.A2.count, 4);
  });
});

describe('a secure statistics round', () => {
  it('sums shares of the moments: the same statistics to fixed-point precision, and no owner’s moments stored', async () => {
    const setup = await setupFederation(t, 4, body({ aggregation: 'secure', secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100, summingDeadlineSeconds: 600 } }));
    const parties = new Map<string, CommitteeParty>();
    for (let i = 0; i < 3; i++) parties.set(setup.ownerIds[i]!, await registerParty(t.http, setup.federationId, setup.ownerIds[i]!, setup.keys[i]!));
    const opened: RoundView = (await t.http.post(`/v1/federations/${setup.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body;
    const round = await keyCommittee(t.http, setup.federationId, opened, parties);
    assert.equal(round.kind, 'statistics');
    assert.equal(round.secure!.vectorLength, 3 * numericColumns.length + 1, 'three moments per column and the owner count');

    // Shares sized for the model, not the moments, are refused.
    const wrong = buildShareUpload({ federationId: setup.federationId, ownerId: setup.ownerIds[0]!, round: { ...round, kind: 'training', secure: { ...round.secure!, vectorLength: 45 } }, base: new Float32Array(44), trained: new Float32Array(44), numSamples: 1 });
    await assertRefused(t, () => t.http.post(`/v1/federations/${setup.federationId}/rounds/1/shares`).set(bearer(setup.keys[0]!)).send(wrong.body), 422, 'malformed-shares');

    let view = round;
    for (let owner = 0; owner < 4; owner++) {
      const moments = ownerMoments(pendingSchema, numericColumns, rowsOf(owner));
      const upload = buildShareUpload({ federationId: setup.federationId, ownerId: setup.ownerIds[owner]!, round, sums: moments });
      view = (await t.http.post(`/v1/federations/${setup.federationId}/rounds/1/shares`).set(bearer(setup.keys[owner]!)).send(upload.body).expect(201)).body.round;
    }
    assert.equal(view.status, 'summing', 'every enrolled owner in: the included set freezes');
    for (const seat of view.secure!.committee.slice(0, 2)) {
      const memberKey = setup.keys[setup.ownerIds.indexOf(seat.ownerId)]!;
      const inbox = (await t.http.get(`/v1/federations/${setup.federationId}/rounds/1/inbox`).set(bearer(memberKey)).expect(200)).body;
      assert.equal(inbox.vectorLength, 19);
      const values = sumInbox({ federationId: setup.federationId, memberId: seat.ownerId, keys: parties.get(seat.ownerId)!.roundKey, inbox });
      view = (await t.http.post(`/v1/federations/${setup.federationId}/rounds/1/partial-sums`).set(bearer(memberKey)).send({ includedSetHash: inbox.includedSetHash, values }).expect(201)).body.round;
    }
    assert.deepEqual([view.status, view.modelVersion], ['closed', null]);
    assert.equal(view.secure!.vectorLength, 19, 'a closed statistics round still shows its own vector length');

    const federation = await getFederation(setup.federationId);
    const central = centralStatistics(4);
    for (const name of numericColumns) {
      const [low, high] = (pendingSchema.columns.find((c) => c.name === name) as { range: [number, number] }).range;
      const got = federation.standardisation.columns[name];
      const { mean, std } = central.get(name)!;
      // Each owner rounds each rescaled moment to 2^-20: the mean moves by at most (max − min)·2^-20,
      // the std by at most that relative to its own size.
      const unit = (high - low) * 2 ** -FIXED_POINT_BITS;
      assert.ok(Math.abs(got.mean - mean) <= unit, `${name} mean ${got.mean} vs ${mean}`);
      assert.ok(Math.abs(got.std - std) <= (unit * (high - low)) / std, `${name} std ${got.std} vs ${std}`);
    }
    const rows = await readEveryRow(t.database);
    const roundIds = new Set(rows.Round!.filter((row) => row.federationId === setup.federationId).map((row) => row.id));
    assert.equal(rows.Update!.filter((row) => roundIds.has(row.roundId)).length, 0, 'secure mode stores no owner’s moments, only ciphertext and partial sums');
    const next = (await t.http.get(`/v1/federations/${setup.federationId}/rounds/2`).set(bearer(ADMIN_KEY)).expect(200)).body;
    assert.deepEqual([next.kind, next.trainingRound, next.secure.vectorLength], ['training', 1, 45]);
  });
});
