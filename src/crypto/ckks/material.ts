/**
 * The public half of a key session: what the lender's client uploads once and the server stores and
 * hands to its evaluation workers. It holds no secret: the parameter description and SEAL's own
 * serialisation of the same parameters, the relinearisation key (quadratic models only) and the Galois
 * keys for exactly the rotation steps the layout uses (single layouts only); no public key, since the
 * server never encrypts. Keys are SEAL "serializable" (seeded) objects compressed with zstd.
 *
 * `encodeMaterial`/`decodeMaterial` give one binary body for HTTP and storage: the magic "FSHE", a
 * format byte, a length-prefixed JSON header describing the parts, then the parts. Decoding checks
 * everything that can be checked without SEAL and throws HeInputError with the reason.
 */

import { HeInputError } from './errors.js';
import type { HeModelShape } from './he-model.js';
import { isHeLayout, planLayout, type HeLayout } from './layout.js';
import { checkCkksParams, type CkksParams } from './params.js';

export interface HePublicMaterial {
  params: CkksParams;
  layout: HeLayout;
  shape: HeModelShape;
  /** Rotation steps the Galois keys cover (empty for batched). */
  galoisSteps: number[];
  /** SEAL EncryptionParameters as the client's SEAL built them (the server compares its own). */
  paramsBlob: Uint8Array;
  relinKeys?: Uint8Array;
  galoisKeys?: Uint8Array;
}

const MAGIC = [0x46, 0x53, 0x48, 0x45]; // "FSHE"
const FORMAT = 1;
/** Largest body accepted: N=16384 with every step of a 2048-slot period stays well below this. */
export const MAX_MATERIAL_BYTES = 96 * 2 ** 20;
const MAX_HEADER_BYTES = 4096;

type PartName = 'paramsBlob' | 'relinKeys' | 'galoisKeys';
const PART_ORDER: PartName[] = ['paramsBlob', 'relinKeys', 'galoisKeys'];

export function encodeMaterial(m: HePublicMaterial): Uint8Array {
  const parts: Partial<Record<PartName, number>> = {};
  const chunks: Uint8Array[] = [];
  for (const name of PART_ORDER) {
    const part = m[name];
    if (part === undefined) continue;
    parts[name] = part.byteLength;
    chunks.push(part);
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ params: m.params, layout: m.layout, shape: m.shape, galoisSteps: m.galoisSteps, parts }),
  );
  const out = new Uint8Array(9 + header.byteLength + chunks.reduce((a, c) => a + c.byteLength, 0));
  out.set(MAGIC, 0);
  out[4] = FORMAT;
  new DataView(out.buffer).setUint32(5, header.byteLength, true);
  out.set(header, 9);
  let offset = 9 + header.byteLength;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

const bad = (message: string): HeInputError => new HeInputError('bad-material', `decodeMaterial: ${message}`);

/** The framing and the JSON header, checked; the parts are not touched. */
function readHeader(bytes: Uint8Array): { h: Record<string, unknown>; headerLength: number } {
  if (!(bytes instanceof Uint8Array)) throw bad('expected bytes');
  if (bytes.byteLength > MAX_MATERIAL_BYTES) throw new HeInputError('too-large', `decodeMaterial: expected at most ${MAX_MATERIAL_BYTES} bytes, got ${bytes.byteLength}`);
  if (bytes.byteLength < 9 || MAGIC.some((b, k) => bytes[k] !== b)) throw bad('expected a key-session body starting with "FSHE"');
  if (bytes[4] !== FORMAT) throw bad(`expected format ${FORMAT}, got ${bytes[4]}`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(5, true);
  if (headerLength > MAX_HEADER_BYTES || 9 + headerLength > bytes.byteLength) throw bad(`header length ${headerLength} does not fit a ${bytes.byteLength}-byte body`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(9, 9 + headerLength)));
  } catch {
    throw bad('the header is not UTF-8 JSON');
  }
  if (header === null || typeof header !== 'object') throw bad('the header is not an object');
  return { h: header as Record<string, unknown>, headerLength };
}

/**
 * What stored material says about its session — parameters, layout, shape, rotation steps — without
 * copying its megabytes of keys: for material that decodeMaterial accepted when it was uploaded.
 */
