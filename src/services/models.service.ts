/**
 * Model versions: listing, metadata and weights (owners read them to train; the operator to audit), the
 * validation set every version is scored on, promotion, and the version predictions use by default.
 */
import type { Db } from '../db/client.js';
import { setPromotedModelVersion, setSelection, type FederationRecord } from '../db/federations.repository.js';
import { findModelVersion, findModelWeights, listModelVersions, listModelWeights, setValidationReport, type ModelVersionRecord } from '../db/models.repository.js';
import { federationsWithValidationSets, findValidationSet, putValidationSet } from '../db/validation-sets.repository.js';
import { ConflictError, NotFoundError } from '../errors.js';
import { isEligible, type SelectionConfig } from '../fl/model-selection.js';
import { findLatestEvaluation, listLatestEvaluations, type StoredFederatedEvaluation } from '../db/rounds.repository.js';
import { heEvaluability } from '../ml/model-spec.js';
import type { Federation } from '../schemas/federations.schema.js';
import type { ModelVersion, ModelWeights } from '../schemas/models.schema.js';
import { requireMember, requireOperator, requireReader } from './auth.service.js';
import { newId, type Principal } from './credentials.js';
import { defaultModelVersion, layoutOf, type FederationsService } from './federations.service.js';
import { applySelection, checkValidationCsv, loadValidationRows, scoreVersion, selectionOf } from './model-quality.js';

export type VersionRef = number | 'latest' | 'default';

export interface ValidationSetView {
  rows: number;
  positives: number;
  majorityRate: number;
  scoredVersions: number;
  createdAt: string;
}

export class ModelsService {
  constructor(
    private readonly db: Db,
    private readonly federations: FederationsService,
  ) {}

  async list(principal: Principal, federationId: string): Promise<ModelVersion[]> {
    requireReader(principal, federationId, 'listModels');
    const federation = await this.federations.load(federationId);
    const evaluations = await listLatestEvaluations(this.db, federationId);
    return (await listModelVersions(this.db, federationId)).map((model) =>
      toModelDto(model, federation, principal.kind === 'operator', evaluations.get(model.version) ?? null),
    );
  }

  async get(principal: Principal, federationId: string, ref: VersionRef): Promise<ModelVersion> {
    requireReader(principal, federationId, 'getModel');
    const federation = await this.federations.load(federationId);
    const version = await resolveVersion(this.db, federation, ref);
    const model = await findModelVersion(this.db, federationId, version);
    if (!model) throw new NotFoundError('model-version', version);
    return toModelDto(model, federation, principal.kind === 'operator', await findLatestEvaluation(this.db, federationId, version));
  }

  async weights(principal: Principal, federationId: string, ref: VersionRef): Promise<ModelWeights> {
    requireMember(principal, federationId, 'getModelWeights');
    const { version, weights, layout } = await this.load(federationId, ref);
    return { version, layout, weights: Array.from(weights) };
  }

  /** The same weights as float32, for the binary form (application/octet-stream). */
  async weightsFloat32(principal: Principal, federationId: string, ref: VersionRef): Promise<{ version: number; weights: Float32Array }> {
    requireMember(principal, federationId, 'getModelWeights');
    const { version, weights } = await this.load(federationId, ref);
    return { version, weights };
  }

  /** Weights and layout for internal use (predictions). */
  async load(federationId: string, ref: VersionRef) {
    const federation = await this.federations.load(federationId);
    const version = await resolveVersion(this.db, federation, ref);
    const weights = await findModelWeights(this.db, federationId, version);
    if (!weights) throw new NotFoundError('model-version', version);
    return { federation, version, weights, layout: layoutOf(federation) };
  }


  /**
   * Attaches (or replaces) the operator's validation set: checked against the schema, then every existing
   * version is scored on it and the selection rule applied, in one transaction.
   */
  async putValidationSet(principal: Principal, federationId: string, csv: string): Promise<ValidationSetView> {
    requireOperator(principal, 'putValidationSet');
    const federation = await this.federations.load(federationId);
    const { rows, positives } = checkValidationCsv(federation.datasetSchema, csv, 'putValidationSet');
    await this.db.$transaction(async (tx) => {
      await putValidationSet(tx, { id: newId(), federationId, csv, rows, positives });
      const encoded = await loadValidationRows(tx, federation);
      if (encoded === null) return; // scored from the first version published after the statistics round
      for (const { version, weights } of await listModelWeights(tx, federationId)) {
        await setValidationReport(tx, federationId, version, scoreVersion(federation, weights, encoded));
      }
      await applySelection(tx, federation);
    });
    return this.validationSet(principal, federationId);
  }

