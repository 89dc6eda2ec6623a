/**
 * The server thread of local-server-thread.ts: `startServer` with the settings it was given, then a
 * graceful close when asked. It answers nothing but its own state.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../config.js';
import { startServer } from '../server.js';
import type { ServerThreadMessage } from './local-server-thread.js';

const port = parentPort;
if (!port) throw new Error('local-server-worker: expected to run in a worker thread');
const say = (message: ServerThreadMessage) => port.postMessage(message);

try {
  const server = await startServer(loadConfig((workerData as { env: Record<string, string | undefined> }).env), { logger: false });
  port.once('message', () => {
    void server.close().finally(() => {
      say({ type: 'closed' });
      port.close();
    });
  });
  say({ type: 'listening', url: server.url });
} catch (error) {
  say({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  port.close();
}
