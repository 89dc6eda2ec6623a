/**
 * Shutdown finishes what it started: `fedscore serve` receives SIGTERM while a request is in flight — its
 * headers are in and its handler is waiting for the body — and stops accepting connections at once, yet
 * that request still gets its whole answer (the federation it creates exists afterwards), and the process
 * then exits 0. The request is held in flight with `Expect: 100-continue`: the server's 100 proves it has
 * the request before the signal is sent, and the body follows only once new connections are refused, so
 * the order of events is fixed rather than timed. Raw node:http rather than the SDK, which cannot send
 * half a request.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/client.js';
import { ADMIN_KEY, federationBody, waitFor } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { startCli, type CliProcess } from '../helpers/processes.js';

let target: TestDatabase;
let server: CliProcess | undefined;
before(async () => {
  target = await createTestDatabase();
});
after(async () => {
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
  await target.cleanup();
});

/** Whether a new TCP connection to the port is refused (the listener is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

test('a request in flight when SIGTERM arrives gets its whole answer; new connections are refused', async () => {
  const env = { DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', ADMIN_API_KEY: ADMIN_KEY, HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
  server = startCli(['serve', '--port', '0'], env);
  const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(await server.waitForLine(/listening on /))![1]);

  const body = Buffer.from(JSON.stringify(federationBody({ name: 'created during shutdown' })));
  const request = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/v1/federations',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': body.length, expect: '100-continue' },
  });
  const answer = new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    request.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.once('error', reject);
    });
    request.once('error', reject);
  });
  const accepted = new Promise<void>((resolve) => request.once('continue', resolve));
  request.flushHeaders();
  await accepted; // the server holds the request: its handler waits for the body

  server.child.kill('SIGTERM');
  await server.waitForLine(/SIGTERM received, closing/);
  await waitFor('the server to stop accepting connections', () => refused(port));

  request.end(body);
  const { status, headers, text } = await answer;
  assert.equal(status, 201, text);
  assert.equal(headers.connection, 'close', 'the answer closes its connection, as every answer does once the server is closing');
  const created = JSON.parse(text) as { federation: { id: string; name: string }; enrolmentToken: string };
  assert.equal(created.federation.name, 'created during shutdown');
  assert.match(created.enrolmentToken, /^fse_/);
  assert.equal(await server.exited, 0, server.stderr());

  const config = loadConfig(env);
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    const stored = await database.prisma.federation.findUnique({ where: { id: created.federation.id } });
    assert.equal(stored?.name, 'created during shutdown', 'the answer was not sent before the work was done');
  } finally {
    await database.close();
  }
});
