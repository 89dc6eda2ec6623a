/**
 * Listens and closes gracefully; nothing else. `fedscore serve` and the in-process simulator use it.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
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
  // A connection that has not sent a request yet holds nothing in flight, but Node counts it as active until
  // its headersTimeout (60 s), and closing would wait for it: a client that connected and then gave up (an
  // aborted fetch) held `fedscore simulate` open for a minute. Such connections are ended at close.
  const unused = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  app.server.on('request', (request: IncomingMessage) => unused.delete(request.socket));
  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= (() => {
        const closed = app.close();
        for (const socket of unused) socket.destroy();
        return closed;
      })()),
  };
}
