/**
 * The committed OpenAPI document as a product: every example in it is accepted by the zod schema the server
 * itself validates (request bodies) or serialises (answers) with, so a client copying one gets past
 * validation; it names the server and the package's license; it lists no schema nothing refers to. The
 * route schemas come from the route plugins registered on a bare Fastify instance: registering runs no
 * handler, needs no database, and hands every route's zod schemas to an onRoute hook. Drift between this
 * file and the code is `npm run openapi:check`'s job; Redocly's lint (`npm run openapi:lint`) checks the
 * same examples against the generated JSON Schemas.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Fastify, { type FastifySchema } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { API_LICENSE, withoutUnusedSchemas } from '../../src/http/plugins/swagger.plugin.js';
import { routeAccess } from '../../src/http/route-access.js';
import { apiKeyRoutes } from '../../src/http/routes/api-keys.routes.js';
import { federationRoutes } from '../../src/http/routes/federations.routes.js';
import { healthRoutes } from '../../src/http/routes/health.routes.js';
import { heSessionRoutes } from '../../src/http/routes/he-sessions.routes.js';
import { modelRoutes } from '../../src/http/routes/models.routes.js';
import { ownerRoutes } from '../../src/http/routes/owners.routes.js';
import { predictionRoutes } from '../../src/http/routes/predictions.routes.js';
import { roundRoutes } from '../../src/http/routes/rounds.routes.js';
import { repoRoot } from '../helpers/app.js';

interface Media {
  schema?: { $ref?: string };
  example?: unknown;
  examples?: Record<string, { value?: unknown }>;
}
interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}
interface Document {
  servers?: { url: string }[];
  info: { license?: { name: string; identifier?: string } };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { examples?: unknown[] }> };
}

const document = JSON.parse(readFileSync(path.join(repoRoot, 'openapi', 'openapi.json'), 'utf8')) as Document;
const operations = Object.values(document.paths).flatMap((item) => Object.values(item));

/** Schemas by media type: a route may declare one per media type (`{ content: { type: { schema } } }`), or one for JSON. */
interface RouteSchemas {
  body?: Record<string, z.ZodType>;
  response: Record<string, Record<string, z.ZodType>>;
}

type Declared = z.ZodType | { content: Record<string, { schema: z.ZodType }> };
const byMediaType = (declared: Declared): Record<string, z.ZodType> =>
  'content' in declared && !(declared instanceof z.ZodType)
    ? Object.fromEntries(Object.entries(declared.content).map(([type, { schema }]) => [type, schema]))
    : { 'application/json': declared as z.ZodType };

/** Each documented route's zod schemas by operationId, as the routes register them. */
async function routeSchemas(): Promise<Map<string, RouteSchemas>> {
  const found = new Map<string, RouteSchemas>();
  const app = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    if (methods.includes('HEAD')) return;
    const access = routeAccess(methods[0]!, route.url);
    if (access === undefined) return;
    const schema = (route.schema ?? {}) as FastifySchema & { body?: Declared; response?: Record<string, Declared> };
    const response = Object.fromEntries(Object.entries(schema.response ?? {}).map(([status, declared]) => [status, byMediaType(declared)]));
    found.set(access.operationId, { ...(schema.body && { body: byMediaType(schema.body) }), response });
  });
  // The same routes, under the same prefix, as buildApp registers (src/http/app.ts).
  await app.register(healthRoutes);
  await app.register(
    async (v1) => {
      for (const routes of [federationRoutes, apiKeyRoutes, ownerRoutes, roundRoutes, modelRoutes, predictionRoutes, heSessionRoutes]) {
        await v1.register(routes);
      }
    },
    { prefix: '/v1' },
  );
  await app.close();
  return found;
}

const schemasOf = (routes: Map<string, RouteSchemas>, operationId: string): RouteSchemas => {
  const schemas = routes.get(operationId);
  assert.ok(schemas, `${operationId}: no route registered in this test has this operationId; register its routes plugin in routeSchemas()`);
  return schemas;
};

function examplesOf(media: Media): unknown[] {
  return [...('example' in media ? [media.example] : []), ...Object.values(media.examples ?? {}).map((example) => example.value)];
}

const issues = (error: z.ZodError) => error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');

test('every request-body example in openapi.json is accepted by the schema its route validates with', async () => {
  const routes = await routeSchemas();
  const checked = new Set<string>();
  for (const operation of operations) {
    for (const [contentType, media] of Object.entries(operation.requestBody?.content ?? {})) {
      for (const example of examplesOf(media)) {
        const body = schemasOf(routes, operation.operationId).body?.[contentType];
        assert.ok(body, `${operation.operationId}: an example for ${contentType} but the route has no body schema for it`);
        const result = body.safeParse(example);
        assert.ok(result.success, `${operation.operationId}: its example is refused: ${result.success ? '' : issues(result.error)}`);
        checked.add(operation.operationId);
      }
    }
  }
  for (const operationId of ['createFederation', 'enrolOwner', 'openRound', 'submitUpdate', 'predict', 'issueApiKey']) {
    assert.ok(checked.has(operationId), `${operationId}: its request body has no example`);
  }
});

