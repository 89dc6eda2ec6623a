/** Owners: enrol with the enrolment token; read owner records. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, ownerParamsSchema, problemResponses } from '../../schemas/common.schema.js';
import { enrolledOwnerSchema, enrolOwnerBodySchema, ownerListSchema, ownerSchema, registerIdentityBodySchema } from '../../schemas/owners.schema.js';

const tags = ['owners'];
const security = [{ bearerAuth: [] }];

export const ownerRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/federations/:federationId/owners',
    {
      schema: {
        tags,
        summary: 'Enrol an owner with the enrolment token',
        description: 'Returns the owner API key once; only its hash is stored.',
        params: federationParamsSchema,
        body: enrolOwnerBodySchema,
        response: { 201: enrolledOwnerSchema, ...problemResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await app.services.owners.enrol(request.params.federationId, request.body)),
  );

  app.get(
    '/federations/:federationId/owners',
    {
      schema: { tags, security, summary: 'List owners (operator)', params: federationParamsSchema, response: { 200: ownerListSchema, ...problemResponses } },
    },
    async (request) => ({ owners: await app.services.owners.list(request.principal, request.params.federationId) }),
  );

  app.get(
    '/federations/:federationId/owners/:ownerId',
    {
      schema: {
        tags,
        security,
        summary: 'Read an owner (operator, or the owner itself)',
        params: ownerParamsSchema,
        response: { 200: ownerSchema, ...problemResponses },
      },
    },
    async (request) => app.services.owners.get(request.principal, request.params.federationId, request.params.ownerId),
  );

  app.put(
    '/federations/:federationId/owners/:ownerId/identity',
    {
      schema: {
        tags,
        security,
        summary: 'Register this party’s Ed25519 identity key and committee preference (the owner itself)',
        description:
          'The identity signs the X25519 key this party publishes for each round it is seated in, so owners can check a committee key came ' +
          'from the member and not from the server. It cannot change once registered (409 identity-key-fixed); the committee preference can. ' +
          'Under a named committee policy, an aggregator node’s identity must be one the charter names (422 not-in-charter).',
        params: ownerParamsSchema,
        body: registerIdentityBodySchema,
        response: { 200: ownerSchema, ...problemResponses },
      },
    },
    async (request) =>
      app.services.owners.registerIdentity(request.principal, request.params.federationId, request.params.ownerId, request.body),
  );
};
