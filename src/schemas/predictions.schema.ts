/**
 * Plain predictions for the operator's own use: feature records in, probabilities out.
 */
import { z } from 'zod';
import { rowNumberSchema } from './common.schema.js';
import { rawRecordSchema } from './dataset-schema.schema.js';

export const predictBodySchema = z.strictObject({
  records: z.array(rawRecordSchema).min(1).max(10_000),
  modelVersion: rowNumberSchema(0).optional().describe('Defaults to the federation’s default version (the promoted one; see Federation.defaultModelVersion)'),
});

export const predictionSchema = z.object({
  score: z.number().describe('Probability of the positive class'),
  label: z.boolean().describe('score >= 0.5'),
});

export const predictResponseSchema = z
  .object({ modelVersion: z.number().int(), predictions: z.array(predictionSchema) })
  .meta({ id: 'Predictions' });
