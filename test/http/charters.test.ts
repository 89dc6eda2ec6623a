/**
 * Charters and authenticated committee keys over HTTP: the charter a federation is created with (and that
 * anyone with its id can read and fingerprint), the named and lottery committee policies, the signed
 * per-round keys members publish, and every way those are refused without changing anything.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RoundView } from '../../src/client/http-client.js';
import { charterFingerprint, type Charter } from '../../src/crypto/charter.js';
import { drawCommittee, verifyReveal } from '../../src/crypto/committee-lottery.js';
import { generateX25519KeyPair } from '../../src/crypto/envelope.js';
import { generateIdentityKeyPair, type Ed25519KeyPair } from '../../src/crypto/identity.js';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, federationBody, setupFederation, snapshot, type TestApp } from '../helpers/app.js';
import { committeeKeyBody, keyCommittee, registerParty, type CommitteeParty } from '../helpers/committee.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const training = { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: false, seed: 3 };
const lottery = (size = 3, threshold = 2) => ({ aggregation: 'secure', secure: { committee: { size, threshold } }, training });
const b64 = (key: Ed25519KeyPair) => Buffer.from(key.publicKey).toString('base64');

function named(nodes: Ed25519KeyPair[], size = nodes.length, threshold = 2) {
  return {
    aggregation: 'secure',
    secure: { committee: { size, threshold }, policy: { kind: 'named', aggregators: nodes.map((node, i) => ({ name: `node ${i + 1}`, identityKey: b64(node) })) } },
    training,
  };
}

async function openRound(federationId: string): Promise<RoundView> {
  return (await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201)).body;
}

/** Enrols an aggregator node of a named federation with the identity the charter lists for it. */
async function enrolNode(federationId: string, enrolmentToken: string, identity: Ed25519KeyPair): Promise<CommitteeParty> {
  const enrolled = await t.http.post(`/v1/federations/${federationId}/owners`).send({ enrolmentToken, name: 'node', role: 'aggregator' }).expect(201);
  await t.http
    .put(`/v1/federations/${federationId}/owners/${enrolled.body.owner.id}/identity`)
    .set(bearer(enrolled.body.apiKey))
    .send({ identityKey: b64(identity), committeeVolunteer: true })
    .expect(200);
  return { ownerId: enrolled.body.owner.id, apiKey: enrolled.body.apiKey, identity, roundKey: generateX25519KeyPair() };
}

test('every federation has a charter anyone with its id can read, whose fingerprint the reader recomputes', async () => {
  const plain = await setupFederation(t, 0);
  const read = (await t.http.get(`/v1/federations/${plain.federationId}/charter`).expect(200)).body as { charter: Charter; fingerprint: string };
  assert.deepEqual(read.charter, { version: 1, aggregation: 'plain', secure: null });
  assert.equal(read.fingerprint, charterFingerprint(read.charter));

  const secure = await setupFederation(t, 0, lottery());
  const charter = (await t.http.get(`/v1/federations/${secure.federationId}/charter`).expect(200)).body.charter as Charter;
  assert.equal(charter.secure?.policy.kind, 'lottery');
  assert.match((charter.secure!.policy as { chainAnchor: string }).chainAnchor, /^[0-9a-f]{64}$/);
  assert.deepEqual(charter.secure!.committee, { size: 3, threshold: 2 });
  const federation = (await t.http.get(`/v1/federations/${secure.federationId}`).set(bearer(ADMIN_KEY)).expect(200)).body;
  assert.equal(federation.charterFingerprint, charterFingerprint(charter));
  assert.equal(JSON.stringify(federation).includes('lotterySeed'), false, 'the chain’s seed never leaves the server');
});

