/**
 * Load tests (issue 13): how many requests per second `fedscore serve` answers, and how fast, for the four
 * calls that come in volume — plain update submissions, secure share uploads, model downloads and plain
 * predictions — on one instance over SQLite, one over PostgreSQL and two over one PostgreSQL database.
 *
 * The servers run as processes of their own from the compiled CLI (bench/support/load-servers.ts); the
 * load comes from this process over C keep-alive connections to 127.0.0.1 (bench/support/load-generator.ts),
 * spread evenly over the instances. Everything else happens outside the measured window: creating the
 * federations, enrolling the owners, opening the rounds, keying the committee and building every request
 * body, then a short warm-up. Each submission is a different owner's first and only update of the round,
 * and minOwners stays above the owners so every one is a plain insert into an open round.
 *
 * Knobs: BENCH_LOAD_SECONDS (measured window per case, default 10), BENCH_LOAD_WARMUP_SECONDS (2),
 * BENCH_LOAD_CONNECTIONS (32), BENCH_LOAD_OWNERS (owners per submitting federation, default 5000),
 * BENCH_LOAD_MAX_REQUESTS (request bound per window for downloads and predictions, 300000),
 * BENCH_LOAD_SCENARIOS (submissions,shares,downloads,predictions), BENCH_LOAD_DEPLOYMENTS
 * (sqlite-1,postgres-1,postgres-2), BENCH_LOAD_PG_URL (the PostgreSQL server's admin URL on 127.0.0.1),
 * BENCH_LOAD_CPU_PROF_DIR (each server writes a V8 CPU profile there on exit).
 */
import os from 'node:os';
import path from 'node:path';
import { mapWithConcurrency } from '../src/client/concurrency.js';
import { FedscoreClient, type RoundView } from '../src/client/http-client.js';
import { readCsvFile, readSchemaFile } from '../src/client/local-data.js';
import { buildShareUpload } from '../src/client/secure-shares.js';
import { generateX25519KeyPair } from '../src/crypto/envelope.js';
import { generateIdentityKeyPair, signCommitteeKey } from '../src/crypto/identity.js';
import { repoRoot, round3, sharedData, writeResult, type Table } from './bench-io.js';
import { federationBody } from './crx-federation.js';
import { runLoad, type LoadReport, type LoadRequest } from './support/load-generator.js';
import { programCpuSeconds } from './support/process-cpu.js';
import { scrape, startDeployment, watchPostgres, type DatabaseKind, type Deployment, type InstanceSample, type PostgresActivity } from './support/load-servers.js';

const SCENARIO_NAMES = ['submissions', 'shares', 'downloads', 'predictions'] as const;
type ScenarioName = (typeof SCENARIO_NAMES)[number];
const DEPLOYMENT_NAMES = ['sqlite-1', 'postgres-1', 'postgres-2'] as const;
type DeploymentName = (typeof DEPLOYMENT_NAMES)[number];

const SCENARIO_LABELS: Record<ScenarioName, string> = {
  submissions: 'plain submissions',
  shares: 'share uploads (secure, k = 5, t = 3)',
  downloads: 'model downloads',
  predictions: 'plain predictions (1 record)',
};

function positive(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`load bench: expected a positive number in ${name}, got ${JSON.stringify(text)}`);
  return value;
}

function listed<T extends string>(name: string, known: readonly T[]): T[] {
  const text = process.env[name];
  if (text === undefined || text.trim() === '') return [...known];
  const wanted = text.split(',').map((item) => item.trim()).filter((item) => item !== '');
  const unknown = wanted.filter((item) => !(known as readonly string[]).includes(item));
  if (unknown.length > 0) throw new Error(`load bench: ${name}: unknown ${unknown.join(', ')}; known: ${known.join(', ')}`);
  return known.filter((item) => wanted.includes(item));
}

const SECONDS = positive('BENCH_LOAD_SECONDS', 10);
const WARMUP_SECONDS = positive('BENCH_LOAD_WARMUP_SECONDS', 2);
const CONNECTIONS = Math.round(positive('BENCH_LOAD_CONNECTIONS', 32));
const OWNERS = Math.round(positive('BENCH_LOAD_OWNERS', 5000));
const MAX_REQUESTS = Math.round(positive('BENCH_LOAD_MAX_REQUESTS', 300_000));
/** Setup traffic (enrolment, keying): enough to keep the servers busy, outside the measured window. */
const SETUP_CONCURRENCY = 32;
/** The warm-up of a submitting scenario spends at most this share of its owners. */
const WARMUP_OWNER_SHARE = 0.1;

