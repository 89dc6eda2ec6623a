/**
 * Long-term identity keys (Ed25519, RFC 8032) for the parties of a federation — owners and aggregator
 * nodes — and the one statement they sign with them: "in round n of federation f, seat p is member m,
 * and this is its X25519 key". An owner who checks that signature against an identity key pinned in the
 * federation's charter knows the server did not swap a committee member's envelope key for its own, so
 * envelopes (envelope.ts) reach the members and no one else. Everything is node:crypto; keys are raw
 * bytes at this boundary (32-byte public key, 32-byte private seed, RFC 8032 §5.1.5), wrapped into
 * PKCS#8 / SPKI DER (RFC 8410 §7) only to hand them to OpenSSL.
 *
 *   message = "fedscore/committee-key/v1" ‖ lp(federationId) ‖ u64be(roundNumber) ‖ u32be(position)
 *             ‖ lp(memberId) ‖ X25519 public key (32),
 *   lp(s) = u32be(UTF-8 length) ‖ UTF-8 bytes, as in envelope.ts, so no two statements share a message.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { X25519_KEY_BYTES } from './envelope.js';
import { defaultRandomBytes, type RandomBytes } from './field.js';

export interface Ed25519KeyPair {
  /** 32 raw bytes: the encoded point A (RFC 8032 §5.1.5). */
  publicKey: Uint8Array;
  /** The 32-byte seed k that RFC 8032 calls the private key. */
  privateKey: Uint8Array;
}

/** What a committee member signs about its per-round X25519 key. */
export interface CommitteeKeyStatement {
  federationId: string;
  roundNumber: number;
  /** The member's seat, 1…k (its Shamir x-coordinate). */
  position: number;
  memberId: string;
  /** The member's 32-byte X25519 public key for this round. */
  publicKey: Uint8Array;
}

export const ED25519_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
const COMMITTEE_KEY_DOMAIN = Buffer.from('fedscore/committee-key/v1', 'utf8');
// RFC 8410 §7 (PKCS#8 OneAsymmetricKey) and §4 (SubjectPublicKeyInfo) for id-Ed25519 (1.3.101.112).
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function describeBytes(bytes: unknown): string {
  return bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes;
}

function checkBytes(fn: string, what: string, bytes: Uint8Array, length: number): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new Error(`${fn}: expected a ${length}-byte ${what}, got ${describeBytes(bytes)}`);
  }
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

