/**
 * A whole federated training run over real HTTP: the operator creates a federation, N owners enrol, and
 * each runs the same agent loop `fedscore owner run` runs (owner-agent.ts) — waiting for rounds, training
 * on its own shard, submitting weights or secret shares, summing when seated on a committee — while the
 * operator follows the rounds and scores every published version on held-out rows. It is the seed
 * notebook's "one virtual worker per applicant" experiment, with every owner a separate API client. The
 * CLI's `simulate` and the end-to-end tests both run it.
 *
 * What differs from separate agent processes is only what a single process can share: one long poll
 * feeds every owner's view of the round, journals live in memory, and a gate bounds how many owners
 * train at once.
 */
import { featureNamesOf, type DatasetSchema } from '../ml/dataset-schema.js';
import type { ModelSpec } from '../ml/model-spec.js';
import { createRng, shuffleInPlace } from '../ml/random.js';
import type { CommitteeDrawView, FederationView, FedscoreClient, RoundView } from './http-client.js';

/** A federated evaluation as the round shows it once closed. */
export type FederatedEvaluationView = NonNullable<NonNullable<RoundView['evaluation']>['result']>;
import { encodeRows, evaluate, type Evaluation, type Shard } from './local-data.js';
import { envelopeOverhead } from '../crypto/envelope.js';
import { SEED_BYTES } from '../crypto/shamir.js';
import { COMPACT_ENCODING, encodingNamed, maxAbsSum } from '../crypto/fixed-point.js';
import { weightCapFor } from '../crypto/secure-update.js';
import { packedFieldBytes } from '../crypto/share-codec.js';
import type { SelectionInput, ServerOptimizerSetting } from '../schemas/federations.schema.js';
import { OwnerAgent, type AgentEvent, type LocalData, type LocalRecords, type RoundFeed } from './owner-agent.js';
import { enrolOwner, readCharter, type Enrolment } from './owner-enrolment.js';
import { MemoryJournal } from './owner-state.js';
import { mapWithConcurrency } from './concurrency.js';
import { createTrainingPool } from './training-pool.js';
import type { trainLocal } from '../ml/train.js';
import type { PartialSumArgs, ShareUpload, ShareUploadArgs } from './secure-shares.js';

export const SIMULATION_MODES = ['plain', 'secure'] as const;
export type SimulationMode = (typeof SIMULATION_MODES)[number];

export interface SecureSimulation {
  committee: number;
  threshold: number;
  /** Fraction of owners that drop out of each round (never upload). */
  dropout: number;
  /** Committee members that drop out of each round (never upload a partial sum). */
  committeeDropout: number;
  clipNorm: number;
  /** The federation's field (default wide). */
  field?: 'wide' | 'compact';
}

export interface SimulationTraining {
  rounds: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Seeds the initial weights and, through `deriveSeed`, every owner's local shuffle. */
  seed: number;
  /** Omitted: the server's default for the model family. */
  serverOptimizer?: ServerOptimizerSetting;
  /** Owners' local weight decay λ; omitted, none. */
  l2?: number;
}

export type SimulationProgress =
  | { phase: 'enrol'; done: number; total: number }
  | { phase: 'statistics'; round: number; done: number; total: number }
  | { phase: 'round'; round: number; done: number; total: number }
  | { phase: 'evaluation'; round: number; done: number; total: number };

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
  /** From the round opening to its closing, on the server's clock (evaluation excluded). */
  seconds: number;
  /** Differential privacy spent up to and including this round. */
  epsilon?: number;
}

/** Differential privacy for a simulated federation: the server solves the noise multiplier from the budget. */
export interface SimulationPrivacy {
  epsilon: number;
  delta: number;
  clipNorm: number;
  /** Poisson sampling rate; omitted, every owner takes part in every round. */
  sampleRate?: number;
}

/** The federation's statistics round, when the schema left means and standard deviations to it. */
export interface SimulationStatistics {
  round: number;
  owners: number;
  seconds: number;
  /** The means and standard deviations it computed, by column. */
  columns: Record<string, { count: number | null; mean: number; std: number }>;
}

