/**
 * SEAL's binary formats, checked in JavaScript before SEAL ever parses untrusted bytes.
 *
 * Why: in this wasm build, a SEAL loader that reads past the end of its input (a truncated
 * ciphertext, or a header whose sizes lie) does not throw a C++ exception but traps ("Aborted()").
 * The trap unwinds without restoring wasm's stack pointer, so each one leaks stack, and after a few
 * dozen the instance corrupts memory ("memory access out of bounds" on unrelated calls; measured
 * here). SEAL's own checks (parms_id, coefficient ranges) throw normally and are kept; what this file
 * adds is that every length, count and nested header is consistent with the bytes actually present,
 * so SEAL's reads always stay in bounds.
 *
 * That is only possible when the bytes can be read: SEAL's zstd frames cannot be decompressed in
 * Node 20's JavaScript, so the wire form is SEAL's own zlib framing (SEAL header with compr_mode
 * zlib, then a zlib stream), produced and inflated with node:zlib and handed to SEAL uncompressed.
 * Stock SEAL loads the same bytes. zlib level 1 costs ~10% more bytes than zstd.
 *
 * Layouts (SEAL 4.1, little-endian; every nested object repeats the 16-byte header):
 *   header      u16 magic 0xA15E · u8 header size 16 · u8 major · u8 minor · u8 compr_mode · u16 0 · u64 total size
 *   Ciphertext  parms_id[4×u64] · u8 is_ntt · u64 size · u64 N · u64 primes · f64 scale · u64 correction
 *               · DynArray(header · u64 count · count×u64) · [seeded: PRNG info(header · u8 type · 8×u64 seed)]
 *   KSwitchKeys parms_id · u64 dim1 · dim1 × (u64 dim2 · dim2 × (header · Ciphertext))
 *   SecretKey   parms_id (key level) · u64 coeff_count · f64 scale · DynArray
 *   EncryptionParameters  u8 scheme · u64 N · u64 count · count × Modulus(header · u64) · Modulus(plain)
 */

import zlib from 'node:zlib';
import { HeInputError, type HeInputCode } from './errors.js';

export const HEADER_BYTES = 16;
const MAGIC = 0xa15e;
export const COMPR_NONE = 0;
export const COMPR_ZLIB = 1;
const COMPR_ZSTD = 2;
/** SEAL 4.1, the version node-seal 6.0.3 embeds; a mismatch is refused rather than half-parsed. */
export const SEAL_VERSION = { major: 4, minor: 1 };
const CKKS_SCHEME = 2;
const PRNG_INFO_BYTES = HEADER_BYTES + 1 + 64;
const CIPHERTEXT_FIXED = 32 + 1 + 8 + 8 + 8 + 8 + 8;

class Reader {
  constructor(
    readonly view: DataView,
    public pos: number,
    readonly end: number,
    readonly fail: (why: string) => HeInputError,
  ) {}

