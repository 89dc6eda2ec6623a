import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, assertProblem, assertRefused, bearer, commitUpdateWithoutSettling, createTestApp, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let now = new Date('2026-01-01T00:00:00Z');
let t: TestApp;
before(async () => (t = await createTestApp({ clock: () => now })));
after(async () => t.close());

const problem = (type: string) => `https://fedscore.dev/problems/${type}`;
const constant = (size: number, value: number) => Array.from({ length: size }, () => value);
const paramsOf = (featureCount: number) => featureCount + 1; // logistic regression: kernel + bias

async function openRound(federationId: string, body: object = {}) {
  return (await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send(body).expect(201)).body;
}

function submit(federationId: string, round: number, key: string, body: object) {
  return t.http.post(`/v1/federations/${federationId}/rounds/${round}/updates`).set(bearer(key)).send(body);
}

test('a round closes at min owners with the sample-weighted FedAvg, publishes a version and auto-advances', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2);
  const round = await openRound(federationId);
  assert.equal(round.number, 1);
  assert.equal(round.status, 'open');
  assert.equal(round.baseModelVersion, 0);
  const size = paramsOf(featureCount);
  const first = await submit(federationId, 1, keys[0]!, { weights: constant(size, 1), numSamples: 1, metrics: { loss: 0.5 } }).expect(201);
  assert.equal(first.body.round.status, 'open');
  assert.equal(first.body.round.submissionCount, 1);
  const second = await submit(federationId, 1, keys[1]!, { weights: constant(size, 5), numSamples: 3, metrics: { loss: 0.1 } }).expect(201);
  assert.equal(second.body.round.status, 'closed');
  assert.equal(second.body.round.modelVersion, 1);

  const weights = await t.http.get(`/v1/federations/${federationId}/models/latest/weights`).set(bearer(keys[0]!)).expect(200);
  assert.equal(weights.body.version, 1);
  assert.deepEqual(weights.body.weights, constant(size, 4)); // (1·1 + 5·3) / 4
  assert.deepEqual(weights.body.layout.map((l: { shape: number[] }) => l.shape), [[featureCount, 1], [1]]);
  const model = await t.http.get(`/v1/federations/${federationId}/models/1`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(model.body.roundNumber, 1);
  assert.equal(model.body.metrics.owners, 2);
  assert.equal(model.body.metrics.samples, 4);
  assert.ok(Math.abs(model.body.metrics.trainLoss - 0.2) < 1e-9);

  const current = await t.http.get(`/v1/federations/${federationId}/rounds/current`).set(bearer(keys[0]!)).expect(200);
  assert.equal(current.body.number, 2, 'autoAdvance opened round 2');
  assert.equal(current.body.baseModelVersion, 1);
});

test('auto-advance stops after the planned number of rounds', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 1, {
    training: { rounds: 2, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 1, roundDeadlineSeconds: 600, autoAdvance: true, seed: 1 },
  });
  await openRound(federationId);
  await submit(federationId, 1, keys[0]!, { weights: constant(paramsOf(featureCount), 0.5), numSamples: 1 }).expect(201);
  await submit(federationId, 2, keys[0]!, { weights: constant(paramsOf(featureCount), 0.25), numSamples: 1 }).expect(201);
  const rounds = await t.http.get(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).expect(200);
  assert.deepEqual(rounds.body.rounds.map((r: { status: string }) => r.status), ['closed', 'closed']);
});

