/**
 * Tests for the committee lottery: the hash chain step against SHA-256 written out by hand, reveals that
 * verify for their own round and no other, a draw that is a function of the reveal and the set of
 * volunteers only (not their order), that seats each volunteer about equally often, and refuses
 * duplicate tickets and short lists.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { seededRandomBytes } from './field.js';
import { MAX_CHAIN_LENGTH, chainAnchor, chainReveal, chainStep, drawCommittee, verifyReveal, type Volunteer } from './committee-lottery.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const seed = seededRandomBytes('lottery-seed')(32);
const LENGTH = 40;
const anchor = chainAnchor(seed, LENGTH);

test('chainStep is SHA-256 of the domain string and the value; the anchor is `length` steps from the seed', () => {
  const value = Uint8Array.of(1, 2, 3);
  assert.equal(toHex(chainStep(value)), createHash('sha256').update('fedscore/lottery-chain/v1').update(value).digest('hex'));
  let x: Uint8Array = seed;
  for (let i = 0; i < LENGTH; i++) x = createHash('sha256').update('fedscore/lottery-chain/v1').update(x).digest();
  assert.equal(toHex(anchor), toHex(x));
  assert.equal(toHex(chainAnchor(seed, 1)), toHex(chainStep(seed)));
  // Known answer: pins the domain string and the direction of the chain.
  assert.equal(toHex(chainAnchor(new Uint8Array(32), 3)), KAT_ZERO_SEED_ANCHOR_3);
});

test('chainReveal: round n is length − n steps from the seed, and one step from round n − 1', () => {
  assert.deepEqual(chainReveal(seed, LENGTH, LENGTH), seed);
  assert.notEqual(chainReveal(seed, LENGTH, LENGTH), seed, 'a copy, not the caller’s array');
  for (let n = 2; n <= LENGTH; n++) assert.deepEqual(chainStep(chainReveal(seed, LENGTH, n)), chainReveal(seed, LENGTH, n - 1));
  assert.deepEqual(chainStep(chainReveal(seed, LENGTH, 1)), anchor);
});

test('verifyReveal accepts each round’s reveal for that round only', () => {
  for (const n of [1, 2, 3, 17, LENGTH - 1, LENGTH]) {
    const reveal = chainReveal(seed, LENGTH, n);
    assert.ok(verifyReveal(anchor, reveal, n), `round ${n}`);
    assert.ok(!verifyReveal(anchor, reveal, n + 1), `round ${n} as ${n + 1}`);
    if (n > 1) assert.ok(!verifyReveal(anchor, reveal, n - 1), `round ${n} as ${n - 1}`);
    if (n < LENGTH) assert.ok(!verifyReveal(anchor, chainReveal(seed, LENGTH, n + 1), n), `round ${n + 1} presented as ${n}`);
    const flipped = Uint8Array.from(reveal);
    flipped[0]! ^= 1;
    assert.ok(!verifyReveal(anchor, flipped, n));
  }
  assert.ok(!verifyReveal(anchor, seededRandomBytes('not-a-reveal')(32), 5));
  assert.ok(!verifyReveal(anchor, anchor, 1), 'the anchor is not round 1’s reveal');
  assert.ok(!verifyReveal(chainAnchor(seededRandomBytes('other-seed')(32), LENGTH), chainReveal(seed, LENGTH, 5), 5), 'another chain');
});

test('verifyReveal is false on wrong lengths and throws only on a round number that is not a positive integer', () => {
  const reveal = chainReveal(seed, LENGTH, 3);
  assert.equal(verifyReveal(anchor, reveal.subarray(1), 3), false);
  assert.equal(verifyReveal(anchor.subarray(1), reveal, 3), false);
  assert.equal(verifyReveal(anchor, Uint8Array.from([...reveal, 0]), 3), false);
  assert.equal(verifyReveal(anchor, 'abc' as unknown as Uint8Array, 3), false);
  assert.equal(verifyReveal(anchor, reveal, MAX_CHAIN_LENGTH + 1), false, 'no chain is that long (and no hashing is done)');
  for (const n of [0, -1, 1.5, Number.NaN, 2 ** 53]) assert.throws(() => verifyReveal(anchor, reveal, n), /verifyReveal: expected the round number to be a positive integer/);
});

test('the chain functions refuse a bad seed, length or round', () => {
  assert.throws(() => chainReveal(seed, LENGTH, LENGTH + 1), /chainReveal: round 41 is beyond the end of a chain of length 40/);
  assert.throws(() => chainReveal(seed, LENGTH, 0), /chainReveal: expected the round number to be a positive integer, got 0/);
  assert.throws(() => chainAnchor(seed.subarray(1), LENGTH), /chainAnchor: expected a 32-byte seed, got 31 bytes/);
  assert.throws(() => chainAnchor(seed, 0), /chainAnchor: expected the chain length to be a positive integer of at most 1000000, got 0/);
  assert.throws(() => chainAnchor(seed, MAX_CHAIN_LENGTH + 1), /got 1000001/);
});

const volunteers: Volunteer[] = Array.from({ length: 10 }, (_, i) => ({
  ownerId: `owner-${i}`,
  identityKey: seededRandomBytes(`volunteer-key-${i}`)(32),
}));
const reveal = chainReveal(seed, LENGTH, 1);

test('drawCommittee: the lowest scores, scored exactly as the file comment says', () => {
  const score = (v: Volunteer) => {
    const id = Buffer.from(v.ownerId);
    return createHash('sha256').update('fedscore/committee-draw/v1').update(reveal).update(Buffer.from([0, 0, 0, id.length])).update(id).update(v.identityKey).digest('hex');
  };
  const expected = [...volunteers].sort((a, b) => (score(a) < score(b) ? -1 : 1)).slice(0, 4);
  const committee = drawCommittee(reveal, volunteers, 4);
  assert.deepEqual(committee.map((v) => v.ownerId), expected.map((v) => v.ownerId));
  assert.equal(committee[0], volunteers.find((v) => v.ownerId === expected[0]!.ownerId), 'returns the volunteers themselves');
  assert.deepEqual(drawCommittee(reveal, volunteers, 10).slice(0, 4), committee, 'a smaller committee is a prefix of a larger one');
});

test('drawCommittee does not depend on the order of the volunteers', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.shuffledSubarray(volunteers, { minLength: volunteers.length, maxLength: volunteers.length }),
      fc.integer({ min: 1, max: volunteers.length }),
      (r, shuffled, size) => {
        assert.deepEqual(drawCommittee(r, shuffled, size), drawCommittee(r, volunteers, size));
      },
    ),
    { numRuns: 200 },
  );
});

test('drawCommittee is deterministic, leaves its input alone, and changes with the reveal', () => {
  const copy = [...volunteers];
  const a = drawCommittee(reveal, volunteers, 3);
  assert.deepEqual(drawCommittee(Uint8Array.from(reveal), copy.map((v) => ({ ...v })), 3), a);
  assert.deepEqual(volunteers, copy);
  const committees = new Set<string>();
  for (let n = 1; n <= 20; n++) committees.add(drawCommittee(chainReveal(seed, LENGTH, n), volunteers, 3).map((v) => v.ownerId).join(','));
  assert.ok(committees.size >= 15, `20 rounds gave only ${committees.size} distinct committees`);
  // The identity key is part of the ticket: changing one volunteer's key moves its score.
  const rekeyed = volunteers.map((v, i) => (i === 0 ? { ...v, identityKey: seededRandomBytes('new-key')(32) } : v));
  const rank = (list: Volunteer[]) => drawCommittee(reveal, list, 10).findIndex((v) => v.ownerId === 'owner-0');
  const ranks = new Set([rank(volunteers), rank(rekeyed)]);
  for (let i = 0; i < 5; i++) ranks.add(rank(volunteers.map((v, j) => (j === 0 ? { ...v, identityKey: seededRandomBytes(`key-${i}`)(32) } : v))));
  assert.ok(ranks.size > 1);
});

test('each volunteer is seated about size/V of the time (2000 draws of 3 from 10)', () => {
  const rng = seededRandomBytes('lottery-frequency');
  const seats = new Map(volunteers.map((v) => [v.ownerId, 0]));
  const positions = [0, 0, 0];
  for (let i = 0; i < 2000; i++) {
    const committee = drawCommittee(rng(32), volunteers, 3);
    committee.forEach((v, position) => {
      seats.set(v.ownerId, seats.get(v.ownerId)! + 1);
      if (v.ownerId === 'owner-0') positions[position]!++;
    });
  }
  // Expected 600 each (σ ≈ 20.5): 450…750 is over 7σ, so a failure means a biased draw, not bad luck.
  for (const [owner, count] of seats) assert.ok(count >= 450 && count <= 750, `${owner} seated ${count} times`);
  // Seat order is not biased either: owner-0 takes each of the three seats about 200 times (σ ≈ 13.4).
  for (const count of positions) assert.ok(count >= 120 && count <= 280, `owner-0 seats ${positions.join('/')}`);
});

test('drawCommittee refuses short lists, duplicate tickets and malformed input', () => {
  assert.throws(() => drawCommittee(reveal, volunteers.slice(0, 2), 3), /drawCommittee: a committee of 3 needs at least 3 volunteers, got 2/);
  assert.throws(() => drawCommittee(reveal, [], 1), /got 0/);
  const sameOwner = [...volunteers, { ownerId: 'owner-4', identityKey: seededRandomBytes('fresh')(32) }];
  assert.throws(() => drawCommittee(reveal, sameOwner, 3), /drawCommittee: volunteers 4 and 10 share the owner id "owner-4"/);
  const sameKey = [...volunteers, { ownerId: 'owner-x', identityKey: Uint8Array.from(volunteers[7]!.identityKey) }];
  assert.throws(() => drawCommittee(reveal, sameKey, 3), /^Error: drawCommittee: volunteers 7 and 10 share an identity key$/);
  assert.throws(() => drawCommittee(reveal, volunteers, 0), /drawCommittee: expected the committee size to be a positive integer, got 0/);
  assert.throws(() => drawCommittee(reveal.subarray(1), volunteers, 3), /drawCommittee: expected a 32-byte reveal, got 31 bytes/);
  assert.throws(() => drawCommittee(reveal, [...volunteers, { ownerId: '', identityKey: new Uint8Array(32) }], 3), /drawCommittee: volunteer 10 has no owner id/);
  assert.throws(() => drawCommittee(reveal, [...volunteers, { ownerId: 'o', identityKey: new Uint8Array(31) }], 3), /drawCommittee: expected a 32-byte identity key for volunteer 10, got 31 bytes/);
  assert.throws(() => drawCommittee(reveal, [...volunteers, { ownerId: 'o\uDC00', identityKey: new Uint8Array(32) }], 3), /volunteer 10's owner id is not well-formed Unicode/);
});

// chainAnchor(32 zero bytes, 3), computed once with plain node:crypto SHA-256 outside this module; a
// change here is a change of the lottery format.
const KAT_ZERO_SEED_ANCHOR_3 = '89ed68554470b132c97578bbb7f6519233cf35fa1ab6a730d9ba8c66e454c9e7';
