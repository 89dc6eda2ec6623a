/**
 * A whole federated training run driven over real HTTP: the operator creates a federation, N owners enrol
 * and, round after round, each trains on its own shard and submits; after each round the published model
 * is scored on held-out rows. It is the seed notebook's "one virtual worker per applicant" experiment, but
 * every owner talks to the server as a separate API client. The CLI's `simulate` and the end-to-end tests
 * both run it.
 *
 * Modes plug in as an owner step (`OWNER_STEPS`): plain mode trains and submits weights; secure mode will
 * add its sharing and committee work without touching the round loop.
 */
import { generateX25519KeyPair, type X25519KeyPair } from '../crypto/envelope.js';
import type { DatasetSchema } from '../ml/dataset-schema.js';
import type { ModelSpec } from '../ml/model-spec.js';
import { createEncoder } from '../ml/preprocess.js';
import { mapWithConcurrency } from './concurrency.js';
import { createRng, shuffleInPlace } from '../ml/random.js';
import { sumInbox } from './secure-shares.js';
import type { FederationView, FedscoreClient, RoundView } from './http-client.js';
import { evaluate, type Evaluation, type Shard } from './local-data.js';
import { OwnerAgent, type OwnerRoundOutcome } from './owner-agent.js';

export const SIMULATION_MODES = ['plain', 'secure'] as const;
export type SimulationMode = (typeof SIMULATION_MODES)[number];

export interface SimulatedOwner {
  index: number;
  ownerId: string;
  client: FedscoreClient;
  agent: OwnerAgent;
}

/** One owner's part in one round; the mode decides what that involves. */
export type OwnerStep = (owner: SimulatedOwner, roundNumber: number, seed: number) => Promise<OwnerRoundOutcome>;

export const OWNER_STEPS: Record<SimulationMode, OwnerStep> = {
  plain: (owner, _roundNumber, seed) => owner.agent.participate(seed),
  // The agent reads the federation's mode and secret-shares instead of submitting weights.
  secure: (owner, _roundNumber, seed) => owner.agent.participate(seed),
};

/** Secure mode's committee and the dropouts it is tested against. */
export interface SecureSimulation {
  committee: number;
  threshold: number;
  /** Fraction of owners that drop out of each round (never upload). */
  dropout: number;
  /** Committee members that drop out of each round (never upload a partial sum). */
  committeeDropout: number;
  clipNorm: number;
}

export interface SimulationTraining {
  rounds: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Seeds the initial weights and, through `deriveSeed`, every owner's local shuffle. */
  seed: number;
}

export type SimulationProgress =
  | { phase: 'enrol'; done: number; total: number }
  | { phase: 'round'; round: number; done: number; total: number };

export interface SimulationRound {
  round: number;
  /** closed: a version was published; failed (secure mode, too few partial sums): the previous model stays. */
  status: 'closed' | 'failed';
  /** Updates the round aggregated. */
  owners: number;
  modelVersion: number;
  /** Secure mode: mean bytes of envelopes one owner uploaded, and partial sums received. */
  uploadBytesPerOwner?: number;
  partialSums?: number;
  failureReason?: string;
  accuracy: number;
  auc: number;
  logLoss: number;
  /** From the first owner starting to the model version being published (evaluation excluded). */
  seconds: number;
}

export interface SimulationOptions {
  /** A client carrying an operator key. */
  operator: FedscoreClient;
  name: string;
  /** With standardisation statistics filled in; the server needs them to create the federation. */
  schema: DatasetSchema;
  model: ModelSpec;
  training: SimulationTraining;
  mode: SimulationMode;
  /** Required when mode is 'secure'. */
  secure?: SecureSimulation;
  /** One per owner. */
  shards: Shard[];
  /** Rows the published versions are scored on (held out from every shard). */
  evaluation: Shard;
  concurrency: number;
  onProgress?: (progress: SimulationProgress) => void;
  onRound?: (round: SimulationRound) => void;
  /** Aborting stops starting new owner steps; the run then rejects with the abort reason. */
  signal?: AbortSignal;
}

export interface SimulationResult {
  federationId: string;
  mode: SimulationMode;
  owners: number;
  rounds: SimulationRound[];
  final: Evaluation & { modelVersion: number };
  /** The last published weights, for reproducibility checks. */
  finalWeights: Float32Array;
  totalSeconds: number;
}

/**
 * A 31-bit seed for one owner in one round. Mixing (not adding) the three numbers keeps neighbouring
 * owners and rounds from sharing shuffles; it is fixed forever, since published figures depend on it.
 */
