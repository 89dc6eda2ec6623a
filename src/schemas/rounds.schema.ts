/**
 * Rounds: opened by the operator (or automatically), collect one update per owner, and close exactly once
 * into a new model version (or fail, publishing nothing).
 */
import { z } from 'zod';
import { jsonOrOctetStream, octetStream } from './octet-stream.schema.js';
import { federatedEvaluationSchema } from './models.schema.js';
import { idSchema, rowNumberSchema, timestampSchema, withExamples } from './common.schema.js';
import { base64Schema } from './owners.schema.js';

export const roundStatusSchema = z
  .enum(['open', 'summing', 'closed', 'failed'])
  .describe('open: collecting updates or shares; summing (secure mode): committee members upload partial sums');

export const committeeSeatSchema = z.object({
  position: z.number().int().describe('Shamir x-coordinate of this member'),
  ownerId: idSchema,
  identityKey: z.string().nullable().describe('The member’s Ed25519 identity key, base64, when it was seated'),
  publicKey: z.string().nullable().describe('The member’s X25519 key for this round only, base64; null until the member publishes it'),
  signature: z
    .string()
    .nullable()
    .describe('Ed25519 signature by identityKey over (federation, round, position, member, publicKey), base64; owners verify it before sharing'),
});

export const committeeDrawSchema = z
  .object({
    reveal: z.string().describe('Hex: the hash-chain value for this round; hashing it `number` times gives the charter’s chainAnchor'),
    volunteers: z
      .array(z.object({ ownerId: idSchema, identityKey: z.string() }))
      .describe('The volunteers with a registered identity when the round opened; the seats are the `size` with the lowest draw scores'),
  })
  .meta({ id: 'CommitteeDraw' });

export const committeeKeyBodySchema = z.strictObject({
  publicKey: base64Schema.describe('Raw 32-byte X25519 public key, base64, generated for this round only'),
  signature: base64Schema.describe('Raw 64-byte Ed25519 signature, base64, by the member’s identity key over the committee-key statement'),
});

export const secureRoundSchema = z
  .object({
    threshold: z.number().int(),
    clipNorm: z.number(),
    vectorLength: z
      .number()
      .int()
      .describe('Field elements per share: the parameters (a statistics round: 3 moments per column) plus one weight coordinate'),
    policy: z.enum(['named', 'lottery']).describe('How the committee was seated (the charter’s committee policy)'),
    field: z
      .enum(['wide', 'compact'])
      .describe('The field this round’s vectors are in: the charter’s for a training round (fieldPrime, fixedPointBits), wide for statistics and evaluation rounds'),
    weightCap: z
      .number()
      .int()
      .nullable()
      .describe('Compact field: the largest sample weight an owner gives its update (more samples count as this many), sized so the cohort’s sum fits; null in the wide field'),
    committee: z.array(committeeSeatSchema),
    keyed: z.boolean().describe('Every seat has its signed key: owners may share'),
    includedSetHash: z.string().nullable().describe('Fixed when summing starts: SHA-256 of the sorted included owner ids'),
    includedCount: z.number().int().nullable(),
    summingDeadline: timestampSchema.nullable(),
    partialSumCount: z.number().int(),
  })
  .meta({ id: 'SecureRound' });

/** An owner's own part in a round, shown only to that owner: what an agent restarted after a crash resumes from. */
export const participationSchema = z
  .object({
    sampled: z.boolean().describe('Whether this owner is asked to take part (always, unless the round samples owners)'),
    submitted: z.boolean().describe('The server holds this owner’s update (plain) or shares (secure) for this round'),
    committeePosition: z.number().int().nullable().describe('Secure mode: this owner’s committee seat, if it has one'),
    partialSumSubmitted: z.boolean().describe('Secure mode: the server holds this member’s partial sum'),
  })
  .meta({ id: 'Participation' });

