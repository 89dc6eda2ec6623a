/**
 * Model versions: version 0 is the seeded initial model; each closed round publishes the next one.
 */
import { z } from 'zod';
import { timestampSchema } from './common.schema.js';

export const modelMetricsSchema = z
  .object({
    owners: z.number().int(),
    samples: z.number().int(),
    trainLoss: z.number().nullable().describe('Sample-weighted mean of owner-reported loss'),
    trainAccuracy: z.number().nullable(),
  })
  .meta({ id: 'ModelMetrics' });
export type ModelMetrics = z.infer<typeof modelMetricsSchema>;

export const modelVersionSchema = z
  .object({
    version: z.number().int(),
    roundNumber: z.number().int().nullable(),
    metrics: modelMetricsSchema,
    heEvaluable: z.boolean().describe('Whether encrypted (CKKS) prediction can evaluate this version'),
    heRefusal: z.string().nullable().describe('Why not, when it cannot'),
    privacy: z
      .object({ epsilon: z.number(), delta: z.number() })
      .nullable()
      .describe('Differential privacy spent by the federation up to and including the round that produced this version'),
    createdAt: timestampSchema,
  })
  .meta({ id: 'ModelVersion' });
export type ModelVersion = z.infer<typeof modelVersionSchema>;

export const modelListSchema = z.object({ models: z.array(modelVersionSchema) });

export const tensorLayoutSchema = z.object({ name: z.string(), shape: z.array(z.number().int()) });

export const modelWeightsSchema = z
  .object({
    version: z.number().int(),
    layout: z.array(tensorLayoutSchema).describe('Tensors in the order they appear in `weights`'),
    weights: z.array(z.number()).describe('Flat float32 parameters; kernels row-major [in, out]'),
  })
  .meta({ id: 'ModelWeights' });
export type ModelWeights = z.infer<typeof modelWeightsSchema>;