test('bad updates are refused with problem+json and change nothing', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 3, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 3, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  const other = await setupFederation(t, 1);
  await openRound(federationId);
  const size = paramsOf(featureCount);
  await submit(federationId, 1, keys[0]!, { weights: constant(size, 0.1), numSamples: 2 }).expect(201);
  const before = await snapshot(t.database);

  const cases: [string, () => Promise<{ status: number; body: { type: string }; headers: Record<string, string> }>, number, string][] = [
    ['wrong weight count', () => submit(federationId, 1, keys[1]!, { weights: constant(size - 1, 0.1), numSamples: 1 }), 422, 'weights-shape-mismatch'],
    ['beyond float32', () => submit(federationId, 1, keys[1]!, { weights: [1e39, ...constant(size - 1, 0)], numSamples: 1 }), 422, 'weights-not-finite'],
    [
      'JSON overflow to Infinity',
      () =>
        t.http
          .post(`/v1/federations/${federationId}/rounds/1/updates`)
          .set(bearer(keys[1]!))
          .set('Content-Type', 'application/json')
          .send(`{"weights":[1e400${',0'.repeat(size - 1)}],"numSamples":1}`),
      422,
      'validation-failed',
    ],
    ['a string weight', () => submit(federationId, 1, keys[1]!, { weights: ['x', ...constant(size - 1, 0)], numSamples: 1 }), 422, 'validation-failed'],
    ['zero samples', () => submit(federationId, 1, keys[1]!, { weights: constant(size, 0), numSamples: 0 }), 422, 'validation-failed'],
    ['extra field', () => submit(federationId, 1, keys[1]!, { weights: constant(size, 0), numSamples: 1, ownerId: 'x' }), 422, 'validation-failed'],
    [
      'malformed JSON',
      () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[1]!)).set('Content-Type', 'application/json').send('{"weights": ['),
      400,
      'malformed-json',
    ],
    ['second submission', () => submit(federationId, 1, keys[0]!, { weights: constant(size, 0.2), numSamples: 1 }), 409, 'duplicate-update'],
    ['unknown round', () => submit(federationId, 9, keys[1]!, { weights: constant(size, 0), numSamples: 1 }), 404, 'round-not-found'],
    ['unknown key', () => submit(federationId, 1, 'fsk_unknown', { weights: constant(size, 0), numSamples: 1 }), 401, 'unauthorized'],
    ['no key', () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).send({ weights: constant(size, 0), numSamples: 1 }), 401, 'unauthorized'],
    ['operator key', () => submit(federationId, 1, ADMIN_KEY, { weights: constant(size, 0), numSamples: 1 }), 403, 'forbidden'],
    ['owner of another federation', () => submit(federationId, 1, other.keys[0]!, { weights: constant(size, 0), numSamples: 1 }), 403, 'forbidden'],
  ];
  for (const [name, send, status, type] of cases) {
    const res = await send();
    assert.equal(res.status, status, `${name}: status`);
    assert.match(res.headers['content-type']!, /application\/problem\+json/, `${name}: media type`);
    assert.equal(res.body.type, problem(type), `${name}: problem type`);
    assert.deepEqual(await snapshot(t.database), before, `${name}: database unchanged`);
  }

  // The round still completes for everyone else.
  await submit(federationId, 1, keys[1]!, { weights: constant(size, 0.1), numSamples: 1 }).expect(201);
  const done = await submit(federationId, 1, keys[2]!, { weights: constant(size, 0.1), numSamples: 1 }).expect(201);
  assert.equal(done.body.round.status, 'closed');

  // The round is checked before the owner's earlier update: a closed round says so, whoever asks.
  await assertRefused(t, () => submit(federationId, 1, keys[1]!, { weights: constant(size, 0.1), numSamples: 1 }), 409, 'round-not-open', 'late, already submitted');
  await assertRefused(t, () => submit(federationId, 1, other.keys[0]!, { weights: constant(size, 0.1), numSamples: 1 }), 403, 'forbidden', 'late, another federation');
});

test('a submission to a closed round is refused and writes nothing', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 1, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  await openRound(federationId);
  await submit(federationId, 1, keys[0]!, { weights: constant(paramsOf(featureCount), 0), numSamples: 1 }).expect(201);
  const before = await snapshot(t.database);
  const res = await submit(federationId, 1, keys[1]!, { weights: constant(paramsOf(featureCount), 0), numSamples: 1 }).expect(409);
  assert.equal(res.body.type, problem('round-not-open'));
  assert.deepEqual(await snapshot(t.database), before);
});

test('only one round is open at a time, and only the operator opens rounds', async () => {
  const { federationId, keys } = await setupFederation(t, 1);
  await openRound(federationId);
  const again = await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(409);
  assert.equal(again.body.type, problem('round-already-open'));
  const owner = await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(keys[0]!)).send({}).expect(403);
  assert.equal(owner.body.type, problem('forbidden'));
});

test('concurrent submissions close the round exactly once and lose no accepted update', async () => {
  const owners = 12;
  const { federationId, featureCount, keys, ownerIds } = await setupFederation(t, owners + 3, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: owners, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  await openRound(federationId);
  const responses = await Promise.all(
    keys.map((key, i) => submit(federationId, 1, key, { weights: constant(paramsOf(featureCount), i), numSamples: 1 })),
  );
  const accepted = responses.filter((r) => r.status === 201);
  const refused = responses.filter((r) => r.status !== 201);
  // Updates racing the close may still be accepted; what matters is that every accepted one is aggregated
  // and every refused one left no trace.
  assert.ok(accepted.length >= owners, `at least minOwners updates are accepted, got ${accepted.length}`);
  for (const res of refused) assertProblem(res, 409, 'round-not-open', 'a submission after the close');
  const stored = await t.database.prisma.update.findMany({ where: { round: { federationId, number: 1 } }, select: { ownerId: true } });
  const acceptedOwners = responses.flatMap((r, i) => (r.status === 201 ? [ownerIds[i]!] : []));
  assert.deepEqual(stored.map((u) => u.ownerId).sort(), [...acceptedOwners].sort(), 'exactly the accepted updates are stored');
  const round = await t.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(round.body.status, 'closed');
  assert.equal(round.body.submissionCount, accepted.length, 'the count matches what was accepted');
  const models = await t.http.get(`/v1/federations/${federationId}/models`).set(bearer(ADMIN_KEY)).expect(200);
  assert.deepEqual(models.body.models.map((m: { version: number }) => m.version), [0, 1], 'one version published');
  assert.equal(models.body.models[1].metrics.owners, accepted.length, 'every accepted update is in the aggregate');
  // The aggregate is the mean of exactly the accepted updates.
  const acceptedValues = responses.flatMap((r, i) => (r.status === 201 ? [i] : []));
  const expected = acceptedValues.reduce((a, b) => a + b, 0) / accepted.length;
  const weights = await t.http.get(`/v1/federations/${federationId}/models/1/weights`).set(bearer(ADMIN_KEY)).expect(200);
  assert.ok(Math.abs(weights.body.weights[0] - expected) < 1e-5);
});

test('at the deadline a round short of owners fails, publishes nothing and refuses late updates', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2, {
    training: { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 60, autoAdvance: true, seed: 1 },
  });
  await openRound(federationId);
  await submit(federationId, 1, keys[0]!, { weights: constant(paramsOf(featureCount), 0), numSamples: 1 }).expect(201);
  now = new Date(now.getTime() + 61_000);
  const late = await submit(federationId, 1, keys[1]!, { weights: constant(paramsOf(featureCount), 0), numSamples: 1 }).expect(409);
  assert.equal(late.body.type, problem('round-deadline-passed'));
  assert.equal(await t.app.services.rounds.sweep(), 1);
  assert.equal(await t.app.services.rounds.sweep(), 0, 'a round settles once');
  const round = await t.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(round.body.status, 'failed');
  assert.match(round.body.failureReason, /1 of 2/);
  const federation = await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(federation.body.latestModelVersion, 0, 'the previous model stays');
  // The operator can open the next round after a failure.
  const next = await openRound(federationId);
  assert.equal(next.number, 2);
});

