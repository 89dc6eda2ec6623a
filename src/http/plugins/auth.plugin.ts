/**
 * Resolves the caller once per request into `request.principal`. Which principal may do what is decided
 * by the services, next to the use case.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Principal } from '../../services/credentials.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export const authPlugin = fp(async function authPlugin(app: FastifyInstance) {
  // Fastify 5 wants reference-typed decorations initialised to null; the onRequest hook sets every request's.
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (request) => {
    request.principal = await app.services.auth.authenticate(request.headers.authorization);
  });
});
