/**
 * The data owner's side of a federation, as one long-running loop: wait for the current round to change
 * (the server holds the request, so idle agents cost nothing), and act on what it now is —
 *
 *   open     a training round: train on the local rows from the round's base model and submit — new
 *            weights in plain mode, encrypted Shamir shares of the clipped change in secure mode; a
 *            statistics round (the federation's first, when the operator gave no means and stds):
 *            submit, per column, the count, Σx′ and Σx′² of the local values clipped to its range — in
 *            the clear in plain mode, as shares in secure mode; an evaluation round: score the round's
 *            version on the local rows and submit only tallies (per score bin the negatives, positives and
 *            score sum; the summed log loss and Brier score). The records themselves never leave;
 *   summing  if this owner holds a committee seat, open the envelopes addressed to it, add them up and
 *            upload the partial sum;
 *   closed / failed  note it, and stop once the federation's planned rounds are over (or an evaluation
 *            opened after them has settled).
 *
 * Every step is journalled, and an update is saved before it is sent, so an agent restarted after a crash
 * sends the update it already trained instead of training again, never submits twice (the server's
 * `participation` says what it already holds) and still delivers a partial sum it owes. `fedscore owner
 * run` drives this with a state directory; `fedscore simulate` runs many in one process with a journal
 * in memory.
 */
import type { Charter } from '../crypto/charter.js';
import { isSampled } from '../crypto/dp/sampling.js';
import { generateX25519KeyPair } from '../crypto/envelope.js';
import { signCommitteeKey, type Ed25519KeyPair } from '../crypto/identity.js';
import type { RawRecord } from '../ml/dataset-schema.js';
import { ownerMoments } from '../ml/standardisation.js';
import { scoreTallies } from '../ml/federated-evaluation.js';
import { modelLayout, parameterCount } from '../ml/model-spec.js';
import { predictProba, trainLocal } from '../ml/train.js';
import { FedscoreApiError, type CommitteeDrawView, type FederationView, type FedscoreClient, type RoundView } from './http-client.js';
import { encodeRows } from './local-data.js';
import { committeeProblem } from './committee-trust.js';
import { journalSummary, type AgentJournal, type PendingUpload } from './owner-state.js';
import { buildShareUpload, partialSumValues, type PartialSumArgs, type ShareUpload, type ShareUploadArgs } from './secure-shares.js';

export interface LocalRows {
  /** Encoded with the federation's schema, in `federation.featureNames` order. */
  X: Float32Array[];
  y: Uint8Array;
}

/**
 * An owner's usable rows as read from its file (every value present and fitting the schema, the label
 * included): what a statistics round summarises, encoded for training once the federation's means and
 * standard deviations exist.
 */
export interface LocalRecords {
  records: RawRecord[];
  /** The physical line of each record, for messages. */
  lineNumbers: number[];
}

/** Encoded rows can only train (the federation's statistics must exist); records can do both. */
export type LocalData = LocalRows | LocalRecords;

export interface OwnerAgentOptions {
  /** Carries this owner's API key (and, for a real agent, a retry policy and a stop signal). */
  client: FedscoreClient;
  ownerId: string;
  /** The federation as the server describes it: model, training settings, feature order, mode. */
  federation: FederationView;
  /** The local rows; absent for an aggregator node, which only sums. */
  data?: LocalData;
  /** This party's identity: signs the key it publishes for each round it is seated in (committee duty). */
  identity?: Ed25519KeyPair;
  /** The charter pinned at enrolment: the committee every secure round seats is checked against it before sharing. */
  charter: Charter;
  /** Lottery policy: where a round's committee draw comes from; default this owner's own GET. A simulation shares one. */
  committeeDraws?(round: number): Promise<CommitteeDrawView>;
  journal: AgentJournal;
  /** The seed of the local shuffle in a round; a simulation derives it from (seed, round, owner). */
  localSeed(trainingRound: number): number;
  /** Stop after taking part (submitting or summing) in this many rounds. */
  maxRounds?: number;
  /** How long one wait for a round change may last on the server (≤ 60 s). */
  waitSeconds?: number;
  /**
   * Where round changes come from. Default: this owner's own long poll (`client.waitForRound`), which also
   * carries its `participation`. A simulation shares one feed among all its in-process owners instead.
   */
  rounds?: RoundFeed;
  /** Simulation only: whether this owner takes part in / sums a round (dropouts). */
  takesPart?(round: RoundView): boolean;
  sums?(round: RoundView): boolean;
  /**
   * Simulation only: bounds how many owners of one process work on a round at once — fetching the model,
   * training, sending — so 30,000 in-process owners do not open 30,000 connections at the same moment.
   */
  gate?<T>(work: () => Promise<T>): Promise<T>;
  /**
   * Local training; default `trainLocal` on this thread. A simulation passes a worker pool's (training-pool.ts),
   * which gives the same weights bit for bit.
   */
  train?: typeof trainLocal;
  /** Sealing a trained update to the committee; default `buildShareUpload` on this thread. A simulation passes its pool's. */
  shareUpload?(args: ShareUploadArgs): ShareUpload | Promise<ShareUpload>;
  /** Opening and summing a committee inbox; default `partialSumValues` on this thread. A simulation passes its pool's. */
  partialSum?(args: PartialSumArgs): Uint8Array | Promise<Uint8Array>;
  onEvent?(event: AgentEvent): void;
  /**
   * Stops the agent between steps: a wait for the next round is cut short, a step under way (training,
   * sending) finishes first. To abort requests in flight as well, give the client a signal too.
   */
  signal?: AbortSignal;
}

