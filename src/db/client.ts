/**
 * Opens fedscore's database: the embedded SQLite file by default, PostgreSQL when a `postgres://` URL is
 * given, both through Prisma driver adapters (no native engine). The caller owns the returned handle and
 * closes it; there is no module-level client, so tests and several app instances can each open their own.
 *
 * Both generated clients come from one schema (scripts/prisma-generate.mjs derives the PostgreSQL twin), so
 * their model APIs are identical and the PostgreSQL client is handed out under the SQLite client's type.
 * Where the two differ, SQLite's type is the narrower one (no `mode: 'insensitive'`, no
 * `createMany({ skipDuplicates })`), so code that compiles against `Db` runs on both.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import type { PrismaClient } from './generated/sqlite/client.js';
import { postgresHotSql, registerHotSql, sqliteHotSql, type HotSql, type SqliteStatement } from './hot-sql.js';
import { migrate } from './migrate.js';

export type Db = PrismaClient;

export interface Database {
  prisma: Db;
  provider: 'sqlite' | 'postgresql';
  /** Throws when the database cannot answer a trivial query (readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** `postgres://` or `postgresql://` selects PostgreSQL; unset selects `<dataDir>/fedscore.db`. */
  databaseUrl?: string;
  dataDir: string;
  /** Apply pending migrations (src/db/migrate.ts) before the client is created. */
  migrate?: boolean;
  log?: (msg: string) => void;
  /**
   * SQLite only; for tests. Wraps the driver adapter, already serialised (see `serializeTransactions`),
   * before the client is built, so a test can observe queries reaching the connection. Unset in production.
   */
  wrapSqliteAdapter?: (adapter: PrismaBetterSqlite3) => PrismaBetterSqlite3;
}

// How long a write waits for another process's write lock on the SQLite file before failing with
// SQLITE_BUSY (which Prisma reports as a timeout), instead of failing at once.
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const log = opts.log ?? (() => {});
  if (opts.databaseUrl !== undefined && opts.databaseUrl !== '') {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(opts.databaseUrl)?.[1]?.toLowerCase();
    if (scheme !== 'postgres' && scheme !== 'postgresql') {
      // Only the scheme is echoed: the rest of a URL may hold a password.
      throw new Error(`openDatabase: expected a postgres:// or postgresql:// URL, got scheme "${scheme ?? '(none)'}"`);
    }
    return openPostgres(opts.databaseUrl, opts.migrate === true, log);
  }
  return openSqlite(join(opts.dataDir, 'fedscore.db'), opts.dataDir, opts.migrate === true, log, opts.wrapSqliteAdapter);
}