export interface SimulationOptions {
  /** A client carrying an operator key. */
  operator: FedscoreClient;
  name: string;
  /**
   * The federation's schema. Numeric columns without mean and std (each with a range) are computed by a
   * statistics round before training; then every owner needs its rows as read (`records`), and the
   * evaluation rows too, since they can only be encoded once the statistics exist.
   */
  schema: DatasetSchema;
  model: ModelSpec;
  training: SimulationTraining;
  mode: SimulationMode;
  /** Required when mode is 'secure'. */
  secure?: SecureSimulation;
  privacy?: SimulationPrivacy;
  /** One per owner: encoded rows, or rows as read. */
  shards: LocalData[];
  /** Rows the published versions are scored on (held out from every shard). */
  evaluation: Shard | LocalRecords;
  /**
   * The operator's validation set, CSV text in the schema's layout (held out from every shard): attached
   * before round 1, so the server scores every version, promotes the best and may stop early.
   */
  validationCsv?: string;
  /** Model selection and early stopping; omitted, the server's default (best by validation log loss). */
  selection?: SelectionInput;
  /**
   * After training, a federated evaluation of the version predictions use by default: every owner scores
   * it on its own rows and the server learns only the sum of their tallies (not with differential privacy).
   */
  evaluate?: boolean;
  concurrency: number;
  /**
   * Threads local training runs on: 1 (the default) trains on this thread, one owner at a time; N ≥ 2
   * starts a pool of N worker threads (training-pool.ts). The weights are the same either way.
   */
  workers?: number;
  /**
   * Who the owners are: by default agents in this process (`inProcessFleet`); `fedscore simulate
   * --processes` runs each as a `fedscore owner run` child process instead.
   */
  fleet?: OwnerFleet;
  onProgress?: (progress: SimulationProgress) => void;
  onStatistics?: (statistics: SimulationStatistics) => void;
  onRound?: (round: SimulationRound) => void;
  /** Aborting stops starting new owner steps; the run then rejects with the abort reason. */
  signal?: AbortSignal;
}

/** What a fleet of owners is told about the run it takes part in. */
export interface FleetRun {
  operator: FedscoreClient;
  federation: FederationView;
  enrolmentToken: string;
  options: SimulationOptions;
  /** Owners that take part in each round (the rest drop out). */
  participants: number;
  /** The operator's own view of the rounds, which in-process owners may share. */
  feed: RoundFeed;
  signal: AbortSignal;
  /** In-process owners train here (a worker pool when `workers` ≥ 2); absent, on this thread. */
  train?: typeof trainLocal;
  /** In-process committee members sum their inboxes here (the same pool); absent, on this thread. */
  partialSum?: (args: PartialSumArgs) => Promise<Uint8Array>;
  /** In-process owners seal their shares here (the same pool); absent, on this thread. */
  shareUpload?: (args: ShareUploadArgs) => Promise<ShareUpload>;
}

