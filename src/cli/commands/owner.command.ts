/**
 * `fedscore owner`: the data owner's (or aggregator node's) side of a federation as its own program.
 * `enrol` joins with the operator's enrolment token and writes the state directory (the API key and the
 * X25519 private key go there and nowhere else); `run` is the long-running agent; `status` says where it
 * stands. Nothing printed or logged ever contains a key, a weight or a record.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { FedscoreClient, FedscoreNetworkError, type FederationView } from '../../client/http-client.js';
import { loadOwnerRows } from '../../client/local-data.js';
import { OwnerAgent, type AgentEvent, type AgentSummary, type LocalRecords } from '../../client/owner-agent.js';
import { enrolOwner, registerKey } from '../../client/owner-enrolment.js';
import { journalSummary, OwnerStateDir, StateError, type OwnerIdentity } from '../../client/owner-state.js';
import { AGENT_RETRY, type RetryPolicy } from '../../client/retry.js';
import { deriveSeed } from '../../client/simulation.js';
import type { X25519KeyPair } from '../../crypto/envelope.js';
import { EXIT_OK, parseCommandArgs, readNumber, requireString, UsageError, writeLine, type CliIo, type Command } from '../cli-io.js';
import { initTfFromEnv } from '../training-options.js';

const USAGE = `Usage: fedscore owner <enrol|run|status> [options]

The data owner's agent: join a federation, then take part in its rounds from your own machine.

  fedscore owner enrol --server URL --federation ID --token TOKEN --state DIR [--name NAME] [--aggregator] [--no-committee] [--json]
  fedscore owner run --state DIR [--data FILE] [--max-rounds N] [--json]
  fedscore owner status --state DIR [--json]

Run 'fedscore owner <subcommand> --help' for details. See docs/data-owner.md.`;

const ENROL_USAGE = `Usage: fedscore owner enrol --server URL --federation ID --token TOKEN --state DIR [options]

Joins a federation with the operator's enrolment token. Writes DIR/owner.json (mode 0600): the server, the
federation, this owner's id and API key and — in a secure federation, and always for an aggregator node —
a new X25519 private key, whose public half is registered with the server. Keys are never printed.

Options:
  --server URL        the fedscore server (or FEDSCORE_SERVER)
  --federation ID     the federation to join
  --token TOKEN       the enrolment token the operator gave you (or FEDSCORE_ENROLMENT_TOKEN, which keeps
                      it out of the shell history)
  --state DIR         the state directory to create (it must not hold an owner already)
  --name NAME         how the operator sees this owner (default: the state directory's name)
  --aggregator        enrol as an aggregator node: no data, committee duty only
  --no-committee      secure federations: do not offer to serve on committees
  --give-up-after S   stop retrying an unreachable or failing server after S seconds (default 60)
  --json              print {ownerId, federationId, role, committeeVolunteer, state} as the last line
  -h, --help          show this help`;

const RUN_USAGE = `Usage: fedscore owner run --state DIR [--data FILE] [options]

Waits for rounds and takes part: trains on FILE's rows with the federation's schema and settings and
submits the new weights (plain) or encrypted shares (secure); when seated on a committee, sums its inbox
and uploads the partial sum. Exits 0 when the federation's planned rounds are over, after --max-rounds
rounds, or on SIGINT/SIGTERM (between steps; a second signal exits at once). A restarted agent resumes:
it never trains or submits twice for a round and still delivers a partial sum it owes.

Options:
  --state DIR           the state directory written by 'fedscore owner enrol'
  --data FILE           the local rows, in the federation's schema (not for aggregator nodes)
  --max-rounds N        stop after taking part in N rounds
  --seed S              this owner's seed: round r shuffles the rows with a seed derived from (S, r)
                        (default: derived from the owner id); 'fedscore simulate --seed T' gives its
                        owner i the seed ownerSeed(T, i), so both reproduce each other
  --give-up-after SECS  stop retrying an unreachable or failing server after this long (default 600)
  --json                print {submitted, committee, missed, stoppedBy, …} as the last line
  -h, --help            show this help`;

const STATUS_USAGE = `Usage: fedscore owner status --state DIR [--json]

Shows the federation, its current round, and what this owner did in each round.

Options:
  --state DIR   the state directory written by 'fedscore owner enrol'
  --json        print one JSON object as the last line
  -h, --help    show this help`;

export const ownerCommand: Command = {
  name: 'owner',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h') {
      writeLine(sub === undefined ? io.stderr : io.stdout, USAGE);
      return sub === undefined ? 2 : EXIT_OK;
    }
    if (sub === 'enrol' || sub === 'enroll') return enrol(rest, io);
    if (sub === 'run') return run(rest, io);
    if (sub === 'status') return status(rest, io);
    throw new UsageError(`unknown subcommand '${sub}'`, USAGE);
  },
};

async function enrol(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(
    ENROL_USAGE,
    args,
    {
      server: { type: 'string' },
      federation: { type: 'string' },
      token: { type: 'string' },
      state: { type: 'string' },
      name: { type: 'string' },
      aggregator: { type: 'boolean' },
      'no-committee': { type: 'boolean' },
      'give-up-after': { type: 'string' },
      json: { type: 'boolean' },
    },
    io,
  );
  if (values === null) return EXIT_OK;
  const giveUpAfter = readNumber(values['give-up-after'], '--give-up-after', 60, { min: 0 });
  const server = values.server ?? io.env.FEDSCORE_SERVER;
  if (!server) throw new UsageError('--server is required (or FEDSCORE_SERVER)', ENROL_USAGE);
  const federationId = requireString(values.federation, '--federation');
  const token = values.token ?? io.env.FEDSCORE_ENROLMENT_TOKEN;
  if (!token) throw new UsageError('--token is required (or FEDSCORE_ENROLMENT_TOKEN)', ENROL_USAGE);
  const dir = path.resolve(requireString(values.state, '--state'));
  if (values.aggregator && values['no-committee']) throw new UsageError('--no-committee: an aggregator node is there to serve on committees', ENROL_USAGE);
  await OwnerStateDir.assertFree(dir);

  const client = new FedscoreClient({ baseUrl: server, retry: { ...AGENT_RETRY, giveUpAfterMs: giveUpAfter * 1000, onRetry: retryNotice(io) } });
  const role = values.aggregator ? 'aggregator' : 'owner';
  let state: OwnerStateDir | undefined;
  const enrolment = await withGiveUpNote(giveUpAfter, () => enrolOwner({
    client,
    federationId,
    enrolmentToken: token,
    name: values.name ?? path.basename(dir),
    role,
    committeeVolunteer: !values['no-committee'],
    persist: async (e) => {
      state = await OwnerStateDir.create(dir, {
        version: 1,
        server: client.baseUrl,
        federationId,
        ownerId: e.ownerId,
        name: values.name ?? path.basename(dir),
        role,
        apiKey: e.apiKey,
        x25519: e.keys && { publicKey: Buffer.from(e.keys.publicKey).toString('base64'), privateKey: Buffer.from(e.keys.privateKey).toString('base64') },
        committeeVolunteer: e.committeeVolunteer,
        enrolledAt: new Date().toISOString(),
      });
    },
  }));
  const file = path.join(state!.dir, 'owner.json');
  if (values.json) {
    writeLine(io.stdout, JSON.stringify({ ownerId: enrolment.ownerId, federationId, role, aggregation: enrolment.federation.aggregation, committeeVolunteer: enrolment.committeeVolunteer, state: file }));
  } else {
    writeLine(io.stdout, `enrolled as ${role} ${enrolment.ownerId} in federation ${federationId} (${enrolment.federation.aggregation} aggregation)`);
    if (enrolment.keys) writeLine(io.stdout, `registered an X25519 public key${enrolment.committeeVolunteer ? '; volunteering for committees' : ''}`);
    writeLine(io.stdout, `keys are in ${file} (mode 0600); keep it private and back it up`);
  }
  return EXIT_OK;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(
    RUN_USAGE,
    args,
    {
      state: { type: 'string' },
      data: { type: 'string' },
      'max-rounds': { type: 'string' },
      seed: { type: 'string' },
      'give-up-after': { type: 'string' },
      'wait-seconds': { type: 'string' },
      json: { type: 'boolean' },
    },
    io,
  );
  if (values === null) return EXIT_OK;
  const dir = path.resolve(requireString(values.state, '--state'));
  const maxRounds = values['max-rounds'] === undefined ? undefined : readNumber(values['max-rounds'], '--max-rounds', 1, { integer: true, min: 1 });
  const giveUpAfter = readNumber(values['give-up-after'], '--give-up-after', 600, { min: 0 });
  const waitSeconds = readNumber(values['wait-seconds'], '--wait-seconds', 30, { integer: true, min: 1, max: 60 });
  const state = await OwnerStateDir.open(dir);
  const { identity } = state;
  if (identity.role === 'aggregator' && values.data !== undefined) throw new UsageError('--data: an aggregator node holds no data; it only sums', RUN_USAGE);
  if (identity.role === 'owner' && values.data === undefined) throw new UsageError('--data FILE is required for a data owner', RUN_USAGE);
  const seed = values.seed === undefined ? seedFromOwner(identity.ownerId) : readNumber(values.seed, '--seed', 0, { integer: true, min: 0 });
  const release = await state.lock();

  // First signal: finish the step under way, then stop. Second: leave at once.
  const stop = new AbortController();
  let signalled: string | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    if (signalled !== undefined) process.exit(130);
    signalled = name;
    writeLine(io.stderr, `${name}: stopping after the current step (again to stop at once)`);
    stop.abort(new Error(`stopped by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const retry: RetryPolicy = { ...AGENT_RETRY, giveUpAfterMs: giveUpAfter * 1000, onRetry: retryNotice(io) };
    const client = new FedscoreClient({ baseUrl: identity.server, apiKey: identity.apiKey, retry });
    const federation = await withGiveUpNote(giveUpAfter, () => client.getFederation(identity.federationId));
    const keys = keysOf(identity);
    if (keys) await withGiveUpNote(giveUpAfter, () => ensureKeyRegistered(client, identity, keys));

    let data: LocalRecords | undefined;
    if (values.data !== undefined) {
      await initTfFromEnv(io);
      const rows = await loadOwnerRows(values.data, federation.datasetSchema);
      for (const problem of rows.problems.slice(0, 20)) writeLine(io.stderr, `${values.data}: ${problem.message}; line left out`);
      if (rows.problems.length > 20) writeLine(io.stderr, `${values.data}: … and ${rows.problems.length - 20} more problems`);
      data = { records: rows.records, lineNumbers: rows.lineNumbers };
      const leftOut = new Set(rows.problems.map((p) => p.line)).size;
      writeLine(io.stdout, `${identity.role} ${identity.ownerId} in federation ${federation.id} (${federation.aggregation}): ${rows.records.length} local rows${leftOut > 0 ? `, ${leftOut} left out` : ''}; waiting for rounds`);
    } else {
      writeLine(io.stdout, `aggregator node ${identity.ownerId} in federation ${federation.id} (${federation.aggregation}): waiting for committee duty`);
    }
    const agent = new OwnerAgent({
      client,
      ownerId: identity.ownerId,
      federation,
      ...(data && { data }),
      ...(keys && { keys }),
      journal: state,
      localSeed: (round) => deriveSeed(seed, round, 0),
      ...(maxRounds !== undefined && { maxRounds }),
      waitSeconds,
      onEvent: (event) => writeLine(io.stdout, describeEvent(event, federation)),
      signal: stop.signal,
    });
    const summary = await withGiveUpNote(giveUpAfter, () => agent.run());
    writeLine(io.stdout, describeStop(summary, signalled));
    if (values.json) writeLine(io.stdout, JSON.stringify(summary));
    return EXIT_OK;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await release();
  }
}

async function status(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(STATUS_USAGE, args, { state: { type: 'string' }, json: { type: 'boolean' } }, io);
  if (values === null) return EXIT_OK;
  const state = await OwnerStateDir.open(path.resolve(requireString(values.state, '--state')));
  const { identity } = state;
  const history = journalSummary(state.entries());
  const pending = await state.pendingRounds();
  const client = new FedscoreClient({ baseUrl: identity.server, apiKey: identity.apiKey, timeoutMs: 15_000 });
  let current: Awaited<ReturnType<FedscoreClient['waitForRound']>> = null;
  let federation: FederationView | undefined;
  let privacy: { epsilon: number; delta: number } | null = null;
  let unreachable: string | undefined;
  try {
    federation = await client.getFederation(identity.federationId);
    privacy = (await client.getOwner(identity.federationId, identity.ownerId)).privacy;
    current = await client.waitForRound(identity.federationId, 'none', 0);
  } catch (error) {
    if (!(error instanceof FedscoreNetworkError)) throw error;
    unreachable = error.message;
  }
  const round = current && { number: current.number, status: current.status, submittedByThisOwner: current.participation?.submitted ?? false, committeePosition: current.participation?.committeePosition ?? null };
  if (values.json) {
    writeLine(
      io.stdout,
      JSON.stringify({ server: identity.server, federationId: identity.federationId, ownerId: identity.ownerId, role: identity.role, aggregation: federation?.aggregation ?? null, plannedRounds: federation?.training.rounds ?? null, currentRound: round, privacy, ...history, pending, unreachable: unreachable ?? null }),
    );
    return unreachable ? 1 : EXIT_OK;
  }
  writeLine(io.stdout, `${identity.role} ${identity.ownerId} (${identity.name}) in federation ${identity.federationId} at ${identity.server}`);
  if (federation) writeLine(io.stdout, `federation: ${federation.name}, ${federation.aggregation} aggregation, ${federation.training.rounds} planned rounds, latest model version ${federation.latestModelVersion}`);
  if (federation?.privacy && privacy) {
    writeLine(io.stdout, `privacy: this owner's ε = ${privacy.epsilon.toFixed(3)} (δ = ${privacy.delta}) of the federation's budget ${federation.privacy.epsilon}`);
  }
  if (unreachable) writeLine(io.stdout, `server: ${unreachable}`);
  else if (!round) writeLine(io.stdout, 'current round: none opened yet');
  else writeLine(io.stdout, `current round: ${round.number}, ${round.status}${round.submittedByThisOwner ? ', this owner has submitted' : ''}${round.committeePosition !== null ? `, committee seat ${round.committeePosition}` : ''}`);
  writeLine(io.stdout, `submitted to rounds: ${list(history.submitted)}`);
  writeLine(io.stdout, `summed as a committee member in rounds: ${list(history.committee)}`);
  if (history.missed.length > 0) writeLine(io.stdout, `missed rounds (closed before this owner's update): ${list(history.missed)}`);
  if (pending.length > 0) writeLine(io.stdout, `prepared but not yet acknowledged: rounds ${list(pending)} (sent on the next run)`);
  return unreachable ? 1 : EXIT_OK;
}

/** One line per step: the round, what happened, samples and local loss — never a value, weight or key. */
export function describeEvent(event: AgentEvent, federation: FederationView): string {
  const loss = (value: number | null) => (value === null ? '' : `, local loss ${value.toFixed(4)}`);
  switch (event.type) {
    case 'submitted': {
      if (event.kind === 'statistics') {
        const how = federation.aggregation === 'secure' ? `as encrypted shares${event.uploadBytes !== undefined ? ` (${event.uploadBytes} bytes)` : ''}` : 'in the clear';
        return `round ${event.round} (statistics): submitted the count, sum and sum of squares of ${event.samples} rows' values ${how}${event.resent ? ' (prepared before a restart, sent now)' : ''}`;
      }
      const what = federation.aggregation === 'secure' ? `encrypted shares of ${event.samples} samples${event.uploadBytes !== undefined ? ` (${event.uploadBytes} bytes)` : ''}` : `an update of ${event.samples} samples`;
      return `round ${event.round}: submitted ${what}${loss(event.loss)}${event.resent ? ' (prepared before a restart, sent now)' : ''}`;
    }
    case 'already-submitted':
      return `round ${event.round}: the server already holds this owner's update; not sent again`;
    case 'missed':
      return `round ${event.round}: missed: ${event.reason}`;
    case 'not-sampled':
      return `round ${event.round}: not sampled (each owner takes part with probability ${event.rate}; the round's seed decided)`;
    case 'summed':
      return `round ${event.round}: committee seat ${event.position}: partial sum${event.owners !== null ? ` over ${event.owners} owners` : ''} ${event.resumed ? 'already held by the server' : 'uploaded'}`;
    case 'missed-sum':
      return `round ${event.round}: committee seat: partial sum not accepted: ${event.reason}`;
    case 'round-ended':
      return event.status === 'closed'
        ? `round ${event.round}: closed, ${event.modelVersion === null ? 'means and standard deviations computed' : `model version ${event.modelVersion} published`}`
        : `round ${event.round}: failed: ${event.failureReason ?? 'no reason given'}`;
  }
}

