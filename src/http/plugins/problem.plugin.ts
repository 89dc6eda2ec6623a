/**
 * One error handler for the whole API: every failure leaves as RFC 9457 problem+json. Domain errors carry
 * their own type, title and status; schema failures list { path, message }; Fastify's own 4xx (bad JSON,
 * wrong media type, body too large) get stable types; anything else is a logged 500 with no details. The
 * router's answers are problems too: an unknown path is a 404, a known path with another method a 405 with
 * `Allow`, an over-long path parameter a 414; so are Node's HTTP parser's, such as headers too large (431).
 */
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { DomainError, PROBLEM_BASE, type ProblemField } from '../../errors.js';
import { REQUEST_ID_HEADER } from '../logging.js';

/** The router's longest path parameter (Fastify's default); longer ones answer 414 before any route runs. */
export const MAX_PARAM_LENGTH = 100;

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: ProblemField[];
}

/** Fastify's client errors, by code. */
const fastifyProblems: Record<string, { slug: string; title: string; status: number }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { slug: 'malformed-json', title: 'Malformed JSON body', status: 400 },
  FST_ERR_CTP_EMPTY_JSON_BODY: { slug: 'malformed-json', title: 'Malformed JSON body', status: 400 },
  FST_ERR_CTP_BODY_TOO_LARGE: { slug: 'body-too-large', title: 'Request body too large', status: 413 },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { slug: 'unsupported-media-type', title: 'Unsupported media type', status: 415 },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { slug: 'bad-content-length', title: 'Bad Content-Length', status: 400 },
};

export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: ProblemBody): FastifyReply {
  return reply
    .code(problem.status)
    .type('application/problem+json')
    .send({ ...problem, instance: request.url });
}

function toProblem(error: FastifyError, request: FastifyRequest): ProblemBody {
  if (error instanceof DomainError) {
    return { type: error.type, title: error.title, status: error.status, detail: error.message, ...(error.errors ? { errors: error.errors } : {}) };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const errors = error.validation.map((issue) => ({
      path: [error.validationContext, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
      message: issue.message ?? 'invalid',
    }));
    return {
      type: PROBLEM_BASE + 'validation-failed',
      title: 'Request validation failed',
      status: 422,
      detail: `${request.method} ${request.routeOptions.url ?? request.url}: ${errors.length} field(s) failed validation`,
      errors,
    };
  }
  const known = error.code ? fastifyProblems[error.code] : undefined;
  if (known) return { type: PROBLEM_BASE + known.slug, title: known.title, status: known.status, detail: knownDetail(error, request) };
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return { type: PROBLEM_BASE + 'bad-request', title: 'Bad request', status: error.statusCode, detail: error.message };
  }
  return { type: PROBLEM_BASE + 'internal', title: 'Internal server error', status: 500, detail: 'the server failed to handle this request; it was logged' };
}

/** Fastify's own messages, where they do not say enough to fix the request. */
function knownDetail(error: FastifyError, request: FastifyRequest): string {
  const where = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return `${where}: the body is larger than this route's limit of ${request.routeOptions.bodyLimit} bytes`;
  if (error.code !== 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return error.message;
  const given = request.headers['content-type'] ?? 'none';
  return `${where}: a body of media type ${JSON.stringify(given.slice(0, 100))} is not accepted; send application/json (key sessions, ciphertexts, plain updates, shares and partial sums also take application/octet-stream)`;
}

/** Router failures before any route or plugin runs; Fastify hands them to `frameworkErrors`, not the error handler. */
const routerProblems: Record<string, { slug: string; title: string; status: number; detail: string }> = {
  FST_ERR_BAD_URL: { slug: 'bad-url', title: 'Malformed URL', status: 400, detail: 'the request path is not a valid percent-encoded URL path' },
  FST_ERR_MAX_PARAM_LENGTH: {
    slug: 'path-parameter-too-long',
    title: 'Path parameter too long',
    status: 414,
    detail: `a path parameter is longer than ${MAX_PARAM_LENGTH} characters; identifiers are at most 64`,
  },
};

/** Fastify's `frameworkErrors` option: the router's own refusals as problem+json too. */
export function sendFrameworkProblem(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const known = (error.code && routerProblems[error.code]) || {
    slug: 'bad-request',
    title: 'Bad request',
    status: error.statusCode ?? 400,
    detail: 'the request could not be routed',
  };
  // No hook runs for these, and Fastify writes no closing line for them: both are done here.
  reply.raw.once('finish', () => request.log.info({ res: reply, responseTime: reply.elapsedTime }, 'request completed'));
  // The instance would echo the oversized path back; the route pattern is enough to say where.
  return reply
    .header(REQUEST_ID_HEADER, request.id)
    .code(known.status)
    .type('application/problem+json')
    .send({ type: PROBLEM_BASE + known.slug, title: known.title, status: known.status, detail: known.detail });
}

/** Node's HTTP parser's refusals, by code; anything else it cannot parse is a plain 400. */
const clientProblems: Record<string, { slug: string; title: string; status: number; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    slug: 'headers-too-large',
    title: 'Request headers too large',
    status: 431,
    detail: `the request's headers are larger than the ${maxHeaderSize} bytes the server reads`,
  },
  ERR_HTTP_REQUEST_TIMEOUT: { slug: 'request-timeout', title: 'Request timeout', status: 408, detail: 'the request did not arrive in time' },
};

