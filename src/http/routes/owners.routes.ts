/** Owners: enrol with the enrolment token; read owner records. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, ownerParamsSchema, problemResponses } from '../../schemas/common.schema.js';
import { enrolledOwnerSchema, enrolOwnerBodySchema, ownerListSchema, ownerSchema, registerPublicKeyBodySchema } from '../../schemas/owners.schema.js';

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
    '/federations/:federationId/owners/:ownerId/public-key',
    {
      schema: {
        tags,
        security,
        summary: 'Register this owner’s X25519 public key (the owner itself)',
        description: 'Secure aggregation encrypts share envelopes to it; volunteers may be chosen for round committees.',
        params: ownerParamsSchema,
        body: registerPublicKeyBodySchema,
        response: { 200: ownerSchema, ...problemResponses },
      },
    },
    async (request) =>
      app.services.owners.registerPublicKey(request.principal, request.params.federationId, request.params.ownerId, request.body),
  );
};