/** Enrols the run's owners, then runs them until the planned rounds are over. */
export interface OwnerFleet {
  /** Every owner, before round 1 opens (in-process owners enrol `concurrency` at a time: only their ids depend on the order). */
  enrol(run: FleetRun): Promise<void>;
  /** Resolves when every owner has stopped by itself; rejects with the first failure. */
  run(run: FleetRun): Promise<void>;
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
  /** The statistics round, if the federation computed its standardisation. */
  statistics?: SimulationStatistics;
  /** The noise multiplier the server chose for the budget, and the final ε. */
  privacy?: { epsilon: number; delta: number; noiseMultiplier: number; clipNorm: number; spent: number };
  /** With `evaluate`: the owners' evaluation of the final version on their own rows, as the server derived it. */
  federatedEvaluation?: FederatedEvaluationView;
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

/**
 * Owner `index`'s own seed in a run seeded with `seed`. An owner shuffles round r with
 * deriveSeed(ownerSeed, r, 0) — in-process here, and in `fedscore owner run --seed ownerSeed` — so a
 * simulation and separate agent processes given the same seeds train identically.
 */
export function ownerSeed(seed: number, index: number): number {
  return deriveSeed(seed, 0, index);
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const { training, shards, evaluation, concurrency } = options;
  const started = performance.now();
  if (shards.length === 0) throw new Error('runSimulation: expected at least one owner shard, got 0');
  if (('X' in evaluation ? evaluation.X : evaluation.records).length === 0) throw new Error('runSimulation: expected evaluation rows, got 0');
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new Error(`runSimulation: expected a positive whole concurrency, got ${concurrency}`);
  const workers = options.workers ?? 1;
  if (!(Number.isInteger(workers) && workers >= 1)) throw new Error(`runSimulation: expected a positive whole number of workers, got ${workers}`);
  const secure = options.mode === 'secure' ? options.secure : undefined;
  if (options.mode === 'secure' && !secure) throw new Error('runSimulation: secure mode needs committee settings');
  const dropouts = secure ? Math.round(shards.length * secure.dropout) : 0;
  const participants = shards.length - dropouts;
  const privacy = options.privacy;
  if (privacy && dropouts > 0) throw new Error('runSimulation: with differential privacy, owners take part by Poisson sampling (sampleRate), not by simulated dropouts');
  const sampled = privacy?.sampleRate !== undefined && privacy.sampleRate < 1;
  if (privacy && options.evaluate) throw new Error('runSimulation: federated evaluation releases exact counts, which a differentially private federation does not allow');

  // Everything stops with the first failure, an owner's or the operator's.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort(options.signal!.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const operator = options.operator.withSignal(stop.signal);
  const pool = workers >= 2 && !options.fleet ? createTrainingPool(workers) : undefined;
  try {
    const { federation, enrolmentToken } = await operator.createFederation({
      name: options.name,
      datasetSchema: options.schema,
      model: options.model,
      training: {
        rounds: training.rounds,
        localEpochs: training.epochs,
        batchSize: training.batchSize,
        learningRate: training.learningRate,
        // Sampled DP rounds close when every sampled owner is in; the minimum only matters at a deadline.
        minOwners: sampled ? (secure ? 2 : 1) : participants,
        autoAdvance: true,
        seed: training.seed,
        ...(training.serverOptimizer && { serverOptimizer: training.serverOptimizer }),
        ...(training.l2 !== undefined && { l2: training.l2 }),
      },
      aggregation: options.mode,
      ...(privacy && {
        privacy: {
          epsilon: privacy.epsilon,
          delta: privacy.delta,
          clipNorm: privacy.clipNorm,
          sampling: sampled ? { kind: 'poisson' as const, rate: privacy.sampleRate! } : { kind: 'all' as const },
          // Simulated owners never drop out, so each adds noise for exactly the sum it will be part of.
          dropoutTolerance: 0,
        },
      }),
      ...(secure && { secure: { committee: { size: secure.committee, threshold: secure.threshold }, clipNorm: secure.clipNorm, field: secure.field ?? 'wide' } }),
      ...(options.selection && { selection: options.selection }),
    });
    if (options.validationCsv !== undefined) await operator.putValidationSet(federation.id, options.validationCsv);
    assertSameFeatures(federation, options.schema);

    const feed = new SharedRoundFeed(operator, federation.id);
    const fleet = options.fleet ?? inProcessFleet();
    const run: FleetRun = { operator, federation, enrolmentToken, options, participants, feed, signal: stop.signal, ...(pool && { train: pool.train, partialSum: pool.partialSum, shareUpload: pool.shareUpload }) };
    await fleet.enrol(run);
    const running = runFleet(fleet, run, stop);
    feed.start(stop.signal);

    await operator.openRound(federation.id, {});
    // Federated standardisation first, when the schema left it to the owners: round 1 is its statistics round.
    const statistics = federation.standardisation === null ? await followStatistics(operator, feed, federation.id) : undefined;
    if (statistics) options.onStatistics?.(statistics);
    const scored = await evaluationRows(operator, federation.id, evaluation);
    const rounds: SimulationRound[] = [];
    let finalWeights = (await operator.downloadWeights(federation.id, 0)).weights;
    let final: Evaluation & { modelVersion: number } = { ...evaluate(options.model, finalWeights, scored.X, scored.y), modelVersion: 0 };
    const first = statistics ? statistics.round + 1 : 1;
    for (let roundNumber = first; roundNumber < first + training.rounds; roundNumber++) {
      const settled = await followRound(operator, feed, federation.id, roundNumber, secure);
      // The server's own times: owners start on a round the moment it opens, while the previous one is scored here.
      const seconds = (Date.parse(settled.closedAt ?? settled.openedAt) - Date.parse(settled.openedAt)) / 1000;
      const uploadBytesPerOwner = options.mode === 'secure' ? meanUploadBytes(settled) : undefined;
      const partialSums = secure ? settled.secure!.partialSumCount : undefined;
      const extras = { ...(uploadBytesPerOwner !== undefined && { uploadBytesPerOwner }), ...(partialSums !== undefined && { partialSums }) };
      let result: SimulationRound;
      if (settled.status === 'failed') {
        // Only secure mode can fail here, when more than k − t committee members dropped out.
        if (!secure || secure.committeeDropout <= secure.committee - secure.threshold) {
          throw new Error(`runSimulation: round ${roundNumber} failed: ${settled.failureReason ?? 'no reason given'}`);
        }
        result = { round: roundNumber, status: 'failed', owners: 0, modelVersion: final.modelVersion, accuracy: final.accuracy, auc: final.auc, logLoss: final.logLoss, seconds, ...extras, failureReason: settled.failureReason ?? 'failed' };
        if (roundNumber < first + training.rounds - 1) await operator.openRound(federation.id, {}); // no auto-advance after a failure
      } else {
        if (settled.modelVersion === null) throw new Error(`runSimulation: round ${roundNumber} closed without a model version`);
        const published = await operator.downloadWeights(federation.id, settled.modelVersion);
        finalWeights = published.weights;
        const evaluated = evaluate(options.model, finalWeights, scored.X, scored.y);
        final = { ...evaluated, modelVersion: published.version };
        const owners = settled.secure?.includedCount ?? settled.submissionCount;
        if (!sampled && owners !== participants) throw new Error(`runSimulation: round ${roundNumber} aggregated ${owners} owners, expected ${participants}`);
        const version = privacy ? await operator.getModel(federation.id, published.version) : undefined;
        result = {
          round: roundNumber,
          status: 'closed',
          owners,
          modelVersion: published.version,
          accuracy: evaluated.accuracy,
          auc: evaluated.auc,
          logLoss: evaluated.logLoss,
          seconds,
          ...extras,
          ...(version?.privacy && { epsilon: version.privacy.epsilon }),
        };
      }
      rounds.push(result);
      options.onRound?.(result);
      if (settled.endsTraining) break; // early stopping: no round follows this one
    }
    await running;
    // What predictions use by default: the promoted version when the server selected one.
    const served = (await operator.getFederation(federation.id)).defaultModelVersion;
    if (served !== null && served !== final.modelVersion) {
      const { weights } = await operator.downloadWeights(federation.id, served);
      final = { ...evaluate(options.model, weights, scored.X, scored.y), modelVersion: served };
    }
    const state = privacy ? (await operator.getFederation(federation.id)).privacy : null;
    const federatedEvaluation = options.evaluate ? await evaluateFederated(run, fleet, final.modelVersion, stop) : undefined;
    return {
      ...(federatedEvaluation && { federatedEvaluation }),
      ...(statistics && { statistics }),
      ...(state && { privacy: { epsilon: state.epsilon, delta: state.delta, noiseMultiplier: state.noiseMultiplier, clipNorm: state.clipNorm, spent: state.spent.epsilon } }), federationId: federation.id, mode: options.mode, owners: shards.length, rounds, final, finalWeights, totalSeconds: (performance.now() - started) / 1000 };
  } catch (error) {
    // An owner's failure aborts everyone; report the owner's error, not the operator's "aborted".
    throw stop.signal.aborted && stop.signal.reason !== undefined && !options.signal?.aborted ? stop.signal.reason : error;
  } finally {
    stop.abort(new Error('runSimulation: finished'));
    options.signal?.removeEventListener('abort', onOuterAbort);
    await pool?.close();
  }
}

/** Runs the fleet; its first failure stops everything else (the operator's waits, the feed). */
function runFleet(fleet: OwnerFleet, run: FleetRun, stop: AbortController): Promise<void> {
  return fleet.run(run).catch((error: unknown) => {
    stop.abort(error);
    throw error;
  });
}

/**
 * An evaluation round of `modelVersion`, opened after training so the owners — started again, as real ones
 * would be — find it as the current round, score the version on their rows and stop once it settles.
 */
async function evaluateFederated(run: FleetRun, fleet: OwnerFleet, modelVersion: number, stop: AbortController): Promise<FederatedEvaluationView> {
  const { operator, federation, feed, options } = run;
  const opened = await operator.openRound(federation.id, { kind: 'evaluation', modelVersion });
  // In-process owners read the shared feed: start them once it shows the new round, or they would see
  // the last training round, find the planned rounds over and stop.
  let seen = await feed.next('none');
  while (!seen || seen.number < opened.number) seen = await feed.next(seen?.tag ?? 'none');
  const running = runFleet(fleet, run, stop);
  const settled = await followRound(operator, feed, federation.id, opened.number, options.mode === 'secure' ? options.secure : undefined);
  await running;
  if (settled.status !== 'closed' || !settled.evaluation?.result) throw new Error(`runSimulation: the evaluation round ${opened.number} failed: ${settled.failureReason ?? 'no reason given'}`);
  return settled.evaluation.result;
}

/**
 * The default fleet: every owner an `OwnerAgent` in this process, with its journal in memory, reading
 * rounds from the operator's shared feed; a gate bounds how many train at once.
 */
export function inProcessFleet(): OwnerFleet {
  const enrolments: Enrolment[] = [];
  return {
    async enrol({ operator, federation, enrolmentToken, options, signal }) {
      const { secure, shards } = options;
      // One read of the charter for the whole fleet: every in-process owner pins the same document.
      const charter = await readCharter(operator, federation.id);
      // In secure mode the first 2k owners (or everyone) volunteer for committees, each with its own identity.
      // Concurrent, as a real fleet's enrolments would be; owner i keeps index i whatever order they finish in.
      let done = 0;
      const enrolled = await mapWithConcurrency(
        [...shards.keys()],
        options.concurrency,
        async (index) => {
          const enrolment = await enrolOwner({
            client: operator,
            federationId: federation.id,
            enrolmentToken,
            name: `owner-${index + 1}`,
            role: 'owner',
            charter,
            federation,
            registerKey: secure !== undefined && index < 2 * secure.committee,
          });
          options.onProgress?.({ phase: 'enrol', done: ++done, total: shards.length });
          return enrolment;
        },
        signal,
      );
      enrolments.push(...enrolled);
    },
    async run({ federation, options, participants, feed, signal, train, partialSum, shareUpload }) {
      const { training, shards } = options;
      const secure = options.mode === 'secure' ? options.secure : undefined;
      const dropouts = shards.length - participants;
      const submitted = new Map<number, number>();
      const gate = createGate(options.concurrency);
      // Every in-process owner checks the same draw: fetch it once per round (each still recomputes it).
      const draws = sharedCommitteeDraws(enrolments[0]?.owner.withSignal(signal), federation.id);
      const agents = enrolments.map(
        (enrolment, index) =>
          new OwnerAgent({
            client: enrolment.owner.withSignal(signal),
            ownerId: enrolment.ownerId,
            federation,
            data: shards[index]!,
            ...(enrolment.identity && { identity: enrolment.identity }),
            charter: enrolment.charter,
            committeeDraws: draws,
            journal: new MemoryJournal(),
            localSeed: (round) => deriveSeed(ownerSeed(training.seed, index), round, 0),
            rounds: feed,
            gate,
            ...(train && { train }),
            ...(partialSum && { partialSum }),
            ...(shareUpload && { shareUpload }),
            // Dropouts are simulated in training rounds; a statistics round waits for every owner.
            ...(dropouts > 0 && { takesPart: (round: RoundView) => round.kind !== 'training' || participantsOf(shards.length, participants, training.seed, round.number).has(index) }),
            ...(secure && secure.committeeDropout > 0 && { sums: (round: RoundView) => round.kind !== 'training' || !droppedSeats(round, secure.committeeDropout, training.seed).has(enrolment.ownerId) }),
            onEvent: (event: AgentEvent) => {
              if (event.type !== 'submitted') return;
              const done = (submitted.get(event.round) ?? 0) + 1;
              submitted.set(event.round, done);
              if (event.kind === 'statistics') options.onProgress?.({ phase: 'statistics', round: event.round, done, total: shards.length });
              else if (event.kind === 'evaluation') options.onProgress?.({ phase: 'evaluation', round: event.round, done, total: shards.length });
              else options.onProgress?.({ phase: 'round', round: event.round, done, total: participants });
            },
            signal,
          }),
      );
      await Promise.all(agents.map((agent) => agent.run()));
    },
  };
}

/**
 * Why `owners` owners at `clipNorm` cannot share in the compact field (a round would refuse to open: not
 * even a sample weight of 1 keeps their sum inside its headroom), or null when they can.
 */
export function compactFieldOverflow(owners: number, clipNorm: number): string | null {
  if (weightCapFor(COMPACT_ENCODING, owners, clipNorm) >= 1) return null;
  return `${owners} owners at clip norm ${clipNorm} could sum beyond the compact field's headroom (owners × max(clip norm, 1) ≤ ${Math.floor(maxAbsSum(COMPACT_ENCODING))})`;
}

/**
 * Bytes one owner uploaded in a secure round: k envelopes, t − 1 of them carrying a seed and the rest a
 * full share vector. Computed from the round's shape, so every fleet reports it the same way.
 */
function meanUploadBytes(round: RoundView): number | undefined {
  const secure = round.secure;
  if (!secure) return undefined;
  const k = secure.committee.length;
  const t = secure.threshold;
  const overhead = envelopeOverhead();
  return (t - 1) * (overhead + 1 + SEED_BYTES) + (k - t + 1) * (overhead + 1 + packedFieldBytes(secure.vectorLength, encodingNamed(secure.field).field));
}

/** Waits for the statistics round (round 1) to close, and reports what it computed. */
async function followStatistics(operator: FedscoreClient, feed: SharedRoundFeed, federationId: string): Promise<SimulationStatistics> {
  const settled = await followRound(operator, feed, federationId, 1, undefined);
  if (settled.status !== 'closed') throw new Error(`runSimulation: the statistics round failed: ${settled.failureReason ?? 'no reason given'}`);
  const { standardisation } = await operator.getFederation(federationId);
  const columns = Object.fromEntries(Object.entries(standardisation!.columns).map(([name, { count, mean, std }]) => [name, { count, mean, std }]));
  const seconds = (Date.parse(settled.closedAt!) - Date.parse(settled.openedAt)) / 1000;
  return { round: settled.number, owners: settled.secure?.includedCount ?? settled.submissionCount, seconds, columns };
}

/** The evaluation rows encoded as the federation encodes them (after its statistics round, when it has one). */
async function evaluationRows(operator: FedscoreClient, federationId: string, evaluation: Shard | LocalRecords): Promise<Shard> {
  if ('X' in evaluation) return evaluation;
  const { datasetSchema } = await operator.getFederation(federationId);
  return encodeRows(datasetSchema, evaluation);
}

/** The owners encode locally; if the server's feature order differed, every weight would be misread. */
function assertSameFeatures(federation: FederationView, schema: DatasetSchema): void {
  const local = featureNamesOf(schema);
  const remote = federation.featureNames;
  const firstDifference = local.findIndex((name, i) => name !== remote[i]);
  if (local.length !== remote.length || firstDifference >= 0) {
    throw new Error(
      `runSimulation: the server encodes ${remote.length} features and this client ${local.length}` +
        (firstDifference >= 0 ? `; they first differ at ${firstDifference} (${remote[firstDifference]} vs ${local[firstDifference]})` : ''),
    );
  }
}

/**
 * Waits until round `number` is closed or failed. A secure round whose committee dropped below t cannot
 * close by itself: once every member still present has uploaded, the operator closes it (it fails).
 */
async function followRound(operator: FedscoreClient, feed: RoundFeed, federationId: string, number: number, secure: SecureSimulation | undefined): Promise<RoundView> {
  const present = secure ? secure.committee - secure.committeeDropout : 0;
  let after = 'none';
  for (;;) {
    const current = await feed.next(after);
    after = current?.tag ?? 'none';
    if (!current || current.number < number) continue;
    const round = current.number === number ? current : await operator.getRound(federationId, number);
    if (round.status === 'closed' || round.status === 'failed') return round;
    if (secure && present < secure.threshold && round.status === 'summing') {
      // Partial sums do not change the round's tag; look at the count directly until the present members are done.
      let view = round;
      while (view.status === 'summing' && view.secure!.partialSumCount < present) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        view = await operator.getRound(federationId, number);
      }
      return view.status === 'summing' ? operator.closeRound(federationId, number) : view;
    }
  }
}

