/**
 * `fedscore owner`: the data owner's (or aggregator node's) side of a federation as its own program.
 * `enrol` checks the federation's charter, joins with the operator's enrolment token and writes the state
 * directory (the API key and the Ed25519 identity go there and nowhere else); `run` is the long-running
 * agent; `status` says where it stands; `identity` makes an aggregator node's identity before a charter
 * names it. Nothing printed or logged ever contains a private key, a weight or a record.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { FedscoreClient, FedscoreNetworkError, type FederationView } from '../../client/http-client.js';
import { loadOwnerRows } from '../../client/local-data.js';
import { charterMatches, formatFingerprint, parseFingerprint, type Charter } from '../../client/committee-trust.js';
import { OwnerAgent, type AgentEvent, type AgentSummary, type LocalRecords } from '../../client/owner-agent.js';
import { CharterMismatchError, enrolOwner, generateIdentityKeyPair, registerIdentity, type Ed25519KeyPair } from '../../client/owner-enrolment.js';
import { journalSummary, OwnerStateDir, StateError, type OwnerIdentity } from '../../client/owner-state.js';
import { AGENT_RETRY, type RetryPolicy } from '../../client/retry.js';
import { deriveSeed } from '../../client/simulation.js';
import { EXIT_OK, parseCommandArgs, readNumber, requireString, UsageError, writeLine, type CliIo, type Command } from '../cli-io.js';
import { initTfFromEnv } from '../training-options.js';

const USAGE = `Usage: fedscore owner <enrol|run|status|rotate-key|identity> [options]

The data owner's agent: join a federation, then take part in its rounds from your own machine.

  fedscore owner enrol --server URL --federation ID --token TOKEN --state DIR [--charter-fingerprint F] [--name NAME] [--aggregator [--identity FILE]] [--no-committee] [--json]
  fedscore owner run --state DIR [--data FILE] [--server URL] [--max-rounds N] [--json]
  fedscore owner status --state DIR [--json]
  fedscore owner rotate-key --state DIR
  fedscore owner identity --out FILE [--json]

Run 'fedscore owner <subcommand> --help' for details. See docs/data-owner.md.`;

const ENROL_USAGE = `Usage: fedscore owner enrol --server URL --federation ID --token TOKEN --state DIR [options]

Reads the federation's charter (its aggregation, secure parameters and committee policy), computes its
fingerprint here and, with --charter-fingerprint, refuses to enrol if it differs; without the flag it pins
what it saw and prints the fingerprint for you to compare with the operator's, out of band. Then joins with
the enrolment token and writes DIR/owner.json (mode 0600): the server, the federation, the pinned charter,
this owner's id and API key and — in a secure federation, and always for an aggregator node — an Ed25519
identity, whose public half is registered with the server. Private keys are never printed.

Options:
  --server URL        the fedscore server (or FEDSCORE_SERVER)
  --federation ID     the federation to join
  --token TOKEN       the enrolment token the operator gave you (or FEDSCORE_ENROLMENT_TOKEN, which keeps
                      it out of the shell history)
  --state DIR         the state directory to create (it must not hold an owner already)
  --charter-fingerprint F
                      the fingerprint the operator gave you (64 hex digits, spaces allowed): enrolment is
                      refused, before anything is sent, if the federation's charter does not match it
  --identity FILE     an aggregator node's identity made beforehand with 'fedscore owner identity' (a named
                      committee's charter lists it); default: a new one
  --name NAME         how the operator sees this owner (default: the state directory's name)
  --aggregator        enrol as an aggregator node: no data, committee duty only
  --no-committee      secure federations: do not offer to serve on committees
  --give-up-after S   stop retrying an unreachable or failing server after S seconds (default 60)
  --json              print {ownerId, federationId, role, committeeVolunteer, charterFingerprint, state} as the last line
  -h, --help          show this help`;

const RUN_USAGE = `Usage: fedscore owner run --state DIR [--data FILE] [options]

Waits for rounds and takes part: trains on FILE's rows with the federation's schema and settings and
submits the new weights (plain) or encrypted shares (secure); when seated on a committee, sums its inbox
and uploads the partial sum. Exits 0 when the federation's planned rounds are over, after --max-rounds
rounds, or on SIGINT/SIGTERM (between steps; a second signal exits at once). A restarted agent resumes:
it never trains or submits twice for a round and still delivers a partial sum it owes.

Options:
  --state DIR           the state directory written by 'fedscore owner enrol'
  --server URL          reach the server at URL instead of the address stored at enrolment (a proxy, a new
                        host name); whom this owner trusts is decided by the pinned charter, not the address
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

const ROTATE_KEY_USAGE = `Usage: fedscore owner rotate-key --state DIR

Replaces this owner's API key: the server issues a new one and the old one stops working at once; the new
key is written to DIR/owner.json (atomically, mode 0600) and never printed. Run it while no agent uses the
directory (it takes the same lock as 'owner run'). If the process dies after the server answered but
before the file is written, the old key no longer works and the new one is lost: ask the operator to
remove this owner and enrol again.

Options:
  --state DIR   the state directory written by 'fedscore owner enrol'
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
    if (sub === 'rotate-key') return rotateKey(rest, io);
    if (sub === 'identity') return makeIdentity(rest, io);
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
      'charter-fingerprint': { type: 'string' },
      identity: { type: 'string' },
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
  if (values.identity !== undefined && !values.aggregator) throw new UsageError('--identity: only an aggregator node brings an identity made beforehand', ENROL_USAGE);
  let pinned: string | undefined;
  if (values['charter-fingerprint'] !== undefined) {
    pinned = parseFingerprint(values['charter-fingerprint']) ?? undefined;
    if (pinned === undefined) throw new UsageError(`--charter-fingerprint: expected 64 hex digits (spaces or colons allowed), got '${values['charter-fingerprint']}'`, ENROL_USAGE);
  }
  const madeIdentity = values.identity === undefined ? undefined : await readIdentityFile(values.identity);
  await OwnerStateDir.assertFree(dir);

  const client = new FedscoreClient({ baseUrl: server, retry: { ...AGENT_RETRY, giveUpAfterMs: giveUpAfter * 1000, onRetry: retryNotice(io) } });
  const role = values.aggregator ? 'aggregator' : 'owner';
  let state: OwnerStateDir | undefined;
  let enrolment;
  try {
    enrolment = await withGiveUpNote(giveUpAfter, () => enrolOwner({
    client,
    federationId,
    enrolmentToken: token,
    name: values.name ?? path.basename(dir),
    role,
    ...(pinned !== undefined && { charterFingerprint: pinned }),
    ...(madeIdentity && { identity: madeIdentity }),
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
        identity: e.identity && { publicKey: Buffer.from(e.identity.publicKey).toString('base64'), privateKey: Buffer.from(e.identity.privateKey).toString('base64') },
        charter: { fingerprint: e.charterFingerprint, document: e.charter },
        committeeVolunteer: e.committeeVolunteer,
        enrolledAt: new Date().toISOString(),
      });
    },
  }));
  } catch (error) {
    if (error instanceof CharterMismatchError) {
      writeLine(io.stderr, `fedscore owner: ${error.message}`);
      return 1;
    }
    throw error;
  }
  const file = path.join(state!.dir, 'owner.json');
  if (values.json) {
    writeLine(
      io.stdout,
      JSON.stringify({ ownerId: enrolment.ownerId, federationId, role, aggregation: enrolment.federation.aggregation, committeeVolunteer: enrolment.committeeVolunteer, charterFingerprint: enrolment.charterFingerprint, state: file }),
    );
  } else {
    writeLine(io.stdout, `enrolled as ${role} ${enrolment.ownerId} in federation ${federationId} (${enrolment.federation.aggregation} aggregation)`);
    writeLine(io.stdout, `charter fingerprint ${formatFingerprint(enrolment.charterFingerprint)}`);
    writeLine(io.stdout, pinned ? '  matches the fingerprint you gave; pinned' : '  pinned: compare it with the operator’s, over a channel you trust, before running the agent');
    if (enrolment.identity) writeLine(io.stdout, `registered an Ed25519 identity${enrolment.committeeVolunteer ? '; volunteering for committees' : ''}`);
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
      server: { type: 'string' },
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
    const client = new FedscoreClient({ baseUrl: values.server ?? identity.server, apiKey: identity.apiKey, retry });
    const federation = await withGiveUpNote(giveUpAfter, () => client.getFederation(identity.federationId));
    // The pinned charter, not the server's word, says whom this owner trusts: a changed one stops it here.
    if (!charterMatches(identity.charter.fingerprint, federation.charter as Charter | null)) {
      writeLine(
        io.stderr,
        `fedscore owner: federation ${federation.id}'s charter is not the one pinned at enrolment (${formatFingerprint(identity.charter.fingerprint)}); ` +
          'refusing to take part. A changed charter means a new federation: ask the operator, over a channel you trust',
      );
      return 1;
    }
    const partyIdentity = identityOf(identity);
    if (partyIdentity) await withGiveUpNote(giveUpAfter, () => ensureIdentityRegistered(client, identity, partyIdentity));

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
      ...(partyIdentity && { identity: partyIdentity }),
      charter: identity.charter.document as Charter,
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

async function rotateKey(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(ROTATE_KEY_USAGE, args, { state: { type: 'string' } }, io);
  if (values === null) return EXIT_OK;
  const state = await OwnerStateDir.open(path.resolve(requireString(values.state, '--state')));
  const release = await state.lock();
  try {
    const { identity } = state;
    const client = new FedscoreClient({ baseUrl: identity.server, apiKey: identity.apiKey, timeoutMs: 15_000 });
    const rotated = await client.rotateOwnerKey(identity.federationId, identity.ownerId);
    await state.replaceApiKey(rotated.apiKey);
    writeLine(io.stdout, `Rotated the API key of ${identity.role} ${identity.ownerId}; the new key is in ${path.join(state.dir, 'owner.json')}, the old one no longer works.`);
    return EXIT_OK;
  } finally {
    await release();
  }
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
      if (event.kind === 'evaluation') {
        const how = federation.aggregation === 'secure' ? `as encrypted shares${event.uploadBytes !== undefined ? ` (${event.uploadBytes} bytes)` : ''}` : 'in the clear';
        return `round ${event.round} (evaluation): scored ${event.samples} rows; submitted only per-class score histograms and loss sums ${how}${event.resent ? ' (prepared before a restart, sent now)' : ''}`;
      }
      const what = federation.aggregation === 'secure' ? `encrypted shares of ${event.samples} samples${event.uploadBytes !== undefined ? ` (${event.uploadBytes} bytes)` : ''}` : `an update of ${event.samples} samples`;
      return `round ${event.round}: submitted ${what}${loss(event.loss)}${event.resent ? ' (prepared before a restart, sent now)' : ''}`;
    }
    case 'already-submitted':
      return `round ${event.round}: the server already holds this owner's update; not sent again`;
    case 'missed':
      return `round ${event.round}: missed: ${event.reason}`;
    case 'refused':
      return `round ${event.round}: refused to share, nothing sent: ${event.reason}`;
    case 'keyed':
      return `round ${event.round}: committee seat ${event.position}: published this round's signed key`;
    case 'not-sampled':
      return `round ${event.round}: not sampled (each owner takes part with probability ${event.rate}; the round's seed decided)`;
    case 'summed':
      return `round ${event.round}: committee seat ${event.position}: partial sum${event.owners !== null ? ` over ${event.owners} owners` : ''} ${event.resumed ? 'already held by the server' : 'uploaded'}`;
    case 'missed-sum':
      return `round ${event.round}: committee seat: no partial sum from this member: ${event.reason}`;
    case 'round-ended':
      if (event.status === 'failed') return `round ${event.round}: failed: ${event.failureReason ?? 'no reason given'}`;
      if (event.kind === 'statistics') return `round ${event.round}: closed, means and standard deviations computed`;
      if (event.kind === 'evaluation') return `round ${event.round}: closed, federated evaluation stored (fedscore operator model show)`;
      return `round ${event.round}: closed, model version ${event.modelVersion} published`;
  }
}

function describeStop(summary: AgentSummary, signalled: string | undefined): string {
  const why = { 'planned-rounds-over': "the federation's planned rounds are over", 'training-stopped-early': 'the federation stopped training early (its validation metric stopped improving)', 'evaluation-over': 'the evaluation opened after training has settled', 'max-rounds': 'reached --max-rounds', signal: `stopped by ${signalled ?? 'a signal'}` }[summary.stoppedBy];
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

function identityOf(identity: OwnerIdentity): Ed25519KeyPair | undefined {
  if (!identity.identity) return undefined;
  return { publicKey: new Uint8Array(Buffer.from(identity.identity.publicKey, 'base64')), privateKey: new Uint8Array(Buffer.from(identity.identity.privateKey, 'base64')) };
}

/** An enrolment interrupted between writing the state and registering the identity is finished here. */
async function ensureIdentityRegistered(client: FedscoreClient, identity: OwnerIdentity, keys: Ed25519KeyPair): Promise<void> {
  const me = await client.getOwner(identity.federationId, identity.ownerId);
  if (me.identityKey === identity.identity!.publicKey) return;
  await registerIdentity(client, identity.federationId, identity.ownerId, keys, identity.committeeVolunteer);
}

