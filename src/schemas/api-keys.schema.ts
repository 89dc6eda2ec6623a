/**
 * Scoped API keys: issued by the operator for one federation and some scopes, for a lender's scoring
 * system or a dashboard that must not hold the operator key. The key itself appears once, in the answer
 * that issues or rotates it.
 */
import { z } from 'zod';
import { idSchema, storedTextSchema, timestampSchema, withExamples } from './common.schema.js';

export const scopeSchema = z
  .enum(['predict', 'he-predict', 'read'])
  .describe('predict: plain predictions; he-predict: encrypted-prediction sessions; read: the federation, its rounds and model metadata');

export const createApiKeyBodySchema = withExamples(
  z.strictObject({
    label: storedTextSchema.trim().min(1).max(200).describe('A note for the operator’s records, e.g. the system that will hold the key'),
    scopes: z
      .array(scopeSchema)
      .min(1)
      .max(3)
      .refine((scopes) => new Set(scopes).size === scopes.length, 'expected each scope at most once'),
  }),
  { input: [{ label: 'Loan-origination scoring service', scopes: ['predict'] }] },
);

export const apiKeySchema = z
  .object({
    id: idSchema,
    federationId: idSchema,
    label: z.string(),
    scopes: z.array(scopeSchema),
    createdAt: timestampSchema,
    revokedAt: timestampSchema.nullable(),
  })
  .meta({ id: 'ApiKey' });
export type ApiKeyView = z.infer<typeof apiKeySchema>;

export const issuedApiKeySchema = withExamples(
  z.object({
    key: apiKeySchema,
    apiKey: z.string().describe('Shown once; send as Authorization: Bearer. Only its hash is stored.'),
  }),
  {
    output: [
      {
        key: {
          id: 'a6e0f3b2-7c41-4d9e-8b25-3f1c6d0e9a47',
          federationId: '3c77d1a4-8f2b-4e6a-9c15-0b7e2d9f526f',
          label: 'Loan-origination scoring service',
          scopes: ['predict'],
          createdAt: '2026-11-28T09:30:00.000Z',
          revokedAt: null,
        },
        apiKey: 'fsl_ZXhhbXBsZS1zY29wZWQta2V5LXNob3duLW9uY2U',
      },
    ],
  },
  { id: 'IssuedApiKey' },
);

export const apiKeyListSchema = z.object({ keys: z.array(apiKeySchema) });

export const apiKeyParamsSchema = z.strictObject({ federationId: idSchema, keyId: idSchema });
