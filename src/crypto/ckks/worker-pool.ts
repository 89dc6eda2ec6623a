/**
 * A pool of worker threads that run homomorphic evaluations, so that SEAL (synchronous wasm, ~15–30 ms
 * per prediction at N=4096) never blocks the server's event loop, and two cores give close to twice the
 * throughput. Each worker keeps an LRU of opened sessions; a job goes preferably to a worker that has
 * its session, and a worker that lacks it asks for the public material, which the pool loads through
 * the job's callback (typically a database read) only then. A worker that crashes or overruns its
 * time limit is replaced and only its in-flight job is rejected (HeWorkerError). close() lets queued
 * and running jobs finish, then stops the threads.
 *
 * The worker entry is resolved next to this file (see workerEntry), so the pool works both from
 * src/ under tsx and from dist/.
 */

import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { deserialiseError, HeWorkerError } from './errors.js';
import type { HeModel } from './he-model.js';
import type { FromWorker, ToWorker, WorkerOptions } from './worker-protocol.js';
import type { HeLayout } from './layout.js';
import type { HePublicMaterial } from './material.js';

export interface HeWorkerPoolOptions {
  /** Worker threads; default min(2, number of CPUs). */
  size?: number;
  /** Sessions each worker keeps loaded; default 8 (≈2–10 MB of keys each at N=4096). */
  sessionCacheSize?: number;
  /** A job running longer is abandoned and its worker replaced; default 60 s. */
  jobTimeoutMs?: number;
  /** Lets a job with modelKey CRASH_MODEL_KEY kill its worker, HANG_MODEL_KEY hang it (crash and timeout tests); never set in production. */
  testHooks?: boolean;
}

export interface HeEvaluationJob {
  /** The key session's stable id (the cache key in the workers). */
  sessionId: string;
  /** The session's public material, or a loader called only when a worker has not got it cached. */
  material: HePublicMaterial | (() => Promise<HePublicMaterial>);
  model: HeModel;
  /** Identifies the model version (e.g. `${federationId}:${version}`): prepared plaintexts are cached by it. */
  modelKey: string;
  ciphertexts: Uint8Array[];
  /** When given, must equal the session's layout. */
  layout?: HeLayout;
}

/** An evaluation, or (model undefined) just opening the session in a worker. */
type JobSpec = Omit<HeEvaluationJob, 'model'> & { model?: HeModel };

interface Job {
  id: number;
  spec: JobSpec;
  material?: Promise<HePublicMaterial>;
  /** Times a younger job went first (session affinity); bounded so that no job starves. */
  bypassed: number;
  resolve(outputs: Uint8Array[]): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  sessions: Set<string>;
  timer: NodeJS.Timeout | undefined;
  timedOut: boolean;
  /** Set once this slot's worker is being replaced or stopped, so its exit is not treated twice. */
  retired: boolean;
}

