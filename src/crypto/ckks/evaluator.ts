/**
 * Server-side homomorphic evaluation: no secret key, only a session's public material, a compiled
 * HeModel and the client's ciphertexts. `openEvaluationSession` loads and checks the material once (a
 * worker keeps it in its LRU); `session.evaluate` scores ciphertexts; `evaluate` does both for one call.
 *
 * What is checked, and what cannot be. Every byte from a client is checked in JavaScript before SEAL
 * parses it (seal-bytes.ts: SEAL's loaders trap on inconsistent lengths): framing, sizes, parms_id
 * (a hash of the parameters, so foreign or other-level objects are refused), fresh ciphertexts only
 * (top level, size 2, the session's scale), then SEAL's own range checks, then no transparent input.
 * Material must carry exactly the Galois steps the layout rotates by and a relinearisation key when
 * the model squares. Each failure is an HeInputError naming the reason. What no server can check is
 * that keys and ciphertexts come from the SAME secret key — that is the point of the encryption. Keys
 * from another secret key evaluate without error and decrypt to noise, which the client's
 * decryptScores catches with its consistency check (client.ts), so a mismatch never becomes a score.
 *
 * The pipelines (see layout.ts for the slot layout):
 *   single     ct·W (signs −1 via ·X^(N/2), the slot-wise i) → Σ rotations H…P/2 → rescale →
 *              [square → relinearise → Σ rotations 1…H/2 → rescale] → + k → [mask slot 0 → rescale]
 *   batched    Σᵢ wᵢ·ctᵢ + b → rescale, or per unit (Σᵢ Uⱼᵢ·ctᵢ + βⱼ) → rescale → square,
 *              ± accumulate → relinearise once → rescale → + k
 * Rotations happen before the rescale that follows them: key-switching noise is then divided by the
 * prime with everything else (≈1e-3 instead of ≈5e-2 logit error at N=4096, measured). Weights are
 * scaled by outputGain (he-model.ts) so that intermediates fit the headroom, and the result's recorded
 * scale undoes it. Results are mod-switched to the base prime before saving (a third of the bytes).
 */

import type { CipherText } from 'node-seal/implementation/cipher-text.js';
import type { GaloisKeys } from 'node-seal/implementation/galois-keys.js';
import type { PlainText } from 'node-seal/implementation/plain-text.js';
import type { RelinKeys } from 'node-seal/implementation/relin-keys.js';
import { HeInputError, isWasmTrap, sealReason } from './errors.js';
import { modelShape, outputGain, sameShape, type HeModel } from './he-model.js';
import { mustPlan, packSingleWeights, type HeLayout, type LayoutPlan } from './layout.js';
import { checkMaterial, type HePublicMaterial } from './material.js';
import { checkCiphertext, checkKeys, readParams, unwrap, wrap } from './seal-bytes.js';
import {
  acquireContext,
  ciphertextMaxBytes,
  freshCiphertextShape,
  galoisElement,
  getSeal,
  keysMaxBytes,
  keysShape,
  NttPlainWriter,
  releaseContext,
  type Seal,
  type SealContext,
} from './seal-runtime.js';

export interface EvaluationSession {
  readonly material: HePublicMaterial;
  readonly plan: LayoutPlan;
  /**
   * Scores ciphertexts: single layouts take one per applicant and answer one each; batched takes
   * sets of inputSize ciphertexts and answers one per set. `modelKey` (e.g. federation:version)
   * caches the model's prepared plaintexts across calls; without it they are built and freed per call.
   */
  evaluate(model: HeModel, ciphertexts: Uint8Array[], modelKey?: string): Uint8Array[];
  /** Frees every SEAL object the session holds. */
  delete(): void;
}

/** Prepared models kept per session (a session normally serves one model version at a time). */
const MODEL_CACHE = 4;

type Prepared =
  | { kind: 'single'; gain: number; weights?: PlainText; negative?: PlainText }
  | { kind: 'batched'; gain: number; factor: number; liveUnits: number[]; constant: number };

function freePrepared(p: Prepared): void {
  if (p.kind === 'single') {
    p.weights?.delete();
    p.negative?.delete();
  }
}

class Session implements EvaluationSession {
  readonly material: HePublicMaterial;
  readonly plan: LayoutPlan;
  private readonly ctx: SealContext;
  private relinKeys: RelinKeys | undefined;
  private galoisKeys: GaloisKeys | undefined;
  private readonly masks = new Map<number, PlainText>();
  private readonly writers = new Map<number, NttPlainWriter>();
  private readonly models = new Map<string, Prepared>();
  // Scratch ciphertexts reused across calls: fewer wasm allocations, and nothing to forget to free.
  private readonly scratch: CipherText[] = [];
  private readonly inputs: CipherText[] = [];
  private readonly plain: PlainText;
  private readonly maxInputBytes: number;
  private closed = false;

