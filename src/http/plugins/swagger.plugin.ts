/**
 * OpenAPI 3.1, generated from the routes' zod schemas, served at /docs/json with Swagger UI at /docs.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

export const API_VERSION = '0.1.0';

export const swaggerPlugin = fp(async function swaggerPlugin(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'fedscore',
        version: API_VERSION,
        description:
          'Privacy-preserving credit scoring: federations of data owners train a shared model in rounds; ' +
          'the operator, or a lender with a scoped key, scores applicants. Errors are RFC 9457 problem+json. ' +
          'Each operation says which roles may call it (operator, owner, aggregator, a scoped key: read, predict, he-predict, or the metrics token).',
      },
      tags: [
        { name: 'federations', description: 'Dataset schema, model and training settings' },
        { name: 'owners', description: 'Enrolment of data owners, their keys, their removal' },
        { name: 'api-keys', description: 'Scoped keys for one federation: predict, he-predict, read' },
        { name: 'rounds', description: 'Federated training rounds and owner updates' },
        { name: 'models', description: 'Published model versions' },
        { name: 'predictions', description: 'Scoring applicants' },
        { name: 'encrypted predictions', description: 'Scoring applicants under CKKS homomorphic encryption' },
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'metrics', description: 'Prometheus metrics, for the operator or a scraper holding METRICS_TOKEN' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An operator key, a scoped key (fsl_…) or an owner key (fsk_…)' },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
