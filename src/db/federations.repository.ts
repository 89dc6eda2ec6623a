/**
 * Federations and their credentials: the operator's API keys, owners, and the enrolment token hash.
 * JSON settings are stored as text and parsed here; they were validated by zod on the way in.
 */
import { canonicalJson, type Charter } from '../crypto/charter.js';
import type { SelectionConfig } from '../fl/model-selection.js';
import type { DatasetSchema } from '../ml/dataset-schema.js';
import type { ModelSpec } from '../ml/model-spec.js';
import type { Standardisation } from '../ml/standardisation.js';
import type { PrivacyConfig, SecureAggregationConfig, TrainingConfig } from '../schemas/federations.schema.js';
import type { DbClient } from './db-client.js';
import { column, hotSqlOf, type HotRow } from './hot-sql.js';

/** Privacy settings as stored: the noise multiplier always resolved (given, or solved at creation). */
export type ResolvedPrivacy = PrivacyConfig & { noiseMultiplier: number };

/** One differentially private round, charged to the budget when it opened. */
export interface LedgerEntry {
  round: number;
  openedAt: string;
  sampleRate: number;
  noiseMultiplier: number;
}

export type { Standardisation };

export interface FederationRecord {
  id: string;
  name: string;
  datasetSchema: DatasetSchema;
  modelSpec: ModelSpec;
  trainingConfig: TrainingConfig;
  aggregation: 'plain' | 'secure';
  /** Set exactly when aggregation is 'secure'. */
  secureConfig: SecureAggregationConfig | null;
  privacyConfig: ResolvedPrivacy | null;
  privacyLedger: LedgerEntry[];
  standardisation: Standardisation | null;
  /** The charter owners pin; null only for federations created before charters existed. */
  charter: Charter | null;
  charterFingerprint: string | null;
  /** Lottery policy: the hash chain's secret seed. Never leaves the server. */
  lotterySeed: Uint8Array | null;
  enrolmentTokenHash: string;
  latestModelVersion: number;
  /** The version predictions use by default; null: see defaultModelVersion in the models service. */
  promotedModelVersion: number | null;
  selection: SelectionConfig | null;
  /** Why automatic rounds stopped early; null while they run (or ran to the planned count). */
  trainingStop: TrainingStop | null;
  createdAt: Date;
}

export interface TrainingStop {
  reason: 'early-stopping';
  /** The version whose scoring triggered the stop, and the best one then. */
  atVersion: number;
  bestVersion: number | null;
  metric: string;
  patience: number;
}

interface FederationRow {
  id: string;
  name: string;
  datasetSchema: string;
  modelSpec: string;
  trainingConfig: string;
  aggregation: string;
  secureConfig: string | null;
  privacyConfig: string | null;
  privacyLedger: string | null;
  standardisation: string | null;
  charter: string | null;
  charterFingerprint: string | null;
  lotterySeed: Uint8Array | null;
  enrolmentTokenHash: string;
  latestModelVersion: number;
  promotedModelVersion: number | null;
  selection: string | null;
  trainingStop: string | null;
  createdAt: Date;
}

function toRecord(row: FederationRow): FederationRecord {
  return { ...row, aggregation: row.aggregation as FederationRecord['aggregation'], ...parsedColumns(row) };
}

/** The settings a row stores as JSON text, parsed. */
type ParsedColumns = Pick<FederationRecord, (typeof JSON_COLUMNS)[number]>;

const JSON_COLUMNS = [
  'datasetSchema',
  'modelSpec',
  'trainingConfig',
  'secureConfig',
  'privacyConfig',
  'privacyLedger',
  'standardisation',
  'charter',
  'selection',
  'trainingStop',
] as const;

/**
 * Nearly every request loads its federation, and parsing its JSON settings (the schema alone is a few
 * kilobytes) cost more than reading the row. So each process keeps the last parse per federation and
 * reuses it while every stored text is still the same: a row another request or another instance changed
 * is parsed again at once, so the cache is never stale and needs no invalidation. The parsed values are
 * shared by every request that reads them, hence frozen: a caller that wants to change one copies it (as
 * computeNumericStats and applyFederatedStatistics do). Its bound only caps memory; evicting costs a parse.
 */
