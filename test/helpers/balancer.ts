/**
 * A tiny reverse proxy on 127.0.0.1 for multi-instance tests, standing in for HAProxy or any other load
 * balancer without session affinity: every request goes to a backend picked at random, so consecutive
 * requests of one client land on different instances. A backend that refuses the connection (stopped,
 * killed) is skipped and the request tried on another — nothing reached it, so retrying cannot do
 * anything twice. A backend that dies with a request in flight gets that request answered 502, as
 * HAProxy does, and the client decides what to do (the SDK retries 5xx).
 *
 * Request bodies are read whole before forwarding, so a retry can send them again; upstream connections
 * are not kept alive, so a connection to a killed backend is refused rather than reset.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the balancer has just sent, whole, to a backend that has not answered yet. */
export interface Forwarded {
  method: string;
  /** Path and query, as the client sent them. */
  path: string;
  backend: string;
  /** The backend's status code once it answers, or null when it never does (its connection broke). */
  answered: Promise<number | null>;
}

export interface Balancer {
  url: string;
  /** Backends requests may go to (including ones that no longer answer, which are skipped). */
  readonly backends: readonly string[];
  add(backend: string): void;
  remove(backend: string): void;
  /** Called with every request once it is sent to a backend, before the answer: a test may kill that backend now. */
  onForward(listener: (request: Forwarded) => void): void;
  close(): Promise<void>;
}

// RFC 9110 §7.6.1: connection-specific headers are not forwarded.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export async function startBalancer(initial: string[], random: () => number = Math.random): Promise<Balancer> {
  const backends = [...initial];
  const listeners: ((request: Forwarded) => void)[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => forward(request, response, Buffer.concat(chunks)).catch(() => response.destroy()));
  });

  async function forward(request: http.IncomingMessage, response: http.ServerResponse, body: Buffer): Promise<void> {
    const headers = Object.fromEntries(Object.entries(request.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
    headers['content-length'] = String(body.length);
    // Every live backend once, in random order (Fisher–Yates on a copy).
    const order = [...backends];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const backend of order) {
      const outcome = await send(backend, request.method ?? 'GET', request.url ?? '/', headers, body, response);
      if (outcome !== 'refused') return;
    }
    if (!response.headersSent) response.writeHead(503, { 'content-type': 'text/plain' }).end('balancer: no backend accepted the connection\n');
  }

  /** One attempt on one backend: 'refused' when nothing reached it, 'done' once the client has an answer. */
  function send(backend: string, method: string, path: string, headers: http.OutgoingHttpHeaders, body: Buffer, response: http.ServerResponse): Promise<'refused' | 'done'> {
    return new Promise((resolve) => {
      let connected = false;
      let settleAnswer!: (status: number | null) => void;
      const answered = new Promise<number | null>((resolveAnswer) => (settleAnswer = resolveAnswer));
      const upstream = http.request(new URL(path, backend), { method, headers, agent: false });
      upstream.on('socket', (socket) => socket.on('connect', () => (connected = true)));
      upstream.on('finish', () => {
        if (connected) for (const listener of listeners) listener({ method, path, backend, answered });
      });
      // The client gave up (a long poll it abandoned): so does the balancer.
      response.on('close', () => upstream.destroy());
      upstream.on('response', (answer) => {
        settleAnswer(answer.statusCode ?? null);
        const forwarded = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
        response.writeHead(answer.statusCode ?? 502, forwarded);
        answer.pipe(response);
        // A backend killed halfway through its answer: the client sees a cut connection, as it would behind HAProxy.
        answer.on('error', () => response.destroy());
        answer.on('aborted', () => response.destroy());
        response.on('close', () => resolve('done'));
        response.on('finish', () => resolve('done'));
      });
      upstream.on('error', (error: NodeJS.ErrnoException) => {
        settleAnswer(null);
        if (!connected && error.code === 'ECONNREFUSED') return resolve('refused');
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' }).end(`balancer: ${backend} failed: ${error.code ?? error.message}\n`);
        else response.destroy();
        resolve('done');
      });
      upstream.end(body);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    backends,
    add: (backend) => void (backends.includes(backend) || backends.push(backend)),
    remove: (backend) => void (backends.includes(backend) && backends.splice(backends.indexOf(backend), 1)),
    onForward: (listener) => void listeners.push(listener),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
