/**
 * Idle owner agents waiting for the next round (GET …/rounds/current?waitSeconds=60&after=none): one server
 * instance, in a process of its own, holds N waiting requests from N agents. Reported: the server's memory
 * and event-loop delay with nobody waiting and with everybody waiting, and how long after the operator
 * opens the round the last agent hears of it. Traffic stays on 127.0.0.1 and the run stops itself.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mapWithConcurrency } from '../src/client/concurrency.js';
import { FedscoreClient } from '../src/client/http-client.js';
import { federationBody } from './crx-federation.js';
import { percentile, repoRoot, round3, writeResult } from './bench-io.js';

const AGENTS = Number(process.env.BENCH_WAITING_AGENTS ?? 2000);

interface Stats {
  rssBytes: number;
  heapUsedBytes: number;
  eventLoopDelayP99Ms: number;
  eventLoopDelayMaxMs: number;
  waiting: number;
}

function ask<T>(child: ChildProcess, type: string, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string }) => {
      if (message.type !== reply) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.send({ type });
  });
}

export async function roundWaitsBench(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fedscore-bench-waits-'));
  const adminKey = randomBytes(24).toString('base64url');
  const server = fork(path.join(repoRoot, 'bench', 'support', 'wait-server.ts'), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent', ROUND_WAIT_MAX_WAITERS: String(AGENTS + 100), RATE_LIMIT_PER_KEY: '0', RATE_LIMIT_PER_IP: '0' },
  });
  try {
    const { url } = await new Promise<{ url: string }>((resolve) => server.once('message', resolve as never));
    const operator = new FedscoreClient({ baseUrl: url, apiKey: adminKey, timeoutMs: 120_000 });
    const { federation, enrolmentToken } = await operator.createFederation(await federationBody(AGENTS));
    const agents = await mapWithConcurrency(Array.from({ length: AGENTS }, (_, i) => i), 32, async (i) =>
      operator.withApiKey((await operator.enrolOwner(federation.id, { enrolmentToken, name: `agent-${i}` })).apiKey),
    );
    await ask(server, 'reset', 'reset');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const idle = await ask<Stats>(server, 'stats', 'stats');

    // Every agent starts waiting; the round opens once the server holds all of them.
    const heard: number[] = [];
    let opened = 0;
    const waits = agents.map((agent) =>
      agent.waitForRound(federation.id, 'none', 60).then((round) => {
        if (!round || round.number !== 1) throw new Error('round-waits bench: an agent heard something other than round 1');
        heard.push(performance.now() - opened);
      }),
    );
    let holding = idle;
    const deadline = Date.now() + 60_000;
    while (holding.waiting < AGENTS && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      holding = await ask<Stats>(server, 'stats', 'stats');
    }
    if (holding.waiting < AGENTS) throw new Error(`round-waits bench: the server holds ${holding.waiting} of ${AGENTS} waits after 60 s`);
    await ask(server, 'reset', 'reset');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const waiting = await ask<Stats>(server, 'stats', 'stats');

    await ask(server, 'reset', 'reset');
    opened = performance.now();
    await operator.openRound(federation.id, {});
    await Promise.all(waits);
    const wake = await ask<Stats>(server, 'stats', 'stats');

    const mib = (bytes: number) => round3(bytes / 2 ** 20);
    const result = {
      agents: AGENTS,
      idle: { rssMiB: mib(idle.rssBytes), heapMiB: mib(idle.heapUsedBytes), eventLoopDelayP99Ms: round3(idle.eventLoopDelayP99Ms) },
      waiting: { rssMiB: mib(waiting.rssBytes), heapMiB: mib(waiting.heapUsedBytes), eventLoopDelayP99Ms: round3(waiting.eventLoopDelayP99Ms), held: waiting.waiting },
      perWaiterKiB: round3((waiting.heapUsedBytes - idle.heapUsedBytes) / AGENTS / 1024),
      wake: {
        firstHeardMs: round3(Math.min(...heard)),
        medianHeardMs: round3(percentile(heard, 50)),
        lastHeardMs: round3(Math.max(...heard)),
        eventLoopDelayP99Ms: round3(wake.eventLoopDelayP99Ms),
        eventLoopDelayMaxMs: round3(wake.eventLoopDelayMaxMs),
      },
    };
    await writeResult('round-waits', result, [
      {
        title: `${AGENTS} owner agents waiting for a round on one instance (embedded SQLite; server in its own process)`,
        columns: ['state', 'server RSS MiB', 'heap MiB', 'event-loop delay p99 ms'],
        rows: [
          ['nobody waiting (after enrolment)', result.idle.rssMiB, result.idle.heapMiB, result.idle.eventLoopDelayP99Ms],
          [`${AGENTS} waiting`, result.waiting.rssMiB, result.waiting.heapMiB, result.waiting.eventLoopDelayP99Ms],
          ['while waking all of them', mib(wake.rssBytes), mib(wake.heapUsedBytes), result.wake.eventLoopDelayP99Ms],
        ],
        notes: [
          `From the operator opening the round to each agent hearing of it: first ${result.wake.firstHeardMs} ms, median ${result.wake.medianHeardMs} ms, last ${result.wake.lastHeardMs} ms (includes the open request itself).`,
          `Heap per waiting request ≈ ${result.perWaiterKiB} KiB; event-loop delay measured over 2 s with everybody waiting.`,
        ],
      },
    ]);
  } finally {
    server.send({ type: 'close' });
    await new Promise((resolve) => server.once('exit', resolve));
    await rm(dataDir, { recursive: true, force: true });
  }
}
