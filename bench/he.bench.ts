/**
 * Encrypted prediction (CKKS, node-seal 6.0.3) on models trained by trainLocal on the crx split and
 * calibrated on its training rows: server time per single-applicant prediction, batched throughput,
 * key-session and per-prediction sizes, throughput through the worker pool with 1 and 2 workers (and
 * how long the event loop stalls meanwhile), and each worker's wasm heap over many predictions.
 * Fidelity is reported beside the timings on all 131 test rows. BENCH_HE_PREDICTIONS (default 5000)
 * sets the length of the memory run.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadSplit, readDataset, selectLines } from '../src/ml/csv.js';
import type { DatasetSchema } from '../src/ml/dataset-schema.js';
import { initialWeights, type ModelSpec } from '../src/ml/model-spec.js';
import { encodeDataset } from '../src/ml/preprocess.js';
import { initTf } from '../src/ml/tf.js';
import { trainLocal } from '../src/ml/train.js';
import { closeKeySession, createKeySession, decryptScores, encryptApplicants, type HeKeySession } from '../src/crypto/ckks/client.js';
import { openEvaluationSession } from '../src/crypto/ckks/evaluator.js';
import { compileHeModel, modelShape, outputGain, plainLogit, type HeModel } from '../src/crypto/ckks/he-model.js';
import type { HeLayout } from '../src/crypto/ckks/layout.js';
import { encodeMaterial } from '../src/crypto/ckks/material.js';
import { ckksParamSet, type CkksParamSetName } from '../src/crypto/ckks/params.js';
import { getSeal } from '../src/crypto/ckks/seal-runtime.js';
import { HeWorkerPool } from '../src/crypto/ckks/worker-pool.js';
import { percentile, repoRoot, round3, sharedData, writeResult, type Table } from './bench-io.js';

const PREDICTIONS = Number(process.env.BENCH_HE_PREDICTIONS ?? 5000);
const kb = (bytes: number): number => Math.round(bytes / 102.4) / 10;
const ms = (value: number): number => Math.round(value * 100) / 100;

interface Crx {
  train: { X: Float32Array[]; y: Uint8Array };
  test: { X: Float32Array[]; y: Uint8Array };
}

function loadCrx(): Crx {
  const schema = JSON.parse(readFileSync(path.join(repoRoot, 'schemas', 'crx.json'), 'utf8')) as DatasetSchema;
  const { records, lineNumbers } = readDataset(readFileSync(path.join(sharedData, 'crx.data'), 'utf8'), schema);
  const split = loadSplit(readFileSync(path.join(sharedData, 'crx.split.json'), 'utf8'));
  return {
    train: encodeDataset(schema, selectLines(records, lineNumbers, split.train), 'reject'),
    test: encodeDataset(schema, selectLines(records, lineNumbers, split.test), 'reject'),
  };
}

async function train(crx: Crx, spec: ModelSpec, learningRate: number): Promise<HeModel> {
  const trained = await trainLocal(spec, initialWeights(spec, 43, 42), crx.train.X, crx.train.y, { epochs: 100, batchSize: 32, learningRate, seed: 42 });
  const model = compileHeModel(spec, trained.weights, 43, { calibration: crx.train.X });
  if ('refused' in model) throw new Error(model.refused);
  return model;
}

interface Fidelity {
  maxError: number;
  flips: number;
  accuracyPlain: number;
  accuracyEncrypted: number;
}

function fidelity(model: HeModel, rows: Float32Array[], labels: Uint8Array, logits: ArrayLike<number>): Fidelity {
  let maxError = 0;
  let flips = 0;
  let plainRight = 0;
  let encRight = 0;
  rows.forEach((x, k) => {
    const plain = plainLogit(model, x);
    const enc = logits[k] as number;
    maxError = Math.max(maxError, Math.abs(enc - plain));
    if (plain >= 0 !== enc >= 0) flips++;
    if ((plain >= 0 ? 1 : 0) === labels[k]) plainRight++;
    if ((enc >= 0 ? 1 : 0) === labels[k]) encRight++;
  });
  return { maxError, flips, accuracyPlain: round3(plainRight / rows.length), accuracyEncrypted: round3(encRight / rows.length) };
}

interface Case {
  label: string;
  model: HeModel;
  params: CkksParamSetName;
  layout: HeLayout;
}

/** Where the heap last grew: a leak keeps growing, a warm-up grows once and stays. */
function growthNote(heap: { predictions: number; heapMiB: number[] }[]): string {
  let lastChange = -1;
  for (let k = 1; k < heap.length; k++) if (heap[k]!.heapMiB.some((v, w) => v !== heap[k - 1]!.heapMiB[w])) lastChange = k;
  const first = heap[0]!;
  const last = heap[heap.length - 1]!;
  if (lastChange < 0) return `Heap flat at ${first.heapMiB.join(', ')} MiB over all ${last.predictions} predictions.`;
  const settled = heap[lastChange]!;
  return `Heap ${first.heapMiB.join(', ')} → ${settled.heapMiB.join(', ')} MiB by ${settled.predictions} predictions (one growth step of emscripten's heap), then flat for the remaining ${last.predictions - settled.predictions}.`;
}

