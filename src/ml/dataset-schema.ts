/**
 * The dataset schema: a federation's declaration of its tabular columns, so any credit data set can be
 * trained on without code changes. The zod wire schema in src/schemas/ mirrors these types; this file
 * stays free of zod so that src/ml/ keeps its one-dependency rule, and `validateDatasetSchema` checks
 * the semantic rules (uniqueness, label presence, sane statistics) that a structural schema cannot.
 */

/**
 * A declared, per-column mapping of a numeric value applied before anything else reads it (statistics,
 * standardisation, every feature). 'signed-log' is x ↦ sign(x)·ln(1 + |x|), for heavy-tailed amounts.
 */
export type NumericTransform = 'signed-log';

export const NUMERIC_TRANSFORMS: readonly NumericTransform[] = ['signed-log'];

export type ColumnSpec =
  /**
   * mean/std standardise the column; without them the federation computes them from the owners' rows in
   * a statistics round, clipping every value to `range` (required then) so no owner can skew them far.
   * With a `transform`, mean/std are those of the transformed values, while `range` stays in raw units.
   */
  | { name: string; type: 'numeric'; transform?: NumericTransform; mean?: number; std?: number; range?: [number, number] }
  | { name: string; type: 'binary'; values: [string, string] }
  | { name: string; type: 'categorical'; values: string[] }
  | { name: string; type: 'ignore' };

export type ColumnType = ColumnSpec['type'];

export interface DatasetSchema {
  /** Free text for humans (provenance, value orders); never read by the code. */
  description?: string;
  /** In file order; includes the label column, which is never a feature. */
  columns: ColumnSpec[];
  /** Any other non-missing label value is negative. */
  label: { column: string; positive: string };
  missingToken: string;
  delimiter: string;
  header: boolean;
}

export type RawValue = string | number | boolean | null;
export type RawRecord = Record<string, RawValue>;

const COLUMN_TYPES: readonly string[] = ['numeric', 'binary', 'categorical', 'ignore'];

/** The column's transform applied to a raw number: the value every statistic and feature of the column is made from. */
export function applyTransform(transform: NumericTransform | undefined, x: number): number {
  switch (transform) {
    case undefined:
      return x;
    case 'signed-log':
      // log1p keeps small values exact; sign(0)·ln(1) = 0, and -0 becomes 0.
      return x < 0 ? -Math.log1p(-x) : Math.log1p(x) + 0;
  }
}

/** Numeric feature columns whose statistics the federation computes (no mean/std given). */
export function federatedStatisticsColumns(schema: DatasetSchema): Extract<ColumnSpec, { type: 'numeric' }>[] {
  return featureColumns(schema).filter((c): c is Extract<ColumnSpec, { type: 'numeric' }> => c.type === 'numeric' && c.mean === undefined);
}

/** The encoded feature names, in order: computable without statistics (one per numeric, binary; one per category). */
export function featureNamesOf(schema: DatasetSchema): string[] {
  return featureColumns(schema).flatMap((column) => (column.type === 'categorical' ? column.values.map((v) => `${column.name}=${v}`) : [column.name]));
}

/** The columns that become features, in schema order: everything but the label and ignored columns. */
export function featureColumns(schema: DatasetSchema): ColumnSpec[] {
  return schema.columns.filter((c) => c.name !== schema.label.column && c.type !== 'ignore');
}

/**
 * Human-readable problems with a schema, [] when it is usable. Defensive about shapes because schemas
 * arrive as JSON; a caller that already ran the zod schema still needs the cross-field rules.
 */
