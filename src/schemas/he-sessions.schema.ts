/**
 * Encrypted prediction (CKKS): key sessions and ciphertext exchange. Bodies are binary
 * (application/octet-stream) on the hot path; these JSON shapes are the base64 fallback and the metadata.
 */
import { z } from 'zod';
import { idSchema, pathNumberSchema, rowNumberSchema, timestampSchema } from './common.schema.js';
import { base64Schema } from './owners.schema.js';

export const heLayoutSchema = z
  .enum(['single', 'single-masked', 'batched'])
  .describe('single: one applicant per ciphertext (needs Galois keys); single-masked: the same with unused slots zeroed; batched: one applicant per slot, one ciphertext per feature');

export const ckksParamsSchema = z
  .object({
    polyModulusDegree: z.number().int(),
    coeffModulusBits: z.array(z.number().int()),
    scaleBits: z.number().int(),
  })
  .meta({ id: 'CkksParams' });

export const createHeSessionQuerySchema = z.strictObject({
  federationId: idSchema,
  modelVersion: pathNumberSchema(0).optional().describe('Defaults to the federation’s default version (the promoted one; see Federation.defaultModelVersion)'),
});

export const createHeSessionJsonBodySchema = z.strictObject({
  federationId: idSchema,
  modelVersion: rowNumberSchema(0).optional(),
  material: base64Schema.describe('The encoded public material (params, relinearisation and Galois keys), base64'),
});

export const heSessionSchema = z
  .object({
    id: idSchema,
    federationId: idSchema,
    modelVersion: z.number().int(),
    layout: heLayoutSchema,
    params: ckksParamsSchema,
    galoisSteps: z.array(z.number().int()),
    createdAt: timestampSchema,
    expiresAt: timestampSchema,
    queryBudget: z.number().int().describe('Applicant slots this session may have evaluated in all (HE_SESSION_QUERY_BUDGET); a batched ciphertext set counts all its N/2 − 2 slots'),
    queriesUsed: z.number().int().describe('Applicant slots evaluated so far'),
    queriesRemaining: z.number().int().describe('queryBudget − queriesUsed: a request needing more is refused with 403 query-budget-exhausted'),
  })
  .meta({ id: 'HeSession' });
export type HeSessionView = z.infer<typeof heSessionSchema>;

export const heSessionSummarySchema = z
  .object({
    id: idSchema,
    modelVersion: z.number().int(),
    layout: heLayoutSchema,
    creatorKeyId: z.string().describe('The key that opened it and alone may use it: "env" (ADMIN_API_KEY) or an API key id'),
    createdAt: timestampSchema,
    expiresAt: timestampSchema,
    expired: z.boolean().describe('Past expiresAt: refused for predictions, deleted by the next sweep'),
    queryBudget: z.number().int(),
    queriesUsed: z.number().int().describe('Applicant slots evaluated so far: the session’s prediction count (a batched ciphertext set counts all its slots)'),
    queriesRemaining: z.number().int(),
  })
  .meta({ id: 'HeSessionSummary', description: 'A key session as the operator oversees it: counts only, never key material, ciphertexts, features or scores' });
export type HeSessionSummary = z.infer<typeof heSessionSummarySchema>;

export const heSessionListSchema = z.object({ sessions: z.array(heSessionSummarySchema).describe('Newest first') }).meta({ id: 'HeSessionList' });

export const heSessionParamsSchema = z.strictObject({ sessionId: idSchema });

export const encryptedPredictionJsonSchema = z
  .strictObject({ ciphertexts: z.array(base64Schema).min(1).max(4096) })
  .meta({ id: 'Ciphertexts', description: 'Base64 fallback for the framed binary body' });