export function deriveSeed(seed: number, round: number, ownerIndex: number): number {
  let h = 0x811c9dc5;
  for (const value of [seed, round, ownerIndex]) {
    h = Math.imul(h ^ (value >>> 0), 0x01000193);
    // murmur3's finaliser, so every input bit reaches every output bit
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 1;
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const { operator, training, shards, evaluation, concurrency, signal } = options;
  const started = performance.now();
  if (shards.length === 0) throw new Error('runSimulation: expected at least one owner shard, got 0');
  if (evaluation.X.length === 0) throw new Error('runSimulation: expected evaluation rows, got 0');
  const step = OWNER_STEPS[options.mode];
  const secure = options.mode === 'secure' ? options.secure : undefined;
  if (options.mode === 'secure' && !secure) throw new Error('runSimulation: secure mode needs committee settings');
  const dropouts = secure ? Math.round(shards.length * secure.dropout) : 0;
  const participants = shards.length - dropouts;

  const { federation, enrolmentToken } = await operator.createFederation({
    name: options.name,
    datasetSchema: options.schema,
    model: options.model,
    training: {
      rounds: training.rounds,
      localEpochs: training.epochs,
      batchSize: training.batchSize,
      learningRate: training.learningRate,
      minOwners: participants,
      autoAdvance: true,
      seed: training.seed,
    },
    aggregation: options.mode,
    ...(secure && { secure: { committee: { size: secure.committee, threshold: secure.threshold }, clipNorm: secure.clipNorm } }),
  });
  assertSameFeatures(federation, options.schema);

  // Enrolled one after another so the server sees owners in the same order on every run.
  const owners: SimulatedOwner[] = [];
  for (const [index, shard] of shards.entries()) {
    signal?.throwIfAborted();
    const enrolled = await operator.enrolOwner(federation.id, { enrolmentToken, name: `owner-${index + 1}` });
    const client = operator.withApiKey(enrolled.apiKey);
    owners.push({ index, ownerId: enrolled.owner.id, client, agent: new OwnerAgent({ client, ownerId: enrolled.owner.id, federation, X: shard.X, y: shard.y }) });
    options.onProgress?.({ phase: 'enrol', done: index + 1, total: shards.length });
  }
  // Committee volunteers: twice the committee size (or everyone), each with its own X25519 key pair.
  const members = new Map<string, { owner: SimulatedOwner; keys: X25519KeyPair }>();
  if (secure) {
    for (const owner of owners.slice(0, Math.min(owners.length, 2 * secure.committee))) {
      const keys = generateX25519KeyPair();
      await owner.client.registerPublicKey(federation.id, owner.ownerId, {
        publicKey: Buffer.from(keys.publicKey).toString('base64'),
        committeeVolunteer: true,
      });
      members.set(owner.ownerId, { owner, keys });
    }
  }

  await operator.openRound(federation.id, {});
  const rounds: SimulationRound[] = [];
  const initial = await operator.getModelWeights(federation.id, 0);
  let finalWeights = Float32Array.from(initial.weights);
  let final: Evaluation & { modelVersion: number } = {
    ...evaluate(options.model, finalWeights, evaluation.X, evaluation.y),
    modelVersion: 0,
  };
  for (let roundNumber = 1; roundNumber <= training.rounds; roundNumber++) {
    const roundStarted = performance.now();
    const taking = dropouts === 0 ? owners : pickParticipants(owners, participants, training.seed, roundNumber);
    let done = 0;
    const outcomes = await mapWithConcurrency(
      taking,
      concurrency,
      async (owner) => {
        const outcome = await step(owner, roundNumber, deriveSeed(training.seed, roundNumber, owner.index));
        options.onProgress?.({ phase: 'round', round: roundNumber, done: ++done, total: taking.length });
        return outcome;
      },
      signal,
    );
    assertAllSubmitted(outcomes, roundNumber);
    let partialSums: number | undefined;
    if (secure) partialSums = await runCommittee(operator, federation.id, roundNumber, members, secure, training.seed);

    const settled = await settleRound(operator, federation.id, roundNumber);
    const seconds = (performance.now() - roundStarted) / 1000;
    const uploads = outcomes.flatMap((o) => (o.status === 'submitted' && o.uploadBytes !== undefined ? [o.uploadBytes] : []));
    const uploadBytesPerOwner = uploads.length > 0 ? uploads.reduce((a, b) => a + b, 0) / uploads.length : undefined;
    let result: SimulationRound;
    if (settled.status === 'failed') {
      // Only secure mode can fail here, when more than k − t committee members dropped out.
      if (!secure || secure.committeeDropout <= secure.committee - secure.threshold) {
        throw new Error(`runSimulation: round ${roundNumber} failed: ${settled.failureReason ?? 'no reason given'}`);
      }
      result = {
        round: roundNumber,
        status: 'failed',
        owners: 0,
        modelVersion: final.modelVersion,
        accuracy: final.accuracy,
        auc: final.auc,
        logLoss: final.logLoss,
        seconds,
        ...(uploadBytesPerOwner !== undefined && { uploadBytesPerOwner }),
        ...(partialSums !== undefined && { partialSums }),
        failureReason: settled.failureReason ?? 'failed',
      };
    } else {
      const published = await operator.getModelWeights(federation.id, settled.modelVersion!);
      finalWeights = Float32Array.from(published.weights);
      const scored = evaluate(options.model, finalWeights, evaluation.X, evaluation.y);
      final = { ...scored, modelVersion: published.version };
      result = {
        round: roundNumber,
        status: 'closed',
        owners: settled.secure?.includedCount ?? settled.submissionCount,
        modelVersion: published.version,
        accuracy: scored.accuracy,
        auc: scored.auc,
        logLoss: scored.logLoss,
        seconds,
        ...(uploadBytesPerOwner !== undefined && { uploadBytesPerOwner }),
        ...(partialSums !== undefined && { partialSums }),
      };
    }
    rounds.push(result);
    options.onRound?.(result);
    if (roundNumber < training.rounds) await ensureNextRoundOpen(operator, federation.id, roundNumber);
  }

  return {
    federationId: federation.id,
    mode: options.mode,
    owners: owners.length,
    rounds,
    final,
    finalWeights,
    totalSeconds: (performance.now() - started) / 1000,
  };
}

/** The owners encode locally; if the server's feature order differed, every weight would be misread. */
function assertSameFeatures(federation: FederationView, schema: DatasetSchema): void {
  const local = createEncoder(schema).featureNames;
  const remote = federation.featureNames;
  const firstDifference = local.findIndex((name, i) => name !== remote[i]);
  if (local.length !== remote.length || firstDifference >= 0) {
    throw new Error(
      `runSimulation: the server encodes ${remote.length} features and this client ${local.length}` +
        (firstDifference >= 0 ? `; they first differ at ${firstDifference} (${remote[firstDifference]} vs ${local[firstDifference]})` : ''),
    );
  }
}

function assertAllSubmitted(outcomes: OwnerRoundOutcome[], roundNumber: number): void {
  const problems = outcomes.flatMap((outcome, index) => {
    if (outcome.status === 'submitted' && outcome.roundNumber === roundNumber) return [];
    const what =
      outcome.status === 'submitted'
        ? `submitted to round ${outcome.roundNumber}`
        : `skipped (${outcome.reason}${outcome.detail ? `: ${outcome.detail}` : ''}) at round ${outcome.roundNumber ?? 'none'}`;
    return [`owner-${index + 1} ${what}`];
  });
  if (problems.length > 0) {
    throw new Error(
      `runSimulation: round ${roundNumber}: ${problems.length} owner(s) did not submit: ${problems.slice(0, 3).join('; ')}`,
    );
  }
}

/** Every owner has taken part, so the round should have settled itself; the operator closes it if not. */
async function settleRound(operator: FedscoreClient, federationId: string, roundNumber: number): Promise<RoundView> {
  let round = await operator.getRound(federationId, roundNumber);
  if (round.status === 'open' || round.status === 'summing') round = await operator.closeRound(federationId, roundNumber);
  if (round.status === 'closed' && round.modelVersion === null) {
    throw new Error(`runSimulation: round ${roundNumber} closed without a model version`);
  }
  return round;
}

/** Owners that take part in a round when some drop out: a seeded choice, so runs repeat. */
function pickParticipants(owners: SimulatedOwner[], count: number, seed: number, roundNumber: number): SimulatedOwner[] {
  const chosen = shuffleInPlace([...owners], createRng(deriveSeed(seed, roundNumber, 0x5eed)));
  return chosen.slice(0, count).sort((a, b) => a.index - b.index);
}

/**
 * The committee's part of a secure round: every member still present fetches its inbox for the frozen
 * included set, opens and adds its shares, and uploads one partial sum. Returns how many were uploaded.
 */
async function runCommittee(
  operator: FedscoreClient,
  federationId: string,
  roundNumber: number,
  members: Map<string, { owner: SimulatedOwner; keys: X25519KeyPair }>,
  secure: SecureSimulation,
  seed: number,
): Promise<number> {
  const round = await operator.getRound(federationId, roundNumber);
  if (round.status !== 'summing' || !round.secure) {
    throw new Error(`runSimulation: expected round ${roundNumber} to be summing after every owner uploaded, found ${round.status}`);
  }
  const seats = shuffleInPlace([...round.secure.committee], createRng(deriveSeed(seed, roundNumber, 0xc0de)));
  const present = seats.slice(secure.committeeDropout);
  for (const seat of present) {
    const member = members.get(seat.ownerId);
    if (!member) throw new Error(`runSimulation: committee seat ${seat.position} went to an owner this simulation has no key for`);
    const inbox = await member.owner.client.getInbox(federationId, roundNumber);
    const values = sumInbox({ federationId, memberId: seat.ownerId, keys: member.keys, inbox });
    const receipt = await member.owner.client.uploadPartialSum(federationId, roundNumber, { includedSetHash: inbox.includedSetHash, values });
    if (receipt.round.status === 'closed') return present.indexOf(seat) + 1;
  }
  return present.length;
}

/** autoAdvance should have opened the next round; open it ourselves if a server leaves that to the operator. */
async function ensureNextRoundOpen(operator: FedscoreClient, federationId: string, previous: number): Promise<void> {
  const current = await operator.getCurrentRound(federationId);
  if (current.number === previous + 1 && current.status === 'open') return;
  if (current.number === previous) {
    await operator.openRound(federationId, {});
    return;
  }
  throw new Error(`runSimulation: expected round ${previous + 1} to be open after round ${previous}, found round ${current.number} ${current.status}`);
}
