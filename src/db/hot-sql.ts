/**
 * Hot statements: the few reads nearly every request makes — who is calling, its federation, the round, a
 * model's weights — as cached prepared statements on the very driver connection Prisma uses, without
 * Prisma's query engine. On these paths the engine cost several times what the query did (issue 13's
 * profile: a submission spent more time in @prisma/client than in SQLite). Prisma still owns the schema, the
 * migrations, every write and every other read; rows read here are mapped to the same records, and
 * repositories.test.ts checks both paths give equal records on both databases.
 *
 * Only the root client has a hot path (`hotSqlOf`): inside an interactive transaction a repository must see
 * that transaction's own writes, so it goes through Prisma's transaction client as before.
 *
 * On SQLite the reads made on nearly every request and seldom changed (the caller's key, its federation)
 * can go further: `stableRows` answers them from memory while the database is provably unchanged. That
 * costs one `PRAGMA data_version` instead of the query and the row objects, which issue 13's predictions
 * profile put at most of the 15 % of the server's time spent in SQLite.
 */
import type pg from 'pg';

/** A value a hot statement binds: text, a whole number, or raw bytes. */
export type HotArg = string | number | Uint8Array;

/** A row as the driver returns it; the `column` helpers below turn its values into the domain's types. */
export type HotRow = Record<string, unknown>;

export interface HotSql {
  /** Runs a read written in PostgreSQL's dialect (`$1, $2, …` in order, double-quoted identifiers). */
  rows(sql: string, args: readonly HotArg[]): Promise<HotRow[]>;
  /**
   * The same read, whose rows may be the ones an earlier identical read returned if nothing can have
   * changed since: on SQLite, no other connection (instance) has committed — `PRAGMA data_version` is
   * unchanged — and this connection has run nothing that could write. On PostgreSQL a plain read. The rows
   * are shared by every caller, hence frozen; byte values must be copied before they are changed.
   */
  stableRows(sql: string, args: readonly HotArg[]): Promise<readonly HotRow[]>;
  /**
   * SQLite only: runs `work` synchronously inside BEGIN IMMEDIATE … COMMIT (or ROLLBACK when it asks, or
   * throws), holding the connection without yielding. Undefined where writes cannot be synchronous.
   */
  transaction?: <R>(work: (sql: HotTransaction) => { rollback: boolean; result: R }) => Promise<R>;
}

/** Statements inside a synchronous transaction; dates are bound as Prisma stores them. */
export interface HotTransaction {
  /** Runs a write; returns the rows it changed. */
  run(sql: string, args: readonly (HotArg | Date)[]): number;
  rows(sql: string, args: readonly HotArg[]): HotRow[];
  isUniqueViolation(error: unknown): boolean;
}

const registry = new WeakMap<object, HotSql>();

/** Makes `prisma`'s reads on the root client take the hot path. */
export function registerHotSql(prisma: object, hot: HotSql): void {
  registry.set(prisma, hot);
}

/** The hot path of a root client; undefined for a transaction client (or a client opened without one). */
export function hotSqlOf(db: object): HotSql | undefined {
  return registry.get(db);
}

/**
 * SQLite: statements run on Prisma's own better-sqlite3 connection, through `exclusive` — the lock that keeps
 * them out of another request's open transaction (src/db/client.ts, serializeTransactions).
 */
export function sqliteHotSql(
  connection: { prepare(sql: string): SqliteStatement; inTransaction: boolean },
  exclusive: <R>(work: () => R) => Promise<R>,
  /** How many times the connection's owner (Prisma, through src/db/client.ts) has run anything on it. */
  prismaRuns: () => number,
): HotSql {
  const statements = new Map<string, SqliteStatement>();
  const prepared = (sql: string) => {
    let statement = statements.get(sql);
    if (!statement) {
      // SQLite numbers its parameters itself; `$n` in order is `?` in order.
      statement = connection.prepare(sql.replace(/\$[0-9]+/g, '?'));
      // The adapter turns on safe integers for the whole connection; these columns fit a double.
      statement.safeIntegers(false);
      statements.set(sql, statement);
    }
    return statement;
  };
  const inTransaction: HotTransaction = {
    run: (sql, args) => prepared(sql).run(...args.map(sqliteArg)).changes,
    rows: (sql, args) => prepared(sql).all(...args.map(sqliteArg)) as HotRow[],
    isUniqueViolation: (error) => /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(String((error as { code?: unknown }).code)),
  };
  // What makes a remembered answer stale: a commit by another connection (data_version, which SQLite moves
  // for those only), or anything this connection ran that could write (counted, reads included).
  let hotWrites = 0;
  const stamp = () => `${(prepared('PRAGMA data_version').all()[0] as { data_version: number }).data_version}/${prismaRuns()}/${hotWrites}`;
  const remembered = new Map<string, { stamp: string; rows: readonly HotRow[] }>();
  return {
    rows: (sql, args) => exclusive(() => prepared(sql).all(...args.map(sqliteArg)) as HotRow[]),
    stableRows: (sql, args) =>
      exclusive(() => {
        const key = `${sql}\u0000${JSON.stringify(args)}`;
        const now = stamp();
        const known = remembered.get(key);
        if (known?.stamp === now) return known.rows;
        const rows = Object.freeze((prepared(sql).all(...args.map(sqliteArg)) as HotRow[]).map((row) => Object.freeze(row)));
        // Bounded like the weights cache: oldest first out (a Map iterates in insertion order).
        if (known) remembered.delete(key);
        else if (remembered.size >= STABLE_ROWS_ENTRIES) remembered.delete(remembered.keys().next().value!);
        remembered.set(key, { stamp: now, rows });
        return rows;
      }),
    transaction: (work) =>
      exclusive(() => {
        hotWrites++;
        // IMMEDIATE takes the write lock at once (waiting out another process's by the busy timeout), so
        // the transaction cannot fail half-way for want of it.
        prepared('BEGIN IMMEDIATE').run();
        let outcome;
        try {
          outcome = work(inTransaction);
        } catch (error) {
          if (connection.inTransaction) prepared('ROLLBACK').run();
          throw error;
        }
        prepared(outcome.rollback ? 'ROLLBACK' : 'COMMIT').run();
        return outcome.result;
      }),
  };
}

