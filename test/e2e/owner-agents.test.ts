/**
 * A federation as real parties run it: `fedscore serve` in one process, the operator's commands in others,
 * and every data owner and the aggregator node as its own `fedscore owner run` process with its own state
 * directory and its own slice of the crx training rows. Also: agents killed mid-round and restarted, and
 * the mistakes a new user makes — each a clear message and nothing sent that should not be.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FedscoreApiError, FedscoreClient, type RoundView } from '../../src/client/http-client.js';
import { generateX25519KeyPair } from '../../src/crypto/envelope.js';
import { signCommitteeKey } from '../../src/crypto/identity.js';
import { applySplit, encodeRows, evaluate, readCsvFile, readSchemaFile, readSplitFile, type EncodedRows } from '../../src/client/local-data.js';
import { ownerSeed } from '../../src/client/simulation.js';
import { formatCsv } from '../../src/cli/process-fleet.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import type { DatasetSchema, RawRecord } from '../../src/ml/dataset-schema.js';
import { initTf } from '../../src/ml/tf.js';
import { repoRoot, sharedData } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import { lastJsonLine, runCli, startCli, type CliProcess } from '../helpers/processes.js';

const adminKey = `fso_e2e-${randomBytes(18).toString('base64url')}`;
const SEED = 7;
let scratch: string;
let server: CliProcess;
let url: string;
let operator: FedscoreClient;
let database: Database;
let cleanupDatabase: () => Promise<void>;
let schema: DatasetSchema;
let slices: RawRecord[][];
let test: EncodedRows;
/** Every process this file started, so the no-secrets check reads all of their output. */
const processes: CliProcess[] = [];