  constructor(seal: Seal, material: HePublicMaterial) {
    const fn = 'openEvaluationSession';
    checkMaterial(fn, material);
    this.material = material;
    this.plan = mustPlan(fn, material.shape, material.params, material.layout);
    this.ctx = acquireContext(seal, material.params);
    this.plain = seal.PlainText();
    this.maxInputBytes = ciphertextMaxBytes(this.ctx, this.ctx.levels[0]!.primes.length);
    try {
      this.checkParamsBlob(fn, material.paramsBlob);
      if (material.relinKeys !== undefined) this.relinKeys = this.loadKeys(fn, seal, material.relinKeys, 'relin');
      if (material.galoisKeys !== undefined) this.galoisKeys = this.loadKeys(fn, seal, material.galoisKeys, 'galois');
    } catch (err) {
      this.delete();
      throw err;
    }
  }

  /**
   * Keys are checked byte by byte (seal-bytes.ts) before SEAL parses them, then SEAL checks them
   * against the context; Galois keys must cover exactly the layout's rotation steps.
   */
  private loadKeys(fn: string, seal: Seal, wire: Uint8Array, kind: 'relin' | 'galois'): RelinKeys | GaloisKeys {
    const name = kind === 'relin' ? 'relinearisation keys' : 'Galois keys';
    const expected = kind === 'relin' ? 1 : this.plan.galoisSteps.length;
    const fail = (why: string): HeInputError => new HeInputError('bad-material', `${fn}: the ${name} ${why}`);
    const bytes = unwrap(wire, keysMaxBytes(this.ctx, expected, kind), fail);
    const present = checkKeys(bytes, keysShape(this.ctx, kind), `${fn}: the ${name}`);
    const n = this.material.params.polyModulusDegree;
    if (kind === 'galois') {
      const wanted = this.plan.galoisSteps.map((step) => (galoisElement(step, n) - 1) / 2);
      const missing = this.plan.galoisSteps.find((_, k) => !present.includes(wanted[k]!));
      if (missing !== undefined) throw new HeInputError('missing-key', `${fn}: the Galois keys lack rotation step ${missing}`);
      if (present.length !== wanted.length) throw fail(`hold ${present.length} keys, the layout uses ${wanted.length}`);
    } else if (present.length !== 1 || present[0] !== 0) {
      throw fail('expected exactly the key for squares');
    }
    const keys = kind === 'relin' ? seal.RelinKeys() : seal.GaloisKeys();
    try {
      keys.loadArray(this.ctx.context, bytes);
    } catch (err) {
      keys.delete();
      if (isWasmTrap(err)) throw err;
      throw fail(`do not load under the session's parameters: ${sealReason(err)}`);
    }
    return keys;
  }

  /** The client's SEAL serialised the same parameters the description names (same N, same primes). */
  private checkParamsBlob(fn: string, blob: Uint8Array): void {
    const fail = (why: string): HeInputError => new HeInputError('bad-material', `${fn}: paramsBlob ${why}`);
    const parsed = readParams(unwrap(blob, 4096, fail), `${fn}: paramsBlob`);
    const same =
      parsed.polyModulusDegree === this.ctx.params.polyModulusDegree &&
      parsed.primes.length === this.ctx.allPrimes.length &&
      parsed.primes.every((q, k) => q === this.ctx.allPrimes[k]);
    if (!same) throw fail('describes other parameters than params (N or primes differ)');
  }