test('the operator closes a round early: aggregate when enough, fail otherwise', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2, {
    training: { rounds: 5, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  await openRound(federationId, { minOwners: 1 });
  await submit(federationId, 1, keys[0]!, { weights: constant(paramsOf(featureCount), 0), numSamples: 1 }).expect(201);
  await openRound(federationId);
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/2/close`).set(bearer(keys[1]!)), 403, 'forbidden', 'an owner closing');
  const closed = await t.http.post(`/v1/federations/${federationId}/rounds/2/close`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(closed.body.status, 'failed');
  assert.match(closed.body.failureReason, /closed by the operator with 0 of 2 required updates/);
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/2/close`).set(bearer(ADMIN_KEY)), 409, 'round-not-open', 'closing twice');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/9/close`).set(bearer(ADMIN_KEY)), 404, 'round-not-found', 'an unknown round');
  const federation = await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(federation.body.latestModelVersion, 1, 'round 1 published; the failed round 2 did not');
});

test('an operator close aggregates a round that has its owners but was never settled (a crash after the last update)', async () => {
  const { federationId, featureCount, keys, ownerIds } = await setupFederation(t, 2, {
    training: { rounds: 5, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  await openRound(federationId);
  await submit(federationId, 1, keys[0]!, { weights: constant(paramsOf(featureCount), 1), numSamples: 1 }).expect(201);
  // The second update is committed but the server dies before settling: what the database then holds.
  const late = new Float32Array(paramsOf(featureCount)).fill(5);
  await commitUpdateWithoutSettling(t.database, { federationId, round: 1, ownerId: ownerIds[1]!, weights: late, numSamples: 3 });
  await t.restart();
  const open = await t.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200);
  assert.deepEqual([open.body.status, open.body.submissionCount], ['open', 2]);

  const closed = await t.http.post(`/v1/federations/${federationId}/rounds/1/close`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(closed.body.status, 'closed');
  assert.equal(closed.body.modelVersion, 1);
  const weights = await t.http.get(`/v1/federations/${federationId}/models/1/weights`).set(bearer(ADMIN_KEY)).expect(200);
  assert.deepEqual(weights.body.weights, constant(paramsOf(featureCount), 4)); // (1·1 + 5·3) / 4
});

test('a server restarted mid-round continues that round', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  await openRound(federationId);
  await submit(federationId, 1, keys[0]!, { weights: constant(paramsOf(featureCount), 1), numSamples: 1 }).expect(201);
  const restarted = await t.restart(); // the first instance is closed: nothing of the round lives in memory
  const res = await restarted.http
    .post(`/v1/federations/${federationId}/rounds/1/updates`)
    .set(bearer(keys[1]!))
    .send({ weights: constant(paramsOf(featureCount), 3), numSamples: 1 })
    .expect(201);
  assert.equal(res.body.round.status, 'closed');
  const weights = await restarted.http.get(`/v1/federations/${federationId}/models/latest/weights`).set(bearer(ADMIN_KEY)).expect(200);
  assert.deepEqual(weights.body.weights, constant(paramsOf(featureCount), 2));
});

test('two instances over one database settle a round exactly once', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 6, {
    training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 6, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
  });
  const second = await t.startAnother();
  await openRound(federationId);
  const responses = await Promise.all(
    keys.map((key, i) =>
      (i % 2 === 0 ? t.http : second.http)
        .post(`/v1/federations/${federationId}/rounds/1/updates`)
        .set(bearer(key))
        .send({ weights: constant(paramsOf(featureCount), i), numSamples: 1 }),
    ),
  );
  assert.deepEqual(responses.map((r) => r.status), [201, 201, 201, 201, 201, 201]);
  const models = await t.http.get(`/v1/federations/${federationId}/models`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(models.body.models.length, 2);
});
