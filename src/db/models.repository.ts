/**
 * Published model versions. (federationId, version) is unique, so a version can be published once only.
 * Reads by that pair use findFirst, not findUnique: see rounds.repository.ts on Prisma's batching.
 */
import type { AggregateMetrics } from '../fl/strategy.js';
import type { DbClient } from './db-client.js';
import { bytesToWeights, weightsToBytes } from './weights-codec.js';

export interface ModelVersionRecord {
  version: number;
  roundNumber: number | null;
  metrics: AggregateMetrics;
  /** Differential privacy spent up to this version; null without DP. */
  epsilon: number | null;
  delta: number | null;
  createdAt: Date;
}

const summaryColumns = { version: true, roundNumber: true, metrics: true, epsilon: true, delta: true, createdAt: true } as const;

const toRecord = (row: { version: number; roundNumber: number | null; metrics: string; epsilon: number | null; delta: number | null; createdAt: Date }): ModelVersionRecord => ({
  ...row,
  metrics: JSON.parse(row.metrics) as AggregateMetrics,
});

export async function insertModelVersion(
  db: DbClient,
  model: {
    id: string;
    federationId: string;
    version: number;
    roundNumber: number | null;
    weights: Float32Array;
    metrics: AggregateMetrics;
    epsilon?: number | null;
    delta?: number | null;
  },
): Promise<ModelVersionRecord> {
  const row = await db.modelVersion.create({
    data: { ...model, weights: weightsToBytes(model.weights), metrics: JSON.stringify(model.metrics) },
    select: summaryColumns,
  });
  return toRecord(row);
}

export async function findModelVersion(db: DbClient, federationId: string, version: number): Promise<ModelVersionRecord | null> {
  const row = await db.modelVersion.findFirst({ where: { federationId, version }, select: summaryColumns });
  return row ? toRecord(row) : null;
}

export async function findModelWeights(db: DbClient, federationId: string, version: number): Promise<Float32Array | null> {
  const row = await db.modelVersion.findFirst({ where: { federationId, version }, select: { weights: true } });
  return row ? bytesToWeights(row.weights) : null;
}

export async function findModelVersionByRound(db: DbClient, federationId: string, roundNumber: number): Promise<number | null> {
  const row = await db.modelVersion.findFirst({ where: { federationId, roundNumber }, select: { version: true } });
  return row?.version ?? null;
}

export async function listModelVersions(db: DbClient, federationId: string): Promise<ModelVersionRecord[]> {
  const rows = await db.modelVersion.findMany({ where: { federationId }, select: summaryColumns, orderBy: { version: 'asc' } });
  return rows.map(toRecord);
}