async function openSqlite(
  file: string,
  dataDir: string,
  runMigrations: boolean,
  log: (msg: string) => void,
  wrapAdapter: (adapter: PrismaBetterSqlite3) => PrismaBetterSqlite3 = (adapter) => adapter,
): Promise<Database> {
  await mkdir(dataDir, { recursive: true });
  if (runMigrations) await migrate({ provider: 'sqlite', file }, { log });
  // Imported on demand so a PostgreSQL deployment never loads the SQLite client, and vice versa.
  const [{ PrismaClient }, { PrismaBetterSqlite3 }] = await Promise.all([
    import('./generated/sqlite/client.js'),
    import('@prisma/adapter-better-sqlite3'),
  ]);
  // `timeout` is better-sqlite3's busy timeout.
  let hot: HotSql | undefined;
  const adapter = wrapAdapter(serializeTransactions(new PrismaBetterSqlite3({ url: file, timeout: SQLITE_BUSY_TIMEOUT_MS }), (connected) => (hot = connected)));
  const prisma = new PrismaClient({ adapter });
  try {
    // WAL lets readers in other processes proceed while one writes; it is stored in the file, so this
    // only matters for a file that was never migrated. Foreign keys are per connection (better-sqlite3
    // turns them on by default; saying so keeps ON DELETE CASCADE from depending on a build flag).
    await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    await prisma.$executeRawUnsafe('PRAGMA foreign_keys = ON');
    // Durability (README, "Durability"): with WAL, NORMAL syncs at checkpoints, not at every commit. A
    // killed process loses nothing committed (the OS holds the write) and never sees half a commit; a power
    // loss or OS crash may undo the last commits but not corrupt the file. FULL would survive that too at
    // the price of a disk flush per commit. better-sqlite3's build already defaults to NORMAL under WAL
    // (SQLITE_DEFAULT_WAL_SYNCHRONOUS); saying so keeps the promise from depending on a build flag.
    await prisma.$executeRawUnsafe('PRAGMA synchronous = NORMAL');
    // A checkpoint copies the WAL into the database file and syncs it, inside whichever commit crossed the
    // threshold. At SQLite's default (every 1,000 pages) a secure round's envelopes — 5 KB per owner — made a
    // checkpoint every ~800 uploads; 8,192 pages (32 MiB of WAL) cut the commits' time by a fifth in a
    // measurement of share-sized transactions, for a WAL file that may grow to that size between checkpoints.
    await prisma.$queryRawUnsafe('PRAGMA wal_autocheckpoint = 8192');
    // The queries above made Prisma connect, which handed the connection's hot path over.
    if (!hot) throw new Error('openSqlite: the driver adapter connected without its hot statements');
    registerHotSql(prisma, hot);
  } catch (err) {
    await prisma.$disconnect();
    throw err;
  }
  log(`database: SQLite ${file}`);
  return handle(prisma, 'sqlite');
}

async function openPostgres(url: string, runMigrations: boolean, log: (msg: string) => void): Promise<Database> {
  if (runMigrations) await migrate({ provider: 'postgresql', url }, { log });
  const [{ PrismaClient }, { PrismaPg }, { default: pg }] = await Promise.all([
    import('./generated/postgres/client.js'),
    import('@prisma/adapter-pg'),
    import('pg'),
  ]);
  // One pool for Prisma's adapter and the hot statements; closed here, after Prisma lets go of it.
  const pool = new pg.Pool({ connectionString: url });
  // An idle connection the server ended (a restart, a terminated backend) is dropped from the pool, which
  // then emits 'error'; unheard, that event would end the process. The next query opens a new connection.
  pool.on('error', (err) => log(`database: an idle PostgreSQL connection failed and was dropped (${err.message})`));
  // Same models from the same schema; see the file comment for why the cast is sound.
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) }) as unknown as Db;
  registerHotSql(prisma, postgresHotSql(pool, pg.types));
  log(`database: PostgreSQL ${hostOf(url)}`);
  return handle(prisma, 'postgresql', () => pool.end());
}

/** Host and port only, for logs; never the credentials. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparsed URL)';
  }
}

type SqliteConnection = Awaited<ReturnType<PrismaBetterSqlite3['connect']>>;

/**
 * The better-sqlite3 adapter runs everything on one connection and only makes transactions wait for each
 * other. A query outside a transaction, issued by another request while an interactive `$transaction` is
 * open, would run inside that transaction: it reads uncommitted rows, and its write is silently undone if
 * the transaction rolls back (measured with 7.10.0). This makes such queries wait for the transaction to
 * end, which is the isolation PostgreSQL gives. The price: code inside a transaction callback that uses the
 * root client instead of `tx` waits until Prisma's transaction timeout (5 s) aborts the transaction.
 */
function serializeTransactions(factory: PrismaBetterSqlite3, onHotSql: (hot: HotSql) => void): PrismaBetterSqlite3 {
  return new Proxy(factory, {
    get(target, prop) {
      if (prop === 'connect') return async () => serializeConnection(await target.connect(), onHotSql);
      return bound(target, prop);
    },
  });
}

