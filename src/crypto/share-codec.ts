/**
 * Bytes at the edges of secure aggregation: field vectors bit-packed, 52 bits per element in the wide field
 * (two elements in 13 bytes) or 37 in the compact one, no header (the length is known from the round's
 * model), and the plaintext of one share envelope, tagged so that a seed and a vector — and a vector of
 * one field and of the other — cannot be confused. Decoders reject anything that is not
 * canonical (wrong length, an element ≥ p, non-zero padding bits, an unknown tag), so every vector that
 * reaches the committee's summing loop holds field elements. The earlier layout, 7 whole bytes per
 * element, is still read (payload tag 0x02, or a byte length of exactly 7 per element), so envelopes and
 * partial sums written before the packing changed still decode; nothing writes it any more.
 */
import { FIELD_BITS, FIELD_BYTES, FIELD_PRIME, isFieldElement, WIDE_FIELD, type PrimeField } from './field.js';
import { expandSeed, SEED_BYTES } from './shamir.js';

const TWO32 = 2 ** 32;

/** Bytes of n packed elements: ⌈bits·n / 8⌉, ⌈6.5·n⌉ in the wide field. */
export function packedFieldBytes(n: number, field: PrimeField = WIDE_FIELD): number {
  return Math.ceil((n * field.bits) / 8);
}

function writeUint32(out: Uint8Array, o: number, x: number): void {
  out[o] = x & 0xff;
  out[o + 1] = (x >>> 8) & 0xff;
  out[o + 2] = (x >>> 16) & 0xff;
  out[o + 3] = x >>> 24;
}

function readUint32(bytes: Uint8Array, o: number): number {
  return (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
}

/**
 * Little-endian bit packing: element i occupies bits 52·i … 52·i + 51 of the byte string read as one
 * little-endian integer. A pair (a, b) fills 13 bytes: a's 52 bits, then b's; an odd last element takes
 * 7 bytes whose top 4 bits are zero.
 */
export function packFieldVector(v: Float64Array, field: PrimeField = WIDE_FIELD): Uint8Array {
  if (field !== WIDE_FIELD) return packBits(v, field);
  const n = v.length;
  const out = new Uint8Array(packedFieldBytes(n));
  for (let i = 0, o = 0; i < n; i += 2, o += 13) {
    const a = v[i]!;
    if (!isFieldElement(a)) throw new Error(`packFieldVector: element ${i} is not a field element (an integer in [0, p))`);
    const aHi = Math.floor(a / TWO32); // < 2^20
    writeUint32(out, o, a - aHi * TWO32);
    out[o + 4] = aHi & 0xff;
    out[o + 5] = (aHi >>> 8) & 0xff;
    if (i + 1 === n) {
      out[o + 6] = aHi >>> 16;
      break;
    }
    const b = v[i + 1]!;
    if (!isFieldElement(b)) throw new Error(`packFieldVector: element ${i + 1} is not a field element (an integer in [0, p))`);
    const bRest = Math.floor(b / 16); // < 2^48
    const bLow = b - bRest * 16;
    const rHi = Math.floor(bRest / TWO32); // < 2^16
    out[o + 6] = (aHi >>> 16) | (bLow << 4);
    writeUint32(out, o + 7, bRest - rHi * TWO32);
    out[o + 11] = rHi & 0xff;
    out[o + 12] = rHi >>> 8;
  }
  return out;
}

/**
 * Inverse of packFieldVector. With `length`, the byte length must be packedFieldBytes(length), or exactly
 * 7·length (the earlier one-element-per-7-bytes layout); without it, a packed length. Throws on any other
 * length, an element ≥ p or non-zero padding bits, naming the index only.
 */
export function unpackFieldVector(bytes: Uint8Array, length?: number, field: PrimeField = WIDE_FIELD): Float64Array {
  if (field !== WIDE_FIELD) return unpackBits(bytes, length, field);
  let n: number;
  if (length !== undefined) {
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`unpackFieldVector: expected a non-negative integer length, got ${length}`);
    if (bytes.length === length * FIELD_BYTES && length > 1) return unpackWide(bytes, length); // one element: both layouts agree
    if (bytes.length !== packedFieldBytes(length)) {
      throw new Error(`unpackFieldVector: expected ${packedFieldBytes(length)} bytes for ${length} elements, got ${bytes.length}`);
    }
    n = length;
  } else {
    n = Math.floor((bytes.length * 8) / FIELD_BITS);
    if (packedFieldBytes(n) !== bytes.length) throw new Error(`unpackFieldVector: ${bytes.length} bytes is not a whole number of packed 52-bit elements`);
  }
  const out = new Float64Array(n);
  for (let i = 0, o = 0; i < n; i += 2, o += 13) {
    const aHi = bytes[o + 4]! | (bytes[o + 5]! << 8) | ((bytes[o + 6]! & 0x0f) << 16);
    const a = aHi * TWO32 + readUint32(bytes, o);
    if (a >= FIELD_PRIME) throw new Error(`unpackFieldVector: element ${i} is not below the field prime`);
    out[i] = a;
    if (i + 1 === n) {
      if (bytes[o + 6]! >>> 4 !== 0) throw new Error(`unpackFieldVector: the padding bits after element ${i} are not zero`);
      break;
    }
    const rHi = bytes[o + 11]! | (bytes[o + 12]! << 8);
    const b = (rHi * TWO32 + readUint32(bytes, o + 7)) * 16 + (bytes[o + 6]! >>> 4); // < 2^52: exact
    if (b >= FIELD_PRIME) throw new Error(`unpackFieldVector: element ${i + 1} is not below the field prime`);
    out[i + 1] = b;
  }
  return out;
}

