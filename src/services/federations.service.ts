/**
 * Federations: created by the operator with a dataset schema, a model spec and a training configuration.
 * Creation also publishes model version 0, the seeded initial weights every owner starts from.
 */
import type { Db } from '../db/client.js';
import {
  findFederation,
  insertFederation,
  listFederations,
  replaceCharter,
  setEnrolmentTokenHash,
  setPrivacyConfig,
  type FederationRecord,
} from '../db/federations.repository.js';
import { insertModelVersion } from '../db/models.repository.js';
import { federationsWithValidationSets } from '../db/validation-sets.repository.js';
import { DEFAULT_SELECTION } from '../fl/model-selection.js';
import { DEFAULT_LOGREG_SERVER_OPTIMIZER, defaultServerOptimizer, type ServerOptimizerConfig } from '../fl/server-optimizer.js';
import { ConflictError, DomainError, NotFoundError, ValidationError } from '../errors.js';
import { featureNamesOf, federatedStatisticsColumns, validateDatasetSchema, type DatasetSchema } from '../ml/dataset-schema.js';
import { modelLayout, initialWeights } from '../ml/model-spec.js';
import { operatorStandardisation } from '../ml/standardisation.js';
import {
  secureAggregationConfigSchema,
  type CreateFederationBody,
  type Federation,
  type PrivacyConfig,
  type SecureAggregationConfig,
} from '../schemas/federations.schema.js';
import type { Charter } from '../crypto/charter.js';
import { requireOperator, requireReader } from './auth.service.js';
import { hashSecret, newId, newSecret, type Principal } from './credentials.js';
import { buildCharter } from './charters.js';
import { memoPerFrozen } from './frozen-memo.js';
import { resolvePrivacy, spent } from './privacy.js';

export class FederationsService {
  constructor(private readonly db: Db) {}

  async create(principal: Principal, body: CreateFederationBody): Promise<{ federation: Federation; enrolmentToken: string }> {
    requireOperator(principal, 'createFederation');
    const problems = validateDatasetSchema(body.datasetSchema);
    if (problems.length > 0) {
      throw new ValidationError(
        `createFederation: the dataset schema has ${problems.length} problem(s)`,
        problems.map((message) => ({ path: 'datasetSchema', message })),
      );
    }
    requireRangesForFederatedStatistics(body.datasetSchema);
    const featureCount = featureNamesOf(body.datasetSchema).length;
    const secureConfig = secureConfigFor(body);
    if (body.privacy) requireWideFieldForPrivacy(secureConfig, 'createFederation', 'body.secure.field');
    const charted = buildCharter(body.aggregation, secureConfig, body.training, 'createFederation');
    const privacyConfig = body.privacy ? resolvePrivacy(body.privacy, body.training, 'createFederation') : null;
    const enrolmentToken = newSecret('enrolment');
    const id = newId();
    const federation = await this.db.$transaction(async (tx) => {
      const created = await insertFederation(tx, {
        id,
        name: body.name,
        datasetSchema: body.datasetSchema,
        modelSpec: body.model,
        trainingConfig: { ...body.training, serverOptimizer: body.training.serverOptimizer ?? defaultServerOptimizer(body.model) },
        selection: body.selection ?? null,
        aggregation: body.aggregation,
        secureConfig,
        privacyConfig,
        // Until a statistics round fills in what the schema leaves out, none: the first round computes them.
        standardisation: operatorStandardisation(body.datasetSchema),
        ...charted,
        enrolmentTokenHash: hashSecret(enrolmentToken),
      });
      await insertModelVersion(tx, {
        id: newId(),
        federationId: id,
        version: 0,
        roundNumber: null,
        weights: initialWeights(body.model, featureCount, body.training.seed),
        metrics: { owners: 0, samples: 0, trainLoss: null, trainAccuracy: null },
      });
      return created;
    });
    return { federation: toFederationDto(federation, false), enrolmentToken };
  }

  async list(principal: Principal): Promise<Federation[]> {
    requireOperator(principal, 'listFederations');
    const federations = await listFederations(this.db);
    const validated = await federationsWithValidationSets(this.db);
    return federations.map((federation) => toFederationDto(federation, validated.has(federation.id)));
  }

  async get(principal: Principal, federationId: string): Promise<Federation> {
    requireReader(principal, federationId, 'getFederation');
    return this.dto(await this.load(federationId));
  }

