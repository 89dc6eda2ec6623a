/**
 * Wire shapes shared by every route: RFC 9457 problem details, identifiers and timestamps. The zod
 * schemas under src/schemas are the single source of the OpenAPI document and of the client's types.
 */
import { z } from 'zod';

/**
 * `schema` with examples for the OpenAPI document, typed by what they show: a body a client sends (`input`,
 * defaults may be left out) or an answer (`output`). A request body's examples end up on its operation, a
 * component's in its schema; test/http/openapi.test.ts parses each with the schema its route uses. `meta` is
 * the schema's own metadata: a component's id goes here, because `.meta()` copies a schema, and the copy of
 * one registered with an id earlier would lose it and be written out inline.
 */
export function withExamples<S extends z.ZodType>(
  schema: S,
  examples: { input: [z.input<S>, ...z.input<S>[]] } | { output: [z.output<S>, ...z.output<S>[]] },
  meta: z.GlobalMeta = {},
): S {
  const id = z.globalRegistry.get(schema)?.id;
  if (id !== undefined) throw new Error(`withExamples: expected a schema without an id, got ${id}; pass the id in meta instead`);
  return schema.meta({ ...meta, examples: 'input' in examples ? examples.input : examples.output });
}

export const problemSchema = z
  .object({
    type: z.string().describe('Stable URI naming the kind of problem'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('Validation failures, one per offending field'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });
export type Problem = z.infer<typeof problemSchema>;

/**
 * Free text the server stores — a federation's or an owner's name, a key's label, the validation CSV, the
 * names and values of a dataset schema: any Unicode but U+0000. PostgreSQL's text cannot hold a NUL (the
 * insert fails, a 500), SQLite's can (and hands it back); refusing it here makes both a 422 naming the field.
 */
export const storedTextSchema = z.string().regex(/^[^\u0000]*$/, 'expected text without U+0000 (NUL) characters');

export const idSchema = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'expected an identifier');
export const timestampSchema = z.string().describe('ISO 8601 timestamp (UTC)');

/** Round numbers and model versions are 32-bit INTEGER columns on both databases. */
export const MAX_ROW_NUMBER = 2 ** 31 - 1;

/** A round number or model version in a JSON body: an integer that fits the database column. */
export const rowNumberSchema = (min: number) => z.number().int().min(min).max(MAX_ROW_NUMBER);

/**
 * The same in a path or query string: decimal digits only. z.coerce.number() would take " " as 0, "1e3" as
 * 1000 and "0x1" as 1, so a version named by whitespace read version 0.
 */
export const pathNumberSchema = (min: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^[0-9]{1,10}$/.test(value) ? Number(value) : value),
    z.number({ error: 'expected a decimal integer' }).int().min(min).max(MAX_ROW_NUMBER),
  );

export const federationParamsSchema = z.strictObject({ federationId: idSchema });
export const roundParamsSchema = z.strictObject({
  federationId: idSchema,
  roundNumber: pathNumberSchema(1),
});
export const ownerParamsSchema = z.strictObject({ federationId: idSchema, ownerId: idSchema });
export const modelParamsSchema = z.strictObject({
  federationId: idSchema,
  version: z
    .union([z.literal('latest'), z.literal('default'), pathNumberSchema(0)])
    .describe('A version number; `latest`, the newest; or `default`, the one predictions use when none is named'),
});
export const versionParamsSchema = z.strictObject({ federationId: idSchema, version: pathNumberSchema(0) });

/** Responses every authenticated route may give, so the OpenAPI document lists them. */
export const problemResponses = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
  422: problemSchema,
  /** Over the caller's rate limit (RATE_LIMIT_PER_KEY, RATE_LIMIT_PER_IP), with Retry-After. */
  429: problemSchema,
} as const;
