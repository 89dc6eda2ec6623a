/**
 * Federations and their credentials: the operator's API keys, owners, and the enrolment token hash.
 * JSON settings are stored as text and parsed here; they were validated by zod on the way in.
 */
import type { DatasetSchema } from '../ml/dataset-schema.js';
import type { ModelSpec } from '../ml/model-spec.js';
import type { SecureAggregationConfig, TrainingConfig } from '../schemas/federations.schema.js';
import type { DbClient } from './db-client.js';

export interface FederationRecord {
  id: string;
  name: string;
  datasetSchema: DatasetSchema;
  modelSpec: ModelSpec;
  trainingConfig: TrainingConfig;
  aggregation: 'plain' | 'secure';
  /** Set exactly when aggregation is 'secure'. */
  secureConfig: SecureAggregationConfig | null;
  enrolmentTokenHash: string;
  latestModelVersion: number;
  createdAt: Date;
}

interface FederationRow {
  id: string;
  name: string;
  datasetSchema: string;
  modelSpec: string;
  trainingConfig: string;
  aggregation: string;
  secureConfig: string | null;
  enrolmentTokenHash: string;
  latestModelVersion: number;
  createdAt: Date;
}

function toRecord(row: FederationRow): FederationRecord {
  return {
    ...row,
    datasetSchema: JSON.parse(row.datasetSchema) as DatasetSchema,
    modelSpec: JSON.parse(row.modelSpec) as ModelSpec,
    trainingConfig: JSON.parse(row.trainingConfig) as TrainingConfig,
    aggregation: row.aggregation as FederationRecord['aggregation'],
    secureConfig: row.secureConfig === null ? null : (JSON.parse(row.secureConfig) as SecureAggregationConfig),
  };
}

export async function insertFederation(
  db: DbClient,
  federation: Omit<FederationRecord, 'createdAt' | 'latestModelVersion'>,
): Promise<FederationRecord> {
  const row = await db.federation.create({
    data: {
      ...federation,
      datasetSchema: JSON.stringify(federation.datasetSchema),
      modelSpec: JSON.stringify(federation.modelSpec),
      trainingConfig: JSON.stringify(federation.trainingConfig),
      secureConfig: federation.secureConfig === null ? null : JSON.stringify(federation.secureConfig),
    },
  });
  return toRecord(row);
}

export async function findFederation(db: DbClient, id: string): Promise<FederationRecord | null> {
  const row = await db.federation.findUnique({ where: { id } });
  return row ? toRecord(row) : null;
}

export async function listFederations(db: DbClient): Promise<FederationRecord[]> {
  const rows = await db.federation.findMany({ orderBy: { createdAt: 'asc' } });
  return rows.map(toRecord);
}

export async function setEnrolmentTokenHash(db: DbClient, id: string, enrolmentTokenHash: string): Promise<void> {
  await db.federation.update({ where: { id }, data: { enrolmentTokenHash } });
}

/** Moves latestModelVersion forward only from the expected value: the database decides who publishes. */
export async function advanceLatestModelVersion(db: DbClient, id: string, from: number, to: number): Promise<boolean> {
  const { count } = await db.federation.updateMany({
    where: { id, latestModelVersion: from },
    data: { latestModelVersion: to },
  });
  return count === 1;
}
