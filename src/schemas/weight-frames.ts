/**
 * The binary forms of plain-mode weights (application/octet-stream), shared by the server and the client
 * SDK; JSON stays for curl and Swagger UI. A weight vector of n parameters as JSON text is about 20n bytes
 * to write and parse; as float32 it is 4n bytes copied once — what a round of thousands of owners spends
 * its server time on.
 *
 *   model weights   (GET …/models/{v}/weights, Accept: application/octet-stream)
 *                   n × float32 LE, in the model layout's order; the version in the Fedscore-Model-Version header
 *   plain update    (POST …/rounds/{n}/updates, Content-Type: application/octet-stream), 32-byte header:
 *                   0   4  magic "FSU1"
 *                   4   4  u32 LE numSamples
 *                   8   4  u32 LE flags: bit 0 loss present, bit 1 accuracy present; other bits 0
 *                   12  8  f64 LE loss (0 when absent)
 *                   20  8  f64 LE accuracy (0 when absent)
 *                   28  4  u32 LE n, the number of weights
 *                   32  4n float32 LE weights
 *
 * Decoding checks the framing only (sizes, magic, flags); whether n fits the model, the weights are finite
 * and the metrics in range is the same check as for JSON, made by the caller.
 */

import { octetStream } from './octet-stream.schema.js';

export const UPDATE_MAGIC = 'FSU1';
export const UPDATE_HEADER_BYTES = 32;
/** The response header naming the version a binary weights download carries. */
export const MODEL_VERSION_HEADER = 'fedscore-model-version';

/** On little-endian hosts (all the usual ones) float32 arrays are copied whole instead of value by value. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const LOSS_PRESENT = 1;
const ACCURACY_PRESENT = 2;

export interface UpdateFrame {
  weights: Float32Array;
  numSamples: number;
  metrics: { loss?: number; accuracy?: number };
}

/** Float32 little-endian, whatever the host's byte order. */
export function encodeWeights(weights: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(weights.length * 4);
  writeFloat32(out, 0, weights);
  return out;
}

/** Throws a message naming what is wrong with the length (never a value). */
export function decodeWeights(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`decodeWeights: expected a multiple of 4 bytes (float32), got ${bytes.byteLength}`);
  return readFloat32(bytes, 0, bytes.byteLength / 4);
}

export function encodeUpdate(update: { weights: ArrayLike<number>; numSamples: number; metrics?: { loss?: number; accuracy?: number } }): Uint8Array {
  const { weights, numSamples, metrics = {} } = update;
  if (!(Number.isInteger(numSamples) && numSamples >= 0 && numSamples <= 0xffffffff)) throw new Error(`encodeUpdate: expected numSamples a u32, got ${numSamples}`);
  const out = new Uint8Array(UPDATE_HEADER_BYTES + weights.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = UPDATE_MAGIC.charCodeAt(i);
  view.setUint32(4, numSamples, true);
  view.setUint32(8, (metrics.loss !== undefined ? LOSS_PRESENT : 0) | (metrics.accuracy !== undefined ? ACCURACY_PRESENT : 0), true);
  view.setFloat64(12, metrics.loss ?? 0, true);
  view.setFloat64(20, metrics.accuracy ?? 0, true);
  view.setUint32(28, weights.length, true);
  writeFloat32(out, UPDATE_HEADER_BYTES, weights);
  return out;
}

/** Throws a message naming what is wrong with the framing (sizes and flags, never a weight). */
export function decodeUpdate(bytes: Uint8Array): UpdateFrame {
  if (bytes.byteLength < UPDATE_HEADER_BYTES) throw new Error(`decodeUpdate: expected a ${UPDATE_HEADER_BYTES}-byte header, got ${bytes.byteLength} bytes`);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== UPDATE_MAGIC) throw new Error(`decodeUpdate: expected the magic ${JSON.stringify(UPDATE_MAGIC)}, got ${JSON.stringify(magic.replace(/[^\x20-\x7e]/g, '?'))}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = view.getUint32(8, true);
  if ((flags & ~(LOSS_PRESENT | ACCURACY_PRESENT)) !== 0) throw new Error(`decodeUpdate: expected flags 0 to 3, got ${flags}`);
  const count = view.getUint32(28, true);
  const expected = UPDATE_HEADER_BYTES + count * 4;
  if (bytes.byteLength < expected) throw new Error(`decodeUpdate: the header announces ${count} weights (${expected} bytes), the body ends at ${bytes.byteLength}`);
  if (bytes.byteLength > expected) throw new Error(`decodeUpdate: ${bytes.byteLength - expected} trailing bytes after ${count} weights`);
  const metrics: UpdateFrame['metrics'] = {};
  if (flags & LOSS_PRESENT) metrics.loss = view.getFloat64(12, true);
  if (flags & ACCURACY_PRESENT) metrics.accuracy = view.getFloat64(20, true);
  return { weights: readFloat32(bytes, UPDATE_HEADER_BYTES, count), numSamples: view.getUint32(4, true), metrics };
}

function writeFloat32(out: Uint8Array, offset: number, values: ArrayLike<number>): void {
  if (HOST_LITTLE_ENDIAN) {
    out.set(new Uint8Array(Float32Array.from(values).buffer), offset);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, values.length * 4);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
}

function readFloat32(bytes: Uint8Array, offset: number, count: number): Float32Array {
  // slice copies, so the result is aligned and owns its memory whatever buffer the body came in.
  if (HOST_LITTLE_ENDIAN) return new Float32Array(bytes.slice(offset, offset + count * 4).buffer);
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * 4);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/**
 * A binary body or answer as the OpenAPI document shows it. The route receives a Buffer (the
 * application/octet-stream parser reads the body whole), so the check here is only that it is one.
 */


export const modelWeightsOctetsSchema = octetStream(
  'The weights as little-endian float32, 4 bytes each, in the order of the JSON form’s `layout`; the version is in the Fedscore-Model-Version header',
);

export const updateOctetsSchema = octetStream(
  'A 32-byte header — the magic "FSU1", u32 numSamples, u32 flags (bit 0: loss present, bit 1: accuracy present), f64 loss, f64 accuracy ' +
    '(0 when absent), u32 n — then n little-endian float32 weights; every integer and float little-endian, nothing after the weights',
);
