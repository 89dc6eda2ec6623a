/**
 * Federated standardisation (DESIGN protocol 4): the means and standard deviations of the numeric
 * columns, computed from every owner's rows without any owner revealing its values. Each owner
 * contributes, per column, (count, Σx′, Σx′²) of its non-missing values — clipped to the column's declared
 * range [a, b] and rescaled to x′ = (x − a)/(b − a) ∈ [0, 1] — and the federation only ever uses the sum
 * over owners (secret-shared in secure mode). Clipping bounds what a few extreme values, or one owner,
 * can do to the result; rescaling keeps every sum small and exact in fixed point (each is at most the
 * row count). From the sums: mean = a + (b − a)·Σx′/n and std = (b − a)·√(Σx′²/n − (Σx′/n)²).
 *
 * A column with a transform t declares its range in raw units, as the data dictionary does: the value
 * clipped in raw units is then transformed, x′ = (t(clip(x, min, max)) − t(min))/(t(max) − t(min)), so
 * a = t(min), b = t(max) above and the mean and std come out in transformed units, as the encoder uses them.
 */
import { applyTransform, featureColumns, federatedStatisticsColumns, type ColumnSpec, type DatasetSchema, type RawRecord } from './dataset-schema.js';
import { isMissingValue } from './preprocess.js';

/** Three coordinates per column: count, Σx′, Σx′². */
export const MOMENTS_PER_COLUMN = 3;

type NumericColumn = Extract<ColumnSpec, { type: 'numeric' }>;

export interface ColumnStandardisation {
  /** Supplied with the schema, or computed by a statistics round. */
  source: 'operator' | 'federated';
  /** Non-missing values the federated figures come from; null for the operator's. */
  count: number | null;
  mean: number;
  std: number;
}

/** Where a federation's means and standard deviations came from, column by column. */
export interface Standardisation {
  /** 'federated' when a statistics round computed any of them, 'operator' when all came with the schema. */
  source: 'operator' | 'federated';
  /** The statistics round that computed them; null when the operator supplied every one. */
  roundNumber: number | null;
  columns: Record<string, ColumnStandardisation>;
}

/** The operator's statistics, when the schema has them for every numeric column; null while some are missing. */
export function operatorStandardisation(schema: DatasetSchema): Standardisation | null {
  if (federatedStatisticsColumns(schema).length > 0) return null;
  const columns: Record<string, ColumnStandardisation> = {};
  for (const column of numericFeatures(schema)) columns[column.name] = { source: 'operator', count: null, mean: column.mean!, std: column.std! };
  return { source: 'operator', roundNumber: null, columns };
}

export function momentsLength(columns: readonly string[]): number {
  return MOMENTS_PER_COLUMN * columns.length;
}

/** An owner's contribution: [count, Σx′, Σx′²] for each named column, in that order. */
export function ownerMoments(schema: DatasetSchema, columns: readonly string[], records: RawRecord[]): Float64Array {
  const specs = rangedColumns(schema, columns);
  const out = new Float64Array(momentsLength(columns));
  specs.forEach((column, j) => {
    const [rawLow, rawHigh] = column.range!;
    const [low, high] = transformedRange(column);
    for (const record of records) {
      const value = record[column.name];
      if (isMissingValue(value, schema.missingToken)) continue;
      const x = typeof value === 'number' ? value : Number(String(value).trim());
      if (!Number.isFinite(x)) continue; // not a number: that row is reported and left out of training too
      // Clipped in raw units (the declared range), then transformed; clamped again against rounding.
      const t = applyTransform(column.transform, Math.min(rawHigh, Math.max(rawLow, x)));
      const scaled = Math.min(1, Math.max(0, (t - low) / (high - low)));
      out[3 * j] = out[3 * j]! + 1;
      out[3 * j + 1] = out[3 * j + 1]! + scaled;
      out[3 * j + 2] = out[3 * j + 2]! + scaled * scaled;
    }
  });
  return out;
}

/**
 * What is implausible about moments — one owner's, or a sum — that a server can check without the values:
 * per column, a whole count ≥ 0, 0 ≤ Σx′ ≤ n, 0 ≤ Σx′² ≤ n and (Σx′)² ≤ n·Σx′² (Cauchy–Schwarz), up to
 * rounding. `tolerance` is the absolute slack per value (float rounding, or fixed-point rounding per owner).
 */