test('a lottery round seats the committee its revealed chain value draws, and every owner can recompute it', async () => {
  const s = await setupFederation(t, 6, lottery());
  const parties = new Map<string, CommitteeParty>();
  for (let i = 0; i < 5; i++) parties.set(s.ownerIds[i]!, await registerParty(t.http, s.federationId, s.ownerIds[i]!, s.keys[i]!));
  const charter = (await t.http.get(`/v1/federations/${s.federationId}/charter`).expect(200)).body.charter as Charter;
  const round = await openRound(s.federationId);
  assert.equal(round.secure!.policy, 'lottery');
  assert.equal(round.secure!.keyed, false);
  const draw = (await t.http.get(`/v1/federations/${s.federationId}/rounds/1/committee-draw`).set(bearer(s.keys[5]!)).expect(200)).body;
  assert.equal(draw.volunteers.length, 5, 'the five owners with an identity who volunteered');
  const anchor = Buffer.from((charter.secure!.policy as { chainAnchor: string }).chainAnchor, 'hex');
  assert.ok(verifyReveal(anchor, Buffer.from(draw.reveal, 'hex'), 1), 'the revealed value is the one the charter committed to');
  const drawn = drawCommittee(Buffer.from(draw.reveal, 'hex'), draw.volunteers.map((v: { ownerId: string; identityKey: string }) => ({ ownerId: v.ownerId, identityKey: Buffer.from(v.identityKey, 'base64') })), 3);
  assert.deepEqual(round.secure!.committee.map((seat) => seat.ownerId), drawn.map((v) => v.ownerId));

  // Shares wait for the committee's keys; the tag moves with each key so waiting owners wake.
  await assertRefused(t, () => t.http.post(`/v1/federations/${s.federationId}/rounds/1/shares`).set(bearer(s.keys[5]!)).send({ envelopes: round.secure!.committee.map((c) => ({ recipientId: c.ownerId, envelope: 'AAAA' })) }), 409, 'committee-not-keyed');
  const keyed = await keyCommittee(t.http, s.federationId, round, parties);
  assert.equal(keyed.secure!.keyed, true);
  assert.equal(keyed.tag, '1:open:3');
  for (const seat of keyed.secure!.committee) {
    assert.equal(seat.publicKey, Buffer.from(parties.get(seat.ownerId)!.roundKey.publicKey).toString('base64'));
    assert.equal(seat.identityKey, b64(parties.get(seat.ownerId)!.identity));
  }
});

test('committee keys: only the seated member, only a valid key signed by its identity for this round and seat, once', async () => {
  const s = await setupFederation(t, 4, lottery());
  const parties = new Map<string, CommitteeParty>();
  for (let i = 0; i < 4; i++) parties.set(s.ownerIds[i]!, await registerParty(t.http, s.federationId, s.ownerIds[i]!, s.keys[i]!));
  const round = await openRound(s.federationId);
  const [seat, other] = round.secure!.committee;
  const member = parties.get(seat!.ownerId)!;
  const path = `/v1/federations/${s.federationId}/rounds/1/committee-key`;
  const body = committeeKeyBody(s.federationId, 1, seat!.position, member);
  const outsider = s.ownerIds.find((id) => !round.secure!.committee.some((c) => c.ownerId === id))!;
  await assertRefused(t, () => t.http.put(path).set(bearer(parties.get(outsider)!.apiKey)).send(committeeKeyBody(s.federationId, 1, 1, parties.get(outsider)!)), 403, 'forbidden', 'a party not seated');
  await assertRefused(t, () => t.http.put(path).set(bearer(member.apiKey)).send({ ...body, signature: Buffer.alloc(63).toString('base64') }), 422, 'validation-failed', 'a 63-byte signature');
  await assertRefused(t, () => t.http.put(path).set(bearer(member.apiKey)).send({ ...body, publicKey: Buffer.alloc(31, 9).toString('base64') }), 422, 'validation-failed', 'a 31-byte key');
  await assertRefused(t, () => t.http.put(path).set(bearer(member.apiKey)).send(committeeKeyBody(s.federationId, 2, seat!.position, member)), 422, 'invalid-signature', 'signed for another round');
  await assertRefused(t, () => t.http.put(path).set(bearer(member.apiKey)).send(committeeKeyBody(s.federationId, 1, other!.position, member)), 422, 'invalid-signature', 'signed for another seat');
  const forged = { ...member, identity: generateIdentityKeyPair() };
  await assertRefused(t, () => t.http.put(path).set(bearer(member.apiKey)).send(committeeKeyBody(s.federationId, 1, seat!.position, forged)), 422, 'invalid-signature', 'signed by another identity');

  // The same key sent twice at once (a client retrying over two connections): both answers are 200.
  const twice = await Promise.all([t.http.put(path).set(bearer(member.apiKey)).send(body), t.http.put(path).set(bearer(member.apiKey)).send(body)]);
  assert.deepEqual(twice.map((res) => res.status), [200, 200]);
  const keyed = await snapshot(t.database);
  await t.http.put(path).set(bearer(member.apiKey)).send(body).expect(200); // a retry
  assert.deepEqual(await snapshot(t.database), keyed, 'the same key again changes nothing');
  const replaced = committeeKeyBody(s.federationId, 1, seat!.position, member, generateX25519KeyPair());
  await assertRefused(t, () => t.http.put(path).set(bearer(member.apiKey)).send(replaced), 409, 'committee-key-already-set', 'a second key for the seat');
});