before(async () => {
  await initTf('cpu');
  scratch = await mkdtemp(path.join(tmpdir(), 'fedscore-agents-'));
  const target = await createTestDatabase();
  cleanupDatabase = target.cleanup;
  server = track(
    startCli(['serve'], { PORT: '0', HOST: '127.0.0.1', DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', ADMIN_API_KEY: adminKey, LOG_LEVEL: 'info' }),
  );
  url = /listening on (\S+)/.exec(await server.waitForLine(/listening on http/))![1]!;
  operator = new FedscoreClient({ baseUrl: url, apiKey: adminKey });
  database = await openDatabase({ databaseUrl: target.databaseUrl ?? '', dataDir: target.dataDir });

  // The crx training rows dealt round-robin to four owners, as `simulate --owners 4` deals them.
  schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const all = await readCsvFile(path.join(sharedData, 'crx.data'), schema);
  const parts = applySplit(all, await readSplitFile(path.join(sharedData, 'crx.split.json')));
  const kept = encodeRows(schema, parts.train).lineNumbers;
  const byLine = new Map(all.lineNumbers.map((line, i) => [line, all.records[i]!] as const));
  slices = [[], [], [], []];
  kept.forEach((line, i) => slices[i % 4]!.push(byLine.get(line)!));
  test = encodeRows(schema, parts.test!);
});

after(async () => {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await database?.close();
  server?.child.kill('SIGTERM');
  await server?.exited;
  await cleanupDatabase?.();
  await rm(scratch, { recursive: true, force: true });
});

function track(p: CliProcess): CliProcess {
  processes.push(p);
  return p;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const p = track(startCli(args, { FEDSCORE_SERVER: url, FEDSCORE_API_KEY: adminKey, ...env }));
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

interface Party {
  name: string;
  state: string;
  data?: string;
  ownerId: string;
}

/** A secure federation (committee 3, threshold 2) from the CLI; four owners with a slice each and one aggregator node enrolled. */
async function secureFederation(label: string, rounds: number, options: { offCommittee?: number[] } = {}): Promise<{ federationId: string; owners: Party[]; aggregator: Party; token: string }> {
  const created = await cli([
    'operator', 'federation', 'create', '--schema', path.join(repoRoot, 'schemas', 'crx.json'), '--name', label,
    '--aggregation', 'secure', '--committee', '3', '--threshold', '2', '--rounds', String(rounds), '--min-owners', '4',
    '--local-epochs', '5', '--learning-rate', '0.1', '--batch-size', '32', '--seed', String(SEED), '--json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const { federationId, enrolmentToken, charterFingerprint } = lastJsonLine<{ federationId: string; enrolmentToken: string; charterFingerprint: string }>(created.stdout);
  const enrol = async (name: string, extra: string[], data?: RawRecord[]): Promise<Party> => {
    const state = path.join(scratch, `${label}-${name}`);
    const result = await cli(['owner', 'enrol', '--federation', federationId, '--charter-fingerprint', charterFingerprint, '--state', state, '--name', name, '--json', ...extra], { FEDSCORE_ENROLMENT_TOKEN: enrolmentToken });
    assert.equal(result.code, 0, result.stderr);
    let file: string | undefined;
    if (data) await writeFile((file = path.join(scratch, `${label}-${name}.csv`)), formatCsv(schema, data));
    return { name, state, ...(file && { data: file }), ownerId: lastJsonLine<{ ownerId: string }>(result.stdout).ownerId };
  };
  const owners = await Promise.all(slices.map((rows, i) => enrol(`owner-${i + 1}`, options.offCommittee?.includes(i) ? ['--no-committee'] : [], rows)));
  const aggregator = await enrol('aggregator', ['--aggregator']);
  return { federationId, owners, aggregator, token: enrolmentToken };
}

function runAgent(party: Party, index: number): CliProcess {
  const args = ['owner', 'run', '--state', party.state, '--json', '--wait-seconds', '5'];
  if (party.data) args.push('--data', party.data, '--seed', String(ownerSeed(SEED, index)));
  return track(startCli(args));
}

async function round(federationId: string, number: number): Promise<RoundView> {
  return operator.getRound(federationId, number);
}

/** Waits (through the server's long poll) until the federation's current round satisfies `done`. */
async function until(federationId: string, done: (round: RoundView) => boolean): Promise<RoundView> {
  let after = 'none';
  for (;;) {
    const current = await operator.waitForRound(federationId, after, 5);
    if (current && done(current)) return current;
    after = current?.tag ?? 'none';
  }
}

describe('a secure federation run by separate processes', () => {
  it('publishes every planned round, scores as `fedscore simulate` does on the same slices and seed, and prints no key', async () => {
    const rounds = 3;
    const { federationId, owners, aggregator, token } = await secureFederation('main', rounds);
    assert.equal((await cli(['operator', 'round', 'open', '--federation', federationId])).code, 0);
    const agents = [...owners.map((party, i) => runAgent(party, i)), runAgent(aggregator, -1)];
    const codes = await Promise.all(agents.map((agent) => agent.exited));
    assert.deepEqual(codes, [0, 0, 0, 0, 0], agents.map((a) => a.stderr()).join('\n'));

    const summaries = agents.map((agent) => lastJsonLine<{ submitted: number[]; committee: number[]; stoppedBy: string }>(agent.stdout()));
    for (const summary of summaries.slice(0, 4)) assert.deepEqual([summary.submitted, summary.stoppedBy], [[1, 2, 3], 'planned-rounds-over']);
    assert.deepEqual(summaries[4]!.submitted, [], 'the aggregator node submits nothing');
    const listed = await operator.listRounds(federationId);
    assert.deepEqual(listed.map((r) => [r.number, r.status, r.modelVersion, r.secure!.includedCount]), [[1, 'closed', 1, 4], [2, 'closed', 2, 4], [3, 'closed', 3, 4]]);
    for (const r of listed) {
      const summed = summaries.filter((s) => s.committee.includes(r.number)).length;
      assert.equal(summed, r.secure!.partialSumCount, `round ${r.number}: the partial sums on record are the ones the agents report`);
      assert.ok(summed >= 2);
    }

    const weights = Float32Array.from((await operator.getModelWeights(federationId, rounds)).weights);
    const agentsScore = evaluate({ kind: 'logreg' }, weights, test.X, test.y);
    const simulated = await runCli([
      'simulate', '--data', path.join(sharedData, 'crx.data'), '--schema', path.join(repoRoot, 'schemas', 'crx.json'), '--split', path.join(sharedData, 'crx.split.json'),
      '--owners', '4', '--rounds', String(rounds), '--mode', 'secure', '--committee', '3', '--threshold', '2', '--epochs', '5', '--lr', '0.1', '--batch-size', '32', '--seed', String(SEED), '--json',
    ]);
    assert.equal(simulated.code, 0, simulated.stderr);
    const { final } = lastJsonLine<{ final: { accuracy: number; auc: number } }>(simulated.stdout);
    assert.ok(Math.abs(agentsScore.accuracy - final.accuracy) <= 0.01, `agents ${agentsScore.accuracy} vs simulate ${final.accuracy}`);
    assert.ok(Math.abs(agentsScore.auc - final.auc) <= 0.01, `agents AUC ${agentsScore.auc} vs simulate ${final.auc}`);

    // Keys live in the state files and nowhere else: not in any line any process printed or logged.
    const secrets = [adminKey];
    for (const party of [...owners, aggregator]) {
      const identity = JSON.parse(await readFile(path.join(party.state, 'owner.json'), 'utf8')) as { apiKey: string; identity: { privateKey: string } | null };
      secrets.push(identity.apiKey);
      if (identity.identity) secrets.push(identity.identity.privateKey, Buffer.from(identity.identity.privateKey, 'base64').toString('hex'), Buffer.from(identity.identity.privateKey, 'base64').toString('base64url'));
      // Round keys are deleted once their partial sum is in: none is left behind.
      assert.deepEqual((await readdir(party.state)).filter((name) => name.startsWith('round-key-')), [], 'no round key left in the state directory');
      assert.equal(((await stat(path.join(party.state, 'owner.json'))).mode & 0o777).toString(8), '600');
    }
    assert.ok(server.lines.length > 50, 'the server logged its requests');
    const everything = processes.flatMap((p) => p.lines.map((line) => line.text));
    for (const secret of secrets) assert.equal(everything.filter((line) => line.includes(secret)).length, 0, 'a key appeared in a log or output line');
    // The enrolment token is shown once, to the operator who created the federation, and nowhere else.
    assert.equal(everything.filter((line) => line.includes(token)).length, 1);
  });
});

describe('fedscore simulate --processes', () => {
  it('runs every owner as its own `fedscore owner run` process and trains exactly as the in-process run does', async () => {
    const args = [
      'simulate', '--data', path.join(sharedData, 'crx.data'), '--schema', path.join(repoRoot, 'schemas', 'crx.json'), '--split', path.join(sharedData, 'crx.split.json'),
      '--owners', '3', '--rounds', '2', '--epochs', '2', '--lr', '0.1', '--seed', '5', '--json',
    ];
    const [separate, together] = await Promise.all([runCli([...args, '--processes']), runCli(args)]);
    assert.equal(separate.code, 0, separate.stderr);
    assert.equal(together.code, 0, together.stderr);
    type Report = { final: { accuracy: number; auc: number; logLoss: number }; rounds: { owners: number }[] };
    const a = lastJsonLine<Report>(separate.stdout);
    const b = lastJsonLine<Report>(together.stdout);
    assert.deepEqual(a.rounds.map((r) => r.owners), [3, 3]);
    assert.deepEqual(a.final, b.final, 'same shards, same seeds, same model');
    const refused = await runCli([...args.slice(0, 7), '--owners', '40', '--processes']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--processes: at most 32 owner processes, got 40 owners/);
  });

  it('with --statistics federated, owner processes compute the means and stds first, exactly as in-process owners do', async () => {
    const args = [
      'simulate', '--data', path.join(sharedData, 'crx.data'), '--schema', path.join(repoRoot, 'schemas', 'crx.json'), '--split', path.join(sharedData, 'crx.split.json'),
      '--owners', '3', '--rounds', '2', '--epochs', '2', '--lr', '0.1', '--seed', '5', '--statistics', 'federated', '--mode', 'secure', '--committee', '3', '--threshold', '2', '--json',
    ];
    const [separate, together] = await Promise.all([runCli([...args, '--processes']), runCli(args)]);
    assert.equal(separate.code, 0, separate.stderr);
    assert.equal(together.code, 0, together.stderr);
    type Report = { final: { accuracy: number; auc: number }; rounds: { round: number; owners: number }[]; statistics: { source: string; round: number; owners: number; columns: Record<string, { mean: number }> } };
    const a = lastJsonLine<Report>(separate.stdout);
    const b = lastJsonLine<Report>(together.stdout);
    assert.deepEqual([a.statistics.source, a.statistics.round, a.statistics.owners], ['federated', 1, 3]);
    assert.deepEqual(a.rounds.map((r) => [r.round, r.owners]), [[2, 3], [3, 3]]);
    // Secure sums carry fresh fixed-point rounding, so the figures agree to that precision, not bit for bit.
    for (const [name, column] of Object.entries(b.statistics.columns)) assert.ok(Math.abs(a.statistics.columns[name]!.mean - column.mean) < 1e-3 * Math.max(1, Math.abs(column.mean)), name);
    assert.ok(Math.abs(a.final.auc - b.final.auc) < 0.005, `AUC ${a.final.auc} vs ${b.final.auc}`);
  });
});

describe('agents that die and come back', () => {
  it('an owner SIGKILLed after submitting, mid-round, resumes without submitting again', async () => {
    // The fourth owner starts late, so round 1 is still open when the first one is killed; it does not
    // volunteer, so the committee (which must publish its keys before anyone shares) is running from the start.
    const { federationId, owners, aggregator } = await secureFederation('killed-owner', 2, { offCommittee: [3] });
    await cli(['operator', 'round', 'open', '--federation', federationId]);
    const [victim, ...others] = owners.slice(0, 3).map((party, i) => runAgent(party, i));
    const node = runAgent(aggregator, -1);
    await victim!.waitForLine(/^round 1: submitted/);
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    assert.equal((await round(federationId, 1)).status, 'open');
    const restarted = runAgent(owners[0]!, 0);
    await restarted.waitForLine(/waiting for rounds/);
    const last = runAgent(owners[3]!, 3);
    assert.deepEqual(await Promise.all([restarted, last, node, ...others].map((a) => a.exited)), [0, 0, 0, 0, 0]);

    // One upload from the victim in round 1 (three envelopes), and it took part in round 2 as usual.
    const envelopes = await database.prisma.shareEnvelope.count({ where: { senderId: owners[0]!.ownerId, round: { federationId, number: 1 } } });
    assert.equal(envelopes, 3);
    assert.deepEqual(lastJsonLine<{ submitted: number[] }>(restarted.stdout()).submitted, [1, 2]);
    assert.doesNotMatch(restarted.stdout(), /round 1: submitted/, 'the restarted agent did not send round 1 again');
    const journal = (await readFile(path.join(owners[0]!.state, 'journal.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { event: string; round: number });
    const ownUpdate = journal.filter((e) => e.round === 1 && (e.event === 'trained' || e.event === 'submitted'));
    assert.deepEqual(ownUpdate.map((e) => e.event), ['trained', 'submitted'], 'trained once, submitted once');
    assert.deepEqual((await operator.listRounds(federationId)).map((r) => r.status), ['closed', 'closed']);
  });

  it('a committee member SIGKILLed after the round froze still delivers its partial sum when restarted', async () => {
    const { federationId, owners, aggregator } = await secureFederation('killed-member', 2);
    await cli(['operator', 'round', 'open', '--federation', federationId]);
    const seats = (await round(federationId, 1)).secure!.committee.map((seat) => seat.ownerId);
    const parties = [...owners, aggregator];
    // Hold back one data owner off the committee: round 1 cannot freeze until it submits.
    const late = owners.find((party) => !seats.includes(party.ownerId))!;
    const running = new Map(parties.filter((p) => p !== late).map((party) => [party.ownerId, runAgent(party, owners.indexOf(party))] as const));
    for (const [ownerId, agent] of running) {
      await agent.waitForLine(ownerId === aggregator.ownerId ? /waiting for committee duty/ : /^round 1: submitted/);
    }
    // Members are paused before the freeze, so none can have summed; then the late owner freezes the round.
    const members = seats.map((id) => running.get(id)!);
    for (const member of members) member.child.kill('SIGSTOP');
    const lateAgent = runAgent(late, owners.indexOf(late));
    await until(federationId, (r) => r.number === 1 && r.status === 'summing');
    const [victim, first, paused] = members;
    const victimParty = parties.find((p) => p.ownerId === seats[0])!;
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    first!.child.kill('SIGCONT');
    await first!.waitForLine(/^round 1: committee seat \d+: partial sum .* uploaded/);
    assert.equal((await round(federationId, 1)).status, 'summing', 'one partial sum of the two needed');
    const restarted = runAgent(victimParty, owners.indexOf(victimParty));
    await restarted.waitForLine(/^round 1: committee seat \d+: partial sum .* uploaded/);
    assert.equal((await round(federationId, 1)).status, 'closed');
    paused!.child.kill('SIGCONT');
    const codes = await Promise.all([restarted, first!, paused!, lateAgent, ...[...running.values()].filter((a) => !members.includes(a))].map((a) => a.exited));
    assert.deepEqual(codes, [0, 0, 0, 0, 0]);
    const sums = await database.prisma.partialSum.findMany({ where: { round: { federationId, number: 1 } }, select: { memberId: true } });
    assert.deepEqual(sums.map((s) => s.memberId).sort(), [seats[0]!, seats[1]!].sort(), 'the restarted member’s sum and the first one’s; the paused one came too late');
    assert.deepEqual((await operator.listRounds(federationId)).map((r) => r.status), ['closed', 'closed']);
  });
});

describe('a new user’s mistakes', () => {
  it('a wrong token, an unreachable server, a used state directory: clear messages, nothing written', async () => {
    const { federationId } = await secureFederation('mistakes', 1);
    const wrong = await cli(['owner', 'enrol', '--federation', federationId, '--state', path.join(scratch, 'wrong-token'), '--token', 'fse_not-the-token']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /401 .*enrolment token is not valid/);
    await assert.rejects(stat(path.join(scratch, 'wrong-token', 'owner.json')), /ENOENT/);

    const closedPort = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await runCli(['owner', 'enrol', '--server', closedPort, '--federation', federationId, '--token', 'fse_x', '--state', path.join(scratch, 'nowhere'), '--give-up-after', '1']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, new RegExp(`cannot reach ${closedPort}.*connection refused.*retrying in`));
    assert.match(unreachable.stderr, /gave up after retrying for 1 s/);
    assert.doesNotMatch(unreachable.stderr, /fetch failed|ECONNREFUSED\b(?! )|at .*\.ts:\d+/);

    // An agent whose server has gone: retries, then says so and exits 1, its state untouched.
    const stranded = path.join(scratch, 'stranded');
    const identity = JSON.parse(await readFile(path.join(scratch, 'mistakes-owner-1', 'owner.json'), 'utf8')) as Record<string, unknown>;
    await mkdir(stranded, { mode: 0o700 });
    await writeFile(path.join(stranded, 'owner.json'), JSON.stringify({ ...identity, server: closedPort }), { mode: 0o600 });
    const gone = await runCli(['owner', 'run', '--state', stranded, '--data', path.join(scratch, 'mistakes-owner-1.csv'), '--give-up-after', '1']);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`cannot reach ${closedPort}/v1/federations/${federationId} \\(GET\\): connection refused.*gave up after retrying for 1 s`));
    await assert.rejects(stat(path.join(stranded, 'journal.jsonl')), /ENOENT/);
    await assert.rejects(stat(path.join(stranded, 'agent.lock')), /ENOENT/, 'the lock is released on the way out');

    // --server overrides the stored address (a proxy, a new host name); the pinned charter still decides whom to trust.
    const elsewhere = await runCli(['owner', 'run', '--state', path.join(scratch, 'mistakes-owner-1'), '--data', path.join(scratch, 'mistakes-owner-1.csv'), '--server', closedPort, '--give-up-after', '1']);
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, new RegExp(`cannot reach ${closedPort}/v1/federations/${federationId} \\(GET\\)`));

    // A charter fingerprint that is not the federation's: refused before anything is sent or written.
    const owners = (await operator.listOwners(federationId)).length;
    const mismatch = await cli(['owner', 'enrol', '--federation', federationId, '--state', path.join(scratch, 'wrong-charter'), '--token', 'fse_x', '--charter-fingerprint', 'ab'.repeat(32)]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /charter has fingerprint [0-9a-f]{64}, not the (ab){32} you were given: not enrolling/);
    await assert.rejects(stat(path.join(scratch, 'wrong-charter', 'owner.json')), /ENOENT/);
    assert.equal((await operator.listOwners(federationId)).length, owners, 'no owner was enrolled');
    const garbled = await cli(['owner', 'enrol', '--federation', federationId, '--state', path.join(scratch, 'wrong-charter'), '--token', 'fse_x', '--charter-fingerprint', 'not-hex']);
    assert.equal(garbled.code, 2);
    assert.match(garbled.stderr, /--charter-fingerprint: expected 64 hex digits/);

    const used = await cli(['owner', 'enrol', '--federation', federationId, '--state', path.join(scratch, 'mistakes-owner-1'), '--token', 'fse_x']);
    assert.equal(used.code, 1);
    assert.match(used.stderr, /already exists: this state directory belongs to owner/);
  });

  it('bad local data is reported by line and never sent; a file with no usable row stops before anything is sent', async () => {
    const { federationId, owners, aggregator } = await secureFederation('bad-data', 1);
    await cli(['operator', 'round', 'open', '--federation', federationId]);
    const lines = (await readFile(owners[0]!.data!, 'utf8')).trim().split('\n');
    const noLabel = path.join(scratch, 'no-label.csv');
    await writeFile(noLabel, lines.map((line) => line.split(',').slice(0, 15).join(',')).join('\n'));
    const refused = await runCli(['owner', 'run', '--state', owners[0]!.state, '--data', noLabel]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no usable row: .*15 fields .*label column A16 is required/);
    assert.equal((await round(federationId, 1)).submissionCount, 0, 'nothing was sent');

    const damaged = path.join(scratch, 'damaged.csv');
    const broken = [...lines];
    broken[2] = broken[2]!.replace(/^([ab]),([^,]*),([^,]*),u,/, '$1,$2,$3,zz,');
    broken[4] = broken[4]!.split(',').slice(0, 10).join(',');
    await writeFile(damaged, broken.join('\n'));
    const agent = runAgent({ ...owners[0]!, data: damaged }, 0);
    // The other committee members publish their round keys, as their agents would; the owner shares once all are in.
    await publishCommitteeKeys(federationId, 1, [...owners.slice(1), aggregator]);
    await agent.waitForLine(/^round 1: submitted an update|^round 1: submitted encrypted shares of (\d+) samples/);
    agent.child.kill('SIGTERM');
    assert.equal(await agent.exited, 0);
    assert.match(agent.stderr(), /line 3, A4: unknown value "zz".*line left out/);
    assert.match(agent.stderr(), /line 5: 10 fields, expected 16.*line left out/);
    assert.match(agent.stdout(), new RegExp(`${lines.length - 2} local rows, 2 left out`));
    assert.match(agent.stdout(), new RegExp(`submitted encrypted shares of ${lines.length - 2} samples`));
  });

  it('a state file others can read is refused; a second agent on one state directory is refused; SIGTERM stops cleanly', async () => {
    const { owners, federationId } = await secureFederation('state', 1);
    const file = path.join(owners[1]!.state, 'owner.json');
    await chmod(file, 0o644);
    const loose = await runCli(['owner', 'run', '--state', owners[1]!.state, '--data', owners[1]!.data!]);
    assert.equal(loose.code, 1);
    assert.match(loose.stderr, /readable or writable by group or others \(mode 0644\).*chmod 600/);
    await chmod(file, 0o600);

    const first = runAgent(owners[1]!, 1);
    await first.waitForLine(/waiting for rounds/);
    const second = await runCli(['owner', 'run', '--state', owners[1]!.state, '--data', owners[1]!.data!]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`in use by another agent \\(pid ${first.child.pid}\\)`));
    const rotateWhileRunning = await runCli(['owner', 'rotate-key', '--state', owners[1]!.state]);
    assert.equal(rotateWhileRunning.code, 1, 'no key rotation under a running agent');
    assert.match(rotateWhileRunning.stderr, /in use by another agent/);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    assert.match(first.stdout(), /done: stopped by SIGTERM/);
    await assert.rejects(stat(path.join(owners[1]!.state, 'agent.lock')), /ENOENT/, 'the lock is released');

    // The owner rotates its key: owner.json holds the new one (still private), the old one is refused, status works.
    const before = JSON.parse(await readFile(file, 'utf8')) as { apiKey: string };
    const rotated = await runCli(['owner', 'rotate-key', '--state', owners[1]!.state]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const afterRotation = JSON.parse(await readFile(file, 'utf8')) as { apiKey: string };
    assert.notEqual(afterRotation.apiKey, before.apiKey);
    assert.ok(!rotated.stdout.includes(afterRotation.apiKey) && !rotated.stderr.includes(afterRotation.apiKey), 'the key is never printed');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const old = await new FedscoreClient({ baseUrl: url, apiKey: before.apiKey }).getOwner(federationId, owners[1]!.ownerId).catch((e: unknown) => e);
    assert.ok(old instanceof FedscoreApiError && old.status === 401, 'the old key stopped working');
    const status = await runCli(['owner', 'status', '--state', owners[1]!.state, '--json']);
    assert.equal(status.code, 0, status.stderr);

    const aggregatorData = await runCli(['owner', 'run', '--state', owners[1]!.state]);
    assert.equal(aggregatorData.code, 2);
    assert.match(aggregatorData.stderr, /--data FILE is required for a data owner/);
  });
});

/** Each listed party seated in the round publishes a round key signed with the identity in its state file. */
async function publishCommitteeKeys(federationId: string, number: number, parties: Party[]): Promise<void> {
  const opened = await round(federationId, number);
  for (const seat of opened.secure!.committee) {
    const party = parties.find((p) => p.ownerId === seat.ownerId);
    if (!party) continue; // the agent under test keys its own seat
    const state = JSON.parse(await readFile(path.join(party.state, 'owner.json'), 'utf8')) as { apiKey: string; identity: { publicKey: string; privateKey: string } };
    const identity = { publicKey: Buffer.from(state.identity.publicKey, 'base64'), privateKey: Buffer.from(state.identity.privateKey, 'base64') };
    const key = generateX25519KeyPair();
    const statement = { federationId, roundNumber: number, position: seat.position, memberId: party.ownerId, publicKey: key.publicKey };
    await new FedscoreClient({ baseUrl: url, apiKey: state.apiKey }).publishCommitteeKey(federationId, number, {
      publicKey: Buffer.from(key.publicKey).toString('base64'),
      signature: Buffer.from(signCommitteeKey(statement, identity)).toString('base64'),
    });
  }
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