  delete(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.models.values()) freePrepared(p);
    this.models.clear();
    for (const m of this.masks.values()) m.delete();
    this.masks.clear();
    for (const c of this.scratch) c.delete();
    for (const c of this.inputs) c.delete();
    this.relinKeys?.delete();
    this.galoisKeys?.delete();
    this.plain.delete();
    releaseContext(this.ctx);
  }

  evaluate(model: HeModel, ciphertexts: Uint8Array[], modelKey?: string): Uint8Array[] {
    const fn = 'evaluate';
    if (this.closed) throw new Error(`${fn}: the evaluation session is closed`);
    if (!sameShape(modelShape(model), this.material.shape)) {
      const s = this.material.shape;
      throw new HeInputError('shape-mismatch', `${fn}: the key session was made for a ${s.kind} model with ${s.inputSize} inputs and ${s.units} units, not for this model`);
    }
    if (!Array.isArray(ciphertexts) || ciphertexts.length === 0) throw new HeInputError('bad-ciphertext', `${fn}: expected at least one ciphertext`);
    const perSet = this.plan.ciphertextsPerSet;
    if (ciphertexts.length % perSet !== 0) {
      throw new HeInputError('bad-ciphertext', `${fn}: the ${this.plan.layout} layout expects ciphertexts in sets of ${perSet}, got ${ciphertexts.length}`);
    }
    const prepared = this.prepare(model, modelKey);
    try {
      const out: Uint8Array[] = [];
      for (let start = 0; start < ciphertexts.length; start += perSet) {
        const set = ciphertexts.slice(start, start + perSet);
        set.forEach((bytes, k) => this.loadInput(fn, bytes, start + k, this.input(k)));
        out.push(prepared.kind === 'single' ? this.evaluateSingle(model, prepared) : this.evaluateBatched(model, prepared, perSet));
      }
      return out;
    } finally {
      if (modelKey === undefined) freePrepared(prepared);
    }
  }

  // ---- inputs and scratch --------------------------------------------------------------------------

  private input(k: number): CipherText {
    while (this.inputs.length <= k) this.inputs.push(this.ctx.seal.CipherText());
    return this.inputs[k]!;
  }

  private temp(k: number): CipherText {
    while (this.scratch.length <= k) this.scratch.push(this.ctx.seal.CipherText());
    return this.scratch[k]!;
  }

  private loadInput(fn: string, wire: Uint8Array, index: number, into: CipherText): void {
    const bad = (why: string): HeInputError => new HeInputError('bad-ciphertext', `${fn}: ciphertext ${index} ${why}`);
    if (!(wire instanceof Uint8Array) || wire.byteLength === 0) throw bad('expected non-empty bytes');
    // Sizes, headers and metadata are checked in JavaScript first: SEAL traps on inconsistent framing.
    const bytes = unwrap(wire, this.maxInputBytes, bad);
    checkCiphertext(bytes, freshCiphertextShape(this.ctx), 'bad-ciphertext', `${fn}: ciphertext ${index}`);
    try {
      into.loadArray(this.ctx.context, bytes);
    } catch (err) {
      if (isWasmTrap(err)) throw err;
      throw bad(`is not a ciphertext under the session's parameters: ${sealReason(err)}`);
    }
    // A transparent ciphertext encrypts nothing; SEAL would also refuse to multiply it.
    if (into.isTransparent) throw bad('is transparent (not encrypted)');
  }

  private levelIndex(ct: CipherText): number {
    const size = ct.coeffModulusSize;
    const index = this.ctx.levels.findIndex((l) => l.primes.length === size);
    if (index < 0) throw new Error(`evaluate: no level with ${size} primes`);
    return index;
  }

  private writer(levelIndex: number): NttPlainWriter {
    let w = this.writers.get(levelIndex);
    if (w === undefined) {
      w = new NttPlainWriter(this.ctx, this.ctx.levels[levelIndex]!);
      this.writers.set(levelIndex, w);
    }
    return w;
  }

  /** Loads the constant `value` at `ct`'s level and exact scale into the shared scratch plaintext. */
  private constant(ct: CipherText, value: number, scale = ct.scale): PlainText {
    const w = this.writer(this.levelIndex(ct));
    w.setConstant(value, scale);
    w.load(this.plain);
    return this.plain;
  }

  /** The one-hot on slot 0 at `ct`'s level, at the scale of the prime the next rescale drops. */
  private mask(ct: CipherText): PlainText {
    const level = this.levelIndex(ct);
    let m = this.masks.get(level);
    if (m === undefined) {
      const { encoder, evaluator, levels, slots } = this.ctx;
      const oneHot = new Float64Array(slots);
      oneHot[0] = 1;
      const primes = levels[level]!.primes;
      m = encoder.encode(oneHot, Number(primes[primes.length - 1])) as PlainText;
      for (let k = 0; k < level; k++) evaluator.plainModSwitchToNext(m, m);
      this.masks.set(level, m);
    }
    return m;
  }

  // ---- models -----------------------------------------------------------------------------------------

  private prepare(model: HeModel, modelKey: string | undefined): Prepared {
    if (modelKey !== undefined) {
      const hit = this.models.get(modelKey);
      if (hit !== undefined) {
        // Map order is insertion order: re-inserting marks it most recently used.
        this.models.delete(modelKey);
        this.models.set(modelKey, hit);
        return hit;
      }
    }
    const gain = outputGain(model, this.material.params);
    if (typeof gain !== 'number') throw new HeInputError('bad-params', `evaluate: ${gain.refused}`);
    const prepared = this.plan.layout === 'batched' ? this.prepareBatched(model, gain) : this.prepareSingle(model, gain);
    if (modelKey !== undefined) {
      this.models.set(modelKey, prepared);
      while (this.models.size > MODEL_CACHE) {
        const oldest = this.models.keys().next().value as string;
        freePrepared(this.models.get(oldest)!);
        this.models.delete(oldest);
      }
    }
    return prepared;
  }

  private prepareSingle(model: HeModel, gain: number): Prepared {
    const { encoder, scale } = this.ctx;
    const factor = model.kind === 'linear' ? gain : Math.sqrt(gain);
    const encode = (values: Float64Array): PlainText | undefined => {
      if (values.every((v) => v === 0)) return undefined;
      if (factor !== 1) for (let t = 0; t < values.length; t++) values[t] = (values[t] as number) * factor;
      const p = encoder.encode(values, scale) as PlainText;
      // Weights below 1/scale round to nothing; multiplying by a zero plaintext is refused by SEAL.
      if (p.isZero) {
        p.delete();
        return undefined;
      }
      return p;
    };
    const weights = encode(packSingleWeights(this.plan, model, 1));
    const negative = model.kind === 'quadratic' && model.signs.some((s) => s < 0) ? encode(packSingleWeights(this.plan, model, -1)) : undefined;
    if (weights === undefined && negative === undefined) {
      throw new Error(`evaluate: every weight of this model rounds to zero at scale 2^${this.material.params.scaleBits}`);
    }
    return { kind: 'single', gain, ...(weights ? { weights } : {}), ...(negative ? { negative } : {}) };
  }

  private prepareBatched(model: HeModel, gain: number): Prepared {
    const scale = this.ctx.scale;
    const factor = model.kind === 'linear' ? gain : Math.sqrt(gain);
    const vanishes = (w: number): boolean => Math.round(w * factor * scale) === 0;
    if (model.kind === 'linear') {
      if (Array.from(model.weights).every(vanishes)) throw new Error(`evaluate: every weight of this model rounds to zero at scale 2^${this.material.params.scaleBits}`);
      return { kind: 'batched', gain, factor, liveUnits: [], constant: model.bias };
    }
    const d = model.inputSize;
    const liveUnits: number[] = [];
    let constant = model.constant;
    for (let j = 0; j < model.units; j++) {
      const row = model.rows.subarray(j * (d + 1), j * (d + 1) + d);
      if (row.some((u) => !vanishes(u))) liveUnits.push(j);
      else constant += (model.signs[j] as number) * (model.rows[j * (d + 1) + d] as number) ** 2;
    }
    if (liveUnits.length === 0) throw new Error(`evaluate: every weight of this model rounds to zero at scale 2^${this.material.params.scaleBits}`);
    return { kind: 'batched', gain, factor, liveUnits, constant };
  }

  // ---- pipelines --------------------------------------------------------------------------------------

  private rotateSum(acc: CipherText, tmp: CipherText, from: number, below: number): void {
    const { evaluator } = this.ctx;
    for (let step = from; step < below; step *= 2) {
      evaluator.rotateVector(acc, step, this.galoisKeys!, tmp);
      evaluator.add(acc, tmp, acc);
    }
  }

  private finish(acc: CipherText): Uint8Array {
    const { evaluator, seal } = this.ctx;
    // Fewer primes, fewer bytes: the client decrypts under the base prime alone.
    while (acc.coeffModulusSize > 1) evaluator.cipherModSwitchToNext(acc, acc);
    return wrap(acc.saveArray(seal.ComprModeType.none));
  }

  private evaluateSingle(model: HeModel, p: Extract<Prepared, { kind: 'single' }>): Uint8Array {
    const { evaluator } = this.ctx;
    const ct = this.input(0);
    const acc = this.temp(0);
    const tmp = this.temp(1);
    if (p.weights !== undefined) evaluator.multiplyPlain(ct, p.weights, acc);
    if (p.negative !== undefined) {
      const target = p.weights !== undefined ? tmp : acc;
      evaluator.multiplyPlain(ct, p.negative, target);
      // ·X^(N/2) turns each slot z into i·z, whose square is −z²: the sign costs no level.
      evaluator.multiplyPlain(target, this.ctx.imaginaryUnit(), target);
      if (target === tmp) evaluator.add(acc, tmp, acc);
    }
    this.rotateSum(acc, tmp, this.plan.stride, this.plan.period);
    evaluator.rescaleToNext(acc, acc);
    if (model.kind === 'quadratic') {
      evaluator.square(acc, acc);
      evaluator.relinearize(acc, this.relinKeys!, acc);
      this.rotateSum(acc, tmp, 1, this.plan.stride);
      evaluator.rescaleToNext(acc, acc);
      this.undoGain(acc, p.gain);
      evaluator.addPlain(acc, this.constant(acc, model.constant), acc);
    } else {
      this.undoGain(acc, p.gain);
    }
    if (this.plan.layout === 'single-masked') {
      evaluator.multiplyPlain(acc, this.mask(acc), acc);
      evaluator.rescaleToNext(acc, acc);
    }
    return this.finish(acc);
  }

  /** The ciphertext holds gain·value: recording scale·gain makes it decode as value. */
  private undoGain(ct: CipherText, gain: number): void {
    if (gain !== 1) ct.setScale(ct.scale * gain);
  }

  /** Σᵢ factor·wᵢ·ctᵢ into `acc` (scale Δ²), skipping weights that round to zero; false when all did. */
  private dot(weights: ArrayLike<number>, count: number, factor: number, acc: CipherText, tmp: CipherText): boolean {
    const { evaluator, scale } = this.ctx;
    let started = false;
    for (let i = 0; i < count; i++) {
      const w = (weights[i] as number) * factor;
      if (Math.round(w * scale) === 0) continue;
      const input = this.input(i);
      const plain = this.constant(input, w, scale);
      evaluator.multiplyPlain(input, plain, started ? tmp : acc);
      if (started) evaluator.add(acc, tmp, acc);
      started = true;
    }
    return started;
  }

  private evaluateBatched(model: HeModel, p: Extract<Prepared, { kind: 'batched' }>, d: number): Uint8Array {
    const { evaluator } = this.ctx;
    const acc = this.temp(0);
    const tmp = this.temp(1);
    if (model.kind === 'linear') {
      this.dot(model.weights, d, p.factor, acc, tmp);
      evaluator.addPlain(acc, this.constant(acc, p.constant * p.factor), acc);
      evaluator.rescaleToNext(acc, acc);
      this.undoGain(acc, p.gain);
      return this.finish(acc);
    }
    let total = acc;
    let unit = this.temp(2);
    let started = false;
    for (const j of p.liveUnits) {
      this.dot(model.rows.subarray(j * (d + 1), j * (d + 1) + d), d, p.factor, unit, tmp);
      evaluator.addPlain(unit, this.constant(unit, (model.rows[j * (d + 1) + d] as number) * p.factor), unit);
      evaluator.rescaleToNext(unit, unit);
      evaluator.square(unit, unit);
      const negative = (model.signs[j] as number) < 0;
      if (!started) {
        if (negative) evaluator.negate(unit, total);
        else [total, unit] = [unit, total];
        started = true;
      } else if (negative) evaluator.sub(total, unit, total);
      else evaluator.add(total, unit, total);
    }
    // Relinearisation is linear: once on the sum instead of once per unit.
    evaluator.relinearize(total, this.relinKeys!, total);
    evaluator.rescaleToNext(total, total);
    this.undoGain(total, p.gain);
    evaluator.addPlain(total, this.constant(total, p.constant), total);
    return this.finish(total);
  }
}

/** Loads and checks a session's public material (throws HeInputError with the reason). */
export function openEvaluationSession(seal: Seal, material: HePublicMaterial): EvaluationSession {
  return new Session(seal, material);
}

/**
 * One-shot evaluation: loads the material, scores the ciphertexts, frees everything. `layout` must be
 * the one the session was created for. Services should go through HeWorkerPool, which keeps sessions
 * loaded and keeps SEAL off the event loop.
 */
export async function evaluate(model: HeModel, publicMaterial: HePublicMaterial, ciphertexts: Uint8Array[], layout: HeLayout): Promise<Uint8Array[]> {
  if (publicMaterial.layout !== layout) {
    throw new HeInputError('bad-layout', `evaluate: the key session was created for the ${String(publicMaterial.layout).slice(0, 20)} layout, not ${String(layout).slice(0, 20)}`);
  }
  const session = openEvaluationSession(await getSeal(), publicMaterial);
  try {
    return session.evaluate(model, ciphertexts);
  } finally {
    session.delete();
  }
}
