/**
 * The seed's one-owner-per-applicant experiment in secure mode, as the multi-instance test and the
 * scale-out benchmark run it: the first `owners` rows of the crx training split, one per owner, k = 5 and
 * t = 3, a fixed seed, scored on the split's test rows. Every party's randomness that could reach the
 * model is seeded (owners' shuffles, the initial weights), and the committee's sum is exact, so two runs
 * with the same options publish bit-identical weights whichever server instances handled them.
 */
import path from 'node:path';
import { defaultHyperparameters } from '../../src/client/defaults.js';
import type { FedscoreClient } from '../../src/client/http-client.js';
import { applySplit, encodeRows, readCsvFile, readSchemaFile, readSplitFile, shardRows, type EncodedRows, type RecordSet } from '../../src/client/local-data.js';
import type { SimulationOptions } from '../../src/client/simulation.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
import type { ModelSpec } from '../../src/ml/model-spec.js';
import { repoRoot, sharedData } from './app.js';

export interface CrxData {
  schema: DatasetSchema;
  train: EncodedRows;
  test: EncodedRows;
  testRecords: RecordSet;
}

export async function loadCrx(): Promise<CrxData> {
  const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const parts = applySplit(await readCsvFile(path.join(sharedData, 'crx.data'), schema), await readSplitFile(path.join(sharedData, 'crx.split.json')));
  return { schema, train: encodeRows(schema, parts.train), test: encodeRows(schema, parts.test!), testRecords: parts.test! };
}

const MODEL: ModelSpec = { kind: 'logreg' };

/** A secure run of `rounds` rounds over the first `owners` training rows, one row per owner. */
export function crxSecureRun(operator: FedscoreClient, data: CrxData, owners: number, rounds: number): SimulationOptions {
  if (owners > data.train.X.length) throw new Error(`crxSecureRun: expected at most ${data.train.X.length} owners, got ${owners}`);
  return {
    operator,
    name: `crx secure, ${owners} owners`,
    schema: data.schema,
    model: MODEL,
    training: { ...defaultHyperparameters('federated', MODEL), rounds, seed: 42 },
    mode: 'secure',
    secure: { committee: 5, threshold: 3, dropout: 0, committeeDropout: 0, clipNorm: 100 },
    shards: shardRows({ X: data.train.X.slice(0, owners), y: data.train.y.slice(0, owners) }),
    evaluation: data.test,
    concurrency: 16,
  };
}
