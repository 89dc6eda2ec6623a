/**
 * checkIntegrity against real databases (SQLite, or PostgreSQL with FEDSCORE_TEST_DB=postgres). A plain and
 * a secure federation are built through the API in every state a round can be in — closed with its model,
 * failed, open with some updates, summing with one partial sum — and found consistent. Then every invariant
 * is broken, one corruption per case, each in its own copy of that database, and the case asserts exactly
 * which invariants are reported: the one broken and, where one fault necessarily breaks more than one, the
 * others it drags along. A last test checks that every invariant the helper knows has a case here.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { FedscoreClient, type RoundView } from '../../src/client/http-client.js';
import { enrolOwner, type Enrolment } from '../../src/client/owner-enrolment.js';
import { buildShareUpload, sumInbox } from '../../src/client/secure-shares.js';
import { loadConfig } from '../../src/config.js';
import { generateX25519KeyPair, type X25519KeyPair } from '../../src/crypto/envelope.js';
import { signCommitteeKey } from '../../src/crypto/identity.js';
import { openDatabase, type Database, type Db } from '../../src/db/client.js';
import type { DbClient } from '../../src/db/db-client.js';
import { startServer } from '../../src/server.js';
import { crxSchema } from './app.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { checkIntegrity, describeViolations, INVARIANTS, type Invariant } from './integrity.js';

interface Fixture {
  target: TestDatabase;
  /** Rounds 1–2 closed (versions 1–2), 3 failed, 4 open with two of four updates. */
  plain: string;
  /** Round 1 closed (version 1, two partial sums), round 2 summing with the partial sum of seat 1. */
  secure: string;
}

let fixture: Fixture;

before(async () => {
  fixture = await buildFixture();
});
after(async () => {
  await fixture?.target.cleanup();
});

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

async function buildFixture(): Promise<Fixture> {
  const target = await createTestDatabase();
  const adminKey = randomBytes(24).toString('base64url');
  const server = await startServer(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent' }),
    { logger: false },
  );
  try {
    const anonymous = new FedscoreClient({ baseUrl: server.url });
    const operator = anonymous.withApiKey(adminKey);
    const training = { rounds: 10, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 4, roundDeadlineSeconds: 3600, autoAdvance: false, seed: 3 };
    const enrolFour = async (federationId: string, enrolmentToken: string) => {
      const owners: Enrolment[] = [];
      for (let i = 0; i < 4; i++) owners.push(await enrolOwner({ client: anonymous, federationId, enrolmentToken, name: `owner ${i}`, role: 'owner' }));
      return owners;
    };
    /** Owner i's "trained" weights: the base moved by a little, enough to differ from everyone else's. */
    const trained = async (owner: Enrolment, federationId: string, round: RoundView, i: number) => {
      const base = Float32Array.from((await owner.owner.getModelWeights(federationId, round.baseModelVersion)).weights);
      return { base, weights: base.map((w) => w + 0.01 * (i + 1)) };
    };

    const plain = await operator.createFederation({ name: 'integrity plain', datasetSchema: crxSchema, model: { kind: 'logreg' }, training });
    const plainId = plain.federation.id;
    const plainOwners = await enrolFour(plainId, plain.enrolmentToken);
    const submit = async (i: number, round: RoundView) => {
      const { weights } = await trained(plainOwners[i]!, plainId, round, i);
      await plainOwners[i]!.owner.submitUpdate(plainId, round.number, { weights: Array.from(weights), numSamples: 10 + i, metrics: { loss: 0.5 } });
    };
    for (let r = 1; r <= 2; r++) {
      const round = await operator.openRound(plainId);
      for (let i = 0; i < 4; i++) await submit(i, round);
    }
    await operator.closeRound(plainId, (await operator.openRound(plainId)).number); // nobody submitted: it fails
    const fourth = await operator.openRound(plainId);
    await submit(0, fourth);
    await submit(1, fourth);

    const secure = await operator.createFederation({
      name: 'integrity secure',
      datasetSchema: crxSchema,
      model: { kind: 'logreg' },
      training,
      aggregation: 'secure',
      secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100 },
    });
    const secureId = secure.federation.id;
    const secureOwners = await enrolFour(secureId, secure.enrolmentToken);
    const byId = new Map(secureOwners.map((o) => [o.ownerId, o]));
    const secureRound = async (partialSums: number) => {
      let round = await operator.openRound(secureId);
      const keys = new Map<string, X25519KeyPair>();
      for (const seat of round.secure!.committee) {
        const member = byId.get(seat.ownerId)!;
        const pair = generateX25519KeyPair();
        keys.set(seat.ownerId, pair);
        const statement = { federationId: secureId, roundNumber: round.number, position: seat.position, memberId: seat.ownerId, publicKey: pair.publicKey };
        await member.owner.publishCommitteeKey(secureId, round.number, { publicKey: b64(pair.publicKey), signature: b64(signCommitteeKey(statement, member.identity!)) });
      }
      round = await operator.getRound(secureId, round.number);
      for (const [i, owner] of secureOwners.entries()) {
        const { base, weights } = await trained(owner, secureId, round, i);
        const upload = buildShareUpload({ federationId: secureId, ownerId: owner.ownerId, round, base, trained: weights, numSamples: 10 + i });
        await owner.owner.uploadShares(secureId, round.number, upload.body);
      }
      for (const seat of round.secure!.committee.slice(0, partialSums)) {
        const member = byId.get(seat.ownerId)!;
        const inbox = await member.owner.getInbox(secureId, round.number);
        const values = sumInbox({ federationId: secureId, memberId: seat.ownerId, keys: keys.get(seat.ownerId)!, inbox });
        await member.owner.uploadPartialSum(secureId, round.number, { includedSetHash: inbox.includedSetHash, values });
      }
    };
    await secureRound(2);
    await secureRound(1);

    assert.deepEqual((await operator.listRounds(plainId)).map((r) => r.status), ['closed', 'closed', 'failed', 'open']);
    assert.deepEqual((await operator.listRounds(secureId)).map((r) => [r.status, r.secure!.partialSumCount]), [['closed', 2], ['summing', 1]]);
    return { target, plain: plainId, secure: secureId };
  } catch (error) {
    await target.cleanup();
    throw error;
  } finally {
    await server.close();
  }
}

