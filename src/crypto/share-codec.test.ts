/**
 * Tests for the byte formats: field vectors round-trip through their 52-bit packing, the layout is pinned
 * against a BigInt reference, the earlier 7-byte layout still decodes, and every non-canonical input (an element ≥ p, a wrong length, an unknown payload tag) is
 * refused without echoing its value.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { COMPACT_FIELD, COMPACT_PRIME } from './compact-field.js';
import { FIELD_PRIME, seededRandomBytes } from './field.js';
import { expandSeed } from './shamir.js';
import {
  decodeSharePayload,
  encodeSharePayload,
  packedFieldBytes,
  packFieldVector,
  PAYLOAD_COMPACT_VECTOR,
  PAYLOAD_SEED,
  PAYLOAD_VECTOR,
  PAYLOAD_WIDE_VECTOR,
  sharePayloadSizes,
  sharePayloadValues,
  unpackFieldVector,
} from './share-codec.js';

const P = FIELD_PRIME;
const fieldVector = fc.array(fc.bigInt({ min: 0n, max: BigInt(P) - 1n }).map(Number), { maxLength: 40 }).map((v) => Float64Array.from(v));

/** Reference packing: Σ v_i·2^(52·i) as one little-endian integer of ⌈6.5·n⌉ bytes. */
function referencePack(v: Float64Array): Buffer {
  let x = 0n;
  for (let i = v.length - 1; i >= 0; i--) x = (x << 52n) | BigInt(v[i]!);
  const out = Buffer.alloc(Math.ceil((v.length * 52) / 8));
  for (let i = 0; i < out.length; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

/** The earlier layout, 7 bytes per element, for the read-compatibility tests. */
function widePack(v: Float64Array): Buffer {
  const out = Buffer.alloc(7 * v.length);
  v.forEach((x, i) => {
    out.writeUIntLE(x % 2 ** 48, 7 * i, 6);
    out[7 * i + 6] = Math.floor(x / 2 ** 48);
  });
  return out;
}

test('packFieldVector / unpackFieldVector round trip, 6.5 bytes per element, matching a BigInt reference', () => {
  fc.assert(
    fc.property(fieldVector, (v) => {
      const bytes = packFieldVector(v);
      assert.equal(bytes.length, packedFieldBytes(v.length));
      assert.equal(bytes.length, Math.ceil(6.5 * v.length));
      assert.deepEqual(Buffer.from(bytes), referencePack(v));
      assert.deepEqual(unpackFieldVector(bytes), v);
      assert.deepEqual(unpackFieldVector(bytes, v.length), v);
    }),
  );
});

test('the layout is 52 bits per element, little-endian, no header', () => {
  // 1, then 0x0102030405060 starting at bit 52 (its low nibble in the top of byte 6), then p − 1 at bit 104.
  assert.equal(
    Buffer.from(packFieldVector(Float64Array.of(1, 0x01_02_03_04_05_06, P - 1))).toString('hex'),
    '010000000000' + '60' + '504030201000' + 'd0ffffffffff0f',
  );
  assert.deepEqual(packFieldVector(new Float64Array(0)), new Uint8Array(0));
});

test('unpackFieldVector still reads the earlier 7-byte layout when the length says so', () => {
  fc.assert(
    fc.property(
      fieldVector.filter((v) => v.length > 1),
      (v) => assert.deepEqual(unpackFieldVector(new Uint8Array(widePack(v)), v.length), v),
    ),
  );
  assert.throws(() => unpackFieldVector(new Uint8Array(Buffer.concat([Buffer.alloc(7), Buffer.from('d1ffffffffff0f', 'hex')])), 2), /element 1 is not below the field prime/);
});

test('unpackFieldVector refuses elements ≥ p, padding bits and wrong lengths', () => {
  for (const value of [BigInt(P), 2n ** 52n - 1n]) {
    for (const at of [0, 1, 2]) {
      const v = [0n, 0n, 0n];
      v[at] = value;
      let x = 0n;
      for (let i = 2; i >= 0; i--) x = (x << 52n) | v[i]!;
      const bytes = new Uint8Array(20);
      for (let i = 0; i < 20; i++, x >>= 8n) bytes[i] = Number(x & 0xffn);
      assert.throws(() => unpackFieldVector(bytes), new RegExp(`unpackFieldVector: element ${at} is not below the field prime`));
    }
  }
  const padded = packFieldVector(Float64Array.of(5, 6, 7));
  padded[19]! |= 0x10;
  assert.throws(() => unpackFieldVector(padded, 3), /unpackFieldVector: the padding bits after element 2 are not zero/);
  assert.throws(() => unpackFieldVector(new Uint8Array(12)), /unpackFieldVector: 12 bytes is not a whole number of packed 52-bit elements/);
  assert.throws(() => unpackFieldVector(new Uint8Array(14), 3), /unpackFieldVector: expected 20 bytes for 3 elements, got 14/);
  assert.throws(() => unpackFieldVector(new Uint8Array(0), -1), /expected a non-negative integer length, got -1/);
});

test('packFieldVector refuses values that are not field elements, naming the index only', () => {
  for (const bad of [P, -1, 0.5, Number.NaN, 2 ** 53]) {
    assert.throws(() => packFieldVector(Float64Array.of(0, bad)), (error: Error) => /packFieldVector: element 1 is not a field element/.test(error.message) && !error.message.includes(String(bad)));
  }
});

test('share payloads: tagged seed or vector, round trip', () => {
  const seed = seededRandomBytes('payload')(32);
  const seedBytes = encodeSharePayload({ kind: 'seed', seed });
  assert.equal(seedBytes.length, 33);
  assert.equal(seedBytes[0], PAYLOAD_SEED);
  const decodedSeed = decodeSharePayload(seedBytes, 45);
  assert.deepEqual(decodedSeed, { kind: 'seed', seed });
  // The seed is a copy: wiping the plaintext afterwards leaves it intact.
  const plaintext = Buffer.from(seedBytes);
  const fromBuffer = decodeSharePayload(plaintext, 45);
  plaintext.fill(0);
  assert.deepEqual(fromBuffer, { kind: 'seed', seed });
  assert.deepEqual(sharePayloadValues(decodedSeed, 45), expandSeed(seed, 45));

  fc.assert(
    fc.property(fieldVector, (values) => {
      const bytes = encodeSharePayload({ kind: 'vector', values });
      assert.equal(bytes.length, 1 + packedFieldBytes(values.length));
      assert.equal(bytes[0], PAYLOAD_VECTOR);
      const decoded = decodeSharePayload(bytes, values.length);
      assert.deepEqual(decoded, { kind: 'vector', values });
      assert.deepEqual(sharePayloadValues(decoded, values.length), values);
    }),
  );
});

test('decodeSharePayload refuses empty, unknown, mis-sized and non-canonical payloads', () => {
  assert.throws(() => decodeSharePayload(new Uint8Array(0), 3), /decodeSharePayload: empty payload/);
  assert.throws(() => decodeSharePayload(Uint8Array.of(7, 1, 2), 3), /decodeSharePayload: unknown payload kind 0x07/);
  assert.throws(() => decodeSharePayload(new Uint8Array(32).fill(PAYLOAD_SEED, 0, 1), 3), /expected 33 bytes for a seed, got 32/);
  const vector = encodeSharePayload({ kind: 'vector', values: Float64Array.of(1, 2, 3) });
  assert.throws(() => decodeSharePayload(vector, 4), /expected 27 bytes for a vector of 4 elements, got 21/);
  assert.throws(() => decodeSharePayload(vector.subarray(0, 20), 3), /expected 21 bytes for a vector of 3 elements, got 20/);
  const nonCanonical = new Uint8Array(Buffer.concat([Buffer.of(PAYLOAD_VECTOR), referencePack(Float64Array.of(1, P, 3))])); // element 1 = p
  assert.throws(() => decodeSharePayload(nonCanonical, 3), /unpackFieldVector: element 1 is not below the field prime/);
  // The earlier tag decodes its own layout, and only at its own size.
  const wide = new Uint8Array(Buffer.concat([Buffer.of(PAYLOAD_WIDE_VECTOR), widePack(Float64Array.of(1, 2, 3))]));
  assert.deepEqual(decodeSharePayload(wide, 3), { kind: 'vector', values: Float64Array.of(1, 2, 3) });
  assert.throws(() => decodeSharePayload(wide.subarray(0, 21), 3), /expected 22 bytes for a vector of 3 elements, got 21/);
  assert.throws(() => encodeSharePayload({ kind: 'seed', seed: new Uint8Array(31) }), /expected a 32-byte seed, got 31 bytes/);
  assert.throws(() => sharePayloadValues({ kind: 'vector', values: new Float64Array(2) }, 3), /sharePayloadValues: expected 3 values, got 2/);
});

/** Reference packing at any width: Σ v_i·2^(bits·i) as one little-endian integer. */
function referencePackBits(v: Float64Array, bits: number): Buffer {
  let x = 0n;
  for (let i = v.length - 1; i >= 0; i--) x = (x << BigInt(bits)) | BigInt(v[i]!);
  const out = Buffer.alloc(Math.ceil((v.length * bits) / 8));
  for (let i = 0; i < out.length; i++, x >>= 8n) out[i] = Number(x & 0xffn);
  return out;
}

test('the compact field packs 37 bits per element in the same little-endian layout, and refuses what is not canonical', () => {
  const compactVector = fc.array(fc.bigInt({ min: 0n, max: BigInt(COMPACT_PRIME) - 1n }).map(Number), { maxLength: 40 }).map((v) => Float64Array.from(v));
  fc.assert(
    fc.property(compactVector, (v) => {
      const bytes = packFieldVector(v, COMPACT_FIELD);
      assert.equal(bytes.length, Math.ceil(4.625 * v.length));
      assert.equal(bytes.length, packedFieldBytes(v.length, COMPACT_FIELD));
      assert.deepEqual(Buffer.from(bytes), referencePackBits(v, 37));
      assert.deepEqual(unpackFieldVector(bytes, v.length, COMPACT_FIELD), v);
      assert.deepEqual(unpackFieldVector(bytes, undefined, COMPACT_FIELD), v);
    }),
  );
  assert.throws(() => packFieldVector(Float64Array.of(1, COMPACT_PRIME), COMPACT_FIELD), /packFieldVector: element 1 is not a field element/);
  assert.throws(() => unpackFieldVector(referencePackBits(Float64Array.of(3, COMPACT_PRIME), 37), 2, COMPACT_FIELD), /element 1 is not below the field prime/);
  const padded = Buffer.from(referencePackBits(Float64Array.of(3), 37));
  padded[4]! |= 0x80; // bit 39: padding after the one element
  assert.throws(() => unpackFieldVector(padded, 1, COMPACT_FIELD), /the padding bits after element 0 are not zero/);
  assert.throws(() => unpackFieldVector(new Uint8Array(6), 1, COMPACT_FIELD), /expected 5 bytes for 1 elements, got 6/);
});

test('a share payload names its field: a compact vector is not read as a wide one, nor the other way round', () => {
  const values = COMPACT_FIELD.randomVector(9, seededRandomBytes('compact payload'));
  const payload = encodeSharePayload({ kind: 'vector', values }, COMPACT_FIELD);
  assert.equal(payload[0], PAYLOAD_COMPACT_VECTOR);
  assert.equal(payload.length, 1 + packedFieldBytes(9, COMPACT_FIELD));
  assert.deepEqual(decodeSharePayload(payload, 9, COMPACT_FIELD), { kind: 'vector', values });
  assert.throws(() => decodeSharePayload(payload, 9), /a vector of the compact field, but this round's field is the wide one/);
  const wide = encodeSharePayload({ kind: 'vector', values });
  assert.throws(() => decodeSharePayload(wide, 9, COMPACT_FIELD), /a vector of the wide field, but this round's field is the compact one/);
  // A seed is the same in both fields; what it expands to is the field's.
  const seed = new Uint8Array(32).fill(7);
  const expanded = sharePayloadValues({ kind: 'seed', seed }, 9, COMPACT_FIELD);
  assert.deepEqual(expanded, expandSeed(seed, 9, COMPACT_FIELD));
  for (const x of expanded) assert.ok(COMPACT_FIELD.isElement(x));
  assert.deepEqual(sharePayloadSizes(9, COMPACT_FIELD), [33, 1 + 42]);
});