function publicKeyBytes(privateKey: KeyObject): Uint8Array {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  if (spki.length !== SPKI_ED25519_PREFIX.length + ED25519_KEY_BYTES || !spki.subarray(0, SPKI_ED25519_PREFIX.length).equals(SPKI_ED25519_PREFIX)) {
    throw new Error('ed25519: node exported an unexpected SubjectPublicKeyInfo');
  }
  return new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** A key pair whose private key is the 32-byte seed drawn from rng (RFC 8032 §5.1.5). */
export function generateIdentityKeyPair(rng: RandomBytes = defaultRandomBytes): Ed25519KeyPair {
  const drawn = rng(ED25519_KEY_BYTES);
  if (drawn.length !== ED25519_KEY_BYTES) throw new Error(`generateIdentityKeyPair: rng returned ${drawn.length} bytes, expected ${ED25519_KEY_BYTES}`);
  const privateKey = Uint8Array.from(drawn);
  return { publicKey: publicKeyBytes(privateKeyObject(privateKey)), privateKey };
}

// Curve25519 in Edwards form (RFC 8032 §5.1): −x² + y² = 1 + d·x²·y² over GF(2^255 − 19).
const P = 2n ** 255n - 19n;
const mod = (a: bigint) => ((a % P) + P) % P;
function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
  }
  return result;
}
const D = mod(-121665n * pow(121666n, P - 2n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** RFC 8032 §5.1.3 point decoding; undefined where the RFC says "decoding fails". */
function decodePoint(bytes: Uint8Array): { x: bigint; y: bigint } | undefined {
  const sign = bytes[31]! >> 7;
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? bytes[i]! & 0x7f : bytes[i]!);
  if (y >= P) return undefined; // non-canonical: step 1
  const y2 = (y * y) % P;
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  const v3 = (v * v * v) % P;
  let x = (u * v3 * pow(u * v3 * v3 * v, (P - 5n) / 8n)) % P; // step 2: candidate root of u/v
  const vx2 = (v * x * x) % P;
  if (vx2 !== u) {
    if (vx2 !== mod(-u)) return undefined; // step 3: u/v is not a square, so y is not on the curve
    x = (x * SQRT_M1) % P;
  }
  if (x === 0n && sign === 1) return undefined; // step 4: "negative zero"
  if (Number(x & 1n) !== sign) x = P - x;
  return { x, y };
}

/** [8]P is the neutral element exactly when P lies in the small (order ≤ 8) torsion subgroup. */
function hasSmallOrder(point: { x: bigint; y: bigint }): boolean {
  let [X, Y, Z] = [point.x, point.y, 1n];
  for (let i = 0; i < 3; i++) {
    // RFC 8032 §5.1.4 doubling, projective part (T is not needed).
    const A = (X * X) % P;
    const B = (Y * Y) % P;
    const C = (2n * Z * Z) % P;
    const H = (A + B) % P;
    const E = mod(H - (X + Y) * (X + Y));
    const G = mod(A - B);
    const F = (C + G) % P;
    [X, Y, Z] = [(E * F) % P, (G * H) % P, (F * G) % P];
  }
  return X === 0n && Y === Z;
}

/**
 * 32 bytes that OpenSSL imports as an Ed25519 SPKI key, that decode to a curve point (RFC 8032 §5.1.3:
 * canonical y, x recoverable, no "negative zero") and that are not of small order. OpenSSL imports any
 * 32 bytes, and a small-order key (the neutral element, say) accepts one forged signature for every
 * message, so a pinned key must pass the curve checks too.
 */
export function isValidIdentityPublicKey(bytes: Uint8Array): boolean {
  if (!(bytes instanceof Uint8Array) || bytes.length !== ED25519_KEY_BYTES) return false;
  try {
    publicKeyObject(bytes);
  } catch {
    return false;
  }
  const point = decodePoint(bytes);
  return point !== undefined && !hasSmallOrder(point);
}

/**
 * Ed25519 signature (RFC 8032 §5.1.6, pure Ed25519: no prehash, no context) over message. Throws if the
 * pair's public key is not the one its seed derives: such a pair would sign what no one can verify.
 */
export function signMessage(message: Uint8Array, identity: Ed25519KeyPair): Uint8Array {
  checkBytes('signMessage', 'Ed25519 private key (seed)', identity.privateKey, ED25519_KEY_BYTES);
  checkBytes('signMessage', 'Ed25519 public key', identity.publicKey, ED25519_KEY_BYTES);
  const key = privateKeyObject(identity.privateKey);
  if (!bytesEqual(publicKeyBytes(key), identity.publicKey)) throw new Error('signMessage: the public key does not belong to the private key of this pair');
  return new Uint8Array(sign(null, message, key));
}

/** RFC 8032 §5.1.7 verification; false — never an exception — for a bad key, signature or length. */
export function verifyMessage(message: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  if (!isValidIdentityPublicKey(publicKey)) return false;
  try {
    return verify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

// A string whose UTF-8 encoding is ambiguous (a lone surrogate becomes U+FFFD) would give two
// statements one message.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function lengthPrefixed(fn: string, name: string, value: string): Buffer[] {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`${fn}: expected a non-empty string ${name}, got ${typeof value === 'string' ? 'an empty string' : typeof value}`);
  if (LONE_SURROGATE.test(value)) throw new Error(`${fn}: expected well-formed Unicode in ${name} (it has a lone surrogate)`);
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return [length, bytes];
}

/** The exact bytes a member signs for its statement (see the file comment). Throws on a malformed statement. */
export function committeeKeyMessage(statement: CommitteeKeyStatement): Uint8Array {
  const fn = 'committeeKeyMessage';
  const { roundNumber, position } = statement;
  if (!Number.isSafeInteger(roundNumber) || roundNumber < 1) throw new Error(`${fn}: expected a positive safe integer roundNumber, got ${roundNumber}`);
  if (!Number.isSafeInteger(position) || position < 1 || position > 0xffff_ffff) {
    throw new Error(`${fn}: expected a positive integer position below 2^32, got ${position}`);
  }
  checkBytes(fn, 'X25519 public key', statement.publicKey, X25519_KEY_BYTES);
  const round = Buffer.alloc(8);
  round.writeBigUInt64BE(BigInt(roundNumber));
  const seat = Buffer.alloc(4);
  seat.writeUInt32BE(position);
  return new Uint8Array(
    Buffer.concat([
      COMMITTEE_KEY_DOMAIN,
      ...lengthPrefixed(fn, 'federationId', statement.federationId),
      round,
      seat,
      ...lengthPrefixed(fn, 'memberId', statement.memberId),
      statement.publicKey,
    ]),
  );
}

/** The member's 64-byte signature over its statement. */
export function signCommitteeKey(statement: CommitteeKeyStatement, identity: Ed25519KeyPair): Uint8Array {
  return signMessage(committeeKeyMessage(statement), identity);
}

/**
 * True only if signature is identityPublicKey's signature over exactly this statement. Everything a
 * verifier receives may come from a hostile server, so any malformed input — statement included — is
 * false, not an exception.
 */
export function verifyCommitteeKey(statement: CommitteeKeyStatement, identityPublicKey: Uint8Array, signature: Uint8Array): boolean {
  let message: Uint8Array;
  try {
    message = committeeKeyMessage(statement);
  } catch {
    return false;
  }
  return verifyMessage(message, identityPublicKey, signature);
}
