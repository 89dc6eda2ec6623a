/**
 * The lender's side of encrypted prediction, run in the lender's own process (SDK, CLI): create a key
 * session (the secret key never leaves this object), encrypt standardised applicant features, decrypt
 * the server's answers into logits (the caller applies the sigmoid). Ciphertexts go up as SEAL's seeded
 * symmetric encryptions (the second polynomial is a 64-byte PRNG seed, halving the upload), in SEAL's
 * zlib framing (see seal-bytes.ts for why not zstd). Every SEAL object is freed here or by
 * closeKeySession.
 *
 * decryptScores checks that the answer has the shape an honest evaluation under this session's keys
 * gives (all slots equal in the single layout, zeros outside slot 0 when masked, equal values in the
 * padding slots of a batch). A server that used keys from another secret key, or a corrupted answer,
 * decrypts to noise of magnitude ~2^(q0−scale−1) and fails that check instead of yielding a score.
 */

import type { CipherText } from 'node-seal/implementation/cipher-text.js';
import type { Decryptor } from 'node-seal/implementation/decryptor.js';
import type { Encryptor } from 'node-seal/implementation/encryptor.js';
import type { PlainText } from 'node-seal/implementation/plain-text.js';
import type { SecretKey } from 'node-seal/implementation/secret-key.js';
import { HeDecryptError, HeInputError, sealReason } from './errors.js';
import type { HeModelShape } from './he-model.js';
import { packSingleInput, planLayout, type HeLayout, type LayoutPlan } from './layout.js';
import type { HePublicMaterial } from './material.js';
import { checkCkksParams, valueBound, type CkksParams } from './params.js';
import { checkCiphertext, checkSecretKey, unwrap, wrap } from './seal-bytes.js';
import { acquireContext, ciphertextMaxBytes, getSeal, releaseContext, resultCiphertextShape, type SealContext } from './seal-runtime.js';

/**
 * Largest spread tolerated between slots that must agree. Honest evaluations differ by CKKS noise
 * (≈1e-3 at N=4096); keys from another secret key give values spread over ±valueBound.
 */
const CONSISTENCY_TOLERANCE = 0.05;

/** A lender's key session. Holds the secret key; free it with closeKeySession. */
export interface HeKeySession {
  readonly params: CkksParams;
  readonly layout: HeLayout;
  readonly shape: HeModelShape;
  readonly plan: LayoutPlan;
  /** What to upload once (see material.ts; encodeMaterial gives one binary body). */
  readonly publicMaterial: HePublicMaterial;
}

interface Handles {
  ctx: SealContext;
  secretKey: SecretKey;
  encryptor: Encryptor;
  decryptor: Decryptor;
}

const handles = new WeakMap<HeKeySession, Handles>();

function open(fn: string, session: HeKeySession): Handles {
  const h = handles.get(session);
  if (h === undefined) throw new Error(`${fn}: expected an open key session (created by createKeySession and not yet closed)`);
  return h;
}

function plan(fn: string, params: CkksParams, layout: HeLayout, shape: HeModelShape): { plan: LayoutPlan; params: CkksParams } {
  const check = checkCkksParams(params);
  if (!check.ok) throw new HeInputError('bad-params', `${fn}: ${check.reason}`);
  const p = planLayout(shape, check.params, layout);
  if ('refused' in p) throw new HeInputError('bad-params', `${fn}: ${p.refused}`);
  return { plan: p, params: check.params };
}