test('every schema example in openapi.json is an answer the route answering with that schema can send', async () => {
  const routes = await routeSchemas();
  const exampled = Object.entries(document.components.schemas).filter(([, schema]) => schema.examples !== undefined);
  assert.ok(exampled.length > 0, 'no component schema has examples');
  const checked = new Set<string>();
  for (const operation of operations) {
    for (const [status, response] of Object.entries(operation.responses)) {
      for (const [contentType, media] of Object.entries(response.content ?? {})) {
        const name = media.schema?.$ref?.replace('#/components/schemas/', '');
        const examples = name === undefined ? undefined : document.components.schemas[name]?.examples;
        if (examples === undefined) continue;
        const schema = schemasOf(routes, operation.operationId).response[status]?.[contentType];
        assert.ok(schema, `${operation.operationId}: no zod schema for its ${status} ${contentType} answer`);
        for (const example of examples) {
          // What the serializer does with an answer (fastify-type-provider-zod's serializerCompiler).
          const result = z.safeEncode(schema, example as never);
          assert.ok(result.success, `${name} (${operation.operationId} ${status}): its example would not serialise: ${result.success ? '' : issues(result.error)}`);
        }
        checked.add(name!);
      }
    }
  }
  for (const [name] of exampled) {
    assert.ok(checked.has(name), `${name}: has examples but no operation answers with it directly, so this test cannot check them`);
  }
});

test('openapi.json names its server (relative: wherever it is served from) and the package license', () => {
  assert.deepEqual(document.servers, [{ url: '/', description: 'The server this document is served from' }]);
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { license: string };
  assert.equal(API_LICENSE, pkg.license);
  assert.deepEqual(document.info.license, { name: pkg.license, identifier: pkg.license });
});

test('the bounds the server enforces on privacy and server-optimizer settings are in the document', () => {
  type Bounds = { exclusiveMinimum?: number; minimum?: number; exclusiveMaximum?: number; maximum?: number };
  const schemas = document.components.schemas as unknown as Record<string, { properties?: Record<string, Bounds>; oneOf?: { properties: Record<string, Bounds> }[] }>;
  const bounds = ({ exclusiveMinimum, minimum, exclusiveMaximum, maximum }: Bounds) => ({ exclusiveMinimum, minimum, exclusiveMaximum, maximum });
  const privacy = schemas.PrivacyConfigInput!.properties!;
  assert.deepEqual(bounds(privacy.epsilon!), { exclusiveMinimum: 0, minimum: undefined, exclusiveMaximum: undefined, maximum: 100 });
  assert.deepEqual(bounds(privacy.delta!), { exclusiveMinimum: 0, minimum: undefined, exclusiveMaximum: 1, maximum: undefined });
  assert.deepEqual(bounds(privacy.dropoutTolerance!), { exclusiveMinimum: undefined, minimum: 0, exclusiveMaximum: undefined, maximum: 0.9 });
  assert.deepEqual(bounds(schemas.SamplingInput!.oneOf![1]!.properties.rate!), { exclusiveMinimum: 0, minimum: undefined, exclusiveMaximum: undefined, maximum: 1 });
  const adaptive = schemas.ServerOptimizerInput!.oneOf![2]!.properties;
  assert.deepEqual(bounds(adaptive.tau!), { exclusiveMinimum: 0, minimum: undefined, exclusiveMaximum: undefined, maximum: 1 });
  assert.deepEqual(bounds(adaptive.beta1!), { exclusiveMinimum: undefined, minimum: 0, exclusiveMaximum: 1, maximum: undefined });
});

test('withoutUnusedSchemas keeps the schemas reachable from the operations, transitively, and drops the rest', () => {
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const input = {
    paths: { '/a': { get: { responses: { 200: { content: { 'application/json': { schema: ref('A') } } } } } } },
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      schemas: {
        A: { type: 'object', properties: { b: ref('B'), c: { type: 'array', items: ref('C/properties/x') } } },
        B: { anyOf: [ref('A'), { type: 'null' }] }, // a cycle back to A
        C: { type: 'object', properties: { x: { type: 'string' } } },
        AInput: { type: 'object', properties: { d: ref('D') } }, // unused, and so is what only it refers to
        D: { type: 'string' },
        'E/F': { type: 'string' },
      },
    },
  };
  const output = withoutUnusedSchemas(input);
  assert.deepEqual(Object.keys(output.components.schemas), ['A', 'B', 'C']);
  assert.deepEqual(output.components.securitySchemes, input.components.securitySchemes);
  assert.deepEqual(output.paths, input.paths);
  // Component names are JSON-pointer escaped in a $ref ("/" as ~1).
  const escaped = withoutUnusedSchemas({ ...input, paths: { '/e': { get: { schema: { $ref: '#/components/schemas/E~1F' } } } } });
  assert.deepEqual(Object.keys(escaped.components.schemas), ['E/F']);
});

test('the generated document has no unused schema', () => {
  assert.deepEqual(Object.keys(withoutUnusedSchemas(document).components.schemas), Object.keys(document.components.schemas));
});
