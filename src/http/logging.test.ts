/**
 * The logger's rules as pure functions: which request ids are taken from the caller, what is masked, and
 * what of an error reaches a line. The end-to-end proof that no secret reaches a log is
 * test/e2e/log-leaks.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loggerOptions, maskSecrets, requestIdOf, serializeError } from './logging.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const OWNER_KEY = `fsk_${'Ab3_-'.repeat(8)}xyz`;

test('a sane X-Request-Id is kept; anything else is replaced by a fresh UUID', () => {
  for (const id of ['abc', 'trace-42.span:7_x', 'A'.repeat(128)]) assert.equal(requestIdOf({ headers: { 'x-request-id': id } }), id);
  const insane = ['', 'A'.repeat(129), 'has space', 'new\nline', 'quote"', '<script>', 'é'];
  for (const id of insane) assert.match(requestIdOf({ headers: { 'x-request-id': id } }), UUID, JSON.stringify(id));
  assert.match(requestIdOf({ headers: {} }), UUID);
  // Sent twice, the header arrives as an array: neither copy is trusted.
  assert.match(requestIdOf({ headers: { 'x-request-id': ['a', 'b'] as unknown as string } }), UUID);
  assert.notEqual(requestIdOf({ headers: {} }), requestIdOf({ headers: {} }));
});

test('maskSecrets masks every one of our key formats and the given secrets, and nothing else', () => {
  const url = `/v1/federations/${OWNER_KEY}/rounds?after=1:open&token=fse_${'t'.repeat(43)}&k=fso_${'o'.repeat(43)}&s=fsl_${'l'.repeat(43)}`;
  assert.equal(maskSecrets(url), '/v1/federations/fsk_[redacted]/rounds?after=1:open&token=fse_[redacted]&k=fso_[redacted]&s=fsl_[redacted]');
  assert.equal(maskSecrets('/v1/x?key=the-admin-key-0123456789abcdef', ['the-admin-key-0123456789abcdef']), '/v1/x?key=[redacted]');
  const plain = '/v1/federations/3f2a9c1e-0b7d-4e5f-8a6b-1c2d3e4f5a6b/rounds/current?after=2:summing&waitSeconds=30';
  assert.equal(maskSecrets(plain), plain);
});

test('an error is logged as type, message, code, status, stack and cause only', () => {
  // What Node attaches to a request it cannot parse: the raw bytes, Authorization header included.
  const clientError = Object.assign(new Error('Parse Error: Invalid header value char'), {
    code: 'HPE_INVALID_HEADER_TOKEN',
    rawPacket: Buffer.from(`GET / HTTP/1.1\r\nAuthorization: Bearer ${OWNER_KEY}\r\n`),
    bytesParsed: 17,
  });
  const logged = serializeError(clientError);
  assert.deepEqual(Object.keys(logged).sort(), ['code', 'message', 'stack', 'type']);
  assert.equal(logged.code, 'HPE_INVALID_HEADER_TOKEN');
  assert.ok(!JSON.stringify(logged).includes(OWNER_KEY));

  const wrapped = Object.assign(new Error(`outer ${OWNER_KEY}`, { cause: Object.assign(new TypeError('inner'), { input: [0.123, 0.456] }) }), { statusCode: 500, validation: [{ data: 'secret' }] });
  const outer = serializeError(wrapped);
  assert.equal(outer.message, 'outer fsk_[redacted]');
  assert.equal(outer.statusCode, 500);
  assert.deepEqual(Object.keys(outer.cause!).sort(), ['message', 'stack', 'type']);
  assert.equal(outer.cause!.type, 'TypeError');
  assert.ok(!JSON.stringify(outer).includes('secret') && !JSON.stringify(outer).includes('0.123'));
});

test('loggerOptions takes level and destination from the caller, and masks the configured secrets in URLs', () => {
  const stream = { write: () => {} };
  const options = loggerOptions({ LOG_LEVEL: 'info', ADMIN_API_KEY: 'the-admin-key-0123456789abcdef', METRICS_TOKEN: undefined }, { level: 'trace', stream }) as {
    level: string;
    stream: unknown;
    serializers: { req: (request: unknown) => { url: string } };
  };
  assert.equal(options.level, 'trace');
  assert.equal(options.stream, stream);
  const request = { method: 'GET', url: '/metrics?key=the-admin-key-0123456789abcdef', host: 'h', ip: '127.0.0.1', headers: { authorization: 'Bearer x' } };
  const logged = options.serializers.req(request);
  assert.deepEqual(Object.keys(logged).sort(), ['host', 'method', 'remoteAddress', 'remotePort', 'url']);
  assert.equal(logged.url, '/metrics?key=[redacted]');
  assert.equal((loggerOptions({ LOG_LEVEL: 'warn', ADMIN_API_KEY: undefined, METRICS_TOKEN: undefined }) as { level: string }).level, 'warn');
});
