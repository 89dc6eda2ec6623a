/**
 * Model versions: listing, metadata and weights. Owners read them to train; the operator to audit.
 */
import type { Db } from '../db/client.js';
import { findModelVersion, findModelWeights, listModelVersions, type ModelVersionRecord } from '../db/models.repository.js';
import { NotFoundError } from '../errors.js';
import { heEvaluability, type ModelSpec } from '../ml/model-spec.js';
import type { ModelVersion, ModelWeights } from '../schemas/models.schema.js';
import { requireMember } from './auth.service.js';
import type { Principal } from './credentials.js';
import { layoutOf, type FederationsService } from './federations.service.js';

export type VersionRef = number | 'latest';

export class ModelsService {
  constructor(
    private readonly db: Db,
    private readonly federations: FederationsService,
  ) {}

  async list(principal: Principal, federationId: string): Promise<ModelVersion[]> {
    requireMember(principal, federationId, 'listModels');
    const federation = await this.federations.load(federationId);
    return (await listModelVersions(this.db, federationId)).map((model) => toModelDto(model, federation.modelSpec));
  }

  async get(principal: Principal, federationId: string, ref: VersionRef): Promise<ModelVersion> {
    requireMember(principal, federationId, 'getModel');
    const federation = await this.federations.load(federationId);
    const version = ref === 'latest' ? federation.latestModelVersion : ref;
    const model = await findModelVersion(this.db, federationId, version);
    if (!model) throw new NotFoundError('model-version', version);
    return toModelDto(model, federation.modelSpec);
  }

  async weights(principal: Principal, federationId: string, ref: VersionRef): Promise<ModelWeights> {
    requireMember(principal, federationId, 'getModelWeights');
    const { version, weights, layout } = await this.load(federationId, ref);
    return { version, layout, weights: Array.from(weights) };
  }

  /** Weights and layout for internal use (predictions). */
  async load(federationId: string, ref: VersionRef) {
    const federation = await this.federations.load(federationId);
    const version = ref === 'latest' ? federation.latestModelVersion : ref;
    const weights = await findModelWeights(this.db, federationId, version);
    if (!weights) throw new NotFoundError('model-version', version);
    return { federation, version, weights, layout: layoutOf(federation) };
  }

}

function toModelDto(model: ModelVersionRecord, spec: ModelSpec): ModelVersion {
  const he = heEvaluability(spec);
  return {
    version: model.version,
    roundNumber: model.roundNumber,
    metrics: model.metrics,
    heEvaluable: he.evaluable,
    heRefusal: he.reason,
    privacy: model.epsilon === null || model.delta === null ? null : { epsilon: model.epsilon, delta: model.delta },
    createdAt: model.createdAt.toISOString(),
  };
}
