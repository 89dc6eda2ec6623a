/**
 * Owners: data holders who enrol with a federation's enrolment token and receive their own API key once.
 */
import { z } from 'zod';
import { idSchema, timestampSchema } from './common.schema.js';

export const enrolOwnerBodySchema = z.strictObject({
  enrolmentToken: z.string().min(1).max(256),
  name: z.string().min(1).max(200).describe('A label for the operator; need not identify a person'),
});

export const ownerSchema = z
  .object({ id: idSchema, federationId: idSchema, name: z.string(), createdAt: timestampSchema })
  .meta({ id: 'Owner' });
export type Owner = z.infer<typeof ownerSchema>;

export const enrolledOwnerSchema = z
  .object({
    owner: ownerSchema,
    apiKey: z.string().describe('Shown once; send as Authorization: Bearer. Only its hash is stored.'),
  })
  .meta({ id: 'EnrolledOwner' });

export const ownerListSchema = z.object({ owners: z.array(ownerSchema) });
