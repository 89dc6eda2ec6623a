/**
 * Tests for share envelopes: X25519 against RFC 7748's vectors, the low-order key list, the envelope
 * round trip, and refusal of every way an envelope can be wrong: any single flipped bit, truncation,
 * the wrong recipient key, any context field changed, another version byte. Error messages never carry
 * key material.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash, hkdfSync } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { seededRandomBytes } from './field.js';
import {
  ENVELOPE_VERSION,
  EnvelopeError,
  envelopeOverhead,
  generateX25519KeyPair,
  isValidX25519PublicKey,
  openEnvelope,
  sealEnvelope,
  sealEnvelopes,
  x25519,
  type EnvelopeContext,
  type EnvelopeFailure,
  type X25519KeyPair,
} from './envelope.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

// RFC 7748 §6.1
const ALICE_PRIVATE = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const ALICE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB_PRIVATE = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
const BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
];

const fixedRng = (bytes: Uint8Array) => () => bytes;

const context: EnvelopeContext = { federationId: 'fed-1', roundNumber: 7, senderId: 'owner-a', recipientId: 'member-3' };

function expectEnvelopeError(run: () => unknown, reason: EnvelopeFailure, secrets: Uint8Array[] = []): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof EnvelopeError, `expected an EnvelopeError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    for (const secret of secrets) {
      assert.ok(!error.message.includes(toHex(secret)) && !error.message.includes(Buffer.from(secret).toString('base64url')), 'message leaks key material');
    }
    return true;
  });
}

test('X25519: RFC 7748 §6.1 key pairs and shared secret, via generateX25519KeyPair and x25519', () => {
  const alice = generateX25519KeyPair(fixedRng(hex(ALICE_PRIVATE)));
  const bob = generateX25519KeyPair(fixedRng(hex(BOB_PRIVATE)));
  assert.equal(toHex(alice.privateKey), ALICE_PRIVATE);
  assert.equal(toHex(alice.publicKey), ALICE_PUBLIC);
  assert.equal(toHex(bob.publicKey), BOB_PUBLIC);
  assert.equal(toHex(x25519(alice.privateKey, bob.publicKey)), SHARED);
  assert.equal(toHex(x25519(bob.privateKey, alice.publicKey)), SHARED);
});

test('X25519: RFC 7748 §5.2 vectors (one scalar multiplication, then 1 and 1,000 iterations)', () => {
  assert.equal(
    toHex(x25519(hex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4'), hex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'))),
    'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  );
  let k: Uint8Array = hex('0900000000000000000000000000000000000000000000000000000000000000');
  let u: Uint8Array = k;
  for (let i = 1; i <= 1_000; i++) {
    [k, u] = [x25519(k, u), k];
    if (i === 1) assert.equal(toHex(k), '422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
  }
  assert.equal(toHex(k), '684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
});

test('low-order points: X25519 maps each to zero, so they are refused as keys and as peers', () => {
  const someone = generateX25519KeyPair(seededRandomBytes('low-order'));
  for (const point of LOW_ORDER) {
    assert.ok(!isValidX25519PublicKey(hex(point)), point);
    assert.throws(() => x25519(someone.privateKey, hex(point)), /x25519: the shared secret is all zero \(a low-order public key, RFC 7748 §6\.1\)/);
    expectEnvelopeError(() => sealEnvelope(new Uint8Array(4), hex(point), context), 'invalid-key');
  }
});

test('isValidX25519PublicKey: 32 canonical bytes, high bit clear, not low-order', () => {
  const rng = seededRandomBytes('valid-keys');
  for (let i = 0; i < 50; i++) assert.ok(isValidX25519PublicKey(generateX25519KeyPair(rng).publicKey));
  const key = generateX25519KeyPair(rng).publicKey;
  assert.ok(!isValidX25519PublicKey(key.subarray(0, 31)));
  assert.ok(!isValidX25519PublicKey(Uint8Array.from([...key, 0])));
  const highBit = Uint8Array.from(key);
  highBit[31]! |= 0x80;
  assert.ok(!isValidX25519PublicKey(highBit));
  // Non-canonical u ≥ 2^255 − 19 (p and p + 1 alias the low-order 0 and 1; p + 18 is the largest).
  for (const nonCanonical of ['ed', 'ee', 'ff']) assert.ok(!isValidX25519PublicKey(hex(nonCanonical + 'ff'.repeat(30) + '7f')));
  assert.ok(isValidX25519PublicKey(hex('eb' + 'ff'.repeat(30) + '7f'))); // p − 2: canonical, not low-order
});

test('generateX25519KeyPair is deterministic from its rng, fresh otherwise', () => {
  const a = generateX25519KeyPair(seededRandomBytes('kp'));
  assert.deepEqual(generateX25519KeyPair(seededRandomBytes('kp')), a);
  assert.notDeepEqual(generateX25519KeyPair().privateKey, generateX25519KeyPair().privateKey);
  assert.throws(() => generateX25519KeyPair(() => new Uint8Array(31)), /generateX25519KeyPair: rng returned 31 bytes, expected 32/);
});

const recipient: X25519KeyPair = generateX25519KeyPair(seededRandomBytes('recipient'));
const stranger: X25519KeyPair = generateX25519KeyPair(seededRandomBytes('stranger'));

test('seal/open round trip for any plaintext; overhead is 61 bytes; fresh ephemeral key each time', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (plaintext) => {
      const envelope = sealEnvelope(plaintext, recipient.publicKey, context);
      assert.equal(envelope.length, plaintext.length + envelopeOverhead());
      assert.equal(envelope[0], ENVELOPE_VERSION);
      assert.deepEqual(openEnvelope(envelope, recipient, context), plaintext);
    }),
    { numRuns: 100 },
  );
  assert.equal(envelopeOverhead(), 1 + 32 + 12 + 16);
  const a = sealEnvelope(Uint8Array.of(1, 2, 3), recipient.publicKey, context);
  const b = sealEnvelope(Uint8Array.of(1, 2, 3), recipient.publicKey, context);
  assert.notDeepEqual(a.subarray(1, 33), b.subarray(1, 33));
  assert.notDeepEqual(a, b);
});

test('sealEnvelopes: one ephemeral key for every recipient, each envelope opens only for its own recipient and context', () => {
  const third = generateX25519KeyPair(seededRandomBytes('third'));
  const to = (member: X25519KeyPair, recipientId: string, text: string) => ({ plaintext: Buffer.from(text), recipientPublicKey: member.publicKey, context: { ...context, recipientId } });
  const [a, b] = sealEnvelopes([to(recipient, 'member-1', 'share for 1'), to(third, 'member-2', 'share for 2')]);
  assert.deepEqual(a!.subarray(1, 33), b!.subarray(1, 33), 'one ephemeral public key');
  assert.notDeepEqual(a!.subarray(33, 45), b!.subarray(33, 45), 'a nonce of its own each');
  assert.equal(Buffer.from(openEnvelope(a!, recipient, { ...context, recipientId: 'member-1' })).toString(), 'share for 1');
  assert.equal(Buffer.from(openEnvelope(b!, third, { ...context, recipientId: 'member-2' })).toString(), 'share for 2');
  expectEnvelopeError(() => openEnvelope(a!, third, { ...context, recipientId: 'member-1' }), 'authentication-failed');
  expectEnvelopeError(() => openEnvelope(b!, third, { ...context, recipientId: 'member-1' }), 'authentication-failed');
  // A batch of one is exactly sealEnvelope, byte for byte under the same rng.
  assert.deepEqual(
    sealEnvelopes([to(recipient, 'member-3', 'x')], seededRandomBytes('one'))[0],
    sealEnvelope(Buffer.from('x'), recipient.publicKey, { ...context, recipientId: 'member-3' }, seededRandomBytes('one')),
  );
  // Every recipient key is checked before anything is sealed.
  expectEnvelopeError(() => sealEnvelopes([to(recipient, 'member-1', 'x'), { ...to(third, 'member-2', 'y'), recipientPublicKey: new Uint8Array(32) }]), 'invalid-key');
});

test('a sealed envelope is a pure function of its inputs and rng, built exactly as the format says', () => {
  const envelope = sealEnvelope(Buffer.from('fedscore'), recipient.publicKey, context, seededRandomBytes('kat-envelope'));
  assert.deepEqual(sealEnvelope(Buffer.from('fedscore'), recipient.publicKey, context, seededRandomBytes('kat-envelope')), envelope);
  assert.equal(createHash('sha256').update(envelope).digest('hex'), KAT_ENVELOPE_SHA256);
  // Rebuild it from the primitives, following the file comment of envelope.ts step by step.
  const rng = seededRandomBytes('kat-envelope');
  const ephemeral = generateX25519KeyPair(rng);
  const nonce = rng(12);
  const shared = x25519(ephemeral.privateKey, recipient.publicKey);
  const key = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeral.publicKey, recipient.publicKey]), 'fedscore/share-envelope/v1', 32));
  const aad = Buffer.from('01' + '00000005' + Buffer.from('fed-1').toString('hex') + '0000000000000007' + '00000007' + Buffer.from('owner-a').toString('hex') + '00000008' + Buffer.from('member-3').toString('hex'), 'hex');
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update('fedscore'), cipher.final()]);
  assert.equal(toHex(envelope), toHex(Buffer.concat([Buffer.of(1), ephemeral.publicKey, nonce, body, cipher.getAuthTag()])));
  assert.deepEqual(Buffer.from(openEnvelope(envelope, recipient, context)).toString(), 'fedscore');
});

test('every single-bit flip anywhere in an envelope is refused', () => {
  const plaintext = seededRandomBytes('bit-flips')(1 + 45 * 7); // the size of a crx vector share
  const envelope = sealEnvelope(plaintext, recipient.publicKey, context);
  let flips = 0;
  for (let byte = 0; byte < envelope.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const tampered = Uint8Array.from(envelope);
      tampered[byte]! ^= 1 << bit;
      const reason: EnvelopeFailure = byte === 0 ? 'unsupported-version' : 'authentication-failed';
      assert.throws(
        () => openEnvelope(tampered, recipient, context),
        (error: unknown) => error instanceof EnvelopeError && (error.reason === reason || (byte >= 1 && byte < 33 && error.reason === 'invalid-key')),
        `byte ${byte} bit ${bit}`,
      );
      flips++;
    }
  }
  assert.equal(flips, 8 * (plaintext.length + 61));
});

test('truncated envelopes are refused: too short for the header and tag, or cut anywhere', () => {
  const envelope = sealEnvelope(Uint8Array.of(1, 2, 3, 4, 5), recipient.publicKey, context);
  expectEnvelopeError(() => openEnvelope(new Uint8Array(0), recipient, context), 'truncated');
  for (let length = 1; length < envelope.length; length++) {
    expectEnvelopeError(() => openEnvelope(envelope.subarray(0, length), recipient, context), length < 61 ? 'truncated' : 'authentication-failed');
  }
  assert.throws(() => openEnvelope(envelope.subarray(0, 20), recipient, context), /openEnvelope: truncated envelope \(20 bytes, at least 61 expected\)/);
  // Appending bytes is no better than cutting them.
  expectEnvelopeError(() => openEnvelope(Uint8Array.from([...envelope, 0]), recipient, context), 'authentication-failed');
});

test('the wrong recipient key cannot open an envelope', () => {
  const envelope = sealEnvelope(Uint8Array.of(9, 9, 9), recipient.publicKey, context);
  expectEnvelopeError(() => openEnvelope(envelope, stranger, context), 'authentication-failed', [stranger.privateKey, recipient.privateKey]);
  // The right private key with a wrong public half also fails (the public key is in the HKDF salt).
  expectEnvelopeError(() => openEnvelope(envelope, { privateKey: recipient.privateKey, publicKey: stranger.publicKey }, context), 'authentication-failed');
  assert.throws(() => openEnvelope(envelope, stranger, context), /openEnvelope: authentication failed \(wrong recipient key, wrong context, or an altered envelope\)/);
});

test('an envelope cannot be opened, or replayed, under any other context', () => {
  const envelope = sealEnvelope(Uint8Array.of(4, 2), recipient.publicKey, context);
  const changed: EnvelopeContext[] = [
    { ...context, federationId: 'fed-2' },
    { ...context, roundNumber: 8 },
    { ...context, roundNumber: 7 + 2 ** 32 }, // 64-bit round number: no truncation to 32 bits
    { ...context, senderId: 'owner-b' },
    { ...context, recipientId: 'member-4' },
    // Length prefixes keep fields apart: moving a character across a boundary is a different context.
    { ...context, federationId: 'fed-1o', senderId: 'wner-a' },
    { ...context, senderId: 'owner-am', recipientId: 'ember-3' },
    { ...context, senderId: 'member-3', recipientId: 'owner-a' },
  ];
  for (const other of changed) expectEnvelopeError(() => openEnvelope(envelope, recipient, other), 'authentication-failed');
  assert.deepEqual(openEnvelope(envelope, recipient, { ...context }), Uint8Array.of(4, 2));
});

test('another version byte is refused as unsupported, before any cryptography', () => {
  const envelope = sealEnvelope(Uint8Array.of(1), recipient.publicKey, context);
  for (const version of [0, 2, 0x81, 0xff]) {
    const other = Uint8Array.from(envelope);
    other[0] = version;
    expectEnvelopeError(() => openEnvelope(other, recipient, context), 'unsupported-version');
  }
  const v2 = Uint8Array.from(envelope);
  v2[0] = 2;
  assert.throws(() => openEnvelope(v2, recipient, context), /openEnvelope: unsupported envelope version 2, expected 1/);
});

test('an envelope whose ephemeral key is a low-order point is refused before decryption', () => {
  const envelope = sealEnvelope(Uint8Array.of(1), recipient.publicKey, context);
  for (const point of LOW_ORDER) {
    const forged = Uint8Array.from(envelope);
    forged.set(hex(point), 1);
    expectEnvelopeError(() => openEnvelope(forged, recipient, context), 'invalid-key');
  }
});

test('bad arguments are programming errors with plain messages', () => {
  assert.throws(() => sealEnvelope(new Uint8Array(1), recipient.publicKey, { ...context, roundNumber: -1 }), /sealEnvelope: expected a non-negative safe integer context.roundNumber, got -1/);
  assert.throws(() => sealEnvelope(new Uint8Array(1), recipient.publicKey, { ...context, senderId: '' }), /sealEnvelope: expected a non-empty string context.senderId/);
  expectEnvelopeError(() => sealEnvelope(new Uint8Array(1), recipient.publicKey.subarray(1), context), 'invalid-key');
  assert.throws(() => openEnvelope(new Uint8Array(80), { privateKey: new Uint8Array(31), publicKey: recipient.publicKey }, context), /openEnvelope: expected a 32-byte recipient private key, got 31 bytes/);
});

test('a key pair mutated in place is not served a stale cached key', () => {
  const pair = generateX25519KeyPair(seededRandomBytes('mutable'));
  const other = generateX25519KeyPair(seededRandomBytes('mutable-2'));
  const toPair = sealEnvelope(Uint8Array.of(1), pair.publicKey, context);
  const toOther = sealEnvelope(Uint8Array.of(2), other.publicKey, context);
  assert.deepEqual(openEnvelope(toPair, pair, context), Uint8Array.of(1));
  pair.privateKey.set(other.privateKey);
  pair.publicKey.set(other.publicKey);
  assert.deepEqual(openEnvelope(toOther, pair, context), Uint8Array.of(2));
  expectEnvelopeError(() => openEnvelope(toPair, pair, context), 'authentication-failed');
});

// SHA-256 of sealEnvelope("fedscore", recipient, context, seededRandomBytes('kat-envelope')): pins the
// format (layout, HKDF inputs, AAD encoding), so any change to it is deliberate and versioned.
const KAT_ENVELOPE_SHA256 = 'fe0ac5781b6fb7ce0fdd05e19b464599b76750c62fc1a32332b5286288ab74d4';