export const roundSchema = withExamples(
  z.object({
    number: z.number().int(),
    kind: z
      .enum(['statistics', 'training', 'evaluation'])
      .describe(
        'statistics: owners contribute per-column moments (federated standardisation), no model is published; training: owners train and the round publishes a model version; ' +
          'evaluation: owners score `evaluation.modelVersion` on their rows and contribute tallies, the round stores the report derived from their sum',
      ),
    trainingRound: z.number().int().nullable().describe('1, 2, … among the federation’s training rounds; null for a statistics or evaluation round'),
    statistics: z
      .object({ columns: z.array(z.string()).describe('The numeric columns whose moments owners contribute, in order') })
      .nullable()
      .describe('A statistics round’s columns; null for a training round'),
    evaluation: z
      .object({
        modelVersion: z.number().int().describe('The version owners score (also `baseModelVersion`)'),
        bins: z.number().int().describe('Equal-width score bins of [0, 1] the tallies count in'),
        afterTraining: z.boolean().describe('Opened after the planned training was over: no training round follows, agents stop once it settles'),
        result: federatedEvaluationSchema.nullable().describe('Once closed: what the owners’ summed tallies show'),
      })
      .nullable()
      .describe('An evaluation round’s version and, once closed, its result; null for other rounds'),
    status: roundStatusSchema,
    tag: z
      .string()
      .describe('Number and status, e.g. "3:open": pass it as `after` to GET …/rounds/current?waitSeconds=N to wait for the next change'),
    baseModelVersion: z.number().int().describe('Model version owners train from'),
    modelVersion: z.number().int().nullable().describe('Version this round published, once closed'),
    endsTraining: z
      .boolean()
      .describe('Early stopping: this round’s version stopped the federation’s automatic rounds, so no round follows it'),
    minOwners: z.number().int(),
    submissionCount: z.number().int(),
    deadline: timestampSchema,
    openedAt: timestampSchema,
    closedAt: timestampSchema.nullable(),
    failureReason: z.string().nullable(),
    aggregation: z.enum(['plain', 'secure']),
    secure: secureRoundSchema.nullable(),
    privacy: z
      .object({
        clipNorm: z.number(),
        noiseMultiplier: z.number(),
        sampleRate: z.number(),
        expectedOwners: z.number().describe('The fixed denominator of the noised average'),
        noiseStd: z.number().describe('Standard deviation of the noise the round’s sum carries, per coordinate (z times the sensitivity)'),
        noiseStdPerOwner: z.number().describe('Secure mode: the Gaussian noise each contributing owner adds to its clipped update'),
      })
      .nullable()
      .describe('Differential privacy fixed when the round opened'),
    sampling: z
      .object({ kind: z.literal('poisson'), rate: z.number(), seed: z.string() })
      .nullable()
      .describe('Poisson sampling: owner o takes part iff SHA-256("fedscore/poisson-sample/v1" ‖ seed ‖ o) read as a 64-bit integer is below rate·2⁶⁴'),
    participation: participationSchema.nullable().describe('The calling owner’s part in this round; null for the operator'),
    learningRate: z
      .number()
      .nullable()
      .describe('The local learning rate owners train with in this round (the federation’s schedule, fixed at opening); null for a statistics round'),
  }),
  {
    output: [
      {
        number: 1,
        kind: 'training',
        trainingRound: 1,
        statistics: null,
        evaluation: null,
        status: 'open',
        tag: '1:open',
        baseModelVersion: 0,
        modelVersion: null,
        endsTraining: false,
        minOwners: 2,
        submissionCount: 0,
        deadline: '2026-11-28T10:40:03.117Z',
        openedAt: '2026-11-28T09:40:03.117Z',
        closedAt: null,
        failureReason: null,
        aggregation: 'plain',
        secure: null,
        privacy: null,
        sampling: null,
        participation: null,
        learningRate: 0.5,
      },
    ],
  },
  { id: 'Round' },
);

export const currentRoundQuerySchema = z.strictObject({
  waitSeconds: z
    .preprocess((value) => (typeof value === 'string' && /^[0-9]{1,2}$/.test(value) ? Number(value) : value), z.number({ error: 'expected whole seconds' }).int().min(0).max(60))
    .optional()
    .describe('Long poll: hold the request up to this many seconds (at most 60) while the round’s tag still equals `after`'),
  after: z
    .string()
    .max(64)
    .regex(/^(none|[0-9]{1,10}:(open|summing|closed|failed)(:[0-9]{1,3})?)$/, 'expected a round tag such as "3:open" or "3:open:2", or "none"')
    .optional()
    .describe('The `tag` of the round the caller last saw ("none" before the first round)'),
});
export type Round = z.infer<typeof roundSchema>;

export const roundListSchema = z.object({ rounds: z.array(roundSchema) });

export const openRoundBodySchema = withExamples(
  z
    .strictObject({
      kind: z
        .enum(['training', 'evaluation'])
        .optional()
        .describe('training (default; a statistics round instead while the federation has no standardisation yet) or evaluation: every owner scores `modelVersion` on its own rows'),
      modelVersion: z
        .union([rowNumberSchema(0), z.literal('default')])
        .optional()
        .describe('Evaluation rounds only: the version to evaluate, or "default" (the version predictions use); default "default"'),
      minOwners: z.number().int().min(1).max(1_000_000).optional().describe('Overrides the federation default'),
      deadlineSeconds: z.number().int().min(1).max(30 * 86_400).optional(),
    })
    .default({}),
  { input: [{ kind: 'training', minOwners: 2, deadlineSeconds: 3600 }] },
);
export type OpenRoundBody = z.infer<typeof openRoundBodySchema>;

export const localMetricsSchema = z.strictObject({
  loss: z.number().min(0).optional(),
  accuracy: z.number().min(0).max(1).optional(),
});

