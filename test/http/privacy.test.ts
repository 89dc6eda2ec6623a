/**
 * Differential privacy through the API: a federation's budget, rounds charged when they open and refused
 * past the budget (also when two instances race), ε on every model version, on the federation and on
 * each owner, Poisson sampling that owners and the server agree on, and every bad setting refused with
 * problem+json and nothing written.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { dpEpsilon } from '../../src/crypto/dp/accountant.js';
import { isSampled } from '../../src/crypto/dp/sampling.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, federationBody, setupFederation, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const training = (rounds: number, minOwners = 2) => ({ rounds, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 });
const privacy = (overrides: Record<string, unknown> = {}) => ({ epsilon: 4, delta: 1e-5, clipNorm: 1, ...overrides });

function open(federationId: string) {
  return t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({});
}

async function submitAll(federationId: string, round: number, keys: string[], size: number) {
  for (const [i, key] of keys.entries()) {
    await t.http.post(`/v1/federations/${federationId}/rounds/${round}/updates`).set(bearer(key)).send({ weights: new Array(size).fill(0.01 * (i + 1)), numSamples: 1 }).expect(201);
  }
}

test('the noise multiplier fits the budget over the planned rounds; ε grows with each round and never passes the budget', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 4, { training: training(3, 4), privacy: privacy({ epsilon: 3 }) });
  const federation = (await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body;
  const z = federation.privacy.noiseMultiplier as number;
  assert.ok(z > 0);
  // The solved z spends at most the budget over 3 rounds, and a slightly smaller one would not fit.
  assert.ok(dpEpsilon({ sampleRate: 1, noiseMultiplier: z, steps: 3, delta: 1e-5 }).epsilon <= 3);
  assert.ok(dpEpsilon({ sampleRate: 1, noiseMultiplier: z * 0.97, steps: 3, delta: 1e-5 }).epsilon > 3);
  assert.deepEqual(federation.privacy.spent, { epsilon: 0, rounds: 0 });

  const epsilons: number[] = [];
  for (let round = 1; round <= 3; round++) {
    const opened = (await open(federationId).expect(201)).body;
    assert.deepEqual([opened.privacy.noiseMultiplier, opened.privacy.expectedOwners, opened.privacy.clipNorm], [z, 4, 1]);
    await submitAll(federationId, round, keys, featureCount + 1);
    const model = (await t.http.get(`/v1/federations/${federationId}/models/latest`).set(bearer(keys[0]!)).expect(200)).body;
    epsilons.push(model.privacy.epsilon);
    assert.ok(Math.abs(model.privacy.epsilon - dpEpsilon({ sampleRate: 1, noiseMultiplier: z, steps: round, delta: 1e-5 }).epsilon) < 1e-9);
  }
  assert.ok(epsilons[0]! < epsilons[1]! && epsilons[1]! < epsilons[2]! && epsilons[2]! <= 3, JSON.stringify(epsilons));
  // A fourth round would pass the budget: refused, nothing written.
  const refused = await assertRefused(t, () => open(federationId), 409, 'privacy-budget-exhausted');
  assert.match(String(refused.body.detail), /would bring ε to \d+\.\d+, over the federation's budget of 3/);
  const after = (await t.http.get(`/v1/federations/${federationId}`).set(bearer(keys[1]!)).expect(200)).body;
  assert.deepEqual(after.privacy.spent, { epsilon: epsilons[2], rounds: 3 });
  // Every owner reads its own ε: the rounds opened since it enrolled.
  const self = (await t.http.get(`/v1/federations/${federationId}/owners/${(await t.http.get(`/v1/federations/${federationId}/owners`).set(bearer(ADMIN_KEY))).body.owners[0].id}`).set(bearer(keys[0]!)).expect(200)).body;
  assert.deepEqual(self.privacy, { epsilon: epsilons[2], delta: 1e-5 });
});

test('a budget set while a round is open starts with the next round: the open one closes as plain FedAvg, uncharged', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 3, { training: { ...training(5), autoAdvance: true } });
  await open(federationId).expect(201);
  const updated = (await t.http.put(`/v1/federations/${federationId}/privacy`).set(bearer(ADMIN_KEY)).send({ privacy: privacy({ epsilon: 8 }) }).expect(200)).body;
  assert.deepEqual(updated.privacy.spent, { epsilon: 0, rounds: 0 }, 'nothing charged while round 1 is open');
  // The second update closes round 1, which opened without DP; its aggregation was DP-FedAvg's before,
  // which found no DP settings in the round (a 500, and a round that could never close).
  await submitAll(federationId, 1, keys.slice(0, 2), featureCount + 1);
  const round1 = (await t.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.deepEqual([round1.status, round1.privacy, round1.modelVersion], ['closed', null, 1]);
  const weights = (await t.http.get(`/v1/federations/${federationId}/models/1/weights`).set(bearer(ADMIN_KEY)).expect(200)).body.weights as number[];
  for (const w of weights) assert.ok(Math.abs(w - 0.015) < 1e-7, `the plain average of 0.01 and 0.02, no noise: ${w}`);
  const model1 = (await t.http.get(`/v1/federations/${federationId}/models/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.deepEqual(model1.privacy, { epsilon: 0, delta: 1e-5 }, 'version 1 spent none of the budget');
  // Round 2 opened with the budget: DP settings fixed in it, and charged.
  const round2 = (await t.http.get(`/v1/federations/${federationId}/rounds/2`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(round2.privacy.clipNorm, 1);
  assert.equal((await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body.privacy.spent.rounds, 1);
});

test('central DP in plain mode: updates are clipped to C and the average is over the expected count', async () => {
  // A large budget and a small z, so the noise (std z·C/2 = 0.025 on the average) stays far below the clipping's effect.
  const { federationId, featureCount, keys } = await setupFederation(t, 2, { training: training(1), privacy: privacy({ epsilon: 100, noiseMultiplier: 0.5, clipNorm: 0.1 }) });
  await open(federationId).expect(201);
  const size = featureCount + 1;
  const big = new Array(size).fill(0);
  big[0] = 10; // norm 10, clipped to 0.1
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: big, numSamples: 100 }).expect(201);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[1]!)).send({ weights: new Array(size).fill(0), numSamples: 1 }).expect(201);
  const weights = (await t.http.get(`/v1/federations/${federationId}/models/1/weights`).set(bearer(ADMIN_KEY)).expect(200)).body.weights as number[];
  // (0.1 + noise) / 2 with noise std 0.05 on the sum: within 6σ (0.15) of 0.05; FedAvg would have given ≈ 9.9.
  assert.ok(Math.abs(weights[0]! - 0.05) < 0.15, String(weights[0]));
  assert.ok(weights.slice(1).every((w) => Math.abs(w) < 0.15));
});

test('Poisson sampling: owners not sampled are refused, the round closes once every sampled owner is in', async () => {
  const { federationId, featureCount, keys, ownerIds } = await setupFederation(t, 12, { training: training(1, 1), privacy: privacy({ epsilon: 10, sampling: { kind: 'poisson', rate: 0.5 } }) });
  const round = (await open(federationId).expect(201)).body;
  assert.equal(round.sampling.rate, 0.5);
  const sampled = ownerIds.map((id) => isSampled(round.sampling.seed, id, 0.5));
  const inRound = sampled.filter(Boolean).length;
  assert.equal(round.privacy.expectedOwners, 6, 'rate × owners, the fixed denominator');
  if (inRound === 0) return; // a seed that samples nobody is possible (p = 1/4096); the round has then failed
  const me = (await t.http.get(`/v1/federations/${federationId}/rounds/1`).set(bearer(keys[0]!)).expect(200)).body;
  assert.equal(me.participation.sampled, sampled[0], 'the server and the owner agree');
  const left = sampled.findIndex((s) => !s);
  if (left >= 0) {
    await assertRefused(
      t,
      () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[left]!)).send({ weights: new Array(featureCount + 1).fill(0), numSamples: 1 }),
      409,
      'not-sampled',
    );
  }
  const chosen = keys.filter((_, i) => sampled[i]);
  for (const [i, key] of chosen.entries()) {
    const res = await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(key)).send({ weights: new Array(featureCount + 1).fill(0), numSamples: 1 }).expect(201);
    assert.equal(res.body.round.status, i === chosen.length - 1 ? 'closed' : 'open', 'closes when every sampled owner is in, not at minOwners');
  }
});

test('a DP round’s cohort is fixed when it opens: an owner who enrols later waits for the next round', async () => {
  const setup = await setupFederation(t, 2, { training: training(2), privacy: privacy({ epsilon: 10 }) });
  await open(setup.federationId).expect(201);
  const late = (await t.http.post(`/v1/federations/${setup.federationId}/owners`).send({ enrolmentToken: setup.enrolmentToken, name: 'late' }).expect(201)).body;
  await assertRefused(
    t,
    () => t.http.post(`/v1/federations/${setup.federationId}/rounds/1/updates`).set(bearer(late.apiKey)).send({ weights: new Array(setup.featureCount + 1).fill(0), numSamples: 1 }),
    409,
    'not-in-cohort',
  );
  const lateView = (await t.http.get(`/v1/federations/${setup.federationId}/owners/${late.owner.id}`).set(bearer(late.apiKey)).expect(200)).body;
  assert.deepEqual(lateView.privacy, { epsilon: 0, delta: 1e-5 }, 'no round it could have taken part in has been charged');
});

test('privacy settings change only before any budget is spent', async () => {
  const { federationId, keys } = await setupFederation(t, 2, { training: training(2) });
  const set = (body: unknown, key = ADMIN_KEY) => t.http.put(`/v1/federations/${federationId}/privacy`).set(bearer(key)).send(body as object);
  await assertRefused(t, () => set({ privacy: privacy() }, keys[0]!), 403, 'forbidden');
  const updated = (await set({ privacy: privacy({ epsilon: 6 }) }).expect(200)).body;
  assert.equal(updated.privacy.epsilon, 6);
  await open(federationId).expect(201);
  await assertRefused(t, () => set({ privacy: privacy({ epsilon: 9 }) }), 409, 'privacy-budget-spent');
  await assertRefused(t, () => set({ privacy: null }), 409, 'privacy-budget-spent');
});

test('bad privacy settings are refused with the field named, and nothing is written', async () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['negative ε', privacy({ epsilon: -1 }), 'body.privacy.epsilon'],
    ['zero δ', privacy({ delta: 0 }), 'body.privacy.delta'],
    ['δ of 1', privacy({ delta: 1 }), 'body.privacy.delta'],
    ['negative clip', privacy({ clipNorm: -0.5 }), 'body.privacy.clipNorm'],
    ['sampling rate above 1', privacy({ sampling: { kind: 'poisson', rate: 1.5 } }), 'body.privacy.sampling'],
    ['sampling rate of 0', privacy({ sampling: { kind: 'poisson', rate: 0 } }), 'body.privacy.sampling'],
    ['a noise multiplier of 0', privacy({ noiseMultiplier: 0 }), 'body.privacy.noiseMultiplier'],
    // A 500 before: the accountant's series did not converge for noise this small.
    ['a noise multiplier too small for any privacy', privacy({ noiseMultiplier: 1e-160, sampling: { kind: 'poisson', rate: 0.01 } }), 'body.privacy'],
    ['δ not below 1/owners', privacy({ delta: 0.6 }), 'body.privacy.delta'],
    ['a budget smaller than one round', privacy({ epsilon: 0.5, noiseMultiplier: 0.5 }), 'body.privacy'],
  ];
  for (const [name, settings, path] of cases) {
    const res = await assertRefused(t, () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody({ training: training(5), privacy: settings })), 422, 'validation-failed', name);
    assert.ok((res.body.errors as { path: string }[]).some((e) => e.path.startsWith(path)), `${name}: ${JSON.stringify(res.body.errors)}`);
  }
  // Non-finite numbers cannot be written in JSON; 1e400 parses to Infinity and is refused the same way.
  await assertRefused(
    t,
    () =>
      t.http
        .post('/v1/federations')
        .set(bearer(ADMIN_KEY))
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(federationBody({ training: training(5), privacy: privacy({ epsilon: 12345 }) })).replace('12345', '1e400')),
    422,
    'validation-failed',
    'an infinite ε',
  );
});

test('δ must stay below 1/owners when a round opens; two instances racing to open spend once', async () => {
  // δ = 0.6 passes creation with minOwners 1, but two enrolled owners make it ≥ 1/owners.
  const few = await setupFederation(t, 2, { training: training(3, 1), privacy: privacy({ delta: 0.6, epsilon: 50 }) });
  await assertRefused(t, () => open(few.federationId), 409, 'privacy-delta-too-large');

  const { federationId } = await setupFederation(t, 3, { training: training(5), privacy: privacy({ epsilon: 10 }) });
  const other = await t.startAnother();
  try {
    const [a, b] = await Promise.all([open(federationId), other.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({})]);
    assert.deepEqual([a.status, b.status].sort(), [201, 409]);
    const federation = (await t.http.get(`/v1/federations/${federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body;
    assert.equal(federation.privacy.spent.rounds, 1, 'one round charged');
  } finally {
    await other.close();
  }
});
