/**
 * Local training on worker threads, for `fedscore simulate`: one process playing thousands of owners
 * cannot train them all on the thread that also sends their requests, or it measures its own training
 * instead of the server. A pool of N threads trains N owners at once; each job is `trainLocalSync` on a copy
 * of the owner's rows, so the weights are bit-identical to training on the calling thread (the CPU
 * backend's kernels are the same JavaScript in every thread). The same threads seal owners' shares
 * (`shareUpload`: five X25519 agreements per owner, as dear as the rest of an owner's work on this thread
 * together) and open and sum committee inboxes (`partialSum`): a secure round's members each open every
 * owner's envelope once the round freezes, while the server waits, and on the pool they do it side by side.
 */
import type { Worker } from 'node:worker_threads';
import type { ModelSpec } from '../ml/model-spec.js';
import { activeBackend } from '../ml/tf.js';
import type { TrainOptions, TrainResult } from '../ml/train.js';
import { sealingRound, type PartialSumArgs, type ShareUpload, type ShareUploadArgs } from './secure-shares.js';
import { startWorkerModule } from './worker-module.js';

/** What a worker is sent: the rows packed in one array, so one copy crosses the thread boundary. */
export interface TrainingJob {
  id: number;
  spec: ModelSpec;
  weights: Float32Array;
  rows: Float32Array;
  width: number;
  y: Uint8Array;
  options: TrainOptions;
}

/** A committee member's inbox to open and sum (`partialSumValues`' arguments). */
export interface SummingJob {
  id: number;
  kind: 'sum';
  args: PartialSumArgs;
}

/** An owner's trained update to encode, split and seal to its committee (`buildShareUpload`'s arguments). */
export interface SealingJob {
  id: number;
  kind: 'seal';
  args: ShareUploadArgs;
}

export type PoolJob = (TrainingJob & { kind: 'train' }) | SummingJob | SealingJob;

type PoolResult = TrainResult | Uint8Array | ShareUpload;

export type TrainingReply = { id: number; result: PoolResult } | { id: number; error: string };

export interface TrainingPool {
  readonly size: number;
  /** `trainLocal`'s signature and results, on one of the pool's threads. */
  train(spec: ModelSpec, weights: Float32Array, X: Float32Array[], y: Uint8Array, options: TrainOptions): Promise<TrainResult>;
  /** `partialSumValues`' result, on one of the pool's threads. */
  partialSum(args: PartialSumArgs): Promise<Uint8Array>;
  /** `buildShareUpload`'s result, on one of the pool's threads. */
  shareUpload(args: ShareUploadArgs): Promise<ShareUpload>;
  /** Stops the threads; jobs still running reject. */
  close(): Promise<void>;
}

interface Thread {
  worker: Worker;
  pending: Map<number, { resolve(result: PoolResult): void; reject(error: Error): void }>;
}

/** Starts `size` threads on the backend this thread uses (TF_BACKEND), default 'cpu'. */
export function createTrainingPool(size: number): TrainingPool {
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`createTrainingPool: expected a positive whole number of threads, got ${size}`);
  const backend = activeBackend() ?? 'cpu';
  let nextId = 0;
  let closed = false;
  const threads: Thread[] = Array.from({ length: size }, () => {
    const thread: Thread = { worker: startWorker(backend), pending: new Map() };
    // Idle threads do not keep the process alive; a thread with work does.
    thread.worker.unref();
    const failAll = (error: Error) => {
      for (const job of thread.pending.values()) job.reject(error);
      thread.pending.clear();
    };
    thread.worker.on('message', (reply: TrainingReply) => {
      const job = thread.pending.get(reply.id);
      if (!job) return;
      thread.pending.delete(reply.id);
      if (thread.pending.size === 0) thread.worker.unref();
      if ('error' in reply) job.reject(new Error(reply.error));
      else job.resolve(reply.result);
    });
    thread.worker.on('error', (error) => failAll(error));
    thread.worker.on('exit', (code) => failAll(new Error(`training pool: a worker thread exited (code ${code}) with ${thread.pending.size} job(s) running`)));
    return thread;
  });

  /** To the least busy thread: owners differ in rows and inboxes in size, so jobs differ in length. */
  const post = (job: PoolJob, transfer: ArrayBuffer[]) => {
    const thread = threads.reduce((best, t) => (t.pending.size < best.pending.size ? t : best));
    return new Promise<PoolResult>((resolve, reject) => {
      thread.pending.set(job.id, { resolve, reject });
      thread.worker.ref();
      thread.worker.postMessage(job, transfer);
    });
  };

  return {
    size,
    train(spec, weights, X, y, options) {
      if (closed) return Promise.reject(new Error('training pool: closed'));
      if (X.length === 0) return Promise.reject(new Error('trainLocal: expected at least one sample, got 0'));
      const width = X[0]!.length;
      const rows = new Float32Array(X.length * width);
      X.forEach((row, i) => {
        if (row.length !== width) throw new Error(`trainLocal: row ${i} expected a Float32Array of ${width} features, got ${row.length}`);
        rows.set(row, i * width);
      });
      const job: PoolJob = { kind: 'train', id: nextId++, spec, weights: weights.slice(), rows, width, y: y.slice(), options };
      return post(job, [job.weights.buffer as ArrayBuffer, rows.buffer as ArrayBuffer, job.y.buffer as ArrayBuffer]) as Promise<TrainResult>;
    },
    partialSum(args) {
      if (closed) return Promise.reject(new Error('training pool: closed'));
      return post({ kind: 'sum', id: nextId++, args }, []) as Promise<Uint8Array>;
    },
    shareUpload(args) {
      if (closed) return Promise.reject(new Error('training pool: closed'));
      return post({ kind: 'seal', id: nextId++, args: { ...args, round: sealingRound(args.round) } }, []) as Promise<ShareUpload>;
    },
    async close() {
      closed = true;
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}

/** A pool thread, started on this file's sibling training-worker module. */
function startWorker(backend: string): Worker {
  return startWorkerModule(import.meta.url, 'training-worker', { backend });
}
