import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EnvelopeError, envelopeOverhead, generateX25519KeyPair, openEnvelope, type X25519KeyPair } from '../../src/crypto/envelope.js';
import { generateIdentityKeyPair } from '../../src/crypto/identity.js';
import { FIELD_PRIME } from '../../src/crypto/field.js';
import { decodeSecureSum, encodeSecureUpdate } from '../../src/crypto/secure-update.js';
import { reconstructVector } from '../../src/crypto/shamir.js';
import { decodeSharePayload, packedFieldBytes, sharePayloadValues } from '../../src/crypto/share-codec.js';
import { buildShareUpload, sumInbox } from '../../src/client/secure-shares.js';
import { findFederation } from '../../src/db/federations.repository.js';
import { countContributions, findRound, insertContributionRows, partialSumRows } from '../../src/db/rounds.repository.js';
import { decideRound } from '../../src/fl/round-rules.js';
import { aggregationMode } from '../../src/services/round-core.js';
import type { RoundView } from '../../src/client/http-client.js';
import type supertest from 'supertest';
import { ADMIN_KEY, assertProblem, assertRefused, bearer, createTestApp, federationBody, setupFederation, snapshot, type TestApp } from '../helpers/app.js';
import { committeeKeyBody, keyCommittee, registerParty, type CommitteeParty } from '../helpers/committee.js';
import { readEveryRow } from '../helpers/database-contents.js';
import { candidateSecrets, findLeaks, keyProbes, updateProbes } from '../helpers/leak-scan.js';

let now = new Date('2026-06-01T00:00:00Z');
let t: TestApp;
before(async () => (t = await createTestApp({ clock: () => now })));
after(async () => t.close());

const problem = (type: string) => `https://fedscore.dev/problems/${type}`;
const secureSettings = (minOwners: number, committee = { size: 3, threshold: 2 }) => ({
  aggregation: 'secure',
  secure: { committee, clipNorm: 100, summingDeadlineSeconds: 600 },
  training: { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners, roundDeadlineSeconds: 600, autoAdvance: false, seed: 3 },
});

interface SecureSetup {
  federationId: string;
  keys: string[];
  ownerIds: string[];
  featureCount: number;
  /** Committee volunteers' round key pairs by owner id. */
  memberKeys: Map<string, X25519KeyPair>;
  /** Committee volunteers by owner id: identity and round key. */
  parties: Map<string, CommitteeParty>;
}

/** A secure federation whose first `volunteers` owners registered identities and volunteered. */
async function setupSecure(owners: number, volunteers: number, minOwners: number, committee?: { size: number; threshold: number }): Promise<SecureSetup> {
  const setup = await setupFederation(t, owners, secureSettings(minOwners, committee));
  const parties = new Map<string, CommitteeParty>();
  for (let i = 0; i < volunteers; i++) {
    parties.set(setup.ownerIds[i]!, await registerParty(t.http, setup.federationId, setup.ownerIds[i]!, setup.keys[i]!));
  }
  return { ...setup, parties, memberKeys: new Map([...parties].map(([id, party]) => [id, party.roundKey])) };
}

