/**
 * openDatabase and the Prisma clients against a real database: SQLite by default, PostgreSQL with
 * FEDSCORE_TEST_DB=postgres. The round trip through every model proves the hand-written migration SQL
 * fits the generated client (a wrong column type or name fails here); the rest pins down behaviour the
 * services rely on: unique violations, cascades, and transaction isolation on SQLite's single connection.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import Database from 'better-sqlite3';
import { createTestDatabase, openTestDatabase } from '../../test/helpers/database.js';
import { isUniqueViolation, openDatabase, type Database as Db, type OpenDatabaseOptions } from './client.js';

const open = openTestDatabase;

const weights = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);
const floats = (bytes: Uint8Array) => Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));

async function seedFederation(db: Db, id = 'fed-1') {
  return db.prisma.federation.create({
    data: { id, name: 'Credit', datasetSchema: '{"columns":[]}', modelSpec: '{"kind":"logreg"}', trainingConfig: '{}', enrolmentTokenHash: `tok-${id}` },
  });
}

test('openDatabase picks the provider, migrates, and answers ping', async (t) => {
  const { db, databaseUrl } = await open(t);
  assert.equal(db.provider, databaseUrl ? 'postgresql' : 'sqlite');
  await db.ping();
  assert.equal(await db.prisma.federation.count(), 0);
});

test('every model round-trips through Prisma, with Bytes, DateTime, nulls and defaults', async (t) => {
  const { db } = await open(t);
  const p = db.prisma;
  const before = new Date();

  const key = await p.apiKey.create({ data: { id: 'key-1', label: 'ops', keyHash: 'h1' } });
  const revokedAt = new Date('2031-02-03T04:05:06.789Z');
  await p.apiKey.update({ where: { id: key.id }, data: { revokedAt } });
  const keyBack = await p.apiKey.findUniqueOrThrow({ where: { keyHash: 'h1' } });
  assert.equal(keyBack.label, 'ops');
  assert.equal(keyBack.revokedAt?.toISOString(), revokedAt.toISOString());
  assert.ok(keyBack.createdAt instanceof Date && keyBack.createdAt.getTime() >= before.getTime() - 1000);

  const fed = await seedFederation(db);
  const fedBack = await p.federation.findUniqueOrThrow({ where: { id: fed.id } });
  assert.equal(fedBack.aggregation, 'plain');
  assert.equal(fedBack.latestModelVersion, 0);
  assert.equal(fedBack.modelSpec, '{"kind":"logreg"}');

  await p.owner.create({ data: { id: 'own-1', federationId: fed.id, name: 'Bank A', apiKeyHash: 'ok1' } });
  const ownerBack = await p.owner.findUniqueOrThrow({ where: { apiKeyHash: 'ok1' }, include: { federation: true } });
  assert.equal(ownerBack.federation.id, fed.id);

  // Millisecond precision survives on both (DATETIME text on SQLite, TIMESTAMP(3) on PostgreSQL).
  const deadline = new Date('2030-01-02T03:04:05.678Z');
  await p.round.create({ data: { id: 'rnd-1', federationId: fed.id, number: 1, status: 'open', baseModelVersion: 0, minOwners: 2, deadline } });
  const roundBack = await p.round.findUniqueOrThrow({ where: { federationId_number: { federationId: fed.id, number: 1 } } });
  assert.equal(roundBack.deadline.toISOString(), deadline.toISOString());
  assert.equal(roundBack.submissionCount, 0);
  assert.equal(roundBack.closedAt, null);
  assert.equal(roundBack.failureReason, null);
  const due = await p.round.findMany({ where: { status: 'open', deadline: { lte: new Date('2030-01-02T03:04:05.678Z') } } });
  assert.deepEqual(due.map((r) => r.id), ['rnd-1']);
  assert.equal((await p.round.findMany({ where: { deadline: { lt: deadline } } })).length, 0);

  const update = weights([1.5, -2.25, 3.125, 1e-7]);
  await p.update.create({ data: { id: 'upd-1', roundId: 'rnd-1', ownerId: 'own-1', numSamples: 120, weights: update, metrics: '{"loss":0.5}' } });
  const updateBack = await p.update.findUniqueOrThrow({ where: { roundId_ownerId: { roundId: 'rnd-1', ownerId: 'own-1' } } });
  assert.ok(updateBack.weights instanceof Uint8Array);
  assert.deepEqual(floats(updateBack.weights), floats(update));
  assert.equal(updateBack.numSamples, 120);

  const big = weights(Array.from({ length: 50_000 }, (_, i) => Math.sin(i)));
  await p.modelVersion.create({ data: { id: 'mv-0', federationId: fed.id, version: 0, weights: big, metrics: '{}' } });
  await p.modelVersion.create({ data: { id: 'mv-1', federationId: fed.id, version: 1, roundNumber: 1, weights: update, metrics: '{"owners":1}' } });
  const models = await p.modelVersion.findMany({ where: { federationId: fed.id }, orderBy: { version: 'asc' } });
  assert.deepEqual(models.map((m) => [m.version, m.roundNumber]), [[0, null], [1, 1]]);
  assert.deepEqual(Buffer.from(models[0]!.weights), Buffer.from(big));

  await p.round.update({ where: { id: 'rnd-1' }, data: { status: 'closed', closedAt: new Date(), submissionCount: { increment: 1 } } });
  assert.equal((await p.round.findUniqueOrThrow({ where: { id: 'rnd-1' } })).submissionCount, 1);
});

test('deleting a federation cascades to its owners, rounds, updates and models', async (t) => {
  const { db } = await open(t);
  const p = db.prisma;
  const fed = await seedFederation(db);
  await p.owner.create({ data: { id: 'own-1', federationId: fed.id, name: 'A', apiKeyHash: 'ok1' } });
  await p.round.create({ data: { id: 'rnd-1', federationId: fed.id, number: 1, status: 'open', baseModelVersion: 0, minOwners: 1, deadline: new Date() } });
  await p.update.create({ data: { id: 'upd-1', roundId: 'rnd-1', ownerId: 'own-1', numSamples: 1, weights: weights([1]), metrics: '{}' } });
  await p.modelVersion.create({ data: { id: 'mv-0', federationId: fed.id, version: 0, weights: weights([0]), metrics: '{}' } });
  await seedFederation(db, 'fed-2');

  await p.federation.delete({ where: { id: fed.id } });
  const counts = await Promise.all([p.owner.count(), p.round.count(), p.update.count(), p.modelVersion.count(), p.federation.count()]);
  assert.deepEqual(counts, [0, 0, 0, 0, 1]);
});

test('isUniqueViolation recognises unique-constraint errors from this provider and nothing else', async (t) => {
  const { db } = await open(t);
  const p = db.prisma;
  const fed = await seedFederation(db);
  const round = { federationId: fed.id, number: 1, status: 'open', baseModelVersion: 0, minOwners: 1, deadline: new Date() };
  await p.round.create({ data: { id: 'rnd-1', ...round } });

  const caught = async (work: Promise<unknown>) => work.then(() => assert.fail('expected an error'), (err: unknown) => err);
  // The race rounds.service turns into a 409: a second round with the same number.
  const composite = await caught(p.round.create({ data: { id: 'rnd-2', ...round } }));
  assert.equal(isUniqueViolation(composite), true);
  // A single-column @unique, and the same inside an interactive transaction.
  await p.owner.create({ data: { id: 'own-1', federationId: fed.id, name: 'A', apiKeyHash: 'dup' } });
  assert.equal(isUniqueViolation(await caught(p.owner.create({ data: { id: 'own-2', federationId: fed.id, name: 'B', apiKeyHash: 'dup' } }))), true);
  const inTx = await caught(p.$transaction(async (tx) => tx.owner.create({ data: { id: 'own-3', federationId: fed.id, name: 'C', apiKeyHash: 'dup' } })));
  assert.equal(isUniqueViolation(inTx), true);
  // Raw SQL reports the same violation as P2010.
  const raw = await caught(p.$executeRaw`INSERT INTO "ApiKey" ("id", "label", "keyHash", "createdAt") VALUES ('k1', 'l', 'h', ${new Date()}), ('k2', 'l', 'h', ${new Date()})`);
  assert.equal(isUniqueViolation(raw), true);
  // Nothing from the failed writes was kept.
  assert.deepEqual([await p.round.count(), await p.owner.count(), await p.apiKey.count()], [1, 1, 0]);

  const foreignKey = await caught(p.owner.create({ data: { id: 'own-9', federationId: 'missing', name: 'X', apiKeyHash: 'x' } }));
  assert.equal(isUniqueViolation(foreignKey), false);
  assert.equal(isUniqueViolation(new Error('P2002')), false);
  assert.equal(isUniqueViolation({ code: 'P2002' }), false);
  assert.equal(isUniqueViolation(null), false);
  assert.equal(isUniqueViolation(undefined), false);
});

function deferred<T>(): { promise: Promise<T>; resolve(value: T | PromiseLike<T>): void } {
  let resolve!: (value: T | PromiseLike<T>) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

// Only a broken lock makes these waits endless; the bound turns that hang into a failure that says what
// never happened. Passing never depends on it.
const HANG_GUARD_MS = 10_000;

async function within<T>(work: Promise<T>, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what()}: still waiting after ${HANG_GUARD_MS} ms`)), HANG_GUARD_MS);
  });
  try {
    return await Promise.race([work, hang]);
  } finally {
    clearTimeout(timer);
  }
}

type SqliteConnection = Awaited<ReturnType<PrismaBetterSqlite3['connect']>>;

/**
 * Records the statements that reach the SQLite connection from the root client; a transaction's own go
 * through its `tx` object, not these methods. A statement is recorded once the call has returned: on the
 * serialised connection it is then queued on the lock, while on a bare one it has already run, because the
 * adapter executes synchronously when called. Either way, where it ends up no longer depends on timing.
 */
