/**
 * Plain predictions for the operator's own use: records in the federation's schema are encoded with its
 * preprocessing and scored by a model version. Every record is validated before any is scored, and a
 * bad one is reported by index and column, never by value.
 */
import { ValidationError, type ProblemField } from '../errors.js';
import type { RawRecord } from '../ml/dataset-schema.js';
import { createEncoder, RecordError } from '../ml/preprocess.js';
import { predictProba } from '../ml/train.js';
import { requireOperator } from './auth.service.js';
import type { Principal } from './credentials.js';
import type { ModelsService } from './models.service.js';

export class PredictionsService {
  constructor(private readonly models: ModelsService) {}

  async predict(principal: Principal, federationId: string, body: { records: RawRecord[]; modelVersion?: number }) {
    requireOperator(principal, 'predict');
    const { federation, version, weights } = await this.models.load(federationId, body.modelVersion ?? 'latest');
    const encoder = createEncoder(federation.datasetSchema);
    const problems: ProblemField[] = [];
    const features = body.records.map((record, index) => {
      try {
        return encoder.encode(record);
      } catch (error) {
        if (!(error instanceof RecordError)) throw error;
        problems.push({ path: `records.${index}.${error.column}`, message: error.message });
        return new Float32Array(encoder.size);
      }
    });
    if (problems.length > 0) {
      throw new ValidationError(`predict: ${problems.length} record field(s) do not fit the federation's schema`, problems.slice(0, 100));
    }
    const scores = predictProba(federation.modelSpec, weights, features);
    return {
      modelVersion: version,
      predictions: Array.from(scores, (score) => ({ score, label: score >= 0.5 })),
    };
  }
}