interface Scenario {
  name: ScenarioName;
  /** For the per-route figures in /metrics. */
  method: 'GET' | 'POST';
  route: string;
  /** How many requests the warm-up and the window may send. */
  warmupLimit: number;
  windowLimit: number;
  next(): LoadRequest | undefined;
  /** After the window: the server agrees with the generator's count of 2xx answers (warm-up included). */
  verify(answered: number): Promise<void>;
}

interface Row {
  deployment: DeploymentName;
  database: DatabaseKind;
  instances: number;
  scenario: ScenarioName;
  connections: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  non2xx: number;
  errors: number;
  stoppedBy: LoadReport['stoppedBy'];
  /** Mean time the server(s) spent on the route, from their own /metrics histogram. */
  serverMeanMs: number;
  /** CPU the server process(es) used per answered request, and as a share of one core over the window. */
  serverCpuMsPerRequest: number;
  serverCpuCores: number;
  /** The load generator's own CPU, as a share of one core. */
  generatorCpuCores: number;
  /** PostgreSQL's CPU (every postgres process on the machine), as a share of one core; 0 on SQLite. */
  postgresCpuCores: number;
  /** All cores of the machine busy (everyone's work, the database's included), 0–1. */
  machineBusy: number;
  eventLoopLagP99Ms: number;
  warmupRequests: number;
  /** PostgreSQL: mean sessions running, waiting for a lock, or idle inside a transaction during the window. */
  postgres?: PostgresActivity;
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const bearer = (apiKey: string) => ({ authorization: `Bearer ${apiKey}`, accept: 'application/json' });
const jsonHeaders = (apiKey: string) => ({ ...bearer(apiKey), 'content-type': 'application/json' });

/** One operator client per instance, so setup traffic is spread like the load. */
function operators(deployment: Deployment): FedscoreClient[] {
  return deployment.urls.map((url) => new FedscoreClient({ baseUrl: url, apiKey: deployment.adminKey, timeoutMs: 120_000 }));
}

interface Enrolled {
  id: string;
  apiKey: string;
}

async function enrol(ops: FedscoreClient[], federationId: string, enrolmentToken: string, count: number, prefix: string): Promise<Enrolled[]> {
  return mapWithConcurrency(Array.from({ length: count }, (_, i) => i), SETUP_CONCURRENCY, async (i) => {
    const { owner, apiKey } = await ops[i % ops.length]!.enrolOwner(federationId, { enrolmentToken, name: `${prefix}-${i}` });
    return { id: owner.id, apiKey };
  });
}

/** Hands out requests from a precomputed list, once each. */
function fromList(requests: LoadRequest[]): () => LoadRequest | undefined {
  let next = 0;
  return () => requests[next++];
}

/** Cycles through a precomputed list forever (reads may repeat). */
function cycling(requests: LoadRequest[]): () => LoadRequest {
  let next = 0;
  return () => requests[next++ % requests.length]!;
}

/** Round 1 must still be open and hold exactly the accepted submissions: each was a plain insert. */
async function expectOpenRound(operator: FedscoreClient, federationId: string, expected: number, what: string): Promise<void> {
  const round = await operator.getRound(federationId, 1);
  if (round.status !== 'open' || round.submissionCount !== expected) {
    throw new Error(`load bench: ${what}: expected round 1 open with ${expected} submissions, got ${round.status} with ${round.submissionCount}`);
  }
}

async function plainSubmissions(ops: FedscoreClient[]): Promise<Scenario> {
  const operator = ops[0]!;
  const { federation, enrolmentToken } = await operator.createFederation(await federationBody(OWNERS + 1));
  const owners = await enrol(ops, federation.id, enrolmentToken, OWNERS, 'load');
  await operator.openRound(federation.id, {});
  const base = (await operator.getModelWeights(federation.id, 0)).weights;
  const path = `/v1/federations/${federation.id}/rounds/1/updates`;
  const requests = owners.map((owner, i) => ({
    method: 'POST' as const,
    path,
    headers: jsonHeaders(owner.apiKey),
    body: json({ weights: base.map((w, j) => w + ((i * 31 + j) % 17) / 1000), numSamples: 1, metrics: { loss: 0.5 } }),
  }));
  return {
    name: 'submissions',
    method: 'POST',
    route: '/v1/federations/:federationId/rounds/:roundNumber/updates',
    warmupLimit: Math.floor(OWNERS * WARMUP_OWNER_SHARE),
    windowLimit: OWNERS,
    next: fromList(requests),
    verify: (answered) => expectOpenRound(operator, federation.id, answered, 'plain submissions'),
  };
}

async function secureShareUploads(ops: FedscoreClient[]): Promise<Scenario> {
  const operator = ops[0]!;
  const committee = { size: 5, threshold: 3 };
  const { federation, enrolmentToken } = await operator.createFederation({
    ...(await federationBody(OWNERS + 1)),
    aggregation: 'secure',
    secure: { committee, clipNorm: 100 },
  });
  // Exactly `size` volunteers, so the lottery seats all of them; they sum, the others upload.
  const members = await enrol(ops, federation.id, enrolmentToken, committee.size, 'member');
  const identities = new Map(
    await Promise.all(
      members.map(async (member) => {
        const identity = generateIdentityKeyPair();
        await operator.withApiKey(member.apiKey).registerIdentity(federation.id, member.id, { identityKey: Buffer.from(identity.publicKey).toString('base64'), committeeVolunteer: true });
        return [member.id, { member, identity }] as const;
      }),
    ),
  );
  const owners = await enrol(ops, federation.id, enrolmentToken, OWNERS, 'load');
  const opened = await operator.openRound(federation.id, {});
  for (const seat of opened.secure!.committee) {
    const { member, identity } = identities.get(seat.ownerId)!;
    const roundKey = generateX25519KeyPair();
    const statement = { federationId: federation.id, roundNumber: opened.number, position: seat.position, memberId: member.id, publicKey: roundKey.publicKey };
    await operator.withApiKey(member.apiKey).publishCommitteeKey(federation.id, opened.number, {
      publicKey: Buffer.from(roundKey.publicKey).toString('base64'),
      signature: Buffer.from(signCommitteeKey(statement, identity)).toString('base64'),
    });
  }
  const round: RoundView = await operator.withApiKey(owners[0]!.apiKey).getRound(federation.id, opened.number);
  const base = Float32Array.from((await operator.getModelWeights(federation.id, 0)).weights);
  const path = `/v1/federations/${federation.id}/rounds/${round.number}/shares`;
  // What each owner's SDK would send: its update clipped, encoded, split and sealed to the 5 members.
  const requests = owners.map((owner, i) => {
    const trained = base.map((w, j) => w + ((i * 31 + j) % 17) / 1000);
    const upload = buildShareUpload({ federationId: federation.id, ownerId: owner.id, round, base, trained, numSamples: 1 });
    return { method: 'POST' as const, path, headers: jsonHeaders(owner.apiKey), body: json(upload.body) };
  });
  return {
    name: 'shares',
    method: 'POST',
    route: '/v1/federations/:federationId/rounds/:roundNumber/shares',
    warmupLimit: Math.floor(OWNERS * WARMUP_OWNER_SHARE),
    windowLimit: OWNERS,
    next: fromList(requests),
    verify: (answered) => expectOpenRound(operator, federation.id, answered, 'share uploads'),
  };
}

/** A federation with a model to read: owners download version 0's weights; a lender scores one record. */
async function readers(ops: FedscoreClient[]): Promise<{ downloads: Scenario; predictions: Scenario }> {
  const operator = ops[0]!;
  const { federation, enrolmentToken } = await operator.createFederation(await federationBody(2));
  const owners = await enrol(ops, federation.id, enrolmentToken, 100, 'reader');
  const lender = await operator.issueApiKey(federation.id, { label: 'load bench lender', scopes: ['predict'] });
  const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const { records } = await readCsvFile(path.join(sharedData, 'crx.data'), schema);
  const record = { ...records[0]! };
  delete record[schema.label.column];
  // Through the SDK once, so a response that breaks the contract fails here rather than passing as 2xx.
  const scored = await operator.withApiKey(lender.apiKey).predict(federation.id, { records: [record] });
  const weights = await operator.withApiKey(owners[0]!.apiKey).getModelWeights(federation.id, scored.modelVersion);
  const weightsPath = `/v1/federations/${federation.id}/models/${weights.version}/weights`;
  const downloads = cycling(owners.map((owner) => ({ method: 'GET' as const, path: weightsPath, headers: bearer(owner.apiKey) })));
  const predictBody = json({ records: [record] });
  const predictPath = `/v1/federations/${federation.id}/predictions`;
  const predictions = cycling([{ method: 'POST', path: predictPath, headers: jsonHeaders(lender.apiKey), body: predictBody }]);
  const nothingToVerify = async () => {};
  return {
    downloads: {
      name: 'downloads',
      method: 'GET',
      route: '/v1/federations/:federationId/models/:version/weights',
      warmupLimit: MAX_REQUESTS,
      windowLimit: MAX_REQUESTS,
      next: downloads,
      verify: nothingToVerify,
    },
    predictions: {
      name: 'predictions',
      method: 'POST',
      route: '/v1/federations/:federationId/predictions',
      warmupLimit: MAX_REQUESTS,
      windowLimit: MAX_REQUESTS,
      next: predictions,
      verify: nothingToVerify,
    },
  };
}

function busyTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const { user, nice, sys, irq, idle } = cpu.times;
    busy += user + nice + sys + irq;
    total += user + nice + sys + irq + idle;
  }
  return { busy, total };
}

function sortedPercentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function failureMessage(scenario: Scenario, deployment: DeploymentName, report: LoadReport): string {
  const failure = report.firstFailure!;
  const what = failure.status === 0 ? 'no answer' : `HTTP ${failure.status}`;
  return `load bench: ${scenario.name} on ${deployment}: ${what} from ${failure.method} ${failure.url} after ${report.requests} answered requests (${report.non2xx} non-2xx, ${report.errors} without an answer):\n${failure.body}`;
}

async function measure(deploymentName: DeploymentName, deployment: Deployment, scenario: Scenario): Promise<Row> {
  const load = (seconds: number, maxRequests: number) =>
    runLoad({ urls: deployment.urls, connections: CONNECTIONS, seconds, maxRequests: Math.max(1, maxRequests), next: scenario.next });
  const warmup = await load(WARMUP_SECONDS, scenario.warmupLimit);
  if (warmup.firstFailure) throw new Error(failureMessage(scenario, deploymentName, warmup));

  const before = await scrape(deployment, scenario.method, scenario.route);
  const machineBefore = busyTimes();
  const stopWatching = deployment.postgres ? await watchPostgres(deployment) : undefined;
  const generatorBefore = process.cpuUsage();
  const postgresBefore = deployment.postgres ? programCpuSeconds('postgres') : 0;
  const report = await load(SECONDS, scenario.windowLimit);
  const generator = process.cpuUsage(generatorBefore);
  const postgresCpu = deployment.postgres ? programCpuSeconds('postgres') - postgresBefore : 0;
  const postgres = await stopWatching?.();
  const machineAfter = busyTimes();
  const after = await scrape(deployment, scenario.method, scenario.route);
  if (report.firstFailure) throw new Error(failureMessage(scenario, deploymentName, report));
  await scenario.verify(warmup.requests + report.requests);

  const sum = (samples: InstanceSample[], pick: (s: InstanceSample) => number) => samples.reduce((total, s) => total + pick(s), 0);
  const serverCpu = sum(after, (s) => s.cpuSeconds) - sum(before, (s) => s.cpuSeconds);
  const routeSeconds = sum(after, (s) => s.routeSeconds) - sum(before, (s) => s.routeSeconds);
  const routeCount = sum(after, (s) => s.routeCount) - sum(before, (s) => s.routeCount);
  const sorted = Float64Array.from(report.latencies).sort();
  const row: Row = {
    deployment: deploymentName,
    database: deployment.database,
    instances: deployment.instances.length,
    scenario: scenario.name,
    connections: CONNECTIONS,
    requests: report.requests,
    seconds: round3(report.seconds),
    requestsPerSecond: round3(report.requests / report.seconds),
    p50Ms: round3(sortedPercentile(sorted, 50)),
    p90Ms: round3(sortedPercentile(sorted, 90)),
    p99Ms: round3(sortedPercentile(sorted, 99)),
    maxMs: round3(sorted.at(-1) ?? NaN),
    non2xx: report.non2xx,
    errors: report.errors,
    stoppedBy: report.stoppedBy,
    serverMeanMs: round3(routeCount > 0 ? (routeSeconds / routeCount) * 1000 : NaN),
    serverCpuMsPerRequest: round3((serverCpu * 1000) / report.requests),
    serverCpuCores: round3(serverCpu / report.seconds),
    generatorCpuCores: round3((generator.user + generator.system) / 1e6 / report.seconds),
    postgresCpuCores: round3(postgresCpu / report.seconds),
    machineBusy: round3((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)),
    eventLoopLagP99Ms: round3(Math.max(...after.map((s) => s.eventLoopLagP99Seconds)) * 1000),
    warmupRequests: warmup.requests,
    ...(postgres && { postgres: { samples: postgres.samples, active: round3(postgres.active), waitingForLock: round3(postgres.waitingForLock), idleInTransaction: round3(postgres.idleInTransaction) } }),
  };
  console.error(
    `load: ${deploymentName} ${scenario.name}: ${row.requests} in ${row.seconds} s = ${row.requestsPerSecond}/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms (stopped by ${row.stoppedBy}; server CPU ${row.serverCpuCores} cores, machine busy ${Math.round(row.machineBusy * 100)}%)`,
  );
  return row;
}

