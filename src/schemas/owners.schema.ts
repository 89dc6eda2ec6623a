/**
 * Owners: data holders who enrol with a federation's enrolment token and receive their own API key once.
 */
import { z } from 'zod';
import { idSchema, timestampSchema } from './common.schema.js';

export const ownerRoleSchema = z
  .enum(['owner', 'aggregator'])
  .describe('owner: holds data and submits updates; aggregator: a committee node without data');

export const enrolOwnerBodySchema = z.strictObject({
  enrolmentToken: z.string().min(1).max(256),
  name: z.string().min(1).max(200).describe('A label for the operator; need not identify a person'),
  role: ownerRoleSchema.default('owner'),
});

export const base64Schema = z.string().max(64 * 1024 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');

export const ownerSchema = z
  .object({
    id: idSchema,
    federationId: idSchema,
    name: z.string(),
    role: ownerRoleSchema,
    publicKey: z.string().nullable().describe('Raw X25519 public key, base64'),
    committeeVolunteer: z.boolean(),
    privacy: z
      .object({ epsilon: z.number(), delta: z.number() })
      .nullable()
      .describe('This owner’s own privacy loss: the differentially private rounds opened since it enrolled'),
    createdAt: timestampSchema,
  })
  .meta({ id: 'Owner' });

export const registerPublicKeyBodySchema = z.strictObject({
  publicKey: base64Schema.describe('Raw 32-byte X25519 public key, base64; share envelopes are encrypted to it'),
  committeeVolunteer: z.boolean().default(false).describe('Willing to serve on secure-aggregation committees'),
});
export type Owner = z.infer<typeof ownerSchema>;

export const enrolledOwnerSchema = z
  .object({
    owner: ownerSchema,
    apiKey: z.string().describe('Shown once; send as Authorization: Bearer. Only its hash is stored.'),
  })
  .meta({ id: 'EnrolledOwner' });

export const ownerListSchema = z.object({ owners: z.array(ownerSchema) });
