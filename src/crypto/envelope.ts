/**
 * Share envelopes (DESIGN, protocol 2: "each share is encrypted end to end to one committee member's
 * registered X25519 key"): ECIES-style public-key encryption with a fresh ephemeral X25519 key per
 * envelope — or, with `sealEnvelopes`, per batch of envelopes to distinct recipients (one owner's k shares of
 * a round) — HKDF-SHA256 (RFC 5869) and AES-256-GCM, so the server that stores and forwards envelopes
 * cannot read them. The associated data binds each envelope to its federation, round, sender and
 * recipient, so a stored envelope cannot be replayed into another round or passed off as someone
 * else's share. Everything is node:crypto; keys are raw 32-byte strings at this boundary (RFC 7748 §5).
 *
 *   envelope = version (1) ‖ ephemeral public key (32) ‖ nonce (12) ‖ ciphertext ‖ GCM tag (16)
 *   key      = HKDF-SHA256(ikm = X25519(eph, recipient), salt = eph_pub ‖ recipient_pub,
 *                          info = "fedscore/share-envelope/v1", 32 bytes)
 *   aad      = version ‖ lp(federationId) ‖ u64be(roundNumber) ‖ lp(senderId) ‖ lp(recipientId),
 *              lp(s) = u32be(UTF-8 length) ‖ UTF-8 bytes, so no two contexts share an encoding.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { defaultRandomBytes, type RandomBytes } from './field.js';

export interface X25519KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface EnvelopeContext {
  federationId: string;
  roundNumber: number;
  senderId: string;
  recipientId: string;
}

export type EnvelopeFailure = 'truncated' | 'unsupported-version' | 'invalid-key' | 'authentication-failed';

/** A share envelope that cannot be opened (or sealed); `reason` says which check failed. */
export class EnvelopeError extends Error {
  constructor(
    readonly reason: EnvelopeFailure,
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

export const X25519_KEY_BYTES = 32;
export const ENVELOPE_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + X25519_KEY_BYTES + NONCE_BYTES;
const HKDF_INFO = Buffer.from('fedscore/share-envelope/v1', 'utf8');

/** Bytes an envelope adds to its plaintext: version, ephemeral key, nonce and tag (61). */
export function envelopeOverhead(): number {
  return HEADER_BYTES + TAG_BYTES;
}

// The u-coordinates of small order (libsodium's list, cf. RFC 7748 §6.1 and §7): 0, 1, p − 1 and the
// two points of order 8. X25519 with a clamped scalar (a multiple of 8) maps each of them to zero, which
// envelope.test.ts checks. Canonical encodings only: non-canonical ones are rejected before this list.
const LOW_ORDER = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
].map((hex) => Buffer.from(hex, 'hex'));

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * 32 bytes, canonical (u < 2^255 − 19 with bit 255 clear) and not of small order. Stricter than RFC 7748
 * §5, which masks bit 255 and reduces non-canonical u on receipt: every honestly computed public key is
 * canonical, and strictness gives each key exactly one accepted encoding.
 */
export function isValidX25519PublicKey(bytes: Uint8Array): boolean {
  if (!(bytes instanceof Uint8Array) || bytes.length !== X25519_KEY_BYTES) return false;
  if (bytes[31]! & 0x80) return false;
  if (bytes[31] === 0x7f && bytes[0]! >= 0xed) {
    let allOnes = true;
    for (let i = 1; i < 31; i++) if (bytes[i] !== 0xff) allOnes = false;
    if (allOnes) return false; // u ≥ 2^255 − 19
  }
  return !LOW_ORDER.some((point) => bytesEqual(bytes, point));
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
// Node builds an OKP private key from `d` alone (the JWK validator wants an `x`, which it does not use),
// and JWK import is ~10× cheaper than PKCS#8 DER under OpenSSL 3.0's decoder. The RFC 7748 known-answer
// test in envelope.test.ts would catch a Node that used `x`; one that insisted on a matching `x` falls
// back to DER here.
const PLACEHOLDER_X = b64(new Uint8Array(X25519_KEY_BYTES));
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function privateKeyObject(privateKey: Uint8Array, publicKey?: Uint8Array): KeyObject {
  try {
    return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64(privateKey), x: publicKey ? b64(publicKey) : PLACEHOLDER_X }, format: 'jwk' });
  } catch {
    return createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  }
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64(publicKey) }, format: 'jwk' });
}

function publicKeyBytes(privateKey: KeyObject): Uint8Array {
  const x = createPublicKey(privateKey).export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('x25519: node did not export a public key');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

function checkKeyBytes(fn: string, what: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== X25519_KEY_BYTES) {
    throw new Error(`${fn}: expected a ${X25519_KEY_BYTES}-byte ${what}, got ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes}`);
  }
}

