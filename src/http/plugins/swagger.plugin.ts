/**
 * OpenAPI 3.1, generated from the routes' zod schemas, served at /docs/json with Swagger UI at /docs. The
 * committed copy (openapi/openapi.json) is checked for drift and linted with Redocly's recommended rules in
 * CI, so what is generated here is what client generators read: keep it complete and free of dead parts.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { octetStreamDescription } from '../../schemas/octet-stream.schema.js';

export const API_VERSION = '0.1.0';
/** package.json's `license`, as an SPDX identifier (test/http/openapi.test.ts keeps the two equal). */
export const API_LICENSE = 'Apache-2.0';
/** Where Swagger UI and the OpenAPI document are served. */
export const DOCS_PREFIX = '/docs';

export const swaggerPlugin = fp(async function swaggerPlugin(app: FastifyInstance) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      // Relative: resolved against wherever the document is fetched from, so /docs/json and its Swagger UI
      // call the server that served them, and the committed copy does not depend on a deployment's address.
      servers: [{ url: '/', description: 'The server this document is served from' }],
      info: {
        title: 'fedscore',
        version: API_VERSION,
        description:
          'Privacy-preserving credit scoring: federations of data owners train a shared model in rounds; ' +
          'the operator, or a lender with a scoped key, scores applicants. Errors are RFC 9457 problem+json. ' +
          'Each operation says which roles may call it (operator, owner, aggregator, a scoped key: read, predict, he-predict, or the metrics token). ' +
          'Operation ids are stable: client generators name their methods after them.',
        license: { name: API_LICENSE, identifier: API_LICENSE },
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
        { name: 'console', description: 'The operator console: a web page over this API (README, "Console")' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An operator key, a scoped key (fsl_…) or an owner key (fsk_…)' },
        },
      },
    },
    transform: withOctetStreams,
    transformObject: (document) => withoutUnusedSchemas(jsonSchemaTransformObject(document)),
  });
  await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
});

type TransformInput = Parameters<typeof jsonSchemaTransform>[0];
type ContentMap = Record<string, { schema: unknown }>;
const BINARY = 'application/octet-stream';

function binaryEntry(content: unknown): string | undefined {
  const entry = (content as ContentMap | undefined)?.[BINARY];
  return entry ? octetStreamDescription(entry.schema) : undefined;
}

/**
 * jsonSchemaTransform, taught the bodies and answers that come as JSON or bytes (octet-stream.schema.ts):
 * the zod side sees only the JSON form, and the binary form is put back afterwards as a binary string
 * whose description documents its framing.
 */
export function withOctetStreams(input: TransformInput): ReturnType<typeof jsonSchemaTransform> {
  const schema = input.schema as Record<string, unknown> | undefined;
  if (!schema) return jsonSchemaTransform(input);
  const body = schema.body as { content?: ContentMap } | undefined;
  const bodyBinary = binaryEntry(body?.content);
  const response = { ...(schema.response as Record<string, { content?: ContentMap }> | undefined) };
  const responseBinary: Record<string, string> = {};
  for (const [status, answer] of Object.entries(response)) {
    const description = binaryEntry(answer?.content);
    if (description === undefined) continue;
    responseBinary[status] = description;
    const { [BINARY]: _binary, ...rest } = answer.content!;
    response[status] = { ...answer, content: rest };
  }
  const transformed = jsonSchemaTransform({
    ...input,
    schema: { ...schema, ...(bodyBinary !== undefined && { body: body!.content!['application/json']!.schema }), response },
  } as TransformInput);
  const out = transformed.schema as Record<string, unknown>;
  const binary = (description: string) => ({ schema: { type: 'string', format: 'binary', description } });
  if (bodyBinary !== undefined) out.body = { content: { 'application/json': { schema: out.body }, [BINARY]: binary(bodyBinary) } };
  for (const [status, description] of Object.entries(responseBinary)) {
    const answer = (out.response as Record<string, { content: ContentMap }>)[status]!;
    answer.content[BINARY] = binary(description);
  }
  return transformed;
}

const SCHEMA_REF = '#/components/schemas/';

/**
 * The document without the schemas nothing in it refers to. fastify-type-provider-zod writes an input and an
 * output variant of every schema registered with an id whether a route uses it or not (`…Input` for bodies,
 * the plain name for answers); an unused component is noise for readers and an unused type for generated
 * clients. Kept: every schema reachable through `$ref`s from outside `components.schemas` (the operations),
 * then from the schemas kept, transitively; cycles are fine.
 */
export function withoutUnusedSchemas<D extends object>(document: D): D {
  const { components } = document as { components?: { schemas?: Record<string, unknown> } };
  const schemas = components?.schemas;
  if (schemas === undefined) return document;
  const used = new Set<string>();
  const pending: unknown[] = [{ ...document, components: { ...components, schemas: {} } }];
  while (pending.length > 0) {
    const node = pending.pop();
    if (node === null || typeof node !== 'object') continue;
    for (const [key, value] of Object.entries(node)) {
      if (key !== '$ref' || typeof value !== 'string') {
        pending.push(value);
      } else if (value.startsWith(SCHEMA_REF)) {
        // A JSON pointer: the component's name is its first segment, with ~1 for "/" and ~0 for "~".
        const name = value.slice(SCHEMA_REF.length).split('/')[0]!.replaceAll('~1', '/').replaceAll('~0', '~');
        if (!used.has(name) && Object.hasOwn(schemas, name)) {
          used.add(name);
          pending.push(schemas[name]);
        }
      }
    }
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...document, components: { ...components, schemas: kept } };
}
