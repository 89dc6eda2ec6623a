/**
 * Plain predictions for the operator's own use: feature records in, probabilities out.
 */
import { z } from 'zod';
import { rowNumberSchema, withExamples } from './common.schema.js';
import { rawRecordSchema } from './dataset-schema.schema.js';

export const predictBodySchema = withExamples(
  z.strictObject({
    records: z.array(rawRecordSchema).min(1).max(10_000),
    modelVersion: rowNumberSchema(0).optional().describe('Defaults to the federation’s default version (the promoted one; see Federation.defaultModelVersion)'),
  }),
  {
    input: [
      {
        records: [
          { age: 42, income: 52000, employed: 'yes', purpose: 'car' },
          { age: 23, income: 9000, employed: 'no', purpose: 'education' },
        ],
        modelVersion: 5,
      },
    ],
  },
);

export const predictionSchema = z.object({
  score: z.number().describe('Probability of the positive class'),
  label: z.boolean().describe('score >= 0.5'),
});

export const predictResponseSchema = withExamples(
  z.object({ modelVersion: z.number().int(), predictions: z.array(predictionSchema) }),
  {
    output: [
      {
        modelVersion: 5,
        predictions: [
          { score: 0.1167, label: false },
          { score: 0.5163, label: true },
        ],
      },
    ],
  },
  { id: 'Predictions' },
);