  async validationSet(principal: Principal, federationId: string): Promise<ValidationSetView> {
    requireOperator(principal, 'getValidationSet');
    await this.federations.load(federationId);
    const set = await findValidationSet(this.db, federationId);
    if (!set) throw new NotFoundError('validation-set', federationId);
    const scoredVersions = (await listModelVersions(this.db, federationId)).filter((model) => model.validation !== null).length;
    return {
      rows: set.rows,
      positives: set.positives,
      majorityRate: Math.max(set.positives, set.rows - set.positives) / set.rows,
      scoredVersions,
      createdAt: set.createdAt.toISOString(),
    };
  }

  /**
   * Promotes a version by hand. It must exist in this federation and, once scored, reach the
   * majority-class rate; the selection rule becomes `manual` so the choice is not overridden by the next round.
   */
  async promote(principal: Principal, federationId: string, version: number): Promise<Federation> {
    requireOperator(principal, 'promoteModel');
    const federation = await this.federations.load(federationId);
    const model = await findModelVersion(this.db, federationId, version);
    if (!model) throw new NotFoundError('model-version', version);
    const report = model.validation;
    if (report && !isEligible(report.accuracy ?? NaN, report.majorityRate ?? NaN)) {
      throw new ConflictError(
        'below-majority-rate',
        'Version below the majority-class rate',
        `promoteModel: version ${version} has validation accuracy ${report.accuracy} below the majority-class rate ${report.majorityRate}; it would be worse than always predicting the common class`,
      );
    }
    const selection: SelectionConfig = { ...selectionOf(federation), rule: 'manual' };
    await this.db.$transaction(async (tx) => {
      await setSelection(tx, federationId, selection);
      await setPromotedModelVersion(tx, federationId, version);
    });
    return this.federations.dto(await this.federations.load(federationId));
  }

  /** Replaces the selection rule; with `best` the promoted version is recomputed from the stored scores at once. */
  async putSelection(principal: Principal, federationId: string, selection: SelectionConfig): Promise<Federation> {
    requireOperator(principal, 'putSelection');
    const federation = await this.federations.load(federationId);
    await this.db.$transaction(async (tx) => {
      await setSelection(tx, federationId, selection);
      // The new rule, not the stored one: the write above is not visible outside this transaction.
      if (selection.rule === 'best') await applySelection(tx, { ...federation, selection });
    });
    return this.federations.dto(await this.federations.load(federationId));
  }
}

/** A version number for `ref` (not checked to exist); `default` is refused with 409 while no version qualifies to be served. */
export async function resolveVersion(db: Db, federation: FederationRecord, ref: VersionRef): Promise<number> {
  if (typeof ref === 'number') return ref;
  if (ref === 'latest') return federation.latestModelVersion;
  const federationId = federation.id;
  const version = defaultModelVersion(federation, (await federationsWithValidationSets(db, federationId)).has(federationId));
  if (version === null) {
    throw new ConflictError(
      'no-eligible-model',
      'No model version qualifies to be served',
      `federation ${federationId}: no version has yet reached the majority-class rate on the validation set, so none is served by default; name a version explicitly, or wait for more rounds`,
    );
  }
  return version;
}

function toModelDto(
  model: ModelVersionRecord,
  federation: FederationRecord,
  operator: boolean,
  evaluation: { round: number; evaluation: StoredFederatedEvaluation } | null,
): ModelVersion {
  const he = heEvaluability(federation.modelSpec);
  return {
    version: model.version,
    roundNumber: model.roundNumber,
    metrics: model.metrics,
    heEvaluable: he.evaluable,
    heRefusal: he.reason,
    privacy: model.epsilon === null || model.delta === null ? null : { epsilon: model.epsilon, delta: model.delta },
    validation: operator ? model.validation : null,
    // The owners' own aggregate: every member sees it (validation is the operator's data, federated evaluation theirs).
    federatedEvaluation: evaluation && { round: evaluation.round, ...evaluation.evaluation },
    promoted: model.version === federation.promotedModelVersion,
    createdAt: model.createdAt.toISOString(),
  };
}
