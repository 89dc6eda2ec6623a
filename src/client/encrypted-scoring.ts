/**
 * The lender's side of encrypted prediction (DESIGN protocol 5): encode applicants with the federation's
 * preprocessing, create a CKKS key session (the secret key never leaves this process), upload only the
 * public evaluation material, send ciphertexts, decrypt the returned logits and apply the sigmoid. The
 * server sees neither features nor scores. Many rows use the batched layout (one applicant per slot).
 */
import { closeKeySession, createKeySession, decryptScores, encryptApplicants, type HeKeySession } from '../crypto/ckks/client.js';
import type { HeModelShape } from '../crypto/ckks/he-model.js';
import { recommendedParams, type HeLayout } from '../crypto/ckks/layout.js';
import { encodeMaterial } from '../crypto/ckks/material.js';
import type { CkksParams } from '../crypto/ckks/params.js';
import type { RawRecord } from '../ml/dataset-schema.js';
import { heEvaluability, type ModelSpec } from '../ml/model-spec.js';
import { createEncoder } from '../ml/preprocess.js';
import type { FederationView, FedscoreClient } from './http-client.js';

/** More rows than this are scored in the batched layout. */
export const BATCH_THRESHOLD = 8;

export interface EncryptedScores {
  /** Probability of the positive class, per input row, in input order. */
  scores: Float64Array;
  logits: Float64Array;
  modelVersion: number;
  layout: HeLayout;
  /** Bytes uploaded for the key session, and sent/received for the predictions. */
  bytes: { session: number; request: number; response: number };
}

/** The public shape of a federation's model, or why it cannot be evaluated under CKKS. */
export function heShapeOf(spec: ModelSpec, inputSize: number): HeModelShape {
  const he = heEvaluability(spec);
  if (!he.evaluable) throw new Error(`heShapeOf: this model cannot be evaluated under encryption: ${he.reason}`);
  return spec.kind === 'logreg' ? { kind: 'linear', inputSize, units: 0 } : { kind: 'quadratic', inputSize, units: spec.hidden[0]! };
}

export async function scoreEncrypted(args: {
  client: FedscoreClient;
  federation: FederationView;
  records: RawRecord[];
  modelVersion?: number;
  layout?: HeLayout;
  params?: CkksParams;
}): Promise<EncryptedScores> {
  const { client, federation, records } = args;
  const encoder = createEncoder(federation.datasetSchema);
  const rows = records.map((record) => encoder.encode(record));
  const layout = args.layout ?? (rows.length > BATCH_THRESHOLD ? 'batched' : 'single');
  const shape = heShapeOf(federation.model, encoder.size);
  // N = 8192 where the quadratic model needs its longer chain or precision (masked, or batched); else 4096.
  const params = args.params ?? recommendedParams(layout, shape);
  let session: HeKeySession | undefined;
  try {
    session = await createKeySession(params, layout, shape);
    const material = encodeMaterial(session.publicMaterial);
    const created = await client.createHeSession(federation.id, material, args.modelVersion);
    const ciphertexts = encryptApplicants(session, rows);
    const responses = await client.predictEncrypted(created.id, ciphertexts);
    const logits = decryptScores(session, responses, rows.length);
    await client.deleteHeSession(created.id);
    return {
      scores: logits.map((logit) => 1 / (1 + Math.exp(-logit))),
      logits,
      modelVersion: created.modelVersion,
      layout,
      bytes: {
        session: material.byteLength,
        request: ciphertexts.reduce((sum, c) => sum + c.byteLength, 0),
        response: responses.reduce((sum, c) => sum + c.byteLength, 0),
      },
    };
  } finally {
    if (session) closeKeySession(session);
  }
}