/** The current round once its tag differs from `after` (or a wait ran out); null while there is none. */
export interface RoundFeed {
  next(after: string): Promise<RoundView | null>;
  /**
   * A settled round as any member of the federation sees it (without this owner's participation): one read
   * shared by every in-process owner, where each would otherwise ask the server for the same view as the
   * next round opens. Absent, an owner reads its own.
   */
  settled?(number: number): Promise<RoundView>;
}

export type AgentEvent =
  | { type: 'submitted'; round: number; kind: RoundView['kind']; samples: number; loss: number | null; uploadBytes?: number; resent: boolean }
  | { type: 'already-submitted'; round: number }
  | { type: 'missed'; round: number; reason: string }
  | { type: 'refused'; round: number; reason: string }
  | { type: 'keyed'; round: number; position: number }
  | { type: 'not-sampled'; round: number; rate: number }
  | { type: 'summed'; round: number; position: number; owners: number | null; resumed: boolean }
  | { type: 'missed-sum'; round: number; reason: string }
  | { type: 'round-ended'; round: number; kind: RoundView['kind']; status: 'closed' | 'failed'; modelVersion: number | null; failureReason: string | null };

export interface AgentSummary {
  federationId: string;
  ownerId: string;
  /** Rounds this owner's update or shares are in. */
  submitted: number[];
  /** Rounds it summed as a committee member. */
  committee: number[];
  /** Rounds it prepared an update for that closed without it. */
  missed: number[];
  stoppedBy: 'planned-rounds-over' | 'training-stopped-early' | 'evaluation-over' | 'max-rounds' | 'signal';
}

const DEFAULT_WAIT_SECONDS = 30;

export class OwnerAgent {
  readonly #o: OwnerAgentOptions;
  readonly #federationId: string;
  /** Rounds whose end this agent already reported. */
  readonly #ended = new Set<number>();
  /** Rounds whose seed left this owner out (reported once each). */
  readonly #notSampled = new Set<number>();
  /** Rounds this member published its committee key for (the round view may not show it yet). */
  readonly #keyed = new Set<number>();
  /** The federation as last read: its schema gains means and standard deviations after a statistics round. */
  #federation: FederationView;
  /** The local rows encoded with #federation's schema. */
  #encoded: LocalRows | undefined;

  constructor(options: OwnerAgentOptions) {
    const { federation, data } = options;
    if (data && 'records' in data) {
      if (data.records.length === 0) throw new Error('OwnerAgent: expected at least one local row, got 0');
    } else if (data) {
      if (data.X.length === 0) throw new Error('OwnerAgent: expected at least one local row, got 0');
      if (data.y.length !== data.X.length) throw new Error(`OwnerAgent: expected one label per row, got ${data.y.length} for ${data.X.length} rows`);
      const width = federation.featureNames.length;
      const bad = data.X.findIndex((row) => row.length !== width);
      if (bad >= 0) throw new Error(`OwnerAgent: expected rows of ${width} encoded features (federation ${federation.id}), row ${bad} has ${data.X[bad]!.length}`);
    }
    if (federation.aggregation === 'secure' && !options.identity && !data) {
      throw new Error('OwnerAgent: an aggregator node of a secure federation needs its identity key');
    }
    this.#o = options;
    this.#federationId = federation.id;
    this.#federation = federation;
    this.#encoded = data && 'X' in data ? data : undefined;
  }

