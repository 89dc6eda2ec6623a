/**
 * The migration runner against a real database: SQLite by default, PostgreSQL with
 * FEDSCORE_TEST_DB=postgres. Besides the runner's own rules (history, checksums, locking), the last test
 * compares the migrated database with prisma/schema.prisma, so a model change without a matching
 * migration for this provider fails here instead of at the first query.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/database.js';
import { migrate, type MigrateTarget } from './migrate.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MIGRATIONS = join(repoRoot, 'prisma', 'migrations');
const MODEL_TABLES = ['ApiKey', 'CommitteeSeat', 'Federation', 'HeSession', 'ModelVersion', 'Owner', 'PartialSum', 'Round', 'ShareEnvelope', 'Update', 'ValidationSet'];

type Row = Record<string, unknown>;

interface Fixture {
  target: MigrateTarget;
  provider: MigrateTarget['provider'];
  /** The provider's folder name under a migrations dir. */
  folder: 'sqlite' | 'postgres';
  query(sql: string): Promise<Row[]>;
  cleanup(): Promise<void>;
}

async function fixture(t: { after(fn: () => Promise<void>): void }): Promise<Fixture> {
  const db: TestDatabase = await createTestDatabase();
  let fx: Fixture;
  if (db.databaseUrl) {
    const url = db.databaseUrl;
    fx = {
      target: { provider: 'postgresql', url },
      provider: 'postgresql',
      folder: 'postgres',
      async query(sql) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          return (await client.query(sql)).rows as Row[];
        } finally {
          await client.end();
        }
      },
      cleanup: db.cleanup,
    };
  } else {
    const file = join(db.dataDir, 'fedscore.db');
    fx = {
      target: { provider: 'sqlite', file },
      provider: 'sqlite',
      folder: 'sqlite',
      async query(sql) {
        const conn = new Database(file);
        try {
          return conn.prepare(sql).all() as Row[];
        } finally {
          conn.close();
        }
      },
      cleanup: db.cleanup,
    };
  }
  t.after(fx.cleanup);
  return fx;
}

/** A scratch copy of the committed migrations, for tests that add, edit or break one. */
async function copyOfMigrations(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fedscore-migrations-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(MIGRATIONS, dir, { recursive: true });
  return dir;
}

async function addMigration(dir: string, folder: string, name: string, sql: string): Promise<void> {
  await mkdir(join(dir, folder, name), { recursive: true });
  await writeFile(join(dir, folder, name, 'migration.sql'), sql);
}

async function committed(folder: string): Promise<{ name: string; checksum: string }[]> {
  const entries = await readdir(join(MIGRATIONS, folder), { withFileTypes: true });
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      checksum: createHash('sha256').update(await readFile(join(MIGRATIONS, folder, name, 'migration.sql'))).digest('hex'),
    })),
  );
}

async function tables(fx: Fixture): Promise<string[]> {
  const rows =
    fx.provider === 'sqlite'
      ? await fx.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
      : await fx.query(`SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()`);
  return rows.map((r) => String(r.name)).sort();
}

const history = (fx: Fixture) =>
  fx.query(`SELECT migration_name, checksum, finished_at, rolled_back_at, logs, applied_steps_count, id FROM "_prisma_migrations" ORDER BY migration_name`);

