/**
 * The committed OpenAPI document as a product: it names the server and the package's license, and lists no
 * schema nothing refers to. Drift between this file and the code is `npm run openapi:check`'s job.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { API_LICENSE, withoutUnusedSchemas } from '../../src/http/plugins/swagger.plugin.js';
import { repoRoot } from '../helpers/app.js';

interface Document {
  servers?: { url: string }[];
  info: { license?: { name: string; identifier?: string } };
  components: { schemas: Record<string, unknown> };
}

const document = JSON.parse(readFileSync(path.join(repoRoot, 'openapi', 'openapi.json'), 'utf8')) as Document;

test('openapi.json names its server (relative: wherever it is served from) and the package license', () => {
  assert.deepEqual(document.servers, [{ url: '/', description: 'The server this document is served from' }]);
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { license: string };
  assert.equal(API_LICENSE, pkg.license);
  assert.deepEqual(document.info.license, { name: pkg.license, identifier: pkg.license });
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
