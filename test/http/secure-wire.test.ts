/**
 * The binary wire forms of secure rounds (src/schemas/secure-frames.ts) beside the JSON ones: a whole round
 * in binary, an inbox streamed over several database pages and equal to its JSON form, content negotiation,
 * and every malformed body — truncated, wrong count or length, trailing bytes, wrong element count —
 * refused as problem+json with nothing written.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { X25519KeyPair } from '../../src/crypto/envelope.js';
import { FIELD_PRIME } from '../../src/crypto/field.js';
import { packFieldVector } from '../../src/crypto/share-codec.js';
import { buildShareUpload, partialSumValues, sumInbox } from '../../src/client/secure-shares.js';
import type { RoundView } from '../../src/client/http-client.js';
import { prefersOctetStream } from '../../src/http/octet-stream.js';
import { decodeInbox, encodePartialSum, encodeShareUpload } from '../../src/schemas/secure-frames.js';
import type supertest from 'supertest';
import { ADMIN_KEY, assertProblem, assertRefused, bearer, createTestApp, setupFederation, type TestApp } from '../helpers/app.js';
import { keyCommittee, registerParty, type CommitteeParty } from '../helpers/committee.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const OCTETS = 'application/octet-stream';

interface Setup {
  federationId: string;
  keys: string[];
  ownerIds: string[];
  featureCount: number;
  memberKeys: Map<string, X25519KeyPair>;
  parties: Map<string, CommitteeParty>;
}

async function setupSecure(owners: number, minOwners: number): Promise<Setup> {
  const setup = await setupFederation(t, owners, {
    aggregation: 'secure',
    secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100, summingDeadlineSeconds: 600 },
    training: { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners, roundDeadlineSeconds: 600, autoAdvance: false, seed: 3 },
  });
  const parties = new Map<string, CommitteeParty>();
  for (let i = 0; i < 3; i++) parties.set(setup.ownerIds[i]!, await registerParty(t.http, setup.federationId, setup.ownerIds[i]!, setup.keys[i]!));
  return { ...setup, parties, memberKeys: new Map([...parties].map(([id, party]) => [id, party.roundKey])) };
}

async function openRound(s: Setup): Promise<RoundView> {
  const opened = (await t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body as RoundView;
  return keyCommittee(t.http, s.federationId, opened, s.parties);
}

const trained = (size: number, owner: number) => Float32Array.from({ length: size }, (_, j) => 0.01 * (owner + 1) * ((j % 5) - 2));

function upload(s: Setup, round: RoundView, owner: number, numSamples = 1) {
  const size = s.featureCount + 1;
  return buildShareUpload({ federationId: s.federationId, ownerId: s.ownerIds[owner]!, round, base: new Float32Array(size), trained: trained(size, owner), numSamples });
}

const roundPath = (s: Setup, n = 1) => `/v1/federations/${s.federationId}/rounds/${n}`;
const keyOf = (s: Setup, ownerId: string) => s.keys[s.ownerIds.indexOf(ownerId)]!;

function postBinary(path: string, key: string, body: Uint8Array) {
  return t.http.post(path).set(bearer(key)).set('content-type', OCTETS).send(Buffer.from(body));
}

/** The whole answer as bytes, however it was sent (the binary inbox comes as a stream). */
function getBinary(path: string, key: string, accept = OCTETS): supertest.Test {
  return t.http
    .get(path)
    .set(bearer(key))
    .set('accept', accept)
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
}

function framedShares(s: Setup, round: RoundView, owner: number) {
  return encodeShareUpload(upload(s, round, owner).envelopes.map(({ recipientId, envelope }) => ({ id: recipientId, envelope })));
}