async function runDeployment(name: DeploymentName, scenarios: ScenarioName[]): Promise<{ rows: Row[]; complaints: { deployment: DeploymentName; warnings: number; lines: string[] }[] }> {
  const [database, count] = name.split('-') as [DatabaseKind, string];
  const deployment = await startDeployment(database, Number(count));
  try {
    const ops = operators(deployment);
    const setupStarted = performance.now();
    // Setup for every case first, so enrolment traffic never overlaps a measured window.
    const prepared: Scenario[] = [];
    if (scenarios.includes('submissions')) prepared.push(await plainSubmissions(ops));
    if (scenarios.includes('shares')) prepared.push(await secureShareUploads(ops));
    if (scenarios.includes('downloads') || scenarios.includes('predictions')) {
      const read = await readers(ops);
      if (scenarios.includes('downloads')) prepared.push(read.downloads);
      if (scenarios.includes('predictions')) prepared.push(read.predictions);
    }
    console.error(`load: ${name}: setup (federations, ${OWNERS} owners per submitting case, request bodies) took ${round3((performance.now() - setupStarted) / 1000)} s`);
    const rows: Row[] = [];
    for (const scenario of prepared) rows.push(await measure(name, deployment, scenario));
    return { rows, complaints: [{ deployment: name, warnings: deployment.instances.reduce((n, i) => n + i.warnings, 0), lines: deployment.instances.flatMap((i) => i.complaints) }] };
  } finally {
    await deployment.close();
  }
}

