/**
 * Federated evaluation over the API: the operator opens an evaluation round of a version, each owner
 * scores it on its own rows and sends only tallies (in the clear, or as secret shares in secure mode),
 * and the report stored with the round — and shown on the version — equals the central computation on
 * the same rows: counts exactly, AUC to histogram resolution. Every bad opening or submission is a
 * problem+json that changes nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RoundView } from '../../src/client/http-client.js';
import { buildShareUpload, sumInbox } from '../../src/client/secure-shares.js';
import { readDataset } from '../../src/ml/csv.js';
import { EVALUATION_BINS, scoreTallies, tallyLength } from '../../src/ml/federated-evaluation.js';
import { modelReport, type ModelReport } from '../../src/ml/model-report.js';
import { initialWeights, type ModelSpec } from '../../src/ml/model-spec.js';
import { encodeLabelledRecords } from '../../src/ml/preprocess.js';
import { initTf } from '../../src/ml/tf.js';
import { predictProba, trainLocalSync } from '../../src/ml/train.js';
import { keyCommittee, registerParty, type CommitteeParty } from '../helpers/committee.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, crxSchema, setupFederation, sharedData, type TestApp } from '../helpers/app.js';
import { readEveryRow } from '../helpers/database-contents.js';

let t: TestApp;
before(async () => {
  await initTf('cpu');
  t = await createTestApp();
});
after(async () => t.close());

const lines = readFileSync(path.join(sharedData, 'crx.data'), 'utf8').split('\n');
const split = JSON.parse(readFileSync(path.join(sharedData, 'crx.split.json'), 'utf8')) as { train: number[]; test: number[] };
const encoded = (numbers: number[]) => encodeLabelledRecords(crxSchema, readDataset(numbers.map((n) => lines[n - 1]).join('\n') + '\n', crxSchema).records);
/** The rows the owners evaluate on: crx's test rows, complete ones only, dealt out to `owners` owners. */
function ownerRows(owners: number): { X: Float32Array[]; y: Uint8Array }[] {
  const { X, y } = encoded(split.test);
  return Array.from({ length: owners }, (_, o) => {
    const mine = X.map((_, i) => i).filter((i) => i % owners === o);
    return { X: mine.map((i) => X[i]!), y: Uint8Array.from(mine, (i) => y[i]!) };
  });
}
const training = { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: false, seed: 7 };
const open = (federationId: string, body: object, key = ADMIN_KEY) => t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(key)).send(body);
const tallies = (spec: ModelSpec, weights: Float32Array, rows: { X: Float32Array[]; y: Uint8Array }) => Array.from(scoreTallies(predictProba(spec, weights, rows.X), rows.y));

/** What the server derived against what one machine holding every owner's rows computes. */
function assertMatchesCentral(federated: ModelReport & { [k: string]: unknown }, central: ModelReport, aucResolution: number, lossTolerance: number): void {
  assert.deepEqual([federated.rows, federated.positives], [central.rows, central.positives]);
  assert.deepEqual(federated.confusion, central.confusion, 'confusion counts exactly');
  assert.deepEqual(federated.scoreHistogram, central.scoreHistogram, 'per-class histograms exactly');
  assert.equal(federated.accuracy, central.accuracy);
  assert.deepEqual(
    federated.calibration.map((bin) => [bin.count, bin.observedRate]),
    central.calibration.map((bin) => [bin.count, bin.observedRate]),
  );
  assert.ok(Math.abs(federated.logLoss - central.logLoss) <= lossTolerance, `log loss ${federated.logLoss} vs ${central.logLoss}`);
  assert.ok(Math.abs(federated.brier - central.brier) <= lossTolerance, `Brier ${federated.brier} vs ${central.brier}`);
  assert.ok(Math.abs(federated.auc - central.auc) <= aucResolution, `AUC ${federated.auc} vs ${central.auc} ± ${aucResolution}`);
  assert.ok(federated.ks <= central.ks + 1e-12, `KS ${federated.ks} ≤ ${central.ks}`);
}

