/**
 * A small closed-loop HTTP load generator for the load benchmark, in the manner of autocannon: a fixed
 * number of keep-alive connections, each sending its next request as soon as the previous answer has
 * arrived, with every request's latency recorded. It is bounded three ways — a request count, a time
 * limit and the caller running out of requests (an owner submits once per round) — and stops at the first
 * answer that is not 2xx, keeping that answer to show. It sends only to 127.0.0.1.
 *
 * Closed loop means a slow answer delays the next request on its connection, so latencies under
 * saturation are the server's queueing as seen by C clients, not those of an open arrival process.
 */
import http from 'node:http';

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface LoadOptions {
  /** Base URLs of the instances; connection i goes to urls[i % urls.length]. */
  urls: string[];
  connections: number;
  /** Requests still being answered when the time is up finish; no new one starts. */
  seconds: number;
  maxRequests: number;
  /** The next request, or undefined when there are no more to send. */
  next(): LoadRequest | undefined;
  /** Per-request time limit; a request past it is a failure. */
  timeoutMs?: number;
}

export interface LoadFailure {
  method: string;
  url: string;
  /** 0 when there was no answer at all. */
  status: number;
  /** The answer's first 2,000 characters, or the network error. */
  body: string;
}

export interface LoadReport {
  /** Answered with 2xx. */
  requests: number;
  seconds: number;
  /** Answers that were not 2xx (the run stops at the first). */
  non2xx: number;
  /** Requests with no answer (connection error or time limit). */
  errors: number;
  firstFailure?: LoadFailure;
  /** What ended the run. */
  stoppedBy: 'time' | 'request-limit' | 'requests-exhausted' | 'failure';
  /** Milliseconds, in completion order. */
  latencies: Float64Array;
}

interface Answer {
  status: number;
  /** Only kept for answers that are not 2xx. */
  body?: string;
}

/** Only loopback: a load test never leaves this machine. */
function loopbackTarget(url: string): { hostname: string; port: number } {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' || parsed.hostname !== '127.0.0.1') {
    throw new Error(`runLoad: expected an http://127.0.0.1 URL, got ${JSON.stringify(url)}`);
  }
  return { hostname: parsed.hostname, port: Number(parsed.port) };
}

function send(agent: http.Agent, target: { hostname: string; port: number }, request: LoadRequest, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body) headers['content-length'] = request.body.length;
    const req = http.request({ agent, hostname: target.hostname, port: target.port, method: request.method, path: request.path, headers }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        // Read and drop the body: the transfer is part of the answer's latency.
        res.on('end', () => resolve({ status }));
        res.on('error', reject);
        res.resume();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8').slice(0, 2000) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  const { urls, connections, seconds, maxRequests } = options;
  if (!Number.isInteger(connections) || connections < 1) throw new RangeError(`runLoad: expected a positive whole number of connections, got ${connections}`);
  if (!(seconds > 0)) throw new RangeError(`runLoad: expected a positive time limit in seconds, got ${seconds}`);
  if (!Number.isInteger(maxRequests) || maxRequests < 1) throw new RangeError(`runLoad: expected a positive whole request limit, got ${maxRequests}`);
  if (urls.length === 0) throw new RangeError('runLoad: expected at least one URL');
  const targets = urls.map(loopbackTarget);
  const timeoutMs = options.timeoutMs ?? 30_000;
  // One agent per instance, one socket per connection loop: each loop holds its socket between requests.
  const perTarget = targets.map((_, t) => Math.ceil((connections - t) / targets.length));
  const agents = perTarget.map((sockets) => new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'fifo' }));

  const latencies = new Float64Array(maxRequests);
  let completed = 0;
  let issued = 0;
  let non2xx = 0;
  let errors = 0;
  let firstFailure: LoadFailure | undefined;
  let stoppedBy: LoadReport['stoppedBy'] = 'time';
  let stop = false;
  // Several loops may stop for different reasons; a failure outranks running out, which outranks the clock.
  const rank = { time: 0, 'request-limit': 1, 'requests-exhausted': 2, failure: 3 } as const;
  const end = (reason: LoadReport['stoppedBy']) => {
    if (rank[reason] > rank[stoppedBy]) stoppedBy = reason;
  };
  const started = performance.now();
  const deadline = started + seconds * 1000;

  const loop = async (connection: number): Promise<void> => {
    const t = connection % targets.length;
    const target = targets[t]!;
    const agent = agents[t]!;
    while (!stop) {
      if (performance.now() >= deadline) return;
      if (issued >= maxRequests) {
        end('request-limit');
        return;
      }
      const request = options.next();
      if (!request) {
        end('requests-exhausted');
        return;
      }
      issued++;
      const t0 = performance.now();
      let answer: Answer;
      try {
        answer = await send(agent, target, request, timeoutMs);
      } catch (error) {
        errors++;
        firstFailure ??= { method: request.method, url: urls[t] + request.path, status: 0, body: (error as Error).message };
        end('failure');
        stop = true;
        return;
      }
      const ms = performance.now() - t0;
      if (answer.status < 200 || answer.status >= 300) {
        non2xx++;
        firstFailure ??= { method: request.method, url: urls[t] + request.path, status: answer.status, body: answer.body ?? '' };
        end('failure');
        stop = true;
        return;
      }
      latencies[completed++] = ms;
    }
  };

  try {
    await Promise.all(Array.from({ length: connections }, (_, i) => loop(i)));
  } finally {
    for (const agent of agents) agent.destroy();
  }
  return {
    requests: completed,
    seconds: (performance.now() - started) / 1000,
    non2xx,
    errors,
    ...(firstFailure && { firstFailure }),
    stoppedBy,
    latencies: latencies.subarray(0, completed),
  };
}
