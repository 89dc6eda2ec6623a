/**
 * Messages between HeWorkerPool and its he-worker threads, in a module of their own so that either
 * side (and tests) can import them without starting a worker. See he-worker.ts for the protocol.
 */

import type { SerialisedError } from './errors.js';
import type { HeModel } from './he-model.js';
import type { HeLayout } from './layout.js';
import type { HePublicMaterial } from './material.js';

/** With testHooks on, a job with this model key makes its worker exit mid-job (crash tests). */
export const CRASH_MODEL_KEY = '__crash__';
/**
 * With testHooks on, a job with this model key never finishes (timeout tests): a real evaluation's
 * duration depends on the machine, so only a job that cannot end makes the timeout certain.
 */
export const HANG_MODEL_KEY = '__hang__';

export interface WorkerOptions {
  sessionCacheSize: number;
  testHooks: boolean;
}

export type ToWorker =
  | {
      type: 'evaluate';
      id: number;
      sessionId: string;
      modelKey: string;
      /** Absent when the job only opens the session (HeWorkerPool.openSession). */
      model?: HeModel;
      ciphertexts: Uint8Array[];
      layout?: HeLayout;
      material?: HePublicMaterial;
    }
  | { type: 'forget'; sessionId: string }
  | { type: 'heap'; id: number };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; id: number; outputs: Uint8Array[]; sessions: string[] }
  | { type: 'need-material'; id: number }
  | { type: 'error'; id: number; error: SerialisedError; sessions: string[]; retire?: boolean }
  | { type: 'heap'; id: number; bytes: number };