export async function heBench(): Promise<void> {
  await initTf('cpu');
  const crx = loadCrx();
  const logreg = await train(crx, { kind: 'logreg' }, 0.1);
  const mlp = await train(crx, { kind: 'mlp', hidden: [16], activation: 'square' }, 0.01);
  const seal = await getSeal();
  const testX = crx.test.X;

  // ---- single-applicant and batched, in process: server time, sizes, fidelity -------------------------------
  const cases: Case[] = [
    { label: 'logreg', model: logreg, params: 'n4096', layout: 'single' },
    { label: 'MLP 16 square', model: mlp, params: 'n4096', layout: 'single' },
    { label: 'logreg', model: logreg, params: 'n4096', layout: 'single-masked' },
    { label: 'MLP 16 square', model: mlp, params: 'n8192', layout: 'single-masked' },
    { label: 'logreg', model: logreg, params: 'n4096', layout: 'batched' },
    { label: 'MLP 16 square', model: mlp, params: 'n4096', layout: 'batched' },
    { label: 'logreg', model: logreg, params: 'n8192', layout: 'batched' },
    { label: 'MLP 16 square', model: mlp, params: 'n8192', layout: 'batched' },
  ];
  const results: Record<string, unknown>[] = [];
  const sessions = new Map<string, HeKeySession>();
  for (const c of cases) {
    const params = ckksParamSet(c.params);
    let t = performance.now();
    const session = await createKeySession(params, c.layout, modelShape(c.model));
    const keygenMs = performance.now() - t;
    const m = session.publicMaterial;
    const uploadBytes = encodeMaterial(m).byteLength;
    const server = openEvaluationSession(seal, m);
    const key = `${c.label}|${c.layout}|${c.params}`;
    sessions.set(key, session);
    const base = {
      model: c.label,
      layout: c.layout,
      params: `${c.params} (N=${params.polyModulusDegree}, [${params.coeffModulusBits.join(',')}], 2^${params.scaleBits})`,
      gain: outputGain(c.model, params),
      keygenMs: Math.round(keygenMs),
      galoisSteps: m.galoisSteps.length,
      uploadKB: kb(uploadBytes),
      galoisKB: kb(m.galoisKeys?.byteLength ?? 0),
      relinKB: kb(m.relinKeys?.byteLength ?? 0),
    };
    if (c.layout === 'batched') {
      // Full sets: the 131 test rows tiled over every slot.
      const slots = session.plan.applicantsPerSet;
      const rows = Array.from({ length: slots }, (_, k) => testX[k % testX.length]!);
      t = performance.now();
      const cts = encryptApplicants(session, rows);
      const encryptMs = performance.now() - t;
      server.evaluate(c.model, cts, 'bench');
      const times: number[] = [];
      let out: Uint8Array[] = [];
      for (let rep = 0; rep < 5; rep++) {
        t = performance.now();
        out = server.evaluate(c.model, cts, 'bench');
        times.push(performance.now() - t);
      }
      t = performance.now();
      const logits = decryptScores(session, out, rows.length);
      const decryptMs = performance.now() - t;
      const setMs = percentile(times, 50);
      const requestBytes = cts.reduce((a, b) => a + b.byteLength, 0);
      results.push({
        ...base,
        applicantsPerSet: slots,
        serverMsPerSet: ms(setMs),
        applicantsPerSecond: Math.round((slots / setMs) * 1000),
        requestKBPerSet: kb(requestBytes),
        responseKBPerSet: kb(out[0]!.byteLength),
        bytesPerApplicant: Math.round((requestBytes + out[0]!.byteLength) / slots),
        clientEncryptMsPerSet: Math.round(encryptMs),
        clientDecryptMsPerSet: Math.round(decryptMs),
        ...fidelity(c.model, testX, crx.test.y, logits.subarray(0, testX.length)),
      });
    } else {
      // n8192 is ~3× slower: every 4th test row (the file is sorted by class, so not the first 30).
      const picked = c.params === 'n4096' ? testX.map((_, k) => k) : testX.map((_, k) => k).filter((k) => k % 4 === 0).slice(0, 30);
      const rows = picked.map((k) => testX[k]!);
      const labels = Uint8Array.from(picked, (k) => crx.test.y[k]!);
      t = performance.now();
      const cts = encryptApplicants(session, rows);
      const encryptMs = (performance.now() - t) / rows.length;
      server.evaluate(c.model, [cts[0]!], 'bench');
      const times: number[] = [];
      const outs: Uint8Array[] = [];
      const passes = c.params === 'n4096' ? 2 : 1;
      for (let pass = 0; pass < passes; pass++) {
        for (const ct of cts) {
          t = performance.now();
          const [out] = server.evaluate(c.model, [ct], 'bench');
          times.push(performance.now() - t);
          if (pass === 0) outs.push(out!);
        }
      }
      t = performance.now();
      const logits = decryptScores(session, outs, rows.length);
      const decryptMs = (performance.now() - t) / rows.length;
      results.push({
        ...base,
        predictions: times.length,
        serverMsP50: ms(percentile(times, 50)),
        serverMsP95: ms(percentile(times, 95)),
        requestKB: kb(cts[0]!.byteLength),
        responseKB: kb(outs[0]!.byteLength),
        clientEncryptMs: ms(encryptMs),
        clientDecryptMs: ms(decryptMs),
        rowsChecked: rows.length,
        ...fidelity(c.model, rows, labels, logits),
      });
    }
    server.delete();
  }

  // ---- the worker pool: 1 vs 2 workers, event-loop stalls -------------------------------------------------------------
  const poolRuns: Record<string, unknown>[] = [];
  const mlpSingle = sessions.get('MLP 16 square|single|n4096')!;
  const mlpBatched = sessions.get('MLP 16 square|batched|n8192')!;
  const singleCts = encryptApplicants(mlpSingle, testX);
  const perSet = mlpBatched.plan.applicantsPerSet;
  const batchRows = Array.from({ length: perSet }, (_, k) => testX[k % testX.length]!);
  const batchCts = encryptApplicants(mlpBatched, batchRows);
  for (const size of [1, 2]) {
    const pool = new HeWorkerPool({ size });
    const single = (ct: Uint8Array) => pool.evaluate({ sessionId: 'single', material: mlpSingle.publicMaterial, model: mlp, modelKey: 'mlp', ciphertexts: [ct] });
    const batch = () => pool.evaluate({ sessionId: 'batched', material: mlpBatched.publicMaterial, model: mlp, modelKey: 'mlp', ciphertexts: batchCts });
    // Warm every worker: SEAL, context, keys, prepared model.
    await Promise.all(Array.from({ length: size * 2 }, () => single(singleCts[0]!)));
    await Promise.all(Array.from({ length: size }, () => batch()));
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const requests = 3 * singleCts.length;
    let t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 * size }, async () => {
        while (next < requests) await single(singleCts[next++ % singleCts.length]!);
      }),
    );
    const singleSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const sets = 4 * size;
    await Promise.all(Array.from({ length: sets }, () => batch()));
    const batchSeconds = (performance.now() - t) / 1000;
    loop.disable();
    poolRuns.push({
      workers: size,
      singleRequests: requests,
      singlePerSecond: Math.round(requests / singleSeconds),
      batchedApplicantsPerSecond: Math.round((sets * perSet) / batchSeconds),
      eventLoopDelayP99Ms: ms(loop.percentile(99) / 1e6),
      eventLoopDelayMaxMs: ms(loop.max / 1e6),
    });
    await pool.close();
  }

  // ---- wasm heap over many predictions through a 2-worker pool --------------------------------------------------
  const pool = new HeWorkerPool({ size: 2 });
  const heap: { predictions: number; heapMiB: number[] }[] = [];
  const single = (ct: Uint8Array) => pool.evaluate({ sessionId: 'single', material: mlpSingle.publicMaterial, model: mlp, modelKey: 'mlp', ciphertexts: [ct] });
  const mib = (bytes: number[]) => bytes.map((b) => Math.round((b / 2 ** 20) * 10) / 10);
  const startHeap = mib(await pool.heapBytes());
  // Warm-up: SEAL's memory pools settle at their working size during the first few hundred calls.
  const warmup = 500;
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < warmup) await single(singleCts[next++ % singleCts.length]!);
    }),
  );
  heap.push({ predictions: 0, heapMiB: mib(await pool.heapBytes()) });
  const rssStart = process.memoryUsage().rss;
  let done = 0;
  const step = 500;
  let t = performance.now();
  while (done < PREDICTIONS) {
    const batch = Math.min(step, PREDICTIONS - done);
    next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < batch) await single(singleCts[(done + next++) % singleCts.length]!);
      }),
    );
    done += batch;
    heap.push({ predictions: done, heapMiB: mib(await pool.heapBytes()) });
  }
  const memorySeconds = (performance.now() - t) / 1000;
  const rssEnd = process.memoryUsage().rss;
  await pool.close();
  for (const s of sessions.values()) closeKeySession(s);

  const singles = results.filter((r) => r.layout !== 'batched');
  const batched = results.filter((r) => r.layout === 'batched');
  const tables: Table[] = [
    {
      title: 'Single applicant: server time per prediction (in process, one worker thread’s worth of CPU)',
      columns: ['model', 'layout', 'params', 'gain', 'p50 ms', 'p95 ms', 'request KB', 'response KB', 'max |error|', 'flips', 'acc plain / enc', 'rows'],
      rows: singles.map((r) => [
        r.model as string,
        r.layout as string,
        r.params as string,
        String(r.gain),
        r.serverMsP50 as number,
        r.serverMsP95 as number,
        r.requestKB as number,
        r.responseKB as number,
        (r.maxError as number).toExponential(1),
        r.flips as number,
        `${r.accuracyPlain} / ${r.accuracyEncrypted}`,
        r.rowsChecked as number,
      ]),
      notes: [
        'Server time = unwrap + check + SEAL load of the request, the evaluation, mod-switch, save + zlib of the answer.',
        'single: every slot decrypts to the logit; single-masked: slot 0 only (one more level: the MLP needs n8192).',
        'gain: the calibrated power of two the polynomial is scaled by to fit the ±32 headroom of n4096 (undone by the recorded scale).',
      ],
    },
    {
      title: 'Batched (one applicant per slot): throughput in process',
      columns: ['model', 'params', 'gain', 'applicants/set', 'server ms/set', 'applicants/s', 'request KB/set', 'response KB', 'bytes/applicant', 'client encrypt ms/set', 'max |error| (131 rows)', 'flips'],
      rows: batched.map((r) => [
        r.model as string,
        r.params as string,
        String(r.gain),
        r.applicantsPerSet as number,
        r.serverMsPerSet as number,
        r.applicantsPerSecond as number,
        r.requestKBPerSet as number,
        r.responseKBPerSet as number,
        r.bytesPerApplicant as number,
        r.clientEncryptMsPerSet as number,
        (r.maxError as number).toExponential(1),
        r.flips as number,
      ]),
    },
    {
      title: 'Key session (uploaded once)',
      columns: ['model', 'layout', 'params', 'Galois steps', 'Galois KB', 'relin KB', 'upload KB', 'client keygen ms'],
      rows: results.map((r) => [r.model as string, r.layout as string, r.params as string, r.galoisSteps as number, r.galoisKB as number, r.relinKB as number, r.uploadKB as number, r.keygenMs as number]),
    },
    {
      title: 'Worker pool (MLP 16 square; single at n4096, batched at n8192)',
      columns: ['workers', 'single predictions/s', 'batched applicants/s', 'event-loop delay p99 ms', 'max ms'],
      rows: poolRuns.map((r) => [r.workers as number, r.singlePerSecond as number, r.batchedApplicantsPerSecond as number, r.eventLoopDelayP99Ms as number, r.eventLoopDelayMaxMs as number]),
      notes: [`Single: 4 requests in flight per worker; batched: full ${perSet}-applicant sets. Event-loop delay is the main thread’s, measured while both ran.`],
    },
    {
      title: `Wasm heap per worker over ${PREDICTIONS} single-applicant MLP predictions (2 workers)`,
      columns: ['predictions', 'heap MiB (worker 1, worker 2)'],
      rows: heap.map((h) => [h.predictions, h.heapMiB.join(', ')]),
      notes: [
        `Counted after ${warmup} warm-up predictions; the heap was ${startHeap.join(', ')} MiB before the first prediction (the wasm heap only grows, so growth is what a leak would show).`,
        `${round3(PREDICTIONS / memorySeconds)} predictions/s during the run; main-process RSS ${Math.round(rssStart / 2 ** 20)} → ${Math.round(rssEnd / 2 ** 20)} MiB.`,
        growthNote(heap),
      ],
    },
  ];
  await writeResult('he', { predictionsForMemory: PREDICTIONS, single: singles, batched, pool: poolRuns, heap, heapBeforeWarmupMiB: startHeap }, tables);
}
