/**
 * Crash safety (issue 12): `fedscore serve` is SIGKILLed again and again while a plain and a secure
 * federation of 16 owners train on the crx rows, and restarted each time on the same database (SQLite
 * here, PostgreSQL under `npm run test:pg`). The owners are real `OwnerAgent`s in this process, talking to
 * the server through the SDK with its retry policy, so every kill also cuts requests off mid-flight and
 * they are retried against the restarted server.
 *
 * Kills land at moments the test watches for, never after a fixed sleep: after N acknowledged updates or
 * share uploads, as soon as a round is seen summing, after the first acknowledged partial sum. Three more
 * hold a transition in the old process first: a trigger makes the round's publication (or freeze) fail
 * inside its transaction, which rolls it back exactly as a kill there would, so the round is certainly due
 * and unsettled when the process dies, and only the restarted one can settle it.
 *
 * After every kill, before the restart, the database as the crash left it must pass checkIntegrity and
 * hold every contribution whose 2xx reached its owner before the kill. At the end every round is closed
 * with exactly one model version counting all 16 owners. The server is reached through a small TCP front
 * whose address survives restarts (as a load balancer's would), since each start listens on port 0.
 *
 * First, without kills, the case the loop found: the answer to the very contribution that settled a round
 * is lost (a crash right after the commit), the retry is refused because the round has moved on, and the
 * agent must still journal its contribution as in, as the round's view says, not as a round it missed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FedscoreClient } from '../../src/client/http-client.js';
import { applySplit, encodeRows, readCsvFile, readSchemaFile, readSplitFile, shardRows, type Shard } from '../../src/client/local-data.js';
import { OwnerAgent, type AgentEvent, type AgentSummary } from '../../src/client/owner-agent.js';
import { enrolOwner, type Enrolment } from '../../src/client/owner-enrolment.js';
import { MemoryJournal } from '../../src/client/owner-state.js';
import { deriveSeed } from '../../src/client/simulation.js';
import type { RetryPolicy } from '../../src/client/retry.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
import { initTf } from '../../src/ml/tf.js';
import { repoRoot, sharedData } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { checkIntegrity, describeViolations } from '../helpers/integrity.js';
import { startCli, type CliProcess } from '../helpers/processes.js';

const OWNERS = 16;
const ROUNDS = 3;
const adminKey = `fso_crash-${randomBytes(18).toString('base64url')}`;

let target: TestDatabase;
/** The test's own handle on the server's database: integrity, acknowledged rows, the holds. */
let database: Database;
let front: Front;
let server: CliProcess | undefined;
let anonymous: FedscoreClient;
let operator: FedscoreClient;
let schema: DatasetSchema;
let shards: Shard[];
/** Stops every agent still running when the file ends (after a failure), instead of leaving them retrying. */
const stopAgents = new AbortController();

/** Kills so far; a retry is counted against the outage it rode out. */
let kills = 0;
const retriesAfterKill = new Map<number, number>();
/** Fast retries: a restart takes seconds, and the test should not wait a minute for the backoff. */
const retry: RetryPolicy = {
  initialDelayMs: 50,
  maxDelayMs: 1000,
  giveUpAfterMs: 60_000,
  onRetry: () => retriesAfterKill.set(kills, (retriesAfterKill.get(kills) ?? 0) + 1),
};

before(async () => {
  await initTf('cpu');
  target = await createTestDatabase();
  front = await startFront();
  await startServer();
  database = await openDatabase({ databaseUrl: target.databaseUrl ?? '', dataDir: target.dataDir });
  anonymous = new FedscoreClient({ baseUrl: front.url, retry });
  operator = anonymous.withApiKey(adminKey);

  schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const parts = applySplit(await readCsvFile(path.join(sharedData, 'crx.data'), schema), await readSplitFile(path.join(sharedData, 'crx.split.json')));
  shards = shardRows(encodeRows(schema, parts.train), OWNERS);
});

after(async () => {
  stopAgents.abort(new Error('crash-loop: the test file is over'));
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill('SIGTERM');
    await server.exited;
  }
  await front?.close();
  await database?.close();
  await target?.cleanup();
});

// ── The server, its front, and the kills ────────────────────────────────────────────────────────────

interface Front {
  url: string;
  /** Where new connections go; null while no server runs (they are dropped, as a dead backend's are). */
  upstream: number | null;
  close(): Promise<void>;
}

