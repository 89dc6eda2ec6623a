/**
 * Tests for the byte formats: field vectors round-trip through their fixed-width encoding, the layout
 * is pinned, and every non-canonical input (an element ≥ p, a wrong length, an unknown payload tag) is
 * refused without echoing its value.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FIELD_PRIME, seededRandomBytes } from './field.js';
import { expandSeed } from './shamir.js';
import {
  decodeSharePayload,
  encodeSharePayload,
  packFieldVector,
  PAYLOAD_SEED,
  PAYLOAD_VECTOR,
  sharePayloadValues,
  unpackFieldVector,
} from './share-codec.js';

const P = FIELD_PRIME;
const fieldVector = fc.array(fc.bigInt({ min: 0n, max: BigInt(P) - 1n }).map(Number), { maxLength: 40 }).map((v) => Float64Array.from(v));

test('packFieldVector / unpackFieldVector round trip', () => {
  fc.assert(
    fc.property(fieldVector, (v) => {
      const bytes = packFieldVector(v);
      assert.equal(bytes.length, 7 * v.length);
      assert.deepEqual(unpackFieldVector(bytes), v);
      assert.deepEqual(unpackFieldVector(bytes, v.length), v);
    }),
  );
});

test('the layout is 7 bytes per element, little-endian, no header', () => {
  assert.equal(Buffer.from(packFieldVector(Float64Array.of(1, 0x01_02_03_04_05_06, P - 1))).toString('hex'), '01000000000000' + '06050403020100' + 'd0ffffffffff0f');
  assert.deepEqual(packFieldVector(new Float64Array(0)), new Uint8Array(0));
});

test('unpackFieldVector refuses elements ≥ p and wrong lengths', () => {
  for (const hex of ['d1ffffffffff0f' /* p */, 'ffffffffffff0f' /* 2^52 − 1 */, '00000000000010' /* 2^52 */, 'ffffffffffffff']) {
    const bytes = Buffer.concat([Buffer.alloc(7), Buffer.from(hex, 'hex')]);
    assert.throws(() => unpackFieldVector(bytes), /unpackFieldVector: element 1 is not below the field prime/);
  }
  assert.throws(() => unpackFieldVector(new Uint8Array(13)), /unpackFieldVector: expected a multiple of 7 bytes, got 13/);
  assert.throws(() => unpackFieldVector(new Uint8Array(14), 3), /unpackFieldVector: expected 21 bytes for 3 elements, got 14/);
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
      assert.equal(bytes.length, 1 + 7 * values.length);
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
  assert.throws(() => decodeSharePayload(vector, 4), /expected 29 bytes for a vector of 4 elements, got 22/);
  assert.throws(() => decodeSharePayload(vector.subarray(0, 21), 3), /expected 22 bytes for a vector of 3 elements, got 21/);
  const nonCanonical = Uint8Array.from(vector);
  nonCanonical.set([0xd1, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f], 1 + 7); // element 1 = p
  assert.throws(() => decodeSharePayload(nonCanonical, 3), /unpackFieldVector: element 1 is not below the field prime/);
  assert.throws(() => encodeSharePayload({ kind: 'seed', seed: new Uint8Array(31) }), /expected a 32-byte seed, got 31 bytes/);
  assert.throws(() => sharePayloadValues({ kind: 'vector', values: new Float64Array(2) }, 3), /sharePayloadValues: expected 3 values, got 2/);
});
