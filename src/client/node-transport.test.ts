/**
 * The default transport against a real node:http server on loopback: what goes out and comes back (JSON,
 * binary, a POST body, UTF-8 split across packets), that requests share one kept-alive connection (also
 * across the clients withApiKey makes), and that a stall, a refused connection and an aborted signal each
 * reach the caller as FedscoreClient reported them when it sent with fetch.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FedscoreApiError, FedscoreClient, FedscoreNetworkError } from './http-client.js';
import { NodeTransport } from './node-transport.js';
import { encodeWeights } from '../schemas/weight-frames.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A server on 127.0.0.1:0 that records each request and answers with `handler`; counts the connections it accepted. */
async function serve(handler: (seen: Seen, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(request);
      handler(request, res);
    });
  });
  // Long enough that a kept-alive connection could only end because the client closed it.
  server.keepAliveTimeout = 600_000;
  let connections = 0;
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url, seen, connections: () => connections, server };
}

describe('NodeTransport', () => {
  it('sends method, headers and a POST body, and returns status, headers and the body as bytes', async () => {
    const { url, seen } = await serve((_, res) => {
      res.writeHead(201, 'Made It', { 'content-type': 'application/json', 'x-thing': 'yes' });
      res.end(JSON.stringify({ ok: true }));
    });
    const answer = await new NodeTransport().send({
      method: 'POST',
      url: `${url}/v1/things?x=1`,
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'é' }),
      timeoutMs: 10_000,
    });
    assert.equal(answer.status, 201);
    assert.equal(answer.statusText, 'Made It');
    assert.equal(answer.header('X-Thing'), 'yes');
    assert.equal(answer.header('absent'), null);
    assert.ok(answer.body instanceof Uint8Array && !Buffer.isBuffer(answer.body));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(answer.body)), { ok: true });
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.url, '/v1/things?x=1');
    assert.equal(seen[0]!.headers['content-length'], String(Buffer.byteLength(JSON.stringify({ name: 'é' }))));
    assert.deepEqual(JSON.parse(seen[0]!.body.toString('utf8')), { name: 'é' });
  });

  it('carries binary both ways unchanged, the answer in a buffer of its own', async () => {
    const payload = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256);
    const { url, seen } = await serve((request, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from(request.body).reverse());
    });
    const answer = await new NodeTransport().send({ method: 'POST', url, headers: { 'content-type': 'application/octet-stream' }, body: payload, timeoutMs: 10_000 });
    assert.deepEqual(seen[0]!.body, Buffer.from(payload));
    assert.deepEqual(answer.body, Uint8Array.from(payload).reverse());
    assert.equal(answer.body.byteOffset, 0);
    assert.equal(answer.body.buffer.byteLength, payload.length);
  });

  it('sends the length of an empty POST body, as fetch does, and none on a GET', async () => {
    const { url, seen } = await serve((_, res) => res.end());
    const transport = new NodeTransport();
    await transport.send({ method: 'POST', url, headers: {}, timeoutMs: 10_000 });
    await transport.send({ method: 'GET', url, headers: {}, timeoutMs: 10_000 });
    assert.equal(seen[0]!.headers['content-length'], '0');
    assert.equal(seen[1]!.headers['content-length'], undefined);
    assert.equal(seen[1]!.headers['transfer-encoding'], undefined);
  });

  it('reuses one kept-alive connection for requests one after another, across the clients withApiKey makes', async () => {
    const { url, seen, connections } = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok' }));
    });
    const operator = new FedscoreClient({ baseUrl: url, apiKey: 'operator' });
    await operator.health();
    await operator.withApiKey('owner').health();
    await operator.withSignal(new AbortController().signal).health();
    assert.equal(seen.length, 3);
    assert.equal(connections(), 1);
  });

  it('decodes a JSON answer as UTF-8 even when a character is split between packets', async () => {
    const problem = JSON.stringify({ type: 'https://fedscore.dev/problems/x', title: 'Conflict', status: 409, detail: 'déjà vu — ✓' });
    const bytes = Buffer.from(problem, 'utf8');
    const split = bytes.indexOf(Buffer.from('é', 'utf8')) + 1; // between the two bytes of é
    const { url } = await serve((_, res) => {
      res.writeHead(409, { 'content-type': 'application/problem+json', 'retry-after': '3' });
      res.write(bytes.subarray(0, split));
      setImmediate(() => res.end(bytes.subarray(split)));
    });
    const error = await new FedscoreClient({ baseUrl: url }).health().catch((e: unknown) => e);
    assert.ok(error instanceof FedscoreApiError);
    assert.equal(error.problem.detail, 'déjà vu — ✓');
    assert.equal(error.retryAfterMs, 3000);
  });

  it('downloads weights through the client', async () => {
    const { url, seen } = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'fedscore-model-version': '7' });
      res.end(encodeWeights([0.5, -1.25, 3]));
    });
    const got = await new FedscoreClient({ baseUrl: url, apiKey: 'k' }).downloadWeights('fed 1');
    assert.deepEqual([got.version, Array.from(got.weights)], [7, [0.5, -1.25, 3]]);
    assert.equal(seen[0]!.url, '/v1/federations/fed%201/models/latest/weights');
    assert.equal(seen[0]!.headers.authorization, 'Bearer k');
  });

  it('gives up on a server that does not answer in time with the ETIMEDOUT network error', async () => {
    const { url } = await serve(() => {
      // never answers
    });
    const error = await new FedscoreClient({ baseUrl: url, timeoutMs: 50 }).health().catch((e: unknown) => e);
    assert.ok(error instanceof FedscoreNetworkError, String(error));
    assert.equal(error.code, 'ETIMEDOUT');
    assert.match(error.message, /^cannot reach http:\/\/127\.0\.0\.1:\d+\/healthz \(GET\): no answer within 0 s$/);
  });

  it('names a refused connection as it did with fetch', async () => {
    const { url, server } = await serve((_, res) => res.end());
    server.close();
    await once(server, 'close');
    const error = await new FedscoreClient({ baseUrl: url }).getFederation('f').catch((e: unknown) => e);
    assert.ok(error instanceof FedscoreNetworkError, String(error));
    assert.equal(error.code, 'ECONNREFUSED');
    assert.equal(error.reason, 'connection refused (is the server running, on this host and port?)');
    assert.equal(error.message, `cannot reach ${url}/v1/federations/f (GET): connection refused (is the server running, on this host and port?)`);
  });

  it("rejects with the client signal's reason when it aborts mid-request, or already has", async () => {
    const { url, seen } = await serve(() => {
      // holds the request until the client gives up
    });
    const controller = new AbortController();
    const client = new FedscoreClient({ baseUrl: url, signal: controller.signal });
    const pending = client.health();
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const stop = new Error('stopping');
    controller.abort(stop);
    await assert.rejects(pending, (error) => error === stop);
    await assert.rejects(client.health(), (error) => error === stop);
    assert.equal(seen.length, 1);
  });

  it('sends many requests under one client signal, at once and one after another, without a listener warning', async () => {
    const { url, seen } = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok' }));
    });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const client = new FedscoreClient({ baseUrl: url, signal: new AbortController().signal });
      await Promise.all(Array.from({ length: 40 }, () => client.health()));
      await client.health();
      await client.withApiKey('owner').health();
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.equal(seen.length, 42);
    assert.deepEqual(warnings.map((warning) => warning.name), []);
  });

  it('does not keep the process alive once its requests are done', async () => {
    const { url } = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok' }));
    });
    // The server keeps idle connections for ten minutes, so the child exits only if its idle socket lets it.
    const module = fileURLToPath(new URL('./http-client.ts', import.meta.url));
    const script = `const { FedscoreClient } = await import(${JSON.stringify(module)}); await new FedscoreClient({ baseUrl: ${JSON.stringify(url)} }).health(); console.log('done');`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.equal(out.trim(), 'done');
  });
});