/** A copy of the fixture's database to corrupt: `VACUUM INTO` for SQLite, a database from it as template for PostgreSQL. */
async function copyDatabase(source: TestDatabase): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'fedscore-integrity-'));
  const removeDir = () => rm(dataDir, { recursive: true, force: true });
  if (!source.databaseUrl) {
    const file = new BetterSqlite3(join(source.dataDir, 'fedscore.db'), { readonly: true });
    try {
      file.prepare('VACUUM INTO ?').run(join(dataDir, 'fedscore.db'));
    } finally {
      file.close();
    }
    return { dataDir, cleanup: removeDir };
  }
  const url = new URL(source.databaseUrl);
  const original = url.pathname.slice(1);
  const name = `${original}_${randomBytes(4).toString('hex')}`;
  // The same server createTestDatabase used; a template must have no connections, and the fixture holds none.
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: process.env.FEDSCORE_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}" TEMPLATE "${original}"`);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    dataDir,
    async cleanup() {
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await removeDir();
    },
  };
}

/** Writes that foreign keys would refuse, as a file written with them off (or a bad restore) would hold. */
async function withoutForeignKeys(database: Database, work: (db: DbClient) => Promise<unknown>): Promise<void> {
  if (database.provider === 'sqlite') {
    await database.prisma.$executeRawUnsafe('PRAGMA foreign_keys = OFF');
    await work(database.prisma);
    return;
  }
  await database.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe('SET LOCAL session_replication_role = replica');
    await work(tx);
  });
}

const roundOf = (db: Db, federationId: string, number: number) => db.round.findFirstOrThrow({ where: { federationId, number } });
const setRound = async (db: Db, federationId: string, number: number, data: Parameters<Db['round']['update']>[0]['data']) => {
  await db.round.update({ where: { id: (await roundOf(db, federationId, number)).id }, data });
};
const setFederation = (db: Db, id: string, data: Parameters<Db['federation']['update']>[0]['data']) => db.federation.update({ where: { id }, data });
const setVersion = (db: Db, federationId: string, version: number, data: Parameters<Db['modelVersion']['updateMany']>[0]['data']) =>
  db.modelVersion.updateMany({ where: { federationId, version }, data });
