/**
 * node-seal plumbing shared by the client and the evaluator: one wasm instance per thread, a SEAL
 * context built from a validated CkksParams, and plaintexts assembled directly in SEAL's NTT form.
 *
 * Two of those plaintexts are not reachable through node-seal's encoder, which encodes real vectors
 * only. (1) A constant c is the constant polynomial, whose NTT is round(c·scale) in every position;
 * writing it directly is ~7× cheaper than encoding an N/2-vector, and the batched layout needs
 * hundreds per evaluation. (2) The monomial X^(N/2) multiplies every CKKS slot by the imaginary unit i
 * (slot j is the root ζ^(5^j) and ζ^(N/2·5^j) = i since 5^j ≡ 1 mod 4). The single-applicant layout
 * uses it to fold the output signs sⱼ = −1 into the square: (i·z)² = −z². Its NTT form is taken from
 * SEAL itself: a BFV context over the same primes transforms the coefficient-form monomial, and the
 * result is relabelled with the CKKS parms_id. Both go through PlainText.loadArray, so SEAL validates
 * every byte we write.
 *
 * node-seal objects live on the wasm heap and are freed only by `.delete()`; getters such as
 * `ct.parmsId` or `context.firstParmsId` allocate too, so they are read once per context here.
 */

import sealModule from 'node-seal/throws_wasm_node_umd.js';
import type { SEALLibrary } from 'node-seal/implementation/seal.js';
import type { Context } from 'node-seal/implementation/context.js';
import type { PlainText } from 'node-seal/implementation/plain-text.js';
import type { CKKSEncoder } from 'node-seal/implementation/ckks-encoder.js';
import type { Evaluator } from 'node-seal/implementation/evaluator.js';
import { HeInputError, sealReason } from './errors.js';
import { HEADER_BYTES, type CiphertextShape, type KeysShape } from './seal-bytes.js';
import { paramsKey, type CkksParams } from './params.js';

export type Seal = SEALLibrary;

type Loader = () => Promise<SEALLibrary>;
// The package is a UMD bundle: under Node's ESM loader the default import is module.exports itself.
const loadSeal: Loader = (sealModule as unknown as { default?: Loader }).default ?? (sealModule as unknown as Loader);

let sealPromise: Promise<Seal> | undefined;

