/**
 * Scale-out on PostgreSQL: the 522-owner secure crx rounds (one owner per training applicant, k = 5,
 * t = 3) through one `fedscore serve` process, through three, and through three of which two are
 * SIGKILLed mid-run (one with a share upload in flight in round 1, another with a partial sum in flight
 * in round 2, neither replaced). Every run goes through the same test balancer (a random backend per
 * request), on its own fresh database, and is compared bit for bit with the one-instance run's weights.
 * The owners' agents, the instances and PostgreSQL share the machine's cores, so more instances add
 * capacity only where the cores are not already busy with the owners' training.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { FedscoreClient } from '../src/client/http-client.js';
import { AGENT_RETRY } from '../src/client/retry.js';
import { runSimulation, type SimulationResult } from '../src/client/simulation.js';
import { openDatabase } from '../src/db/client.js';
import { initTf } from '../src/ml/tf.js';
import { startCluster, type Cluster } from '../test/helpers/cluster.js';
import { crxSecureRun, loadCrx } from '../test/helpers/crx-secure-run.js';
import { createTestDatabase, type TestDatabase } from '../test/helpers/database.js';
import { round3, writeResult } from './bench-io.js';

const OWNERS = 522;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// Each case this many times, interleaved, so that load from outside the benchmark falls on every case alike.
const REPEATS = Number(process.env.BENCH_REPEATS ?? 2);

interface Run {
  label: string;
  repeat: number;
  instances: number;
  killed: number;
  totalSeconds: number;
  meanSecondsPerRound: number;
  secondsPerRound: number[];
  finalAccuracy: number;
  /** Every published version's weights equal the one-instance run's, byte for byte. */
  identicalWeights: boolean | null;
  kills: string[];
  /** The machine's 1-minute load average when the run ended, this benchmark's own processes included. */
  loadAverage: number;
}

export async function scaleOutBench(): Promise<void> {
  await initTf('cpu');
  const data = await loadCrx();
  const adminKey = randomBytes(24).toString('base64url');
  const env = { DEADLINE_SWEEP_MS: '1000', ROUND_WAIT_POLL_MS: '250' };
  const cases: { label: string; instances: number; kill: boolean }[] = [
    { label: 'one instance', instances: 1, kill: false },
    { label: 'three instances', instances: 3, kill: false },
    { label: 'three instances, two killed mid-round', instances: 3, kill: true },
  ];

  let reference: Buffer[] | undefined;
  const runs: Run[] = [];
  const schedule = Array.from({ length: REPEATS }, (_, i) => cases.map((c) => ({ ...c, repeat: i + 1 }))).flat();
  for (const { label, instances, kill, repeat } of schedule) {
    console.error(`scale-out: ${label}, run ${repeat} of ${REPEATS}`);
    const target = await createTestDatabase('postgres');
    let cluster: Cluster | undefined;
    try {
      cluster = await startCluster(instances, { database: target, adminKey, env });
      if (kill) {
        cluster.killDuring('POST', /\/rounds\/1\/shares$/, Math.ceil(OWNERS / 2));
        cluster.killDuring('POST', /\/rounds\/2\/partial-sums$/, 3);
      }
      const operator = new FedscoreClient({ baseUrl: cluster.balancer.url, apiKey: adminKey, retry: AGENT_RETRY });
      const result = await runSimulation(crxSecureRun(operator, data, OWNERS, ROUNDS));
      const weights = await publishedWeights(target, result);
      reference ??= weights;
      const kills = await Promise.all(
        cluster.kills.map(async (k) => `${k.request.method} ${k.request.path.replace(/^\/v1\/federations\/[^/]+/, '…')} (${(await k.request.answered) === null ? 'never answered' : 'answered first'})`),
      );
      const seconds = result.rounds.map((r) => r.seconds);
      runs.push({
        label,
        repeat,
        instances,
        killed: cluster.kills.length,
        totalSeconds: round3(result.totalSeconds),
        meanSecondsPerRound: round3(seconds.reduce((a, b) => a + b, 0) / seconds.length),
        secondsPerRound: seconds.map(round3),
        finalAccuracy: round3(result.final.accuracy),
        identicalWeights: weights.length === reference.length && weights.every((w, i) => w.equals(reference![i]!)),
        kills,
        loadAverage: round3(os.loadavg()[0]!),
      });
    } finally {
      await cluster?.close();
      await target.cleanup();
    }
  }

  await writeResult('scale-out', { owners: OWNERS, rounds: ROUNDS, repeats: REPEATS, secure: { committee: 5, threshold: 3 }, runs }, [
    {
      title: `Secure crx rounds on PostgreSQL, ${OWNERS} owners (one per training applicant), ${ROUNDS} rounds, through a random balancer`,
      columns: ['run', 'instances', 'killed', 'total s (enrolment included)', 'mean s / round', 's per round', 'weights identical to the first one-instance run', 'load average at the end'],
      rows: runs.map((r) => [`${r.label} (${r.repeat})`, r.instances, r.killed, r.totalSeconds, r.meanSecondsPerRound, r.secondsPerRound.join(', '), r.identicalWeights ? 'yes' : 'no', r.loadAverage]),
      notes: [
        'Round seconds are the server’s: from the round opening to its model being published. The cases ran interleaved, each run on a fresh database.',
        ...runs.filter((r) => r.kills.length > 0).map((r) => `${r.label} (${r.repeat}): SIGKILLed with in flight ${r.kills.join('; ')}.`),
        `The owners’ agents (training, sealing), the committee, the instances and PostgreSQL all share the same ${os.cpus().length} cores, and so does whatever else the machine runs (the load average column): where the spread between repeats of one case is wider than between cases, the cases do not differ measurably.`,
      ],
    },
  ]);
}

/** Every version the run published, weights as stored, in version order. */
async function publishedWeights(target: TestDatabase, result: SimulationResult): Promise<Buffer[]> {
  const database = await openDatabase({ databaseUrl: target.databaseUrl, dataDir: target.dataDir });
  try {
    const versions = await database.prisma.modelVersion.findMany({ where: { federationId: result.federationId }, orderBy: { version: 'asc' }, select: { weights: true } });
    return versions.map((version) => Buffer.from(version.weights));
  } finally {
    await database.close();
  }
}