export function momentProblems(columns: readonly string[], moments: ArrayLike<number>, tolerance = 1e-9): string[] {
  if (moments.length !== momentsLength(columns)) return [`expected ${momentsLength(columns)} values (3 per column), got ${moments.length}`];
  const problems: string[] = [];
  columns.forEach((name, j) => {
    const n = moments[3 * j]!;
    const sum = moments[3 * j + 1]!;
    const sumSq = moments[3 * j + 2]!;
    const slack = tolerance * Math.max(1, n);
    if (!(Number.isFinite(n) && Math.abs(n - Math.round(n)) <= slack && n > -0.5)) problems.push(`${name}: the count must be a whole number ≥ 0, got ${n}`);
    else if (!(sum >= -slack && sum <= n + slack)) problems.push(`${name}: the sum of rescaled values must lie in [0, count]`);
    else if (!(sumSq >= -slack && sumSq <= n + slack)) problems.push(`${name}: the sum of squares must lie in [0, count]`);
    else if (sum * sum > n * sumSq + 2 * slack * Math.max(1, n)) problems.push(`${name}: the sum and the sum of squares are inconsistent ((Σx′)² > n·Σx′²)`);
  });
  return problems;
}

/**
 * The schema with means and standard deviations filled in from the summed moments, and where each came
 * from. A column nobody has a value for keeps the middle of its range as its mean; a column without spread
 * gets std 1, so it encodes to 0 rather than dividing by zero.
 */
export function applyFederatedStatistics(
  schema: DatasetSchema,
  columns: readonly string[],
  sums: ArrayLike<number>,
  roundNumber: number,
): { schema: DatasetSchema; standardisation: Standardisation } {
  if (sums.length !== momentsLength(columns)) throw new Error(`applyFederatedStatistics: expected ${momentsLength(columns)} sums, got ${sums.length}`);
  const out = structuredClone(schema);
  const specs = rangedColumns(out, columns);
  const federated = new Map<string, ColumnStandardisation>();
  specs.forEach((column, j) => {
    const [low, high] = transformedRange(column);
    const n = Math.max(0, Math.round(sums[3 * j]!));
    const meanScaled = n > 0 ? sums[3 * j + 1]! / n : 0.5;
    const variance = n > 0 ? Math.max(0, sums[3 * j + 2]! / n - meanScaled * meanScaled) : 0;
    const std = (high - low) * Math.sqrt(variance);
    column.mean = low + (high - low) * meanScaled;
    column.std = std > 1e-9 * (high - low) ? std : 1;
    federated.set(column.name, { source: 'federated', count: n, mean: column.mean, std: column.std });
  });
  const all: Record<string, ColumnStandardisation> = {};
  for (const column of numericFeatures(out)) {
    all[column.name] = federated.get(column.name) ?? { source: 'operator', count: null, mean: column.mean!, std: column.std! };
  }
  return { schema: out, standardisation: { source: 'federated', roundNumber, columns: all } };
}

/** The column's declared range (raw units) in the units its statistics are in: through its transform. */
function transformedRange(column: NumericColumn): [number, number] {
  const [low, high] = column.range!;
  return [applyTransform(column.transform, low), applyTransform(column.transform, high)];
}

function numericFeatures(schema: DatasetSchema): NumericColumn[] {
  return featureColumns(schema).filter((column): column is NumericColumn => column.type === 'numeric');
}

/** The named numeric columns, each with its declared range; a name that is not one is a programming error. */
function rangedColumns(schema: DatasetSchema, names: readonly string[]): NumericColumn[] {
  const byName = new Map(numericFeatures(schema).map((column) => [column.name, column]));
  return names.map((name) => {
    const column = byName.get(name);
    if (!column?.range) throw new Error(`federated statistics: ${name} is not a numeric feature column with a range`);
    return column;
  });
}

/**
 * The schema with a placeholder mean 0 and std 1 wherever a numeric column has none yet: enough to check
 * that every value fits (whether a value is a number does not depend on the statistics), never to train.
 */
export function withPlaceholderStatistics(schema: DatasetSchema): DatasetSchema {
  if (!schema.columns.some((column) => column.type === 'numeric' && column.mean === undefined)) return schema;
  return { ...schema, columns: schema.columns.map((column) => (column.type === 'numeric' && column.mean === undefined ? { ...column, mean: 0, std: 1 } : column)) };
}