test('a secure round entirely in the binary forms: shares, a streamed inbox equal to its JSON form, partial sums; the model is the sample-weighted mean', async () => {
  const s = await setupSecure(4, 3);
  const round = await openRound(s);
  const samples = [2, 3, 5];
  for (const [i, owner] of [1, 2, 3].entries()) {
    const frames = encodeShareUpload(upload(s, round, owner, samples[i]).envelopes.map(({ recipientId, envelope }) => ({ id: recipientId, envelope })));
    const res = await postBinary(`${roundPath(s)}/shares`, s.keys[owner]!, frames).expect(201);
    assert.equal(res.body.round.status, i === 2 ? 'summing' : 'open');
  }
  for (const seat of round.secure!.committee.slice(0, 2)) {
    const key = keyOf(s, seat.ownerId);
    const res = await getBinary(`${roundPath(s)}/inbox`, key).expect(200);
    assert.match(res.headers['content-type']!, /^application\/octet-stream/);
    const inbox = decodeInbox(new Uint8Array(res.body as Buffer));
    const json = (await t.http.get(`${roundPath(s)}/inbox`).set(bearer(key)).expect(200)).body;
    assert.deepEqual(
      { ...inbox, envelopes: inbox.envelopes.map(({ id, envelope }) => ({ senderId: id, envelope: Buffer.from(envelope).toString('base64') })) },
      json,
      'the binary inbox carries exactly the JSON inbox',
    );
    const values = partialSumValues({ federationId: s.federationId, memberId: seat.ownerId, keys: s.memberKeys.get(seat.ownerId)!, inbox: { ...json, envelopes: inbox.envelopes.map(({ id, envelope }) => ({ senderId: id, envelope })) } });
    await postBinary(`${roundPath(s)}/partial-sums`, key, encodePartialSum({ includedSetHash: inbox.includedSetHash, count: inbox.vectorLength, values })).expect(201);
  }
  const closed = (await t.http.get(roundPath(s)).set(bearer(ADMIN_KEY)).expect(200)).body as RoundView;
  assert.equal(closed.status, 'closed');
  const weights = (await t.http.get(`/v1/federations/${s.federationId}/models/1/weights`).set(bearer(ADMIN_KEY)).expect(200)).body.weights as number[];
  const size = s.featureCount + 1;
  const total = samples.reduce((a, b) => a + b, 0);
  weights.forEach((w, j) => {
    const expected = [1, 2, 3].reduce((sum, owner, i) => sum + samples[i]! * trained(size, owner)[j]!, 0) / total;
    assert.ok(Math.abs(w - expected) < 1e-6, `weight ${j}: ${w} vs ${expected}`);
  });
});

test('a binary inbox streams over several database pages and is refused as problem+json before the first frame', async () => {
  const s = await setupSecure(12, 11);
  const round = await openRound(s);
  // Before summing: a 409 problem, whatever the Accept header asked for.
  const early = await getBinary(`${roundPath(s)}/inbox`, keyOf(s, round.secure!.committee[0]!.ownerId));
  assertProblem({ ...early, body: JSON.parse((early.body as Buffer).toString('utf8')) }, 409, 'round-not-summing');
  for (let owner = 1; owner <= 11; owner++) await postBinary(`${roundPath(s)}/shares`, s.keys[owner]!, framedShares(s, round, owner)).expect(201);
  const seat = round.secure!.committee[1]!;
  const res = await getBinary(`${roundPath(s)}/inbox`, keyOf(s, seat.ownerId)).expect(200);
  const inbox = decodeInbox(new Uint8Array(res.body as Buffer));
  assert.equal(inbox.envelopes.length, 11, 'more envelopes than one page (8) holds');
  assert.deepEqual(inbox.envelopes.map((e) => e.id), [...s.ownerIds.slice(1, 12)].sort());
  assert.equal(inbox.position, seat.position);
  // A cut body is detectable: the count comes first.
  assert.throws(() => decodeInbox(new Uint8Array(res.body as Buffer).subarray(0, (res.body as Buffer).length - 1)), /decodeInbox: truncated/);
  // JSON unless the client ranks octet-stream higher.
  const json = await t.http.get(`${roundPath(s)}/inbox`).set(bearer(keyOf(s, seat.ownerId))).set('accept', `application/json, ${OCTETS}`).expect(200);
  assert.match(json.headers['content-type']!, /^application\/json/);
  assert.equal(json.body.envelopes.length, 11);
});