export function validateDatasetSchema(schema: DatasetSchema): string[] {
  const problems: string[] = [];
  if (schema === null || typeof schema !== 'object') return ['schema must be an object'];
  if (!Array.isArray(schema.columns) || schema.columns.length === 0) {
    problems.push('columns must be a non-empty array');
    return problems;
  }
  if (typeof schema.missingToken !== 'string') problems.push('missingToken must be a string');
  if (typeof schema.delimiter !== 'string' || schema.delimiter.length !== 1) {
    problems.push('delimiter must be exactly one character');
  } else if (schema.delimiter === '"' || schema.delimiter === '\n' || schema.delimiter === '\r') {
    problems.push(`delimiter cannot be ${JSON.stringify(schema.delimiter)}`);
  }
  if (typeof schema.header !== 'boolean') problems.push('header must be a boolean');

  const seen = new Set<string>();
  schema.columns.forEach((column, i) => {
    const where = typeof column?.name === 'string' && column.name !== '' ? `column ${column.name}` : `column #${i + 1}`;
    if (column === null || typeof column !== 'object') {
      problems.push(`column #${i + 1} must be an object`);
      return;
    }
    if (typeof column.name !== 'string' || column.name.trim() === '') {
      problems.push(`column #${i + 1} needs a non-empty name`);
    } else if (seen.has(column.name)) {
      problems.push(`duplicate column name ${column.name}`);
    } else {
      seen.add(column.name);
    }
    if (!COLUMN_TYPES.includes(column.type)) {
      problems.push(`${where}: unknown type ${JSON.stringify((column as { type: unknown }).type)}`);
      return;
    }
    const transform = (column as { transform?: unknown }).transform;
    if (transform !== undefined) {
      if (column.type !== 'numeric') {
        problems.push(`${where}: only numeric columns can have a transform, this one is ${column.type}`);
      } else if (!(NUMERIC_TRANSFORMS as readonly unknown[]).includes(transform)) {
        problems.push(`${where}: unknown transform ${JSON.stringify(transform)} (expected one of ${NUMERIC_TRANSFORMS.join(', ')})`);
      }
    }
    switch (column.type) {
      case 'numeric':
        if (column.mean !== undefined && !Number.isFinite(column.mean)) problems.push(`${where}: mean must be finite`);
        if (column.std !== undefined && !(Number.isFinite(column.std) && column.std > 0)) {
          problems.push(`${where}: std must be a finite number > 0`);
        }
        if ((column.mean === undefined) !== (column.std === undefined)) {
          problems.push(`${where}: mean and std must be given together`);
        }
        if (column.range !== undefined) {
          const [low, high] = Array.isArray(column.range) ? column.range : [Number.NaN, Number.NaN];
          if (!(Number.isFinite(low) && Number.isFinite(high) && low < high)) {
            problems.push(`${where}: range must be [min, max] with finite min < max`);
          } else if (NUMERIC_TRANSFORMS.includes(column.transform!) && !(applyTransform(column.transform, low) < applyTransform(column.transform, high))) {
            problems.push(`${where}: range [${low}, ${high}] is too narrow to tell its ends apart after the ${column.transform} transform`);
          }
        }
        break;
      case 'binary':
        if (!Array.isArray(column.values) || column.values.length !== 2) {
          problems.push(`${where}: binary needs exactly two values`);
        } else {
          checkValues(where, column.values, schema.missingToken, problems);
          if (column.values[0] === column.values[1]) problems.push(`${where}: binary values must differ`);
        }
        break;
      case 'categorical':
        if (!Array.isArray(column.values) || column.values.length < 1) {
          problems.push(`${where}: categorical needs at least one value`);
        } else {
          checkValues(where, column.values, schema.missingToken, problems);
          if (new Set(column.values).size !== column.values.length) {
            problems.push(`${where}: categorical values must be distinct`);
          }
        }
        break;
      case 'ignore':
        break;
    }
  });

  if (schema.label === null || typeof schema.label !== 'object') {
    problems.push('label must be an object with column and positive');
  } else {
    const labelColumn = schema.columns.find((c) => c?.name === schema.label.column);
    if (labelColumn === undefined) {
      problems.push(`label column ${String(schema.label.column)} is not among the columns`);
    } else if (typeof schema.label.positive !== 'string' || schema.label.positive.trim() === '') {
      problems.push('label.positive must be a non-empty string');
    } else if (
      (labelColumn.type === 'binary' || labelColumn.type === 'categorical') &&
      Array.isArray(labelColumn.values) &&
      !labelColumn.values.includes(schema.label.positive)
    ) {
      problems.push(`label.positive is not one of the values of column ${labelColumn.name}`);
    }
    if (problems.length === 0 && featureColumns(schema).length === 0) {
      problems.push('schema has no feature columns');
    }
  }
  return problems;
}

function checkValues(where: string, values: unknown[], missingToken: string, problems: string[]): void {
  for (const v of values) {
    if (typeof v !== 'string' || v.trim() === '') {
      problems.push(`${where}: values must be non-empty strings`);
      return;
    }
    if (v !== v.trim()) {
      // Raw values are trimmed before matching, so a padded value could never match.
      problems.push(`${where}: value ${JSON.stringify(v)} has surrounding whitespace`);
      return;
    }
    if (v === missingToken) {
      problems.push(`${where}: value ${JSON.stringify(v)} equals the missing token`);
      return;
    }
  }
}