/** A TCP forwarder on a port of its own: the one address clients know, whichever port the server has. */
async function startFront(): Promise<Front> {
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((client) => {
    if (result.upstream === null) return void client.destroy();
    const backend = net.connect({ host: '127.0.0.1', port: result.upstream });
    const drop = () => {
      client.destroy();
      backend.destroy();
      sockets.delete(client);
      sockets.delete(backend);
    };
    for (const socket of [client, backend]) {
      sockets.add(socket);
      socket.once('error', drop);
      socket.once('close', drop);
    }
    client.pipe(backend);
    backend.pipe(client);
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const result: Front = {
    url: `http://127.0.0.1:${(listener.address() as net.AddressInfo).port}`,
    upstream: null,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => listener.close(resolve));
    },
  };
  return result;
}

async function startServer(): Promise<void> {
  server = startCli(['serve', '--port', '0'], {
    HOST: '127.0.0.1',
    DATA_DIR: target.dataDir,
    DATABASE_URL: target.databaseUrl ?? '',
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'warn',
    // A round left due by a crash is settled by the restarted server's sweep; no need to wait 5 s for it.
    DEADLINE_SWEEP_MS: '200',
  });
  const line = await server.waitForLine(/listening on http:\/\/127\.0\.0\.1:\d+/, 'its URL');
  front.upstream = Number(/:(\d+)\s*$/.exec(line)![1]);
}

/** Every contribution acknowledged with a 2xx, as its agent reported it. */
interface Ack {
  federationId: string;
  round: number;
  ownerId: string;
  what: 'update' | 'shares' | 'partial-sum' | 'committee-key';
}
const acks: Ack[] = [];

/**
 * SIGKILL, then the database as the crash left it: consistent, and holding everything acknowledged before
 * the signal. The restart is the caller's, after whatever it checks or changes while no server runs.
 */
async function crash(label: string): Promise<void> {
  const acknowledged = acks.slice();
  const victim = server!;
  front.upstream = null;
  victim.child.kill('SIGKILL');
  await victim.exited;
  assert.equal(victim.child.signalCode, 'SIGKILL', `kill "${label}": the server had already exited\n${victim.stderr()}`);
  kills++;
  const violations = await checkIntegrity(database);
  assert.deepEqual(violations, [], `kill "${label}" left the database inconsistent:\n${describeViolations(violations)}`);
  const missing = await notStored(acknowledged);
  assert.deepEqual(missing, [], `kill "${label}": contributions acknowledged before it are not stored`);
}

/** The acknowledged contributions the database does not hold. */
async function notStored(list: Ack[]): Promise<Ack[]> {
  const p = database.prisma;
  const missing: Ack[] = [];
  for (const ack of list) {
    const round = await p.round.findFirst({ where: { federationId: ack.federationId, number: ack.round }, select: { id: true } });
    if (!round) {
      missing.push(ack);
      continue;
    }
    const where = { roundId: round.id };
    const stored =
      ack.what === 'update'
        ? (await p.update.count({ where: { ...where, ownerId: ack.ownerId } })) === 1
        : ack.what === 'shares'
          ? (await p.shareEnvelope.count({ where: { ...where, senderId: ack.ownerId } })) === (await p.committeeSeat.count({ where }))
          : ack.what === 'partial-sum'
            ? (await p.partialSum.count({ where: { ...where, memberId: ack.ownerId } })) === 1
            : (await p.committeeSeat.count({ where: { ...where, ownerId: ack.ownerId, roundKey: { not: null } } })) === 1;
    if (!stored) missing.push(ack);
  }
  return missing;
}

// ── Holds: a transition that fails inside its transaction, until released ───────────────────────────

/**
 * Every attempt at `transition` of the federation's round fails inside its transaction (a trigger raises),
 * which rolls it back as a crash at that point would. Returns the release. Ids are server-made UUIDs.
 */
