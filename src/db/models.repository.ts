/**
 * Published model versions. (federationId, version) is unique, so a version can be published once only.
 * Reads by that pair use findFirst, not findUnique: see rounds.repository.ts on Prisma's batching.
 */
import { decodeOptimizerState, encodeOptimizerState, type ServerOptimizerState } from '../fl/server-optimizer.js';
import type { AggregateMetrics } from '../fl/strategy.js';
import type { ModelReport } from '../ml/model-report.js';
import type { DbClient } from './db-client.js';
import { hotSqlOf } from './hot-sql.js';
import { bytesToWeights, weightsToBytes } from './weights-codec.js';

export interface ModelVersionRecord {
  version: number;
  roundNumber: number | null;
  metrics: AggregateMetrics;
  /** Differential privacy spent up to this version; null without DP. */
  epsilon: number | null;
  delta: number | null;
  /** Scores on the federation's validation set; null when it had none when the version was published. */
  validation: StoredReport | null;
  createdAt: Date;
}

/** A ModelReport as stored: JSON has no NaN, so an undefined metric (one class only) is null. */
type ReportMetric = 'majorityRate' | 'accuracy' | 'auc' | 'logLoss' | 'brier' | 'ks';
export type StoredReport = Omit<ModelReport, ReportMetric> & { [K in ReportMetric]: number | null };

const summaryColumns = { version: true, roundNumber: true, metrics: true, epsilon: true, delta: true, validation: true, createdAt: true } as const;

const toRecord = (row: {
  version: number;
  roundNumber: number | null;
  metrics: string;
  epsilon: number | null;
  delta: number | null;
  validation: string | null;
  createdAt: Date;
}): ModelVersionRecord => ({
  ...row,
  metrics: JSON.parse(row.metrics) as AggregateMetrics,
  validation: row.validation === null ? null : (JSON.parse(row.validation) as StoredReport),
});

/** JSON text with every non-finite number as null (JSON has no NaN). */
export function finiteJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => (typeof item === 'number' && !Number.isFinite(item) ? null : item));
}

/** JSON text of a report with every non-finite number as null. */
export function reportJson(report: ModelReport): string {
  return finiteJson(report);
}

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
    optimizerState?: ServerOptimizerState | null;
    validation?: ModelReport | null;
  },
): Promise<ModelVersionRecord> {
  const { optimizerState, validation, ...rest } = model;
  const row = await db.modelVersion.create({
    data: {
      ...rest,
      weights: weightsToBytes(model.weights),
      metrics: JSON.stringify(model.metrics),
      optimizerState: optimizerState ? (encodeOptimizerState(optimizerState) as Uint8Array<ArrayBuffer>) : null,
      validation: validation ? reportJson(validation) : null,
    },
    select: summaryColumns,
  });
  return toRecord(row);
}

/** The server optimiser's state after `version`; null when it has none (the initial model, or plain fedavg). */
export async function findOptimizerState(db: DbClient, federationId: string, version: number): Promise<ServerOptimizerState | null> {
  const row = await db.modelVersion.findFirst({ where: { federationId, version }, select: { optimizerState: true } });
  return row?.optimizerState ? decodeOptimizerState(row.optimizerState) : null;
}

/** Stores (or replaces) a version's validation scores. */
export async function setValidationReport(db: DbClient, federationId: string, version: number, report: ModelReport): Promise<void> {
  await db.modelVersion.updateMany({ where: { federationId, version }, data: { validation: reportJson(report) } });
}

/** Every version's weights, oldest first: for scoring them all on a newly attached validation set. */
export async function listModelWeights(db: DbClient, federationId: string): Promise<{ version: number; weights: Float32Array }[]> {
  const rows = await db.modelVersion.findMany({ where: { federationId }, select: { version: true, weights: true }, orderBy: { version: 'asc' } });
  return rows.map((row) => ({ version: row.version, weights: bytesToWeights(row.weights) }));
}

export async function findModelVersion(db: DbClient, federationId: string, version: number): Promise<ModelVersionRecord | null> {
  const row = await db.modelVersion.findFirst({ where: { federationId, version }, select: summaryColumns });
  return row ? toRecord(row) : null;
}

/**
 * A version's weights never change once published, so the root client's reads (predictions, downloads) are
 * served from a small per-process cache: correct on every instance without any invalidation. Each caller
 * gets its own copy. Reads inside a transaction (publishing) still go to the database.
 */
const WEIGHTS_CACHE_ENTRIES = 64;
const weightsCaches = new WeakMap<object, Map<string, Float32Array>>();

export async function findModelWeights(db: DbClient, federationId: string, version: number): Promise<Float32Array | null> {
  const hot = hotSqlOf(db);
  if (hot) {
    let cache = weightsCaches.get(db);
    if (!cache) weightsCaches.set(db, (cache = new Map()));
    const key = `${federationId}/${version}`;
    const cached = cache.get(key);
    if (cached) return cached.slice();
    const [row] = await hot.rows('SELECT "weights" FROM "ModelVersion" WHERE "federationId" = $1 AND "version" = $2 LIMIT 1', [federationId, version]);
    if (!row) return null;
    const weights = bytesToWeights(row.weights as Uint8Array);
    // Oldest first out: a Map iterates in insertion order.
    if (cache.size >= WEIGHTS_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(key, weights);
    return weights.slice();
  }
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