const ownersOf = (db: Db, federationId: string) => db.owner.findMany({ where: { federationId }, orderBy: { createdAt: 'asc' } });
/** An update row as one of the fixture's owners would send it: the model's length in float32s. */
const updateRow = async (db: Db, roundId: string, ownerId: string, federationId: string) => ({
  id: `corrupt-${randomBytes(4).toString('hex')}`,
  roundId,
  ownerId,
  numSamples: 5,
  weights: (await db.modelVersion.findFirstOrThrow({ where: { federationId, version: 0 } })).weights,
  metrics: '{}',
});
/** Rewrites the owners a version's metrics record, leaving the rest of its metrics as published. */
const setOwnersRecorded = async (db: Db, federationId: string, version: number, owners: number) => {
  const row = await db.modelVersion.findFirstOrThrow({ where: { federationId, version } });
  await setVersion(db, federationId, version, { metrics: JSON.stringify({ ...(JSON.parse(row.metrics) as object), owners }) });
};
/** The secure fixture's round 2 committee, by position. */
const seatsOf = async (db: Db, f: Fixture) => db.committeeSeat.findMany({ where: { roundId: (await roundOf(db, f.secure, 2)).id }, orderBy: { position: 'asc' } });

interface Corruption {
  name: string;
  expect: Invariant[];
  corrupt(database: Database, f: Fixture): Promise<unknown>;
}