/** Remembered answers of stableRows; a few kilobytes each at most (a federation's row). */
const STABLE_ROWS_ENTRIES = 4096;

export interface SqliteStatement {
  all(...args: unknown[]): unknown[];
  run(...args: unknown[]): { changes: number };
  safeIntegers(on: boolean): unknown;
}

/** Bytes as Buffers; dates as the ISO text Prisma's SQLite adapter writes ("…T20:16:06.318+00:00"). */
const sqliteArg = (arg: HotArg | Date) => {
  if (arg instanceof Date) return arg.toISOString().replace('Z', '+00:00');
  return arg instanceof Uint8Array && !Buffer.isBuffer(arg) ? Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength) : arg;
};

/** PostgreSQL: named prepared statements on the pool Prisma's adapter also uses. */
export function postgresHotSql(pool: pg.Pool, pgTypes: typeof pg.types): HotSql {
  // Prisma stores DateTime as `timestamp(3)`, zone-less, holding UTC; pg's own parser would read it as local time.
  const TIMESTAMP_OID = 1114;
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === TIMESTAMP_OID && format !== 'binary'
        ? (text: string) => new Date(`${text.replace(' ', 'T')}Z`)
        : pgTypes.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
  };
  const names = new Map<string, string>();
  const nameOf = (sql: string) => {
    let name = names.get(sql);
    if (!name) names.set(sql, (name = `fedscore_hot_${names.size + 1}`));
    return name;
  };
  const rows = async (sql: string, args: readonly HotArg[]) => {
    const result = await pool.query({ name: nameOf(sql), text: sql, values: args as unknown[], types });
    return result.rows as HotRow[];
  };
  return {
    rows,
    // No cheap way to know that nothing changed, so every read goes to the server; frozen all the same, so
    // a caller that changes a row fails here as it would on SQLite.
    stableRows: async (sql, args) => Object.freeze((await rows(sql, args)).map((row) => Object.freeze(row))),
  };
}

// ── Column values, from either driver ───────────────────────────────────────────────────────────────

export const column = {
  text(value: unknown): string {
    if (typeof value !== 'string') throw new Error(`hot-sql: expected a text column, got ${typeof value}`);
    return value;
  },
  textOrNull(value: unknown): string | null {
    return value === null ? null : column.text(value);
  },
  int(value: unknown): number {
    if (typeof value === 'number') return value;
    if (typeof value === 'bigint') return Number(value);
    throw new Error(`hot-sql: expected an integer column, got ${typeof value}`);
  },
  intOrNull(value: unknown): number | null {
    return value === null ? null : column.int(value);
  },
  /** SQLite stores booleans as 0/1. */
  bool(value: unknown): boolean {
    if (typeof value === 'boolean') return value;
    return column.int(value) !== 0;
  },
  /** Bytes as a plain Uint8Array over the driver's Buffer, as Prisma returns them. */
  bytes(value: unknown): Uint8Array {
    if (!(value instanceof Uint8Array)) throw new Error(`hot-sql: expected a bytes column, got ${typeof value}`);
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  },
  bytesOrNull(value: unknown): Uint8Array | null {
    return value === null ? null : column.bytes(value);
  },
  /**
   * A DateTime: a Date from pg; from SQLite the ISO text Prisma writes ("2026-11-30T20:16:06.318+00:00"), the
   * zone-less UTC text of a column DEFAULT CURRENT_TIMESTAMP ("2026-11-30 20:16:06"), or Unix milliseconds.
   */
  date(value: unknown): Date {
    if (value instanceof Date) return value;
    if (typeof value === 'number') return new Date(value);
    const text = column.text(value);
    return new Date(/[zZ]|[+-][0-9]{2}:?[0-9]{2}$/.test(text) ? text : `${text.replace(' ', 'T')}Z`);
  },
  dateOrNull(value: unknown): Date | null {
    return value === null ? null : column.date(value);
  },
};