// The project's lib settings (ES2023, no DOM) carry no WebAssembly typings; this is the part used here.
interface WasmMemory {
  buffer: ArrayBuffer;
}
interface WasmApi {
  instantiate: (...args: unknown[]) => Promise<unknown>;
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
let heap: WasmMemory | undefined;

/**
 * This thread's SEAL instance. The first call instantiates the wasm module; the instantiate hook only
 * records the module's exported memory so that benchmarks and leak tests can watch the heap.
 */
export function getSeal(): Promise<Seal> {
  if (sealPromise === undefined) {
    sealPromise = (async () => {
      const original = wasm.instantiate;
      wasm.instantiate = async (...args: unknown[]) => {
        const result = await original.apply(wasm, args);
        const instance = (result as { instance?: unknown }).instance ?? result;
        const exports = (instance as { exports?: Record<string, unknown> }).exports ?? {};
        for (const value of Object.values(exports)) if (value instanceof wasm.Memory) heap = value;
        return result;
      };
      try {
        return await loadSeal();
      } finally {
        wasm.instantiate = original;
      }
    })();
  }
  return sealPromise;
}

/** Size of this thread's wasm heap in bytes (it only grows), or undefined before getSeal resolves. */
export function sealHeapBytes(): number | undefined {
  return heap?.buffer.byteLength;
}

export interface LevelInfo {
  /** parms_id of this level, as SEAL serialises it. */
  parmsId: BigUint64Array;
  /** Primes of this level, base prime first. */
  primes: bigint[];
}

/** A SEAL context plus what the evaluation reads repeatedly. Owns every SEAL object it holds. */
export interface SealContext {
  seal: Seal;
  params: CkksParams;
  context: Context;
  encoder: CKKSEncoder;
  evaluator: Evaluator;
  /** Data levels from the top (fresh ciphertexts) down to the base prime alone. */
  levels: LevelInfo[];
  /** The key level (every prime, the special one included): evaluation keys live here. */
  keyLevel: LevelInfo;
  /** All primes including the special one, as CoeffModulus.Create chose them. */
  allPrimes: bigint[];
  scale: number;
  slots: number;
  /** The slot-wise imaginary unit at the top level (built on first use, freed with the context). */
  imaginaryUnit(): PlainText;
  delete(): void;
}

/**
 * Builds the context, insisting that SEAL itself accepts the parameters at 128-bit security (the
 * description was already checked by checkCkksParams; this is the second lock).
 */
export function openContext(seal: Seal, params: CkksParams): SealContext {
  const fn = 'openContext';
  const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
  let context: Context | undefined;
  try {
    parms.setPolyModulusDegree(params.polyModulusDegree);
    const chain = seal.CoeffModulus.Create(params.polyModulusDegree, Int32Array.from(params.coeffModulusBits));
    try {
      parms.setCoeffModulus(chain);
    } finally {
      chain.delete();
    }
    context = seal.Context(parms, true, seal.SecurityLevel.tc128);
    if (!context.parametersSet()) {
      throw new HeInputError('bad-params', `${fn}: SEAL refuses these parameters at 128-bit security (${params.coeffModulusBits.join(',')} for N=${params.polyModulusDegree})`);
    }
    const allPrimes = Array.from(parms.coeffModulus);
    const levels: LevelInfo[] = [];
    let data = context.firstContextData;
    // The chain ends with a null handle; reading its chainIndex throws.
    for (;;) {
      const ids = data.parmsId;
      const levelParms = data.parms;
      levels.push({ parmsId: BigUint64Array.from(ids.values), primes: Array.from(levelParms.coeffModulus) });
      ids.delete();
      levelParms.delete();
      const index = data.chainIndex;
      const next = index > 0 ? data.nextContextData : undefined;
      data.delete();
      if (next === undefined) break;
      data = next;
    }
    const keyData = context.keyContextData;
    const keyIds = keyData.parmsId;
    const keyLevel: LevelInfo = { parmsId: BigUint64Array.from(keyIds.values), primes: [...allPrimes] };
    keyIds.delete();
    keyData.delete();
    const encoder = seal.CKKSEncoder(context);
    const evaluator = seal.Evaluator(context);
    const ctx = context;
    let imaginary: PlainText | undefined;
    const out: SealContext = {
      seal,
      params,
      context: ctx,
      encoder,
      evaluator,
      levels,
      keyLevel,
      allPrimes,
      scale: 2 ** params.scaleBits,
      slots: params.polyModulusDegree / 2,
      imaginaryUnit() {
        imaginary ??= imaginaryUnitPlain(out);
        return imaginary;
      },
      delete() {
        imaginary?.delete();
        evaluator.delete();
        encoder.delete();
        ctx.delete();
      },
    };
    return out;
  } catch (err) {
    context?.delete();
    if (err instanceof HeInputError) throw err;
    throw new HeInputError('bad-params', `${fn}: SEAL cannot build these parameters: ${sealReason(err)}`);
  } finally {
    parms.delete();
  }
}

/**
 * SEAL builds its precomputation tables when a context is created, which in this wasm build takes
 * ~120 ms at N=4096 and ~380 ms at N=8192, more than loading a session's keys. Contexts are therefore
 * shared per parameter description within a thread: acquire/release count users, and up to
 * IDLE_CONTEXTS unused ones are kept for the next session with the same parameters.
 */
const IDLE_CONTEXTS = 3;
const shared = new Map<string, { ctx: SealContext; users: number }>();

export function acquireContext(seal: Seal, params: CkksParams): SealContext {
  const key = paramsKey(params);
  let entry = shared.get(key);
  if (entry === undefined || entry.ctx.seal !== seal) {
    entry = { ctx: openContext(seal, params), users: 0 };
    shared.set(key, entry);
  } else {
    // Re-insert: Map order doubles as least-recently-used order for trimming.
    shared.delete(key);
    shared.set(key, entry);
  }
  entry.users++;
  return entry.ctx;
}

export function releaseContext(ctx: SealContext): void {
  const key = paramsKey(ctx.params);
  const entry = shared.get(key);
  if (entry === undefined || entry.ctx !== ctx) {
    ctx.delete();
    return;
  }
  entry.users--;
  let idle = [...shared.values()].filter((e) => e.users <= 0).length;
  for (const [k, e] of shared) {
    if (idle <= IDLE_CONTEXTS) break;
    if (e.users > 0) continue;
    e.ctx.delete();
    shared.delete(k);
    idle--;
  }
}

/** SEAL's Galois element for a left rotation by `step` (CKKS uses the generator 3 modulo 2N). */
export function galoisElement(step: number, polyModulusDegree: number): number {
  const m = 2n * BigInt(polyModulusDegree);
  let e = 1n;
  const g = 3n;
  for (let k = 0; k < step; k++) e = (e * g) % m;
  return Number(e);
}

// ---- plaintexts assembled in NTT form ------------------------------------------------------------

/** Byte offsets of SEAL's Plaintext serialisation (compression none), checked against SEAL's own output. */
const HEADER = 16;
const OFF_PARMS = HEADER;
const OFF_COEFF_COUNT = OFF_PARMS + 32;
const OFF_SCALE = OFF_COEFF_COUNT + 8;
const OFF_INNER = OFF_SCALE + 8;
const OFF_COUNT = OFF_INNER + HEADER;
const OFF_DATA = OFF_COUNT + 8;

/** The 16-byte SEAL header SEAL writes, re-read from a plaintext it saved (so its version bytes match). */
const headerTemplates = new WeakMap<Seal, Uint8Array>();

function headerTemplate(ctx: SealContext): Uint8Array {
  const cached = headerTemplates.get(ctx.seal);
  if (cached !== undefined) return cached;
  const plain = ctx.encoder.encode(new Float64Array(ctx.slots).fill(0.5), ctx.scale) as PlainText;
  try {
    const bytes = plain.saveArray(ctx.seal.ComprModeType.none);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = plain.coeffCount;
    const ok =
      view.getUint16(0, true) === 0xa15e &&
      bytes[2] === HEADER &&
      view.getBigUint64(8, true) === BigInt(bytes.byteLength) &&
      view.getUint16(OFF_INNER, true) === 0xa15e &&
      view.getBigUint64(OFF_COEFF_COUNT, true) === BigInt(count) &&
      view.getBigUint64(OFF_COUNT, true) === BigInt(count) &&
      bytes.byteLength === OFF_DATA + 8 * count;
    if (!ok) throw new Error('headerTemplate: SEAL plaintext serialisation is not the SEAL 4 layout this module writes');
    const header = bytes.slice(0, HEADER);
    headerTemplates.set(ctx.seal, header);
    return header;
  } finally {
    plain.delete();
  }
}

/** A reusable buffer for one NTT-form plaintext at one level; `load` writes it into a PlainText. */
export class NttPlainWriter {
  readonly bytes: Uint8Array;
  readonly data: BigUint64Array;
  private readonly view: DataView;
  readonly n: number;
  readonly primes: bigint[];

