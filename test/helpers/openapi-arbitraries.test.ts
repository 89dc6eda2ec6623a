/**
 * The fuzz test's generators are only as good as what they read and write: these prove that the document
 * is read into every operation the server declares, that values fitting a schema pass the route's own zod
 * schema (so "valid" means valid), that paths are encoded the way a server decodes them, and that
 * mutations and late values leave what they are given alone.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { z } from 'zod';
import { ROUTE_ACCESS } from '../../src/http/route-access.js';
import { putSelectionBodySchema, updatePrivacyBodySchema } from '../../src/schemas/federations.schema.js';
import { enrolOwnerBodySchema, registerIdentityBodySchema } from '../../src/schemas/owners.schema.js';
import { currentRoundQuerySchema, openRoundBodySchema, submitUpdateBodySchema } from '../../src/schemas/rounds.schema.js';
import { repoRoot } from './app.js';
import { applyMutations, encodeText, fitting, late, materialise, mutation, nastyValue, operationsOf, RawBody, type OpenApiDocument } from './openapi-arbitraries.js';

const doc = JSON.parse(readFileSync(path.join(repoRoot, 'openapi', 'openapi.json'), 'utf8')) as OpenApiDocument;
const operations = operationsOf(doc);
const operation = (id: string) => operations.find((op) => op.operationId === id)!;

test('every route of the table is an operation, with its method, roles and path parameters', () => {
  const declared = Object.entries(ROUTE_ACCESS).map(([route, access]) => {
    const [method, pattern] = route.split(' ') as [string, string];
    return { operationId: access.operationId, method, path: pattern.replace(/:(\w+)/g, '{$1}'), roles: [...access.roles] };
  });
  assert.deepEqual(
    operations.map(({ operationId, method, path, roles }) => ({ operationId, method, path, roles })).sort((a, b) => a.operationId.localeCompare(b.operationId)),
    declared.sort((a, b) => a.operationId.localeCompare(b.operationId)),
  );
  for (const op of operations) assert.deepEqual(op.pathParams.map((p) => p.name), [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]), op.operationId);
  assert.ok(operations.filter((op) => op.body).length >= 15, 'the JSON bodies are read');
  assert.ok(operation('createFederation').body!.examples.length > 0, 'and their examples');
});

test('values fitting a body’s schema pass the route’s own zod schema', () => {
  const cases: [string, z.ZodType][] = [
    ['putSelection', putSelectionBodySchema],
    ['updatePrivacy', updatePrivacyBodySchema],
    ['enrolOwner', enrolOwnerBodySchema],
    ['registerIdentity', registerIdentityBodySchema],
    ['openRound', openRoundBodySchema],
    ['submitUpdate', submitUpdateBodySchema],
  ];
  for (const [id, schema] of cases) {
    fc.assert(
      fc.property(fitting(doc, operation(id).body!.schema), (value) => {
        const result = schema.safeParse(value);
        assert.ok(result.success, `${id}: ${JSON.stringify(value)?.slice(0, 300)} → ${JSON.stringify(result.error?.issues)}`);
      }),
      { numRuns: 200, seed: 12 },
    );
  }
  const query = Object.fromEntries(operation('getCurrentRound').queryParams.map((p) => [p.name, fitting(doc, p.schema).map(String)]));
  fc.assert(fc.property(fc.record(query), (value) => assert.ok(currentRoundQuerySchema.safeParse(value).success, JSON.stringify(value))), { numRuns: 200, seed: 12 });
});

test('encodeText is what a server decodes back, and a lone surrogate becomes bytes no decoder accepts', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
      assert.equal(decodeURIComponent(encodeText(text)), text);
    }),
    { numRuns: 500, seed: 12 },
  );
  assert.equal(encodeText('a\uD800b'), 'a%ED%A0%80b');
  assert.equal(encodeText('\uDC00'), '%ED%B0%80');
  assert.throws(() => decodeURIComponent(encodeText('\uD800')), URIError);
  assert.equal(encodeText('🦊/ ?'), encodeURIComponent('🦊/ ?'));
});

test('mutations change a copy, never the value they are given', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 3 }), fc.array(mutation, { maxLength: 3 }), (value, mutations) => {
      const before = JSON.stringify(value);
      applyMutations(value, mutations);
      assert.equal(JSON.stringify(value), before);
    }),
    { numRuns: 300, seed: 12 },
  );
  assert.deepEqual(applyMutations({ a: [1, 2] }, []), { a: [1, 2] });
  assert.deepEqual(applyMutations({ a: 1 }, [{ kind: 'drop', at: 1 }]), {});
  assert.deepEqual(applyMutations({ a: 1 }, [{ kind: 'replace', at: 1, value: 'x' }]), { a: 'x' });
  const added = applyMutations({}, [{ kind: 'add', at: 0, key: '__proto__', value: { polluted: true } }]) as object;
  assert.deepEqual(Object.keys(added), ['__proto__'], 'an own property named __proto__, not a prototype');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  fc.assert(fc.property(nastyValue, (value) => assert.doesNotThrow(() => JSON.stringify(applyMutations({ v: value }, [])))), { numRuns: 200, seed: 12 });
});

test('late values resolve against the context, inside arrays and objects; bytes stay bytes', async () => {
  const raw = new RawBody('application/octet-stream', new Uint8Array([1, 2]));
  const value = { a: late<{ n: number }, number>('n', (c) => c.n), b: [late<{ n: number }, unknown>('nested', async (c) => ({ c: late('deeper', () => c.n + 1) }))], raw };
  assert.deepEqual(await materialise(value, { n: 41 }), { a: 41, b: [{ c: 42 }], raw });
  assert.equal(String(value.a), '‹n›', 'a counterexample shows the recipe, not a value of one run');
});
