/**
 * `fedscore simulate`'s private server, on a thread of its own. In one thread the server and thousands of
 * simulated owners took turns on one core while the other sat idle (the 30,000-owner profile: the main
 * thread busy throughout, the training threads 99 % idle): the run measured the two of them queueing
 * behind each other. On its own thread the server has a core and an event loop to itself, as a real
 * deployment's would, and still lives and dies with the command.
 */
import type { RunningServer } from '../server.js';
import { startWorkerModule } from '../client/worker-module.js';

/** What the server thread says: once started (or why not), and once closed. */
export type ServerThreadMessage = { type: 'listening'; url: string } | { type: 'failed'; message: string } | { type: 'closed' };

/** Starts `fedscore serve`'s server on a worker thread with settings from `env` (loadConfig's input). */
export async function startServerThread(env: Record<string, string | undefined>): Promise<RunningServer> {
  const worker = startWorkerModule(import.meta.url, 'local-server-worker', { env });
  const url = await new Promise<string>((resolve, reject) => {
    const onExit = (code: number) => reject(new Error(`startServerThread: the server thread exited (code ${code}) before listening`));
    worker.once('error', reject);
    worker.once('exit', onExit);
    worker.once('message', (message: ServerThreadMessage) => {
      worker.off('error', reject);
      worker.off('exit', onExit);
      if (message.type === 'listening') resolve(message.url);
      else reject(new Error(message.type === 'failed' ? message.message : 'startServerThread: the server thread closed before listening'));
    });
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        // A graceful close in the thread (in-flight requests finish, the database disconnects); once it says
        // so the thread is ended, whatever else (a timer, a handle) might have kept it alive.
        worker.once('exit', () => resolve());
        worker.once('error', reject);
        worker.on('message', (message: ServerThreadMessage) => {
          if (message.type === 'closed') void worker.terminate();
        });
        worker.postMessage('close');
      })),
  };
}