  /** Waits for rounds and takes part in them until the planned rounds are over, maxRounds is reached, or the signal aborts. */
  async run(): Promise<AgentSummary> {
    const { client, signal } = this.#o;
    let after = 'none';
    for (;;) {
      if (signal?.aborted) return this.#summary('signal');
      let round: RoundView | null;
      try {
        round = this.#o.rounds
          ? await this.#o.rounds.next(after)
          : await (signal ? client.withSignal(signal) : client).waitForRound(this.#federationId, after, this.#o.waitSeconds ?? DEFAULT_WAIT_SECONDS);
      } catch (error) {
        if (signal?.aborted) return this.#summary('signal');
        throw error;
      }
      if (round === null) continue; // no round yet: wait again
      // The whole round waits until every seat has its key: a member publishes before any bookkeeping.
      if (round.status === 'open') await this.#publishCommitteeKey(round);
      await this.#reportEarlierEnds(round);
      await this.handle(round);
      if (signal?.aborted) return this.#summary('signal');
      const done = this.#done(round);
      if (done) return this.#summary(done);
      after = round.tag;
    }
  }

  /** One look at a round: submit, sum, or just note how it ended. Exposed so tests can drive single steps. */
  async handle(round: RoundView): Promise<void> {
    await this.#dropSpentRoundKeys(round);
    if (round.status === 'open') await this.#takePart(round);
    else if (round.status === 'summing') {
      await this.#noteMissed(round, 'the round froze its included set before this update arrived');
      await this.#sum(round);
    } else {
      await this.#noteMissed(round, `the round ${round.status} before this update arrived`);
      this.#reportEnd(round);
    }
  }

  async #takePart(round: RoundView): Promise<void> {
    const { data, journal } = this.#o;
    await this.#publishCommitteeKey(round);
    if (!data) return; // aggregator nodes hold no data
    const number = round.number;
    if (this.#journalled('submitted', number) || this.#journalled('missed', number)) return;
    if (round.participation?.submitted) {
      // Sent before a crash, acknowledged by the server, not yet journalled: nothing to send again.
      await journal.clearPending(number);
      await journal.record({ event: 'submitted', round: number, samples: null, loss: null, resumed: true });
      this.#o.onEvent?.({ type: 'already-submitted', round: number });
      return;
    }
    if (this.#o.takesPart && !this.#o.takesPart(round)) return;
    // A sampled round: this owner checks its own coin from the round's public seed.
    const sampling = round.sampling;
    if (sampling && !isSampled(sampling.seed, this.#o.ownerId, sampling.rate)) {
      if (!this.#notSampled.has(number)) this.#o.onEvent?.({ type: 'not-sampled', round: number, rate: sampling.rate });
      this.#notSampled.add(number);
      return;
    }
    if (round.secure && !round.secure.keyed) return; // the committee is still publishing its keys: wait for the tag to change
    const work = async () => {
      let pending = await journal.loadPending(number);
      const resent = pending !== undefined;
      if (!pending && round.secure) {
        // Nothing is sealed to a committee this owner has not checked against its pinned charter.
        const problem = await this.#committeeProblem(round);
        if (problem) {
          await journal.record({ event: 'missed', round: number, reason: `refused to share: ${problem}` });
          this.#o.onEvent?.({ type: 'refused', round: number, reason: problem });
          return;
        }
      }
      if (!pending) {
        const prepared = await this.#prepare(round);
        if (!prepared) return;
        pending = prepared;
        await journal.savePending(pending);
        await journal.record({ event: 'trained', round: number, samples: pending.samples, loss: pending.loss });
      }
      await this.#send(round, pending, resent);
    };
    await (this.#o.gate ? this.#o.gate(work) : work());
  }

  /**
   * Committee duty, first part: a member seated in an open round generates an X25519 key for this round
   * only, saves it (so a restart publishes the same one), signs it with its identity — bound to the
   * federation, round, seat and member — and publishes it. Owners share only once every seat has one.
   */
  async #publishCommitteeKey(round: RoundView): Promise<void> {
    const { identity, journal, client } = this.#o;
    const seat = round.secure?.committee.find((s) => s.ownerId === this.#o.ownerId);
    if (!seat || !identity || seat.publicKey !== null || this.#keyed.has(round.number)) return;
    let key = await journal.loadRoundKey(round.number);
    if (!key) {
      const pair = generateX25519KeyPair();
      key = { round: round.number, publicKey: Buffer.from(pair.publicKey).toString('base64'), privateKey: Buffer.from(pair.privateKey).toString('base64') };
      await journal.saveRoundKey(key);
    }
    const statement = { federationId: this.#federationId, roundNumber: round.number, position: seat.position, memberId: this.#o.ownerId, publicKey: new Uint8Array(Buffer.from(key.publicKey, 'base64')) };
    try {
      await client.publishCommitteeKey(this.#federationId, round.number, { publicKey: key.publicKey, signature: Buffer.from(signCommitteeKey(statement, identity)).toString('base64') });
    } catch (error) {
      // The round moved on before the key arrived: nothing to publish any more.
      if (error instanceof FedscoreApiError && error.status === 409 && error.problemSlug === 'round-not-open') return;
      if (error instanceof FedscoreApiError && error.status === 409 && error.problemSlug === 'committee-key-already-set') {
        // The seat holds a key this state directory no longer has (restored from an old backup?): this
        // member cannot open the round's shares, so it sits this sum out instead of stopping.
        await journal.clearRoundKey(round.number);
        const reason = `seat ${seat.position} already has a different key for round ${round.number}; this member's state has lost the one it published, so it cannot sum this round`;
        if (!this.#journalled('missed-sum', round.number)) await journal.record({ event: 'missed-sum', round: round.number, reason });
        this.#o.onEvent?.({ type: 'missed-sum', round: round.number, reason });
        return;
      }
      throw error;
    }
    this.#keyed.add(round.number);
    this.#o.onEvent?.({ type: 'keyed', round: round.number, position: seat.position });
  }

  /**
   * A round key is needed until this member's partial sum is in. Once its round has settled — or a later
   * round is current, which means it has — the key only endangers that round's envelopes: delete it. (A
   * member not needed for the sum, t of k being enough, never sums and gets here.)
   */
  async #dropSpentRoundKeys(round: RoundView): Promise<void> {
    const settled = round.status === 'closed' || round.status === 'failed';
    for (const kept of await this.#o.journal.roundKeyRounds()) {
      if (kept < round.number || (kept === round.number && settled)) await this.#o.journal.clearRoundKey(kept);
    }
  }

  /** Why this owner will not share with the round's committee, checked against what it pinned; null when it will. */
  async #committeeProblem(round: RoundView): Promise<string | null> {
    const fetchDraw = this.#o.committeeDraws ?? ((n: number) => this.#o.client.getCommitteeDraw(this.#federationId, n));
    const draw = this.#o.charter.secure?.policy.kind === 'lottery' ? await fetchDraw(round.number) : undefined;
    return committeeProblem({ federationId: this.#federationId, charter: this.#o.charter, round, ...(draw && { draw }), pins: this.#o.journal.pins });
  }

  /** Builds what goes to the server: moments in a statistics round, tallies in an evaluation round, trained weights otherwise. */
  async #prepare(round: RoundView): Promise<PendingUpload | undefined> {
    if (round.kind === 'statistics') return this.#prepareStatistics(round);
    if (round.kind === 'evaluation') return this.#prepareEvaluation(round);
    return this.#prepareTraining(round);
  }

  /** Scores the round's version on this owner's rows; only the tallies leave (summed by the committee in secure mode). */
  async #prepareEvaluation(round: RoundView): Promise<PendingUpload> {
    const evaluation = round.evaluation!;
    const data = await this.#trainingRows();
    const model = await this.#o.client.downloadWeights(this.#federationId, evaluation.modelVersion);
    const tallies = scoreTallies(predictProba(this.#federation.model, model.weights, data.X), data.y, evaluation.bins);
    const rows = data.X.length;
    if (this.#federation.aggregation === 'secure') {
      const upload = buildShareUpload({ federationId: this.#federationId, ownerId: this.#o.ownerId, round, sums: tallies });
      return { kind: 'shares', round: round.number, samples: rows, loss: null, uploadBytes: upload.envelopeBytes, body: upload.body };
    }
    return { kind: 'evaluation', round: round.number, samples: rows, loss: null, body: { tallies: Array.from(tallies) } };
  }

  /** Per column of the round, the count, Σx′ and Σx′² of this owner's values clipped to the column's range. */
  #prepareStatistics(round: RoundView): PendingUpload {
    const data = this.#o.data!;
    if (!('records' in data)) {
      throw new Error(`OwnerAgent: round ${round.number} is a statistics round; it needs this owner's rows as read (records), not encoded rows`);
    }
    const moments = ownerMoments(this.#federation.datasetSchema, round.statistics!.columns, data.records);
    const rows = data.records.length;
    if (this.#federation.aggregation === 'secure') {
      const upload = buildShareUpload({ federationId: this.#federationId, ownerId: this.#o.ownerId, round, sums: moments });
      return { kind: 'shares', round: round.number, samples: rows, loss: null, uploadBytes: upload.envelopeBytes, body: upload.body };
    }
    return { kind: 'statistics', round: round.number, samples: rows, loss: null, body: { moments: Array.from(moments) } };
  }

  /**
   * The local rows encoded with the federation's means and standard deviations; after a statistics round
   * the federation is read again first, since they were computed there.
   */
  async #trainingRows(): Promise<LocalRows> {
    if (this.#encoded) return this.#encoded;
    const data = this.#o.data as LocalRecords;
    if (this.#federation.standardisation === null) this.#federation = await this.#o.client.getFederation(this.#federationId);
    if (this.#federation.standardisation === null) throw new Error(`OwnerAgent: federation ${this.#federationId} is training before its statistics round closed`);
    const encoded = encodeRows(this.#federation.datasetSchema, { records: data.records, lineNumbers: data.lineNumbers });
    if (encoded.X.length === 0) throw new Error('OwnerAgent: no local row could be encoded with the federation’s schema');
    this.#encoded = { X: encoded.X, y: encoded.y };
    return this.#encoded;
  }

  /** Trains from the round's base model and builds what goes to the server. */
  async #prepareTraining(round: RoundView): Promise<PendingUpload | undefined> {
    const { client } = this.#o;
    const federation = this.#federation;
    const data = await this.#trainingRows();
    const base = await client.downloadWeights(this.#federationId, round.baseModelVersion);
    const expected = parameterCount(modelLayout(federation.model, federation.featureNames.length));
    if (base.weights.length !== expected) {
      throw new Error(`OwnerAgent: model version ${base.version} has ${base.weights.length} weights but the federation's model needs ${expected}`);
    }
    const training = federation.training;
    const train = this.#o.train ?? trainLocal;
    const trained = await train(federation.model, base.weights, data.X, data.y, {
      epochs: training.localEpochs,
      batchSize: training.batchSize,
      // The round fixes the rate when the federation follows a schedule; older servers leave it out.
      learningRate: round.learningRate ?? training.learningRate,
      l2: training.l2 ?? 0,
      // By training round, not round number: a statistics round first does not change the shuffles.
      seed: this.#o.localSeed(round.trainingRound ?? round.number),
    });
    // JSON would turn NaN into null and the server would reject the whole update with a less useful message.
    if (!trained.weights.every(Number.isFinite)) {
      throw new Error(`OwnerAgent: local training diverged in round ${round.number} (non-finite weights); the federation's learning rate is too high for these rows`);
    }
    const loss = Number.isFinite(trained.loss) && trained.loss >= 0 ? trained.loss : null;
    if (federation.aggregation === 'secure') {
      const upload = await (this.#o.shareUpload ?? buildShareUpload)({
        federationId: this.#federationId,
        ownerId: this.#o.ownerId,
        round,
        base: base.weights,
        trained: trained.weights,
        numSamples: trained.numSamples,
      });
      return { kind: 'shares', round: round.number, samples: trained.numSamples, loss, uploadBytes: upload.envelopeBytes, body: upload.body };
    }
    const metrics: Record<string, number> = {};
    if (loss !== null) metrics.loss = loss;
    if (Number.isFinite(trained.accuracy)) metrics.accuracy = trained.accuracy;
    return { kind: 'update', round: round.number, samples: trained.numSamples, loss, body: { weights: Array.from(trained.weights), numSamples: trained.numSamples, metrics } };
  }

  async #send(round: RoundView, pending: PendingUpload, resent: boolean): Promise<void> {
    const { client, journal } = this.#o;
    const number = round.number;
    try {
      if (pending.kind === 'shares') await client.uploadShares(this.#federationId, number, pending.body);
      else if (pending.kind === 'statistics') await client.submitStatistics(this.#federationId, number, pending.body);
      else if (pending.kind === 'evaluation') await client.submitEvaluation(this.#federationId, number, pending.body);
      else await client.submitUpdate(this.#federationId, number, pending.body);
    } catch (error) {
      if (!(error instanceof FedscoreApiError) || error.status !== 409) throw error;
      await journal.clearPending(number);
      // The first attempt got through and its answer was lost: the server holds this update once. A retry
      // whose first attempt was the one that closed (or froze) the round is refused as late, not as a
      // duplicate, so a refusal is checked against what the round says this owner contributed.
      if (error.problemSlug === 'duplicate-update' || (await this.#participation(number))?.submitted === true) {
        await journal.record({ event: 'submitted', round: number, samples: pending.samples, loss: pending.loss, resumed: true });
        this.#o.onEvent?.({ type: 'already-submitted', round: number });
      } else {
        await journal.record({ event: 'missed', round: number, reason: error.problem.detail });
        this.#o.onEvent?.({ type: 'missed', round: number, reason: error.problem.detail });
      }
      return;
    }
    await journal.clearPending(number);
    await journal.record({ event: 'submitted', round: number, samples: pending.samples, loss: pending.loss, resumed: resent });
    this.#o.onEvent?.({
      type: 'submitted',
      round: number,
      kind: round.kind,
      samples: pending.samples,
      loss: pending.loss,
      resent,
      ...(pending.kind === 'shares' && { uploadBytes: pending.uploadBytes }),
    });
  }

  /** Committee duty: this member's partial sum over the frozen included set, once. */
  async #sum(round: RoundView): Promise<void> {
    const { client, journal } = this.#o;
    const number = round.number;
    const seat = round.secure?.committee.find((s) => s.ownerId === this.#o.ownerId);
    if (!seat || !this.#o.identity) return;
    if (this.#journalled('summed', number) || this.#journalled('missed-sum', number)) return;
    if (round.participation?.partialSumSubmitted) {
      await journal.record({ event: 'summed', round: number, position: seat.position, owners: round.secure!.includedCount, resumed: true });
      this.#o.onEvent?.({ type: 'summed', round: number, position: seat.position, owners: round.secure!.includedCount, resumed: true });
      return;
    }
    if (this.#o.sums && !this.#o.sums(round)) return;
    const roundKey = await journal.loadRoundKey(number);
    if (!roundKey) {
      const reason = `this member's key for round ${number} is not in its state directory any more; its shares cannot be opened`;
      await journal.record({ event: 'missed-sum', round: number, reason });
      this.#o.onEvent?.({ type: 'missed-sum', round: number, reason });
      return;
    }
    const keys = { publicKey: new Uint8Array(Buffer.from(roundKey.publicKey, 'base64')), privateKey: new Uint8Array(Buffer.from(roundKey.privateKey, 'base64')) };
    try {
      const inbox = await client.getInbox(this.#federationId, number);
      const values = await (this.#o.partialSum ?? partialSumValues)({ federationId: this.#federationId, memberId: this.#o.ownerId, keys, inbox, field: round.secure!.field });
      await client.uploadPartialSum(this.#federationId, number, { includedSetHash: inbox.includedSetHash, values, count: inbox.vectorLength });
    } catch (error) {
      if (!(error instanceof FedscoreApiError) || error.status !== 409) throw error;
      // As for updates: the retry of the partial sum that settled the round finds it no longer summing.
      if (error.problemSlug === 'duplicate-partial-sum' || (await this.#participation(number))?.partialSumSubmitted === true) {
        await journal.record({ event: 'summed', round: number, position: seat.position, owners: round.secure!.includedCount, resumed: true });
        this.#o.onEvent?.({ type: 'summed', round: number, position: seat.position, owners: round.secure!.includedCount, resumed: true });
      } else {
        // t of the k members are enough: a late member finds the round already settled.
        const reason = error.problemSlug === 'round-not-summing' ? `not needed: the round settled with the other members' partial sums (${error.problem.detail})` : error.problem.detail;
        await journal.record({ event: 'missed-sum', round: number, reason });
        this.#o.onEvent?.({ type: 'missed-sum', round: number, reason });
      }
      return;
    }
    await journal.record({ event: 'summed', round: number, position: seat.position, owners: round.secure!.includedCount, resumed: false });
    // The round's key has done its job: deleting it means a later theft of the state cannot open this round's envelopes.
    await journal.clearRoundKey(number);
    this.#o.onEvent?.({ type: 'summed', round: number, position: seat.position, owners: round.secure!.includedCount, resumed: false });
  }

  /** What the server holds from this owner in a round, as the round's view tells the owner itself. */
  async #participation(number: number): Promise<RoundView['participation']> {
    return (await this.#o.client.getRound(this.#federationId, number)).participation;
  }

  /** An update prepared for a round that moved on without it: journal it, drop it. */
  async #noteMissed(round: RoundView, reason: string): Promise<void> {
    const { journal } = this.#o;
    if (!(await journal.loadPending(round.number))) return;
    await journal.clearPending(round.number);
    if (round.participation?.submitted) {
      await journal.record({ event: 'submitted', round: round.number, samples: null, loss: null, resumed: true });
      this.#o.onEvent?.({ type: 'already-submitted', round: round.number });
      return;
    }
    await journal.record({ event: 'missed', round: round.number, reason });
    this.#o.onEvent?.({ type: 'missed', round: round.number, reason });
  }

  /**
   * With auto-advance the next round opens in the same transaction that closes one, so an agent may never
   * see the earlier round closed: look it up once, so each round it took part in gets its line.
   */
  async #reportEarlierEnds(round: RoundView): Promise<void> {
    const previous = round.number - 1;
    const tookPart = this.#journalled('submitted', previous) || this.#journalled('summed', previous);
    if (previous < 1 || this.#ended.has(previous) || !tookPart) return;
    // This owner's own view only when an upload of its own may still be pending (its participation decides).
    const shared = this.#o.rounds?.settled && !(await this.#o.journal.loadPending(previous));
    const earlier = shared ? await this.#o.rounds!.settled!(previous) : await this.#o.client.getRound(this.#federationId, previous);
    await this.#noteMissed(earlier, `the round ${earlier.status} before this update arrived`);
    this.#reportEnd(earlier);
  }

  #reportEnd(round: RoundView): void {
    if (this.#ended.has(round.number) || (round.status !== 'closed' && round.status !== 'failed')) return;
    this.#ended.add(round.number);
    this.#o.onEvent?.({ type: 'round-ended', round: round.number, kind: round.kind, status: round.status, modelVersion: round.modelVersion, failureReason: round.failureReason });
  }

  /** Why to stop now, if at all. */
  #done(round: RoundView): AgentSummary['stoppedBy'] | undefined {
    const settled = round.status === 'closed' || round.status === 'failed';
    if (settled && round.kind === 'training' && round.trainingRound! >= this.#federation.training.rounds) return 'planned-rounds-over';
    if (round.endsTraining) return 'training-stopped-early';
    // An evaluation opened after training: nothing follows it, so an agent started for it is done.
    if (settled && round.kind === 'evaluation' && round.evaluation?.afterTraining) return 'evaluation-over';
    const maxRounds = this.#o.maxRounds;
    if (maxRounds === undefined) return undefined;
    const { submitted, committee } = journalSummary(this.#o.journal.entries());
    if (new Set([...submitted, ...committee]).size < maxRounds) return undefined;
    // A seat in a round still running is a partial sum owed: deliver it before leaving.
    const owes = !settled && round.secure?.committee.some((s) => s.ownerId === this.#o.ownerId) && !this.#journalled('summed', round.number) && !this.#journalled('missed-sum', round.number);
    return owes ? undefined : 'max-rounds';
  }

  #journalled(event: string, round: number): boolean {
    return this.#o.journal.entries().some((e) => e.event === event && e.round === round);
  }

  #summary(stoppedBy: AgentSummary['stoppedBy']): AgentSummary {
    return { federationId: this.#federationId, ownerId: this.#o.ownerId, ...journalSummary(this.#o.journal.entries()), stoppedBy };
  }
}