  need(bytes: number, what: string): void {
    if (this.pos + bytes > this.end) throw this.fail(`is truncated: ${what} needs ${bytes} bytes, ${Math.max(0, this.end - this.pos)} remain`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit a JS number below `max` (counts and sizes). */
  count(what: string, max: number): number {
    const v = this.u64(what);
    if (v > BigInt(max)) throw this.fail(`declares ${what} ${v > 2n ** 53n ? 'beyond 2^53' : v}, at most ${max} expected`);
    return Number(v);
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  parmsId(what: string): BigUint64Array {
    const out = new BigUint64Array(4);
    for (let k = 0; k < 4; k++) out[k] = this.u64(what);
    return out;
  }
  /** A nested SEAL header; returns the end offset of the object it introduces. */
  header(what: string, comprAllowed: number[] = [COMPR_NONE]): { end: number; compr: number } {
    this.need(HEADER_BYTES, `${what} header`);
    const v = this.view;
    const at = this.pos;
    if (v.getUint16(at, true) !== MAGIC || v.getUint8(at + 2) !== HEADER_BYTES) throw this.fail(`${what}: expected a SEAL header`);
    if (v.getUint8(at + 3) !== SEAL_VERSION.major || v.getUint8(at + 4) !== SEAL_VERSION.minor) {
      throw this.fail(`${what}: expected SEAL ${SEAL_VERSION.major}.${SEAL_VERSION.minor} serialisation, got ${v.getUint8(at + 3)}.${v.getUint8(at + 4)}`);
    }
    const compr = v.getUint8(at + 5);
    if (!comprAllowed.includes(compr)) {
      const name = compr === COMPR_ZSTD ? 'zstd' : compr === COMPR_ZLIB ? 'zlib' : `mode ${compr}`;
      throw this.fail(`${what}: ${name} compression is not accepted here (send zlib or none: zstd cannot be checked before SEAL parses it)`);
    }
    if (v.getUint16(at + 6, true) !== 0) throw this.fail(`${what}: reserved header bytes must be zero`);
    const size = v.getBigUint64(at + 8, true);
    if (size < BigInt(HEADER_BYTES) || size > BigInt(this.end - at)) {
      throw this.fail(`is truncated or mis-sized: ${what} declares ${size > 2n ** 53n ? 'more than 2^53' : size} bytes, ${this.end - at} remain`);
    }
    this.pos += HEADER_BYTES;
    return { end: at + Number(size), compr };
  }
  done(end: number, what: string): void {
    if (this.pos < end) throw this.fail(`${what}: ${end - this.pos} bytes left over inside the object`);
    if (this.pos > end) throw this.fail(`${what}: overruns its declared size by ${this.pos - end} bytes`);
  }
}

const sameId = (a: BigUint64Array, b: BigUint64Array): boolean => a.length === b.length && a.every((v, k) => v === b[k]);

export interface CiphertextShape {
  /** Allowed parms_ids (levels), each with its prime count. */
  levels: { parmsId: BigUint64Array; primes: number }[];
  polyModulusDegree: number;
  /** Ciphertext size (2 for fresh or relinearised ciphertexts). */
  size: number;
  /** Exact scale required, or undefined for any positive finite scale. */
  scale?: number;
  seeded: 'required' | 'forbidden' | 'allowed';
}

function readCiphertext(r: Reader, shape: CiphertextShape, what: string): void {
  r.need(CIPHERTEXT_FIXED, `${what} metadata`);
  const id = r.parmsId(`${what} parms_id`);
  const level = shape.levels.find((l) => sameId(l.parmsId, id));
  if (level === undefined) throw r.fail(`${what}: belongs to other parameters or another level (parms_id mismatch)`);
  if (r.u8('is_ntt_form') !== 1) throw r.fail(`${what}: expected NTT form`);
  const size = r.count('size', 16);
  if (size !== shape.size) throw r.fail(`${what}: expected ciphertext size ${shape.size}, got ${size}`);
  const n = r.count('poly_modulus_degree', 1 << 17);
  if (n !== shape.polyModulusDegree) throw r.fail(`${what}: expected N=${shape.polyModulusDegree}, got ${n}`);
  const primes = r.count('coeff_modulus_size', 64);
  if (primes !== level.primes) throw r.fail(`${what}: expected ${level.primes} primes at this level, got ${primes}`);
  const scale = r.f64('scale');
  if (shape.scale !== undefined ? scale !== shape.scale : !(Number.isFinite(scale) && scale > 0)) {
    throw r.fail(`${what}: expected scale ${shape.scale === undefined ? '> 0' : `2^${Math.log2(shape.scale)}`}, got ${Number.isFinite(scale) && scale > 0 ? `2^${Math.log2(scale).toFixed(2)}` : String(scale)}`);
  }
  if (r.u64('correction_factor') !== 1n) throw r.fail(`${what}: expected correction factor 1`);
  const array = r.header(`${what} data`);
  const full = size * n * primes;
  const count = r.count('data count', full);
  const seeded = count === n * primes;
  if (!seeded && count !== full) throw r.fail(`${what}: data count ${count} is neither ${n * primes} (seeded) nor ${full}`);
  if (seeded && size !== 2) throw r.fail(`${what}: only size-2 ciphertexts can be seeded`);
  if (shape.seeded === 'required' && !seeded) throw r.fail(`${what}: expected a seeded (symmetric, serializable) encryption`);
  if (shape.seeded === 'forbidden' && seeded) throw r.fail(`${what}: did not expect a seeded ciphertext`);
  r.need(count * 8, `${what} data`);
  r.pos += count * 8;
  r.done(array.end, `${what} data`);
  if (seeded) {
    const info = r.header(`${what} seed`);
    r.need(PRNG_INFO_BYTES - HEADER_BYTES, `${what} seed`);
    const type = r.u8('prng type');
    // SEAL's prng_type: 1 blake2xb, 2 shake256.
    if (type !== 1 && type !== 2) throw r.fail(`${what}: unknown PRNG type ${type}`);
    r.pos += 64;
    r.done(info.end, `${what} seed`);
  }
}

function failer(code: HeInputCode, prefix: string): (why: string) => HeInputError {
  return (why) => new HeInputError(code, `${prefix} ${why}`);
}

/**
 * Unwraps the wire form (SEAL header + zlib stream, or uncompressed) into the uncompressed SEAL bytes,
 * refusing anything larger than `maxBytes` once inflated.
 */
export function unwrap(bytes: Uint8Array, maxBytes: number, fail: (why: string) => HeInputError): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < HEADER_BYTES) throw fail('is not SEAL bytes (shorter than a header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const r = new Reader(view, 0, bytes.byteLength, fail);
  const outer = r.header('object', [COMPR_NONE, COMPR_ZLIB]);
  if (outer.end !== bytes.byteLength) throw fail(`declares ${outer.end} bytes but ${bytes.byteLength} were sent`);
  if (outer.compr === COMPR_NONE) {
    if (bytes.byteLength > maxBytes) throw fail(`has ${bytes.byteLength} bytes, at most ${maxBytes} expected`);
    return bytes;
  }
  let body: Buffer;
  try {
    body = zlib.inflateSync(bytes.subarray(HEADER_BYTES), { maxOutputLength: maxBytes - HEADER_BYTES });
  } catch (err) {
    const tooBig = err instanceof RangeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
    throw fail(tooBig ? `inflates beyond ${maxBytes} bytes` : 'is not a valid zlib stream (truncated or corrupted)');
  }
  const out = new Uint8Array(HEADER_BYTES + body.byteLength);
  out.set(bytes.subarray(0, HEADER_BYTES));
  const v = new DataView(out.buffer);
  v.setUint8(5, COMPR_NONE);
  v.setBigUint64(8, BigInt(out.byteLength), true);
  out.set(body, HEADER_BYTES);
  return out;
}

/** SEAL bytes (uncompressed) to the wire form: same header with compr_mode zlib, then zlib(body). */
export function wrap(sealBytes: Uint8Array): Uint8Array {
  const body = zlib.deflateSync(sealBytes.subarray(HEADER_BYTES), { level: 1 });
  const out = new Uint8Array(HEADER_BYTES + body.byteLength);
  out.set(sealBytes.subarray(0, HEADER_BYTES));
  const v = new DataView(out.buffer);
  v.setUint8(5, COMPR_ZLIB);
  v.setBigUint64(8, BigInt(out.byteLength), true);
  out.set(body, HEADER_BYTES);
  return out;
}

function topReader(sealBytes: Uint8Array, fail: (why: string) => HeInputError): Reader {
  const view = new DataView(sealBytes.buffer, sealBytes.byteOffset, sealBytes.byteLength);
  const r = new Reader(view, 0, sealBytes.byteLength, fail);
  const outer = r.header('object');
  if (outer.end !== sealBytes.byteLength) throw fail(`declares ${outer.end} bytes but holds ${sealBytes.byteLength}`);
  return r;
}

/** Checks uncompressed ciphertext bytes against `shape`; throws HeInputError(code) naming the problem. */
export function checkCiphertext(sealBytes: Uint8Array, shape: CiphertextShape, code: HeInputCode, prefix: string): void {
  const fail = failer(code, prefix);
  const r = topReader(sealBytes, fail);
  readCiphertext(r, shape, 'ciphertext');
  r.done(sealBytes.byteLength, 'ciphertext');
}

export interface KeysShape {
  /** Key-level parms_id (all primes, special one included) and its prime count. */
  keyLevel: { parmsId: BigUint64Array; primes: number };
  polyModulusDegree: number;
  /** Largest first dimension (N for Galois keys, indexed by element; small for relinearisation). */
  maxDim1: number;
  /** Keys per present index: one per data prime (SEAL's RNS decomposition). */
  perIndex: number;
}

/** Checks uncompressed KSwitchKeys bytes (RelinKeys, GaloisKeys); returns the indexes holding keys. */
export function checkKeys(sealBytes: Uint8Array, shape: KeysShape, prefix: string): number[] {
  const fail = failer('bad-material', prefix);
  const r = topReader(sealBytes, fail);
  const id = r.parmsId('parms_id');
  if (!sameId(id, shape.keyLevel.parmsId)) throw fail('belong to other parameters (parms_id mismatch)');
  const dim1 = r.count('key count', shape.maxDim1);
  const present: number[] = [];
  const ct: CiphertextShape = { levels: [shape.keyLevel], polyModulusDegree: shape.polyModulusDegree, size: 2, scale: 1, seeded: 'allowed' };
  for (let index = 0; index < dim1; index++) {
    const dim2 = r.count('decomposition count', shape.perIndex);
    if (dim2 === 0) continue;
    if (dim2 !== shape.perIndex) throw fail(`key ${index} has ${dim2} parts, expected ${shape.perIndex}`);
    present.push(index);
    for (let j = 0; j < dim2; j++) {
      const nested = r.header(`key ${index}.${j}`);
      const inner = new Reader(r.view, r.pos, nested.end, fail);
      readCiphertext(inner, ct, `key ${index}.${j}`);
      inner.done(nested.end, `key ${index}.${j}`);
      r.pos = nested.end;
    }
  }
  r.done(sealBytes.byteLength, 'keys');
  return present;
}

/** Reads uncompressed CKKS EncryptionParameters: N and the primes (special prime last). */
export function readParams(sealBytes: Uint8Array, prefix: string): { polyModulusDegree: number; primes: bigint[] } {
  const fail = failer('bad-material', prefix);
  const r = topReader(sealBytes, fail);
  if (r.u8('scheme') !== CKKS_SCHEME) throw fail('describes a scheme other than CKKS');
  const n = r.count('poly_modulus_degree', 1 << 17);
  const count = r.count('coeff_modulus_size', 64);
  const primes: bigint[] = [];
  const modulus = (what: string): bigint => {
    const h = r.header(what);
    const v = r.u64(what);
    r.done(h.end, what);
    return v;
  };
  for (let k = 0; k < count; k++) primes.push(modulus(`prime ${k}`));
  modulus('plain modulus');
  r.done(sealBytes.byteLength, 'parameters');
  return { polyModulusDegree: n, primes };
}

/** Checks uncompressed SecretKey bytes: a key-level plaintext of N words per prime. */
export function checkSecretKey(sealBytes: Uint8Array, keyLevel: { parmsId: BigUint64Array; primes: number }, polyModulusDegree: number, prefix: string): void {
  const fail = failer('bad-material', prefix);
  const r = topReader(sealBytes, fail);
  if (!sameId(r.parmsId('parms_id'), keyLevel.parmsId)) throw fail('belongs to other parameters (parms_id mismatch)');
  const words = polyModulusDegree * keyLevel.primes;
  if (r.count('coeff_count', words) !== words) throw fail(`expected ${words} coefficients`);
  r.f64('scale');
  const array = r.header('data');
  if (r.count('data count', words) !== words) throw fail(`expected ${words} words of data`);
  r.need(words * 8, 'data');
  r.pos += words * 8;
  r.done(array.end, 'data');
  r.done(sealBytes.byteLength, 'secret key');
}
