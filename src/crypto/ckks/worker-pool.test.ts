/**
 * The worker pool: evaluations run in worker threads and match plainLogit, material is fetched only
 * when a worker lacks the session, bad input is a client error that leaves the pool working, a worker
 * that dies mid-job (or overruns its limit) is replaced and only that job fails, and close() drains.
 */

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { closeKeySession, createKeySession, decryptScores, encryptApplicants, type HeKeySession } from './client.js';
import { HeInputError, HeWorkerError } from './errors.js';
import { compileHeModel, modelShape, plainLogit, type HeModel } from './he-model.js';
import { CRASH_MODEL_KEY, HANG_MODEL_KEY } from './worker-protocol.js';
import { ckksParamSet } from './params.js';
import { HeWorkerPool } from './worker-pool.js';

const d = 10;
const rows = Array.from({ length: 6 }, (_, r) => Array.from({ length: d }, (_, i) => Math.sin(r * 7 + i) * 0.9));
const compiled = compileHeModel(
  { kind: 'mlp', hidden: [4], activation: 'square' },
  Float64Array.from({ length: (d + 1) * 4 + 5 }, (_, k) => Math.cos(k * 1.3) * 0.4),
  d,
);
if ('refused' in compiled) throw new Error(compiled.refused);
const model: HeModel = compiled;

let session: HeKeySession;
let pool: HeWorkerPool;
let loads = 0;
const material = async () => {
  loads++;
  return session.publicMaterial;
};
const job = (ciphertexts: Uint8Array[], modelKey = 'm1') => ({ sessionId: 's1', material, model, modelKey, ciphertexts });

before(async () => {
  session = await createKeySession(ckksParamSet('n4096'), 'single', modelShape(model));
  pool = new HeWorkerPool({ size: 2, testHooks: true });
});

after(async () => {
  await pool.close();
  closeKeySession(session);
});

const assertExact = (outputs: Uint8Array[][], inputs: number[][]): void => {
  const logits = decryptScores(session, outputs.map((o) => o[0]!), inputs.length);
  inputs.forEach((x, k) => assert.ok(Math.abs(logits[k]! - plainLogit(model, x)) < 5e-3, `row ${k}`));
};

test('evaluates in worker threads; the material is loaded at most once per worker', async () => {
  const cts = encryptApplicants(session, rows);
  const outputs = await Promise.all(cts.map((c) => pool.evaluate(job([c]))));
  assertExact(outputs, rows);
  const again = await Promise.all(cts.map((c) => pool.evaluate(job([c]))));
  assertExact(again, rows);
  assert.ok(loads >= 1 && loads <= pool.size, `material loaded ${loads} times`);
});

test('queued counts the jobs waiting for a free worker, not the running ones', async () => {
  const cts = encryptApplicants(session, rows.slice(0, 5));
  assert.equal(pool.queued, 0);
  // Jobs are handed to free workers as they are submitted: two run at once, the other three wait.
  const running = cts.map((c) => pool.evaluate(job([c])));
  assert.equal(pool.queued, cts.length - pool.size);
  assertExact(await Promise.all(running), rows.slice(0, 5));
  assert.equal(pool.queued, 0);
});

test('bad input is an HeInputError and the pool keeps working', async () => {
  const [good] = encryptApplicants(session, [rows[0]!]);
  await assert.rejects(pool.evaluate(job([good!.subarray(0, 500)])), (err: unknown) => err instanceof HeInputError && err.code === 'bad-ciphertext');
  await assert.rejects(pool.evaluate({ ...job([good!]), layout: 'batched' }), (err: unknown) => err instanceof HeInputError && err.code === 'bad-layout');
  await assert.rejects(pool.evaluate({ ...job([good!]), sessionId: 'other', material: async () => Promise.reject(new Error('store unavailable')) }), /store unavailable/);
  assertExact([await pool.evaluate(job([good!]))], [rows[0]!]);
});

test('openSession checks an upload in a worker: bad keys are refused at once, good ones stay cached', async () => {
  const bad = { ...session.publicMaterial, galoisKeys: session.publicMaterial.galoisKeys!.subarray(0, 4000) };
  await assert.rejects(pool.openSession('bad', bad), (err: unknown) => err instanceof HeInputError && err.code === 'bad-material' && /Galois keys/.test(err.message));
  const local = new HeWorkerPool({ size: 1 });
  await local.openSession('s1', session.publicMaterial);
  const never = async () => Promise.reject(new Error('the material should already be loaded'));
  const [c] = encryptApplicants(session, [rows[2]!]);
  assertExact([await local.evaluate({ ...job([c!]), material: never })], [rows[2]!]);
  await local.close();
});

test('a worker that dies mid-job is replaced; only its job fails', async () => {
  const [a, b] = encryptApplicants(session, rows.slice(0, 2));
  const crashesBefore = pool.crashes;
  const doomed = pool.evaluate(job([a!], CRASH_MODEL_KEY));
  const fine = pool.evaluate(job([b!]));
  await assert.rejects(doomed, (err: unknown) => err instanceof HeWorkerError && err.code === 'crashed');
  assertExact([await fine], [rows[1]!]);
  assert.equal(pool.crashes, crashesBefore + 1);
  // The replacement starts empty and fetches the material again when it needs it.
  const outputs = await Promise.all(encryptApplicants(session, rows).map((c) => pool.evaluate(job([c]))));
  assertExact(outputs, rows);
});

// The test's own limit turns a pool that never enforces its timeout into a failure rather than a hang.
test('a job over its time limit fails with a timeout and its worker is replaced', { timeout: 60_000 }, async () => {
  // The hang hook never answers, so the timeout is certain on any machine. The limit only has to stay
  // well above an honest first job on a fresh worker (SEAL context and this session's keys: a few
  // hundred ms), which the replacement runs below.
  const slow = new HeWorkerPool({ size: 1, jobTimeoutMs: 2_000, testHooks: true });
  try {
    const [c] = encryptApplicants(session, [rows[0]!]);
    await assert.rejects(slow.evaluate(job([c!], HANG_MODEL_KEY)), (err: unknown) => err instanceof HeWorkerError && err.code === 'timeout', 'the hung job should fail with a timeout');
    assert.equal(slow.crashes, 1, 'the hung worker was replaced');
    // Waits until the replacement has started SEAL: its start-up is not a job, so the limit does not cover it.
    await slow.heapBytes();
    assertExact([await slow.evaluate(job([c!]))], [rows[0]!]);
    assert.equal(slow.crashes, 1);
  } finally {
    await slow.close();
  }
});

test('close() lets queued jobs finish, then refuses new ones', async () => {
  const local = new HeWorkerPool({ size: 1 });
  const pending = encryptApplicants(session, rows.slice(0, 3)).map((c) => local.evaluate(job([c])));
  const closed = local.close();
  await assert.rejects(local.evaluate(job([])), (err: unknown) => err instanceof HeWorkerError && err.code === 'closed');
  assertExact(await Promise.all(pending), rows.slice(0, 3));
  await closed;
});