async function build(fn: string, requested: CkksParams, layout: HeLayout, shape: HeModelShape, secret?: Uint8Array): Promise<HeKeySession> {
  const { plan: p, params } = plan(fn, requested, layout, shape);
  const seal = await getSeal();
  const ctx = acquireContext(seal, params);
  let secretKey: SecretKey | undefined;
  let encryptor: Encryptor | undefined;
  let decryptor: Decryptor | undefined;
  const given = secret === undefined ? undefined : seal.SecretKey();
  const keygen = (() => {
    try {
      if (given !== undefined) {
        // Checked like any stored bytes: a truncated key file must not reach SEAL's trapping loader.
        const fail = (why: string): HeInputError => new HeInputError('bad-material', `${fn}: the secret key ${why}`);
        const bytes = unwrap(secret as Uint8Array, ciphertextMaxBytes(ctx, ctx.keyLevel.primes.length), fail);
        const keyLevel = { parmsId: ctx.keyLevel.parmsId, primes: ctx.keyLevel.primes.length };
        checkSecretKey(bytes, keyLevel, ctx.params.polyModulusDegree, `${fn}: the secret key`);
        given.loadArray(ctx.context, bytes);
        return seal.KeyGenerator(ctx.context, given);
      }
      return seal.KeyGenerator(ctx.context);
    } catch (err) {
      given?.delete();
      releaseContext(ctx);
      if (err instanceof HeInputError) throw err;
      throw new HeInputError('bad-material', `${fn}: the secret key does not load under these parameters: ${sealReason(err)}`);
    }
  })();
  try {
    // node-seal's keygen.secretKey() copies the key out of a temporary it never frees, which would
    // leave a second copy of the secret on the wasm heap: copy from the raw handle and free it here.
    const raw = (keygen.instance as { secretKey(): { delete(): void } }).secretKey();
    secretKey = seal.SecretKey();
    try {
      secretKey.inject(raw);
    } finally {
      raw.delete();
    }
    const publicKey = keygen.createPublicKey();
    try {
      // The public key is only needed to construct an Encryptor; encryption below is symmetric.
      encryptor = seal.Encryptor(ctx.context, publicKey, secretKey);
    } finally {
      publicKey.delete();
    }
    decryptor = seal.Decryptor(ctx.context, secretKey);
    const none = seal.ComprModeType.none;
    // Uncompressed from SEAL, zlib by node:zlib: the server can then check every byte (seal-bytes.ts).
    const save = (s: { saveArray(c: unknown): Uint8Array; delete(): void }): Uint8Array => {
      try {
        return wrap(s.saveArray(none));
      } finally {
        s.delete();
      }
    };
    const relinKeys = p.relin ? save(keygen.createRelinKeysSerializable()) : undefined;
    const galoisKeys = p.galoisSteps.length > 0 ? save(keygen.createGaloisKeysSerializable(Int32Array.from(p.galoisSteps))) : undefined;
    const parms = seal.EncryptionParameters(seal.SchemeType.ckks);
    let paramsBlob: Uint8Array;
    try {
      parms.setPolyModulusDegree(params.polyModulusDegree);
      const chain = seal.CoeffModulus.Create(params.polyModulusDegree, Int32Array.from(params.coeffModulusBits));
      parms.setCoeffModulus(chain);
      chain.delete();
      paramsBlob = parms.saveArray(none);
    } finally {
      parms.delete();
    }
    const session: HeKeySession = Object.freeze({
      params: ctx.params,
      layout,
      shape: p.shape,
      plan: p,
      publicMaterial: {
        params: { ...params, coeffModulusBits: [...params.coeffModulusBits] },
        layout,
        shape: p.shape,
        galoisSteps: [...p.galoisSteps],
        paramsBlob,
        ...(relinKeys !== undefined ? { relinKeys } : {}),
        ...(galoisKeys !== undefined ? { galoisKeys } : {}),
      },
    });
    handles.set(session, { ctx, secretKey, encryptor, decryptor });
    return session;
  } catch (err) {
    encryptor?.delete();
    decryptor?.delete();
    secretKey?.delete();
    releaseContext(ctx);
    throw err;
  } finally {
    keygen.delete();
    given?.delete();
  }
}

/**
 * A new key session for a model of `shape` evaluated in `layout` under `params`. Generates the secret
 * key and the public material the server needs (relinearisation key only for quadratic models, Galois
 * keys only for the rotation steps the single layouts use).
 */
export function createKeySession(params: CkksParams, layout: HeLayout, shape: HeModelShape): Promise<HeKeySession> {
  return build('createKeySession', params, layout, shape);
}

/** The secret key, for the lender to keep (encrypted at rest) and later restoreKeySession. */
export function exportSecretKey(session: HeKeySession): Uint8Array {
  const h = open('exportSecretKey', session);
  return wrap(h.secretKey.saveArray(h.ctx.seal.ComprModeType.none));
}

/** Reopens a session from an exported secret key; its public material is regenerated (same keys' owner). */
export function restoreKeySession(params: CkksParams, layout: HeLayout, shape: HeModelShape, secretKey: Uint8Array): Promise<HeKeySession> {
  return build('restoreKeySession', params, layout, shape, secretKey);
}

export function closeKeySession(session: HeKeySession): void {
  const h = handles.get(session);
  if (h === undefined) return;
  handles.delete(session);
  h.encryptor.delete();
  h.decryptor.delete();
  h.secretKey.delete();
  releaseContext(h.ctx);
}

function checkRows(fn: string, session: HeKeySession, rows: ArrayLike<number>[]): void {
  const d = session.shape.inputSize;
  const bound = valueBound(session.params);
  if (!Array.isArray(rows) || rows.length === 0) throw new RangeError(`${fn}: expected at least one applicant row`);
  rows.forEach((row, r) => {
    if (row === null || typeof row !== 'object' || row.length !== d) {
      throw new RangeError(`${fn}: row ${r} expected ${d} standardised features, got ${row?.length ?? typeof row}`);
    }
    for (let i = 0; i < d; i++) {
      const v = row[i] as number;
      // Beyond the bound the encrypted result wraps silently; standardised features never get there.
      if (typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > bound) {
        throw new RangeError(`${fn}: row ${r} feature ${i} expected a finite standardised value within ±${bound}`);
      }
    }
  });
}

/**
 * Encrypts applicants for the session's layout. single/single-masked: one ciphertext per applicant,
 * in row order. batched: sets of inputSize ciphertexts (feature i of up to N/2 applicants each), set
 * after set; decryptScores needs the applicant count back.
 */