const PARSED_CACHE_ENTRIES = 256;
const parsedCache = new Map<string, { texts: (string | null)[]; parsed: ParsedColumns }>();

function parsedColumns(row: FederationRow): ParsedColumns {
  const cached = parsedCache.get(row.id);
  if (cached && JSON_COLUMNS.every((name, i) => row[name] === cached.texts[i])) return cached.parsed;
  const parsed = deepFreeze(parseColumns(row));
  if (cached) parsedCache.delete(row.id);
  // Oldest first out: a Map iterates in insertion order.
  else if (parsedCache.size >= PARSED_CACHE_ENTRIES) parsedCache.delete(parsedCache.keys().next().value!);
  parsedCache.set(row.id, { texts: JSON_COLUMNS.map((name) => row[name]), parsed });
  return parsed;
}

function parseColumns(row: FederationRow): ParsedColumns {
  return {
    datasetSchema: JSON.parse(row.datasetSchema) as DatasetSchema,
    modelSpec: JSON.parse(row.modelSpec) as ModelSpec,
    trainingConfig: JSON.parse(row.trainingConfig) as TrainingConfig,
    secureConfig: row.secureConfig === null ? null : (JSON.parse(row.secureConfig) as SecureAggregationConfig),
    privacyConfig: row.privacyConfig === null ? null : (JSON.parse(row.privacyConfig) as ResolvedPrivacy),
    privacyLedger: row.privacyLedger === null ? [] : (JSON.parse(row.privacyLedger) as LedgerEntry[]),
    standardisation: row.standardisation === null ? null : (JSON.parse(row.standardisation) as Standardisation),
    charter: row.charter === null ? null : (JSON.parse(row.charter) as Charter),
    selection: row.selection === null ? null : (JSON.parse(row.selection) as SelectionConfig),
    trainingStop: row.trainingStop === null ? null : (JSON.parse(row.trainingStop) as TrainingStop),
  };
}

/** Freezes parsed JSON all the way down (plain objects and arrays only: JSON has nothing else). */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const json = (value: unknown) => (value === null ? null : JSON.stringify(value));

export async function insertFederation(
  db: DbClient,
  federation: Omit<FederationRecord, 'createdAt' | 'latestModelVersion' | 'privacyLedger' | 'promotedModelVersion' | 'trainingStop'>,
): Promise<FederationRecord> {
  const row = await db.federation.create({
    data: {
      ...federation,
      datasetSchema: JSON.stringify(federation.datasetSchema),
      modelSpec: JSON.stringify(federation.modelSpec),
      trainingConfig: JSON.stringify(federation.trainingConfig),
      secureConfig: json(federation.secureConfig),
      privacyConfig: json(federation.privacyConfig),
      standardisation: json(federation.standardisation),
      selection: json(federation.selection),
      // Stored in its canonical form, so the text hashes to the fingerprint stored beside it.
      charter: federation.charter === null ? null : canonicalJson(federation.charter),
      lotterySeed: federation.lotterySeed as Uint8Array<ArrayBuffer> | null,
    },
  });
  return toRecord(row);
}

/**
 * Replaces the secure settings and the charter they make, only while no round has opened: owners pinned
 * the charter, so after the first round a change is a new federation.
 */
export async function replaceCharter(
  db: DbClient,
  id: string,
  change: { secureConfig: SecureAggregationConfig; charter: Charter; charterFingerprint: string; lotterySeed: Uint8Array | null },
): Promise<boolean> {
  const { count } = await db.federation.updateMany({
    where: { id, rounds: { none: {} } },
    data: {
      secureConfig: JSON.stringify(change.secureConfig),
      charter: canonicalJson(change.charter),
      charterFingerprint: change.charterFingerprint,
      lotterySeed: change.lotterySeed as Uint8Array<ArrayBuffer> | null,
    },
  });
  return count === 1;
}

