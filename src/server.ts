/**
 * Listens and closes gracefully; nothing else. `fedscore serve` and the in-process simulator use it.
 */
import type { Config } from './config.js';
import { buildApp } from './http/app.js';
import type { LogOptions } from './http/logging.js';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** `logger`: false for none; true or omitted for LOG_LEVEL on stdout; or another level and destination. */
export async function startServer(config: Config, opts: { logger?: boolean | LogOptions } = {}): Promise<RunningServer> {
  const app = await buildApp({ config, logger: opts.logger === false ? false : opts.logger === true ? {} : (opts.logger ?? {}) });
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '[::1]');
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => (closing ??= app.close()),
  };
}