/**
 * Compiled, the entry is he-worker.js beside this file. Under tsx it is he-worker.ts, and on Node 20
 * `execArgv: ['--import', 'tsx']` does not reach a worker's entry module ("Unknown file extension
 * .ts"), so a one-line bootstrap registers tsx's ESM hooks in the worker and then imports the entry.
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return { entry: new URL('./he-worker.js', here), eval: false };
  const target = JSON.stringify(new URL('./he-worker.ts', here).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return { entry: `import(${tsx}).then((api) => { api.register(); return import(${target}); })`, eval: true };
}

export class HeWorkerPool {
  readonly size: number;
  private readonly options: WorkerOptions;
  private readonly timeoutMs: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly heapWaiters = new Map<number, (bytes: number) => void>();
  /** Workers replaced after a crash or a timeout since the pool started. */
  crashes = 0;

  constructor(options: HeWorkerPoolOptions = {}) {
    const size = options.size ?? Math.min(2, os.cpus().length);
    if (!Number.isSafeInteger(size) || size < 1 || size > 64) throw new RangeError(`HeWorkerPool: size expected an integer in [1, 64], got ${size}`);
    const cache = options.sessionCacheSize ?? 8;
    if (!Number.isSafeInteger(cache) || cache < 1) throw new RangeError(`HeWorkerPool: sessionCacheSize expected a positive integer, got ${cache}`);
    this.size = size;
    this.timeoutMs = options.jobTimeoutMs ?? 60_000;
    this.options = { sessionCacheSize: cache, testHooks: options.testHooks ?? false };
    for (let k = 0; k < size; k++) this.slots.push(this.spawn());
  }

  /** Jobs waiting for a free worker (running ones not included). */
  get queued(): number {
    return this.queue.length;
  }

  /** Scores ciphertexts in a worker; rejects with HeInputError (client's fault) or HeWorkerError. */
  evaluate(spec: HeEvaluationJob): Promise<Uint8Array[]> {
    if (this.closing !== undefined) return Promise.reject(new HeWorkerError('closed', 'HeWorkerPool.evaluate: the pool is closing'));
    if (typeof spec.sessionId !== 'string' || spec.sessionId.length === 0) return Promise.reject(new TypeError('HeWorkerPool.evaluate: expected a sessionId'));
    if (typeof spec.modelKey !== 'string' || spec.modelKey.length === 0) return Promise.reject(new TypeError('HeWorkerPool.evaluate: expected a modelKey'));
    return this.enqueue(spec);
  }

  /**
   * Opens a session in a worker and keeps it cached there: every key is checked, so a bad upload is
   * refused (HeInputError) when it is made rather than at the first prediction.
   */
  async openSession(sessionId: string, material: HePublicMaterial): Promise<void> {
    if (this.closing !== undefined) throw new HeWorkerError('closed', 'HeWorkerPool.openSession: the pool is closing');
    if (typeof sessionId !== 'string' || sessionId.length === 0) throw new TypeError('HeWorkerPool.openSession: expected a sessionId');
    await this.enqueue({ sessionId, material, modelKey: '', ciphertexts: [] });
  }

  private enqueue(spec: JobSpec): Promise<Uint8Array[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, spec, bypassed: 0, resolve, reject });
      this.dispatch();
    });
  }

  /** Drops a session from every worker (e.g. when the lender deletes it). */
  forgetSession(sessionId: string): void {
    for (const slot of this.slots) {
      slot.sessions.delete(sessionId);
      slot.worker.postMessage({ type: 'forget', sessionId } satisfies ToWorker);
    }
  }

  /** Each worker's wasm heap size in bytes (for benchmarks and leak checks). */
  async heapBytes(): Promise<number[]> {
    return Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<number>((resolve) => {
            const id = this.nextId++;
            this.heapWaiters.set(id, resolve);
            slot.worker.postMessage({ type: 'heap', id } satisfies ToWorker);
          }),
      ),
    );
  }

  /** Waits for queued and running jobs, then stops every worker. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await new Promise<void>((resolve) => {
        if (this.idle()) resolve();
        else this.idleWaiters.push(resolve);
      });
      await Promise.all(
        this.slots.map((slot) => {
          slot.retired = true;
          return slot.worker.terminate();
        }),
      );
    })();
    return this.closing;
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.slots.every((s) => s.job === undefined);
  }

  private spawn(): Slot {
    const entry = workerEntry();
    // execArgv [] so that a worker does not inherit flags such as --test from the parent.
    const worker = new Worker(entry.entry, { eval: entry.eval, execArgv: [], workerData: this.options });
    const slot: Slot = { worker, job: undefined, sessions: new Set(), timer: undefined, timedOut: false, retired: false };
    worker.on('message', (message: FromWorker) => this.onMessage(slot, message));
    worker.on('error', (err) => this.onExit(slot, `worker failed: ${err.message.slice(0, 200)}`));
    worker.on('exit', (code) => this.onExit(slot, `worker exited with code ${code}`));
    return slot;
  }

  private onExit(slot: Slot, why: string): void {
    if (slot.retired) return;
    const job = slot.job;
    slot.job = undefined;
    this.crashes++;
    if (job !== undefined) {
      job.reject(
        slot.timedOut
          ? new HeWorkerError('timeout', `HeWorkerPool: the evaluation exceeded ${this.timeoutMs} ms and its worker was replaced`)
          : new HeWorkerError('crashed', `HeWorkerPool: ${why}; the worker was replaced`),
      );
    }
    this.replace(slot);
  }

  /** Stops a slot's worker and puts a fresh one in its place (even while closing: the queue must drain). */
  private replace(slot: Slot): void {
    slot.retired = true;
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    void slot.worker.terminate();
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots[index] = this.spawn();
    this.dispatch();
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    if (message.type === 'ready') return;
    if (message.type === 'heap') {
      this.heapWaiters.get(message.id)?.(message.bytes);
      this.heapWaiters.delete(message.id);
      return;
    }
    const job = slot.job;
    if (job === undefined || job.id !== message.id) return;
    if (message.type === 'need-material') {
      job.material ??= (async () => {
        const m = job.spec.material;
        return typeof m === 'function' ? m() : m;
      })();
      job.material.then(
        (material) => {
          if (slot.job === job && !slot.retired) this.post(slot, job, material);
        },
        (err: unknown) => this.settle(slot, job, err instanceof Error ? err : new Error(String(err))),
      );
      return;
    }
    slot.sessions = new Set(message.sessions);
    if (message.type === 'result') {
      this.settle(slot, job, undefined, message.outputs);
      return;
    }
    if (message.retire === true) {
      // Detach the job first so that the replacement's exit does not reject it a second time.
      slot.job = undefined;
      this.replace(slot);
      job.reject(deserialiseError(message.error));
      return;
    }
    this.settle(slot, job, deserialiseError(message.error));
  }

  private settle(slot: Slot, job: Job, err: Error | undefined, outputs?: Uint8Array[]): void {
    if (slot.timer !== undefined) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.job = undefined;
    if (err !== undefined) job.reject(err);
    else job.resolve(outputs as Uint8Array[]);
    this.dispatch();
  }

  private post(slot: Slot, job: Job, material?: HePublicMaterial): void {
    const { spec } = job;
    const message: ToWorker = {
      type: 'evaluate',
      id: job.id,
      sessionId: spec.sessionId,
      modelKey: spec.modelKey,
      model: spec.model,
      ciphertexts: spec.ciphertexts,
      ...(spec.layout !== undefined ? { layout: spec.layout } : {}),
      ...(material !== undefined ? { material } : {}),
    };
    slot.worker.postMessage(message);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (slot.job !== undefined || slot.retired) continue;
      // Prefer a job whose session this worker holds, then one no other worker holds, then the oldest;
      // the oldest goes first anyway once younger jobs have overtaken it a few times.
      let index = 0;
      if (this.queue[0]!.bypassed < 2 * this.slots.length) {
        index = this.queue.findIndex((j) => slot.sessions.has(j.spec.sessionId));
        if (index < 0) {
          const elsewhere = (j: Job): boolean => this.slots.some((s) => s !== slot && s.sessions.has(j.spec.sessionId));
          index = Math.max(0, this.queue.findIndex((j) => !elsewhere(j)));
        }
      }
      for (let k = 0; k < index; k++) this.queue[k]!.bypassed++;
      const job = this.queue.splice(index, 1)[0]!;
      const material = job.spec.material;
      slot.job = job;
      slot.timedOut = false;
      slot.timer = setTimeout(() => {
        slot.timedOut = true;
        void slot.worker.terminate();
      }, this.timeoutMs);
      // Send the material up front only when it is at hand and the worker is known to lack it.
      this.post(slot, job, typeof material !== 'function' && !slot.sessions.has(job.spec.sessionId) ? material : undefined);
    }
    if (this.idle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