test('prefersOctetStream: the higher q wins, a tie goes to the type listed first, no Accept means JSON', () => {
  assert.equal(prefersOctetStream(undefined), false);
  assert.equal(prefersOctetStream(OCTETS), true);
  assert.equal(prefersOctetStream(`${OCTETS}, application/json`), true);
  assert.equal(prefersOctetStream(`application/json, ${OCTETS}`), false);
  assert.equal(prefersOctetStream(`application/json;q=0.5, ${OCTETS}`), true);
  assert.equal(prefersOctetStream(`${OCTETS};q=0`), false);
  assert.equal(prefersOctetStream('*/*'), false);
});

test('malformed share uploads, binary and JSON, are problem+json and write nothing', async () => {
  const s = await setupSecure(4, 3);
  const round = await openRound(s);
  const path = `${roundPath(s)}/shares`;
  const key = s.keys[3]!;
  const good = framedShares(s, round, 3);
  const envelopes = upload(s, round, 3).envelopes;
  const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  await assertRefused(t, () => postBinary(path, key, good.subarray(0, good.length - 1)), 400, 'malformed-frames', 'truncated last frame');
  await assertRefused(t, () => postBinary(path, key, good.subarray(0, 2)), 400, 'malformed-frames', 'truncated count');
  await assertRefused(t, () => postBinary(path, key, Buffer.concat([good, Buffer.of(0)])), 400, 'malformed-frames', 'a trailing byte');
  const moreCounted = Uint8Array.from(good);
  view(moreCounted).setUint16(1, 4, true);
  await assertRefused(t, () => postBinary(path, key, moreCounted), 400, 'malformed-frames', 'a count of 4 over 3 frames');
  const fewerCounted = Uint8Array.from(good);
  view(fewerCounted).setUint16(1, 2, true);
  await assertRefused(t, () => postBinary(path, key, fewerCounted), 400, 'malformed-frames', 'a count of 2 over 3 frames (trailing bytes)');
  const longer = Uint8Array.from(good);
  const firstLength = 1 + 2 + 1 + envelopes[0]!.recipientId.length;
  view(longer).setUint32(firstLength, view(longer).getUint32(firstLength, true) + 1, true);
  await assertRefused(t, () => postBinary(path, key, longer), 400, 'malformed-frames', 'an envelope length one too long');
  const version = Uint8Array.from(good);
  version[0] = 2;
  await assertRefused(t, () => postBinary(path, key, version), 400, 'malformed-frames', 'format version 2');
  await assertRefused(t, () => postBinary(path, key, new Uint8Array(0)), 400, 'malformed-frames', 'an empty body');

  // Well framed, but not the committee's: the same 422 as JSON.
  const two = encodeShareUpload(envelopes.slice(0, 2).map(({ recipientId, envelope }) => ({ id: recipientId, envelope })));
  await assertRefused(t, () => postBinary(path, key, two), 422, 'malformed-shares', 'binary: two envelopes for three members');
  const short = encodeShareUpload(envelopes.map(({ recipientId, envelope }, i) => ({ id: recipientId, envelope: i === 0 ? envelope.subarray(1) : envelope })));
  await assertRefused(t, () => postBinary(path, key, short), 422, 'malformed-shares', 'binary: an envelope one byte short');
  const json = upload(s, round, 3).body;
  await assertRefused(t, () => t.http.post(path).set(bearer(key)).send({ envelopes: json.envelopes.slice(0, 2) }), 422, 'malformed-shares', 'JSON: two envelopes for three members');
  const shortJson = { envelopes: json.envelopes.map((e, i) => (i === 0 ? { ...e, envelope: Buffer.from(e.envelope, 'base64').subarray(1).toString('base64') } : e)) };
  await assertRefused(t, () => t.http.post(path).set(bearer(key)).send(shortJson), 422, 'malformed-shares', 'JSON: an envelope one byte short');
  await assertRefused(t, () => t.http.post(path).set(bearer(key)).send({ envelopes: json.envelopes, extra: 1 }), 422, 'validation-failed', 'JSON: an unknown field');
  // No body at all: no media type picks a schema, and the handler read an undefined body (a 500 before).
  for (const route of ['shares', 'partial-sums']) {
    const res = await assertRefused(t, () => t.http.post(`${roundPath(s)}/${route}`).set(bearer(key)), 422, 'validation-failed', `${route} without a body`);
    assert.deepEqual((res.body.errors as { path: string }[]).map((e) => e.path), ['body']);
  }
  // Other round routes do not take binary bodies.
  await assertRefused(t, () => postBinary(`${roundPath(s)}/statistics`, key, good), 415, 'unsupported-media-type', 'a binary body where only JSON is taken');

  await postBinary(path, key, good).expect(201);
});