function watchRootStatements() {
  const statements: string[] = [];
  let awaited: { left: number; resolve(): void } | undefined;
  const record = (sql: string) => {
    statements.push(sql);
    if (awaited !== undefined && --awaited.left === 0) {
      awaited.resolve();
      awaited = undefined;
    }
  };
  const watchConnection = (connection: SqliteConnection): SqliteConnection =>
    new Proxy(connection, {
      get(target, prop) {
        if (prop !== 'queryRaw' && prop !== 'executeRaw') return bound(target, prop);
        return (query: Parameters<SqliteConnection['queryRaw']>[0]) => {
          const result = target[prop](query);
          record(query.sql);
          return result;
        };
      },
    });
  return {
    statements,
    wrap: (factory: PrismaBetterSqlite3): PrismaBetterSqlite3 =>
      new Proxy(factory, {
        get(target, prop) {
          if (prop === 'connect') return async () => watchConnection(await target.connect());
          return bound(target, prop);
        },
      }),
    /** Resolves once `count` more statements have arrived. */
    next: (count: number) => new Promise<void>((resolve) => (awaited = { left: count, resolve })),
  };
}

/** Prisma sends a query only when something calls its `then`; this sends it now. */
function send<T>(query: PromiseLike<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => query.then(resolve, reject));
}

