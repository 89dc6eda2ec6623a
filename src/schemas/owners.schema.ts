/**
 * Owners: data holders who enrol with a federation's enrolment token and receive their own API key once.
 */
import { z } from 'zod';
import { idSchema, storedTextSchema, timestampSchema, withExamples } from './common.schema.js';

export const ownerRoleSchema = z
  .enum(['owner', 'aggregator'])
  .describe('owner: holds data and submits updates; aggregator: a committee node without data');

export const enrolOwnerBodySchema = withExamples(
  z.strictObject({
    enrolmentToken: z.string().min(1).max(256),
    name: storedTextSchema.min(1).max(200).describe('A label for the operator; need not identify a person'),
    role: ownerRoleSchema.default('owner'),
  }),
  { input: [{ enrolmentToken: 'fse_c2hvd24tb25jZS1ieS1jcmVhdGVGZWRlcmF0aW9u', name: 'Regional bank A', role: 'owner' }] },
);

export const base64Schema = z.string().max(64 * 1024 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');

export const ownerSchema = z
  .object({
    id: idSchema,
    federationId: idSchema,
    name: z.string(),
    role: ownerRoleSchema,
    identityKey: z.string().nullable().describe('Raw Ed25519 identity public key, base64: signs this party’s per-round committee keys'),
    committeeVolunteer: z.boolean(),
    privacy: z
      .object({ epsilon: z.number(), delta: z.number() })
      .nullable()
      .describe('This owner’s own privacy loss: the differentially private rounds opened since it enrolled'),
    createdAt: timestampSchema,
    removedAt: timestampSchema.nullable().describe('When the operator removed this owner (its key revoked, no later rounds); null while it takes part'),
  })
  .meta({ id: 'Owner' });

export const registerIdentityBodySchema = z.strictObject({
  identityKey: base64Schema.describe(
    'Raw 32-byte Ed25519 public key, base64: the party’s long-term identity, which signs its committee key for every round it is seated in. ' +
      'Fixed once registered; under a named committee policy an aggregator node’s key must be one of the charter’s',
  ),
  committeeVolunteer: z.boolean().default(false).describe('Willing to serve on secure-aggregation committees'),
});
export type Owner = z.infer<typeof ownerSchema>;

export const enrolledOwnerSchema = withExamples(
  z.object({
    owner: ownerSchema,
    apiKey: z.string().describe('Shown once; send as Authorization: Bearer. Only its hash is stored.'),
  }),
  {
    output: [
      {
        owner: {
          id: '31af6c0e-2d4b-4f8a-b7e3-5c9a1d2e58e1',
          federationId: '3c77d1a4-8f2b-4e6a-9c15-0b7e2d9f526f',
          name: 'Regional bank A',
          role: 'owner',
          identityKey: null,
          committeeVolunteer: false,
          privacy: null,
          createdAt: '2026-11-28T09:12:41.508Z',
          removedAt: null,
        },
        apiKey: 'fsk_ZXhhbXBsZS1vd25lci1rZXktc2hvd24tb25jZQ',
      },
    ],
  },
  { id: 'EnrolledOwner' },
);

export const rotatedOwnerKeySchema = z
  .object({
    owner: ownerSchema,
    apiKey: z.string().describe('The new key, shown once; the previous one no longer works. Only its hash is stored.'),
  })
  .meta({ id: 'RotatedOwnerKey' });

export const ownerListSchema = z.object({ owners: z.array(ownerSchema) });