const cases: Corruption[] = [
  // ── contributions ──
  {
    name: 'an update of a round that does not exist',
    expect: ['orphan-row'],
    corrupt: async (database, f) => {
      const [owner] = await ownersOf(database.prisma, f.plain);
      const row = await updateRow(database.prisma, 'no-such-round', owner!.id, f.plain);
      await withoutForeignKeys(database, (db) => db.update.create({ data: row }));
    },
  },
  {
    name: 'an update from an owner that does not exist (and is not counted)',
    expect: ['orphan-row', 'submission-count'],
    corrupt: async (database, f) => {
      const row = await updateRow(database.prisma, (await roundOf(database.prisma, f.plain, 4)).id, 'no-such-owner', f.plain);
      await withoutForeignKeys(database, (db) => db.update.create({ data: row }));
    },
  },
  {
    name: "an update (counted) from another federation's owner",
    expect: ['cross-federation'],
    corrupt: async ({ prisma }, f) => {
      const [stranger] = await ownersOf(prisma, f.secure);
      const round = await roundOf(prisma, f.plain, 4);
      await prisma.update.create({ data: await updateRow(prisma, round.id, stranger!.id, f.plain) });
      await setRound(prisma, f.plain, 4, { submissionCount: 3 });
    },
  },
  {
    name: 'a plain update in a secure round',
    expect: ['mode-mismatch'],
    corrupt: async ({ prisma }, f) => {
      const [owner] = await ownersOf(prisma, f.secure);
      await prisma.update.create({ data: await updateRow(prisma, (await roundOf(prisma, f.secure, 2)).id, owner!.id, f.secure) });
    },
  },
  {
    name: 'an update from an aggregator node (one data owner fewer than the rounds count)',
    expect: ['contributor-role', 'too-many-submissions'],
    corrupt: async ({ prisma }, f) => {
      const [owner] = await ownersOf(prisma, f.plain);
      await prisma.owner.update({ where: { id: owner!.id }, data: { role: 'aggregator' } });
    },
  },
  {
    name: 'a share upload missing one envelope',
    expect: ['incomplete-shares'],
    corrupt: async ({ prisma }, f) => {
      const seat2 = (await seatsOf(prisma, f))[1]!;
      const envelope = await prisma.shareEnvelope.findFirstOrThrow({ where: { roundId: seat2.roundId, recipientId: seat2.ownerId } });
      await prisma.shareEnvelope.delete({ where: { id: envelope.id } });
    },
  },
  {
    name: "a partial sum over another included set than the round's",
    expect: ['partial-sum-seat'],
    corrupt: async ({ prisma }, f) => {
      await prisma.partialSum.updateMany({ where: { roundId: (await roundOf(prisma, f.secure, 2)).id }, data: { includedSetHash: 'f'.repeat(64) } });
    },
  },
  {
    name: 'a committee seat at a position past the committee',
    expect: ['committee-seats'],
    corrupt: async ({ prisma }, f) => {
      const seat3 = (await seatsOf(prisma, f))[2]!;
      await prisma.committeeSeat.update({ where: { id: seat3.id }, data: { position: 4 } });
    },
  },
  // ── federations and versions ──
  {
    name: 'the current-model pointer past the newest version',
    expect: ['latest-version'],
    corrupt: ({ prisma }, f) => setFederation(prisma, f.plain, { latestModelVersion: 5 }),
  },
  {
    name: 'a version missing from the sequence (its round left without a model, the next without its base)',
    expect: ['round-base-version', 'version-gap', 'versions-per-round'],
    corrupt: ({ prisma }, f) => prisma.modelVersion.deleteMany({ where: { federationId: f.plain, version: 1 } }),
  },
  {
    name: 'a published version without its round',
    expect: ['initial-version', 'versions-per-round'],
    corrupt: ({ prisma }, f) => setVersion(prisma, f.plain, 1, { roundNumber: null }),
  },
  {
    name: 'a promoted version that does not exist',
    expect: ['promoted-version'],
    corrupt: ({ prisma }, f) => setFederation(prisma, f.plain, { promotedModelVersion: 9 }),
  },
  {
    name: 'a secure federation whose secure settings cannot be read',
    expect: ['aggregation-config'],
    corrupt: ({ prisma }, f) => setFederation(prisma, f.secure, { secureConfig: '{' }),
  },
  {
    name: 'a charter that does not hash to its fingerprint',
    expect: ['charter-fingerprint'],
    corrupt: ({ prisma }, f) => setFederation(prisma, f.plain, { charterFingerprint: '0'.repeat(64) }),
  },
  {
    name: 'an update one weight short',
    expect: ['weights-length'],
    corrupt: async ({ prisma }, f) => {
      const update = await prisma.update.findFirstOrThrow({ where: { roundId: (await roundOf(prisma, f.plain, 4)).id } });
      await prisma.update.update({ where: { id: update.id }, data: { weights: update.weights.slice(4) } });
    },
  },
  {
    name: 'an encrypted-prediction session pinned to a version that does not exist',
    expect: ['he-session-version'],
    corrupt: ({ prisma }, f) =>
      prisma.heSession.create({
        data: { id: 'corrupt-session', federationId: f.plain, modelVersion: 7, creatorKeyId: 'env', layout: 'single', material: new Uint8Array(8), expiresAt: new Date(Date.now() + 3_600_000) },
      }),
  },
  // ── rounds ──
  {
    name: 'a gap in the round numbers',
    expect: ['round-numbers'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 4, { number: 9 }),
  },
  {
    name: 'two unsettled rounds in one federation',
    expect: ['unsettled-rounds'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 3, { status: 'open', closedAt: null, failureReason: null }),
  },
  {
    name: 'a round of an unknown kind',
    expect: ['round-enum'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 3, { kind: 'mystery' }),
  },
  {
    name: 'a closed round without its closing time',
    expect: ['round-closed-at'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 2, { closedAt: null }),
  },
  {
    name: 'a failed round without a reason',
    expect: ['round-failure-reason'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 3, { failureReason: null }),
  },
  {
    name: 'a summing round without its summing deadline',
    expect: ['round-freeze-fields'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.secure, 2, { summingDeadline: null }),
  },
  {
    name: 'an evaluation report on a training round',
    expect: ['round-evaluation-report'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 1, { evaluationReport: '{}' }),
  },
  {
    name: 'a round starting from a version that does not exist',
    expect: ['round-base-version'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 4, { baseModelVersion: 7 }),
  },
  {
    name: 'a submission counted but not stored',
    expect: ['submission-count'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 4, { submissionCount: 3 }),
  },
  {
    name: 'a partial sum counted but not stored',
    expect: ['partial-sum-count'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.secure, 2, { partialSumCount: 2 }),
  },
  {
    name: 'a committee key counted but not stored',
    expect: ['keyed-count'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.secure, 2, { keyedCount: 2 }),
  },
  {
    name: 'more submissions counted than the federation has owners',
    expect: ['submission-count', 'too-many-submissions'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 4, { submissionCount: 5 }),
  },
  {
    name: 'a round closed with fewer updates than its minimum',
    expect: ['closed-below-minimum'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 2, { minOwners: 5 }),
  },
  {
    name: 'a secure round closed with fewer partial sums than the threshold',
    expect: ['closed-below-minimum'],
    corrupt: async ({ prisma }, f) => {
      const round = await roundOf(prisma, f.secure, 1);
      const kept = await prisma.partialSum.findFirstOrThrow({ where: { roundId: round.id }, orderBy: { position: 'asc' } });
      await prisma.partialSum.deleteMany({ where: { roundId: round.id, id: { not: kept.id } } });
      await setRound(prisma, f.secure, 1, { partialSumCount: 1 });
    },
  },
  {
    name: 'an included count that is not the number of owners whose shares are stored',
    expect: ['included-set'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.secure, 2, { includedCount: 3 }),
  },
  // ── rounds against versions ──
  {
    name: 'a round published twice',
    expect: ['version-base', 'versions-per-round'],
    corrupt: async ({ prisma }, f) => {
      const second = await prisma.modelVersion.findFirstOrThrow({ where: { federationId: f.plain, version: 2 } });
      await prisma.modelVersion.create({ data: { ...second, id: 'corrupt-version', version: 3 } });
      await setFederation(prisma, f.plain, { latestModelVersion: 3 });
    },
  },
  {
    name: 'a closed round without its model',
    expect: ['versions-per-round'],
    corrupt: async ({ prisma }, f) => {
      await prisma.modelVersion.deleteMany({ where: { federationId: f.plain, version: 2 } });
      await setFederation(prisma, f.plain, { latestModelVersion: 1 });
      await prisma.round.updateMany({ where: { federationId: f.plain, number: { gt: 2 } }, data: { baseModelVersion: 1 } });
    },
  },
  {
    name: 'a version that does not build on its round’s base',
    expect: ['version-base'],
    corrupt: ({ prisma }, f) => setRound(prisma, f.plain, 2, { baseModelVersion: 0 }),
  },
  {
    name: 'a plain version recording another number of owners than its round holds',
    expect: ['version-contributors'],
    corrupt: ({ prisma }, f) => setOwnersRecorded(prisma, f.plain, 1, 3),
  },
  {
    name: 'a secure version recording another number of owners than its round included',
    expect: ['version-contributors'],
    corrupt: ({ prisma }, f) => setOwnersRecorded(prisma, f.secure, 1, 3),
  },
  {
    name: 'a version naming a round that does not exist',
    expect: ['version-round', 'versions-per-round'],
    corrupt: ({ prisma }, f) => setVersion(prisma, f.plain, 2, { roundNumber: 99 }),
  },
];

