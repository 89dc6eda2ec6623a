/**
 * The dataset schema is data, not code: a federation declares its columns, so any tabular credit data set
 * works. This is its wire form; src/ml/dataset-schema.ts holds the matching domain type.
 */
import { z } from 'zod';
import { storedTextSchema } from './common.schema.js';

const columnName = storedTextSchema.min(1).max(128);
const categoryValue = storedTextSchema.min(1).max(128);

export const columnSpecSchema = z.discriminatedUnion('type', [
  z.strictObject({
    name: columnName,
    type: z.literal('numeric'),
    transform: z
      .enum(['signed-log'])
      .optional()
      .describe(
        'Applied to every value before anything else: signed-log maps x to sign(x)·ln(1 + |x|), for heavy-tailed amounts. mean and std are then those of the transformed values; range stays in raw units',
      ),
    mean: z.number().optional().describe('Standardisation mean (of the transformed values, with a transform); omit it (and std) to have the federation compute it'),
    std: z.number().positive().optional().describe('Standardisation standard deviation'),
    range: z
      .tuple([z.number(), z.number()])
      .optional()
      .describe('[min, max] in raw units (before any transform): for federated standardisation, every owner clips this column’s values to it; required without mean and std'),
  }),
  z.strictObject({
    name: columnName,
    type: z.literal('binary'),
    values: z.tuple([categoryValue, categoryValue]).describe('values[0] encodes as 0, values[1] as 1'),
  }),
  z.strictObject({
    name: columnName,
    type: z.literal('categorical'),
    values: z.array(categoryValue).min(1).max(1000).describe('One-hot encoded in this order'),
  }),
  z.strictObject({ name: columnName, type: z.literal('ignore') }),
]);

export const datasetSchemaSchema = z
  .strictObject({
    description: storedTextSchema.max(2000).optional(),
    columns: z.array(columnSpecSchema).min(2).max(2000).describe('In file order, including the label column'),
    label: z.strictObject({
      column: columnName,
      positive: storedTextSchema.min(1).describe('Label value of the positive class; any other value is negative'),
    }),
    missingToken: storedTextSchema.max(16).default('?'),
    delimiter: storedTextSchema.length(1).default(','),
    header: z.boolean().default(false),
  })
  .meta({ id: 'DatasetSchema' });
export type DatasetSchemaWire = z.infer<typeof datasetSchemaSchema>;

export const rawRecordSchema = z
  .record(columnName, z.union([z.string().max(256), z.number(), z.boolean(), z.null()]))
  .describe('One applicant, keyed by column name');