/** RFC 7748 §6.1: reject an all-zero shared secret (a low-order peer key); OpenSSL also refuses it. */
function sharedSecret(privateKey: KeyObject, publicKey: Uint8Array): Buffer | undefined {
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: publicKeyObject(publicKey) });
  } catch {
    return undefined;
  }
  let any = 0;
  for (let i = 0; i < shared.length; i++) any |= shared[i]!;
  return any === 0 ? undefined : shared;
}

/** A key pair whose private key is 32 bytes from rng (RFC 7748 §5: clamping happens inside X25519). */
export function generateX25519KeyPair(rng: RandomBytes = defaultRandomBytes): X25519KeyPair {
  return generateWithKeyObject(rng).pair;
}

function generateWithKeyObject(rng: RandomBytes): { pair: X25519KeyPair; key: KeyObject } {
  const drawn = rng(X25519_KEY_BYTES);
  if (drawn.length !== X25519_KEY_BYTES) throw new Error(`generateX25519KeyPair: rng returned ${drawn.length} bytes, expected ${X25519_KEY_BYTES}`);
  const privateKey = Uint8Array.from(drawn);
  const key = privateKeyObject(privateKey);
  return { pair: { publicKey: publicKeyBytes(key), privateKey }, key };
}

/** X25519(k, u) on raw bytes (RFC 7748 §5); throws on an all-zero result. For known-answer tests and tools. */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  checkKeyBytes('x25519', 'private key', privateKey);
  checkKeyBytes('x25519', 'public key', publicKey);
  const shared = sharedSecret(privateKeyObject(privateKey), publicKey);
  if (!shared) throw new Error('x25519: the shared secret is all zero (a low-order public key, RFC 7748 §6.1)');
  return new Uint8Array(shared);
}

function encodeContext(fn: string, context: EnvelopeContext): Buffer {
  const fields = [context.federationId, context.senderId, context.recipientId];
  const names = ['federationId', 'senderId', 'recipientId'];
  fields.forEach((value, i) => {
    if (typeof value !== 'string' || value.length === 0) throw new Error(`${fn}: expected a non-empty string context.${names[i]}`);
  });
  const round = context.roundNumber;
  if (!Number.isSafeInteger(round) || round < 0) throw new Error(`${fn}: expected a non-negative safe integer context.roundNumber, got ${round}`);
  const lp = (value: string) => {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return [length, bytes];
  };
  const roundBytes = Buffer.alloc(8);
  roundBytes.writeBigUInt64BE(BigInt(round));
  return Buffer.concat([
    Buffer.of(ENVELOPE_VERSION),
    ...lp(context.federationId),
    roundBytes,
    ...lp(context.senderId),
    ...lp(context.recipientId),
  ]);
}

function envelopeKey(shared: Buffer, ephemeralPublicKey: Uint8Array, recipientPublicKey: Uint8Array): Buffer {
  const salt = Buffer.concat([ephemeralPublicKey, recipientPublicKey]);
  return Buffer.from(hkdfSync('sha256', shared, salt, HKDF_INFO, 32));
}

export function sealEnvelope(
  plaintext: Uint8Array,
  recipientPublicKey: Uint8Array,
  context: EnvelopeContext,
  rng: RandomBytes = defaultRandomBytes,
): Uint8Array {
  return sealEnvelopes([{ plaintext, recipientPublicKey, context }], rng)[0]!;
}

/**
 * Seals one envelope to each of several recipients under one ephemeral key. Re-using the ephemeral
 * randomness across recipients keeps ECIES/DHIES secure: each envelope's key comes from a different
 * X25519(eph, recipient) and is salted with that recipient's key (Bellare, Boldyreva and Staddon,
 * "Randomness re-use in multi-recipient encryption schemes", PKC 2003: DHIES is reproducible). Each
 * envelope still draws its own nonce and binds its own context. It halves an owner's sealing cost: key
 * generation is as dear as the X25519 itself, and an owner seals k envelopes every secure round.
 */
