/**
 * Tests for identity keys: Ed25519 against RFC 8032 §7.1, key generation from an injected rng, refusal
 * of public keys that are not curve points or are of small order (one of which would accept a forged
 * signature on every message), the exact bytes of a committee-key statement, and a verifier that says
 * false — never throws — for every way a statement, key or signature can be wrong.
 */
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { generateX25519KeyPair } from './envelope.js';
import { seededRandomBytes } from './field.js';
import {
  committeeKeyMessage,
  generateIdentityKeyPair,
  isValidIdentityPublicKey,
  signCommitteeKey,
  signMessage,
  verifyCommitteeKey,
  verifyMessage,
  type CommitteeKeyStatement,
} from './identity.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fixedRng = (bytes: Uint8Array) => () => bytes;

// RFC 8032 §7.1, TEST 1 (empty message).
const RFC_SECRET = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const RFC_PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const RFC_SIGNATURE =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

// Encodings of the eight points of order 1, 2, 4 and 8 (libsodium's blocklist, canonical ones).
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000', // neutral element (0, 1)
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // (0, −1), order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // (√−1, 0), order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // (−√−1, 0), order 4
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
];

test('Ed25519: RFC 8032 §7.1 TEST 1 through generateIdentityKeyPair, signMessage and verifyMessage', () => {
  const pair = generateIdentityKeyPair(fixedRng(hex(RFC_SECRET)));
  assert.equal(toHex(pair.privateKey), RFC_SECRET);
  assert.equal(toHex(pair.publicKey), RFC_PUBLIC);
  assert.equal(toHex(signMessage(new Uint8Array(0), pair)), RFC_SIGNATURE);
  assert.ok(verifyMessage(new Uint8Array(0), hex(RFC_PUBLIC), hex(RFC_SIGNATURE)));
  assert.ok(!verifyMessage(Uint8Array.of(0), hex(RFC_PUBLIC), hex(RFC_SIGNATURE)));
});

test('generateIdentityKeyPair: the same seed gives the same key, signatures are deterministic, fresh otherwise', () => {
  const a = generateIdentityKeyPair(seededRandomBytes('identity'));
  assert.deepEqual(generateIdentityKeyPair(seededRandomBytes('identity')), a);
  assert.equal(a.publicKey.length, 32);
  assert.equal(a.privateKey.length, 32);
  assert.deepEqual(signMessage(Uint8Array.of(1, 2, 3), a), signMessage(Uint8Array.of(1, 2, 3), a));
  assert.notDeepEqual(signMessage(Uint8Array.of(1, 2, 3), a), signMessage(Uint8Array.of(1, 2, 4), a));
  assert.notDeepEqual(generateIdentityKeyPair().privateKey, generateIdentityKeyPair().privateKey);
  assert.throws(() => generateIdentityKeyPair(() => new Uint8Array(31)), /generateIdentityKeyPair: rng returned 31 bytes, expected 32/);
  // The rng's buffer is copied, not kept: a caller that reuses it cannot change the key afterwards.
  const seed = hex(RFC_SECRET);
  const pair = generateIdentityKeyPair(fixedRng(seed));
  seed.fill(0);
  assert.equal(toHex(pair.privateKey), RFC_SECRET);
});

test('isValidIdentityPublicKey: generated keys pass; wrong lengths, off-curve, non-canonical and small-order keys fail', () => {
  const rng = seededRandomBytes('valid-identity-keys');
  for (let i = 0; i < 20; i++) assert.ok(isValidIdentityPublicKey(generateIdentityKeyPair(rng).publicKey));
  const key = hex(RFC_PUBLIC);
  assert.ok(isValidIdentityPublicKey(key));
  assert.ok(!isValidIdentityPublicKey(key.subarray(0, 31)));
  assert.ok(!isValidIdentityPublicKey(Uint8Array.from([...key, 0])));
  assert.ok(!isValidIdentityPublicKey(new Uint8Array(0)));
  assert.ok(!isValidIdentityPublicKey('d75a98' as unknown as Uint8Array));
  for (const point of SMALL_ORDER) assert.ok(!isValidIdentityPublicKey(hex(point)), point);
  // y ≥ p is a non-canonical encoding (RFC 8032 §5.1.3 step 1); p + 1 would alias the neutral element.
  for (const y of ['ed', 'ee', 'ff']) assert.ok(!isValidIdentityPublicKey(hex(y + 'ff'.repeat(30) + '7f')), y);
  // x = 0 with the sign bit set ("negative zero", step 4): the neutral element with bit 255 set.
  assert.ok(!isValidIdentityPublicKey(hex('01' + '00'.repeat(30) + '80')));
  // y = 2: (y² − 1)/(d·y² + 1) is not a square mod p, so no x exists (step 3).
  assert.ok(!isValidIdentityPublicKey(hex('02' + '00'.repeat(31))));
  // Flipping the sign bit of a valid key gives the point's negation: still a valid key.
  const negated = Uint8Array.from(key);
  negated[31]! ^= 0x80;
  assert.ok(isValidIdentityPublicKey(negated));
});

