/** Scoped API keys: the operator issues, lists, revokes and rotates keys limited to one federation and some scopes. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { apiKeyListSchema, apiKeyParamsSchema, apiKeySchema, createApiKeyBodySchema, issuedApiKeySchema } from '../../schemas/api-keys.schema.js';
import { federationParamsSchema, problemResponses } from '../../schemas/common.schema.js';

const tags = ['api-keys'];

export const apiKeyRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/federations/:federationId/api-keys',
    {
      schema: {
        tags,
        summary: 'Issue a scoped key for this federation (operator)',
        description:
          'For a system that must score or read without the operator key: `predict` (plain predictions), `he-predict` (encrypted-prediction ' +
          'sessions), `read` (the federation, its rounds and model metadata — not weights, owners or the validation set). The key is returned once.',
        params: federationParamsSchema,
        body: createApiKeyBodySchema,
        response: { 201: issuedApiKeySchema, ...problemResponses },
      },
    },
    async (request, reply) => reply.code(201).send(await app.services.apiKeys.issue(request.principal, request.params.federationId, request.body)),
  );

  app.get(
    '/federations/:federationId/api-keys',
    {
      schema: { tags, summary: 'List this federation’s scoped keys, revoked ones included (operator)', params: federationParamsSchema, response: { 200: apiKeyListSchema, ...problemResponses } },
    },
    async (request) => ({ keys: await app.services.apiKeys.list(request.principal, request.params.federationId) }),
  );

  app.delete(
    '/federations/:federationId/api-keys/:keyId',
    {
      schema: {
        tags,
        summary: 'Revoke a scoped key (operator): it stops working at once, on every instance',
        params: apiKeyParamsSchema,
        response: { 200: apiKeySchema, ...problemResponses },
      },
    },
    async (request) => app.services.apiKeys.revoke(request.principal, request.params.federationId, request.params.keyId),
  );

  app.post(
    '/federations/:federationId/api-keys/:keyId/rotation',
    {
      schema: {
        tags,
        summary: 'Rotate a scoped key (operator): a new secret for the same id and scopes; the old one stops working at once',
        description: 'To switch without a gap, issue a second key, deploy it, then revoke the first.',
        params: apiKeyParamsSchema,
        response: { 200: issuedApiKeySchema, ...problemResponses },
      },
    },
    async (request) => app.services.apiKeys.rotate(request.principal, request.params.federationId, request.params.keyId),
  );
};