export const submitUpdateBodySchema = withExamples(
  z.strictObject({
    weights: z
      .array(z.number())
      .min(1)
      .max(10_000_000)
      .describe('All parameters, flat, in the model layout order (GET …/models/{version}/weights)'),
    numSamples: z.number().int().min(1).max(100_000_000),
    metrics: localMetricsSchema.default({}),
  }),
  { input: [{ weights: [-0.31, -0.74, -0.52, 0.18, -0.12, -0.2, 0.09, -1.37], numSamples: 323, metrics: { loss: 0.4561, accuracy: 0.81 } }] },
);
export type SubmitUpdateBody = z.infer<typeof submitUpdateBodySchema>;

export const submitStatisticsBodySchema = z.strictObject({
  moments: z
    .array(z.number())
    .min(3)
    .max(3 * 10_000)
    .describe(
      'For each column of the round’s `statistics.columns`, in that order: the count of this owner’s non-missing values, ' +
        'Σx′ and Σx′², where x′ = (clip(x, min, max) − min)/(max − min) with [min, max] the column’s `range`',
    ),
});
export type SubmitStatisticsBody = z.infer<typeof submitStatisticsBodySchema>;

export const submitEvaluationBodySchema = z.strictObject({
  tallies: z
    .array(z.number())
    .min(1)
    .max(4 + 3 * 1000)
    .describe(
      'This owner’s tallies of the round’s version scored on its rows, for B = `evaluation.bins` equal-width bins (bin b = [b/B, (b+1)/B), the last one including 1): ' +
        'negatives per bin (B counts), positives per bin (B counts), the sum of the scores per bin (B values), Σ log loss (scores clipped to [1e-7, 1 − 1e-7]), Σ (score − label)², ' +
        'then the negatives and the positives whose score was not finite',
    ),
});
export type SubmitEvaluationBody = z.infer<typeof submitEvaluationBodySchema>;

export const updateReceiptSchema = z
  .object({
    round: roundSchema.describe('The round after this submission (it may have just closed)'),
  })
  .meta({ id: 'UpdateReceipt' });

export const uploadSharesBodySchema = z.strictObject({
  envelopes: z
    .array(z.strictObject({ recipientId: idSchema, envelope: base64Schema }))
    .min(2)
    .max(64)
    .describe('Exactly one envelope per committee member, all in this one request'),
});
export type UploadSharesBody = z.infer<typeof uploadSharesBodySchema>;

/** The framings below are src/schemas/secure-frames.ts; every integer is unsigned little-endian. */
const ID_FRAME = 'an id is a u8 length then that many ASCII bytes [A-Za-z0-9_-]';

export const uploadSharesRequestSchema = jsonOrOctetStream(
  uploadSharesBodySchema,
  'The SDK’s form: u8 version (1) ‖ u16 count ‖ count × (recipientId ‖ u32 length ‖ envelope bytes); ' +
    `${ID_FRAME}. A truncated frame, a count outside 1..64, a bad id or trailing bytes are 400 malformed-frames; ` +
    'envelopes that do not fit the committee are 422 malformed-shares, as in JSON.',
);

export const inboxSchema = z
  .object({
    roundNumber: z.number().int(),
    position: z.number().int(),
    includedSetHash: z.string(),
    vectorLength: z.number().int(),
    envelopes: z.array(z.object({ senderId: idSchema, envelope: z.string() })).describe('One per included owner, sorted by sender id'),
  })
  .meta({ id: 'Inbox' });
export type Inbox = z.infer<typeof inboxSchema>;

export const inboxAnswerSchema = {
  description: 'The inbox: JSON with base64 envelopes, or with `Accept: application/octet-stream` the binary framing, streamed',
  content: {
    'application/json': { schema: inboxSchema },
    'application/octet-stream': {
      schema: octetStream<NodeJS.ReadableStream>(
        'Sent when Accept prefers application/octet-stream (the SDK’s form), streamed from the database one frame per envelope: ' +
          'u8 version (1) ‖ u32 roundNumber ‖ u16 position ‖ includedSetHash (32 raw bytes) ‖ u32 vectorLength ‖ u32 count, then ' +
          `count × (senderId ‖ u32 length ‖ envelope bytes), sorted by sender id; ${ID_FRAME}. A body that ends before count ` +
          'envelopes was cut off: read it again.',
      ),
    },
  },
};

export const uploadPartialSumBodySchema = z.strictObject({
  includedSetHash: z.string().length(64),
  values: base64Schema.describe('The sum of the decrypted shares: field elements packed 52 bits each, little-endian, ⌈6.5·vectorLength⌉ bytes'),
});
export type UploadPartialSumBody = z.infer<typeof uploadPartialSumBodySchema>;

export const uploadPartialSumRequestSchema = jsonOrOctetStream(
  uploadPartialSumBodySchema,
  'The SDK’s form: u8 version (1) ‖ includedSetHash (32 raw bytes) ‖ u32 count ‖ count field elements packed 52 bits each ' +
    '(⌈6.5·count⌉ bytes). A truncated body or trailing bytes are 400 malformed-frames; a count other than the round’s ' +
    'vectorLength or an element ≥ p is 422 malformed-partial-sum, as in JSON.',
);