/**
 * Appends a round to the privacy ledger only if the ledger is still what the caller read (compare and
 * set on its stored text): two instances charging the budget at once cannot both succeed.
 */
export async function appendLedgerEntry(db: DbClient, federation: FederationRecord, entry: LedgerEntry): Promise<boolean> {
  const before = federation.privacyLedger.length === 0 ? null : JSON.stringify(federation.privacyLedger);
  const { count } = await db.federation.updateMany({
    where: { id: federation.id, privacyLedger: before },
    data: { privacyLedger: JSON.stringify([...federation.privacyLedger, entry]) },
  });
  return count === 1;
}

/** Replaces the privacy settings, only while no budget has been spent (the ledger is still empty). */
export async function setPrivacyConfig(db: DbClient, id: string, privacy: ResolvedPrivacy | null): Promise<boolean> {
  const { count } = await db.federation.updateMany({ where: { id, privacyLedger: null }, data: { privacyConfig: json(privacy) } });
  return count === 1;
}

/** A statistics round's result: the schema with means and standard deviations, and where they came from. */
export async function setStandardisation(db: DbClient, id: string, datasetSchema: DatasetSchema, standardisation: Standardisation): Promise<void> {
  await db.federation.update({ where: { id }, data: { datasetSchema: JSON.stringify(datasetSchema), standardisation: JSON.stringify(standardisation) } });
}

// Nearly every request loads its federation, hence the hot path.
const FEDERATION_BY_ID =
  'SELECT "id", "name", "datasetSchema", "modelSpec", "trainingConfig", "aggregation", "secureConfig", "privacyConfig", "privacyLedger", "standardisation", "charter", "charterFingerprint", "lotterySeed", "enrolmentTokenHash", "latestModelVersion", "promotedModelVersion", "selection", "trainingStop", "createdAt" FROM "Federation" WHERE "id" = $1 LIMIT 1';

const federationRowOf = (row: HotRow): FederationRow => ({
  id: column.text(row.id),
  name: column.text(row.name),
  datasetSchema: column.text(row.datasetSchema),
  modelSpec: column.text(row.modelSpec),
  trainingConfig: column.text(row.trainingConfig),
  aggregation: column.text(row.aggregation),
  secureConfig: column.textOrNull(row.secureConfig),
  privacyConfig: column.textOrNull(row.privacyConfig),
  privacyLedger: column.textOrNull(row.privacyLedger),
  standardisation: column.textOrNull(row.standardisation),
  charter: column.textOrNull(row.charter),
  charterFingerprint: column.textOrNull(row.charterFingerprint),
  // A copy: the row may be shared by every reader (stableRows), and the record's bytes are the caller's.
  lotterySeed: column.bytesOrNull(row.lotterySeed)?.slice() ?? null,
  enrolmentTokenHash: column.text(row.enrolmentTokenHash),
  latestModelVersion: column.int(row.latestModelVersion),
  promotedModelVersion: column.intOrNull(row.promotedModelVersion),
  selection: column.textOrNull(row.selection),
  trainingStop: column.textOrNull(row.trainingStop),
  createdAt: column.date(row.createdAt),
});

export async function findFederation(db: DbClient, id: string): Promise<FederationRecord | null> {
  const hot = hotSqlOf(db);
  if (hot) {
    // Remembered while the database is unchanged (hot-sql.ts); any write to the row is seen at once.
    const [row] = await hot.stableRows(FEDERATION_BY_ID, [id]);
    return row ? toRecord(federationRowOf(row)) : null;
  }
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

/** Sets the version predictions use by default (null: none promoted). */
export async function setPromotedModelVersion(db: DbClient, id: string, version: number | null): Promise<void> {
  await db.federation.update({ where: { id }, data: { promotedModelVersion: version } });
}

export async function setSelection(db: DbClient, id: string, selection: SelectionConfig): Promise<void> {
  await db.federation.update({ where: { id }, data: { selection: JSON.stringify(selection) } });
}

export async function setTrainingStop(db: DbClient, id: string, stop: TrainingStop | null): Promise<void> {
  await db.federation.update({ where: { id }, data: { trainingStop: json(stop) } });
}
