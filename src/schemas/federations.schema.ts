/**
 * Federations: a dataset schema, a model spec and a training configuration, created by the operator.
 */
import { z } from 'zod';
import { idSchema, storedTextSchema, timestampSchema, withExamples } from './common.schema.js';
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

/**
 * A number, named in the error when it is not one (JSON's 1e400 parses to Infinity, which zod refuses as no
 * number). Bounds chained on it keep their own messages and are written into the OpenAPI document, which
 * bounds behind a refinement's pipe were not.
 */
const finite = (what: string) => z.number({ error: (issue) => (issue.code === 'invalid_type' ? `expected a finite number for ${what}` : undefined) });
const positiveFinite = (what: string, max: number) => finite(what).gt(0).max(max);
const fraction = (what: string) => finite(what).min(0).lt(1);

export const serverOptimizerSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('fedavg').describe('w ← w + η·Δ, Δ the round’s averaged change (η = 1 is FedAvg)'),
      learningRate: positiveFinite('learningRate', 10).default(1).describe('η, the server learning rate'),
    }),
    z.strictObject({
      kind: z.literal('fedavgm').describe('FedAvg with server momentum: v ← β·v + Δ, w ← w + η·v'),
      learningRate: positiveFinite('learningRate', 10).default(1),
      momentum: fraction('momentum').default(0.9).describe('β'),
    }),
    z.strictObject({
      kind: z.enum(['fedadam', 'fedyogi']).describe('Adaptive server optimisers (Reddi et al. 2021), bias-corrected as Adam'),
      learningRate: positiveFinite('learningRate', 10).default(0.03).describe('η, about the largest step any weight moves per round'),
      beta1: fraction('beta1').default(0.9),
      beta2: fraction('beta2').default(0.99),
      tau: positiveFinite('tau', 1).default(0.001).describe('τ, the adaptivity floor added to √v'),
    }),
  ])
  .meta({ id: 'ServerOptimizer', description: 'How the server moves the model along each round’s averaged change; it only ever sees the aggregate' });
export type ServerOptimizerSetting = z.infer<typeof serverOptimizerSchema>;

export const learningRateScheduleSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('constant') }),
    z.strictObject({ kind: z.literal('exponential'), decay: z.number().gt(0).max(1).describe('γ: round r trains at learningRate·γ^(r−1)') }),
    z.strictObject({
      kind: z.literal('cosine'),
      floor: z.number().min(0).max(1).default(0.1).describe('The fraction of learningRate reached in the last planned round'),
    }),
  ])
  .meta({ id: 'LearningRateSchedule', description: 'The owners’ local learning rate round by round, fixed in each round’s configuration when it opens' });

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
    learningRateSchedule: learningRateScheduleSchema.default({ kind: 'constant' }),
    l2: z.number().min(0).max(1).default(0).describe('λ of the owners’ local weight decay (kernels only)'),
    serverOptimizer: serverOptimizerSchema
      .optional()
      .describe('Omitted: fedavg (η 1) for logistic regression, fedadam (η 0.03) for an MLP; the README says how these were chosen'),
  })
  .meta({ id: 'TrainingConfig' });
export type TrainingConfig = z.infer<typeof trainingConfigSchema>;

export const aggregationSchema = z
  .enum(['plain', 'secure'])
  .describe('plain: the server sees each update (trusted aggregator); secure: Shamir shares, the server learns only the sum');

export const committeePolicySchema = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('lottery').describe(
        'Seats drawn each round from the volunteers by a hash chain the server committed to in the charter; any owner can recompute the draw. ' +
          'It does not stop an operator who enrols many sybil volunteers: prefer named for institution-run federations',
      ),
    }),
    z.strictObject({
      kind: z.literal('named').describe('The charter names the aggregator nodes; all of them are seated every round (committee.size of them)'),
      aggregators: z
        .array(
          z.strictObject({
            name: storedTextSchema.min(1).max(200).describe('Who runs the node, for people'),
            identityKey: z.string().max(100).describe('The node’s Ed25519 identity public key, base64 (`fedscore owner identity` prints it)'),
          }),
        )
        .min(2)
        .max(64),
    }),
  ])
  .meta({ id: 'CommitteePolicy' });

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
    field: z
      .enum(['wide', 'compact'])
      .default('wide')
      .describe(
        'The prime field training rounds share in, fixed in the charter. wide: 2^52 − 47, steps of 2^-20, sums up to ≈ 2.1·10^9. ' +
          'compact: 2^37 − 25, steps of 2^-16, 29% smaller uploads, but every coordinate of a round’s sum must stay within ≈ 1.05·10^6: ' +
          'each round caps an owner’s sample weight (secure.weightCap) so that its cohort × weightCap × max(clipNorm, 1) fits, and refuses to open when even a weight of 1 does not. ' +
          'No differential privacy with compact.',
      ),
    policy: committeePolicySchema.default({ kind: 'lottery' }).describe('Who sits on the committee: fixed in the charter'),
  })
  .meta({ id: 'SecureAggregationConfig' });
