/**
 * Listens and closes gracefully; nothing else. `fedscore serve` and the in-process simulator use it.
 */
import type { Config } from './config.js';
import { buildApp } from './http/app.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config, opts: { logger?: boolean } = {}): Promise<RunningServer> {
  const app = await buildApp({ config, ...(opts.logger === false ? { logger: false } : {}) });
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '[::1]');
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => (closing ??= app.close()),
  };
}