test('a small-order identity key is why the curve checks exist: OpenSSL accepts a forgery that verifyMessage refuses', () => {
  const neutral = hex(SMALL_ORDER[0]!);
  const forgery = Uint8Array.from([...neutral, ...new Uint8Array(32)]); // R = neutral element, S = 0
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), neutral]);
  const raw = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  for (const message of ['anything', 'at all']) {
    assert.ok(verify(null, Buffer.from(message), raw, forgery), 'OpenSSL alone accepts it');
    assert.ok(!verifyMessage(Buffer.from(message), neutral, forgery));
  }
});

test('signMessage refuses a pair whose public key is not its own, and wrong-length keys', () => {
  const a = generateIdentityKeyPair(seededRandomBytes('pair-a'));
  const b = generateIdentityKeyPair(seededRandomBytes('pair-b'));
  assert.throws(() => signMessage(Uint8Array.of(1), { privateKey: a.privateKey, publicKey: b.publicKey }), /signMessage: the public key does not belong to the private key of this pair/);
  assert.throws(() => signMessage(Uint8Array.of(1), { privateKey: a.privateKey.subarray(1), publicKey: a.publicKey }), /signMessage: expected a 32-byte Ed25519 private key \(seed\), got 31 bytes/);
  assert.throws(() => signMessage(Uint8Array.of(1), { privateKey: a.privateKey, publicKey: new Uint8Array(33) }), /signMessage: expected a 32-byte Ed25519 public key, got 33 bytes/);
});

const member = generateIdentityKeyPair(seededRandomBytes('member'));
const other = generateIdentityKeyPair(seededRandomBytes('other-member'));
const statement: CommitteeKeyStatement = {
  federationId: 'fed-1',
  roundNumber: 7,
  position: 3,
  memberId: 'member-3',
  publicKey: generateX25519KeyPair(seededRandomBytes('member-x25519')).publicKey,
};

test('committeeKeyMessage is exactly domain ‖ lp(federation) ‖ u64be(round) ‖ u32be(position) ‖ lp(member) ‖ key', () => {
  const expected =
    Buffer.from('fedscore/committee-key/v1').toString('hex') +
    '00000005' + Buffer.from('fed-1').toString('hex') +
    '0000000000000007' +
    '00000003' +
    '00000008' + Buffer.from('member-3').toString('hex') +
    toHex(statement.publicKey);
  assert.equal(toHex(committeeKeyMessage(statement)), expected);
  // Lengths are UTF-8 byte counts, not UTF-16 code units.
  const message = committeeKeyMessage({ ...statement, memberId: 'é' });
  assert.equal(toHex(message.subarray(-32 - 2 - 4, -32)), '00000002c3a9');
  // The full 64 bits of a round number are kept.
  assert.equal(toHex(committeeKeyMessage({ ...statement, roundNumber: 2 ** 40 + 1 }).subarray(25 + 4 + 5, 25 + 4 + 5 + 8)), '0000010000000001');
});

test('sign/verify round trip for any well-formed statement', () => {
  fc.assert(
    fc.property(
      fc.record({
        federationId: fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
        roundNumber: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        position: fc.integer({ min: 1, max: 0xffff_ffff }),
        memberId: fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
        publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      }),
      (s) => {
        const signature = signCommitteeKey(s, member);
        assert.equal(signature.length, 64);
        assert.ok(verifyCommitteeKey(s, member.publicKey, signature));
        assert.ok(!verifyCommitteeKey(s, other.publicKey, signature));
      },
    ),
    { numRuns: 50 },
  );
});