test('malformed partial sums, binary and JSON, are problem+json and write nothing', async () => {
  const s = await setupSecure(4, 2);
  const round = await openRound(s);
  for (const owner of [2, 3]) await postBinary(`${roundPath(s)}/shares`, s.keys[owner]!, framedShares(s, round, owner)).expect(201);
  const seat = round.secure!.committee[0]!;
  const key = keyOf(s, seat.ownerId);
  const json = (await t.http.get(`${roundPath(s)}/inbox`).set(bearer(key)).expect(200)).body;
  const values = partialSumValues({ federationId: s.federationId, memberId: seat.ownerId, keys: s.memberKeys.get(seat.ownerId)!, inbox: json });
  const n = json.vectorLength as number;
  const hash = json.includedSetHash as string;
  const path = `${roundPath(s)}/partial-sums`;
  const good = encodePartialSum({ includedSetHash: hash, count: n, values });

  await assertRefused(t, () => postBinary(path, key, good.subarray(0, good.length - 1)), 400, 'malformed-frames', 'truncated values');
  await assertRefused(t, () => postBinary(path, key, good.subarray(0, 20)), 400, 'malformed-frames', 'truncated hash');
  await assertRefused(t, () => postBinary(path, key, Buffer.concat([good, Buffer.of(0)])), 400, 'malformed-frames', 'a trailing byte');
  const fewer = packFieldVector(new Float64Array(n - 1));
  await assertRefused(t, () => postBinary(path, key, encodePartialSum({ includedSetHash: hash, count: n - 1, values: fewer })), 422, 'malformed-partial-sum', 'binary: one element short');
  const big = new Float64Array(n);
  big[1] = FIELD_PRIME - 1;
  const overP = packFieldVector(big);
  overP[6]! |= 0xf0; // element 1's low nibble: p − 1 + 15·… ≥ p
  overP.fill(0xff, 7, 13);
  await assertRefused(t, () => postBinary(path, key, encodePartialSum({ includedSetHash: hash, count: n, values: overP })), 422, 'malformed-partial-sum', 'binary: an element ≥ p');
  const otherHash = encodePartialSum({ includedSetHash: 'ab'.repeat(32), count: n, values });
  await assertRefused(t, () => postBinary(path, key, otherHash), 409, 'included-set-mismatch', 'binary: another included set');

  const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  await assertRefused(t, () => t.http.post(path).set(bearer(key)).send({ includedSetHash: hash, values: b64(fewer) }), 422, 'malformed-partial-sum', 'JSON: one element short');
  await assertRefused(t, () => t.http.post(path).set(bearer(key)).send({ includedSetHash: hash, values: b64(overP) }), 422, 'malformed-partial-sum', 'JSON: an element ≥ p');
  await assertRefused(t, () => t.http.post(path).set(bearer(key)).send({ includedSetHash: hash, values: b64(Buffer.concat([values, Buffer.of(0)])) }), 422, 'malformed-partial-sum', 'JSON: a trailing byte');

  await postBinary(path, key, good).expect(201);
  // The JSON form of the same sum is the same bytes: the second member's goes up as JSON.
  const other = round.secure!.committee[1]!;
  const otherInbox = (await t.http.get(`${roundPath(s)}/inbox`).set(bearer(keyOf(s, other.ownerId))).expect(200)).body;
  const res = await t.http
    .post(path)
    .set(bearer(keyOf(s, other.ownerId)))
    .send({ includedSetHash: hash, values: sumInbox({ federationId: s.federationId, memberId: other.ownerId, keys: s.memberKeys.get(other.ownerId)!, inbox: otherInbox }) })
    .expect(201);
  assert.equal(res.body.round.status, 'closed');
});