test('the fixture, built through the API with rounds in every state, is consistent (by target and by open handle)', async () => {
  assert.deepEqual(await checkIntegrity(fixture.target), []);
  const database = await openDatabase({ databaseUrl: fixture.target.databaseUrl ?? '', dataDir: fixture.target.dataDir });
  try {
    assert.deepEqual(await checkIntegrity(database), []);
  } finally {
    await database.close();
  }
});

describe('each corruption is reported as the invariants it breaks', { concurrency: 4 }, () => {
  for (const corruption of cases) {
    test(corruption.name, async () => {
      const copy = await copyDatabase(fixture.target);
      try {
        const database = await openDatabase({ databaseUrl: copy.databaseUrl ?? '', dataDir: copy.dataDir });
        try {
          await corruption.corrupt(database, fixture);
        } finally {
          await database.close();
        }
        const found = await checkIntegrity(copy);
        assert.deepEqual([...new Set(found.map((v) => v.invariant))].sort(), [...corruption.expect].sort(), describeViolations(found));
      } finally {
        await copy.cleanup();
      }
    });
  }
});

test('every invariant checkIntegrity knows has a corruption above that breaks it', () => {
  const covered = new Set(cases.flatMap((c) => c.expect));
  assert.deepEqual(INVARIANTS.filter((invariant) => !covered.has(invariant)), []);
});
