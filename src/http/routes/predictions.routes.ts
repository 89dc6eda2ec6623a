/** Plain scoring, for the operator or a lender's key with the predict scope. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, problemResponses } from '../../schemas/common.schema.js';
import { predictBodySchema, predictResponseSchema } from '../../schemas/predictions.schema.js';

export const predictionRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/federations/:federationId/predictions',
    {
      schema: {
        tags: ['predictions'],
        summary: 'Score applicant records with a model version (operator, or a key with the predict scope)',
        description: 'Records use the federation’s column names; a label column, if present, is ignored.',
        params: federationParamsSchema,
        body: predictBodySchema,
        response: { 200: predictResponseSchema, ...problemResponses },
      },
    },
    async (request) => app.services.predictions.predict(request.principal, request.params.federationId, request.body),
  );
};
