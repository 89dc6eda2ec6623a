/**
 * Bytes at the edges of secure aggregation: field vectors as fixed-width little-endian integers
 * (FIELD_BYTES = 7 bytes per element, no header: the length is known from the round's model), and the
 * plaintext of one share envelope, tagged so that a seed and a vector cannot be confused. Decoders
 * reject anything that is not canonical (wrong length, an element ≥ p, an unknown tag), so every
 * vector that reaches the committee's summing loop holds field elements.
 */
import { FIELD_BYTES, FIELD_PRIME, isFieldElement } from './field.js';
import { expandSeed, SEED_BYTES } from './shamir.js';

const TWO32 = 2 ** 32;

export function packFieldVector(v: Float64Array): Uint8Array {
  const out = new Uint8Array(v.length * FIELD_BYTES);
  for (let i = 0, o = 0; i < v.length; i++, o += FIELD_BYTES) {
    const x = v[i]!;
    if (!isFieldElement(x)) throw new Error(`packFieldVector: element ${i} is not a field element (an integer in [0, p))`);
    const hi = Math.floor(x / TWO32); // < 2^20
    const lo = x - hi * TWO32;
    out[o] = lo & 0xff;
    out[o + 1] = (lo >>> 8) & 0xff;
    out[o + 2] = (lo >>> 16) & 0xff;
    out[o + 3] = lo >>> 24;
    out[o + 4] = hi & 0xff;
    out[o + 5] = (hi >>> 8) & 0xff;
    out[o + 6] = hi >>> 16;
  }
  return out;
}

/** Throws on a byte length that is not FIELD_BYTES·length (or a multiple of FIELD_BYTES) or an element ≥ p. */
export function unpackFieldVector(bytes: Uint8Array, length?: number): Float64Array {
  if (length !== undefined) {
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`unpackFieldVector: expected a non-negative integer length, got ${length}`);
    if (bytes.length !== length * FIELD_BYTES) {
      throw new Error(`unpackFieldVector: expected ${length * FIELD_BYTES} bytes for ${length} elements, got ${bytes.length}`);
    }
  } else if (bytes.length % FIELD_BYTES !== 0) {
    throw new Error(`unpackFieldVector: expected a multiple of ${FIELD_BYTES} bytes, got ${bytes.length}`);
  }
  const n = bytes.length / FIELD_BYTES;
  const out = new Float64Array(n);
  for (let i = 0, o = 0; i < n; i++, o += FIELD_BYTES) {
    const lo = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
    const hi = bytes[o + 4]! | (bytes[o + 5]! << 8) | (bytes[o + 6]! << 16);
    const x = hi * TWO32 + lo; // < 2^56: exact
    if (x >= FIELD_PRIME) throw new Error(`unpackFieldVector: element ${i} is not below the field prime`);
    out[i] = x;
  }
  return out;
}

export type SharePayload = { kind: 'seed'; seed: Uint8Array } | { kind: 'vector'; values: Float64Array };

/** Payload tags: the first plaintext byte of a share envelope. */
export const PAYLOAD_SEED = 0x01;
export const PAYLOAD_VECTOR = 0x02;

/** [0x01][32-byte seed] or [0x02][packed vector]. */
export function encodeSharePayload(payload: SharePayload): Uint8Array {
  if (payload.kind === 'seed') {
    if (payload.seed.length !== SEED_BYTES) throw new Error(`encodeSharePayload: expected a ${SEED_BYTES}-byte seed, got ${payload.seed.length} bytes`);
    const out = new Uint8Array(1 + SEED_BYTES);
    out[0] = PAYLOAD_SEED;
    out.set(payload.seed, 1);
    return out;
  }
  if (payload.kind !== 'vector') throw new Error(`encodeSharePayload: unknown payload kind ${String((payload as { kind: unknown }).kind)}`);
  const packed = packFieldVector(payload.values);
  const out = new Uint8Array(1 + packed.length);
  out[0] = PAYLOAD_VECTOR;
  out.set(packed, 1);
  return out;
}

/** Inverse of encodeSharePayload; a vector must have exactly expectedLength elements. */
export function decodeSharePayload(bytes: Uint8Array, expectedLength: number): SharePayload {
  if (!Number.isSafeInteger(expectedLength) || expectedLength < 0) {
    throw new Error(`decodeSharePayload: expected a non-negative integer length, got ${expectedLength}`);
  }
  if (bytes.length === 0) throw new Error('decodeSharePayload: empty payload');
  const kind = bytes[0]!;
  if (kind === PAYLOAD_SEED) {
    if (bytes.length !== 1 + SEED_BYTES) throw new Error(`decodeSharePayload: expected ${1 + SEED_BYTES} bytes for a seed, got ${bytes.length}`);
    return { kind: 'seed', seed: Uint8Array.from(bytes.subarray(1)) }; // a copy, never a view of the plaintext
  }
  if (kind === PAYLOAD_VECTOR) {
    const expected = 1 + expectedLength * FIELD_BYTES;
    if (bytes.length !== expected) {
      throw new Error(`decodeSharePayload: expected ${expected} bytes for a vector of ${expectedLength} elements, got ${bytes.length}`);
    }
    return { kind: 'vector', values: unpackFieldVector(bytes.subarray(1), expectedLength) };
  }
  throw new Error(`decodeSharePayload: unknown payload kind 0x${kind.toString(16).padStart(2, '0')}`);
}

/** The share a payload stands for: a vector as is, a seed expanded (what a committee member adds up). */
export function sharePayloadValues(payload: SharePayload, length: number): Float64Array {
  if (payload.kind === 'seed') return expandSeed(payload.seed, length);
  if (payload.values.length !== length) throw new Error(`sharePayloadValues: expected ${length} values, got ${payload.values.length}`);
  return payload.values;
}
