/**
 * The owner's side of a round: look at the federation's current round, and if it is open and this owner
 * has not yet taken part, download the round's base model and train on the local rows with the
 * federation's training settings. Plain mode submits the new weights with the sample count and two
 * summary metrics; secure mode secret-shares the clipped, sample-weighted change to the committee
 * (secure-shares.ts), so the server never sees it. The records never leave.
 */
import type { ModelSpec } from '../ml/model-spec.js';
import { trainLocal } from '../ml/train.js';
import { FedscoreApiError, type FederationView, type FedscoreClient, type RoundView, type UpdateReceipt } from './http-client.js';
import { buildShareUpload } from './secure-shares.js';

export interface OwnerAgentOptions {
  /** A client carrying this owner's API key. */
  client: FedscoreClient;
  /** This owner's id: secure-mode envelopes are bound to their sender. */
  ownerId: string;
  /** The federation as the server describes it: model spec, training settings, feature order. */
  federation: FederationView;
  /** Local rows, encoded with the federation's schema in `federation.featureNames` order. */
  X: Float32Array[];
  y: Uint8Array;
}

export type OwnerSkipReason = 'no-round' | 'round-not-open' | 'already-submitted' | 'rejected';

export type OwnerRoundOutcome =
  | {
      status: 'submitted';
      roundNumber: number;
      baseModelVersion: number;
      numSamples: number;
      loss: number;
      accuracy: number;
      /** The round after this submission; it may have just closed. */
      round: RoundView;
      /** Secure mode: bytes of the k envelopes sent, and whether the update was clipped. */
      uploadBytes?: number;
      clipped?: boolean;
    }
  | {
      status: 'skipped';
      reason: OwnerSkipReason;
      roundNumber: number | null;
      /** The server's explanation when it refused the update. */
      detail?: string;
    };

export class OwnerAgent {
  readonly #client: FedscoreClient;
  readonly #ownerId: string;
  readonly #federation: FederationView;
  readonly #X: Float32Array[];
  readonly #y: Uint8Array;
  /**
   * Rounds submitted to (or refused by the server), so a second call in the same round does not train
   * again. A transport failure is not recorded: the caller may retry, and a duplicate is then refused.
   */
  readonly #attempted = new Set<number>();

  constructor(options: OwnerAgentOptions) {
    const { federation, X, y } = options;
    if (X.length === 0) throw new Error('OwnerAgent: expected at least one local row, got 0');
    if (y.length !== X.length) throw new Error(`OwnerAgent: expected one label per row, got ${y.length} for ${X.length} rows`);
    const width = federation.featureNames.length;
    const bad = X.findIndex((row) => row.length !== width);
    if (bad >= 0) {
      throw new Error(
        `OwnerAgent: expected rows of ${width} encoded features (federation ${federation.id}), row ${bad} has ${X[bad]!.length}`,
      );
    }
    this.#client = options.client;
    this.#ownerId = options.ownerId;
    this.#federation = federation;
    this.#X = X;
    this.#y = y;
  }

  get federationId(): string {
    return this.#federation.id;
  }

  /**
   * Takes part in the current round if there is one to take part in. `seed` drives the local shuffle, so
   * a simulation that derives it from (seed, round, owner) is reproducible.
   */
  async participate(seed: number): Promise<OwnerRoundOutcome> {
    const federationId = this.#federation.id;
    let round: RoundView;
    try {
      round = await this.#client.getCurrentRound(federationId);
    } catch (error) {
      if (error instanceof FedscoreApiError && error.status === 404) {
        return { status: 'skipped', reason: 'no-round', roundNumber: null };
      }
      throw error;
    }
    if (round.status !== 'open') return { status: 'skipped', reason: 'round-not-open', roundNumber: round.number };
    if (this.#attempted.has(round.number)) {
      return { status: 'skipped', reason: 'already-submitted', roundNumber: round.number };
    }

    const base = await this.#client.getModelWeights(federationId, round.baseModelVersion);
    const spec: ModelSpec = this.#federation.model;
    const expected = base.layout.reduce((sum, tensor) => sum + tensor.shape.reduce((a, b) => a * b, 1), 0);
    if (base.weights.length !== expected) {
      throw new Error(
        `OwnerAgent: model version ${base.version} has ${base.weights.length} weights but its layout needs ${expected}`,
      );
    }
    const training = this.#federation.training;
    const trained = await trainLocal(spec, Float32Array.from(base.weights), this.#X, this.#y, {
      epochs: training.localEpochs,
      batchSize: training.batchSize,
      learningRate: training.learningRate,
      seed,
    });
    // JSON would turn NaN into null and the server would reject the whole update with a less useful message.
    if (!trained.weights.every(Number.isFinite)) {
      throw new Error(`OwnerAgent: local training diverged in round ${round.number} (non-finite weights); lower the learning rate`);
    }

    try {
      let receipt: UpdateReceipt;
      let secure: { uploadBytes: number; clipped: boolean } | undefined;
      if (this.#federation.aggregation === 'secure') {
        const upload = buildShareUpload({
          federationId,
          ownerId: this.#ownerId,
          round,
          base: Float32Array.from(base.weights),
          trained: trained.weights,
          numSamples: trained.numSamples,
        });
        receipt = await this.#client.uploadShares(federationId, round.number, upload.body);
        secure = { uploadBytes: upload.envelopeBytes, clipped: upload.clipped };
      } else {
        const metrics: { loss?: number; accuracy?: number } = {};
        if (Number.isFinite(trained.loss) && trained.loss >= 0) metrics.loss = trained.loss;
        if (Number.isFinite(trained.accuracy)) metrics.accuracy = trained.accuracy;
        receipt = await this.#client.submitUpdate(federationId, round.number, {
          weights: Array.from(trained.weights),
          numSamples: trained.numSamples,
          metrics,
        });
      }
      this.#attempted.add(round.number);
      return {
        status: 'submitted',
        roundNumber: round.number,
        baseModelVersion: round.baseModelVersion,
        numSamples: trained.numSamples,
        loss: trained.loss,
        accuracy: trained.accuracy,
        round: receipt.round,
        ...secure,
      };
    } catch (error) {
      // 409: the round closed under us or this owner already submitted; neither is worth retrying.
      if (error instanceof FedscoreApiError && error.status === 409) {
        this.#attempted.add(round.number);
        return { status: 'skipped', reason: 'rejected', roundNumber: round.number, detail: error.problem.detail };
      }
      throw error;
    }
  }
}