function serializeConnection(connection: SqliteConnection, onHotSql: (hot: HotSql) => void): SqliteConnection {
  const acquire = createLock();
  // Everything Prisma runs on the connection, counted when it ends (before the lock is released), so the
  // hot path's remembered reads (stableRows) know the database may have changed. Reads count too: Prisma
  // sends its writes through queryRaw as well (INSERT … RETURNING).
  let prismaRuns = 0;
  // The hot statements (src/db/hot-sql.ts) share the connection, so they take the same lock.
  const driver = (connection as unknown as { client: { prepare(sql: string): SqliteStatement; inTransaction: boolean } }).client;
  onHotSql(
    sqliteHotSql(
      driver,
      async (work) => {
        const release = await acquire();
        try {
          return work();
        } finally {
          release();
        }
      },
      () => prismaRuns,
    ),
  );
  const exclusive =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const release = await acquire();
      try {
        return await fn(...args);
      } finally {
        prismaRuns++;
        release();
      }
    };
  const startTransaction: SqliteConnection['startTransaction'] = async (isolationLevel) => {
    const release = await acquire();
    try {
      const tx = await connection.startTransaction(isolationLevel);
      // Prisma sends COMMIT/ROLLBACK as SQL, then calls commit()/rollback(): the end of the transaction.
      return new Proxy(tx, {
        get(target, prop) {
          if (prop !== 'commit' && prop !== 'rollback') return bound(target, prop);
          return async () => {
            try {
              await target[prop]();
            } finally {
              // When COMMIT itself fails, Prisma calls rollback() without sending ROLLBACK, and the
              // adapter's rollback() sends nothing, so the connection would stay inside the failed
              // transaction for good (prisma/orm#29933). A spare ROLLBACK fixes that; after a normal
              // rollback it fails harmlessly with "no transaction is active".
              if (prop === 'rollback') await target.executeRaw({ sql: 'ROLLBACK', args: [], argTypes: [] }).catch(() => {});
              prismaRuns++;
              release();
            }
          };
        },
      });
    } catch (err) {
      prismaRuns++;
      release();
      throw err;
    }
  };
  const overrides: Partial<SqliteConnection> = {
    queryRaw: exclusive((query) => connection.queryRaw(query)),
    executeRaw: exclusive((query) => connection.executeRaw(query)),
    executeScript: exclusive((script) => connection.executeScript(script)),
    startTransaction,
  };
  return new Proxy(connection, {
    get(target, prop) {
      return Object.hasOwn(overrides, prop) ? overrides[prop as keyof SqliteConnection] : bound(target, prop);
    },
  });
}

/** Reads a property through a Proxy; methods stay bound to the real object (they use private fields). */
function bound(target: object, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? value.bind(target) : value;
}

/** A FIFO async mutex; the returned release function is idempotent. */
function createLock(): () => Promise<() => void> {
  let tail: Promise<void> = Promise.resolve();
  return async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const previous = tail;
    tail = previous.then(() => held);
    await previous;
    return release;
  };
}

function handle(prisma: Db, provider: Database['provider'], release: () => Promise<void> = async () => {}): Database {
  return {
    prisma,
    provider,
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    async close() {
      await prisma.$disconnect();
      await release();
    },
  };
}

/**
 * True for a unique-constraint violation from either adapter, so a service can turn a lost race (two
 * requests inserting the same round number) into a 409. Model operations report it as P2002; raw SQL
 * (`$executeRaw`) as P2010 with the adapter's error kind in `meta`. Prisma 7 no longer sets `meta.target`:
 * SQLite names the columns (`meta.driverAdapterError.cause.constraint.fields`), PostgreSQL the index
 * (`…constraint.index`, e.g. "Round_federationId_number_key"). Checked by name and code rather than
 * `instanceof`, so callers need not pick one generated client's `Prisma` namespace (today both re-export
 * the same runtime class).
 */
export function isUniqueViolation(err: unknown): boolean {
  if (typeof err !== 'object' || err === null || (err as { name?: unknown }).name !== 'PrismaClientKnownRequestError') return false;
  const { code, meta } = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } };
  return code === 'P2002' || (code === 'P2010' && meta?.driverAdapterError?.cause?.kind === 'UniqueConstraintViolation');
}
