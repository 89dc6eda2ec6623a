/**
 * Applies the committed migration SQL at start-up, offline and without the Prisma CLI (whose migrate
 * commands need a native engine this deployment cannot download). It reads
 * `prisma/migrations/<sqlite|postgres>/<name>/migration.sql` in name order and keeps Prisma's own
 * `_prisma_migrations` table, with Prisma's columns, types and checksum rule, so `prisma migrate status`
 * and `migrate deploy` on a machine that has the engine see the same history.
 *
 * Each pending migration runs in its own transaction together with its history row, so a failure leaves
 * neither half-applied DDL nor a "failed" row behind (both SQLite and PostgreSQL have transactional DDL).
 * Hence a migration must not contain its own BEGIN/COMMIT, nor a PostgreSQL statement that refuses to run
 * in a transaction (CREATE INDEX CONCURRENTLY). Every transaction first takes the migration lock and re-reads the history, so several
 * instances starting together apply each migration once: on SQLite the lock is `BEGIN IMMEDIATE` (the
 * file's write lock), on PostgreSQL `pg_advisory_xact_lock` on Prisma's own key.
 *
 * The runner refuses to start when an applied migration's file has changed since (checksum), when the
 * database has a migration this code does not know (an older release against a newer database), or when
 * Prisma's CLI left a failed attempt behind. It uses the raw drivers, not Prisma, so it runs before any
 * client exists.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';

export type MigrateTarget = { provider: 'sqlite'; file: string } | { provider: 'postgresql'; url: string };

export interface MigrateOptions {
  /** Folder holding one sub-folder per provider (`sqlite/`, `postgres/`); defaults to the package's `prisma/migrations`. */
  migrationsDir?: string;
  log?: (msg: string) => void;
}

/** Folder names under `prisma/migrations`, one per provider, since a Prisma schema names one provider. */
const PROVIDER_FOLDER = { sqlite: 'sqlite', postgresql: 'postgres' } as const;

// Prisma's own key (prisma-engines, postgres connector): sharing it means this runner and a
// `prisma migrate deploy` run elsewhere also wait for each other.
const PG_MIGRATION_LOCK_KEY = 72707369;

// A second process waits this long for the first one's migration (SQLite write lock) before failing.
const SQLITE_BUSY_TIMEOUT_MS = 30_000;

// The table exactly as Prisma's schema engine creates it (plus IF NOT EXISTS).
const HISTORY_TABLE_DDL = {
  sqlite: `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`,
  postgresql: `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`,
} as const;

interface Migration {
  name: string;
  script: string;
  /** sha256 hex of the file's bytes, as Prisma computes it. */
  checksum: string;
}

interface HistoryRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
}

export async function migrate(target: MigrateTarget, opts: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const log = opts.log ?? (() => {});
  const dir = join(opts.migrationsDir ?? defaultMigrationsDir(), PROVIDER_FOLDER[target.provider]);
  const migrations = await readMigrations(dir, target.provider);
  const applied =
    target.provider === 'sqlite'
      ? await migrateSqlite(target.file, migrations, log)
      : await migratePostgres(target.url, migrations, log);
  if (applied.length === 0) log(`migrate: database is up to date (${migrations.length} migrations)`);
  return { applied };
}

/**
 * Switching a file to WAL needs an exclusive lock, and SQLite reports SQLITE_BUSY for it at once, without
 * the busy handler, while another process holds the file (two instances migrating one new database did).
 * So retry, for as long as any other lock would be waited for.
 */
async function switchToWal(db: Database.Database): Promise<void> {
  const giveUpAt = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > giveUpAt) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Synchronous from BEGIN to COMMIT on purpose: better-sqlite3 waits for a busy file by blocking the
 * thread, so two migrate() calls in one process that interleaved at an `await` inside a transaction would
 * block each other until the busy timeout. Other processes wait on the file lock instead.
 */