function describeStop(summary: AgentSummary, signalled: string | undefined): string {
  const why = { 'planned-rounds-over': "the federation's planned rounds are over", 'max-rounds': 'reached --max-rounds', signal: `stopped by ${signalled ?? 'a signal'}` }[summary.stoppedBy];
  return `done: ${why}; submitted to rounds ${list(summary.submitted)}; summed in rounds ${list(summary.committee)}`;
}

/** An unreachable server after the retries: say that it was retried, and for how long. */
async function withGiveUpNote<T>(seconds: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof FedscoreNetworkError) throw new Error(`${error.message}; gave up after retrying for ${seconds} s`);
    throw error;
  }
}

function retryNotice(io: CliIo): RetryPolicy['onRetry'] {
  return ({ delayMs, error }) => writeLine(io.stderr, `${error instanceof Error ? error.message : String(error)}; retrying in ${(delayMs / 1000).toFixed(1)} s`);
}

function keysOf(identity: OwnerIdentity): X25519KeyPair | undefined {
  if (!identity.x25519) return undefined;
  return { publicKey: new Uint8Array(Buffer.from(identity.x25519.publicKey, 'base64')), privateKey: new Uint8Array(Buffer.from(identity.x25519.privateKey, 'base64')) };
}

/** An enrolment interrupted between writing the state and registering the key is finished here. */
async function ensureKeyRegistered(client: FedscoreClient, identity: OwnerIdentity, keys: X25519KeyPair): Promise<void> {
  const me = await client.getOwner(identity.federationId, identity.ownerId);
  if (me.publicKey === identity.x25519!.publicKey) return;
  await registerKey(client, identity.federationId, identity.ownerId, keys, identity.committeeVolunteer);
}

/** A stable 31-bit seed per owner, so a restarted agent shuffles as it would have. */
function seedFromOwner(ownerId: string): number {
  return createHash('sha256').update(ownerId).digest().readUInt32BE(0) >>> 1;
}

function list(rounds: number[]): string {
  return rounds.length === 0 ? 'none' : rounds.join(', ');
}

export { StateError };