export function encryptApplicants(session: HeKeySession, rows: ArrayLike<number>[]): Uint8Array[] {
  const fn = 'encryptApplicants';
  const h = open(fn, session);
  checkRows(fn, session, rows);
  const { ctx, encryptor } = h;
  const none = ctx.seal.ComprModeType.none;
  const plain = ctx.seal.PlainText();
  const out: Uint8Array[] = [];
  const encryptSlots = (slots: Float64Array): void => {
    ctx.encoder.encode(slots, ctx.scale, plain);
    const serializable = encryptor.encryptSymmetricSerializable(plain);
    try {
      out.push(wrap(serializable.saveArray(none)));
    } finally {
      serializable.delete();
    }
  };
  try {
    if (session.layout === 'batched') {
      const d = session.shape.inputSize;
      const slots = new Float64Array(ctx.slots);
      const perSet = session.plan.applicantsPerSet;
      for (let start = 0; start < rows.length; start += perSet) {
        const batch = rows.slice(start, start + perSet);
        for (let i = 0; i < d; i++) {
          slots.fill(0);
          batch.forEach((row, a) => (slots[a] = row[i] as number));
          encryptSlots(slots);
        }
      }
    } else {
      for (const row of rows) encryptSlots(packSingleInput(session.plan, row));
    }
    return out;
  } finally {
    plain.delete();
  }
}

/** How many answers the server returns for `applicants` rows: one per applicant, or one per batch set. */
export function responsesFor(session: HeKeySession, applicants: number): number {
  return session.layout === 'batched' ? Math.ceil(applicants / session.plan.applicantsPerSet) : applicants;
}

function decodeResponse(fn: string, h: Handles, bytes: Uint8Array, index: number): Float64Array {
  const { ctx } = h;
  let ct: CipherText | undefined;
  let plain: PlainText | undefined;
  try {
    // The server's bytes are checked like any untrusted input before SEAL parses them.
    let sealBytes: Uint8Array;
    try {
      sealBytes = unwrap(bytes, ciphertextMaxBytes(ctx, ctx.levels[0]!.primes.length), (why) => new HeInputError('bad-ciphertext', why));
      checkCiphertext(sealBytes, resultCiphertextShape(ctx), 'bad-ciphertext', '');
    } catch (err) {
      throw new HeDecryptError(`${fn}: response ${index} is not a result under this session's parameters: ${(err as Error).message.trim()}`);
    }
    ct = ctx.seal.CipherText();
    try {
      ct.loadArray(ctx.context, sealBytes);
    } catch (err) {
      throw new HeDecryptError(`${fn}: response ${index} is not a ciphertext under this session's parameters: ${sealReason(err)}`);
    }
    plain = h.decryptor.decrypt(ct) as PlainText;
    return ctx.encoder.decode(plain);
  } finally {
    plain?.delete();
    ct?.delete();
  }
}

/**
 * The logits for `applicants` rows from the server's responses (in the order encryptApplicants
 * produced the inputs). Throws HeDecryptError when a response fails its consistency check.
 */
export function decryptScores(session: HeKeySession, responses: Uint8Array[], applicants: number): Float64Array {
  const fn = 'decryptScores';
  const h = open(fn, session);
  if (!Number.isSafeInteger(applicants) || applicants < 1) throw new RangeError(`${fn}: expected a positive applicant count, got ${applicants}`);
  const expected = responsesFor(session, applicants);
  if (!Array.isArray(responses) || responses.length !== expected) {
    throw new RangeError(`${fn}: expected ${expected} responses for ${applicants} applicants, got ${Array.isArray(responses) ? responses.length : typeof responses}`);
  }
  const logits = new Float64Array(applicants);
  const slots = h.ctx.slots;
  responses.forEach((bytes, r) => {
    const values = decodeResponse(fn, h, bytes, r);
    let spread = 0;
    if (session.layout === 'batched') {
      const start = r * session.plan.applicantsPerSet;
      const count = Math.min(session.plan.applicantsPerSet, applicants - start);
      logits.set(values.subarray(0, count), start);
      // Padding slots (at least BATCH_CANARY_SLOTS per set) encrypted zeros: all hold the model at x = 0.
      const pad = values[count] ?? 0;
      for (let t = count + 1; t < slots; t++) spread = Math.max(spread, Math.abs((values[t] as number) - pad));
    } else if (session.layout === 'single-masked') {
      logits[r] = values[0] as number;
      for (let t = 1; t < slots; t++) spread = Math.max(spread, Math.abs(values[t] as number));
    } else {
      // Every slot holds the same logit; their mean also averages part of the CKKS noise away.
      let sum = 0;
      for (let t = 0; t < slots; t++) sum += values[t] as number;
      const mean = sum / slots;
      for (let t = 0; t < slots; t++) spread = Math.max(spread, Math.abs((values[t] as number) - mean));
      logits[r] = mean;
    }
    if (!(spread <= CONSISTENCY_TOLERANCE)) {
      throw new HeDecryptError(
        `${fn}: response ${r} failed its consistency check (slots that must agree differ by ${spread.toExponential(1)}, expected at most ${CONSISTENCY_TOLERANCE}); the server's keys or computation do not match this session`,
      );
    }
  });
  return logits;
}
