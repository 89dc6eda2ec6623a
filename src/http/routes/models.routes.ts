/** Model versions: list, metadata, weights. `latest` names the newest version. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, modelParamsSchema, problemResponses } from '../../schemas/common.schema.js';
import { modelListSchema, modelVersionSchema, modelWeightsSchema } from '../../schemas/models.schema.js';

const tags = ['models'];
const security = [{ bearerAuth: [] }];

export const modelRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/federations/:federationId/models',
    { schema: { tags, security, summary: 'List model versions', params: federationParamsSchema, response: { 200: modelListSchema, ...problemResponses } } },
    async (request) => ({ models: await app.services.models.list(request.principal, request.params.federationId) }),
  );

  app.get(
    '/federations/:federationId/models/:version',
    {
      schema: { tags, security, summary: 'Read a model version (number or "latest")', params: modelParamsSchema, response: { 200: modelVersionSchema, ...problemResponses } },
    },
    async (request) => app.services.models.get(request.principal, request.params.federationId, request.params.version),
  );

  app.get(
    '/federations/:federationId/models/:version/weights',
    {
      schema: {
        tags,
        security,
        summary: 'Download a model version’s weights',
        params: modelParamsSchema,
        response: { 200: modelWeightsSchema, ...problemResponses },
      },
    },
    async (request) => app.services.models.weights(request.principal, request.params.federationId, request.params.version),
  );
};