  constructor(
    private readonly ctx: SealContext,
    level: LevelInfo,
  ) {
    const n = ctx.params.polyModulusDegree;
    const count = n * level.primes.length;
    this.n = n;
    this.primes = level.primes;
    this.bytes = new Uint8Array(OFF_DATA + 8 * count);
    this.view = new DataView(this.bytes.buffer);
    const header = headerTemplate(ctx);
    this.bytes.set(header, 0);
    this.view.setBigUint64(8, BigInt(this.bytes.byteLength), true);
    level.parmsId.forEach((v, k) => this.view.setBigUint64(OFF_PARMS + 8 * k, v, true));
    this.view.setBigUint64(OFF_COEFF_COUNT, BigInt(count), true);
    this.bytes.set(header, OFF_INNER);
    this.view.setBigUint64(OFF_INNER + 8, BigInt(HEADER + 8 + 8 * count), true);
    this.view.setBigUint64(OFF_COUNT, BigInt(count), true);
    this.data = new BigUint64Array(this.bytes.buffer, OFF_DATA, count);
  }

  /**
   * Fills the buffer with the constant round(value·scale): the NTT of a constant polynomial is that
   * constant in every position. Above 2^53 the product is rounded to float64 first, a relative error
   * of 2^-53, far below CKKS noise.
   */
  setConstant(value: number, scale: number): void {
    const scaled = Math.round(value * scale);
    if (!Number.isFinite(scaled)) throw new Error(`NttPlainWriter.setConstant: expected a finite value·scale, got ${scaled}`);
    const big = BigInt(scaled);
    this.view.setFloat64(OFF_SCALE, scale, true);
    this.primes.forEach((q, l) => {
      const r = ((big % q) + q) % q;
      this.data.fill(r, l * this.n, (l + 1) * this.n);
    });
  }

