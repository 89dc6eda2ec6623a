/** Federations: create, list, read, rotate the enrolment token. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, problemResponses } from '../../schemas/common.schema.js';
import {
  createdFederationSchema,
  createFederationBodySchema,
  enrolmentTokenSchema,
  federationListSchema,
  federationSchema,
} from '../../schemas/federations.schema.js';

const tags = ['federations'];
const security = [{ bearerAuth: [] }];

export const federationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/federations',
    {
      schema: {
        tags,
        security,
        summary: 'Create a federation (operator)',
        description: 'Publishes model version 0 (seeded initial weights) and returns the enrolment token once.',
        body: createFederationBodySchema,
        response: { 201: createdFederationSchema, ...problemResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await app.services.federations.create(request.principal, request.body)),
  );

  app.get(
    '/federations',
    { schema: { tags, security, summary: 'List federations (operator)', response: { 200: federationListSchema, ...problemResponses } } },
    async (request) => ({ federations: await app.services.federations.list(request.principal) }),
  );

  app.get(
    '/federations/:federationId',
    {
      schema: {
        tags,
        security,
        summary: 'Read a federation (operator or its owners)',
        params: federationParamsSchema,
        response: { 200: federationSchema, ...problemResponses },
      },
    },
    async (request) => app.services.federations.get(request.principal, request.params.federationId),
  );

  app.post(
    '/federations/:federationId/enrolment-token',
    {
      schema: {
        tags,
        security,
        summary: 'Rotate the enrolment token (operator)',
        description: 'The previous token stops working; enrolled owners keep their keys.',
        params: federationParamsSchema,
        response: { 201: enrolmentTokenSchema, ...problemResponses },
      },
    },
    async (request, reply) =>
      reply.code(201).send({ enrolmentToken: await app.services.federations.rotateEnrolmentToken(request.principal, request.params.federationId) }),
  );
};
