/**
 * The binary forms of the plain-mode routes (src/schemas/weight-frames.ts): reading an
 * application/octet-stream body in the scope of the routes that take one, choosing the answer's form from
 * the Accept header, and sending bytes past the JSON serializer. Routes not given the parser still answer
 * 415 to a binary body.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Gives the routes of `scope` (a plugin's encapsulated instance) the body as one Buffer. */
export function acceptOctetStream(scope: FastifyInstance): void {
  scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
}

/**
 * Whether the client asked for application/octet-stream over JSON: it names octet-stream with a quality
 * above zero, and JSON (if it names it) with no higher quality. Anything else gets JSON, the default.
 */
export function prefersOctetStream(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (accept === undefined) return false;
  const quality = new Map<string, number>();
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    quality.set(type!.trim(), Number.isFinite(value) ? value : 0);
  }
  const octets = quality.get('application/octet-stream') ?? 0;
  return octets > 0 && octets >= (quality.get('application/json') ?? 0);
}

/** Bytes as the answer; the route's JSON response schema is for its other form. */
export function sendOctets(reply: FastifyReply, bytes: Uint8Array): FastifyReply {
  return reply.type('application/octet-stream').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
