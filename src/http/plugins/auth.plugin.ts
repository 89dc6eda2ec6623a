/**
 * Authentication and the coarse authorization rule, for every route, before its body is read. Each route's
 * roles come from src/http/route-access.ts: at registration an onRoute hook copies them (with the
 * operationId and the OpenAPI `security`) onto the route, and refuses to register a route that has no
 * entry, so no route can be added without saying who may call it. Per request the caller is resolved once
 * into `request.principal` and let in only as one of the route's roles; a non-operator key only into its
 * own federation, and an owner's key only to name itself. The services repeat these rules beside the use
 * cases, with the finer ones that need data (a session used only by the key that opened it).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ForbiddenError, UnauthorizedError } from '../../errors.js';
import type { Principal } from '../../services/credentials.js';
import { rolesOf, routeAccess, type Role, type RouteAccess } from '../route-access.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
    /** Why the caller may not call this route; thrown once the rate limiter has counted the request. */
    refusal: Error | null;
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

/** Routes that are not part of the API (the Swagger UI and its document). */
const isDocumentationRoute = (url: string) => url === '/docs' || url.startsWith('/docs/');

export const authPlugin = fp(async function authPlugin(app: FastifyInstance) {
  // Fastify 5 wants reference-typed decorations initialised to null; the onRequest hook sets every request's.
  app.decorateRequest('principal', null as never);
  app.decorateRequest('refusal', null);

  app.addHook('onRoute', (route) => {
    if (isDocumentationRoute(route.url)) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const entries = methods.map((method) => routeAccess(method, route.url));
    const access = entries[0];
    if (access === undefined || entries.some((entry) => entry !== access)) {
      throw new Error(`authPlugin: ${methods.join(',')} ${route.url} has no entry in src/http/route-access.ts; every route declares its roles there`);
    }
    route.config = { ...route.config, access };
    // A refusal is decided in onRequest but thrown here, a route-level preParsing hook added after the rate
    // limiter's (registered earlier): a caller with a wrong key is counted against its address, and a
    // refused request still never has its body read.
    route.preParsing = [...[route.preParsing ?? []].flat(), throwRefusal];
    if (methods.includes('HEAD')) return; // Fastify's automatic HEAD twin: not a documented operation.
    const isPublic = access.roles.includes('public');
    route.schema = {
      ...route.schema,
      operationId: access.operationId,
      security: isPublic ? [] : [{ bearerAuth: [] }],
      description: [route.schema?.description, `Roles: ${access.roles.join(', ')}.`].filter(Boolean).join('\n\n'),
    };
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    // Unknown routes (answered 404) and public ones need no caller; a key sent to them is not looked at.
    if (access === undefined || access.roles.includes('public')) {
      request.principal = { kind: 'anonymous' };
      return;
    }
    try {
      request.principal = await app.services.auth.authenticate(request.headers.authorization);
      authorize(request, access);
    } catch (error) {
      request.principal = { kind: 'anonymous' };
      request.refusal = error as Error;
    }
  });
});

function throwRefusal(request: FastifyRequest, _reply: FastifyReply, _payload: unknown, done: (error?: Error | null) => void): void {
  done(request.refusal);
}

function authorize(request: FastifyRequest, access: RouteAccess): void {
  const principal = request.principal;
  if (principal.kind === 'anonymous') throw new UnauthorizedError();
  const held = rolesOf(principal);
  if (!held.some((role) => access.roles.includes(role))) {
    const needs = access.roles.length === 1 && access.roles[0] === 'operator' ? 'requires the operator key' : `allowed for ${access.roles.join(', ')}`;
    throw new ForbiddenError(`${access.operationId}: ${needs}; this key is ${describe(principal, held)}`);
  }
  const params = (request.params ?? {}) as { federationId?: unknown; ownerId?: unknown };
  // The metrics token belongs to no federation, so it is let into none (its one route has no federation anyway).
  if (principal.kind !== 'operator' && typeof params.federationId === 'string' && (principal.kind === 'metrics' || principal.federationId !== params.federationId)) {
    throw new ForbiddenError(`${access.operationId}: this key belongs to another federation than ${params.federationId}`);
  }
  if (principal.kind === 'owner' && typeof params.ownerId === 'string' && principal.ownerId !== params.ownerId) {
    throw new ForbiddenError(`${access.operationId}: an owner key acts only for its own owner, not for ${params.ownerId}`);
  }
}

function describe(principal: Principal, held: Role[]): string {
  if (principal.kind === 'scoped') return `a scoped key with ${held.join(', ')}`;
  if (principal.kind === 'metrics') return 'the metrics token';
  return `an ${principal.kind === 'owner' ? `${held[0]} key` : `${principal.kind} key`}`;
}
