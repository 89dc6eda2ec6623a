/**
 * A fresh, empty database for one test: a SQLite file in a new temp dir by default, or, with
 * FEDSCORE_TEST_DB=postgres, a new uniquely named database on the server at FEDSCORE_TEST_PG_URL. A test
 * that only means something on one of them (several server processes on one PostgreSQL) asks for it by
 * `kind`. Tests run against real databases (STYLE.md: no mocked database), and a database per test lets
 * test files run in parallel. Migrations are not applied here; callers use openDatabase({ migrate: true }),
 * which is the start-up path worth testing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Database, type OpenDatabaseOptions } from '../../src/db/client.js';

export interface TestDatabase {
  /** Set for PostgreSQL; unset means SQLite at `<dataDir>/fedscore.db`. */
  databaseUrl?: string;
  dataDir: string;
  cleanup(): Promise<void>;
}

export type TestDatabaseKind = 'sqlite' | 'postgres';

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The kind FEDSCORE_TEST_DB asks for: unset or empty means SQLite. */
export function testDatabaseKind(): TestDatabaseKind {
  const kind = process.env.FEDSCORE_TEST_DB ?? '';
  if (kind === 'sqlite' || kind === '') return 'sqlite';
  if (kind !== 'postgres') {
    throw new Error(`createTestDatabase: expected FEDSCORE_TEST_DB to be "sqlite" or "postgres", got "${kind}"`);
  }
  return kind;
}

/** `kind` overrides FEDSCORE_TEST_DB, for a test that only runs on one database. */
export async function createTestDatabase(kind: TestDatabaseKind = testDatabaseKind()): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fedscore-test-'));
  const removeDir = () => rm(dataDir, { recursive: true, force: true });
  if (kind === 'sqlite') return { dataDir, cleanup: removeDir };

  const adminUrl = process.env.FEDSCORE_TEST_PG_URL || DEFAULT_PG_URL;
  // Lower-case letters, digits and _ only, so the name needs no quoting rules beyond the double quotes.
  const name = `fedscore_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  try {
    await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE "${name}"`));
  } catch (err) {
    await removeDir();
    throw err;
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dataDir,
    async cleanup() {
      // FORCE (PostgreSQL 13+) ends connections a failed test left open, so cleanup cannot hang on them.
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
      await removeDir();
    },
  };
}

async function withAdmin<T>(adminUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database opened and migrated for one test, closed and removed when the test ends: what a test of
 * the data layer starts from. The target is returned too, for a second connection (another instance).
 */
export async function openTestDatabase(
  t: { after(fn: () => Promise<void>): void },
  options: Pick<OpenDatabaseOptions, 'wrapSqliteAdapter'> = {},
): Promise<{ db: Database } & TestDatabase> {
  const target = await createTestDatabase();
  t.after(target.cleanup);
  const db = await openDatabase({ ...target, ...options, migrate: true });
  t.after(() => db.close());
  return { db, ...target };
}
