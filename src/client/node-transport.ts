/**
 * The SDK's default way of sending one HTTP request: node:http / node:https over a keep-alive agent, the
 * whole answer collected as bytes. The global (undici) fetch did this job before, but an owner's exchanges
 * are small and many (30,000 owners, several requests each, in `fedscore simulate`), and fetch's web
 * streams, per-request AbortSignal.timeout/AbortSignal.any and Response objects were the owners' largest
 * single CPU cost. Here a request is one ClientRequest, one timer and at most one abort listener.
 *
 * The contract (`Transport`) is what FedscoreClient needs and nothing more; http-client.ts wraps an
 * injected fetch into the same shape. A transport rejects with `RequestTimeoutError` when its time limit
 * passes, with the caller's `signal.reason` when that signal aborts, and otherwise with the system error
 * (its `code`: ECONNREFUSED, ECONNRESET, …) for FedscoreClient to put into words.
 */
import http from 'node:http';
import https from 'node:https';
import { defaultMaxListeners, getMaxListeners, setMaxListeners } from 'node:events';
import { urlToHttpOptions } from 'node:url';

export interface TransportRequest {
  method: string;
  /** Absolute http(s) URL. */
  url: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /** Covers the whole exchange: waiting for a socket, connecting, sending and reading the answer. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface TransportAnswer {
  status: number;
  statusText: string;
  /** A response header by (case-insensitive) name, or null, as `Headers.get` answers. */
  header(name: string): string | null;
  /** The whole body; a plain Uint8Array over its own ArrayBuffer, as `new Uint8Array(await response.arrayBuffer())`. */
  body: Uint8Array;
}

export interface Transport {
  send(request: TransportRequest): Promise<TransportAnswer>;
}

/** The time limit passed before the answer was complete. */
export class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`no answer within ${timeoutMs} ms`, options);
    this.name = 'RequestTimeoutError';
  }
}

// fetch sends an empty body's length on these (and only these) methods; a server may insist on it.
const EXPECTS_PAYLOAD = new Set(['POST', 'PUT', 'PATCH']);

/**
 * One keep-alive agent per protocol, shared by every request through this instance: FedscoreClient hands the
 * same instance to the clients `withApiKey` and `withSignal` make, so thousands of owner clients reuse a
 * few connections instead of opening one each.
 */
export class NodeTransport implements Transport {
  // No cap on sockets, as undici's global dispatcher has none: long polls (waitForRound) hold theirs for
  // up to a minute and must not queue behind each other. A free socket is unref'd by the agent (it does not
  // keep the process alive) and closed after `timeout`, or a second before the server's announced
  // Keep-Alive timeout when that is sooner (Node reads the hint only when the agent has a timeout of its own).
  // Up to 1024 idle ones are kept, simulate's largest --concurrency, where Node's default would close past 256.
  readonly #agentOptions: http.AgentOptions = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024, scheduling: 'lifo', timeout: 30_000 };
  readonly #http = new http.Agent(this.#agentOptions);
  #https: https.Agent | undefined;

  send(request: TransportRequest): Promise<TransportAnswer> {
    const { signal } = request;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const url = new URL(request.url);
    const secure = url.protocol === 'https:';
    const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : request.body;
    const headers: Record<string, string> = { ...request.headers };
    if (body !== undefined) headers['content-length'] = String(body.byteLength);
    else if (EXPECTS_PAYLOAD.has(request.method)) headers['content-length'] = '0';
    const options: http.RequestOptions = {
      ...urlToHttpOptions(url),
      method: request.method,
      headers,
      agent: secure ? (this.#https ??= new https.Agent(this.#agentOptions)) : this.#http,
    };

    return new Promise<TransportAnswer>((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (error: unknown, answer?: TransportAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (answer) resolve(answer);
        else reject(error);
      };
      // destroy() also frees the socket: an abandoned exchange must not be reused for the next request.
      const onAbort = (): void => {
        const reason: unknown = signal!.reason;
        finish(reason);
        req.destroy(reason instanceof Error ? reason : undefined);
      };

      const req = (secure ? https : http).request(options, (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          length += chunk.length;
        });
        res.on('error', (error) => finish(error));
        res.on('end', () => {
          // Copied into a buffer of its own: a Buffer from the socket (or Buffer.concat) may sit at any offset
          // of a shared pool, and readers take typed-array views of the body.
          const bytes = new Uint8Array(length);
          let offset = 0;
          for (const chunk of chunks) {
            bytes.set(chunk, offset);
            offset += chunk.length;
          }
          const received = res.headers;
          finish(undefined, {
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            header: (name) => {
              const value = received[name.toLowerCase()];
              return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
            },
            body: bytes,
          });
        });
      });
      req.on('error', (error) => finish(error));
      timer = setTimeout(() => {
        const error = new RequestTimeoutError(request.timeoutMs);
        finish(error);
        req.destroy(error);
      }, request.timeoutMs);
      // As AbortSignal.timeout's timer: a pending request's socket keeps the process alive, the timer need not.
      timer.unref();
      if (signal) {
        allowManyListeners(signal);
        signal.addEventListener('abort', onAbort, { once: true });
      }
      req.end(body);
    });
  }
}

const raised = new WeakSet<AbortSignal>();

/**
 * One client signal is shared by every request of that client (and of the owner clients made from it), so
 * up to --concurrency listeners at once is expected, not the leak Node warns of past 10. undici raises the
 * limit of the signals given to fetch in the same way; a limit the caller chose is left alone.
 */
function allowManyListeners(signal: AbortSignal): void {
  if (raised.has(signal)) return;
  raised.add(signal);
  let limit: number;
  try {
    limit = getMaxListeners(signal);
  } catch {
    return; // Node 20 cannot read a limit of 0 (none) back: nothing to raise
  }
  if (limit === defaultMaxListeners) setMaxListeners(0, signal);
}
