/** Liveness (the process answers) and readiness (the database answers). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { problemResponses } from '../../schemas/common.schema.js';
import { healthSchema, readinessSchema } from '../../schemas/health.schema.js';

// Public routes count against the caller's address (src/http/plugins/rate-limit.plugin.ts): a probe sharing
// an address with busy anonymous callers can be answered 429.
const rateLimited = { 429: problemResponses[429] };

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness', response: { 200: healthSchema, ...rateLimited } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], summary: 'Readiness: the database answers', response: { 200: readinessSchema, 503: readinessSchema, ...rateLimited } } },
    async (_request, reply) => {
      const database = app.services.database;
      try {
        await database.ping();
        return { status: 'ready' as const, database: database.provider };
      } catch (error) {
        app.log.warn({ err: error }, 'readiness check failed');
        return reply.code(503).send({ status: 'unavailable' as const, database: database.provider });
      }
    },
  );
};