const IDENTITY_USAGE = `Usage: fedscore owner identity --out FILE [--json]

Makes an Ed25519 identity for an aggregator node before any federation names it: writes FILE (mode 0600,
refusing to overwrite) and prints the public key. Give the public key to the operator, who lists it in a
named committee's charter (operator federation create --aggregator NAME=KEY); then enrol the node with
'fedscore owner enrol --aggregator --identity FILE'.

Options:
  --out FILE   where to write the identity (it must not exist)
  --json       print {publicKey, file} as the last line
  -h, --help   show this help`;

const identityFileSchema = z.object({ kind: z.literal('fedscore-identity'), publicKey: z.string(), privateKey: z.string() });

async function makeIdentity(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(IDENTITY_USAGE, args, { out: { type: 'string' }, json: { type: 'boolean' } }, io);
  if (values === null) return EXIT_OK;
  const file = path.resolve(requireString(values.out, '--out'));
  const pair = generateIdentityKeyPair();
  const publicKey = Buffer.from(pair.publicKey).toString('base64');
  let handle;
  try {
    handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    throw new StateError(`cannot create ${file}: ${(error as NodeJS.ErrnoException).code === 'EEXIST' ? 'it already exists (an identity is never overwritten)' : (error as Error).message}`);
  }
  try {
    await handle.writeFile(`${JSON.stringify({ kind: 'fedscore-identity', publicKey, privateKey: Buffer.from(pair.privateKey).toString('base64') }, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (values.json) writeLine(io.stdout, JSON.stringify({ publicKey, file }));
  else {
    writeLine(io.stdout, `identity written to ${file} (mode 0600); keep it private`);
    writeLine(io.stdout, `public key: ${publicKey}`);
  }
  return EXIT_OK;
}

async function readIdentityFile(file: string): Promise<Ed25519KeyPair> {
  let parsed;
  try {
    parsed = identityFileSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
  } catch (error) {
    throw new StateError(`--identity: cannot read ${file}: ${(error as Error).message}`);
  }
  if (!parsed.success) throw new StateError(`--identity: ${file} is not an identity written by 'fedscore owner identity'`);
  return { publicKey: new Uint8Array(Buffer.from(parsed.data.publicKey, 'base64')), privateKey: new Uint8Array(Buffer.from(parsed.data.privateKey, 'base64')) };
}

/** A stable 31-bit seed per owner, so a restarted agent shuffles as it would have. */
function seedFromOwner(ownerId: string): number {
  return createHash('sha256').update(ownerId).digest().readUInt32BE(0) >>> 1;
}

function list(rounds: number[]): string {
  return rounds.length === 0 ? 'none' : rounds.join(', ');
}

export { StateError };