function ratioNotes(rows: Row[]): string[] {
  const notes: string[] = [];
  for (const scenario of SCENARIO_NAMES) {
    const one = rows.find((r) => r.deployment === 'postgres-1' && r.scenario === scenario);
    const two = rows.find((r) => r.deployment === 'postgres-2' && r.scenario === scenario);
    if (!one || !two) continue;
    notes.push(
      `${SCENARIO_LABELS[scenario]}: two instances on PostgreSQL answer ${round3(two.requestsPerSecond / one.requestsPerSecond)}× the requests/s of one (${two.requestsPerSecond} vs ${one.requestsPerSecond}); ` +
        `this machine's ceiling for that ratio is ${round3(scaleOutCeiling(one))}× (below).`,
    );
  }
  return notes;
}

/**
 * The most any number of instances could answer on this machine, as a multiple of one instance's rate:
 * every request costs the server s, PostgreSQL p and the generator g CPU seconds (measured with one
 * instance), and all of it shares the machine's cores, so the rate is at most cores ÷ (s + p + g); with
 * two instances, also at most twice one instance's. Above 1.6× only when the server's cost dominates.
 */
function scaleOutCeiling(one: Row): number {
  return Math.min(2, os.cpus().length / (one.serverCpuCores + one.postgresCpuCores + one.generatorCpuCores));
}

function targetNotes(rows: Row[]): string[] {
  const sqlite = (scenario: ScenarioName) => rows.find((r) => r.deployment === 'sqlite-1' && r.scenario === scenario);
  const notes: string[] = [];
  const submissions = sqlite('submissions');
  const predictions = sqlite('predictions');
  if (submissions) notes.push(`Target ≥ 1,000 plain submissions/s with p99 < 100 ms on one SQLite instance: measured ${submissions.requestsPerSecond}/s, p99 ${submissions.p99Ms} ms.`);
  if (predictions) notes.push(`Target ≥ 3,000 plain predictions/s with p99 < 100 ms on one SQLite instance: measured ${predictions.requestsPerSecond}/s, p99 ${predictions.p99Ms} ms.`);
  if (rows.some((r) => r.deployment === 'postgres-2')) notes.push('Target: two instances on PostgreSQL ≥ 1.6× one instance on PostgreSQL (ratios above).');
  return notes;
}