export type SecureAggregationConfig = z.infer<typeof secureAggregationConfigSchema>;

export const samplingSchema = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('all').describe('every enrolled owner is asked to take part in every round') }),
    z.strictObject({
      kind: z.literal('poisson'),
      rate: finite('rate').gt(0).max(1).describe('q: each owner takes part with this probability, decided from the round’s public seed'),
    }),
  ])
  .meta({ id: 'Sampling' });

export const privacyConfigSchema = z
  .strictObject({
    epsilon: finite('epsilon').gt(0).max(100).describe('The federation’s budget ε; no round opens that would exceed it'),
    delta: finite('delta').gt(0).lt(1).describe('The budget δ; must stay below 1/owners'),
    clipNorm: finite('clipNorm')
      .gt(0)
      .max(10_000)
      .describe('C: every owner’s update (new − base weights) is clipped to this L2 norm; one owner is one privacy unit'),
    noiseMultiplier: finite('noiseMultiplier')
      .gt(0)
      .max(1000)
      .optional()
      .describe('z: the round’s sum carries Gaussian noise of standard deviation z·C; omitted, the smallest z that fits the budget over the planned rounds'),
    sampling: samplingSchema.default({ kind: 'all' }),
    dropoutTolerance: finite('dropoutTolerance')
      .min(0)
      .max(0.9)
      .default(0.1)
      .describe(
        'Secure mode: the fraction of a round’s expected owners that may drop out while the sum still carries the full noise. ' +
          'Each owner adds noise for the smallest sum the round may close with, so a larger tolerance costs accuracy.',
      ),
  })
  .meta({ id: 'PrivacyConfig', description: 'Differential privacy (DP-FedAvg, owner level), accounted with Rényi DP of the sampled Gaussian mechanism' });
export type PrivacyConfig = z.infer<typeof privacyConfigSchema>;

export const privacyStateSchema = z
  .object({
    epsilon: z.number(),
    delta: z.number(),
    clipNorm: z.number(),
    noiseMultiplier: z.number(),
    sampling: samplingSchema,
    dropoutTolerance: z.number(),
    spent: z
      .object({
        epsilon: z.number().describe('ε spent by the rounds opened so far (each is charged when it opens)'),
        rounds: z.number().int().describe('Differentially private rounds charged'),
      })
      .describe('What the accountant has composed so far (Rényi DP, converted with the Balle et al. 2020 bound Opacus uses)'),
  })
  .meta({ id: 'PrivacyState' });

export const standardisationSchema = z
  .object({
    source: z.enum(['operator', 'federated']).describe('federated: a statistics round computed some or all of the columns; operator: all came with the schema'),
    roundNumber: z.number().int().nullable().describe('The statistics round that computed them'),
    columns: z.record(
      z.string(),
      z.object({
        source: z.enum(['operator', 'federated']),
        count: z.number().int().nullable().describe('Non-missing values summed over the owners (federated only)'),
        mean: z.number(),
        std: z.number(),
      }),
    ),
  })
  .meta({
    id: 'Standardisation',
    description: 'The means and standard deviations every numeric feature is standardised with (training, plain and encrypted prediction), and where each came from',
  });

export const charterSchema = z
  .object({
    version: z.literal(1),
    aggregation: aggregationSchema,
    secure: z
      .object({
        committee: z.object({ size: z.number().int(), threshold: z.number().int() }),
        clipNorm: z.number(),
        fixedPointBits: z.number().int(),
        fieldPrime: z.string().describe('Decimal'),
        summingDeadlineSeconds: z.number().int(),
        policy: z.discriminatedUnion('kind', [
          z.object({ kind: z.literal('named'), aggregators: z.array(z.object({ name: z.string(), identityKey: z.string() })) }),
          z.object({
            kind: z.literal('lottery'),
            chainAnchor: z.string().describe('Hex: the server’s commitment; round n reveals the value that hashes to it in n steps'),
            chainLength: z.number().int().describe('Rounds the chain covers'),
          }),
        ]),
      })
      .nullable(),
  })
  .meta({
    id: 'Charter',
    description:
      'What a federation promises its owners, fixed before its first round: its aggregation, secure parameters and committee policy. ' +
      'Owners pin the SHA-256 of its canonical JSON (sorted keys, no whitespace) at enrolment and compare it out of band',
  });

export const charterViewSchema = z
  .object({
    charter: charterSchema,
    fingerprint: z.string().describe('Lowercase hex SHA-256 of the charter’s canonical JSON; an owner recomputes it rather than trusting this field'),
  })
  .meta({ id: 'CharterView' });

/** Replacing the secure settings (and so the charter) is allowed only before the first round opens. */
export const updateSecureBodySchema = z.strictObject({ secure: secureAggregationConfigSchema });