async function hold(transition: 'publish' | 'freeze', federationId: string, n: number): Promise<() => Promise<void>> {
  assert.match(federationId, /^[0-9a-f-]+$/);
  const name = `crash_loop_${transition}_${federationId.replaceAll('-', '')}_${n}`;
  const [table, column, condition] =
    transition === 'publish'
      ? (['Federation', 'latestModelVersion', `NEW."id" = '${federationId}' AND NEW."latestModelVersion" = ${n}`] as const)
      : (['Round', 'status', `NEW."federationId" = '${federationId}' AND NEW."number" = ${n} AND NEW."status" = 'summing'`] as const);
  const p = database.prisma;
  if (database.provider === 'sqlite') {
    await p.$executeRawUnsafe(`CREATE TRIGGER "${name}" BEFORE UPDATE OF "${column}" ON "${table}" FOR EACH ROW WHEN ${condition} BEGIN SELECT RAISE(ABORT, 'crash-loop: ${transition} held'); END`);
    return async () => void (await p.$executeRawUnsafe(`DROP TRIGGER "${name}"`));
  }
  await p.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION crash_loop_hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'crash-loop: % held', TG_NAME; END $$`);
  await p.$executeRawUnsafe(`CREATE TRIGGER "${name}" BEFORE UPDATE OF "${column}" ON "${table}" FOR EACH ROW WHEN (${condition}) EXECUTE FUNCTION crash_loop_hold()`);
  return async () => void (await p.$executeRawUnsafe(`DROP TRIGGER "${name}" ON "${table}"`));
}

// ── The federations and their owners ────────────────────────────────────────────────────────────────

interface Fleet {
  federationId: string;
  owners: Enrolment[];
  events: { ownerId: string; event: AgentEvent }[];
  done: Promise<AgentSummary[]>;
  /** Set when an agent stops with an error; every wait gives up on it. */
  failure?: unknown;
}

/** A federation of `owners` owners (all of them needed each round), enrolled through `clientFor(i)`. */
async function federation(
  aggregation: 'plain' | 'secure',
  { owners = OWNERS, rounds = ROUNDS, clientFor = () => anonymous }: { owners?: number; rounds?: number; clientFor?: (i: number) => FedscoreClient } = {},
): Promise<{ federationId: string; owners: Enrolment[] }> {
  const { federation: created, enrolmentToken } = await operator.createFederation({
    name: `crash loop ${aggregation}`,
    datasetSchema: schema,
    model: { kind: 'logreg' },
    training: { rounds, localEpochs: 1, batchSize: 16, learningRate: 0.1, minOwners: owners, roundDeadlineSeconds: 600, autoAdvance: true, seed: 11 },
    aggregation,
    ...(aggregation === 'secure' && { secure: { committee: { size: 3, threshold: 2 }, clipNorm: 100 } }),
  });
  const enrolled: Enrolment[] = [];
  for (let i = 0; i < owners; i++) enrolled.push(await enrolOwner({ client: clientFor(i), federationId: created.id, enrolmentToken, name: `owner ${i + 1}`, role: 'owner' }));
  return { federationId: created.id, owners: enrolled };
}

function runFleet(federationId: string, owners: Enrolment[]): Fleet {
  const fleet: Fleet = { federationId, owners, events: [], done: Promise.resolve([]) };
  const secure = owners[0]!.federation.aggregation === 'secure';
  const agents = owners.map(
    (owner, i) =>
      new OwnerAgent({
        client: owner.owner.withSignal(stopAgents.signal),
        signal: stopAgents.signal,
        ownerId: owner.ownerId,
        federation: owner.federation,
        data: shards[i]!,
        ...(owner.identity && { identity: owner.identity }),
        charter: owner.charter,
        journal: new MemoryJournal(),
        localSeed: (round) => deriveSeed(11, round, i),
        waitSeconds: 5,
        onEvent: (event) => {
          fleet.events.push({ ownerId: owner.ownerId, event });
          const what =
            event.type === 'submitted' ? (secure ? 'shares' : 'update') : event.type === 'summed' && !event.resumed ? 'partial-sum' : event.type === 'keyed' ? 'committee-key' : null;
          if (what) acks.push({ federationId, round: event.round, ownerId: owner.ownerId, what });
        },
      }),
  );
  fleet.done = Promise.all(
    agents.map((agent) =>
      agent.run().catch((error: unknown) => {
        fleet.failure ??= error;
        throw error;
      }),
    ),
  );
  fleet.done.catch(() => {}); // reported through `failure` by the waits, and by the final await
  return fleet;
}

/** Polls until `check` holds; gives up on an agent's failure or after a bound that only turns a hang into a failure. */
async function until(fleet: Fleet, what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const giveUp = Date.now() + 90_000;
  while (!(await check())) {
    if (fleet.failure !== undefined) throw fleet.failure;
    if (Date.now() > giveUp) assert.fail(`until: ${what} did not happen; the server printed:\n${server?.lines.slice(-20).map((l) => l.text).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const acked = (fleet: Fleet, round: number, what: Ack['what']) => acks.filter((a) => a.federationId === fleet.federationId && a.round === round && a.what === what).length;
/** Owners the server has told (2xx, or 409 duplicate after a lost answer) that their contribution to the round is in. */
const inRound = (fleet: Fleet, round: number) =>
  new Set(fleet.events.filter(({ event }) => event.round === round && (event.type === 'submitted' || event.type === 'already-submitted')).map((e) => e.ownerId)).size;
const roundRow = (fleet: Fleet, number: number) => database.prisma.round.findFirst({ where: { federationId: fleet.federationId, number } });
const versionOf = (fleet: Fleet, roundNumber: number) => database.prisma.modelVersion.findMany({ where: { federationId: fleet.federationId, roundNumber } });

/** Every round closed with one version counting all owners, every agent done, every contribution acknowledged stored. */
async function assertFinished(fleet: Fleet): Promise<void> {
  const summaries = await fleet.done;
  assert.deepEqual(summaries.map((s) => s.stoppedBy), Array(OWNERS).fill('planned-rounds-over'));
  for (const summary of summaries) assert.deepEqual(summary.submitted, [1, 2, 3], `owner ${summary.ownerId} is in every round`);
  const rounds = await database.prisma.round.findMany({ where: { federationId: fleet.federationId }, orderBy: { number: 'asc' } });
  assert.deepEqual(rounds.map((r) => [r.number, r.status, r.submissionCount]), [1, 2, 3].map((n) => [n, 'closed', OWNERS]));
  const versions = await database.prisma.modelVersion.findMany({ where: { federationId: fleet.federationId }, orderBy: { version: 'asc' } });
  assert.deepEqual(versions.map((v) => [v.version, v.roundNumber]), [[0, null], [1, 1], [2, 2], [3, 3]], 'one version per round, none twice');
  for (const version of versions.slice(1)) assert.equal((JSON.parse(version.metrics) as { owners: number }).owners, OWNERS, `version ${version.version} counts every owner`);
  const violations = await checkIntegrity(database);
  assert.deepEqual(violations, [], describeViolations(violations));
  assert.deepEqual(await notStored(acks.filter((a) => a.federationId === fleet.federationId)), []);
}

describe('an answer lost after the contribution that settled the round', () => {
  for (const aggregation of ['plain', 'secure'] as const) {
    it(`${aggregation}: every owner journals what the server holds, not a round it missed`, async () => {
      // Each owner loses the answer to its first upload of each kind; the last one in closes (or freezes) the round.
      const lossy = () => new FedscoreClient({ baseUrl: front.url, retry, fetch: losingFirstAnswer(/\/(updates|shares|partial-sums)$/) });
      const { federationId, owners } = await federation(aggregation, { owners: 3, rounds: 1, clientFor: lossy });
      await operator.openRound(federationId);
      const fleet = runFleet(federationId, owners);
      const summaries = await fleet.done;
      const round = await roundRow(fleet, 1);
      assert.equal(round?.status, 'closed');
      assert.deepEqual(summaries.map((s) => [s.submitted, s.missed]), Array(3).fill([[1], []]), 'every owner knows its update is in round 1');
      const summed = new Set((await database.prisma.partialSum.findMany({ where: { roundId: round!.id } })).map((p) => p.memberId));
      for (const summary of summaries) assert.equal(summary.committee.includes(1), summed.has(summary.ownerId), `owner ${summary.ownerId}: journal and server agree on its partial sum`);
      if (aggregation === 'secure') assert.ok(summed.size >= 2);
    });
  }
});

describe('fedscore serve SIGKILLed mid-round, again and again', () => {
  it('plain rounds: every acknowledged update is kept, and each round is published exactly once', async () => {
    const { federationId, owners } = await federation('plain');
    // Round 3's publication fails in whichever process tries it, until released below.
    const releasePublication = await hold('publish', federationId, 3);
    const killsBefore = kills;
    await operator.openRound(federationId);
    const fleet = runFleet(federationId, owners);

    // 1. Mid-submissions: five updates acknowledged, the others training or on the wire.
    await until(fleet, 'five acknowledged updates in round 1', () => acked(fleet, 1, 'update') >= 5);
    await crash('plain round 1, after 5 acknowledged updates');
    await startServer();

    // 2. The closing submission: fifteen acknowledged, the last one training, on the wire or being published.
    await until(fleet, 'fifteen acknowledged updates in round 2', () => acked(fleet, 2, 'update') >= OWNERS - 1);
    await crash('plain round 2, after 15 acknowledged updates');
    await startServer();

    // 3. Publication: every update of round 3 is in and the old process cannot publish it. It dies holding a
    //    due round; the restarted one publishes it, once. Every owner hearing back (201, or 409 duplicate
    //    after the 500 of the failed publication) means the closing update's publication has been tried.
    await until(fleet, 'every owner in round 3', () => inRound(fleet, 3) === OWNERS);
    await crash('plain round 3, all updates in, publication failing');
    const held = await roundRow(fleet, 3);
    assert.deepEqual([held?.status, held?.submissionCount, (await versionOf(fleet, 3)).length], ['open', OWNERS, 0], 'the killed process published nothing');
    await releasePublication();
    await startServer();

    await assertFinished(fleet);
    assertEveryKillRetried(killsBefore);
  });

  it('secure rounds: shares, freezes, partial sums and reconstructions survive being killed', async () => {
    const { federationId, owners } = await federation('secure');
    const releaseFreeze = await hold('freeze', federationId, 3);
    const releasePublication = await hold('publish', federationId, 3);
    const killsBefore = kills;
    await operator.openRound(federationId);
    const fleet = runFleet(federationId, owners);

    // 1. Mid-share uploads.
    await until(fleet, 'six acknowledged share uploads in round 1', () => acked(fleet, 1, 'shares') >= 6);
    await crash('secure round 1, after 6 acknowledged share uploads');
    await startServer();

    // 2. Just frozen: the committee is fetching its inboxes and summing (or, on a quick machine, done).
    await until(fleet, 'round 1 frozen', async () => ((await roundRow(fleet, 1))?.includedSetHash ?? null) !== null);
    await crash('secure round 1, as soon as it froze');
    await startServer();

    // 3. One partial sum acknowledged, the threshold's second one still to come.
    await until(fleet, 'an acknowledged partial sum in round 2', () => acked(fleet, 2, 'partial-sum') >= 1);
    await crash('secure round 2, after the first acknowledged partial sum');
    await startServer();

    // 4. Freeze: every owner's shares are in and the old process cannot freeze the round.
    await until(fleet, 'every owner in round 3', () => inRound(fleet, 3) === OWNERS);
    await crash('secure round 3, all shares in, freeze failing');
    const unfrozen = await roundRow(fleet, 3);
    assert.deepEqual([unfrozen?.status, unfrozen?.submissionCount, unfrozen?.includedSetHash], ['open', OWNERS, null], 'the killed process froze nothing');
    await releaseFreeze();
    await startServer();

    // 5. Reconstruction: the threshold of partial sums is in and the old process cannot publish.
    await until(fleet, 'the threshold of partial sums in round 3', async () => ((await roundRow(fleet, 3))?.partialSumCount ?? 0) >= 2);
    await crash('secure round 3, partial sums in, publication failing');
    const unpublished = await roundRow(fleet, 3);
    assert.deepEqual([unpublished?.status, unpublished?.includedCount, (await versionOf(fleet, 3)).length], ['summing', OWNERS, 0], 'frozen with every owner, nothing published');
    await releasePublication();
    await startServer();

    await assertFinished(fleet);
    assertEveryKillRetried(killsBefore);
  });
});

/**
 * A fetch that delivers the first POST to a path matching `pattern` and then loses the server's answer, as
 * a crash right after the commit, a reset connection or a proxy timeout would: the work is done, the owner
 * does not know it, and its client retries.
 */
function losingFirstAnswer(pattern: RegExp): typeof fetch {
  const lost = new Set<string>();
  return async (input, init) => {
    const response = await fetch(input, init);
    const pathname = new URL(input instanceof Request ? input.url : String(input)).pathname;
    const route = pathname.replace(/^.*\//, '');
    if (init?.method === 'POST' && pattern.test(pathname) && !lost.has(route)) {
      lost.add(route);
      await response.arrayBuffer();
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    }
    return response;
  };
}

/**
 * Each kill cut off requests in flight, which were retried: the test exercised what it claims to. Every
 * kill lands before its federation's last round has settled, so its agents still wait on long polls or
 * have uploads to make.
 */
function assertEveryKillRetried(killsBefore: number): void {
  for (let k = killsBefore + 1; k <= kills; k++) assert.ok((retriesAfterKill.get(k) ?? 0) > 0, `no request was retried after kill ${k}`);
}
