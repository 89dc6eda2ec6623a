/**
 * Rounds: opened by the operator (or automatically), collect one update per owner, and close exactly once
 * into a new model version (or fail, publishing nothing).
 */
import { z } from 'zod';
import { timestampSchema } from './common.schema.js';

export const roundStatusSchema = z.enum(['open', 'closed', 'failed']);

export const roundSchema = z
  .object({
    number: z.number().int(),
    status: roundStatusSchema,
    baseModelVersion: z.number().int().describe('Model version owners train from'),
    modelVersion: z.number().int().nullable().describe('Version this round published, once closed'),
    minOwners: z.number().int(),
    submissionCount: z.number().int(),
    deadline: timestampSchema,
    openedAt: timestampSchema,
    closedAt: timestampSchema.nullable(),
    failureReason: z.string().nullable(),
  })
  .meta({ id: 'Round' });
export type Round = z.infer<typeof roundSchema>;

export const roundListSchema = z.object({ rounds: z.array(roundSchema) });

export const openRoundBodySchema = z
  .strictObject({
    minOwners: z.number().int().min(1).max(1_000_000).optional().describe('Overrides the federation default'),
    deadlineSeconds: z.number().int().min(1).max(30 * 86_400).optional(),
  })
  .default({});

export const localMetricsSchema = z.strictObject({
  loss: z.number().min(0).optional(),
  accuracy: z.number().min(0).max(1).optional(),
});

export const submitUpdateBodySchema = z.strictObject({
  weights: z
    .array(z.number())
    .min(1)
    .max(10_000_000)
    .describe('All parameters, flat, in the model layout order (GET …/models/{version}/weights)'),
  numSamples: z.number().int().min(1).max(100_000_000),
  metrics: localMetricsSchema.default({}),
});
export type SubmitUpdateBody = z.infer<typeof submitUpdateBodySchema>;

export const updateReceiptSchema = z
  .object({
    round: roundSchema.describe('The round after this submission (it may have just closed)'),
  })
  .meta({ id: 'UpdateReceipt' });