describe('a plain evaluation round', () => {
  it('stores what the owners’ tallies sum to, which is the central report on their rows', async () => {
    const { federationId, keys } = await setupFederation(t, 3, { training });
    const spec: ModelSpec = { kind: 'logreg' };
    const train = encoded(split.train);
    const weights = trainLocalSync(spec, initialWeights(spec, train.X[0]!.length, 1), train.X, train.y, { epochs: 20, batchSize: 32, learningRate: 0.1, seed: 1 }).weights;
    await open(federationId, {}).expect(201);
    for (const key of keys.slice(0, 2)) await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(key)).send({ weights: Array.from(weights), numSamples: 1 }).expect(201);

    const round: RoundView = (await open(federationId, { kind: 'evaluation', modelVersion: 1 }).expect(201)).body;
    assert.deepEqual([round.number, round.kind, round.trainingRound, round.baseModelVersion], [2, 'evaluation', null, 1]);
    assert.deepEqual(round.evaluation, { modelVersion: 1, bins: EVALUATION_BINS, afterTraining: false, result: null });
    await assertRefused(t, () => open(federationId, { kind: 'evaluation' }), 409, 'round-already-open');

    const rows = ownerRows(3);
    let view = round;
    for (const [owner, key] of keys.entries()) {
      view = (await t.http.post(`/v1/federations/${federationId}/rounds/2/evaluation`).set(bearer(key)).send({ tallies: tallies(spec, weights, rows[owner]!) }).expect(201)).body.round;
    }
    assert.equal(view.status, 'closed', 'every enrolled owner in: the round closes at once');
    assert.equal(view.modelVersion, null, 'an evaluation publishes no version');
    const result = view.evaluation!.result!;
    assert.deepEqual([result.round, result.modelVersion, result.owners], [2, 1, 3]);

    const all = { X: rows.flatMap((r) => r.X), y: Uint8Array.from(rows.flatMap((r) => Array.from(r.y))) };
    const central = modelReport(predictProba(spec, weights, all.X), all.y);
    assertMatchesCentral(result.report as never, central, result.aucResolution!, 1e-9);
    assert.ok(result.aucResolution! < 0.02, `resolution ${result.aucResolution}`);

    // The version shows its latest federated evaluation to every member (validation stays the operator's).
    const asOwner = (await t.http.get(`/v1/federations/${federationId}/models/1`).set(bearer(keys[0]!)).expect(200)).body;
    assert.deepEqual(asOwner.federatedEvaluation, result);
    const listed = (await t.http.get(`/v1/federations/${federationId}/models`).set(bearer(ADMIN_KEY)).expect(200)).body.models;
    assert.deepEqual(
      listed.map((m: { version: number; federatedEvaluation: unknown }) => [m.version, m.federatedEvaluation !== null]),
      [
        [0, false],
        [1, true],
      ],
    );
    // Training carries on from the latest version: the evaluation round is not a training round.
    const next: RoundView = (await open(federationId, {}).expect(201)).body;
    assert.deepEqual([next.number, next.kind, next.trainingRound, next.baseModelVersion], [3, 'training', 2, 1]);
  });

  it('refuses bad openings and bad tallies, changing nothing', async () => {
    const { federationId, keys } = await setupFederation(t, 2, { training });
    await assertRefused(t, () => open(federationId, { kind: 'evaluation', modelVersion: 7 }), 404, 'model-version-not-found');
    await assertRefused(t, () => open(federationId, { modelVersion: 0 }), 422, 'validation-failed', 'modelVersion on a training round');
    await assertRefused(t, () => open(federationId, { kind: 'evaluation', modelVersion: -1 }), 422, 'validation-failed', 'negative version');
    // Past the 32-bit column: a 500 on PostgreSQL before (the lookup overflowed), now refused with the field named.
    for (const version of [2 ** 31, Number.MAX_SAFE_INTEGER]) {
      const res = await assertRefused(t, () => open(federationId, { kind: 'evaluation', modelVersion: version }), 422, 'validation-failed', `version ${version}`);
      assert.ok((res.body.errors as { path: string }[]).some((e) => e.path === 'body.modelVersion'), JSON.stringify(res.body.errors));
    }
    await assertRefused(t, () => open(federationId, { kind: 'evaluation', modelVersion: 2 ** 31 - 1 }), 404, 'model-version-not-found');
    await assertRefused(t, () => open(federationId, { kind: 'evaluation' }, keys[0]!), 403, 'forbidden', 'an owner opening');

    await open(federationId, { kind: 'evaluation', modelVersion: 0 }).expect(201);
    const rows = ownerRows(2);
    const good = tallies({ kind: 'logreg' }, new Float32Array(44), rows[0]!);
    const submit = (body: object, key = keys[0]!) => t.http.post(`/v1/federations/${federationId}/rounds/1/evaluation`).set(bearer(key)).send(body);
    const edited = (edit: (values: number[]) => void) => {
      const values = [...good];
      edit(values);
      return { tallies: values };
    };
    await assertRefused(t, () => submit({ tallies: good.slice(1) }), 422, 'implausible-tallies', 'wrong length');
    await assertRefused(t, () => submit(edited((v) => (v[10] = 2.5))), 422, 'implausible-tallies', 'a fractional count');
    await assertRefused(t, () => submit(edited((v) => (v[0] = -1))), 422, 'implausible-tallies', 'a negative count');
    await assertRefused(t, () => submit(edited((v) => (v[2 * EVALUATION_BINS + 10] = v[2 * EVALUATION_BINS + 10]! + 5))), 422, 'implausible-tallies', 'scores beyond their bin');
    await assertRefused(t, () => submit({ tallies: good, extra: 1 }), 422, 'validation-failed', 'an unknown field');
    await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: Array(44).fill(0), numSamples: 1 }), 409, 'wrong-round-kind');
    await assertRefused(t, () => submit({ tallies: good }, ADMIN_KEY), 403, 'forbidden', 'the operator submitting');
    await submit({ tallies: good }).expect(201);
    await assertRefused(t, () => submit({ tallies: good }), 409, 'duplicate-update');
    assert.equal(good.length, tallyLength(EVALUATION_BINS));
  });

  it('is refused where it would break a promise: before the statistics exist, and under differential privacy', async () => {
    const pending = { ...crxSchema, columns: crxSchema.columns.map((c) => (c.type === 'numeric' ? { name: c.name, type: 'numeric' as const, range: [0, 100_000] as [number, number] } : c)) };
    const noStats = await setupFederation(t, 2, { training, datasetSchema: pending });
    await assertRefused(t, () => open(noStats.federationId, { kind: 'evaluation', modelVersion: 0 }), 409, 'statistics-pending');
    const dp = await setupFederation(t, 2, { training, privacy: { epsilon: 5, delta: 1e-5, clipNorm: 1 } });
    await assertRefused(t, () => open(dp.federationId, { kind: 'evaluation', modelVersion: 0 }), 409, 'evaluation-not-private');
  });
});