/**
 * One long poll for the whole process: every in-process owner reads the round from here instead of
 * holding a request of its own (30,000 owners would otherwise be 30,000 open connections).
 */
class SharedRoundFeed implements RoundFeed {
  #latest: RoundView | null = null;
  #known = false;
  #waiters = new Set<() => void>();
  #failure: unknown;

  constructor(
    private readonly operator: FedscoreClient,
    private readonly federationId: string,
  ) {}

  start(signal: AbortSignal): void {
    void (async () => {
      let after = 'none';
      while (!signal.aborted) {
        try {
          const round = await this.operator.waitForRound(this.federationId, after, 30);
          after = round?.tag ?? 'none';
          this.#publish(round);
        } catch (error) {
          this.#failure = error;
          break;
        }
      }
      // Nobody may wait on a feed that no longer moves.
      this.#failure ??= signal.reason ?? new Error('SharedRoundFeed: stopped');
      this.#wakeAll();
    })();
  }

  async next(after: string): Promise<RoundView | null> {
    for (;;) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#known && (this.#latest?.tag ?? 'none') !== after) return this.#latest;
      await new Promise<void>((resolve) => this.#waiters.add(resolve));
    }
  }

  readonly #settled = new Map<number, Promise<RoundView>>();

  /** One operator read of a settled round for every in-process owner (RoundFeed.settled). */
  settled(number: number): Promise<RoundView> {
    let view = this.#settled.get(number);
    if (!view) {
      view = this.operator.getRound(this.federationId, number);
      this.#settled.set(number, view);
      // Only a settled view is final; anything else (or a failure) is read again next time.
      view.then((round) => round.status === 'closed' || round.status === 'failed' || this.#settled.delete(number), () => this.#settled.delete(number));
    }
    return view;
  }

  #publish(round: RoundView | null): void {
    this.#latest = round;
    this.#known = true;
    this.#wakeAll();
  }

