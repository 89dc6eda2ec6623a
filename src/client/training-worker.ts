/**
 * One thread of a training pool (training-pool.ts): it receives an owner's rows and the base weights, runs
 * the same `trainLocalSync` an owner runs on its own thread, on the same TensorFlow.js backend, and sends the
 * result back; or an owner's update to seal (`buildShareUpload`), or a committee member's inbox, which it
 * opens and sums as `partialSumValues` does. Nothing here is shared between jobs but the backend, so results do not depend on which thread
 * trained which owner.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initTf, type TfBackend } from '../ml/tf.js';
import { trainLocalSync } from '../ml/train.js';
import { buildShareUpload, partialSumValues } from './secure-shares.js';
import type { PoolJob, TrainingReply } from './training-pool.js';

const port = parentPort;
if (!port) throw new Error('training-worker: expected to run in a worker thread');
await initTf((workerData as { backend: TfBackend }).backend);

port.on('message', (job: PoolJob) => {
  let reply: TrainingReply;
  try {
    if (job.kind === 'seal') {
      const upload = buildShareUpload(job.args);
      port.postMessage({ id: job.id, result: upload } satisfies TrainingReply);
      return;
    }
    if (job.kind === 'sum') {
      const sum = partialSumValues(job.args);
      port.postMessage({ id: job.id, result: sum } satisfies TrainingReply, [sum.buffer as ArrayBuffer]);
      return;
    }
    const X = Array.from({ length: job.y.length }, (_, i) => job.rows.subarray(i * job.width, (i + 1) * job.width));
    const result = trainLocalSync(job.spec, job.weights, X, job.y, job.options);
    reply = { id: job.id, result };
    port.postMessage(reply, [result.weights.buffer as ArrayBuffer]);
  } catch (error) {
    reply = { id: job.id, error: error instanceof Error ? error.message : String(error) };
    port.postMessage(reply);
  }
});