/** Opens a round and has its committee publish their signed keys, as their agents would. */
async function openSecureRound(s: SecureSetup): Promise<RoundView> {
  const opened = (await t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body as RoundView;
  return keyCommittee(t.http, s.federationId, opened, s.parties);
}

/** Weights an owner "trained": base + a recognisable change. */
function trainedWeights(size: number, owner: number): Float32Array {
  return Float32Array.from({ length: size }, (_, j) => 0.01 * (owner + 1) * ((j % 5) - 2));
}

function shareUpload(s: SecureSetup, round: RoundView, owner: number, numSamples = 1) {
  const size = s.featureCount + 1;
  return buildShareUpload({
    federationId: s.federationId,
    ownerId: s.ownerIds[owner]!,
    round,
    base: new Float32Array(size), // logistic regression starts from zeros
    trained: trainedWeights(size, owner),
    numSamples,
  });
}

test('a secure round: shares in, summing, t partial sums, the sample-weighted FedAvg out', async () => {
  const s = await setupSecure(5, 3, 3);
  const round = await openSecureRound(s);
  assert.equal(round.aggregation, 'secure');
  assert.equal(round.secure!.committee.length, 3);
  assert.deepEqual(round.secure!.committee.map((seat) => seat.position), [1, 2, 3]);
  for (const seat of round.secure!.committee) assert.ok(s.memberKeys.has(seat.ownerId), 'only volunteers sit on the committee');

  const samples = [1, 2, 3];
  for (const owner of [0, 3, 4]) {
    const upload = shareUpload(s, round, owner, samples[[0, 3, 4].indexOf(owner)]);
    const res = await t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(s.keys[owner]!)).send(upload.body).expect(201);
    assert.equal(res.body.round.status, owner === 4 ? 'summing' : 'open');
  }
  const summing = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body as RoundView;
  assert.equal(summing.secure!.includedCount, 3);
  assert.match(summing.secure!.includedSetHash!, /^[0-9a-f]{64}$/);

  // Two of the three members (t = 2) sum their inboxes; the round publishes.
  let last: RoundView | undefined;
  for (const seat of summing.secure!.committee.slice(0, 2)) {
    const memberKey = s.keys[s.ownerIds.indexOf(seat.ownerId)]!;
    const inbox = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(memberKey)).expect(200)).body;
    assert.equal(inbox.envelopes.length, 3);
    const values = sumInbox({ federationId: s.federationId, memberId: seat.ownerId, keys: s.memberKeys.get(seat.ownerId)!, inbox });
    last = (
      await t.http
        .post(`/v1/federations/${s.federationId}/rounds/1/partial-sums`)
        .set(bearer(memberKey))
        .send({ includedSetHash: inbox.includedSetHash, values })
        .expect(201)
    ).body.round;
  }
  assert.equal(last!.status, 'closed');
  assert.equal(last!.modelVersion, 1);
  const weights = (await t.http.get(`/v1/federations/${s.federationId}/models/1/weights`).set(bearer(ADMIN_KEY)).expect(200)).body.weights as number[];
  const size = s.featureCount + 1;
  const expected = Array.from({ length: size }, (_, j) =>
    [0, 3, 4].reduce((sum, owner, i) => sum + samples[i]! * trainedWeights(size, owner)[j]!, 0) / 6,
  );
  const maxDiff = Math.max(...weights.map((w, j) => Math.abs(w - expected[j]!)));
  assert.ok(maxDiff <= 1e-5, `secure aggregate differs from FedAvg by ${maxDiff}`);
  const model = (await t.http.get(`/v1/federations/${s.federationId}/models/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(model.metrics.owners, 3);
  assert.equal(model.metrics.samples, 6);
  assert.equal(model.metrics.trainLoss, null, 'owners’ losses stay with them');
});

test('opening a secure round needs k volunteers with keys', async () => {
  const s = await setupSecure(3, 2, 2);
  const before = await snapshot(t.database);
  const res = await t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(409);
  assert.equal(res.body.type, problem('committee-unavailable'));
  assert.deepEqual(await snapshot(t.database), before);
});

test('identities: only valid Ed25519 keys, only one’s own, and fixed once registered', async () => {
  const s = await setupSecure(2, 0, 2);
  const before = await snapshot(t.database);
  const path = (i: number) => `/v1/federations/${s.federationId}/owners/${s.ownerIds[i]}/identity`;
  const bad = await t.http.put(path(0)).set(bearer(s.keys[0]!)).send({ identityKey: Buffer.alloc(31, 7).toString('base64') }).expect(422);
  assert.equal(bad.body.type, problem('validation-failed'));
  const notOnCurve = await t.http.put(path(0)).set(bearer(s.keys[0]!)).send({ identityKey: Buffer.alloc(32, 0).toString('base64') }).expect(422);
  assert.equal(notOnCurve.body.type, problem('validation-failed'));
  const other = await t.http.put(path(1)).set(bearer(s.keys[0]!)).send({ identityKey: Buffer.from(generateIdentityKeyPair().publicKey).toString('base64') }).expect(403);
  assert.equal(other.body.type, problem('forbidden'));
  assert.deepEqual(await snapshot(t.database), before);

  const first = Buffer.from(generateIdentityKeyPair().publicKey).toString('base64');
  await t.http.put(path(0)).set(bearer(s.keys[0]!)).send({ identityKey: first, committeeVolunteer: true }).expect(200);
  const again = await t.http.put(path(0)).set(bearer(s.keys[0]!)).send({ identityKey: first, committeeVolunteer: false }).expect(200);
  assert.equal(again.body.committeeVolunteer, false, 'the same identity again only changes the preference');
  const registered = await snapshot(t.database);
  await assertRefused(
    t,
    () => t.http.put(path(0)).set(bearer(s.keys[0]!)).send({ identityKey: Buffer.from(generateIdentityKeyPair().publicKey).toString('base64') }),
    409,
    'identity-key-fixed',
    'a second identity',
  );
  assert.deepEqual(await snapshot(t.database), registered);
});

test('bad share uploads and partial sums are refused, change nothing, and the round completes for everyone else', async () => {
  const s = await setupSecure(6, 3, 3);
  const aggregator = await t.http
    .post(`/v1/federations/${s.federationId}/owners`)
    .send({ enrolmentToken: (await t.http.post(`/v1/federations/${s.federationId}/enrolment-token`).set(bearer(ADMIN_KEY)).expect(201)).body.enrolmentToken, name: 'node', role: 'aggregator' })
    .expect(201);
  const round = await openSecureRound(s);
  const sharesPath = `/v1/federations/${s.federationId}/rounds/1/shares`;
  const good = shareUpload(s, round, 3);
  await t.http.post(sharesPath).set(bearer(s.keys[3]!)).send(good.body).expect(201);
  const before = await snapshot(t.database);
  const envelopeCount = () => t.database.prisma.shareEnvelope.count();
  const storedBefore = await envelopeCount();

  const fresh = shareUpload(s, round, 4).body;
  const truncated = structuredClone(fresh);
  truncated.envelopes[0]!.envelope = Buffer.from(Buffer.from(truncated.envelopes[0]!.envelope, 'base64').subarray(0, 40)).toString('base64');
  const foreign = structuredClone(fresh);
  foreign.envelopes[1]!.recipientId = s.ownerIds[5]!; // an owner, but not on this committee
  const doubled = structuredClone(fresh);
  doubled.envelopes[2]!.recipientId = doubled.envelopes[1]!.recipientId;
  const missing = { envelopes: fresh.envelopes.slice(0, 2) };
  const badVersion = structuredClone(fresh);
  const bytes = Buffer.from(badVersion.envelopes[0]!.envelope, 'base64');
  bytes[0] = 99;
  badVersion.envelopes[0]!.envelope = bytes.toString('base64');
  const notBase64 = structuredClone(fresh);
  notBase64.envelopes[0]!.envelope = '!!not base64!!';

  const cases: [string, () => Promise<{ status: number; body: { type: string } }>, number, string][] = [
    ['truncated envelope', () => t.http.post(sharesPath).set(bearer(s.keys[4]!)).send(truncated), 422, 'malformed-shares'],
    ['recipient outside the committee', () => t.http.post(sharesPath).set(bearer(s.keys[4]!)).send(foreign), 422, 'malformed-shares'],
    ['two envelopes for one member', () => t.http.post(sharesPath).set(bearer(s.keys[4]!)).send(doubled), 422, 'malformed-shares'],
    ['a member left out', () => t.http.post(sharesPath).set(bearer(s.keys[4]!)).send(missing), 422, 'malformed-shares'],
    ['unknown envelope version', () => t.http.post(sharesPath).set(bearer(s.keys[4]!)).send(badVersion), 422, 'malformed-shares'],
    ['not base64', () => t.http.post(sharesPath).set(bearer(s.keys[4]!)).send(notBase64), 422, 'validation-failed'],
    ['second upload', () => t.http.post(sharesPath).set(bearer(s.keys[3]!)).send(shareUpload(s, round, 3).body), 409, 'duplicate-update'],
    ['plain update in secure mode', () => t.http.post(`/v1/federations/${s.federationId}/rounds/1/updates`).set(bearer(s.keys[4]!)).send({ weights: [0], numSamples: 1 }), 409, 'wrong-aggregation-mode'],
    ['an aggregator node uploading shares', () => t.http.post(sharesPath).set(bearer(aggregator.body.apiKey)).send(fresh), 403, 'forbidden'],
    ['the operator uploading shares', () => t.http.post(sharesPath).set(bearer(ADMIN_KEY)).send(fresh), 403, 'forbidden'],
    ['inbox before summing', () => t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(s.keys[s.ownerIds.indexOf(round.secure!.committee[0]!.ownerId)]!)), 409, 'round-not-summing'],
  ];
  for (const [name, send, status, type] of cases) {
    const res = await send();
    assert.equal(res.status, status, `${name}: status ${JSON.stringify(res.body)}`);
    assert.equal(res.body.type, problem(type), `${name}: type`);
    assert.deepEqual(await snapshot(t.database), before, `${name}: database unchanged`);
    assert.equal(await envelopeCount(), storedBefore, `${name}: no envelope stored`);
  }

  await t.http.post(sharesPath).set(bearer(s.keys[4]!)).send(fresh).expect(201);
  const summing = (await t.http.post(sharesPath).set(bearer(s.keys[5]!)).send(shareUpload(s, round, 5).body).expect(201)).body.round as RoundView;
  assert.equal(summing.status, 'summing');
  const afterSharesClosed = await t.http.post(sharesPath).set(bearer(s.keys[0]!)).send(shareUpload(s, round, 0).body).expect(409);
  assert.equal(afterSharesClosed.body.type, problem('round-not-open'));

  const [seatA, seatB] = summing.secure!.committee;
  const keyOf = (ownerId: string) => s.keys[s.ownerIds.indexOf(ownerId)]!;
  const inboxA = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(keyOf(seatA!.ownerId))).expect(200)).body;
  const valuesA = sumInbox({ federationId: s.federationId, memberId: seatA!.ownerId, keys: s.memberKeys.get(seatA!.ownerId)!, inbox: inboxA });
  const partialPath = `/v1/federations/${s.federationId}/rounds/1/partial-sums`;
  const nonMember = s.ownerIds.find((id) => !summing.secure!.committee.some((seat) => seat.ownerId === id))!;
  const beforeSums = await snapshot(t.database);
  const partialCases: [string, () => Promise<{ status: number; body: { type: string } }>, number, string][] = [
    ['inbox of a non-member', () => t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(keyOf(nonMember))), 403, 'forbidden'],
    ['partial sum from a non-member', () => t.http.post(partialPath).set(bearer(keyOf(nonMember))).send({ includedSetHash: inboxA.includedSetHash, values: valuesA }), 403, 'forbidden'],
    ['partial sum for the wrong included set', () => t.http.post(partialPath).set(bearer(keyOf(seatA!.ownerId))).send({ includedSetHash: 'f'.repeat(64), values: valuesA }), 409, 'included-set-mismatch'],
    ['partial sum of the wrong length', () => t.http.post(partialPath).set(bearer(keyOf(seatA!.ownerId))).send({ includedSetHash: inboxA.includedSetHash, values: Buffer.from(Buffer.from(valuesA, 'base64').subarray(7)).toString('base64') }), 422, 'malformed-partial-sum'],
    ['partial sum with an element ≥ p', () => t.http.post(partialPath).set(bearer(keyOf(seatA!.ownerId))).send({ includedSetHash: inboxA.includedSetHash, values: Buffer.alloc(Buffer.from(valuesA, 'base64').length, 0xff).toString('base64') }), 422, 'malformed-partial-sum'],
  ];
  for (const [name, send, status, type] of partialCases) {
    const res = await send();
    assert.equal(res.status, status, `${name}: status ${JSON.stringify(res.body)}`);
    assert.equal(res.body.type, problem(type), `${name}: type`);
    assert.deepEqual(await snapshot(t.database), beforeSums, `${name}: database unchanged`);
  }
  await t.http.post(partialPath).set(bearer(keyOf(seatA!.ownerId))).send({ includedSetHash: inboxA.includedSetHash, values: valuesA }).expect(201);
  const again = await t.http.post(partialPath).set(bearer(keyOf(seatA!.ownerId))).send({ includedSetHash: inboxA.includedSetHash, values: valuesA }).expect(409);
  assert.equal(again.body.type, problem('duplicate-partial-sum'));
  const inboxB = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(keyOf(seatB!.ownerId))).expect(200)).body;
  const valuesB = sumInbox({ federationId: s.federationId, memberId: seatB!.ownerId, keys: s.memberKeys.get(seatB!.ownerId)!, inbox: inboxB });
  const closed = await t.http.post(partialPath).set(bearer(keyOf(seatB!.ownerId))).send({ includedSetHash: inboxB.includedSetHash, values: valuesB }).expect(201);
  assert.equal(closed.body.round.status, 'closed');
  assert.equal(closed.body.round.secure.includedCount, 3);
});

test('with more than k − t members gone the round fails cleanly, and the next round works', async () => {
  const s = await setupSecure(4, 3, 2);
  const round = await openSecureRound(s);
  for (const owner of [0, 1]) {
    await t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(s.keys[owner]!)).send(shareUpload(s, round, owner).body).expect(201);
  }
  // Only one of the three members (t = 2) uploads.
  const seat = round.secure!.committee[0]!;
  const memberKey = s.keys[s.ownerIds.indexOf(seat.ownerId)]!;
  const inbox = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(memberKey)).expect(200)).body;
  await t.http
    .post(`/v1/federations/${s.federationId}/rounds/1/partial-sums`)
    .set(bearer(memberKey))
    .send({ includedSetHash: inbox.includedSetHash, values: sumInbox({ federationId: s.federationId, memberId: seat.ownerId, keys: s.memberKeys.get(seat.ownerId)!, inbox }) })
    .expect(201);
  const failed = (await t.http.post(`/v1/federations/${s.federationId}/rounds/1/close`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(failed.status, 'failed');
  assert.match(failed.failureReason, /1 of 2 required partial sums/);
  const federation = (await t.http.get(`/v1/federations/${s.federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(federation.latestModelVersion, 0, 'nothing published; the previous model stays');

  const next = await openSecureRound(s);
  assert.equal(next.number, 2);
  for (const owner of [2, 3]) {
    await t.http.post(`/v1/federations/${s.federationId}/rounds/2/shares`).set(bearer(s.keys[owner]!)).send(shareUpload(s, next, owner).body).expect(201);
  }
  let status = '';
  for (const member of next.secure!.committee.slice(0, 2)) {
    const key = s.keys[s.ownerIds.indexOf(member.ownerId)]!;
    const box = (await t.http.get(`/v1/federations/${s.federationId}/rounds/2/inbox`).set(bearer(key)).expect(200)).body;
    const values = sumInbox({ federationId: s.federationId, memberId: member.ownerId, keys: s.memberKeys.get(member.ownerId)!, inbox: box });
    status = (await t.http.post(`/v1/federations/${s.federationId}/rounds/2/partial-sums`).set(bearer(key)).send({ includedSetHash: box.includedSetHash, values }).expect(201)).body.round.status;
  }
  assert.equal(status, 'closed');
});

test('secure mode needs at least two owners per round: a one-owner "sum" is that owner’s update', async () => {
  const s = await setupSecure(3, 3, 2);
  await assertRefused(t, () => t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({ minOwners: 1 }), 422, 'validation-failed', 'a round of one');
  const body = federationBody({ ...secureSettings(2), training: { ...secureSettings(2).training, minOwners: 1 } });
  const res = await assertRefused(t, () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(body), 422, 'validation-failed', 'a federation of one');
  assert.deepEqual((res.body.errors as { path: string }[]).map((e) => e.path), ['body.training.minOwners']);
  await t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({ minOwners: 2 }).expect(201);
});

test('the sweep fails a round whose summing deadline passes with fewer than t partial sums, once', async () => {
  const s = await setupSecure(3, 3, 2);
  const round = await openSecureRound(s);
  for (const owner of [0, 1]) await uploadShares(s, round, owner);
  const [seat] = round.secure!.committee;
  await uploadPartialSum(s, round, seat!);
  await t.app.services.rounds.sweep();
  const stillSumming = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(stillSumming.status, 'summing', 'nothing is due before the summing deadline');
  now = new Date(now.getTime() + 601_000);
  // Rounds other tests left open fall due at the same time; the sweep settles each of them once.
  assert.ok((await t.app.services.rounds.sweep()) >= 1);
  assert.equal(await t.app.services.rounds.sweep(), 0, 'a round settles once');
  const failed = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(failed.status, 'failed');
  assert.match(failed.failureReason, /summing deadline passed with 1 of 2 required partial sums/);
  assert.equal((await t.http.get(`/v1/federations/${s.federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body.latestModelVersion, 0);
  const late = round.secure!.committee[1]!;
  await assertRefused(t, () => partialSumRequest(t.http, s, round, late), 409, 'round-not-summing', 'a partial sum after the failure');
});

test('a sweep that read t − 1 partial sums does not fail the round once the t-th is committed: it is reconstructed', async () => {
  const s = await setupSecure(3, 3, 2);
  const round = await openSecureRound(s);
  for (const owner of [0, 1]) await uploadShares(s, round, owner);
  const [first, second] = round.secure!.committee;
  await uploadPartialSum(s, round, first!);
  // A sweep reads the round one partial sum short; then another instance commits the second one and dies
  // before settling. The sweep's failure, decided past the summing deadline from its read, is stale.
  const federation = (await findFederation(t.database.prisma, s.federationId))!;
  const seen = (await findRound(t.database.prisma, s.federationId, 1))!;
  const key = s.keys[s.ownerIds.indexOf(second!.ownerId)]!;
  const inbox = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(key)).expect(200)).body;
  const values = sumInbox({ federationId: s.federationId, memberId: second!.ownerId, keys: s.memberKeys.get(second!.ownerId)!, inbox });
  await t.database.prisma.$transaction(async (tx) => {
    await insertContributionRows(tx, partialSumRows({ id: 'unsettled-sum', roundId: seen.id, memberId: second!.ownerId, position: second!.position, includedSetHash: inbox.includedSetHash, values: Buffer.from(values, 'base64') }));
    assert.ok(await countContributions(tx, seen.id, 'summing', 1), 'the round is summing');
  });
  now = new Date(now.getTime() + 601_000);
  const stale = decideRound(seen, aggregationMode(federation), now);
  assert.deepEqual(stale, { action: 'fail', reason: 'summing deadline passed with 1 of 2 required partial sums' }, 'what the sweep decided from its read');
  assert.equal(await t.app.services.rounds.core.apply(federation, seen, stale), false, 'the stale failure is not applied');
  assert.equal((await t.http.get(`/v1/federations/${s.federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body.status, 'summing');
  // The next look at the round, with both partial sums in view, reconstructs it.
  const fresh = (await findRound(t.database.prisma, s.federationId, 1))!;
  assert.equal(await t.app.services.rounds.core.settleIfDue(federation, fresh), true);
  await assertFedAvg(s, 1, [0, 1]);
});

test('a secure round survives a restart mid-shares and another mid-summing', async () => {
  const s = await setupSecure(5, 3, 3);
  const round = await openSecureRound(s);
  await uploadShares(s, round, 0);
  await t.restart(); // mid-shares: one owner's shares are in, nothing of the round is in memory
  await uploadShares(s, round, 3);
  await uploadShares(s, round, 4);
  const [a, b] = round.secure!.committee;
  await uploadPartialSum(s, round, a!);
  await t.restart(); // mid-summing: one partial sum is in
  const closed = await uploadPartialSum(s, round, b!);
  assert.equal(closed.status, 'closed');
  await assertFedAvg(s, 1, [0, 3, 4]);
});

test('two instances over one database run one secure round: shares and partial sums through either', async () => {
  const s = await setupSecure(6, 5, 4, { size: 5, threshold: 3 });
  const second = await t.startAnother();
  try {
    const round = await openSecureRound(s);
    const via = (i: number) => (i % 2 === 0 ? t.http : second.http);
    const uploads = await Promise.all([0, 1, 2, 3, 5].map((owner, i) => sharesRequest(via(i), s, round, owner)));
    // Four are needed; a fifth racing the freeze is either in the included set or refused, never lost.
    const accepted = [0, 1, 2, 3, 5].filter((_, i) => uploads[i]!.status === 201);
    for (const res of uploads.filter((r) => r.status !== 201)) assertProblem(res, 409, 'round-not-open', 'shares after the freeze');
    const frozen = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body as RoundView;
    assert.equal(frozen.status, 'summing');
    assert.equal(frozen.secure!.includedCount, accepted.length);
    const sums = await Promise.all(frozen.secure!.committee.map((seat, i) => partialSumRequest(via(i), s, frozen, seat)));
    await assertExactlyOnePublication(s, sums, accepted);
  } finally {
    await second.close();
  }
});

test('concurrent partial sums from the whole committee publish exactly one version from the included set', async () => {
  const s = await setupSecure(5, 5, 3, { size: 5, threshold: 2 });
  const round = await openSecureRound(s);
  for (const owner of [1, 2, 4]) await uploadShares(s, round, owner);
  const summing = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1`).set(bearer(ADMIN_KEY)).expect(200)).body as RoundView;
  const sums = await Promise.all(summing.secure!.committee.map((seat) => partialSumRequest(t.http, s, summing, seat)));
  await assertExactlyOnePublication(s, sums, [1, 2, 4]);
});

/** Every partial sum was accepted or refused as too late; the stored ones are exactly the accepted ones; one version, the exact FedAvg. */
async function assertExactlyOnePublication(s: SecureSetup, sums: supertest.Response[], owners: number[]) {
  const accepted = sums.filter((r) => r.status === 201);
  assert.ok(accepted.length >= 2, `at least t partial sums accepted, got ${accepted.length}`);
  for (const res of sums.filter((r) => r.status !== 201)) assertProblem(res, 409, 'round-not-summing', 'a partial sum after the close');
  const round = await t.database.prisma.round.findFirstOrThrow({ where: { federationId: s.federationId, number: 1 }, include: { partialSums: true } });
  assert.equal(round.status, 'closed');
  assert.equal(round.partialSums.length, accepted.length);
  assert.equal(round.partialSumCount, accepted.length);
  const models = (await t.http.get(`/v1/federations/${s.federationId}/models`).set(bearer(ADMIN_KEY)).expect(200)).body.models as { version: number }[];
  assert.deepEqual(models.map((m) => m.version), [0, 1], 'one version published');
  await assertFedAvg(s, 1, owners);
}

/** The published version is the sample-weighted FedAvg of exactly these owners' trained weights (1 sample each). */
async function assertFedAvg(s: SecureSetup, version: number, owners: number[]) {
  const size = s.featureCount + 1;
  const weights = (await t.http.get(`/v1/federations/${s.federationId}/models/${version}/weights`).set(bearer(ADMIN_KEY)).expect(200)).body.weights as number[];
  const expected = Array.from({ length: size }, (_, j) => owners.reduce((sum, owner) => sum + trainedWeights(size, owner)[j]!, 0) / owners.length);
  const maxDiff = Math.max(...weights.map((w, j) => Math.abs(w - expected[j]!)));
  assert.ok(maxDiff <= 1e-5, `version ${version} differs from the FedAvg of owners ${owners} by ${maxDiff}`);
  const model = (await t.http.get(`/v1/federations/${s.federationId}/models/${version}`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.deepEqual([model.metrics.owners, model.metrics.samples], [owners.length, owners.length]);
}

function sharesRequest(http: supertest.Agent, s: SecureSetup, round: RoundView, owner: number) {
  return http.post(`/v1/federations/${s.federationId}/rounds/${round.number}/shares`).set(bearer(s.keys[owner]!)).send(shareUpload(s, round, owner).body);
}

async function uploadShares(s: SecureSetup, round: RoundView, owner: number): Promise<RoundView> {
  return (await sharesRequest(t.http, s, round, owner).expect(201)).body.round;
}

/** A committee member fetches its inbox through `http`, sums it and uploads the partial sum. */
async function partialSumRequest(http: supertest.Agent, s: SecureSetup, round: RoundView, seat: { ownerId: string }) {
  const key = s.keys[s.ownerIds.indexOf(seat.ownerId)]!;
  const base = `/v1/federations/${s.federationId}/rounds/${round.number}`;
  const inbox = await http.get(`${base}/inbox`).set(bearer(key));
  if (inbox.status !== 200) return inbox;
  const values = sumInbox({ federationId: s.federationId, memberId: seat.ownerId, keys: s.memberKeys.get(seat.ownerId)!, inbox: inbox.body });
  return http.post(`${base}/partial-sums`).set(bearer(key)).send({ includedSetHash: inbox.body.includedSetHash, values });
}

async function uploadPartialSum(s: SecureSetup, round: RoundView, seat: { ownerId: string }): Promise<RoundView> {
  const res = await partialSumRequest(t.http, s, round, seat);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.round;
}

test('what the server stores reveals no owner’s update without t committee secrets', async () => {
  const committee = { size: 5, threshold: 3 };
  const s = await setupSecure(7, 5, 3, committee);
  const round = await openSecureRound(s);
  const size = s.featureCount + 1;
  const owners = [0, 5, 6]; // one owner that also sits on committees, two that do not
  const samples = new Map([[0, 2], [5, 3], [6, 5]]);
  const updates = new Map(owners.map((owner) => [owner, { base: new Float32Array(size), trained: distinctWeights(size, owner), numSamples: samples.get(owner)! }]));
  for (const owner of owners) {
    const upload = buildShareUpload({ federationId: s.federationId, ownerId: s.ownerIds[owner]!, round, ...updates.get(owner)! });
    await t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(s.keys[owner]!)).send(upload.body).expect(201);
  }
  const db = t.database.prisma;
  const roundRow = await db.round.findFirstOrThrow({ where: { federationId: s.federationId, number: 1 } });
  assert.equal(roundRow.status, 'summing');
  const stored = await db.shareEnvelope.findMany({ where: { roundId: roundRow.id } });
  assert.equal(stored.length, owners.length * committee.size);
  const memberKeys = round.secure!.committee.map((seat) => ({ seat, keys: s.memberKeys.get(seat.ownerId)! }));
  const contextOf = (row: { senderId: string; recipientId: string }) => ({ federationId: s.federationId, roundNumber: 1, senderId: row.senderId, recipientId: row.recipientId });
  const secretVector = (owner: number) => {
    const u = updates.get(owner)!;
    return encodeSecureUpdate(u.base, u.trained, u.numSamples, 100).vector;
  };

  /** What the server alone could do with everything it stores, checked while summing and again once published. */
  const assertServerLearnsNothing = async (stage: string) => {
    const everything = await readEveryRow(t.database);
    // 1. No plaintext update in the plain-mode table.
    assert.equal((everything.Update ?? []).length, 0, `${stage}: no Update row`);
    // 2. No owner's update, in any encoding, in any table or column.
    for (const owner of owners) {
      assert.deepEqual(findLeaks(everything, updateProbes(updates.get(owner)!)), [], `${stage}: owner ${owner}'s update is stored somewhere`);
    }
    // 3. No committee member's private key in any form, and no stored 32-byte value opens an envelope when
    //    taken as a private key (its public key derived from it, as a thief would).
    for (const { keys } of memberKeys) assert.deepEqual(findLeaks(everything, keyProbes(keys.privateKey)), [], `${stage}: a private key is stored`);
    for (const party of s.parties.values()) {
      assert.deepEqual(findLeaks(everything, keyProbes(party.identity.privateKey)), [], `${stage}: an identity's private key is stored`);
    }
    const candidates = candidateSecrets(everything);
    assert.ok(candidates.length >= 10, `${stage}: ${candidates.length} candidate secrets (public keys, hashes) were tried`);
    for (const { seat } of memberKeys) {
      const target = stored.find((row) => row.recipientId === seat.ownerId)!;
      for (const candidate of candidates) {
        const pair = generateX25519KeyPair(() => Uint8Array.from(candidate.bytes));
        assert.throws(
          () => openEnvelope(target.envelope, pair, contextOf(target)),
          (error: unknown) => error instanceof EnvelopeError && error.reason === 'authentication-failed',
          `${stage}: ${candidate.table}.${candidate.column} must not open an envelope`,
        );
      }
    }
    // 4. The envelopes are ciphertext: no stored vector-share envelope reads as a share payload in the clear.
    const vectorEnvelopes = stored.filter((r) => r.envelope.length === envelopeOverhead() + 1 + packedFieldBytes(size + 1));
    assert.equal(vectorEnvelopes.length, owners.length * (committee.size - committee.threshold + 1), `${stage}: k − t + 1 vector shares per owner`);
    for (const row of vectorEnvelopes) {
      const body = row.envelope.subarray(45, row.envelope.length - 16);
      assert.throws(() => decodeSharePayload(body, size + 1), Error, `${stage}: an envelope body decodes as a plaintext share`);
    }
  };
  await assertServerLearnsNothing('while summing');

  // 5. Fewer than t members learn nothing: the shares any t − 1 members hold are uniform field elements,
  //    and interpolating them as if the threshold were t − 1 does not give the secret.
  const opened = (owner: number, member: (typeof memberKeys)[number]) => {
    const row = stored.find((r) => r.senderId === s.ownerIds[owner] && r.recipientId === member.seat.ownerId)!;
    const plaintext = openEnvelope(row.envelope, member.keys, contextOf(row));
    return { x: member.seat.position, values: sharePayloadValues(decodeSharePayload(plaintext, size + 1), size + 1) };
  };
  const coalition = memberKeys.slice(0, committee.threshold - 1);
  let middle = 0;
  let elements = 0;
  for (const owner of owners) {
    const shares = coalition.map((member) => opened(owner, member));
    const guess = reconstructVector(shares, committee.threshold - 1);
    assert.ok(guess.some((v, j) => v !== secretVector(owner)[j]), `owner ${owner}: t − 1 shares reconstruct the update`);
    for (const share of shares) {
      for (const v of share.values) if (v >= FIELD_PRIME / 4 && v < (3 * FIELD_PRIME) / 4) middle++;
      elements += share.values.length;
    }
  }
  // An encoded update sits near 0 or p (small magnitudes); a uniform share lands in the middle half half
  // the time. 276 elements: 0.5 ± 0.03 (1σ), so the bound is 5σ from either side.
  assert.ok(Math.abs(middle / elements - 0.5) < 0.15, `t − 1 members' shares are not uniform: ${middle} of ${elements} in the middle half`);

  // 6. With t members' secrets (which the server never has), one owner's update is recovered exactly —
  //    that is what the threshold protects, and it shows the shares above were real shares.
  for (const owner of owners) {
    const shares = memberKeys.slice(0, committee.threshold).map((member) => opened(owner, member));
    assert.deepEqual(Array.from(reconstructVector(shares, committee.threshold)), Array.from(secretVector(owner)));
    const { weights, totalSamples } = decodeSecureSum(new Float32Array(size), reconstructVector(shares, committee.threshold));
    assert.equal(totalSamples, samples.get(owner));
    const expected = updates.get(owner)!.trained;
    assert.ok(weights.every((w, j) => Math.abs(w - expected[j]!) < 1e-5));
  }

  // The round completes, and what it leaves behind (partial sums, the published model) reveals no one.
  for (const member of memberKeys.slice(0, committee.threshold)) {
    const key = s.keys[s.ownerIds.indexOf(member.seat.ownerId)]!;
    const inbox = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1/inbox`).set(bearer(key)).expect(200)).body;
    const values = sumInbox({ federationId: s.federationId, memberId: member.seat.ownerId, keys: member.keys, inbox });
    await t.http.post(`/v1/federations/${s.federationId}/rounds/1/partial-sums`).set(bearer(key)).send({ includedSetHash: inbox.includedSetHash, values }).expect(201);
  }
  assert.equal((await db.round.findUniqueOrThrow({ where: { id: roundRow.id } })).status, 'closed');
  await assertServerLearnsNothing('after publication');
});

test('the leak checks above fail on a plain round, which stores each update', async () => {
  // The same scan over a plain federation must find the update: proof that it looks in the right places.
  const { federationId, featureCount, keys } = await setupFederation(t, 2);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const trained = distinctWeights(featureCount + 1, 9);
  await t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: Array.from(trained), numSamples: 4 }).expect(201);
  const leaks = findLeaks(await readEveryRow(t.database), updateProbes({ base: new Float32Array(featureCount + 1), trained, numSamples: 4 }));
  assert.ok(leaks.some((leak) => leak.table === 'Update' && leak.column === 'weights' && leak.encoding === 'float32 LE weights'), JSON.stringify(leaks));
});

/** Weights no other owner shares, so a found pattern points at exactly one owner. */
function distinctWeights(size: number, owner: number): Float32Array {
  let state = 7919 * (owner + 1);
  return Float32Array.from({ length: size }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return (state / 2 ** 31 - 0.5) * 0.2;
  });
}