test('a signature does not verify for a statement with any field changed', () => {
  const signature = signCommitteeKey(statement, member);
  assert.ok(verifyCommitteeKey(statement, member.publicKey, signature));
  const flipped = (bit: number) => {
    const key = Uint8Array.from(statement.publicKey);
    key[bit >> 3]! ^= 1 << (bit & 7);
    return key;
  };
  const changed: CommitteeKeyStatement[] = [
    { ...statement, federationId: 'fed-2' },
    { ...statement, roundNumber: 8 },
    { ...statement, roundNumber: 7 + 2 ** 32 },
    { ...statement, position: 4 },
    { ...statement, memberId: 'member-4' },
    // Length prefixes keep fields apart: moving a character across a boundary is another statement.
    { ...statement, federationId: 'fed-1m', memberId: 'ember-3' },
    ...Array.from({ length: 256 }, (_, bit) => ({ ...statement, publicKey: flipped(bit) })),
  ];
  for (const s of changed) assert.ok(!verifyCommitteeKey(s, member.publicKey, signature), JSON.stringify({ ...s, publicKey: undefined }));
  assert.ok(verifyCommitteeKey({ ...statement, publicKey: Uint8Array.from(statement.publicKey) }, member.publicKey, signature));
});

test('verifyCommitteeKey is false, never an exception, for a wrong signer, signature, key or statement', () => {
  const signature = signCommitteeKey(statement, member);
  const cases: [string, CommitteeKeyStatement, Uint8Array, Uint8Array][] = [
    ['another identity signed it', statement, member.publicKey, signCommitteeKey(statement, other)],
    ['63-byte signature', statement, member.publicKey, signature.subarray(0, 63)],
    ['65-byte signature', statement, member.publicKey, Uint8Array.from([...signature, 0])],
    ['all-zero signature', statement, member.publicKey, new Uint8Array(64)],
    ['empty signature', statement, member.publicKey, new Uint8Array(0)],
    ['31-byte identity key', statement, member.publicKey.subarray(1), signature],
    ['33-byte identity key', statement, Uint8Array.from([...member.publicKey, 0]), signature],
    ['off-curve identity key', statement, hex('02' + '00'.repeat(31)), signature],
    ['31-byte X25519 key', { ...statement, publicKey: statement.publicKey.subarray(1) }, member.publicKey, signature],
    ['round 0', { ...statement, roundNumber: 0 }, member.publicKey, signature],
    ['position 1.5', { ...statement, position: 1.5 }, member.publicKey, signature],
    ['empty member id', { ...statement, memberId: '' }, member.publicKey, signature],
    ['not a statement', null as unknown as CommitteeKeyStatement, member.publicKey, signature],
    ['signature not bytes', statement, member.publicKey, 'sig' as unknown as Uint8Array],
  ];
  for (const [what, s, key, sig] of cases) assert.equal(verifyCommitteeKey(s, key, sig), false, what);
  // S ≥ L (non-canonical, RFC 8032 §5.1.7 step 1): adding L to S must not give a second valid signature.
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  let S = 0n;
  for (let i = 63; i >= 32; i--) S = (S << 8n) | BigInt(signature[i]!);
  const malleated = Uint8Array.from(signature);
  let s2 = S + L;
  for (let i = 32; i < 64; i++, s2 >>= 8n) malleated[i] = Number(s2 & 0xffn);
  assert.equal(s2, 0n, 'S + L still fits in 32 bytes');
  assert.equal(verifyCommitteeKey(statement, member.publicKey, malleated), false);
});

test('malformed statements are refused when signing, with messages that name the function and the value', () => {
  const sign = (s: Partial<CommitteeKeyStatement>) => () => signCommitteeKey({ ...statement, ...s }, member);
  assert.throws(sign({ publicKey: new Uint8Array(31) }), /^Error: committeeKeyMessage: expected a 32-byte X25519 public key, got 31 bytes$/);
  assert.throws(sign({ roundNumber: 0 }), /committeeKeyMessage: expected a positive safe integer roundNumber, got 0/);
  assert.throws(sign({ roundNumber: 2 ** 53 }), /committeeKeyMessage: expected a positive safe integer roundNumber, got 9007199254740992/);
  assert.throws(sign({ position: -1 }), /committeeKeyMessage: expected a positive integer position below 2\^32, got -1/);
  assert.throws(sign({ position: 2 ** 32 }), /committeeKeyMessage: expected a positive integer position below 2\^32, got 4294967296/);
  assert.throws(sign({ federationId: '' }), /committeeKeyMessage: expected a non-empty string federationId, got an empty string/);
  assert.throws(sign({ memberId: 42 as unknown as string }), /committeeKeyMessage: expected a non-empty string memberId, got number/);
  // 'a\uD800' and 'a\uFFFD' have the same UTF-8 encoding: a lone surrogate is refused.
  assert.throws(sign({ memberId: 'a\uD800' }), /committeeKeyMessage: expected well-formed Unicode in memberId \(it has a lone surrogate\)/);
  assert.ok(committeeKeyMessage({ ...statement, memberId: 'a\uD83D\uDE00' })); // a surrogate pair is fine
});
