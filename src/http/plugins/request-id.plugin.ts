/**
 * Every answer names its request: X-Request-Id echoes the id Fastify gave the request (the caller's own
 * when it sent a sane one, see src/http/logging.ts), so a caller holding a refusal can find the server's log
 * lines for it. Set first thing, before authentication, so refusals carry it too; the router's own refusals,
 * which run no hooks, set it in sendFrameworkProblem.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { REQUEST_ID_HEADER } from '../logging.js';

export const requestIdPlugin = fp(async function requestIdPlugin(app: FastifyInstance) {
  // Callback hooks here and in the other per-request hooks: an async hook costs a promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
});
