/**
 * The binary forms of the routes that take or give bytes (src/schemas/weight-frames.ts, secure-frames.ts): reading an
 * application/octet-stream body in the scope of the routes that take one, choosing the answer's form from
 * the Accept header, and sending bytes past the JSON serializer. Routes not given the parser still answer
 * 415 to a binary body.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ValidationError } from '../errors.js';

/**
 * Gives the routes of `scope` (a plugin's encapsulated instance) the body as one Buffer. Their body schemas
 * are per media type, which Fastify picks by Content-Type: a request with no body has none, so no schema
 * runs, and the body it would have refused reached the handler as undefined (a 500). It is refused here, as
 * a JSON route's schema refuses it.
 */
export function acceptOctetStream(scope: FastifyInstance): void {
  scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  scope.addHook('preValidation', async (request) => {
    if (request.body !== undefined || request.routeOptions.schema?.body === undefined) return;
    throw new ValidationError(`${request.method} ${request.routeOptions.url}: expected a body, JSON or application/octet-stream`, [
      { path: 'body', message: 'expected a JSON body or an application/octet-stream one, got none' },
    ]);
  });
}

/**
 * Whether an Accept header ranks application/octet-stream above JSON (RFC 9110 §12.5.1: the higher q wins,
 * a tie goes to the type listed first). Absent, or JSON first, means JSON: curl and Swagger UI get JSON.
 */
export function prefersOctetStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let binary: { q: number; at: number } | undefined;
  let json: { q: number; at: number } | undefined;
  accept.split(',').forEach((part, at) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q > 0)) return;
    if (type === 'application/octet-stream' && binary === undefined) binary = { q, at };
    if ((type === 'application/json' || type === 'application/*' || type === '*/*') && (json === undefined || q > json.q)) json = { q, at };
  });
  if (binary === undefined) return false;
  return json === undefined || binary.q > json.q || (binary.q === json.q && binary.at < json.at);
}

/** Bytes as the answer; the route's JSON response schema is for its other form. */
export function sendOctets(reply: FastifyReply, bytes: Uint8Array): FastifyReply {
  return reply.type('application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