  /**
   * Replaces (or removes) a federation's differential privacy, only while none of its budget has been
   * spent: a change after that would make the ε already reported meaningless.
   */
  async updatePrivacy(principal: Principal, federationId: string, privacy: PrivacyConfig | null): Promise<Federation> {
    requireOperator(principal, 'updatePrivacy');
    const federation = await this.load(federationId);
    const resolved = privacy ? resolvePrivacy(privacy, federation.trainingConfig, 'updatePrivacy') : null;
    if (resolved) requireWideFieldForPrivacy(federation.secureConfig, 'updatePrivacy', 'body.privacy');
    if (!(await setPrivacyConfig(this.db, federationId, resolved))) {
      throw new ConflictError(
        'privacy-budget-spent',
        'Privacy budget already in use',
        `updatePrivacy: federation ${federationId} has already charged ${federation.privacyLedger.length} round(s) to its budget; a different privacy setting needs a new federation`,
      );
    }
    return this.dto(await this.load(federationId));
  }

  /**
   * Replaces a secure federation's settings, and so its charter, only before its first round opens:
   * owners pinned the charter's fingerprint, so after that a change is a new federation.
   */
  async updateSecure(principal: Principal, federationId: string, secure: SecureAggregationConfig): Promise<Federation> {
    requireOperator(principal, 'updateSecure');
    const federation = await this.load(federationId);
    if (federation.aggregation !== 'secure') {
      throw new ConflictError('wrong-aggregation-mode', 'Not a secure federation', `updateSecure: federation ${federationId} uses plain aggregation; secure settings need a new federation`);
    }
    checkCommittee(secure, federation.trainingConfig.minOwners, 'updateSecure');
    if (federation.privacyConfig) requireWideFieldForPrivacy(secure, 'updateSecure', 'body.secure.field');
    const charted = buildCharter('secure', secure, federation.trainingConfig, 'updateSecure');
    if (!(await replaceCharter(this.db, federationId, { secureConfig: secure, ...charted }))) {
      throw new ConflictError(
        'charter-frozen',
        'The charter is fixed',
        `updateSecure: federation ${federationId} has opened a round; owners pinned its charter, so different secure settings need a new federation`,
      );
    }
    return this.dto(await this.load(federationId));
  }

  /** The charter and its fingerprint, readable without a key: a would-be owner checks it before enrolling. */
  async charter(federationId: string): Promise<{ charter: Charter; fingerprint: string }> {
    const federation = await this.load(federationId);
    if (federation.charter === null || federation.charterFingerprint === null) {
      // Federations from before charters: a slug without spaces, a detail that says whose charter.
      throw new DomainError('charter-not-found', 'Charter not found', 404, `federation ${federationId} has no charter (it predates them)`);
    }
    return { charter: federation.charter, fingerprint: federation.charterFingerprint };
  }

  async rotateEnrolmentToken(principal: Principal, federationId: string): Promise<string> {
    requireOperator(principal, 'rotateEnrolmentToken');
    await this.load(federationId);
    const enrolmentToken = newSecret('enrolment');
    await setEnrolmentTokenHash(this.db, federationId, hashSecret(enrolmentToken));
    return enrolmentToken;
  }

  async dto(federation: FederationRecord): Promise<Federation> {
    return toFederationDto(federation, (await federationsWithValidationSets(this.db, federation.id)).has(federation.id));
  }

  /** The federation or a 404; other services use it too. */
  async load(federationId: string): Promise<FederationRecord> {
    const federation = await findFederation(this.db, federationId);
    if (!federation) throw new NotFoundError('federation', federationId);
    return federation;
  }
}

/** Secure settings exist exactly for secure federations; defaults fill what the operator omitted. */
function secureConfigFor(body: CreateFederationBody) {
  if (body.aggregation === 'plain') {
    if (body.secure !== undefined) {
      throw new ValidationError('createFederation: "secure" settings apply only when aggregation is "secure"', [
        { path: 'body.secure', message: 'remove it, or set aggregation to "secure"' },
      ]);
    }
    return null;
  }
  const config = body.secure ?? secureAggregationConfigSchema.parse({});
  checkCommittee(config, body.training.minOwners, 'createFederation');
  return config;
}

/**
 * Distributed DP noise needs the wide field's headroom (and its accounting assumes its 2^-20 lattice),
 * so a federation with differential privacy keeps the wide field.
 */
