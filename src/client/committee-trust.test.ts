import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Charter } from '../crypto/charter.js';
import { chainAnchor, chainReveal, drawCommittee } from '../crypto/committee-lottery.js';
import { generateX25519KeyPair } from '../crypto/envelope.js';
import { FIELD_PRIME, seededRandomBytes } from '../crypto/field.js';
import { generateIdentityKeyPair, signCommitteeKey, type Ed25519KeyPair } from '../crypto/identity.js';
import { committeeProblem, MemoryIdentityPins } from './committee-trust.js';
import type { CommitteeDrawView, RoundView } from './http-client.js';

const federationId = 'fed-1';
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const volunteers = Array.from({ length: 6 }, (_, i) => ({ ownerId: `owner-${i}`, identity: generateIdentityKeyPair(seededRandomBytes(`id-${i}`)) }));
const seed = new Uint8Array(32).fill(3);
const chainLength = 40;

function charter(policy: NonNullable<Charter['secure']>['policy']): Charter {
  return { version: 1, aggregation: 'secure', secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100, fixedPointBits: 20, fieldPrime: String(FIELD_PRIME), summingDeadlineSeconds: 3600, policy } };
}

const lottery = charter({ kind: 'lottery', chainAnchor: Buffer.from(chainAnchor(seed, chainLength)).toString('hex'), chainLength });

/** A round whose seats are the given parties, each with a round key signed by `signer` (default: itself). */
function round(number: number, seated: { ownerId: string; identity: Ed25519KeyPair }[], signer?: (i: number) => Ed25519KeyPair): RoundView {
  const committee = seated.map((party, i) => {
    const key = generateX25519KeyPair();
    const statement = { federationId, roundNumber: number, position: i + 1, memberId: party.ownerId, publicKey: key.publicKey };
    return { position: i + 1, ownerId: party.ownerId, identityKey: b64(party.identity.publicKey), publicKey: b64(key.publicKey), signature: b64(signCommitteeKey(statement, signer?.(i) ?? party.identity)) };
  });
  return { number, kind: 'training', secure: { threshold: 2, field: 'wide', committee } } as unknown as RoundView;
}

function lotteryRound(number: number): { view: RoundView; draw: CommitteeDrawView } {
  const reveal = chainReveal(seed, chainLength, number);
  const drawn = drawCommittee(reveal, volunteers.map((v) => ({ ownerId: v.ownerId, identityKey: v.identity.publicKey })), 3);
  const seated = drawn.map((d) => volunteers.find((v) => v.ownerId === d.ownerId)!);
  return { view: round(number, seated), draw: { reveal: Buffer.from(reveal).toString('hex'), volunteers: volunteers.map((v) => ({ ownerId: v.ownerId, identityKey: b64(v.identity.publicKey) })) } };
}

test('an honest lottery committee passes, and its volunteers’ identities are pinned on first sight', async () => {
  const pins = new MemoryIdentityPins();
  const { view, draw } = lotteryRound(5);
  assert.equal(await committeeProblem({ federationId, charter: lottery, round: view, draw, pins }), null);
  for (const v of volunteers) assert.equal(pins.get(v.ownerId), b64(v.identity.publicKey));
});

test('a volunteer shown later with another identity is refused, even when the draw and signatures are consistent with it', async () => {
  const pins = new MemoryIdentityPins();
  const first = lotteryRound(5);
  assert.equal(await committeeProblem({ federationId, charter: lottery, round: first.view, draw: first.draw, pins }), null);
  // The server swaps owner-0's identity for one of its own in a later round's volunteer list.
  const swapped = { ...volunteers[0]!, identity: generateIdentityKeyPair() };
  const list = [swapped, ...volunteers.slice(1)];
  const reveal = chainReveal(seed, chainLength, 6);
  const drawn = drawCommittee(reveal, list.map((v) => ({ ownerId: v.ownerId, identityKey: v.identity.publicKey })), 3);
  const view = round(6, drawn.map((d) => list.find((v) => v.ownerId === d.ownerId)!));
  const draw = { reveal: Buffer.from(reveal).toString('hex'), volunteers: list.map((v) => ({ ownerId: v.ownerId, identityKey: b64(v.identity.publicKey) })) };
  assert.match((await committeeProblem({ federationId, charter: lottery, round: view, draw, pins }))!, /volunteer owner-0 now has a different identity key/);
});

test('a reveal for another round, a committee of the wrong size or threshold, and a missing draw are refused', async () => {
  const { view, draw } = lotteryRound(5);
  const check = (overrides: Partial<Parameters<typeof committeeProblem>[0]>) => committeeProblem({ federationId, charter: lottery, round: view, draw, pins: new MemoryIdentityPins(), ...overrides });
  assert.match((await check({ draw: { ...draw, reveal: Buffer.from(chainReveal(seed, chainLength, 4)).toString('hex') } }))!, /does not hash to the charter's commitment/);
  assert.match((await check({ round: { ...view, secure: { ...view.secure!, committee: view.secure!.committee.slice(0, 2) } } }))!, /seats 2 committee members; the charter says 3/);
  assert.match((await check({ round: { ...view, secure: { ...view.secure!, threshold: 3 } } }))!, /threshold 3; the charter says 2/);
  // The field follows from the charter and the round's kind: a server cannot switch a round to another.
  assert.match((await check({ round: { ...view, secure: { ...view.secure!, field: 'compact' } } }))!, /in the compact field; the charter makes a training round's field the wide one/);
  const { draw: _omitted, ...withoutDraw } = { federationId, charter: lottery, round: view, draw, pins: new MemoryIdentityPins() };
  assert.match((await committeeProblem(withoutDraw))!, /draw was not available/);
  assert.match((await check({ round: { ...view, secure: { ...view.secure!, committee: view.secure!.committee.map((s, i) => (i === 1 ? { ...s, publicKey: null } : s)) } } }))!, /seat 2 has no signed key/);
});

test('a named committee passes only with the charter’s identities in the charter’s seats, each signing its own key', async () => {
  const nodes = volunteers.slice(0, 3);
  const named = charter({ kind: 'named', aggregators: nodes.map((n, i) => ({ name: `node ${i + 1}`, identityKey: b64(n.identity.publicKey) })) });
  const check = (view: RoundView) => committeeProblem({ federationId, charter: named, round: view, pins: new MemoryIdentityPins() });
  assert.equal(await check(round(2, nodes)), null);
  assert.match((await check(round(2, [nodes[1]!, nodes[0]!, nodes[2]!])))!, /seat 1 holds node 2, but the charter puts node 1 there/);
  assert.match((await check(round(2, [nodes[0]!, nodes[1]!, volunteers[4]!])))!, /seat 3 holds an identity the charter does not name/);
  assert.match((await check(round(2, nodes, (i) => (i === 2 ? volunteers[5]!.identity : nodes[i]!.identity))))!, /seat 3 .* is not signed by that member's identity/);
});