test('a named committee seats exactly the charter’s aggregator nodes, in its order, once all have enrolled', async () => {
  const nodes = [generateIdentityKeyPair(), generateIdentityKeyPair(), generateIdentityKeyPair()];
  const s = await setupFederation(t, 2, named(nodes));
  const charter = (await t.http.get(`/v1/federations/${s.federationId}/charter`).expect(200)).body.charter as Charter;
  assert.deepEqual(charter.secure!.policy, { kind: 'named', aggregators: nodes.map((node, i) => ({ name: `node ${i + 1}`, identityKey: b64(node) })) });

  // An aggregator node the charter does not name cannot register.
  const stranger = await t.http.post(`/v1/federations/${s.federationId}/owners`).send({ enrolmentToken: s.enrolmentToken, name: 'stranger', role: 'aggregator' }).expect(201);
  await assertRefused(
    t,
    () =>
      t.http
        .put(`/v1/federations/${s.federationId}/owners/${stranger.body.owner.id}/identity`)
        .set(bearer(stranger.body.apiKey))
        .send({ identityKey: b64(generateIdentityKeyPair()), committeeVolunteer: true }),
    422,
    'not-in-charter',
  );
  const parties = new Map<string, CommitteeParty>();
  for (const node of nodes.slice(1)) {
    const party = await enrolNode(s.federationId, s.enrolmentToken, node);
    parties.set(party.ownerId, party);
  }
  const short = await assertRefused(t, () => t.http.post(`/v1/federations/${s.federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}), 409, 'committee-unavailable');
  assert.match(String(short.body.detail), /node 1 have not enrolled/);
  const first = await enrolNode(s.federationId, s.enrolmentToken, nodes[0]!);
  parties.set(first.ownerId, first);
  const round = await openRound(s.federationId);
  assert.equal(round.secure!.policy, 'named');
  assert.deepEqual(round.secure!.committee.map((seat) => seat.identityKey), nodes.map(b64));
  const noDraw = await assertRefused(t, () => t.http.get(`/v1/federations/${s.federationId}/rounds/1/committee-draw`).set(bearer(s.keys[0]!)), 404, 'committee-draw-not-found');
  assert.match(String(noDraw.body.detail), /named by the charter/);
  assert.equal((await keyCommittee(t.http, s.federationId, round, parties)).secure!.keyed, true);
});

test('bad charters are refused with the field named, and nothing is created', async () => {
  const nodes = [generateIdentityKeyPair(), generateIdentityKeyPair(), generateIdentityKeyPair()];
  const create = (overrides: Record<string, unknown>) => () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody(overrides));
  const paths = (res: { body: Record<string, unknown> }) => (res.body.errors as { path: string }[]).map((e) => e.path);

  const small = await assertRefused(t, create(lottery(2, 3)), 422, 'validation-failed', 'k < t');
  assert.ok(paths(small).some((p) => p.endsWith('committee.threshold')), JSON.stringify(paths(small)));
  const duplicate = named([nodes[0]!, nodes[1]!, nodes[0]!]);
  const dup = await assertRefused(t, create(duplicate), 422, 'validation-failed', 'duplicate identity keys');
  assert.ok(paths(dup).some((p) => p.startsWith('body.secure.policy.aggregators')), JSON.stringify(paths(dup)));
  const unknown = { ...lottery(), secure: { committee: { size: 3, threshold: 2 }, policy: { kind: 'whoever-the-server-likes' } } };
  await assertRefused(t, create(unknown), 422, 'validation-failed', 'an unknown policy');
  const mismatch = await assertRefused(t, create(named(nodes, 4)), 422, 'validation-failed', 'a committee larger than the named nodes');
  assert.ok(paths(mismatch).some((p) => p.startsWith('body.secure')), JSON.stringify(paths(mismatch)));
  const notAKey = named(nodes);
  (notAKey.secure.policy.aggregators[1] as { identityKey: string }).identityKey = Buffer.alloc(32).toString('base64');
  await assertRefused(t, create(notAKey), 422, 'validation-failed', 'an identity key that is not a point');
});

test('the charter can change until the first round opens, never after', async () => {
  const s = await setupFederation(t, 3, lottery());
  const parties = new Map<string, CommitteeParty>();
  for (let i = 0; i < 3; i++) parties.set(s.ownerIds[i]!, await registerParty(t.http, s.federationId, s.ownerIds[i]!, s.keys[i]!));
  const before = (await t.http.get(`/v1/federations/${s.federationId}/charter`).expect(200)).body.fingerprint;
  const changed = await t.http.put(`/v1/federations/${s.federationId}/secure`).set(bearer(ADMIN_KEY)).send({ secure: { committee: { size: 3, threshold: 3 } } }).expect(200);
  assert.notEqual(changed.body.charterFingerprint, before);
  assert.equal(changed.body.charter.secure.committee.threshold, 3);
  await openRound(s.federationId);
  await assertRefused(
    t,
    () => t.http.put(`/v1/federations/${s.federationId}/secure`).set(bearer(ADMIN_KEY)).send({ secure: { committee: { size: 3, threshold: 2 } } }),
    409,
    'charter-frozen',
  );
  const plain = await setupFederation(t, 0);
  await assertRefused(t, () => t.http.put(`/v1/federations/${plain.federationId}/secure`).set(bearer(ADMIN_KEY)).send({ secure: {} }), 409, 'wrong-aggregation-mode');
});
