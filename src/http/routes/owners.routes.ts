/** Owners: enrol with the enrolment token; read owner records; rotate an owner's own key; remove an owner. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, ownerParamsSchema, problemResponses } from '../../schemas/common.schema.js';
import { enrolledOwnerSchema, enrolOwnerBodySchema, ownerListSchema, ownerSchema, registerIdentityBodySchema, rotatedOwnerKeySchema } from '../../schemas/owners.schema.js';

const tags = ['owners'];

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
      schema: { tags, summary: 'List owners (operator)', params: federationParamsSchema, response: { 200: ownerListSchema, ...problemResponses } },
    },
    async (request) => ({ owners: await app.services.owners.list(request.principal, request.params.federationId) }),
  );

  app.get(
    '/federations/:federationId/owners/:ownerId',
    {
      schema: {
        tags,
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

  app.post(
    '/federations/:federationId/owners/:ownerId/key-rotation',
    {
      schema: {
        tags,
        summary: 'Replace this party’s API key (the owner itself): the new key is returned once, the old one stops working at once',
        params: ownerParamsSchema,
        response: { 200: rotatedOwnerKeySchema, ...problemResponses },
      },
    },
    async (request) => app.services.owners.rotateKey(request.principal, request.params.federationId, request.params.ownerId),
  );

  app.delete(
    '/federations/:federationId/owners/:ownerId',
    {
      schema: {
        tags,
        summary: 'Remove an owner from the federation (operator): its key is revoked and it takes part in no later round',
        description:
          'Its later submissions are refused (401) and it is no longer counted, sampled or seated on a committee. What the server accepted ' +
          'from it before stays: in the model versions it went into, and in a round still open. The record is kept, with `removedAt`.',
        params: ownerParamsSchema,
        response: { 200: ownerSchema, ...problemResponses },
      },
    },
    async (request) => app.services.owners.remove(request.principal, request.params.federationId, request.params.ownerId),
  );
};