/**
 * Fastify's `clientErrorHandler` option: what Node's HTTP parser refuses before there is a request (headers
 * over its size limit, a request that is not HTTP, one too slow to arrive) is answered on the socket, as
 * Fastify's default does, but as problem+json.
 */
export function sendClientErrorProblem(this: FastifyInstance, error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  // As Fastify's own handler does; the logger's error serializer (src/http/logging.ts) keeps the raw bytes,
  // and so any key in them, out of the line.
  this.log.trace({ err: error }, 'client error');
  // A reset connection has no one to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = clientProblems[error.code ?? ''] ?? { slug: 'bad-request', title: 'Bad request', status: 400, detail: 'the request is not valid HTTP/1.1' };
  const body = JSON.stringify({ type: PROBLEM_BASE + known.slug, title: known.title, status: known.status, detail: known.detail });
  // An answer to HEAD has no body (RFC 9110 §9.3.2): its client reads none and would take the bytes for a
  // malformed next answer. The request line is at the start of the packet the parser refused, when the
  // whole head came in one (a HEAD split over packets still gets the body: its method is not known here).
  const head = Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
    );
  }
  socket.destroy(error);
}

/**
 * Which methods each route pattern answers, for a 405's `Allow`. Fastify's router only says "no match", so
 * the patterns are matched here again; routes are plain `/segment/:param` paths, plus @fastify/static's
 * trailing wildcard under /docs.
 */
class RouteMethods {
  readonly #routes: { pattern: RegExp; methods: Set<string> }[] = [];

  add(url: string, methods: string[]): void {
    // A bare catch-all (CORS preflight's `OPTIONS *`) matches every path; it would turn every 404 into a 405.
    if (url === '*' || url === '/*') return;
    const source = url
      .split('/')
      .map((segment) => (segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}$`);
    const known = this.#routes.find((route) => route.pattern.source === pattern.source);
    if (known) for (const method of methods) known.methods.add(method);
    else this.#routes.push({ pattern, methods: new Set(methods) });
  }

  /** The methods some route answers at this path, sorted; empty when no route has the path at all. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.#routes) if (route.pattern.test(path)) for (const method of route.methods) methods.add(method);
    return [...methods].sort();
  }
}

export const problemPlugin = fp(async function problemPlugin(app: FastifyInstance) {
  // Fastify parses text/plain bodies into strings by default, which a JSON route then refuses as a 422
  // schema failure; without the parser such a body is what it is, an unsupported media type (415).
  app.removeContentTypeParser('text/plain');
  const routes = new RouteMethods();
  app.addHook('onRoute', (route) => routes.add(route.url, [route.method].flat()));

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const problem = toProblem(error, request);
    // 429 and 503 say when to come back, so agents back off instead of hammering.
    if (error instanceof DomainError && error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendProblem(reply, request, problem);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const allowed = routes.allowed(path);
    if (allowed.length > 0) {
      // RFC 9110 §15.5.6: a 405 must say which methods the resource does support.
      return sendProblem(reply.header('allow', allowed.join(', ')), request, {
        type: PROBLEM_BASE + 'method-not-allowed',
        title: 'Method not allowed',
        status: 405,
        detail: `${request.method} is not a method of ${path}; it answers ${allowed.join(', ')}`,
      });
    }
    return sendProblem(reply, request, {
      type: PROBLEM_BASE + 'route-not-found',
      title: 'No such route',
      status: 404,
      detail: `${request.method} ${path} is not a route of this API`,
    });
  });
});
