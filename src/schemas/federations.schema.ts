/**
 * Federations: a dataset schema, a model spec and a training configuration, created by the operator.
 */
import { z } from 'zod';
import { idSchema, timestampSchema } from './common.schema.js';
import { datasetSchemaSchema } from './dataset-schema.schema.js';

export const activationSchema = z
  .enum(['relu', 'tanh', 'sigmoid', 'square', 'relu-poly'])
  .describe('square (x²) and relu-poly (0.125x² + 0.5x + 0.25) are polynomials: such MLPs can be evaluated under encryption');

export const modelSpecSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('logreg') }),
    z.strictObject({
      kind: z.literal('mlp'),
      hidden: z.array(z.number().int().min(1).max(1024)).min(1).max(8),
      activation: activationSchema,
    }),
  ])
  .meta({ id: 'ModelSpec' });

export const trainingConfigSchema = z
  .strictObject({
    rounds: z.number().int().min(1).max(10_000).default(20).describe('Rounds the federation plans to run'),
    localEpochs: z.number().int().min(1).max(1000).default(5),
    batchSize: z.number().int().min(1).max(100_000).default(32),
    learningRate: z.number().positive().max(100).default(0.1),
    minOwners: z.number().int().min(1).max(1_000_000).default(2).describe('Updates needed to aggregate a round'),
    roundDeadlineSeconds: z.number().int().min(1).max(30 * 86_400).default(3600),
    autoAdvance: z.boolean().default(true).describe('Open the next round when one closes, until `rounds` is reached'),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(42).describe('Seed of the initial weights'),
  })
  .meta({ id: 'TrainingConfig' });
export type TrainingConfig = z.infer<typeof trainingConfigSchema>;

export const aggregationSchema = z
  .enum(['plain', 'secure'])
  .describe('plain: the server sees each update (trusted aggregator); secure: Shamir shares, the server learns only the sum');

export const secureAggregationConfigSchema = z
  .strictObject({
    committee: z
      .strictObject({
        size: z.number().int().min(2).max(64).describe('k: committee members chosen per round'),
        threshold: z.number().int().min(2).max(64).describe('t: partial sums needed to reconstruct; up to k−t members may drop out'),
      })
      .refine((c) => c.threshold <= c.size, { message: 'threshold must not exceed the committee size', path: ['threshold'] })
      .default({ size: 5, threshold: 3 }),
    clipNorm: z
      .number()
      .positive()
      .max(10_000)
      .default(100)
      .describe('Owners clip their update (new weights − base weights) to this L2 norm before sharing'),
    summingDeadlineSeconds: z.number().int().min(1).max(30 * 86_400).default(3600),
  })
  .meta({ id: 'SecureAggregationConfig' });
export type SecureAggregationConfig = z.infer<typeof secureAggregationConfigSchema>;

export const createFederationBodySchema = z.strictObject({
  name: z.string().min(1).max(200),
  datasetSchema: datasetSchemaSchema,
  model: modelSpecSchema,
  training: trainingConfigSchema.default(trainingConfigSchema.parse({})),
  aggregation: aggregationSchema.default('plain'),
  secure: secureAggregationConfigSchema
    .optional()
    .describe('Secure-aggregation settings; defaults apply when aggregation is "secure" and this is omitted'),
});
export type CreateFederationBody = z.infer<typeof createFederationBodySchema>;

export const federationSchema = z
  .object({
    id: idSchema,
    name: z.string(),
    datasetSchema: datasetSchemaSchema,
    model: modelSpecSchema,
    training: trainingConfigSchema,
    aggregation: aggregationSchema,
    secure: secureAggregationConfigSchema.nullable(),
    featureNames: z.array(z.string()).describe('Encoded feature order the model expects'),
    latestModelVersion: z.number().int(),
    createdAt: timestampSchema,
  })
  .meta({ id: 'Federation' });
export type Federation = z.infer<typeof federationSchema>;

export const createdFederationSchema = z
  .object({
    federation: federationSchema,
    enrolmentToken: z.string().describe('Shown once; owners enrol with it. Only its hash is stored.'),
  })
  .meta({ id: 'CreatedFederation' });

export const enrolmentTokenSchema = z.object({ enrolmentToken: z.string() }).meta({ id: 'EnrolmentToken' });
export const federationListSchema = z.object({ federations: z.array(federationSchema) });
