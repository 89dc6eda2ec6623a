/**
 * A committee the server cannot pick. At federation creation the server draws a secret 32-byte seed
 * and publishes, in the charter, the anchor of a hash chain over it (Lamport 1981, as in S/KEY):
 *
 *   x₀ = seed,  xᵢ = chainStep(xᵢ₋₁) = SHA-256("fedscore/lottery-chain/v1" ‖ xᵢ₋₁),  anchor = x_L.
 *
 * Round n (1-based) reveals x_{L−n}; anyone checks chainStep applied n times gives the anchor. Reveals
 * walk back towards the seed, so round n's value is a preimage of round n−1's and no one — having seen
 * every earlier reveal — can compute it before the server publishes it (SHA-256 preimage resistance);
 * nor can the server substitute another, having committed to the anchor. Each volunteer's seat score is
 * SHA-256("fedscore/committee-draw/v1" ‖ reveal ‖ lp(ownerId) ‖ identityKey), and the committee is the
 * `size` lowest scores, so every owner can recompute the round's committee from public data.
 *
 * What this does not stop: the server knows every future reveal from the start, so it must not be able
 * to add volunteers (or choose their identity keys) after it has committed to the anchor; and it can
 * fail a round whose draw it dislikes, which moves the draw on to the next reveal.
 */
import { createHash } from 'node:crypto';

export interface Volunteer {
  ownerId: string;
  /** The volunteer's 32-byte Ed25519 identity key (identity.ts). */
  identityKey: Uint8Array;
}

export const LOTTERY_VALUE_BYTES = 32;
/** The longest chain a charter may commit to: a million rounds, about a second of hashing to build. */
export const MAX_CHAIN_LENGTH = 1_000_000;
const CHAIN_DOMAIN = Buffer.from('fedscore/lottery-chain/v1', 'utf8');
const DRAW_DOMAIN = Buffer.from('fedscore/committee-draw/v1', 'utf8');
const IDENTITY_KEY_BYTES = 32;

function describeBytes(bytes: unknown): string {
  return bytes instanceof Uint8Array ? `${bytes.length} bytes` : typeof bytes;
}

function checkValue(fn: string, what: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== LOTTERY_VALUE_BYTES) {
    throw new Error(`${fn}: expected a ${LOTTERY_VALUE_BYTES}-byte ${what}, got ${describeBytes(bytes)}`);
  }
}

function checkCount(fn: string, what: string, n: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new Error(`${fn}: expected ${what} to be a positive integer${max < Number.MAX_SAFE_INTEGER ? ` of at most ${max}` : ''}, got ${n}`);
  }
}

export function chainStep(value: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(CHAIN_DOMAIN).update(value).digest());
}

function iterate(value: Uint8Array, times: number): Uint8Array {
  let x = value;
  for (let i = 0; i < times; i++) x = chainStep(x);
  return x === value ? Uint8Array.from(value) : x;
}

/** x_length: chainStep applied `length` times to the seed. Published; the seed stays secret. */
export function chainAnchor(seed: Uint8Array, length: number): Uint8Array {
  checkValue('chainAnchor', 'seed', seed);
  checkCount('chainAnchor', 'the chain length', length, MAX_CHAIN_LENGTH);
  return iterate(seed, length);
}

/**
 * Round n's public value x_{length−n}: chainStep applied length − n times to the seed (the last round,
 * n = length, reveals the seed itself, which has no further use). Costs length − n hashes.
 */
export function chainReveal(seed: Uint8Array, length: number, n: number): Uint8Array {
  checkValue('chainReveal', 'seed', seed);
  checkCount('chainReveal', 'the chain length', length, MAX_CHAIN_LENGTH);
  checkCount('chainReveal', 'the round number', n);
  if (n > length) throw new Error(`chainReveal: round ${n} is beyond the end of a chain of length ${length}`);
  return iterate(seed, length - n);
}

/**
 * Whether reveal is round n's value under anchor: chainStep applied n times gives the anchor. Costs n
 * hashes. False for values of the wrong length and for n beyond any chain a charter may commit to;
 * throws only when n is not a positive integer (a caller's bug).
 */
export function verifyReveal(anchor: Uint8Array, reveal: Uint8Array, n: number): boolean {
  checkCount('verifyReveal', 'the round number', n);
  if (n > MAX_CHAIN_LENGTH) return false;
  if (!(anchor instanceof Uint8Array) || anchor.length !== LOTTERY_VALUE_BYTES) return false;
  if (!(reveal instanceof Uint8Array) || reveal.length !== LOTTERY_VALUE_BYTES) return false;
  return Buffer.from(iterate(reveal, n)).equals(anchor);
}

// A lone surrogate and U+FFFD share a UTF-8 encoding: two owner ids would score alike.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The `size` volunteers with the lowest scores under reveal, lowest first: seat position = index + 1.
 * Input order does not matter. Throws if there are fewer than `size` volunteers, or two share an owner
 * id or an identity key (one party must not hold two tickets).
 */
export function drawCommittee(reveal: Uint8Array, volunteers: Volunteer[], size: number): Volunteer[] {
  const fn = 'drawCommittee';
  checkValue(fn, 'reveal', reveal);
  checkCount(fn, 'the committee size', size);
  if (!Array.isArray(volunteers)) throw new Error(`${fn}: expected an array of volunteers, got ${typeof volunteers}`);
  if (volunteers.length < size) throw new Error(`${fn}: a committee of ${size} needs at least ${size} volunteers, got ${volunteers.length}`);
  const owners = new Map<string, number>();
  const keys = new Map<string, number>();
  const scored = volunteers.map((volunteer, i) => {
    const { ownerId, identityKey } = volunteer;
    if (typeof ownerId !== 'string' || ownerId.length === 0) throw new Error(`${fn}: volunteer ${i} has no owner id`);
    if (LONE_SURROGATE.test(ownerId)) throw new Error(`${fn}: volunteer ${i}'s owner id is not well-formed Unicode (it has a lone surrogate)`);
    if (!(identityKey instanceof Uint8Array) || identityKey.length !== IDENTITY_KEY_BYTES) {
      throw new Error(`${fn}: expected a ${IDENTITY_KEY_BYTES}-byte identity key for volunteer ${i}, got ${describeBytes(identityKey)}`);
    }
    const previousOwner = owners.get(ownerId);
    if (previousOwner !== undefined) throw new Error(`${fn}: volunteers ${previousOwner} and ${i} share the owner id ${JSON.stringify(ownerId)}`);
    owners.set(ownerId, i);
    const keyHex = Buffer.from(identityKey).toString('hex');
    const previousKey = keys.get(keyHex);
    if (previousKey !== undefined) throw new Error(`${fn}: volunteers ${previousKey} and ${i} share an identity key`);
    keys.set(keyHex, i);
    const id = Buffer.from(ownerId, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(id.length);
    const score = createHash('sha256').update(DRAW_DOMAIN).update(reveal).update(length).update(id).update(identityKey).digest();
    return { volunteer, score, id };
  });
  // Ties between SHA-256 outputs do not happen in practice; breaking them by the owner id's UTF-8 bytes
  // still makes the order total, so every implementation seats the same committee.
  scored.sort((a, b) => Buffer.compare(a.score, b.score) || Buffer.compare(a.id, b.id));
  return scored.slice(0, size).map((s) => s.volunteer);
}