  /** Sets the NTT residues directly (L×N, prime-major) and the scale. */
  setResidues(residues: BigUint64Array, scale: number): void {
    this.view.setFloat64(OFF_SCALE, scale, true);
    this.data.set(residues);
  }

  load(into: PlainText): void {
    into.loadArray(this.ctx.context, this.bytes);
  }
}

/**
 * NTT residues (top level, prime-major) of the monomial X^(N/2), i.e. the slot-wise imaginary unit, at
 * scale 1. Computed with SEAL's own NTT through a BFV context on the same primes.
 */
export function imaginaryUnitResidues(ctx: SealContext): BigUint64Array {
  const { seal, params } = ctx;
  const fn = 'imaginaryUnitResidues';
  const n = params.polyModulusDegree;
  const parms = seal.EncryptionParameters(seal.SchemeType.bfv);
  const plainModulus = seal.Modulus(BigInt(65537));
  let bfv: Context | undefined;
  let evaluator: Evaluator | undefined;
  const plain = seal.PlainText();
  try {
    parms.setPolyModulusDegree(n);
    const chain = seal.CoeffModulus.Create(n, Int32Array.from(params.coeffModulusBits));
    try {
      parms.setCoeffModulus(chain);
    } finally {
      chain.delete();
    }
    parms.setPlainModulus(plainModulus);
    const primes = Array.from(parms.coeffModulus);
    if (primes.length !== ctx.allPrimes.length || primes.some((q, k) => q !== ctx.allPrimes[k])) {
      throw new Error(`${fn}: the BFV chain's primes differ from the CKKS chain's`);
    }
    bfv = seal.Context(parms, true, seal.SecurityLevel.tc128);
    // Coefficient-form BFV plaintext X^(N/2): parms_id zero, N coefficients, scale 1.
    const header = headerTemplate(ctx);
    const bytes = new Uint8Array(OFF_DATA + 8 * n);
    const view = new DataView(bytes.buffer);
    bytes.set(header, 0);
    view.setBigUint64(8, BigInt(bytes.byteLength), true);
    view.setBigUint64(OFF_COEFF_COUNT, BigInt(n), true);
    view.setFloat64(OFF_SCALE, 1, true);
    bytes.set(header, OFF_INNER);
    view.setBigUint64(OFF_INNER + 8, BigInt(HEADER + 8 + 8 * n), true);
    view.setBigUint64(OFF_COUNT, BigInt(n), true);
    view.setBigUint64(OFF_DATA + 8 * (n / 2), 1n, true);
    plain.loadArray(bfv, bytes);
    evaluator = seal.Evaluator(bfv);
    const first = bfv.firstParmsId;
    try {
      evaluator.plainTransformToNtt(plain, first, plain);
    } finally {
      first.delete();
    }
    const ntt = plain.saveArray(seal.ComprModeType.none);
    const count = n * ctx.levels[0]!.primes.length;
    const nview = new DataView(ntt.buffer, ntt.byteOffset, ntt.byteLength);
    if (Number(nview.getBigUint64(OFF_COUNT, true)) !== count) throw new Error(`${fn}: expected ${count} NTT residues, got ${nview.getBigUint64(OFF_COUNT, true)}`);
    const out = new BigUint64Array(count);
    for (let k = 0; k < count; k++) out[k] = nview.getBigUint64(OFF_DATA + 8 * k, true);
    return out;
  } finally {
    plain.delete();
    evaluator?.delete();
    bfv?.delete();
    plainModulus.delete();
    parms.delete();
  }
}

/** The imaginary-unit plaintext at the top level, scale 1 (multiplying by it leaves the scale alone). */
export function imaginaryUnitPlain(ctx: SealContext): PlainText {
  const writer = new NttPlainWriter(ctx, ctx.levels[0]!);
  writer.setResidues(imaginaryUnitResidues(ctx), 1);
  const plain = ctx.seal.PlainText();
  try {
    writer.load(plain);
  } catch (err) {
    plain.delete();
    throw err;
  }
  return plain;
}

// ---- shapes the byte checks of seal-bytes.ts expect under a context ---------------------------------

/** Largest uncompressed ciphertext of `size` polynomials with `primes` primes (headers and seed included). */
export function ciphertextMaxBytes(ctx: SealContext, primes: number, size = 2): number {
  return HEADER_BYTES + 73 + HEADER_BYTES + 8 + size * primes * ctx.params.polyModulusDegree * 8 + HEADER_BYTES + 65;
}

/** What a client's fresh ciphertext must look like: top level, size 2, the session's scale. */
export function freshCiphertextShape(ctx: SealContext): CiphertextShape {
  const top = ctx.levels[0]!;
  return { levels: [{ parmsId: top.parmsId, primes: top.primes.length }], polyModulusDegree: ctx.params.polyModulusDegree, size: 2, scale: ctx.scale, seeded: 'allowed' };
}

/** What a server's answer may look like: any data level, size 2, any scale, never seeded. */
export function resultCiphertextShape(ctx: SealContext): CiphertextShape {
  return {
    levels: ctx.levels.map((l) => ({ parmsId: l.parmsId, primes: l.primes.length })),
    polyModulusDegree: ctx.params.polyModulusDegree,
    size: 2,
    seeded: 'forbidden',
  };
}

/** Evaluation keys under this context: Galois keys are indexed by (element − 1)/2 < N, relinearisation keys by power − 2. */
export function keysShape(ctx: SealContext, kind: 'relin' | 'galois'): KeysShape {
  const n = ctx.params.polyModulusDegree;
  return {
    keyLevel: { parmsId: ctx.keyLevel.parmsId, primes: ctx.keyLevel.primes.length },
    polyModulusDegree: n,
    maxDim1: kind === 'galois' ? n : 1,
    perIndex: ctx.levels[0]!.primes.length,
  };
}

/** Upper bound on uncompressed key bytes holding `keys` keys. */
export function keysMaxBytes(ctx: SealContext, keys: number, kind: 'relin' | 'galois'): number {
  const n = ctx.params.polyModulusDegree;
  const perKey = ctx.levels[0]!.primes.length * (HEADER_BYTES + ciphertextMaxBytes(ctx, ctx.keyLevel.primes.length));
  return HEADER_BYTES + 32 + 8 + (kind === 'galois' ? n : 1) * 8 + keys * perKey;
}
