/**
 * Starts a worker thread on a module beside the caller, compiled or not. From the compiled package the
 * thread runs `<stem>.js`; from the TypeScript sources (tests, `tsx`, a checkout without a build) a thread
 * does not inherit tsx's loader, so it registers tsx itself before importing `<stem>.ts`.
 */
import { Worker } from 'node:worker_threads';

/** `callerUrl` is the caller's `import.meta.url`; the module is `stem` in the same folder. */
export function startWorkerModule(callerUrl: string, stem: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${stem}.js`, callerUrl), { workerData });
  const entry = new URL(`./${stem}.ts`, callerUrl).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(source, { eval: true, workerData });
}
