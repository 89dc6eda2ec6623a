/**
 * Everything the database holds, read generically: every model the Prisma schema declares, every scalar
 * column of every row. Tests use it two ways — `snapshot` proves a refused request wrote nothing (a new
 * table or column is covered without anyone remembering to add it), and `readEveryRow` lets the secure
 * storage test search every stored value for a leaked update or key. `catalogColumns` reads the same
 * tables from the database's own catalog, so a test can prove the generic reader misses nothing.
 * `fingerprint` is the same picture drawn by the database itself in one query, for tests that compare
 * before and after thousands of requests (test/http/fuzz.test.ts).
 */
import { Prisma } from '../../src/db/generated/sqlite/client.js';
import type { Database } from '../../src/db/client.js';

export type Row = Record<string, unknown>;

/** The schema's model names, which are also its table names (no @@map in schema.prisma). */
export const MODEL_NAMES: readonly string[] = Object.values(Prisma.ModelName);

type Delegate = { findMany(args: { orderBy: { id: 'asc' } }): Promise<Row[]> };

function delegateOf(database: Database, model: string): Delegate {
  const delegate = (database.prisma as unknown as Record<string, Delegate | undefined>)[model.charAt(0).toLowerCase() + model.slice(1)];
  if (!delegate) throw new Error(`readEveryRow: the Prisma client has no delegate for model ${model}`);
  return delegate;
}

/** Every row of every table, every scalar column as Prisma returns it (Bytes as Uint8Array), by model. */
export async function readEveryRow(database: Database): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {};
  // Every model has an `id` primary key; ordering by it makes two reads of the same data compare equal.
  for (const model of MODEL_NAMES) out[model] = await delegateOf(database, model).findMany({ orderBy: { id: 'asc' } });
  return out;
}

/** A deep-comparable picture of the whole database: bytes as hex, dates as ISO strings. */
export async function snapshot(database: Database): Promise<Record<string, Row[]>> {
  const rows = await readEveryRow(database);
  const normalise = (value: unknown): unknown => {
    if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('hex')}`;
    if (value instanceof Date) return value.toISOString();
    if (typeof value === 'bigint') return `bigint:${value}`;
    return value;
  };
  return Object.fromEntries(
    Object.entries(rows).map(([model, list]) => [model, list.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, normalise(v)])))]),
  );
}

/** Model → its scalar columns, as the generated client declares them (what findMany returns by default). */
export function modelColumns(): Record<string, string[]> {
  const namespace = Prisma as unknown as Record<string, Record<string, string> | undefined>;
  return Object.fromEntries(
    MODEL_NAMES.map((model) => {
      const fields = namespace[`${model}ScalarFieldEnum`];
      if (!fields) throw new Error(`modelColumns: the Prisma client has no ${model}ScalarFieldEnum`);
      return [model, Object.values(fields).sort()];
    }),
  );
}

/** Table → column names, from the database's catalog (not from Prisma), migration bookkeeping excluded. */
export async function catalogColumns(database: Database): Promise<Record<string, string[]>> {
  const db = database.prisma;
  const columns: Record<string, string[]> = {};
  if (database.provider === 'sqlite') {
    const tables = await db.$queryRawUnsafe<{ name: string }[]>(
      `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_prisma_migrations'`,
    );
    for (const { name } of tables) {
      const info = await db.$queryRawUnsafe<{ name: string }[]>(`PRAGMA table_info("${name}")`);
      columns[name] = info.map((column) => column.name).sort();
    }
  } else {
    const rows = await db.$queryRawUnsafe<{ table_name: string; column_name: string }[]>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name <> '_prisma_migrations'`,
    );
    for (const row of rows) (columns[row.table_name] ??= []).push(row.column_name);
    for (const list of Object.values(columns)) list.sort();
  }
  return columns;
}

const catalogs = new WeakMap<Database, Promise<Record<string, string[]>>>();

/**
 * Every row of every table the catalog lists, each rendered as text by the database (every column; bytes as
 * hex, floats to their last digit), in one query: table → its rows, sorted. Two fingerprints are equal
 * exactly when the contents are, and a difference names the table and shows the rows.
 */
export async function fingerprint(database: Database): Promise<Record<string, string[]>> {
  let catalog = catalogs.get(database);
  if (!catalog) catalogs.set(database, (catalog = catalogColumns(database)));
  const tables = Object.entries(await catalog).sort(([a], [b]) => a.localeCompare(b));
  const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const selects = tables.map(([table, columns]) => {
    const label = `'${table.replace(/'/g, "''")}'`;
    if (database.provider !== 'sqlite') return `SELECT ${label} AS "table", r::text AS "row" FROM ${quoted(table)} r`;
    // quote() writes text and blobs as SQL literals; a REAL gets every digit, which quote() may round.
    const cells = columns.map((c) => `CASE typeof(${quoted(c)}) WHEN 'real' THEN printf('%!.17g', ${quoted(c)}) ELSE quote(${quoted(c)}) END`);
    return `SELECT ${label} AS "table", ${cells.join(" || char(31) || ")} AS "row" FROM ${quoted(table)}`;
  });
  const rows = await database.prisma.$queryRawUnsafe<{ table: string; row: string }[]>(selects.join(' UNION ALL '));
  const out: Record<string, string[]> = Object.fromEntries(tables.map(([table]) => [table, []]));
  for (const { table, row } of rows) out[table]!.push(row);
  for (const list of Object.values(out)) list.sort();
  return out;
}