export async function loadBench(): Promise<void> {
  const scenarios = listed('BENCH_LOAD_SCENARIOS', SCENARIO_NAMES);
  const deployments = listed('BENCH_LOAD_DEPLOYMENTS', DEPLOYMENT_NAMES);
  const rows: Row[] = [];
  const complaints: { deployment: DeploymentName; warnings: number; lines: string[] }[] = [];
  for (const name of deployments) {
    const result = await runDeployment(name, scenarios);
    rows.push(...result.rows);
    complaints.push(...result.complaints);
  }
  const settings = { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, connections: CONNECTIONS, ownersPerSubmittingCase: OWNERS, maxRequests: MAX_REQUESTS, scenarios, deployments };
  const pgCell = (r: Row, pick: (a: PostgresActivity) => number) => (r.postgres ? pick(r.postgres) : '-');
  const tables: Table[] = [
    {
      title: `Requests per second and latency: ${CONNECTIONS} keep-alive connections, ${SECONDS} s windows, servers in their own processes`,
      columns: ['deployment', 'case', 'requests', 'seconds', 'requests / s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-2xx'],
      rows: rows.map((r) => [r.deployment, SCENARIO_LABELS[r.scenario], r.requests, r.seconds, r.requestsPerSecond, r.p50Ms, r.p90Ms, r.p99Ms, r.maxMs, r.non2xx]),
      notes: [
        ...ratioNotes(rows),
        ...targetNotes(rows),
        `Deployments: sqlite-1 = one \`fedscore serve\` on a fresh SQLite file; postgres-1 / postgres-2 = one / two instances on one fresh PostgreSQL database on 127.0.0.1, the connections split evenly between them. Each runs the compiled CLI with rate limits off and LOG_LEVEL=warn, on the same ${os.cpus().length} cores as the load generator and PostgreSQL.`,
        `Closed loop: each connection sends its next request when the previous answer has arrived. Submissions and share uploads: each request is a different enrolled owner's only update of an open round (${OWNERS} owners per case; a window ends early if they run out); downloads: GET version 0's weights with one of 100 owners' keys; predictions: POST one crx record with a lender's key (predict scope). A ${WARMUP_SECONDS} s warm-up precedes each window.`,
      ],
    },
    {
      title: 'Where the time goes, same windows',
      columns: ['deployment', 'case', 'server mean ms', 'server CPU ms / request', 'server CPU (cores)', 'PostgreSQL CPU (cores)', 'generator CPU (cores)', 'machine busy', 'event-loop lag p99 ms', 'PG active', 'PG waiting for a lock', 'PG idle in transaction'],
      rows: rows.map((r) => [
        r.deployment,
        SCENARIO_LABELS[r.scenario],
        r.serverMeanMs,
        r.serverCpuMsPerRequest,
        r.serverCpuCores,
        r.postgres ? r.postgresCpuCores : '-',
        r.generatorCpuCores,
        `${Math.round(r.machineBusy * 100)}%`,
        r.eventLoopLagP99Ms,
        pgCell(r, (a) => a.active),
        pgCell(r, (a) => a.waitingForLock),
        pgCell(r, (a) => a.idleInTransaction),
      ]),
      notes: [
        "Server mean ms: the servers' own mean time for the route, from receiving the request to sending the answer (their /metrics histogram); the gap to the clients' latency is time queued before the server reads the request. Server CPU: the server processes' process_cpu_seconds_total over the window, all instances together; event-loop lag: the worst instance's p99.",
        "Machine busy: all cores, everyone's work included (PostgreSQL, the load generator, and whatever else shared the machine). PostgreSQL CPU: every postgres process's user + system time over the window, from /proc.",
        `Scale-out ceiling: with one instance each request costs the server, PostgreSQL and the generator CPU time that all shares these ${os.cpus().length} cores, so no number of instances can answer more than ${os.cpus().length} ÷ (their cores in use with one instance) times one instance's rate — the ceiling quoted above. Reaching 1.6× needs that sum at or below ${round3(os.cpus().length / 1.6)} cores, i.e. PostgreSQL and the generator together at most a quarter of the server's own cost once the instance fills its core.`,
        'PG columns: mean number of the instances\' database sessions running a statement, running but waiting for a lock (row locks included), and idle inside an open transaction (waiting for the server process), sampled from pg_stat_activity every 200 ms.',
        ...complaints.filter((c) => c.warnings > 0).map((c) => `${c.deployment}: the servers logged ${c.warnings} line(s) at warn or above (see load.json).`),
      ],
    },
  ];
  await writeResult('load', { settings, runs: rows, serverComplaints: complaints }, tables);
}