  #wakeAll(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }
}

/** At most `limit` of the gated tasks run at once, in the order they asked. */
/** One GET of each round's committee draw for all in-process owners (lottery policy). */
function sharedCommitteeDraws(client: FedscoreClient | undefined, federationId: string): (round: number) => Promise<CommitteeDrawView> {
  const draws = new Map<number, Promise<CommitteeDrawView>>();
  return (round) => {
    if (!client) throw new Error('sharedCommitteeDraws: no owner enrolled');
    let draw = draws.get(round);
    if (!draw) {
      draw = client.getCommitteeDraw(federationId, round);
      draws.set(round, draw);
      draw.catch(() => draws.delete(round));
    }
    return draw;
  };
}

function createGate(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  return async (work) => {
    if (running >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
}

/** Owners that take part in a round when some drop out: a seeded choice, so runs repeat. */
function participantsOf(owners: number, count: number, seed: number, roundNumber: number): Set<number> {
  const chosen = shuffleInPlace(Array.from({ length: owners }, (_, i) => i), createRng(deriveSeed(seed, roundNumber, 0x5eed)));
  return new Set(chosen.slice(0, count));
}

/** Committee members that drop out of a round: a seeded choice among its seats. */
function droppedSeats(round: RoundView, count: number, seed: number): Set<string> {
  const seats = shuffleInPlace([...(round.secure?.committee ?? [])], createRng(deriveSeed(seed, round.number, 0xc0de)));
  return new Set(seats.slice(0, count).map((seat) => seat.ownerId));
}
