/**
 * Entry of one evaluation worker thread (started by HeWorkerPool). It owns its own SEAL instance and a
 * small LRU of opened sessions (deserialised keys, shared contexts, prepared model plaintexts), so a
 * session's 2–8 MB of keys are parsed once per worker rather than once per request, and the ~25 ms of
 * SEAL work per prediction never runs on the server's event loop. Messages are handled one at a time.
 *
 * Protocol (all messages carry the job id they answer):
 *   in   evaluate { sessionId, modelKey, model?, ciphertexts, layout?, material? } · forget { sessionId } · heap {}
 *        (no model: only open and cache the session, which checks its material)
 *   out  ready · result { outputs, sessions } · need-material · error { error, retire? } · heap { bytes }
 * `need-material` asks the pool for the session's public material when this worker has not got the
 * session loaded; the pool resends the job with it. `retire` asks the pool to replace this worker after
 * a wasm trap (see seal-bytes.ts: a trapped instance may be corrupt).
 */

import { parentPort, workerData } from 'node:worker_threads';
import { HeInputError, HeWorkerError, isWasmTrap, serialiseError } from './errors.js';
import { openEvaluationSession, type EvaluationSession } from './evaluator.js';
import type { HePublicMaterial } from './material.js';
import { getSeal, sealHeapBytes } from './seal-runtime.js';
import { CRASH_MODEL_KEY, HANG_MODEL_KEY, type FromWorker, type ToWorker, type WorkerOptions } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('he-worker: expected to run in a worker thread');
const options = workerData as WorkerOptions;
const sessions = new Map<string, EvaluationSession>();
const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

function sessionFor(sessionId: string, material: HePublicMaterial | undefined, seal: Awaited<ReturnType<typeof getSeal>>): EvaluationSession | undefined {
  const hit = sessions.get(sessionId);
  if (hit !== undefined) {
    sessions.delete(sessionId);
    sessions.set(sessionId, hit);
    return hit;
  }
  if (material === undefined) return undefined;
  const opened = openEvaluationSession(seal, material);
  sessions.set(sessionId, opened);
  while (sessions.size > options.sessionCacheSize) {
    const [oldest, session] = sessions.entries().next().value as [string, EvaluationSession];
    sessions.delete(oldest);
    session.delete();
  }
  return opened;
}

async function handle(message: ToWorker): Promise<void> {
  const seal = await getSeal();
  switch (message.type) {
    case 'evaluate': {
      try {
        // Test hook: die with the job in flight, as a wasm abort inside SEAL would.
        if (options.testHooks && message.modelKey === CRASH_MODEL_KEY) process.exit(70);
        // Test hook: spin without answering, as a SEAL call stuck inside wasm would; only terminate() ends it.
        if (options.testHooks && message.modelKey === HANG_MODEL_KEY) for (;;);
        const session = sessionFor(message.sessionId, message.material, seal);
        if (session === undefined) {
          post({ type: 'need-material', id: message.id });
          return;
        }
        if (message.layout !== undefined && message.layout !== session.material.layout) {
          throw new HeInputError('bad-layout', `evaluate: the key session was created for the ${session.material.layout} layout, not ${String(message.layout).slice(0, 20)}`);
        }
        const outputs = message.model === undefined ? [] : session.evaluate(message.model, message.ciphertexts, message.modelKey);
        post({ type: 'result', id: message.id, outputs, sessions: [...sessions.keys()] }, outputs.map((o) => o.buffer as ArrayBuffer));
      } catch (err) {
        if (isWasmTrap(err)) {
          // A trapped SEAL instance may be corrupt: answer, then let the pool replace this worker.
          const error = serialiseError(new HeWorkerError('internal', 'evaluate: SEAL aborted; the worker is being replaced'));
          post({ type: 'error', id: message.id, error, sessions: [], retire: true });
          return;
        }
        post({ type: 'error', id: message.id, error: serialiseError(err), sessions: [...sessions.keys()] });
      }
      return;
    }
    case 'forget': {
      sessions.get(message.sessionId)?.delete();
      sessions.delete(message.sessionId);
      return;
    }
    case 'heap':
      post({ type: 'heap', id: message.id, bytes: sealHeapBytes() ?? 0 });
      return;
  }
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (message: ToWorker) => {
  chain = chain.then(() => handle(message));
});
void getSeal().then(() => post({ type: 'ready' }));