test('migrate gives a fresh database every table and one finished history row per migration', async (t) => {
  const fx = await fixture(t);
  const expected = await committed(fx.folder);
  const { applied } = await migrate(fx.target);
  assert.deepEqual(applied, expected.map((m) => m.name));
  assert.deepEqual(await tables(fx), [...MODEL_TABLES, '_prisma_migrations'].sort());
  const rows = await history(fx);
  assert.deepEqual(
    rows.map((r) => ({ name: r.migration_name, checksum: r.checksum })),
    expected.map((m) => ({ name: m.name, checksum: m.checksum })),
  );
  for (const row of rows) {
    assert.notEqual(row.finished_at, null);
    assert.equal(row.rolled_back_at, null);
    assert.equal(row.logs, null);
    assert.equal(Number(row.applied_steps_count), 1);
    assert.match(String(row.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  }
});

test("migrate keeps Prisma's own _prisma_migrations columns and types", async (t) => {
  const fx = await fixture(t);
  await migrate(fx.target);
  const columns =
    fx.provider === 'sqlite'
      ? (await fx.query(`SELECT name, type, "notnull" AS required FROM pragma_table_info('_prisma_migrations') ORDER BY cid`)).map(
          (c) => `${c.name} ${c.type}${c.required ? ' NOT NULL' : ''}`,
        )
      : (
          await fx.query(`SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS required
             FROM pg_attribute a WHERE a.attrelid = '_prisma_migrations'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`)
        ).map((c) => `${c.name} ${c.type}${c.required ? ' NOT NULL' : ''}`);
  const expected =
    fx.provider === 'sqlite'
      ? ['id TEXT NOT NULL', 'checksum TEXT NOT NULL', 'finished_at DATETIME', 'migration_name TEXT NOT NULL', 'logs TEXT',
         'rolled_back_at DATETIME', 'started_at DATETIME NOT NULL', 'applied_steps_count INTEGER UNSIGNED NOT NULL']
      : ['id character varying(36) NOT NULL', 'checksum character varying(64) NOT NULL', 'finished_at timestamp with time zone',
         'migration_name character varying(255) NOT NULL', 'logs text', 'rolled_back_at timestamp with time zone',
         'started_at timestamp with time zone NOT NULL', 'applied_steps_count integer NOT NULL'];
  assert.deepEqual(columns, expected);
});

test('migrate a second time applies nothing and leaves the history as it was', async (t) => {
  const fx = await fixture(t);
  await migrate(fx.target);
  const before = await history(fx);
  const logged: string[] = [];
  const { applied } = await migrate(fx.target, { log: (msg) => logged.push(msg) });
  assert.deepEqual(applied, []);
  assert.deepEqual(await history(fx), before);
  assert.match(logged.join('\n'), /up to date/);
});

test('migrate applies only the migrations added since the last run', async (t) => {
  const fx = await fixture(t);
  const dir = await copyOfMigrations(t);
  await migrate(fx.target, { migrationsDir: dir });
  await addMigration(dir, fx.folder, '20990101000000_add_note', 'CREATE TABLE "Note" ("id" TEXT NOT NULL PRIMARY KEY);\n');
  const { applied } = await migrate(fx.target, { migrationsDir: dir });
  assert.deepEqual(applied, ['20990101000000_add_note']);
  assert.ok((await tables(fx)).includes('Note'));
});

test('migrate refuses a migration edited after it was applied, and changes nothing', async (t) => {
  const fx = await fixture(t);
  const dir = await copyOfMigrations(t);
  await migrate(fx.target, { migrationsDir: dir });
  const [first] = await committed(fx.folder);
  const file = join(dir, fx.folder, first!.name, 'migration.sql');
  await writeFile(file, `${await readFile(file, 'utf8')}\nCREATE TABLE "Sneaky" ("id" TEXT NOT NULL PRIMARY KEY);\n`);
  // A new migration behind the edited one must not be applied either.
  await addMigration(dir, fx.folder, '20990101000000_add_note', 'CREATE TABLE "Note" ("id" TEXT NOT NULL PRIMARY KEY);\n');
  const before = await history(fx);
  await assert.rejects(migrate(fx.target, { migrationsDir: dir }), new RegExp(`migration "${first!.name}" was edited after it was applied`));
  assert.deepEqual(await history(fx), before);
  assert.deepEqual(await tables(fx), [...MODEL_TABLES, '_prisma_migrations'].sort());
});

test('migrate accepts an applied migration checked out with CRLF line endings, as Prisma does', async (t) => {
  const fx = await fixture(t);
  const dir = await copyOfMigrations(t);
  await migrate(fx.target, { migrationsDir: dir });
  const [first] = await committed(fx.folder);
  const file = join(dir, fx.folder, first!.name, 'migration.sql');
  await writeFile(file, (await readFile(file, 'utf8')).replace(/\n/g, '\r\n'));
  assert.deepEqual((await migrate(fx.target, { migrationsDir: dir })).applied, []);
});

test('migrate refuses a database that has a migration this release does not know', async (t) => {
  const fx = await fixture(t);
  const newer = await copyOfMigrations(t);
  await addMigration(newer, fx.folder, '20990101000000_add_note', 'CREATE TABLE "Note" ("id" TEXT NOT NULL PRIMARY KEY);\n');
  await migrate(fx.target, { migrationsDir: newer });
  await assert.rejects(migrate(fx.target), /has migration "20990101000000_add_note" applied, which this release does not have/);
});

test('migrate rolls a failing migration back completely and records nothing', async (t) => {
  const fx = await fixture(t);
  const dir = await copyOfMigrations(t);
  await migrate(fx.target, { migrationsDir: dir });
  const before = await history(fx);
  await addMigration(
    dir,
    fx.folder,
    '20990101000000_broken',
    'CREATE TABLE "Note" ("id" TEXT NOT NULL PRIMARY KEY);\nINSERT INTO "NoSuchTable" ("id") VALUES (\'x\');\n',
  );
  await assert.rejects(migrate(fx.target, { migrationsDir: dir }), /migration "20990101000000_broken" failed and was rolled back: .*NoSuchTable/);
  assert.deepEqual(await history(fx), before);
  assert.ok(!(await tables(fx)).includes('Note'));
});

test('migrate refuses to continue after a failed attempt that Prisma recorded', async (t) => {
  const fx = await fixture(t);
  await migrate(fx.target);
  await fx.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
     VALUES ('00000000-0000-4000-8000-000000000000', 'x', '20990101000000_half', CURRENT_TIMESTAMP, 0) RETURNING id`,
  );
  await assert.rejects(migrate(fx.target), /migration "20990101000000_half" is recorded as started but never finished/);
});

test('migrate refuses a migrations folder whose lock file names the other provider', async (t) => {
  const fx = await fixture(t);
  const dir = await copyOfMigrations(t);
  const other = fx.provider === 'sqlite' ? 'postgresql' : 'sqlite';
  await writeFile(join(dir, fx.folder, 'migration_lock.toml'), `provider = "${other}"\n`);
  await assert.rejects(migrate(fx.target, { migrationsDir: dir }), new RegExp(`names provider "${other}", expected "${fx.provider}"`));
  assert.deepEqual(await tables(fx), []);
});

test('two instances migrating one database at the same time apply each migration once', async (t) => {
  const fx = await fixture(t);
  const dir = await copyOfMigrations(t);
  // A migration that takes a while (about 0.1 s), so the instances really overlap.
  await addMigration(
    dir,
    fx.folder,
    '20990101000000_slow',
    'CREATE TABLE "Slow" AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT x FROM c;\n',
  );
  const expected = [...(await committed(fx.folder)).map((m) => m.name), '20990101000000_slow'];
  let results: string[][];
  if (fx.target.provider === 'postgresql') {
    // Separate connections, so the three really meet at the advisory lock.
    const target = fx.target;
    results = (await Promise.all([1, 2, 3].map(() => migrate(target, { migrationsDir: dir })))).map((r) => r.applied);
  } else {
    // better-sqlite3 is synchronous, so only separate processes can race for the file. They start
    // together at a common instant, since spawning them takes longer than the migrations.
    const startAt = Date.now() + 1500;
    const script = `import { migrate } from ${JSON.stringify(join(repoRoot, 'src', 'db', 'migrate.ts'))};
      await new Promise((resolve) => setTimeout(resolve, ${startAt} - Date.now()));
      const r = await migrate({ provider: 'sqlite', file: ${JSON.stringify(fx.target.file)} }, { migrationsDir: ${JSON.stringify(dir)} });
      process.stdout.write(JSON.stringify(r.applied));`;
    results = await Promise.all([1, 2, 3].map(() => runChild(script)));
  }
  assert.deepEqual(results.flat().sort(), [...expected].sort());
  assert.deepEqual((await history(fx)).map((r) => r.migration_name), expected);
});

function runChild(script: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

// ---- the migrated database against prisma/schema.prisma ----

const SCALARS = new Set(['String', 'Int', 'BigInt', 'Float', 'Decimal', 'Boolean', 'DateTime', 'Bytes', 'Json']);
const COLUMN_TYPES: Record<MigrateTarget['provider'], Record<string, string>> = {
  sqlite: { String: 'TEXT', Int: 'INTEGER', BigInt: 'BIGINT', Float: 'REAL', Decimal: 'DECIMAL', Boolean: 'BOOLEAN', DateTime: 'DATETIME', Bytes: 'BLOB', Json: 'JSONB' },
  postgresql: {
    String: 'text', Int: 'integer', BigInt: 'bigint', Float: 'double precision', Decimal: 'numeric(65,30)', Boolean: 'boolean',
    DateTime: 'timestamp(3) without time zone', Bytes: 'bytea', Json: 'jsonb',
  },
};
const REFERENTIAL_ACTIONS: Record<string, string> = { Cascade: 'CASCADE', Restrict: 'RESTRICT', SetNull: 'SET NULL', NoAction: 'NO ACTION', SetDefault: 'SET DEFAULT' };

interface Expected {
  columns: string[];
  indexes: string[];
  foreignKeys: string[];
}

/** Reads the few constructs this schema uses; an unknown one fails the test rather than passing silently. */
function expectedFromSchema(schema: string, provider: MigrateTarget['provider']): Expected {
  const out: Expected = { columns: [], indexes: [], foreignKeys: [] };
  for (const [, model, body] of schema.matchAll(/^model (\w+) \{\n([\s\S]*?)^\}/gm)) {
    for (const raw of body!.split('\n')) {
      const line = raw.replace(/\/\/.*$/, '').trim();
      if (line === '') continue;
      const block = /^@@(unique|index)\(\[([\w, ]+)\]\)$/.exec(line);
      if (block) {
        const cols = block[2]!.split(/,\s*/);
        out.indexes.push(`${model}_${cols.join('_')}_${block[1] === 'unique' ? 'key' : 'idx'} ${block[1] === 'unique' ? 'UNIQUE ' : ''}(${cols.join(',')})`);
        continue;
      }
      const field = /^(\w+)\s+(\w+)(\[\]|\?)?\s*(.*)$/.exec(line);
      assert.ok(field, `schema line not understood by this test: ${line}`);
      const [, name, type, modifier, attrs] = field;
      if (SCALARS.has(type!)) {
        const dflt = /@default\(([^()]*(?:\(\))?)\)/.exec(attrs!)?.[1];
        const dbDefault = dflt === undefined ? '' : dflt === 'now()' ? ' DEFAULT CURRENT_TIMESTAMP' : ` DEFAULT ${dflt.replace(/^"(.*)"$/, "'$1'")}`;
        out.columns.push(`${model}.${name} ${COLUMN_TYPES[provider][type!]}${modifier === '?' ? '' : ' NOT NULL'}${attrs!.includes('@id') ? ' PK' : ''}${dbDefault}`);
        if (/@unique\b/.test(attrs!)) out.indexes.push(`${model}_${name}_key UNIQUE (${name})`);
        continue;
      }
      const relation = /@relation\((?:"\w+", )?fields: \[(\w+)\], references: \[(\w+)\](?:, onDelete: (\w+))?(?:, onUpdate: (\w+))?\)/.exec(attrs!);
      if (relation) {
        const onDelete = REFERENTIAL_ACTIONS[relation[3] ?? (modifier === '?' ? 'SetNull' : 'Restrict')];
        const onUpdate = REFERENTIAL_ACTIONS[relation[4] ?? 'Cascade'];
        out.foreignKeys.push(`${model}.${relation[1]} -> ${type}.${relation[2]} ON DELETE ${onDelete} ON UPDATE ${onUpdate}`);
      }
    }
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

async function actualFromDatabase(fx: Fixture): Promise<Expected> {
  const out: Expected = { columns: [], indexes: [], foreignKeys: [] };
  const models = (await tables(fx)).filter((name) => name !== '_prisma_migrations');
  if (fx.provider === 'sqlite') {
    for (const table of models) {
      for (const c of await fx.query(`SELECT * FROM pragma_table_info('${table}')`)) {
        const dflt = c.dflt_value === null ? '' : ` DEFAULT ${String(c.dflt_value)}`;
        out.columns.push(`${table}.${c.name} ${c.type}${c.notnull ? ' NOT NULL' : ''}${Number(c.pk) > 0 ? ' PK' : ''}${dflt}`);
      }
      for (const fk of await fx.query(`SELECT * FROM pragma_foreign_key_list('${table}')`)) {
        out.foreignKeys.push(`${table}.${fk.from} -> ${fk.table}.${fk.to} ON DELETE ${fk.on_delete} ON UPDATE ${fk.on_update}`);
      }
      for (const ix of await fx.query(`SELECT name, "unique", origin FROM pragma_index_list('${table}') WHERE origin = 'c'`)) {
        const cols = (await fx.query(`SELECT name FROM pragma_index_info('${String(ix.name)}') ORDER BY seqno`)).map((r) => r.name);
        out.indexes.push(`${ix.name} ${ix.unique ? 'UNIQUE ' : ''}(${cols.join(',')})`);
      }
    }
  } else {
    const pk = new Set(
      (
        await fx.query(`SELECT t.relname AS table, a.attname AS column FROM pg_index ix
          JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(ix.indkey)
          WHERE ix.indisprimary AND t.relnamespace = current_schema()::regnamespace`)
      ).map((r) => `${r.table}.${r.column}`),
    );
    for (const c of await fx.query(`SELECT c.relname AS table, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
        a.attnotnull AS notnull, pg_get_expr(d.adbin, d.adrelid) AS dflt
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace AND c.relname <> '_prisma_migrations'
        AND a.attnum > 0 AND NOT a.attisdropped`)) {
      const dflt = c.dflt === null ? '' : ` DEFAULT ${String(c.dflt).replace(/::text$/, '')}`;
      out.columns.push(`${c.table}.${c.name} ${c.type}${c.notnull ? ' NOT NULL' : ''}${pk.has(`${c.table}.${c.name}`) ? ' PK' : ''}${dflt}`);
    }
    for (const fk of await fx.query(`SELECT cl.relname AS table, a.attname AS column, ft.relname AS parent, fa.attname AS parent_column,
        c.confdeltype, c.confupdtype FROM pg_constraint c
        JOIN pg_class cl ON cl.oid = c.conrelid JOIN pg_class ft ON ft.oid = c.confrelid
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`)) {
      const action: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };
      out.foreignKeys.push(`${fk.table}.${fk.column} -> ${fk.parent}.${fk.parent_column} ON DELETE ${action[String(fk.confdeltype)]} ON UPDATE ${action[String(fk.confupdtype)]}`);
    }
    for (const ix of await fx.query(`SELECT i.relname AS name, ix.indisunique AS unique,
        array_to_string(array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS cols
        FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
        WHERE NOT ix.indisprimary AND t.relnamespace = current_schema()::regnamespace AND t.relname <> '_prisma_migrations'`)) {
      out.indexes.push(`${ix.name} ${ix.unique ? 'UNIQUE ' : ''}(${ix.cols})`);
    }
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

test('the migrated database has exactly the columns, keys and indexes prisma/schema.prisma declares', async (t) => {
  const fx = await fixture(t);
  await migrate(fx.target);
  const expected = expectedFromSchema(await readFile(join(repoRoot, 'prisma', 'schema.prisma'), 'utf8'), fx.provider);
  // Guard against the parser silently reading nothing.
  assert.ok(expected.columns.length >= 40 && expected.indexes.length >= 7 && expected.foreignKeys.length >= 5);
  assert.deepEqual(await actualFromDatabase(fx), expected);
});