export const selectionSchema = z
  .strictObject({
    rule: z
      .enum(['manual', 'best'])
      .default('best')
      .describe('best: each version scored on the validation set may be promoted automatically; manual: only the operator promotes'),
    metric: z.enum(['auc', 'logLoss', 'accuracy', 'brier', 'ks']).default('logLoss').describe('The validation metric `best` and early stopping compare'),
    patience: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .nullable()
      .default(null)
      .describe('Early stopping: stop opening rounds after this many scored versions without improving the metric; null: never'),
  })
  .meta({
    id: 'Selection',
    description: 'Which version predictions use by default. A version whose validation accuracy is below the majority-class rate is never promoted by the rule',
  });

export type SelectionInput = z.input<typeof selectionSchema>;

export const trainingStopSchema = z
  .object({
    reason: z.literal('early-stopping'),
    atVersion: z.number().int().describe('The version whose score triggered the stop'),
    bestVersion: z.number().int().nullable().describe('The best eligible version then'),
    metric: z.string(),
    patience: z.number().int(),
  })
  .meta({ id: 'TrainingStop' });

export const createFederationBodySchema = withExamples(
  z.strictObject({
    name: storedTextSchema.min(1).max(200),
    datasetSchema: datasetSchemaSchema,
    model: modelSpecSchema,
    training: trainingConfigSchema.default(trainingConfigSchema.parse({})),
    aggregation: aggregationSchema.default('plain'),
    secure: secureAggregationConfigSchema
      .optional()
      .describe('Secure-aggregation settings; defaults apply when aggregation is "secure" and this is omitted'),
    privacy: privacyConfigSchema.optional().describe('Differential privacy with a budget; omitted, none'),
    selection: selectionSchema.optional().describe('Model selection and early stopping; omitted: best by validation log loss, no early stopping'),
  }),
  {
    input: [
      {
        name: 'Consumer loans 2026',
        datasetSchema: {
          description: 'One applicant per row; `defaulted` is the label',
          columns: [
            { name: 'age', type: 'numeric', mean: 38.2, std: 11.6 },
            { name: 'income', type: 'numeric', transform: 'signed-log', mean: 10.6, std: 0.9 },
            { name: 'employed', type: 'binary', values: ['no', 'yes'] },
            { name: 'purpose', type: 'categorical', values: ['car', 'home', 'education', 'other'] },
            { name: 'defaulted', type: 'binary', values: ['no', 'yes'] },
          ],
          label: { column: 'defaulted', positive: 'yes' },
          header: true,
        },
        model: { kind: 'logreg' },
        training: { rounds: 5, localEpochs: 1, learningRate: 0.5, minOwners: 2, roundDeadlineSeconds: 3600 },
      },
    ],
  },
);
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
    privacy: privacyStateSchema.nullable(),
    standardisation: standardisationSchema
      .nullable()
      .describe('null until the first round — a statistics round — computes the columns the schema gives no mean and std for'),
    charter: charterSchema.nullable().describe('null only for federations created before charters existed'),
    charterFingerprint: z.string().nullable(),
    featureNames: z.array(z.string()).describe('Encoded feature order the model expects'),
    latestModelVersion: z.number().int(),
    promotedModelVersion: z.number().int().nullable().describe('Promoted by the operator or by the selection rule'),
    defaultModelVersion: z
      .number()
      .int()
      .nullable()
      .describe(
        'The version predictions and encrypted-prediction sessions use when none is named: the promoted one; without one, the latest — ' +
          'unless the rule is `best` and a validation set is attached, then null until some version beats the majority-class rate',
      ),
    selection: selectionSchema,
    trainingStop: trainingStopSchema.nullable().describe('Why automatic rounds stopped before the planned count; null otherwise'),
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

/** Changing differential privacy is allowed only before any budget has been spent. */
export const updatePrivacyBodySchema = z.strictObject({ privacy: privacyConfigSchema.nullable() });

export const enrolmentTokenSchema = z.object({ enrolmentToken: z.string() }).meta({ id: 'EnrolmentToken' });
export const federationListSchema = z.object({ federations: z.array(federationSchema) });

/** The operator's labelled validation rows, as CSV text in the federation's data layout (header and delimiter as its schema says). */
export const putValidationSetBodySchema = z.strictObject({
  csv: storedTextSchema.min(1).max(16_000_000).describe('Every schema column, the label included, one complete row per line'),
});

export const validationSetSchema = z
  .object({
    rows: z.number().int(),
    positives: z.number().int(),
    majorityRate: z.number().describe('Accuracy of always predicting the more common class: no version below it is promoted by the rule'),
    scoredVersions: z.number().int().describe('Model versions scored on it so far'),
    createdAt: timestampSchema,
  })
  .meta({ id: 'ValidationSet', description: 'What the server holds for validation; the rows themselves are never served' });

export const putSelectionBodySchema = z.strictObject({ selection: selectionSchema });
