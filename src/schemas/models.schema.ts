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

const metric = (description: string) => z.number().nullable().describe(description);

export const modelReportSchema = z
  .object({
    rows: z.number().int(),
    positives: z.number().int(),
    majorityRate: metric('Accuracy of always predicting the more common class'),
    accuracy: metric('At threshold 0.5'),
    auc: metric('ROC AUC'),
    logLoss: metric('Mean binary cross-entropy'),
    brier: metric('Mean squared error of the probability'),
    ks: metric('Kolmogorov–Smirnov statistic: the largest TPR − FPR'),
    confusion: z
      .object({ truePositives: z.number().int(), falsePositives: z.number().int(), trueNegatives: z.number().int(), falseNegatives: z.number().int() })
      .describe('At threshold 0.5'),
    roc: z
      .array(z.object({ threshold: z.number().nullable().describe('null: above every score'), fpr: z.number(), tpr: z.number() }))
      .describe('At most 101 points of the ROC curve, from (0, 0) to (1, 1)'),
    calibration: z
      .array(
        z.object({
          lower: z.number(),
          upper: z.number(),
          count: z.number().int(),
          meanPredicted: z.number().nullable(),
          observedRate: z.number().nullable(),
        }),
      )
      .describe('Reliability diagram over ten equal-width probability bins'),
    scoreHistogram: z
      .object({ positives: z.array(z.number().int()), negatives: z.array(z.number().int()) })
      .describe('Scores per class in twenty equal-width bins of [0, 1]'),
  })
  .meta({ id: 'ModelReport', description: 'A model version scored on labelled rows; a metric one class alone cannot define is null' });

export const federatedEvaluationSchema = z
  .object({
    round: z.number().int().describe('The evaluation round that produced it'),
    modelVersion: z.number().int(),
    owners: z.number().int().describe('Owners whose tallies are in the sum'),
    aucResolution: z
      .number()
      .nullable()
      .describe('Largest possible |AUC − exact AUC|: scores sharing one of the round’s `bins` score bins (200 of [0, 1]) count as ties (KS and the ROC points are at the bin edges too)'),
    report: modelReportSchema.describe(
      'Derived from the owners’ summed tallies alone: counts, confusion, histograms and reliability counts are exact; log loss and Brier up to rounding; AUC, KS and ROC to histogram resolution',
    ),
  })
  .meta({ id: 'FederatedEvaluation', description: 'A version scored by the owners on their own rows; the server learnt only the sum of their tallies' });

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
    validation: modelReportSchema
      .nullable()
      .describe('Scores on the federation’s validation set (operator only; null for owners, and for versions published before one was attached)'),
    federatedEvaluation: federatedEvaluationSchema
      .nullable()
      .describe('The latest federated evaluation of this version (an evaluation round: POST …/rounds with kind "evaluation"); null when it has had none'),
    promoted: z.boolean().describe('Whether this is the federation’s promoted version'),
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
