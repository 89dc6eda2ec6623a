/**
 * Plain predictions for the operator's own use: records in the federation's schema are encoded with its
 * preprocessing and scored by a model version. Every record is checked before any is scored, and every
 * field that does not fit is reported by record index and column, with a reason the sender can act on.
 */
import { ValidationError, type ProblemField } from '../errors.js';
import type { RawRecord } from '../ml/dataset-schema.js';
import { createEncoder } from '../ml/preprocess.js';
import { predictProba } from '../ml/train.js';
import { requireScope } from './auth.service.js';
import type { Principal } from './credentials.js';
import { requireStandardisation } from './federations.service.js';
import { memoPerFrozen } from './frozen-memo.js';
import type { ModelsService } from './models.service.js';

/** The most problems one refusal lists; the detail says how many more there were. */
export const MAX_LISTED_PROBLEMS = 100;

/** One encoder per stored schema, not one per request: building it validates and compiles every column. */
const encoderOf = memoPerFrozen(createEncoder);

export class PredictionsService {
  constructor(private readonly models: ModelsService) {}

  async predict(principal: Principal, federationId: string, body: { records: RawRecord[]; modelVersion?: number }) {
    requireScope(principal, federationId, 'predict', 'predict');
    const { federation, version, weights } = await this.models.load(federationId, body.modelVersion ?? 'default');
    requireStandardisation(federation, 'predict');
    const encoder = encoderOf(federation.datasetSchema);
    // The messages may quote the offending value: they go back to the sender in the 422 body only (4xx
    // answers are not logged), never into the detail or a log line.
    const listed: ProblemField[] = [];
    let problems = 0;
    let badRecords = 0;
    const features = body.records.map((record, index) => {
      const attempt = encoder.tryEncode(record);
      if (attempt.features !== null) return attempt.features;
      badRecords++;
      for (const problem of attempt.problems) {
        problems++;
        if (listed.length < MAX_LISTED_PROBLEMS) listed.push({ path: `records.${index}.${problem.column}`, message: problem.message });
      }
      return null;
    });
    if (problems > 0) {
      const more = problems > listed.length ? `; errors lists the first ${listed.length}, ${problems - listed.length} more are not shown` : '';
      throw new ValidationError(
        `predict: ${problems} field(s) in ${badRecords} record(s) do not fit the federation's schema${more}`,
        listed,
      );
    }
    const scores = predictProba(federation.modelSpec, weights, features as Float32Array[]);
    return {
      modelVersion: version,
      predictions: Array.from(scores, (score) => ({ score, label: score >= 0.5 })),
    };
  }
}