async function migrateSqlite(file: string, migrations: Migration[], log: (msg: string) => void): Promise<string[]> {
  await mkdir(dirname(file), { recursive: true });
  const db = new Database(file, { timeout: SQLITE_BUSY_TIMEOUT_MS });
  try {
    // WAL is a property of the file; setting it here makes the very first opener choose it.
    await switchToWal(db);
    // With foreign keys on, the DROP TABLE in Prisma's table-rebuild migrations would cascade-delete the
    // child rows. SQLite's documented recipe for schema changes: keys off, change, foreign_key_check, commit.
    db.pragma('foreign_keys = OFF');
    db.exec(HISTORY_TABLE_DDL.sqlite);
    // Prisma writes SQLite DateTimes as ISO-8601 text with an explicit offset; the history rows match it.
    const now = () => new Date().toISOString().replace('Z', '+00:00');
    const readHistory = db.prepare(
      'SELECT "migration_name", "checksum", "finished_at" FROM "_prisma_migrations" WHERE "rolled_back_at" IS NULL ORDER BY "started_at"',
    );
    const recordStart = db.prepare('INSERT INTO "_prisma_migrations" ("id", "checksum", "started_at", "migration_name") VALUES (?, ?, ?, ?)');
    const recordFinish = db.prepare('UPDATE "_prisma_migrations" SET "finished_at" = ?, "applied_steps_count" = 1 WHERE "id" = ?');
    const applied: string[] = [];
    for (;;) {
      // IMMEDIATE takes the write lock before the history is read, so no other process can apply the same
      // migration between this read and the commit.
      db.exec('BEGIN IMMEDIATE');
      try {
        const next = pendingMigrations(migrations, readHistory.all() as HistoryRow[])[0];
        if (!next) {
          db.exec('COMMIT');
          return applied;
        }
        const started = performance.now();
        const id = randomUUID();
        recordStart.run(id, next.checksum, now(), next.name);
        try {
          db.exec(next.script);
          const broken = db.pragma('foreign_key_check') as { table: string; parent: string }[];
          if (broken.length > 0) {
            throw new Error(`${broken.length} row(s) break a foreign key, first in "${broken[0]!.table}" referencing "${broken[0]!.parent}"`);
          }
        } catch (err) {
          throw scriptFailed(next, err);
        }
        recordFinish.run(now(), id);
        db.exec('COMMIT');
        applied.push(next.name);
        log(`migrate: applied ${next.name} in ${Math.round(performance.now() - started)} ms`);
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
    }
  } finally {
    db.close();
  }
}

async function migratePostgres(url: string, migrations: Migration[], log: (msg: string) => void): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  // A socket error on an idle client is emitted as 'error'; unhandled, it would end the process. The
  // query in flight rejects on its own.
  client.on('error', () => {});
  await client.connect();
  try {
    const applied: string[] = [];
    for (let first = true; ; first = false) {
      await client.query('BEGIN');
      try {
        // Transaction-scoped, so COMMIT, ROLLBACK or a dropped connection releases it, and it also works
        // through a transaction-mode pooler (PgBouncer), where a session lock would leak.
        await client.query('SELECT pg_advisory_xact_lock($1)', [PG_MIGRATION_LOCK_KEY]);
        if (first) await client.query(HISTORY_TABLE_DDL.postgresql);
        // Read under the lock: another instance may have applied something while this one waited.
        const history = await client.query<HistoryRow>(
          'SELECT migration_name, checksum, finished_at FROM _prisma_migrations WHERE rolled_back_at IS NULL ORDER BY started_at',
        );
        const next = pendingMigrations(migrations, history.rows)[0];
        if (!next) {
          await client.query('COMMIT');
          return applied;
        }
        const started = performance.now();
        const id = randomUUID();
        await client.query('INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, $3, $4)', [
          id,
          next.checksum,
          new Date(),
          next.name,
        ]);
        // No parameters, so pg uses the simple query protocol, which accepts several statements.
        await client.query(next.script).catch((err: unknown) => {
          throw scriptFailed(next, err);
        });
        await client.query('UPDATE _prisma_migrations SET finished_at = $1, applied_steps_count = 1 WHERE id = $2', [new Date(), id]);
        await client.query('COMMIT');
        applied.push(next.name);
        log(`migrate: applied ${next.name} in ${Math.round(performance.now() - started)} ms`);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    }
  } finally {
    await client.end();
  }
}

function scriptFailed(migration: Migration, err: unknown): Error {
  return new Error(`migrate: migration "${migration.name}" failed and was rolled back: ${(err as Error).message}`, { cause: err });
}

/** Works from src/ under tsx and from dist/ after tsc: both sit one level below the package root. */
function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`migrate: expected a package.json above ${fileURLToPath(import.meta.url)}, found none`);
    dir = parent;
  }
  return join(dir, 'prisma', 'migrations');
}

async function readMigrations(dir: string, provider: MigrateTarget['provider']): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`migrate: expected a migrations folder at ${dir}, got ${err.code ?? err.message}`);
  });
  // A lock file naming another provider means the folders were mixed up; Prisma refuses the same way.
  const lock = entries.some((e) => e.isFile() && e.name === 'migration_lock.toml')
    ? await readFile(join(dir, 'migration_lock.toml'), 'utf8')
    : undefined;
  const locked = lock?.match(/^\s*provider\s*=\s*"([^"]+)"/m)?.[1];
  if (locked !== undefined && locked !== provider) {
    throw new Error(`migrate: ${dir}/migration_lock.toml names provider "${locked}", expected "${provider}"`);
  }
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const file = join(dir, name, 'migration.sql');
      const bytes = await readFile(file).catch(() => {
        throw new Error(`migrate: expected ${file} for migration "${name}", found none`);
      });
      return { name, script: bytes.toString('utf8'), checksum: sha256(bytes) };
    }),
  );
}

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Prisma stores sha256 of the file as written, but accepts the same file with the other line endings,
 * because git may check a migration out with CRLF on Windows.
 */
function matchesChecksum(migration: Migration, checksum: string): boolean {
  if (migration.checksum === checksum) return true;
  const lf = migration.script.replace(/\r\n/g, '\n');
  return sha256(lf) === checksum || sha256(lf.replace(/\n/g, '\r\n')) === checksum;
}

/** The migrations still to apply, after checking that the recorded history agrees with the files. */
function pendingMigrations(migrations: Migration[], history: HistoryRow[]): Migration[] {
  const byName = new Map(migrations.map((m) => [m.name, m]));
  const done = new Set<string>();
  for (const row of history) {
    const migration = byName.get(row.migration_name);
    if (row.finished_at === null) {
      throw new Error(
        `migrate: migration "${row.migration_name}" is recorded as started but never finished (a failed \`prisma migrate deploy\`?); ` +
          'repair the database, then mark it with `prisma migrate resolve`',
      );
    }
    if (!migration) {
      throw new Error(
        `migrate: the database has migration "${row.migration_name}" applied, which this release does not have; ` +
          'run a release that includes it',
      );
    }
    if (!matchesChecksum(migration, row.checksum)) {
      throw new Error(
        `migrate: migration "${row.migration_name}" was edited after it was applied (checksum ${row.checksum.slice(0, 12)}…, ` +
          `file now ${migration.checksum.slice(0, 12)}…); restore the file and put the change in a new migration`,
      );
    }
    done.add(row.migration_name);
  }
  return migrations.filter((m) => !done.has(m.name));
}