export function decodeMaterialHeader(bytes: Uint8Array): Pick<HePublicMaterial, 'params' | 'layout' | 'shape' | 'galoisSteps'> {
  const { h } = readHeader(bytes);
  if (!isHeLayout(h.layout)) throw new HeInputError('bad-layout', `decodeMaterialHeader: layout expected single, single-masked or batched, got ${JSON.stringify(String(h.layout)).slice(0, 40)}`);
  return { params: h.params as CkksParams, layout: h.layout, shape: h.shape as HeModelShape, galoisSteps: h.galoisSteps as number[] };
}

export function decodeMaterial(bytes: Uint8Array): HePublicMaterial {
  const { h, headerLength } = readHeader(bytes);
  const parts = h.parts;
  if (parts === null || typeof parts !== 'object') throw bad('the header has no parts');
  let offset = 9 + headerLength;
  const out: Partial<Record<PartName, Uint8Array>> = {};
  for (const name of PART_ORDER) {
    const length = (parts as Record<string, unknown>)[name];
    if (length === undefined) continue;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || offset + length > bytes.byteLength) {
      throw bad(`part ${name} length ${String(length).slice(0, 20)} does not fit the body`);
    }
    out[name] = bytes.slice(offset, offset + length);
    offset += length;
  }
  if (offset !== bytes.byteLength) throw bad(`${bytes.byteLength - offset} trailing bytes after the parts`);
  if (out.paramsBlob === undefined) throw bad('missing part paramsBlob');
  const material: HePublicMaterial = {
    params: h.params as CkksParams,
    layout: h.layout as HeLayout,
    shape: h.shape as HeModelShape,
    galoisSteps: h.galoisSteps as number[],
    paramsBlob: out.paramsBlob,
    ...(out.relinKeys !== undefined ? { relinKeys: out.relinKeys } : {}),
    ...(out.galoisKeys !== undefined ? { galoisKeys: out.galoisKeys } : {}),
  };
  checkMaterial('decodeMaterial', material);
  return material;
}

/**
 * Structural checks of a material object (from decodeMaterial or built in process): parameters the
 * server accepts for this model shape and layout, and exactly the keys the layout needs.
 */
export function checkMaterial(fn: string, m: HePublicMaterial): void {
  const fail = (message: string): HeInputError => new HeInputError('bad-material', `${fn}: ${message}`);
  if (!isHeLayout(m.layout)) throw new HeInputError('bad-layout', `${fn}: layout expected single, single-masked or batched, got ${JSON.stringify(String(m.layout)).slice(0, 40)}`);
  const shape = m.shape as unknown;
  if (shape === null || typeof shape !== 'object') throw fail('shape expected an object');
  const s = shape as Record<string, unknown>;
  if ((s.kind !== 'linear' && s.kind !== 'quadratic') || !Number.isSafeInteger(s.inputSize) || !Number.isSafeInteger(s.units)) {
    throw fail('shape expected { kind: linear|quadratic, inputSize, units }');
  }
  const params = checkCkksParams(m.params);
  if (!params.ok) throw new HeInputError('bad-params', params.reason);
  const plan = planLayout(m.shape, params.params, m.layout);
  if ('refused' in plan) throw new HeInputError('bad-params', plan.refused);
  if (!Array.isArray(m.galoisSteps) || m.galoisSteps.length !== plan.galoisSteps.length || m.galoisSteps.some((v, k) => v !== plan.galoisSteps[k])) {
    throw fail(`galoisSteps expected [${plan.galoisSteps.join(', ')}] for this layout`);
  }
  if (!(m.paramsBlob instanceof Uint8Array) || m.paramsBlob.byteLength === 0) throw fail('paramsBlob expected bytes');
  if (plan.relin && !(m.relinKeys instanceof Uint8Array)) throw new HeInputError('missing-key', `${fn}: a quadratic model needs relinearisation keys`);
  if (!plan.relin && m.relinKeys !== undefined) throw fail('relinearisation keys were sent but this model does not use them');
  if (plan.galoisSteps.length > 0 && !(m.galoisKeys instanceof Uint8Array)) throw new HeInputError('missing-key', `${fn}: the ${m.layout} layout needs Galois keys`);
  if (plan.galoisSteps.length === 0 && m.galoisKeys !== undefined) throw fail('Galois keys were sent but the batched layout uses no rotations');
}
