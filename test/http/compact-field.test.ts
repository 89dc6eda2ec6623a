/**
 * A federation on the compact field (2^37 − 25, steps of 2^-16): its charter names the field, its
 * training rounds cap each owner's sample weight for the cohort enrolled at opening, shares and partial
 * sums travel 37 bits per element, and the sum still decodes to the weighted FedAvg. What does not fit —
 * a wide-field share, a wide-packed partial sum, an owner enrolled after opening, a cohort too large for
 * the headroom, differential privacy — is refused and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { COMPACT_ENCODING, WIDE_ENCODING } from '../../src/crypto/fixed-point.js';
import { weightCapFor } from '../../src/crypto/secure-update.js';
import { packFieldVector } from '../../src/crypto/share-codec.js';
import { buildShareUpload, sealingRound, sumInbox } from '../../src/client/secure-shares.js';
import type { RoundView } from '../../src/client/http-client.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, federationBody, setupFederation, type TestApp } from '../helpers/app.js';
import { keyCommittee, registerParty, type CommitteeParty } from '../helpers/committee.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const compactSettings = (clipNorm: number, extra: Record<string, unknown> = {}) => ({
  aggregation: 'secure',
  secure: { committee: { size: 3, threshold: 2 }, clipNorm, summingDeadlineSeconds: 600, field: 'compact' },
  training: { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 3, roundDeadlineSeconds: 600, autoAdvance: false, seed: 3 },
  ...extra,
});

async function setupCompact(owners: number, clipNorm = 100) {
  const setup = await setupFederation(t, owners, compactSettings(clipNorm));
  const parties = new Map<string, CommitteeParty>();
  for (let i = 0; i < 3; i++) parties.set(setup.ownerIds[i]!, await registerParty(t.http, setup.federationId, setup.ownerIds[i]!, setup.keys[i]!));
  return { ...setup, parties };
}

const trained = (size: number, owner: number) => Float32Array.from({ length: size }, (_, j) => 0.02 * (owner + 1) * ((j % 3) - 1));

test('a compact-field round: the charter names the field, owners past the weight cap count at the cap, and the sum is the capped FedAvg', async () => {
  const s = await setupCompact(5);
  const charter = (await t.http.get(`/v1/federations/${s.federationId}/charter`).set(bearer(ADMIN_KEY)).expect(200)).body.charter;
  assert.equal(charter.secure.fieldPrime, String(2 ** 37 - 25));
  assert.equal(charter.secure.fixedPointBits, 16);

  const opened = (await t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body as RoundView;
  const round = await keyCommittee(t.http, s.federationId, opened, s.parties);
  const cap = weightCapFor(COMPACT_ENCODING, 5, 100);
  assert.equal(round.secure!.field, 'compact');
  assert.equal(round.secure!.weightCap, cap);

  const size = s.featureCount + 1;
  const samples = [1, 3, 10 * cap]; // the third owner holds more samples than the cap lets it count
  const owners = [0, 3, 4];
  for (const [i, owner] of owners.entries()) {
    const upload = buildShareUpload({ federationId: s.federationId, ownerId: s.ownerIds[owner]!, round: sealingRound(round), base: new Float32Array(size), trained: trained(size, owner), numSamples: samples[i]! });
    await t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(s.keys[owner]!)).send(upload.body).expect(201);
  }
  const summing = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body as RoundView;
  assert.equal(summing.status, 'summing');

  let last: RoundView | undefined;
  for (const [i, seat] of summing.secure!.committee.slice(0, 2).entries()) {
    const memberKey = s.keys[s.ownerIds.indexOf(seat.ownerId)]!;
    const inbox = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(memberKey)).expect(200)).body;
    const values = sumInbox({ federationId: s.federationId, memberId: seat.ownerId, keys: s.parties.get(seat.ownerId)!.roundKey, inbox, field: 'compact' });
    assert.equal(Buffer.from(values, 'base64').length, Math.ceil((size + 1) * 4.625));
    if (i === 0) {
      // The same sum packed 52 bits wide is not this round's field: refused, nothing stored.
      const wide = Buffer.from(packFieldVector(new Float64Array(size + 1))).toString('base64');
      await assertRefused(
        t,
        () => t.http.post(`/v1/federations/${s.federationId}/rounds/1/partial-sums`).set(bearer(memberKey)).send({ includedSetHash: inbox.includedSetHash, values: wide }),
        422,
        'malformed-partial-sum',
      );
    }
    last = (await t.http.post(`/v1/federations/${s.federationId}/rounds/1/partial-sums`).set(bearer(memberKey)).send({ includedSetHash: inbox.includedSetHash, values }).expect(201)).body.round;
  }
  assert.equal(last!.status, 'closed');
  const weights = (await t.http.get(`/v1/federations/${s.federationId}/models/1/weights`).set(bearer(ADMIN_KEY)).expect(200)).body.weights as number[];
  const counted = samples.map((n) => Math.min(n, cap));
  const total = counted.reduce((a, b) => a + b, 0);
  const expected = Array.from({ length: size }, (_, j) => owners.reduce((sum, owner, i) => sum + counted[i]! * trained(size, owner)[j]!, 0) / total);
  const maxDiff = Math.max(...weights.map((w, j) => Math.abs(w - expected[j]!)));
  // Each owner's n·Δ is rounded to steps of 2^-16: at most 3 half-steps over the total weight, plus float32.
  assert.ok(maxDiff <= (3 * 2 ** -17) / total + 1e-6, `compact aggregate differs from the capped FedAvg by ${maxDiff}`);
  const model = (await t.http.get(`/v1/federations/${s.federationId}/models/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(model.metrics.samples, total);
});

test('a wide-field share and an owner enrolled after opening are refused by a compact round, and change nothing', async () => {
  const s = await setupCompact(4);
  const opened = (await t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body as RoundView;
  const round = await keyCommittee(t.http, s.federationId, opened, s.parties);
  const size = s.featureCount + 1;
  const asWide = { ...sealingRound(round), secure: { ...sealingRound(round).secure!, field: 'wide' as const } };
  const wide = buildShareUpload({ federationId: s.federationId, ownerId: s.ownerIds[3]!, round: asWide, base: new Float32Array(size), trained: trained(size, 3), numSamples: 1 });
  const refused = await assertRefused(t, () => t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(s.keys[3]!)).send(wide.body), 422, 'malformed-shares');
  assert.match(JSON.stringify(refused.body.errors), /expected \d+ or \d+ bytes/);

  const late = await t.http.post(`/v1/federations/${s.federationId}/owners`).send({ enrolmentToken: s.enrolmentToken, name: 'late' }).expect(201);
  const upload = buildShareUpload({ federationId: s.federationId, ownerId: late.body.owner.id, round: sealingRound(round), base: new Float32Array(size), trained: trained(size, 9), numSamples: 1 });
  await assertRefused(t, () => t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(late.body.apiKey)).send(upload.body), 409, 'not-in-cohort');
  // An owner of the cohort still gets in.
  const fine = buildShareUpload({ federationId: s.federationId, ownerId: s.ownerIds[3]!, round: sealingRound(round), base: new Float32Array(size), trained: trained(size, 3), numSamples: 1 });
  await t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(s.keys[3]!)).send(fine.body).expect(201);
});

test('a cohort whose sum could leave the compact field cannot open a round; the wide field takes it', async () => {
  // 106 owners at clipNorm 10,000: even a weight of 1 may sum to 1.06·10^6 > 1,048,575.
  const s = await setupCompact(106, 10_000);
  assert.equal(weightCapFor(COMPACT_ENCODING, 106, 10_000), 0);
  assert.ok(weightCapFor(WIDE_ENCODING, 106, 10_000) > 1);
  const refused = await assertRefused(t, () => t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}), 409, 'field-headroom-exceeded');
  assert.match(String(refused.body.detail), /106 owners at clipNorm 10000/);
});

test('differential privacy needs the wide field: refused at creation and on either update, nothing written', async () => {
  const privacy = { epsilon: 4, delta: 1e-5, clipNorm: 1 };
  await assertRefused(t, () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody(compactSettings(100, { privacy }))), 422, 'validation-failed');
  const s = await setupFederation(t, 3, compactSettings(100));
  await assertRefused(t, () => t.http.put(`/v1/federations/${s.federationId}/privacy`).set(bearer(ADMIN_KEY)).send({ privacy }), 422, 'validation-failed');
  const dp = await setupFederation(t, 3, { ...compactSettings(100), secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100 }, privacy });
  await assertRefused(
    t,
    () => t.http.put(`/v1/federations/${dp.federationId}/secure`).set(bearer(ADMIN_KEY)).send({ secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100, field: 'compact' } }),
    422,
    'validation-failed',
  );
});
