/** The binary weight forms: known bytes (little-endian on any host), round trips, and every framing refusal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeUpdate, decodeWeights, encodeUpdate, encodeWeights, UPDATE_HEADER_BYTES } from './weight-frames.js';

describe('weight frames', () => {
  it('writes float32 little-endian: known bytes', () => {
    assert.deepEqual(Array.from(encodeWeights([1, -2])), [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    const update = encodeUpdate({ weights: [1], numSamples: 258, metrics: { accuracy: 0.5 } });
    assert.equal(update.length, UPDATE_HEADER_BYTES + 4);
    assert.deepEqual(Array.from(update.subarray(0, 12)), [0x46, 0x53, 0x55, 0x31, 0x02, 0x01, 0, 0, 0x02, 0, 0, 0]);
    assert.deepEqual(Array.from(update.subarray(20, 32)), [0, 0, 0, 0, 0, 0, 0xe0, 0x3f, 1, 0, 0, 0]);
  });

  it('round-trips weights, samples and only the metrics given', () => {
    const weights = Float32Array.from([0.1, -3.5e-7, 12345.678, 0]);
    assert.deepEqual(decodeWeights(encodeWeights(weights)), weights);
    const decoded = decodeUpdate(encodeUpdate({ weights, numSamples: 7, metrics: { loss: 0.25 } }));
    assert.deepEqual([decoded.weights, decoded.numSamples, decoded.metrics], [weights, 7, { loss: 0.25 }]);
    // A body inside a larger, unaligned buffer decodes the same.
    const shifted = new Uint8Array(UPDATE_HEADER_BYTES + 17);
    shifted.set(encodeUpdate({ weights: [2], numSamples: 1 }), 1);
    assert.deepEqual(Array.from(decodeUpdate(shifted.subarray(1, UPDATE_HEADER_BYTES + 5)).weights), [2]);
  });

  it('refuses broken framing, naming what is wrong', () => {
    const good = encodeUpdate({ weights: [1, 2], numSamples: 1 });
    assert.throws(() => decodeWeights(new Uint8Array(6)), /multiple of 4 bytes/);
    assert.throws(() => decodeUpdate(good.subarray(0, 31)), /32-byte header, got 31/);
    assert.throws(() => decodeUpdate(Uint8Array.from([0x58, ...good.subarray(1)])), /magic/);
    assert.throws(() => decodeUpdate(good.subarray(0, good.length - 1)), /announces 2 weights/);
    assert.throws(() => decodeUpdate(Uint8Array.from([...good, 0])), /1 trailing bytes after 2 weights/);
    const flagged = good.slice();
    flagged[8] = 8;
    assert.throws(() => decodeUpdate(flagged), /flags 0 to 3, got 8/);
  });
});
