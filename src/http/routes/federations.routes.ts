/** Federations: create, list, read, read the charter, set secure settings or differential privacy, rotate the enrolment token. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, problemResponses } from '../../schemas/common.schema.js';
import {
  createdFederationSchema,
  createFederationBodySchema,
  enrolmentTokenSchema,
  federationListSchema,
  federationSchema,
  charterViewSchema,
  updatePrivacyBodySchema,
  updateSecureBodySchema,
} from '../../schemas/federations.schema.js';

const tags = ['federations'];

export const federationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/federations',
    {
      schema: {
        tags,
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
    { schema: { tags, summary: 'List federations (operator)', response: { 200: federationListSchema, ...problemResponses } } },
    async (request) => ({ federations: await app.services.federations.list(request.principal) }),
  );

  app.get(
    '/federations/:federationId',
    {
      schema: {
        tags,
        summary: 'Read a federation (operator or its owners)',
        params: federationParamsSchema,
        response: { 200: federationSchema, ...problemResponses },
      },
    },
    async (request) => app.services.federations.get(request.principal, request.params.federationId),
  );

  app.get(
    '/federations/:federationId/charter',
    {
      schema: {
        tags,
        summary: 'Read a federation’s charter and its fingerprint (anyone with the id)',
        description:
          'The aggregation, secure parameters and committee policy the federation is bound to. Needs no key, so an owner can compare the ' +
          'fingerprint with the one the operator gave out of band before enrolling; `fedscore owner enrol` recomputes it from the charter.',
        params: federationParamsSchema,
        response: { 200: charterViewSchema, ...problemResponses },
      },
    },
    async (request) => app.services.federations.charter(request.params.federationId),
  );

  app.put(
    '/federations/:federationId/secure',
    {
      schema: {
        tags,
        summary: 'Replace a secure federation’s settings and so its charter (operator), before its first round',
        description:
          'Rebuilds the charter (and its fingerprint) from the new settings. Refused with 409 `charter-frozen` once any round has opened: ' +
          'owners pinned the charter, so a change after that is a new federation.',
        params: federationParamsSchema,
        body: updateSecureBodySchema,
        response: { 200: federationSchema, ...problemResponses },
      },
    },
    async (request) => app.services.federations.updateSecure(request.principal, request.params.federationId, request.body.secure),
  );

  app.put(
    '/federations/:federationId/privacy',
    {
      schema: {
        tags,
        summary: 'Set or remove differential privacy (operator), before any budget is spent',
        description:
          'Replaces the federation’s privacy settings (`null` removes them). Refused with 409 `privacy-budget-spent` once a ' +
          'differentially private round has been opened: ε already reported would no longer mean anything.',
        params: federationParamsSchema,
        body: updatePrivacyBodySchema,
        response: { 200: federationSchema, ...problemResponses },
      },
    },
    async (request) => app.services.federations.updatePrivacy(request.principal, request.params.federationId, request.body.privacy),
  );

  app.post(
    '/federations/:federationId/enrolment-token',
    {
      schema: {
        tags,
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