/** Reads through a Proxy; methods stay bound to the real object (the adapter uses private fields). */
function bound(target: object, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? value.bind(target) : value;
}

test('a query outside an open transaction neither sees its rows nor is undone by its rollback', async (t) => {
  const watch = watchRootStatements();
  const { db } = await open(t, { wrapSqliteAdapter: watch.wrap });
  const p = db.prisma;
  const inserted = deferred<void>();
  const outsideReachedDatabase = deferred<unknown>();
  const transaction = p
    .$transaction(
      async (tx) => {
        await tx.apiKey.create({ data: { id: 'inside', label: 'l', keyHash: 'inside' } });
        inserted.resolve();
        // The rollback must come after both outside queries reached the database, or they could not tell
        // a transaction that isolates them from one that has already ended.
        const lastArrived = () => JSON.stringify(watch.statements.slice(-2));
        await within(outsideReachedDatabase.promise, () => `the outside queries reaching the database (last arrived: ${lastArrived()})`);
        throw new Error('business rule says no');
      },
      { timeout: 2 * HANG_GUARD_MS },
    )
    .catch((err: Error) => err.message);

  await within(inserted.promise, () => 'the transaction inserting its row');
  // Another request, meanwhile, on the root client. SQLite has one connection: both must wait on its lock
  // (running them inside the open transaction is the bug), so they count once they arrive there.
  // PostgreSQL gives each query its own pooled connection, so they finish while the transaction is open.
  const arrived = db.provider === 'sqlite' ? watch.next(2) : undefined;
  const read = send(p.apiKey.findUnique({ where: { id: 'inside' } }));
  const write = send(p.apiKey.create({ data: { id: 'outside', label: 'l', keyHash: 'outside' } }));
  outsideReachedDatabase.resolve(arrived ?? Promise.allSettled([read, write]));

  assert.equal(await within(transaction, () => 'the transaction ending'), 'business rule says no');
  const [seen] = await within(Promise.all([read, write]), () => 'the outside queries finishing after the transaction ended');
  assert.equal(seen, null);
  assert.deepEqual((await p.apiKey.findMany({ orderBy: { id: 'asc' } })).map((k) => k.id), ['outside']);
});