/** The earlier layout: each element a 7-byte little-endian integer. Read only. */
function unpackWide(bytes: Uint8Array, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0, o = 0; i < n; i++, o += FIELD_BYTES) {
    const hi = bytes[o + 4]! | (bytes[o + 5]! << 8) | (bytes[o + 6]! << 16);
    const x = hi * TWO32 + readUint32(bytes, o); // < 2^56: exact
    if (x >= FIELD_PRIME) throw new Error(`unpackFieldVector: element ${i} is not below the field prime`);
    out[i] = x;
  }
  return out;
}

/**
 * The same little-endian layout for a field narrower than 46 bits (the compact field's 37): element i
 * occupies bits bits·i … bits·i + bits − 1, the last byte's unused high bits zero. Shifted into place an
 * element spans at most bits + 7 < 53 bits, so it moves as one exact float64 through six bytes.
 */
function packBits(v: Float64Array, field: PrimeField): Uint8Array {
  const length = packedFieldBytes(v.length, field);
  const out = new Uint8Array(length + 8); // slack for the last element's six-byte write
  const bits = field.bits;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!field.isElement(x)) throw new Error(`packFieldVector: element ${i} is not a field element (an integer in [0, p))`);
    const position = i * bits;
    const o = Math.floor(position / 8);
    const value = x * 2 ** (position - o * 8);
    const low = value >>> 0; // ToUint32 is value mod 2^32, exact
    const high = (value - low) / TWO32;
    out[o] = out[o]! | (low & 0xff); // the first byte may hold the previous element's last bits
    out[o + 1] = (low >>> 8) & 0xff;
    out[o + 2] = (low >>> 16) & 0xff;
    out[o + 3] = low >>> 24;
    out[o + 4] = high & 0xff;
    out[o + 5] = high >>> 8;
  }
  return out.slice(0, length);
}

function unpackBits(bytes: Uint8Array, length: number | undefined, field: PrimeField): Float64Array {
  const bits = field.bits;
  let n: number;
  if (length !== undefined) {
    if (!Number.isSafeInteger(length) || length < 0) throw new Error(`unpackFieldVector: expected a non-negative integer length, got ${length}`);
    if (bytes.length !== packedFieldBytes(length, field)) {
      throw new Error(`unpackFieldVector: expected ${packedFieldBytes(length, field)} bytes for ${length} elements, got ${bytes.length}`);
    }
    n = length;
  } else {
    n = Math.floor((bytes.length * 8) / bits);
    if (packedFieldBytes(n, field) !== bytes.length) throw new Error(`unpackFieldVector: ${bytes.length} bytes is not a whole number of packed ${bits}-bit elements`);
  }
  const padded = new Uint8Array(bytes.length + 8);
  padded.set(bytes);
  const out = new Float64Array(n);
  const mask = 2 ** bits;
  for (let i = 0; i < n; i++) {
    const position = i * bits;
    const o = Math.floor(position / 8);
    const low = (padded[o]! | (padded[o + 1]! << 8) | (padded[o + 2]! << 16) | (padded[o + 3]! << 24)) >>> 0;
    const value = (padded[o + 4]! | (padded[o + 5]! << 8)) * TWO32 + low;
    const x = Math.floor(value / 2 ** (position - o * 8)) % mask;
    if (x >= field.prime) throw new Error(`unpackFieldVector: element ${i} is not below the field prime`);
    out[i] = x;
  }
  const used = n * bits - (bytes.length - 1) * 8; // bits of the last byte that belong to an element
  if (n > 0 && used < 8 && bytes[bytes.length - 1]! >>> used !== 0) throw new Error(`unpackFieldVector: the padding bits after element ${n - 1} are not zero`);
  return out;
}

