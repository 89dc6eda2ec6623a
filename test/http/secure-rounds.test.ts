import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { generateX25519KeyPair, openEnvelope, type X25519KeyPair } from '../../src/crypto/envelope.js';
import { decodeSecureSum } from '../../src/crypto/secure-update.js';
import { reconstructVector } from '../../src/crypto/shamir.js';
import { decodeSharePayload, sharePayloadValues } from '../../src/crypto/share-codec.js';
import { buildShareUpload, sumInbox } from '../../src/client/secure-shares.js';
import type { RoundView } from '../../src/client/http-client.js';
import { ADMIN_KEY, bearer, createTestApp, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const problem = (type: string) => `https://fedscore.dev/problems/${type}`;
const secureSettings = (minOwners: number) => ({
  aggregation: 'secure',
  secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100, summingDeadlineSeconds: 600 },
  training: { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners, roundDeadlineSeconds: 600, autoAdvance: false, seed: 3 },
});

interface SecureSetup {
  federationId: string;
  keys: string[];
  ownerIds: string[];
  featureCount: number;
  /** Committee volunteers' key pairs by owner id. */
  memberKeys: Map<string, X25519KeyPair>;
}

/** A secure federation whose first `volunteers` owners registered keys and volunteered. */
async function setupSecure(owners: number, volunteers: number, minOwners: number): Promise<SecureSetup> {
  const setup = await setupFederation(t, owners, secureSettings(minOwners));
  const memberKeys = new Map<string, X25519KeyPair>();
  for (let i = 0; i < volunteers; i++) {
    const pair = generateX25519KeyPair();
    await t.http
      .put(`/v1/federations/${setup.federationId}/owners/${setup.ownerIds[i]}/public-key`)
      .set(bearer(setup.keys[i]!))
      .send({ publicKey: Buffer.from(pair.publicKey).toString('base64'), committeeVolunteer: true })
      .expect(200);
    memberKeys.set(setup.ownerIds[i]!, pair);
  }
  return { ...setup, memberKeys };
}

async function openSecureRound(federationId: string): Promise<RoundView> {
  return (await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body;
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
  const round = await openSecureRound(s.federationId);
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

test('public keys: only valid keys, only one’s own', async () => {
  const s = await setupSecure(2, 0, 2);
  const before = await snapshot(t.database);
  const path = (i: number) => `/v1/federations/${s.federationId}/owners/${s.ownerIds[i]}/public-key`;
  const bad = await t.http.put(path(0)).set(bearer(s.keys[0]!)).send({ publicKey: Buffer.alloc(31, 7).toString('base64') }).expect(422);
  assert.equal(bad.body.type, problem('validation-failed'));
  const lowOrder = await t.http.put(path(0)).set(bearer(s.keys[0]!)).send({ publicKey: Buffer.alloc(32, 0).toString('base64') }).expect(422);
  assert.equal(lowOrder.body.type, problem('validation-failed'));
  const other = await t.http
    .put(path(1))
    .set(bearer(s.keys[0]!))
    .send({ publicKey: Buffer.from(generateX25519KeyPair().publicKey).toString('base64') })
    .expect(403);
  assert.equal(other.body.type, problem('forbidden'));
  assert.deepEqual(await snapshot(t.database), before);
});

test('bad share uploads and partial sums are refused, change nothing, and the round completes for everyone else', async () => {
  const s = await setupSecure(6, 3, 3);
  const aggregator = await t.http
    .post(`/v1/federations/${s.federationId}/owners`)
    .send({ enrolmentToken: (await t.http.post(`/v1/federations/${s.federationId}/enrolment-token`).set(bearer(ADMIN_KEY)).expect(201)).body.enrolmentToken, name: 'node', role: 'aggregator' })
    .expect(201);
  const round = await openSecureRound(s.federationId);
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
  const round = await openSecureRound(s.federationId);
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

  const next = await openSecureRound(s.federationId);
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

test('what the server stores reveals no owner’s update without t committee secrets', async () => {
  const s = await setupSecure(5, 3, 3);
  const round = await openSecureRound(s.federationId);
  const owners = [0, 1, 2];
  for (const owner of owners) {
    await t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(s.keys[owner]!)).send(shareUpload(s, round, owner).body).expect(201);
  }
  const db = t.database.prisma;
  const roundRow = await db.round.findFirstOrThrow({ where: { federationId: s.federationId, number: 1 } });
  // 1. No plaintext update is stored in secure mode.
  assert.equal(await db.update.count({ where: { roundId: roundRow.id } }), 0);
  // 2. The server holds only public keys: nothing in any table opens an envelope.
  const stored = await db.shareEnvelope.findMany({ where: { roundId: roundRow.id } });
  assert.equal(stored.length, owners.length * 3);
  const everyBlob = [
    ...stored.map((row) => row.envelope),
    ...(await db.owner.findMany()).flatMap((row) => (row.publicKey ? [row.publicKey] : [])),
    ...(await db.committeeSeat.findMany()).map((row) => row.publicKey),
    ...(await db.modelVersion.findMany()).map((row) => row.weights),
  ];
  const target = stored[0]!;
  const context = { federationId: s.federationId, roundNumber: 1, senderId: target.senderId, recipientId: target.recipientId };
  for (const candidate of everyBlob.filter((blob) => blob.length === 32)) {
    assert.throws(() => openEnvelope(target.envelope, { publicKey: candidate, privateKey: candidate }, context));
  }
  // 3. No stored byte string contains an owner's weights (float32) in the clear.
  const size = s.featureCount + 1;
  for (const owner of owners) {
    const weights = Buffer.from(trainedWeights(size, owner).buffer);
    const probe = weights.subarray(0, 16);
    for (const blob of everyBlob) assert.equal(Buffer.from(blob).indexOf(probe), -1);
  }
  // 4. With the secrets of t = 2 committee members (which the server never has), one owner's update is
  //    recoverable from its envelopes alone — that is exactly what the threshold protects.
  const sender = s.ownerIds[1]!;
  const mine = stored.filter((row) => row.senderId === sender);
  const shares = round.secure!.committee.slice(0, 2).map((seat) => {
    const row = mine.find((r) => r.recipientId === seat.ownerId)!;
    const plaintext = openEnvelope(row.envelope, s.memberKeys.get(seat.ownerId)!, { ...context, senderId: sender, recipientId: seat.ownerId });
    return { x: seat.position, values: sharePayloadValues(decodeSharePayload(plaintext, size + 1), size + 1) };
  });
  const { weights } = decodeSecureSum(new Float32Array(size), reconstructVector(shares, 2));
  const expected = trainedWeights(size, 1);
  assert.ok(weights.every((w, j) => Math.abs(w - expected[j]!) < 1e-5));
  // …while one member's secret alone is consistent with any update: its share is a uniformly random vector.
});
