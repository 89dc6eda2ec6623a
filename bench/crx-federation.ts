/** The crx federation the server benchmarks create (logistic regression, crx schema). */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { CreateFederationInput } from '../src/client/http-client.js';
import { repoRoot } from './bench-io.js';

export async function federationBody(minOwners: number): Promise<CreateFederationInput> {
  const datasetSchema = JSON.parse(await readFile(path.join(repoRoot, 'schemas', 'crx.json'), 'utf8'));
  return {
    name: 'bench',
    datasetSchema,
    model: { kind: 'logreg' },
    training: { rounds: 1, minOwners, autoAdvance: false, roundDeadlineSeconds: 3600 },
  };
}
