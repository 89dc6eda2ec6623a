/**
 * A lender part-way through encrypted scoring: a batched CKKS key session opened with an operator client,
 * some applicants scored in it, and the session left open (unlike scoreEncrypted, which deletes it), so
 * the console and the session list have one to show. The secret key is dropped at once: nothing here
 * decrypts.
 */
import { closeKeySession, createKeySession, encryptApplicants } from '../../src/crypto/ckks/client.js';
import { recommendedParams } from '../../src/crypto/ckks/layout.js';
import { encodeMaterial } from '../../src/crypto/ckks/material.js';
import { heShapeOf } from '../../src/client/encrypted-scoring.js';
import type { FedscoreClient } from '../../src/client/http-client.js';
import type { RawRecord } from '../../src/ml/dataset-schema.js';
import { createEncoder } from '../../src/ml/preprocess.js';

export async function openLenderSession(client: FedscoreClient, federationId: string, records: RawRecord[]): Promise<string> {
  const federation = await client.getFederation(federationId);
  const encoder = createEncoder(federation.datasetSchema);
  const shape = heShapeOf(federation.model, encoder.size);
  const keys = await createKeySession(recommendedParams('batched', shape), 'batched', shape);
  try {
    const created = await client.createHeSession(federationId, encodeMaterial(keys.publicMaterial));
    await client.predictEncrypted(created.id, encryptApplicants(keys, records.map((record) => encoder.encode(record))));
    return created.id;
  } finally {
    closeKeySession(keys);
  }
}