test('concurrent interactive transactions each commit their own work', async (t) => {
  const { db } = await open(t);
  const p = db.prisma;
  const fed = await seedFederation(db);
  await p.round.create({ data: { id: 'rnd-1', federationId: fed.id, number: 1, status: 'open', baseModelVersion: 0, minOwners: 1, deadline: new Date() } });
  // The shape of rounds.service's submitUpdate: a conditional counter bump, then an insert.
  await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      p.$transaction(async (tx) => {
        const bumped = await tx.round.updateMany({ where: { id: 'rnd-1', status: 'open' }, data: { submissionCount: { increment: 1 } } });
        assert.equal(bumped.count, 1);
        await tx.owner.create({ data: { id: `own-${i}`, federationId: fed.id, name: `O${i}`, apiKeyHash: `k${i}` } });
      }),
    ),
  );
  assert.equal((await p.round.findUniqueOrThrow({ where: { id: 'rnd-1' } })).submissionCount, 8);
  assert.equal(await p.owner.count(), 8);
});

test('openDatabase rejects a non-PostgreSQL URL without echoing it', async (t) => {
  const target = await createTestDatabase();
  t.after(target.cleanup);
  await assert.rejects(openDatabase({ databaseUrl: 'mysql://admin:s3cret@db.example/fed', dataDir: target.dataDir }), (err: Error) => {
    assert.match(err.message, /expected a postgres:\/\/ or postgresql:\/\/ URL, got scheme "mysql"/);
    assert.doesNotMatch(err.message, /s3cret/);
    return true;
  });
});

const sqliteOnly = { skip: process.env.FEDSCORE_TEST_DB === 'postgres' ? 'SQLite-specific' : false };

test('SQLite: the file uses WAL, enforces foreign keys, syncs NORMAL and waits when busy', sqliteOnly, async (t) => {
  const { db } = await open(t);
  const pragma = async (name: string) => Object.values((await db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(`PRAGMA ${name}`))[0]!)[0];
  assert.equal(await pragma('journal_mode'), 'wal');
  assert.equal(Number(await pragma('foreign_keys')), 1);
  // 1 = NORMAL: what the README's Durability section promises (a process crash loses nothing committed).
  assert.equal(Number(await pragma('synchronous')), 1);
  assert.ok(Number(await pragma('busy_timeout')) >= 1000);
});

test('SQLite: a second handle on the same file sees committed writes and can write too', sqliteOnly, async (t) => {
  const { db, dataDir } = await open(t);
  const other = await openDatabase({ dataDir, migrate: true });
  t.after(() => other.close());
  await seedFederation(db, 'fed-a');
  await seedFederation(other, 'fed-b');
  assert.deepEqual((await other.prisma.federation.findMany({ orderBy: { id: 'asc' } })).map((f) => f.id), ['fed-a', 'fed-b']);
  assert.equal(await db.prisma.federation.count(), 2);
});

test('SQLite: a transaction whose COMMIT fails does not leave the connection inside it', sqliteOnly, async (t) => {
  const { db, dataDir } = await open(t);
  const p = db.prisma;
  // Deferred foreign keys make COMMIT itself fail, the case Prisma's adapter does not roll back.
  const failed = await p
    .$transaction(async (tx) => {
      await tx.$executeRawUnsafe('PRAGMA defer_foreign_keys = ON');
      await tx.owner.create({ data: { id: 'orphan', federationId: 'missing', name: 'X', apiKeyHash: 'x' } });
    })
    .then(
      () => 'committed',
      (err: Error) => err.message,
    );
  assert.match(failed, /ForeignKeyConstraintViolation/);
  await p.$transaction(async (tx) => tx.apiKey.create({ data: { id: 'after-tx', label: 'l', keyHash: 'a' } }));
  await p.apiKey.create({ data: { id: 'after-plain', label: 'l', keyHash: 'b' } });
  await db.close();
  // Read with a separate connection: only committed data counts.
  const raw = new Database(join(dataDir, 'fedscore.db'), { readonly: true });
  try {
    assert.deepEqual(raw.prepare('SELECT id FROM "ApiKey" ORDER BY id').all(), [{ id: 'after-plain' }, { id: 'after-tx' }]);
    assert.deepEqual(raw.prepare('SELECT id FROM "Owner"').all(), []);
  } finally {
    raw.close();
  }
});
