/**
 * What the server refuses and what it cannot tell. Foreign, truncated, zstd-compressed, mis-scaled or
 * transparent ciphertexts and mismatched material are HeInputErrors with a reason, and none of them
 * reaches a SEAL loader that would trap (the session keeps scoring correctly afterwards). Keys made
 * under another secret key are undetectable by the server; the client's decryptScores refuses the
 * result instead. A short leak check: the wasm heap stays flat over repeated evaluations.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeKeySession, createKeySession, decryptScores, encryptApplicants, exportSecretKey, restoreKeySession, type HeKeySession } from './client.js';
import { HeDecryptError, HeInputError } from './errors.js';
import { evaluate, openEvaluationSession, type EvaluationSession } from './evaluator.js';
import { compileHeModel, modelShape, plainLogit, type HeModel } from './he-model.js';
import { decodeMaterial, encodeMaterial, type HePublicMaterial } from './material.js';
import { ckksParamSet } from './params.js';
import { unwrap, wrap } from './seal-bytes.js';
import { acquireContext, getSeal, releaseContext, sealHeapBytes } from './seal-runtime.js';

const d = 8;
const row = Array.from({ length: d }, (_, i) => Math.cos(i) * 0.8);
const compiled = (spec: Parameters<typeof compileHeModel>[0], count: number, seed: number): HeModel => {
  const m = compileHeModel(spec, Float64Array.from({ length: count }, (_, k) => Math.sin(k * seed + 1) * 0.4), d);
  if ('refused' in m) throw new Error(m.refused);
  return m;
};
const linear = compiled({ kind: 'logreg' }, d + 1, 3);
const quad = compiled({ kind: 'mlp', hidden: [4], activation: 'square' }, (d + 1) * 4 + 5, 5);

let single: HeKeySession;
let server: EvaluationSession;

before(async () => {
  single = await createKeySession(ckksParamSet('n4096'), 'single', modelShape(quad));
  server = openEvaluationSession(await getSeal(), single.publicMaterial);
});

after(() => {
  server.delete();
  closeKeySession(single);
});

const rejects = (run: () => unknown, code: string, pattern: RegExp): void => {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof HeInputError, `expected HeInputError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
};

/** The session still scores correctly: nothing above reached a trapping SEAL loader. */
function assertStillExact(): void {
  const [out] = server.evaluate(quad, encryptApplicants(single, [row]), 'q');
  assert.ok(Math.abs(decryptScores(single, [out!], 1)[0]! - plainLogit(quad, row)) < 5e-3);
}

test('truncated, garbage, zstd and oversized ciphertexts are refused with a reason, before SEAL parses them', async () => {
  const [good] = encryptApplicants(single, [row]);
  const seal = await getSeal();
  const ctx = acquireContext(seal, ckksParamSet('n4096'));
  const raw = unwrap(good!, 1 << 20, (why) => new HeInputError('bad-ciphertext', why));
  const ct = seal.CipherText();
  ct.loadArray(ctx.context, raw);
  const zstd = ct.saveArray(seal.ComprModeType.zstd);
  ct.delete();
  releaseContext(ctx);
  for (let k = 0; k < 50; k++) {
    rejects(() => server.evaluate(quad, [good!.subarray(0, 2000)], 'q'), 'bad-ciphertext', /ciphertext 0 is truncated or mis-sized/);
  }
  rejects(() => server.evaluate(quad, [new Uint8Array(3000).fill(9)], 'q'), 'bad-ciphertext', /expected a SEAL header/);
  rejects(() => server.evaluate(quad, [zstd], 'q'), 'bad-ciphertext', /zstd compression is not accepted/);
  rejects(() => server.evaluate(quad, [new Uint8Array(0)], 'q'), 'bad-ciphertext', /expected non-empty bytes/);
  rejects(() => server.evaluate(quad, [raw.subarray(0, 20)], 'q'), 'bad-ciphertext', /truncated or mis-sized/);
  rejects(() => server.evaluate(quad, [], 'q'), 'bad-ciphertext', /at least one ciphertext/);
  assertStillExact();
});

test('a ciphertext under other parameters, at another scale, or transparent is refused', async () => {
  const otherParams = { polyModulusDegree: 4096, coeffModulusBits: [30, 22, 22, 30], scaleBits: 22 };
  const other = await createKeySession(otherParams, 'single', modelShape(quad));
  rejects(() => server.evaluate(quad, encryptApplicants(other, [row]), 'q'), 'bad-ciphertext', /parms_id mismatch/);
  closeKeySession(other);

  const seal = await getSeal();
  const ctx = acquireContext(seal, ckksParamSet('n4096'));
  const keygen = seal.KeyGenerator(ctx.context);
  const secret = keygen.secretKey();
  const publicKey = keygen.createPublicKey();
  const encryptor = seal.Encryptor(ctx.context, publicKey, secret);
  const plain = ctx.encoder.encode(new Float64Array(ctx.slots).fill(0.25), 2 ** 20)!;
  const scaled = encryptor.encryptSymmetricSerializable(plain);
  rejects(() => server.evaluate(quad, [wrap(scaled.saveArray(seal.ComprModeType.none))], 'q'), 'bad-ciphertext', /expected scale 2\^24, got 2\^20/);
  // Transparent: a full (unseeded) ciphertext whose second polynomial is all zeros.
  ctx.encoder.encode(new Float64Array(ctx.slots).fill(0.25), ctx.scale, plain);
  const full = encryptor.encryptSymmetric(plain)!;
  const bytes = full.saveArray(seal.ComprModeType.none);
  // The unseeded data ends with the second polynomial: N words per prime.
  bytes.fill(0, bytes.byteLength - 8 * 4096 * 3);
  rejects(() => server.evaluate(quad, [wrap(bytes)], 'q'), 'bad-ciphertext', /transparent/);
  for (const o of [full, scaled, plain, encryptor, publicKey, secret, keygen]) o.delete();
  releaseContext(ctx);
  assertStillExact();
});

