/** Liveness (the process answers) and readiness (the database answers). */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { healthSchema, readinessSchema } from '../../schemas/health.schema.js';

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness', response: { 200: healthSchema } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], summary: 'Readiness: the database answers', response: { 200: readinessSchema, 503: readinessSchema } } },
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