describe('a secure evaluation round', () => {
  it('sums shares of the tallies: the same report, and no owner’s tallies stored', async () => {
    const spec: ModelSpec = { kind: 'mlp', hidden: [4], activation: 'relu' };
    const setup = await setupFederation(t, 4, { training, model: spec, aggregation: 'secure', secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100, summingDeadlineSeconds: 600 } });
    const { federationId } = setup;
    const parties = new Map<string, CommitteeParty>();
    for (let i = 0; i < 3; i++) parties.set(setup.ownerIds[i]!, await registerParty(t.http, federationId, setup.ownerIds[i]!, setup.keys[i]!));
    const opened: RoundView = (await open(federationId, { kind: 'evaluation', modelVersion: 0 }).expect(201)).body;
    const round = await keyCommittee(t.http, federationId, opened, parties);
    assert.equal(round.secure!.vectorLength, tallyLength(EVALUATION_BINS) + 1, 'the tallies and the owner count');
    await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/1/evaluation`).set(bearer(setup.keys[0]!)).send({ tallies: Array(tallyLength(EVALUATION_BINS)).fill(0) }), 409, 'wrong-aggregation-mode');

    // The seeded initial MLP scores rows unevenly: a real distribution to evaluate.
    const weights = Float32Array.from((await t.http.get(`/v1/federations/${federationId}/models/0/weights`).set(bearer(ADMIN_KEY)).expect(200)).body.weights);
    const rows = ownerRows(4);
    let view = round;
    for (let owner = 0; owner < 4; owner++) {
      const upload = buildShareUpload({ federationId, ownerId: setup.ownerIds[owner]!, round, sums: Float64Array.from(tallies(spec, weights, rows[owner]!)) });
      view = (await t.http.post(`/v1/federations/${federationId}/rounds/1/shares`).set(bearer(setup.keys[owner]!)).send(upload.body).expect(201)).body.round;
    }
    assert.equal(view.status, 'summing');
    for (const seat of view.secure!.committee.slice(0, 2)) {
      const memberKey = setup.keys[setup.ownerIds.indexOf(seat.ownerId)]!;
      const inbox = (await t.http.get(`/v1/federations/${federationId}/rounds/1/inbox`).set(bearer(memberKey)).expect(200)).body;
      const values = sumInbox({ federationId, memberId: seat.ownerId, keys: parties.get(seat.ownerId)!.roundKey, inbox });
      view = (await t.http.post(`/v1/federations/${federationId}/rounds/1/partial-sums`).set(bearer(memberKey)).send({ includedSetHash: inbox.includedSetHash, values }).expect(201)).body.round;
    }
    assert.equal(view.status, 'closed');
    const result = view.evaluation!.result!;
    assert.equal(result.owners, 4);
    const all = { X: rows.flatMap((r) => r.X), y: Uint8Array.from(rows.flatMap((r) => Array.from(r.y))) };
    const central = modelReport(predictProba(spec, weights, all.X), all.y);
    const filled = central.scoreHistogram.positives.map((p, b) => p + central.scoreHistogram.negatives[b]!).filter((count) => count > 0).length;
    assert.ok(filled >= 3, `a real spread of scores (${filled} bins hold scores)`);
    // Each owner rounds each value to 2⁻²¹ at most: over 4 owners and ~130 rows, far below 10⁻⁶ per row.
    assertMatchesCentral(result.report as never, central, result.aucResolution!, 1e-6);

    const everything = await readEveryRow(t.database);
    const roundIds = new Set(everything.Round!.filter((row) => row.federationId === federationId).map((row) => row.id));
    assert.equal(everything.Update!.filter((row) => roundIds.has(row.roundId)).length, 0, 'secure mode stores no owner’s tallies');
  });
});