test('a model of another shape, a layout mismatch and a partial batch are refused', async () => {
  rejects(() => server.evaluate(linear, encryptApplicants(single, [row]), 'l'), 'shape-mismatch', /made for a quadratic model with 8 inputs and 4 units/);
  await assert.rejects(evaluate(quad, single.publicMaterial, encryptApplicants(single, [row]), 'batched'), /created for the single layout, not batched/);
  const batched = await createKeySession(ckksParamSet('n4096'), 'batched', modelShape(linear));
  const cts = encryptApplicants(batched, [row, row]);
  assert.equal(cts.length, d);
  await assert.rejects(evaluate(linear, batched.publicMaterial, cts.slice(1), 'batched'), /expects ciphertexts in sets of 8, got 7/);
  closeKeySession(batched);
});

test('material: missing Galois steps, keys or parameters of another session are refused when opened', async () => {
  const seal = await getSeal();
  const m = single.publicMaterial;
  const open = (material: HePublicMaterial) => () => openEvaluationSession(seal, material).delete();
  // Keys for fewer steps than the layout rotates by.
  const fewer = await createKeySession(ckksParamSet('n4096'), 'single', modelShape(linear));
  rejects(open({ ...m, galoisKeys: fewer.publicMaterial.galoisKeys! }), 'missing-key', /lack rotation step 16/);
  closeKeySession(fewer);
  // Keys and parameters of another parameter set.
  const otherParams = { polyModulusDegree: 4096, coeffModulusBits: [30, 22, 22, 30], scaleBits: 22 };
  const other = await createKeySession(otherParams, 'single', modelShape(quad));
  rejects(open({ ...m, relinKeys: other.publicMaterial.relinKeys! }), 'bad-material', /relinearisation keys belong to other parameters/);
  rejects(open({ ...m, galoisKeys: other.publicMaterial.galoisKeys! }), 'bad-material', /Galois keys belong to other parameters/);
  rejects(open({ ...m, paramsBlob: other.publicMaterial.paramsBlob }), 'bad-material', /paramsBlob describes other parameters/);
  closeKeySession(other);
  rejects(open({ ...m, relinKeys: m.relinKeys!.subarray(0, 5000) }), 'bad-material', /relinearisation keys/);
  rejects(open({ ...m, galoisSteps: [1, 2] }), 'bad-material', /galoisSteps expected \[1, 2, 4, 8, 16, 32\]/);
  const { relinKeys: _dropped, ...noRelin } = m;
  rejects(open(noRelin), 'missing-key', /needs relinearisation keys/);
  rejects(open({ ...m, params: { ...m.params, coeffModulusBits: [40, 30, 30, 40], scaleBits: 30 } }), 'bad-params', /below 128-bit security/);
  // The binary container round-trips and refuses damage.
  assert.deepEqual(decodeMaterial(encodeMaterial(m)), m);
  assert.throws(() => decodeMaterial(encodeMaterial(m).subarray(0, 100)), /does not fit|header/);
  assertStillExact();
});

test('keys from another secret key: the server cannot tell, the client refuses the result', async () => {
  const shape = modelShape(quad);
  const impostor = await createKeySession(ckksParamSet('n4096'), 'single', shape);
  const fooled = openEvaluationSession(await getSeal(), { ...single.publicMaterial, galoisKeys: impostor.publicMaterial.galoisKeys!, relinKeys: impostor.publicMaterial.relinKeys! });
  const out = fooled.evaluate(quad, encryptApplicants(single, [row]), 'q');
  assert.throws(() => decryptScores(single, out, 1), (err: unknown) => err instanceof HeDecryptError && /failed its consistency check/.test(err.message));
  fooled.delete();

  const batched = await createKeySession(ckksParamSet('n4096'), 'batched', shape);
  const other = await createKeySession(ckksParamSet('n4096'), 'batched', shape);
  const wrong = await evaluate(quad, { ...batched.publicMaterial, relinKeys: other.publicMaterial.relinKeys! }, encryptApplicants(batched, [row]), 'batched');
  assert.throws(() => decryptScores(batched, wrong, 1), HeDecryptError);
  for (const s of [impostor, batched, other]) closeKeySession(s);
});

test('a lender can keep its secret key and restore the session later', async () => {
  const restored = await restoreKeySession(single.params, single.layout, single.shape, exportSecretKey(single));
  const out = server.evaluate(quad, encryptApplicants(restored, [row]), 'q');
  assert.ok(Math.abs(decryptScores(restored, out, 1)[0]! - plainLogit(quad, row)) < 5e-3);
  closeKeySession(restored);
  const key = exportSecretKey(single);
  await assert.rejects(restoreKeySession(single.params, single.layout, single.shape, key.subarray(0, 3000)), /secret key is truncated/);
  await assert.rejects(restoreKeySession(single.params, single.layout, single.shape, new Uint8Array(10)), /secret key is not SEAL bytes/);
});

test('repeated evaluations keep the wasm heap flat (every SEAL object freed)', () => {
  const cts = encryptApplicants(single, [row]);
  const evaluateMany = (count: number): void => {
    for (let k = 0; k < count; k++) {
      // Alternating cached and uncached models covers both plaintext lifetimes.
      server.evaluate(quad, cts, k % 2 === 0 ? 'q' : undefined);
    }
  };
  evaluateMany(20);
  const heap = sealHeapBytes();
  evaluateMany(150);
  assert.equal(sealHeapBytes(), heap);
});
