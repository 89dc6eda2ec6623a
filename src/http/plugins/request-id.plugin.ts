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
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
});