export type SharePayload = { kind: 'seed'; seed: Uint8Array } | { kind: 'vector'; values: Float64Array };

/**
 * Payload tags: the first plaintext byte of a share envelope. A vector's tag names its field, so a share
 * can never be read in the other one; 0x02 is the earlier 7-bytes-per-element vector, read only.
 */
export const PAYLOAD_SEED = 0x01;
export const PAYLOAD_WIDE_VECTOR = 0x02;
export const PAYLOAD_VECTOR = 0x03;
export const PAYLOAD_COMPACT_VECTOR = 0x04;

const vectorTag = (field: PrimeField) => (field === WIDE_FIELD ? PAYLOAD_VECTOR : PAYLOAD_COMPACT_VECTOR);

/** [0x01][32-byte seed], or [0x03 wide | 0x04 compact][packed vector]. */
export function encodeSharePayload(payload: SharePayload, field: PrimeField = WIDE_FIELD): Uint8Array {
  if (payload.kind === 'seed') {
    if (payload.seed.length !== SEED_BYTES) throw new Error(`encodeSharePayload: expected a ${SEED_BYTES}-byte seed, got ${payload.seed.length} bytes`);
    const out = new Uint8Array(1 + SEED_BYTES);
    out[0] = PAYLOAD_SEED;
    out.set(payload.seed, 1);
    return out;
  }
  if (payload.kind !== 'vector') throw new Error(`encodeSharePayload: unknown payload kind ${String((payload as { kind: unknown }).kind)}`);
  const packed = packFieldVector(payload.values, field);
  const out = new Uint8Array(1 + packed.length);
  out[0] = vectorTag(field);
  out.set(packed, 1);
  return out;
}

/** Every plaintext size a share payload can have for vectors of `length` elements: a seed, a packed vector, (wide field) an earlier 7-byte vector. */
export function sharePayloadSizes(length: number, field: PrimeField = WIDE_FIELD): number[] {
  return field === WIDE_FIELD ? [1 + SEED_BYTES, 1 + packedFieldBytes(length), 1 + length * FIELD_BYTES] : [1 + SEED_BYTES, 1 + packedFieldBytes(length, field)];
}

/** Inverse of encodeSharePayload; a vector must be of `field` and have exactly expectedLength elements. */
export function decodeSharePayload(bytes: Uint8Array, expectedLength: number, field: PrimeField = WIDE_FIELD): SharePayload {
  if (!Number.isSafeInteger(expectedLength) || expectedLength < 0) {
    throw new Error(`decodeSharePayload: expected a non-negative integer length, got ${expectedLength}`);
  }
  if (bytes.length === 0) throw new Error('decodeSharePayload: empty payload');
  const kind = bytes[0]!;
  if (kind === PAYLOAD_SEED) {
    if (bytes.length !== 1 + SEED_BYTES) throw new Error(`decodeSharePayload: expected ${1 + SEED_BYTES} bytes for a seed, got ${bytes.length}`);
    return { kind: 'seed', seed: Uint8Array.from(bytes.subarray(1)) }; // a copy, never a view of the plaintext
  }
  const wideLegacy = kind === PAYLOAD_WIDE_VECTOR && field === WIDE_FIELD;
  if (kind === vectorTag(field) || wideLegacy) {
    const expected = 1 + (wideLegacy ? expectedLength * FIELD_BYTES : packedFieldBytes(expectedLength, field));
    if (bytes.length !== expected) {
      throw new Error(`decodeSharePayload: expected ${expected} bytes for a vector of ${expectedLength} elements, got ${bytes.length}`);
    }
    return { kind: 'vector', values: unpackFieldVector(bytes.subarray(1), expectedLength, field) };
  }
  if (kind === PAYLOAD_VECTOR || kind === PAYLOAD_WIDE_VECTOR || kind === PAYLOAD_COMPACT_VECTOR) {
    throw new Error(`decodeSharePayload: a vector of the ${field === WIDE_FIELD ? 'compact' : 'wide'} field, but this round's field is the ${field === WIDE_FIELD ? 'wide' : 'compact'} one`);
  }
  throw new Error(`decodeSharePayload: unknown payload kind 0x${kind.toString(16).padStart(2, '0')}`);
}

/** The share a payload stands for: a vector as is, a seed expanded (what a committee member adds up). */
export function sharePayloadValues(payload: SharePayload, length: number, field: PrimeField = WIDE_FIELD): Float64Array {
  if (payload.kind === 'seed') return expandSeed(payload.seed, length, field);
  if (payload.values.length !== length) throw new Error(`sharePayloadValues: expected ${length} values, got ${payload.values.length}`);
  return payload.values;
}
