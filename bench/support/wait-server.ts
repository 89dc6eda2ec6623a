/**
 * A fedscore server in its own process for the round-waits benchmark, so its memory and event-loop delay
 * are its own and not the load generator's. It prints its URL, then answers `stats` messages over IPC.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '../../src/config.js';
import { buildApp } from '../../src/http/app.js';

const app = await buildApp({ config: loadConfig(process.env), logger: false, sweepDeadlines: false });
const address = await app.listen({ port: 0, host: '127.0.0.1' });
let delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();

process.on('message', (message: { type: string }) => {
  if (message.type === 'reset') {
    delay.disable();
    delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    process.send!({ type: 'reset' });
  } else if (message.type === 'stats') {
    const memory = process.memoryUsage();
    process.send!({
      type: 'stats',
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      eventLoopDelayP99Ms: delay.percentile(99) / 1e6,
      eventLoopDelayMaxMs: delay.max / 1e6,
      waiting: app.services.rounds.watch.waiting,
    });
  } else if (message.type === 'close') {
    void app.close().then(() => process.exit(0));
  }
});
process.send!({ type: 'ready', url: address });