export function sealEnvelopes(
  items: readonly { plaintext: Uint8Array; recipientPublicKey: Uint8Array; context: EnvelopeContext }[],
  rng: RandomBytes = defaultRandomBytes,
): Uint8Array[] {
  const aads = items.map(({ recipientPublicKey, context }) => {
    const aad = encodeContext('sealEnvelope', context);
    if (!isValidX25519PublicKey(recipientPublicKey)) {
      throw new EnvelopeError('invalid-key', 'sealEnvelope: recipient public key is not a valid X25519 key (32 bytes, canonical, not of low order)');
    }
    return aad;
  });
  const ephemeral = generateWithKeyObject(rng);
  ephemeral.pair.privateKey.fill(0);
  return items.map(({ plaintext, recipientPublicKey }, i) => {
    const shared = sharedSecret(ephemeral.key, recipientPublicKey);
    if (!shared) throw new EnvelopeError('invalid-key', 'sealEnvelope: the X25519 shared secret is all zero (RFC 7748 §6.1)');
    const key = envelopeKey(shared, ephemeral.pair.publicKey, recipientPublicKey);
    shared.fill(0);
    const nonce = rng(NONCE_BYTES);
    if (nonce.length !== NONCE_BYTES) throw new Error(`sealEnvelope: rng returned ${nonce.length} bytes, expected ${NONCE_BYTES}`);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aads[i]!);
    const body = cipher.update(plaintext);
    cipher.final(); // GCM emits nothing here
    key.fill(0);
    const out = new Uint8Array(HEADER_BYTES + body.length + TAG_BYTES);
    out[0] = ENVELOPE_VERSION;
    out.set(ephemeral.pair.publicKey, 1);
    out.set(nonce, 1 + X25519_KEY_BYTES);
    out.set(body, HEADER_BYTES);
    out.set(cipher.getAuthTag(), HEADER_BYTES + body.length);
    return out;
  });
}

// A committee member opens tens of thousands of envelopes with one key: importing it once matters
// (~50 µs each). Keyed by the key pair's byte arrays; a hit is re-checked against a private copy so an
// array mutated in place is never served a stale key.
const recipientKeys = new WeakMap<Uint8Array, { privateKey: Buffer; key: KeyObject }>();

function recipientKeyObject(recipient: X25519KeyPair): KeyObject {
  const cached = recipientKeys.get(recipient.privateKey);
  if (cached && bytesEqual(cached.privateKey, recipient.privateKey)) return cached.key;
  const key = privateKeyObject(recipient.privateKey, recipient.publicKey);
  recipientKeys.set(recipient.privateKey, { privateKey: Buffer.from(recipient.privateKey), key });
  return key;
}

/**
 * Checks, in order: length and version (EnvelopeError 'truncated' / 'unsupported-version'), the
 * ephemeral key ('invalid-key'), then the GCM tag over ciphertext and context ('authentication-failed':
 * a wrong key, a wrong context and a tampered envelope are indistinguishable by design).
 */
export function openEnvelope(envelope: Uint8Array, recipient: X25519KeyPair, context: EnvelopeContext): Uint8Array {
  checkKeyBytes('openEnvelope', 'recipient private key', recipient.privateKey);
  checkKeyBytes('openEnvelope', 'recipient public key', recipient.publicKey);
  const aad = encodeContext('openEnvelope', context);
  if (envelope.length === 0) throw new EnvelopeError('truncated', 'openEnvelope: truncated envelope (0 bytes)');
  if (envelope[0] !== ENVELOPE_VERSION) {
    throw new EnvelopeError('unsupported-version', `openEnvelope: unsupported envelope version ${envelope[0]}, expected ${ENVELOPE_VERSION}`);
  }
  if (envelope.length < envelopeOverhead()) {
    throw new EnvelopeError('truncated', `openEnvelope: truncated envelope (${envelope.length} bytes, at least ${envelopeOverhead()} expected)`);
  }
  const ephemeralPublicKey = envelope.subarray(1, 1 + X25519_KEY_BYTES);
  if (!isValidX25519PublicKey(ephemeralPublicKey)) {
    throw new EnvelopeError('invalid-key', 'openEnvelope: the ephemeral public key is not a valid X25519 key (non-canonical or of low order)');
  }
  const shared = sharedSecret(recipientKeyObject(recipient), ephemeralPublicKey);
  if (!shared) throw new EnvelopeError('invalid-key', 'openEnvelope: the X25519 shared secret is all zero (RFC 7748 §6.1)');
  const key = envelopeKey(shared, ephemeralPublicKey, recipient.publicKey);
  shared.fill(0);
  const nonce = envelope.subarray(1 + X25519_KEY_BYTES, HEADER_BYTES);
  const tagStart = envelope.length - TAG_BYTES;
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  key.fill(0);
  decipher.setAuthTag(envelope.subarray(tagStart));
  decipher.setAAD(aad);
  const body = decipher.update(envelope.subarray(HEADER_BYTES, tagStart));
  try {
    decipher.final();
  } catch {
    body.fill(0);
    throw new EnvelopeError('authentication-failed', 'openEnvelope: authentication failed (wrong recipient key, wrong context, or an altered envelope)');
  }
  const plaintext = new Uint8Array(body); // a plain Uint8Array of its own, never a view of a pooled Buffer
  body.fill(0);
  return plaintext;
}
