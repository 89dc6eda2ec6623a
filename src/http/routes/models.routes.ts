/**
 * Model versions: list, metadata, weights (`latest` names the newest version, `default` the one predictions
 * use), promotion; the federation's validation set and selection rule.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { federationParamsSchema, modelParamsSchema, problemResponses, versionParamsSchema } from '../../schemas/common.schema.js';
import { federationSchema, putSelectionBodySchema, putValidationSetBodySchema, validationSetSchema } from '../../schemas/federations.schema.js';
import { modelListSchema, modelVersionSchema, modelWeightsSchema } from '../../schemas/models.schema.js';
import { encodeWeights, MODEL_VERSION_HEADER, modelWeightsOctetsSchema } from '../../schemas/weight-frames.js';
import { prefersOctetStream, sendOctets } from '../octet-stream.js';

const tags = ['models'];

export const modelRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/federations/:federationId/models',
    { schema: { tags, summary: 'List model versions', params: federationParamsSchema, response: { 200: modelListSchema, ...problemResponses } } },
    async (request) => ({ models: await app.services.models.list(request.principal, request.params.federationId) }),
  );

  app.get(
    '/federations/:federationId/models/:version',
    {
      schema: { tags, summary: 'Read a model version (a number, "latest" or "default")', params: modelParamsSchema, response: { 200: modelVersionSchema, ...problemResponses } },
    },
    async (request) => app.services.models.get(request.principal, request.params.federationId, request.params.version),
  );

  app.get(
    '/federations/:federationId/models/:version/weights',
    {
      schema: {
        tags,
        summary: 'Download a model version’s weights',
        description:
          'JSON by default. With `Accept: application/octet-stream` the body is the weights alone as little-endian float32 (4 bytes each, in the ' +
          'JSON form’s `layout` order, kernels row-major [in, out]) and the `Fedscore-Model-Version` header names the version, which matters for ' +
          '`latest` and `default`: a fifth of the bytes, and nothing to parse.',
        params: modelParamsSchema,
        response: {
          200: {
            description: 'The weights, as JSON or as float32',
            content: { 'application/json': { schema: modelWeightsSchema }, 'application/octet-stream': { schema: modelWeightsOctetsSchema } },
          },
          ...problemResponses,
        },
      },
    },
    async (request, reply) => {
      const { federationId, version } = request.params;
      void reply.header('vary', 'accept');
      if (!prefersOctetStream(request.headers.accept)) {
        const weights = await app.services.models.weights(request.principal, federationId, version);
        return reply.header(MODEL_VERSION_HEADER, String(weights.version)).type('application/json').send(weights);
      }
      const weights = await app.services.models.weightsFloat32(request.principal, federationId, version);
      return sendOctets(reply.header(MODEL_VERSION_HEADER, String(weights.version)), encodeWeights(weights.weights));
    },
  );

  app.post(
    '/federations/:federationId/models/:version/promote',
    {
      schema: {
        tags,
        summary: 'Promote a model version (operator): predictions use it by default',
        description:
          'The version must exist in this federation and, if scored on the validation set, reach the majority-class rate (409 `below-majority-rate` otherwise). ' +
          'The selection rule becomes `manual`, so the next round does not override the choice.',
        params: versionParamsSchema,
        response: { 200: federationSchema, ...problemResponses },
      },
    },
    async (request) => app.services.models.promote(request.principal, request.params.federationId, request.params.version),
  );

  app.put(
    '/federations/:federationId/selection',
    {
      schema: {
        tags,
        summary: 'Set the model selection rule and early stopping (operator)',
        description: 'With rule `best` the promoted version is recomputed at once from the scores already stored.',
        params: federationParamsSchema,
        body: putSelectionBodySchema,
        response: { 200: federationSchema, ...problemResponses },
      },
    },
    async (request) => app.services.models.putSelection(request.principal, request.params.federationId, request.body.selection),
  );

  app.put(
    '/federations/:federationId/validation',
    {
      schema: {
        tags,
        summary: 'Attach or replace the validation set (operator); every version is scored on it',
        description:
          'Labelled rows in the federation’s data layout, kept on the server and never shown to owners. Refused (422, nothing stored) when a line ' +
          'does not fit the schema, a value is missing, or only one class is present. Existing versions are scored at once (once the federation has ' +
          'its standardisation), and every version published afterwards when it is published.',
        params: federationParamsSchema,
        body: putValidationSetBodySchema,
        response: { 200: validationSetSchema, ...problemResponses },
      },
    },
    async (request) => app.services.models.putValidationSet(request.principal, request.params.federationId, request.body.csv),
  );

  app.get(
    '/federations/:federationId/validation',
    {
      schema: {
        tags,
        summary: 'Describe the validation set (operator): counts only, never rows',
        params: federationParamsSchema,
        response: { 200: validationSetSchema, ...problemResponses },
      },
    },
    async (request) => app.services.models.validationSet(request.principal, request.params.federationId),
  );
};