function requireWideFieldForPrivacy(secure: SecureAggregationConfig | null, action: string, path: string): void {
  if (secure?.field !== 'compact') return;
  throw new ValidationError(`${action}: differential privacy needs the wide field; the compact field has no headroom for the noise`, [
    { path, message: 'use field "wide" with privacy, or no privacy with field "compact"' },
  ]);
}

function checkCommittee(config: SecureAggregationConfig, minOwners: number, action: string): void {
  if (config.committee.threshold > config.committee.size) {
    throw new ValidationError(`${action}: the committee threshold exceeds its size`, [
      { path: 'body.secure.committee.threshold', message: `expected at most ${config.committee.size}` },
    ]);
  }
  if (minOwners < 2) {
    // With one owner the "sum" is that owner's update.
    throw new ValidationError(`${action}: secure aggregation needs at least 2 owners per round`, [
      { path: 'body.training.minOwners', message: 'expected at least 2 in secure mode' },
    ]);
  }
}

/**
 * Columns without a mean and std are computed by the federation; each owner clips its values to the
 * column's declared range first, so the range is required for exactly those columns.
 */
function requireRangesForFederatedStatistics(schema: DatasetSchema): void {
  const unranged = federatedStatisticsColumns(schema).filter((column) => column.range === undefined);
  if (unranged.length === 0) return;
  throw new ValidationError(
    `createFederation: ${unranged.length} numeric column(s) have neither mean and std nor a range: give the statistics, or a [min, max] range for the federation to compute them within`,
    unranged.map((column) => ({
      path: `datasetSchema.columns.${schema.columns.indexOf(column)}`,
      message: `${column.name}: expected "mean" and "std", or "range": [min, max]`,
    })),
  );
}

/**
 * Scoring encodes records with the federation's means and standard deviations; before its statistics
 * round has computed them there is nothing to encode with.
 */
export function requireStandardisation(federation: FederationRecord, action: string): void {
  if (federation.standardisation !== null) return;
  throw new ConflictError(
    'statistics-pending',
    'Standardisation statistics not computed yet',
    `${action}: federation ${federation.id} has no means and standard deviations yet; its first round (a statistics round) must close first`,
  );
}

/** The federation's server optimiser; federations created before there was a choice averaged plainly. */
export function serverOptimizerOf(federation: FederationRecord): ServerOptimizerConfig {
  return federation.trainingConfig.serverOptimizer ?? DEFAULT_LOGREG_SERVER_OPTIMIZER;
}

const featureCountOf = memoPerFrozen((schema: DatasetSchema) => featureNamesOf(schema).length);

export function layoutOf(federation: FederationRecord) {
  return modelLayout(federation.modelSpec, featureCountOf(federation.datasetSchema));
}

/**
 * The version predictions use when none is named: the promoted one; else the latest, unless the rule is
 * `best` and there is a validation set — then no version qualified yet (null).
 */
export function defaultModelVersion(federation: FederationRecord, hasValidationSet: boolean): number | null {
  if (federation.promotedModelVersion !== null) return federation.promotedModelVersion;
  if (hasValidationSet && (federation.selection ?? DEFAULT_SELECTION).rule === 'best') return null;
  return federation.latestModelVersion;
}

export function toFederationDto(federation: FederationRecord, hasValidationSet: boolean): Federation {
  return {
    id: federation.id,
    name: federation.name,
    datasetSchema: federation.datasetSchema as Federation['datasetSchema'],
    model: federation.modelSpec,
    training: federation.trainingConfig,
    aggregation: federation.aggregation,
    secure: federation.secureConfig,
    privacy: federation.privacyConfig && {
      epsilon: federation.privacyConfig.epsilon,
      delta: federation.privacyConfig.delta,
      clipNorm: federation.privacyConfig.clipNorm,
      noiseMultiplier: federation.privacyConfig.noiseMultiplier,
      sampling: federation.privacyConfig.sampling,
      dropoutTolerance: federation.privacyConfig.dropoutTolerance,
      spent: { epsilon: spent(federation)!.epsilon, rounds: federation.privacyLedger.length },
    },
    standardisation: federation.standardisation,
    charter: federation.charter,
    charterFingerprint: federation.charterFingerprint,
    featureNames: featureNamesOf(federation.datasetSchema),
    latestModelVersion: federation.latestModelVersion,
    promotedModelVersion: federation.promotedModelVersion,
    defaultModelVersion: defaultModelVersion(federation, hasValidationSet),
    selection: federation.selection ?? { ...DEFAULT_SELECTION },
    trainingStop: federation.trainingStop,
    createdAt: federation.createdAt.toISOString(),
  };
}
