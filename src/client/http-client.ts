/**
 * The typed HTTP client for the fedscore REST API: one method per route, request types taken from the
 * zod wire schemas and every response parsed with its response schema, so a server that drifts from the
 * contract fails loudly here instead of deep inside training code. Errors come back as
 * `FedscoreApiError`, carrying the RFC 9457 problem the server sent.
 */
import type { z } from 'zod';
import { parseRetryAfter, withRetry, type RetryHint, type RetryPolicy } from './retry.js';
import { NodeTransport, RequestTimeoutError, type Transport, type TransportAnswer, type TransportRequest } from './node-transport.js';
import { problemSchema, type Problem } from '../schemas/common.schema.js';
import {
  charterViewSchema,
  createdFederationSchema,
  enrolmentTokenSchema,
  federationListSchema,
  federationSchema,
  validationSetSchema,
  type SelectionInput,
  type createFederationBodySchema,
} from '../schemas/federations.schema.js';
import { healthSchema, readinessSchema } from '../schemas/health.schema.js';
import { decodeFrames, encodeFrames } from '../schemas/ciphertext-frames.js';
import { decodeInbox, ELEMENT_BITS, encodePartialSum, encodeShareUpload, packedValueBytes } from '../schemas/secure-frames.js';
import { heSessionSchema, type HeSessionView } from '../schemas/he-sessions.schema.js';
import { modelListSchema, modelVersionSchema, modelWeightsSchema } from '../schemas/models.schema.js';
import { decodeWeights, encodeUpdate, MODEL_VERSION_HEADER } from '../schemas/weight-frames.js';
import { apiKeyListSchema, apiKeySchema, issuedApiKeySchema, type ApiKeyView, type createApiKeyBodySchema } from '../schemas/api-keys.schema.js';
import {
  enrolledOwnerSchema,
  ownerListSchema,
  ownerSchema,
  rotatedOwnerKeySchema,
  type enrolOwnerBodySchema,
  type registerIdentityBodySchema,
} from '../schemas/owners.schema.js';
import { predictResponseSchema, type predictBodySchema } from '../schemas/predictions.schema.js';
import {
  committeeDrawSchema,
  inboxSchema,
  roundListSchema,
  roundSchema,
  updateReceiptSchema,
  type committeeKeyBodySchema,
  type openRoundBodySchema,
  type submitUpdateBodySchema,
  type uploadSharesBodySchema,
} from '../schemas/rounds.schema.js';

export type CreateFederationInput = z.input<typeof createFederationBodySchema>;
export type EnrolOwnerInput = z.input<typeof enrolOwnerBodySchema>;
export type OpenRoundInput = z.input<typeof openRoundBodySchema>;
export type RegisterIdentityInput = z.input<typeof registerIdentityBodySchema>;
export type CommitteeKeyInput = z.input<typeof committeeKeyBodySchema>;
export type UploadSharesInput = z.input<typeof uploadSharesBodySchema>;
export type InboxView = z.infer<typeof inboxSchema>;
/** An inbox with its envelopes as bytes, whichever wire form brought it. */
export type InboxBytes = Omit<InboxView, 'envelopes'> & { envelopes: { senderId: string; envelope: Uint8Array }[] };
/** Envelopes as bytes (the SDK's form) or base64 (the JSON form, and what an owner agent journals). */
export type ShareEnvelopes = { envelopes: { recipientId: string; envelope: Uint8Array | string }[] };
/** A partial sum: its packed values, and how many elements they hold (the inbox's vectorLength; without it, 52-bit wide-field elements are assumed). */
export type PartialSumBody = { includedSetHash: string; values: Uint8Array | string; count?: number };
export type SubmitUpdateInput = z.input<typeof submitUpdateBodySchema>;
/** An update as `submitUpdate` sends it: the JSON body's fields, the weights as any array of numbers. */
export type PlainUpdateInput = Omit<SubmitUpdateInput, 'weights'> & { weights: ArrayLike<number> };
export type PredictInput = z.input<typeof predictBodySchema>;
export type IssueApiKeyInput = z.input<typeof createApiKeyBodySchema>;
export type IssuedApiKey = z.infer<typeof issuedApiKeySchema>;
export type RotatedOwnerKey = z.infer<typeof rotatedOwnerKeySchema>;
export type { ApiKeyView };

export type Health = z.infer<typeof healthSchema>;
export type Readiness = z.infer<typeof readinessSchema>;
export type CreatedFederation = z.infer<typeof createdFederationSchema>;
export type FederationView = z.infer<typeof federationSchema>;
export type EnrolledOwner = z.infer<typeof enrolledOwnerSchema>;
export type OwnerView = z.infer<typeof ownerSchema>;
export type RoundView = z.infer<typeof roundSchema>;
export type CommitteeDrawView = z.infer<typeof committeeDrawSchema>;
export type CharterView = z.infer<typeof charterViewSchema>;
export type UpdateReceipt = z.infer<typeof updateReceiptSchema>;
export type ModelVersionView = z.infer<typeof modelVersionSchema>;
export type ModelWeightsView = z.infer<typeof modelWeightsSchema>;
export interface ModelWeightsFloat32 {
  version: number;
  weights: Float32Array;
}
export type PredictResponse = z.infer<typeof predictResponseSchema>;
/** A published version number, or the newest one. */
export type ModelRef = number | 'latest' | 'default';
export type ValidationSetView = z.infer<typeof validationSetSchema>;

export interface FedscoreClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:3000`; a trailing slash is ignored. */
  baseUrl: string;
  /** Operator, scoped or owner key, sent as `Authorization: Bearer`. */
  apiKey?: string;
  /**
   * A fetch to send requests with (tests script one; pass `globalThis.fetch` for undici's). Without it the
   * client sends over node:http / node:https with a keep-alive agent of its own (src/client/node-transport.ts),
   * which the clients `withApiKey` and `withSignal` make share, so their requests reuse its connections.
   */
  fetch?: typeof fetch;
  /** Per-request time limit; a stalled server should not hang a training loop forever. */
  timeoutMs?: number;
  /** Retry transient failures (unreachable server, 5xx, 429) with backoff; off unless given. */
  retry?: RetryPolicy;
  /** Aborts every request of this client (and any backoff wait), e.g. on SIGTERM. */
  signal?: AbortSignal;
  /**
   * How shares, inboxes and partial sums travel: 'binary' (default) in the application/octet-stream framing
   * of src/schemas/secure-frames.ts, packed and about 30% smaller than 'json', base64 in JSON as curl sends it.
   */
  secureWire?: 'binary' | 'json';
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Not exported: how `withApiKey` and `withSignal` hand their transport (and its open connections) on. */
const SHARED_TRANSPORT = Symbol('fedscore.sharedTransport');
type InternalOptions = FedscoreClientOptions & { [SHARED_TRANSPORT]?: Transport };

/** A non-2xx answer. `problem` is the server's problem+json, or one synthesised from the status line. */
export class FedscoreApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly problem: Problem,
    /** From a Retry-After header (429, 503), in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(`${method} ${path}: ${status} ${problem.title}: ${problem.detail}`);
    this.name = 'FedscoreApiError';
  }

  /** The stable slug at the end of the problem type, e.g. `round-not-found`. */
  get problemSlug(): string {
    return this.problem.type.slice(this.problem.type.lastIndexOf('/') + 1);
  }
}

/** No answer at all: the server is unreachable, the connection broke, or it did not answer in time. */
export class FedscoreNetworkError extends Error {
  constructor(
    readonly method: string,
    readonly url: string,
    /** Short reason in words, e.g. "connection refused (is the server running?)". */
    readonly reason: string,
    /** The system error code when there is one (ECONNREFUSED, ENOTFOUND, …). */
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(`cannot reach ${url} (${method}): ${reason}`, options);
    this.name = 'FedscoreNetworkError';
  }
}

/**
 * Whether trying again may help: no answer, a 5xx or a 429 (under `onlyWhenAsked`, only a 429 or a 503);
 * with the server's Retry-After when it sent one.
 */
export function retryHint(error: unknown, policy?: Pick<RetryPolicy, 'onlyWhenAsked'>): RetryHint {
  const any = policy?.onlyWhenAsked !== true;
  if (error instanceof FedscoreNetworkError) return { transient: any };
  if (error instanceof FedscoreApiError) {
    const asked = error.status === 429 || error.status === 503;
    return { transient: asked || (any && error.status >= 500), retryAfterMs: error.retryAfterMs };
  }
  return { transient: false };
}

/** The server answered 2xx with a body that does not match the wire contract. */
export class FedscoreContractError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    detail: string,
  ) {
    super(`${method} ${path}: response does not match the API contract: ${detail}`);
    this.name = 'FedscoreContractError';
  }
}

interface RequestSpec<T> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  response: z.ZodType<T>;
  /** Statuses besides 2xx whose body is still a valid answer (readiness answers 503 with a body). */
  acceptStatuses?: number[];
  /** Enrolment is the one route that must not carry a key. */
  anonymous?: boolean;
  /** Overrides the client's per-request time limit (long polls). */
  timeoutMs?: number;
}

export class FedscoreClient {
  readonly baseUrl: string;
  readonly #apiKey: string | undefined;
  readonly #transport: Transport;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #secureWire: 'binary' | 'json';

  constructor(options: FedscoreClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`FedscoreClient: expected an absolute http(s) baseUrl, got ${JSON.stringify(options.baseUrl)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(`FedscoreClient: expected an http(s) baseUrl, got protocol ${parsed.protocol}`);
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#transport = (options as InternalOptions)[SHARED_TRANSPORT] ?? (options.fetch ? fetchTransport(options.fetch) : new NodeTransport());
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#retry = options.retry;
    this.#signal = options.signal;
    this.#secureWire = options.secureWire ?? 'binary';
  }

  /** The same server and transport with another identity (an operator client handing out owner clients). */
  withApiKey(apiKey: string | undefined): FedscoreClient {
    return new FedscoreClient({
      baseUrl: this.baseUrl,
      apiKey,
      [SHARED_TRANSPORT]: this.#transport,
      timeoutMs: this.#timeoutMs,
      ...(this.#retry && { retry: this.#retry }),
      ...(this.#signal && { signal: this.#signal }),
      secureWire: this.#secureWire,
    } as InternalOptions);
  }

  /** The same client, whose requests (and retry waits) also stop when `signal` aborts. */
  withSignal(signal: AbortSignal): FedscoreClient {
    return new FedscoreClient({
      baseUrl: this.baseUrl,
      apiKey: this.#apiKey,
      [SHARED_TRANSPORT]: this.#transport,
      timeoutMs: this.#timeoutMs,
      ...(this.#retry && { retry: this.#retry }),
      signal: this.#signal ? AbortSignal.any([this.#signal, signal]) : signal,
      secureWire: this.#secureWire,
    } as InternalOptions);
  }

  get hasApiKey(): boolean {
    return this.#apiKey !== undefined;
  }

  // --- health ---------------------------------------------------------------------------------------

  health(): Promise<Health> {
    return this.#request({ method: 'GET', path: '/healthz', response: healthSchema, anonymous: true });
  }

  /** Resolves with `status: 'unavailable'` rather than throwing when the server reports 503. */
  readiness(): Promise<Readiness> {
    return this.#request({
      method: 'GET',
      path: '/readyz',
      response: readinessSchema,
      acceptStatuses: [503],
      anonymous: true,
    });
  }

  // --- federations ----------------------------------------------------------------------------------

  createFederation(body: CreateFederationInput): Promise<CreatedFederation> {
    return this.#request({ method: 'POST', path: '/v1/federations', body, response: createdFederationSchema });
  }

  async listFederations(): Promise<FederationView[]> {
    const page = await this.#request({ method: 'GET', path: '/v1/federations', response: federationListSchema });
    return page.federations;
  }

  getFederation(federationId: string): Promise<FederationView> {
    return this.#request({ method: 'GET', path: federationPath(federationId), response: federationSchema });
  }

  /** Needs no key: the charter and the server's fingerprint of it (recompute it; do not trust the field). */
  getCharter(federationId: string): Promise<CharterView> {
    return this.#request({ method: 'GET', path: `${federationPath(federationId)}/charter`, response: charterViewSchema });
  }

  /** Issues a new enrolment token; the previous one stops working. */
  async rotateEnrolmentToken(federationId: string): Promise<string> {
    const answer = await this.#request({
      method: 'POST',
      path: `${federationPath(federationId)}/enrolment-token`,
      response: enrolmentTokenSchema,
    });
    return answer.enrolmentToken;
  }

  // --- scoped keys (operator) -----------------------------------------------------------------------

  /** A key limited to this federation and `scopes`; the returned `apiKey` is shown once. */
  issueApiKey(federationId: string, body: IssueApiKeyInput): Promise<IssuedApiKey> {
    return this.#request({ method: 'POST', path: `${federationPath(federationId)}/api-keys`, body, response: issuedApiKeySchema });
  }

  async listApiKeys(federationId: string): Promise<ApiKeyView[]> {
    return (await this.#request({ method: 'GET', path: `${federationPath(federationId)}/api-keys`, response: apiKeyListSchema })).keys;
  }

  /** The key stops working at once. */
  revokeApiKey(federationId: string, keyId: string): Promise<ApiKeyView> {
    return this.#request({ method: 'DELETE', path: `${federationPath(federationId)}/api-keys/${segment(keyId)}`, response: apiKeySchema });
  }

  /** A new secret for the same key id and scopes; the old secret stops working at once. */
  rotateApiKey(federationId: string, keyId: string): Promise<IssuedApiKey> {
    return this.#request({ method: 'POST', path: `${federationPath(federationId)}/api-keys/${segment(keyId)}/rotation`, response: issuedApiKeySchema });
  }

  // --- owners ---------------------------------------------------------------------------------------

  /** Needs no key; the returned `apiKey` is shown once. Use `withApiKey(apiKey)` to act as the owner. */
  enrolOwner(federationId: string, body: EnrolOwnerInput): Promise<EnrolledOwner> {
    return this.#request({
      method: 'POST',
      path: `${federationPath(federationId)}/owners`,
      body,
      response: enrolledOwnerSchema,
      anonymous: true,
    });
  }

  async listOwners(federationId: string): Promise<OwnerView[]> {
    const page = await this.#request({
      method: 'GET',
      path: `${federationPath(federationId)}/owners`,
      response: ownerListSchema,
    });
    return page.owners;
  }

  getOwner(federationId: string, ownerId: string): Promise<OwnerView> {
    return this.#request({
      method: 'GET',
      path: `${federationPath(federationId)}/owners/${segment(ownerId)}`,
      response: ownerSchema,
    });
  }

  /** The party itself: its Ed25519 identity key (fixed once set) and whether it volunteers for committees. */
  registerIdentity(federationId: string, ownerId: string, body: RegisterIdentityInput): Promise<OwnerView> {
    return this.#request({
      method: 'PUT',
      path: `${federationPath(federationId)}/owners/${segment(ownerId)}/identity`,
      body,
      response: ownerSchema,
    });
  }

  /** The party itself replaces its key; the new `apiKey` is shown once and the current one stops working. */
  rotateOwnerKey(federationId: string, ownerId: string): Promise<RotatedOwnerKey> {
    return this.#request({ method: 'POST', path: `${federationPath(federationId)}/owners/${segment(ownerId)}/key-rotation`, response: rotatedOwnerKeySchema });
  }

  /** The operator removes an owner: its key is revoked; what it contributed before stays in the models. */
  removeOwner(federationId: string, ownerId: string): Promise<OwnerView> {
    return this.#request({ method: 'DELETE', path: `${federationPath(federationId)}/owners/${segment(ownerId)}`, response: ownerSchema });
  }

  // --- rounds ---------------------------------------------------------------------------------------

  openRound(federationId: string, body: OpenRoundInput = {}): Promise<RoundView> {
    return this.#request({
      method: 'POST',
      path: `${federationPath(federationId)}/rounds`,
      body,
      response: roundSchema,
    });
  }

  async listRounds(federationId: string): Promise<RoundView[]> {
    const page = await this.#request({
      method: 'GET',
      path: `${federationPath(federationId)}/rounds`,
      response: roundListSchema,
    });
    return page.rounds;
  }

  /** The most recent round, whatever its status; throws a 404 `FedscoreApiError` before the first round. */
  getCurrentRound(federationId: string): Promise<RoundView> {
    return this.#request({
      method: 'GET',
      path: `${federationPath(federationId)}/rounds/current`,
      response: roundSchema,
    });
  }

  /**
   * Waits up to `waitSeconds` (≤ 60) for the current round's tag to differ from `after` (a round's `tag`, or
   * 'none' before the first round) and returns the round as it then stands, changed or not; null while no
   * round has been opened. Holding the request on the server costs it nothing, so agents wait here
   * instead of polling.
   */
  async waitForRound(federationId: string, after: string, waitSeconds: number): Promise<RoundView | null> {
    const query = new URLSearchParams({ waitSeconds: String(waitSeconds), after });
    try {
      return await this.#request({
        method: 'GET',
        path: `${federationPath(federationId)}/rounds/current?${query}`,
        response: roundSchema,
        // The server may hold the request for waitSeconds; the time limit starts after that.
        timeoutMs: waitSeconds * 1000 + this.#timeoutMs,
      });
    } catch (error) {
      if (error instanceof FedscoreApiError && error.status === 404 && error.problemSlug === 'no-rounds') return null;
      throw error;
    }
  }

  getRound(federationId: string, roundNumber: number): Promise<RoundView> {
    return this.#request({ method: 'GET', path: roundPath(federationId, roundNumber), response: roundSchema });
  }

  /**
   * Owner only. Sent in the binary form (application/octet-stream, src/schemas/weight-frames.ts): float32
   * weights, as the server stores them. The receipt's round may already be closed: this submission may
   * have completed it.
   */
  async submitUpdate(federationId: string, roundNumber: number, body: PlainUpdateInput): Promise<UpdateReceipt> {
    const path = `${roundPath(federationId, roundNumber)}/updates`;
    const text = await this.#binary('POST', path, encodeUpdate(body), 'json');
    return parseWith(updateReceiptSchema, 'POST', path, text as string);
  }

  /** Owner only, plain mode, evaluation round: this owner's tallies of the round's version (see `scoreTallies`). */
  submitEvaluation(federationId: string, roundNumber: number, body: { tallies: number[] }): Promise<UpdateReceipt> {
    return this.#request({
      method: 'POST',
      path: `${roundPath(federationId, roundNumber)}/evaluation`,
      body,
      response: updateReceiptSchema,
    });
  }

  /** Owner only, plain mode, statistics round: this owner's moments (see `ownerMoments`). */
  submitStatistics(federationId: string, roundNumber: number, body: { moments: number[] }): Promise<UpdateReceipt> {
    return this.#request({
      method: 'POST',
      path: `${roundPath(federationId, roundNumber)}/statistics`,
      body,
      response: updateReceiptSchema,
    });
  }

  /** Owner only, secure mode: one envelope per committee member, in one request (binary framing unless `secureWire: 'json'`). */
  async uploadShares(federationId: string, roundNumber: number, body: ShareEnvelopes): Promise<UpdateReceipt> {
    const path = `${roundPath(federationId, roundNumber)}/shares`;
    if (this.#secureWire === 'json') {
      const envelopes = body.envelopes.map(({ recipientId, envelope }) => ({ recipientId, envelope: toBase64(envelope) }));
      return this.#request({ method: 'POST', path, body: { envelopes }, response: updateReceiptSchema });
    }
    const frames = encodeShareUpload(body.envelopes.map(({ recipientId, envelope }) => ({ id: recipientId, envelope: toBytes(envelope) })));
    return parseWith(updateReceiptSchema, 'POST', path, (await this.#binary('POST', path, frames, 'json')) as string);
  }

  /** Committee member only, while the round is open: its X25519 key for this round, signed by its identity. */
  publishCommitteeKey(federationId: string, roundNumber: number, body: CommitteeKeyInput): Promise<RoundView> {
    return this.#request({ method: 'PUT', path: `${roundPath(federationId, roundNumber)}/committee-key`, body, response: roundSchema });
  }

  /** Lottery policy: the chain value a round revealed and the volunteers its committee was drawn from. */
  getCommitteeDraw(federationId: string, roundNumber: number): Promise<CommitteeDrawView> {
    return this.#request({ method: 'GET', path: `${roundPath(federationId, roundNumber)}/committee-draw`, response: committeeDrawSchema });
  }

  /** Committee member only, once the round is summing: the envelopes addressed to it, as bytes. */
  async getInbox(federationId: string, roundNumber: number): Promise<InboxBytes> {
    const path = `${roundPath(federationId, roundNumber)}/inbox`;
    if (this.#secureWire === 'json') {
      const inbox = await this.#request({ method: 'GET', path, response: inboxSchema });
      return { ...inbox, envelopes: inbox.envelopes.map(({ senderId, envelope }) => ({ senderId, envelope: toBytes(envelope) })) };
    }
    const bytes = (await this.#binary('GET', path, undefined, 'binary')) as Uint8Array;
    let inbox: ReturnType<typeof decodeInbox>;
    try {
      inbox = decodeInbox(bytes);
    } catch (error) {
      throw new FedscoreContractError('GET', path, (error as Error).message);
    }
    return { ...inbox, envelopes: inbox.envelopes.map(({ id, envelope }) => ({ senderId: id, envelope })) };
  }

  /** Committee member only: its partial sum, packed field elements (binary framing unless `secureWire: 'json'`). */
  async uploadPartialSum(federationId: string, roundNumber: number, body: PartialSumBody): Promise<UpdateReceipt> {
    const path = `${roundPath(federationId, roundNumber)}/partial-sums`;
    if (this.#secureWire === 'json') {
      return this.#request({ method: 'POST', path, body: { includedSetHash: body.includedSetHash, values: toBase64(body.values) }, response: updateReceiptSchema });
    }
    const values = toBytes(body.values);
    const count = body.count ?? Math.floor((values.length * 2) / 13); // ⌈6.5·n⌉ bytes hold n elements, and no other n
    if (packedValueBytes(count) !== values.length && packedValueBytes(count, ELEMENT_BITS.compact) !== values.length) {
      throw new TypeError(`uploadPartialSum: ${values.length} bytes is not ${count} packed field elements`);
    }
    const frame = encodePartialSum({ includedSetHash: body.includedSetHash, count, values });
    return parseWith(updateReceiptSchema, 'POST', path, (await this.#binary('POST', path, frame, 'json')) as string);
  }

  closeRound(federationId: string, roundNumber: number): Promise<RoundView> {
    return this.#request({
      method: 'POST',
      path: `${roundPath(federationId, roundNumber)}/close`,
      response: roundSchema,
    });
  }

  // --- models ---------------------------------------------------------------------------------------

  async listModels(federationId: string): Promise<ModelVersionView[]> {
    const page = await this.#request({
      method: 'GET',
      path: `${federationPath(federationId)}/models`,
      response: modelListSchema,
    });
    return page.models;
  }

  /** Operator: attaches (or replaces) the validation set, CSV text in the federation's data layout; every version is scored on it. */
  putValidationSet(federationId: string, csv: string): Promise<ValidationSetView> {
    return this.#request({ method: 'PUT', path: `${federationPath(federationId)}/validation`, body: { csv }, response: validationSetSchema });
  }

  getValidationSet(federationId: string): Promise<ValidationSetView> {
    return this.#request({ method: 'GET', path: `${federationPath(federationId)}/validation`, response: validationSetSchema });
  }

  /** Operator: predictions use this version by default from now on; the selection rule becomes manual. */
  promoteModel(federationId: string, version: number): Promise<FederationView> {
    return this.#request({ method: 'POST', path: `${modelPath(federationId, version)}/promote`, response: federationSchema });
  }

  putSelection(federationId: string, selection: SelectionInput): Promise<FederationView> {
    return this.#request({ method: 'PUT', path: `${federationPath(federationId)}/selection`, body: { selection }, response: federationSchema });
  }

  getModel(federationId: string, version: ModelRef = 'latest'): Promise<ModelVersionView> {
    return this.#request({ method: 'GET', path: modelPath(federationId, version), response: modelVersionSchema });
  }

  /** The JSON form, with the tensor layout; `downloadWeights` is the one to train from. */
  getModelWeights(federationId: string, version: ModelRef = 'latest'): Promise<ModelWeightsView> {
    return this.#request({
      method: 'GET',
      path: `${modelPath(federationId, version)}/weights`,
      response: modelWeightsSchema,
    });
  }

  /** A version's weights in the binary form (float32 little-endian), and the version the server resolved `latest` or `default` to. */
  async downloadWeights(federationId: string, version: ModelRef = 'latest'): Promise<ModelWeightsFloat32> {
    const path = `${modelPath(federationId, version)}/weights`;
    const headers: Record<string, string> = { accept: 'application/octet-stream, application/problem+json' };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    return this.#attempt(async () => {
      const answer = await this.#send({ method: 'GET', path, headers, timeoutMs: this.#timeoutMs });
      if (!isOk(answer)) throw apiError('GET', path, answer);
      const type = answer.header('content-type') ?? '';
      const header = answer.header(MODEL_VERSION_HEADER);
      if (!type.startsWith('application/octet-stream')) throw new FedscoreContractError('GET', path, `expected application/octet-stream, got ${JSON.stringify(type)}`);
      if (header === null || !/^\d{1,10}$/.test(header)) throw new FedscoreContractError('GET', path, `expected a version in ${MODEL_VERSION_HEADER}, got ${JSON.stringify(header)}`);
      const resolved = Number(header);
      try {
        return { version: resolved, weights: decodeWeights(answer.body) };
      } catch (error) {
        throw new FedscoreContractError('GET', path, (error as Error).message);
      }
    });
  }

  // --- predictions ----------------------------------------------------------------------------------

  predict(federationId: string, body: PredictInput): Promise<PredictResponse> {
    return this.#request({
      method: 'POST',
      path: `${federationPath(federationId)}/predictions`,
      body,
      response: predictResponseSchema,
    });
  }

  // --- encrypted predictions ---------------------------------------------------------------------------

  /** Operator: uploads a key session's public material (binary) for one model version. */
  async createHeSession(federationId: string, material: Uint8Array, modelVersion?: number): Promise<HeSessionView> {
    const query = new URLSearchParams({ federationId, ...(modelVersion !== undefined && { modelVersion: String(modelVersion) }) });
    const text = await this.#binary('POST', `/v1/he-sessions?${query}`, material, 'json');
    return parseWith(heSessionSchema, 'POST', '/v1/he-sessions', text as string);
  }

  getHeSession(sessionId: string): Promise<HeSessionView> {
    return this.#request({ method: 'GET', path: `/v1/he-sessions/${segment(sessionId)}`, response: heSessionSchema });
  }

  async deleteHeSession(sessionId: string): Promise<void> {
    await this.#binary('DELETE', `/v1/he-sessions/${segment(sessionId)}`, undefined, 'none');
  }

  /** Ciphertexts in, ciphertexts out, as framed binary: only the session's key holder can read them. */
  async predictEncrypted(sessionId: string, ciphertexts: Uint8Array[]): Promise<Uint8Array[]> {
    const bytes = await this.#binary('POST', `/v1/he-sessions/${segment(sessionId)}/predictions`, encodeFrames(ciphertexts), 'binary');
    return decodeFrames(bytes as Uint8Array);
  }

  // --- transport ------------------------------------------------------------------------------------

  async #binary(method: 'GET' | 'POST' | 'DELETE', path: string, body: Uint8Array | undefined, expect: 'json' | 'binary' | 'none'): Promise<string | Uint8Array | undefined> {
    const headers: Record<string, string> = { accept: expect === 'binary' ? 'application/octet-stream' : 'application/json, application/problem+json' };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/octet-stream';
    return this.#attempt(async () => {
      const answer = await this.#send({ method, path, headers, ...(body !== undefined && { body }), timeoutMs: this.#timeoutMs });
      if (!isOk(answer)) throw apiError(method, path.split('?')[0]!, answer);
      if (expect === 'binary') return answer.body;
      if (expect === 'json') return textOf(answer);
      return undefined;
    });
  }

  async #request<T>(spec: RequestSpec<T>): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
    if (!spec.anonymous && this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    let payload: string | undefined;
    if (spec.method === 'POST' || spec.method === 'PUT') {
      // Fastify refuses an empty body sent as JSON, so body-less POSTs still send `{}`.
      payload = JSON.stringify(spec.body ?? {});
      headers['content-type'] = 'application/json';
    }
    const path = spec.path.split('?')[0]!;
    return this.#attempt(async () => {
      const answer = await this.#send({ method: spec.method, path: spec.path, headers, ...(payload !== undefined && { body: payload }), timeoutMs: spec.timeoutMs ?? this.#timeoutMs });
      const accepted = isOk(answer) || (spec.acceptStatuses ?? []).includes(answer.status);
      if (!accepted) throw apiError(spec.method, path, answer);
      return parseWith(spec.response, spec.method, path, textOf(answer));
    });
  }

  /** One attempt, or several under the client's retry policy. */
  #attempt<T>(work: () => Promise<T>): Promise<T> {
    const policy = this.#retry;
    return policy ? withRetry(work, policy, (error) => retryHint(error, policy), this.#signal) : work();
  }

  /** One exchange, whole; a failure to get an answer becomes a sentence that names the server and the reason. */
  async #send(request: { method: string; path: string; headers: Record<string, string>; body?: string | Uint8Array; timeoutMs: number }): Promise<TransportAnswer> {
    const { method, path, timeoutMs } = request;
    try {
      return await this.#transport.send({
        method,
        url: this.baseUrl + path,
        headers: request.headers,
        ...(request.body !== undefined && { body: request.body }),
        timeoutMs,
        ...(this.#signal && { signal: this.#signal }),
      });
    } catch (error) {
      if (this.#signal?.aborted) throw this.#signal.reason;
      if (error instanceof RequestTimeoutError) {
        throw new FedscoreNetworkError(method, this.baseUrl + path.split('?')[0], `no answer within ${Math.round(timeoutMs / 1000)} s`, 'ETIMEDOUT', { cause: error.cause ?? error });
      }
      const { reason, code } = describeNetworkError(error);
      throw new FedscoreNetworkError(method, this.baseUrl + path.split('?')[0], reason, code, { cause: error });
    }
  }
}

/**
 * An injected fetch in the transport's shape: the time limit and the client's signal as one AbortSignal,
 * the body read whole inside the limit (so a stall mid-body is a timeout too, as with the node transport).
 */
function fetchTransport(fetchImpl: typeof fetch): Transport {
  return {
    async send(request: TransportRequest): Promise<TransportAnswer> {
      const timeout = AbortSignal.timeout(request.timeoutMs);
      const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
      try {
        const response = await fetchImpl(request.url, { method: request.method, headers: request.headers, ...(request.body !== undefined && { body: request.body }), signal });
        const body = new Uint8Array(await response.arrayBuffer());
        return { status: response.status, statusText: response.statusText, header: (name) => response.headers.get(name), body };
      } catch (error) {
        if (timeout.aborted && !request.signal?.aborted) throw new RequestTimeoutError(request.timeoutMs, { cause: error });
        throw error;
      }
    },
  };
}

const isOk = (answer: TransportAnswer): boolean => answer.status >= 200 && answer.status <= 299;

// What Response.text() does: UTF-8, a leading byte-order mark dropped, malformed bytes as U+FFFD.
const utf8 = new TextDecoder();
const textOf = (answer: TransportAnswer): string => utf8.decode(answer.body);

function apiError(method: string, path: string, answer: TransportAnswer): FedscoreApiError {
  return new FedscoreApiError(method, path, answer.status, toProblem(answer, textOf(answer)), parseRetryAfter(answer.header('retry-after')));
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running, on this host and port?)',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'the host name could not be resolved right now',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'the connection closed while sending',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server’s TLS certificate is self-signed',
  CERT_HAS_EXPIRED: 'the server’s TLS certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server’s TLS certificate is for another host',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server’s TLS certificate cannot be verified',
};

/**
 * node:http rejects with the system error itself; undici reports "fetch failed" with it as the cause. Either may be
 * an AggregateError when every address of the host failed.
 */
function describeNetworkError(error: unknown): { reason: string; code: string | undefined } {
  let cause: unknown = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (cause instanceof AggregateError && cause.errors.length > 0) cause = cause.errors[0];
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : undefined;
  if (code !== undefined && NETWORK_REASONS[code]) return { reason: NETWORK_REASONS[code]!, code };
  const message = cause instanceof Error ? cause.message : String(cause);
  return { reason: code ? `${message} (${code})` : message, code };
}

function toProblem(response: TransportAnswer, text: string): Problem {
  try {
    const parsed = problemSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: fall through to a problem built from the status line
  }
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: describeBody(text),
  };
}

function describeBody(text: string): string {
  if (text.length === 0) return 'an empty body';
  return text.length > 200 ? `${JSON.stringify(text.slice(0, 200))}…` : JSON.stringify(text);
}

const toBytes = (value: Uint8Array | string) => (typeof value === 'string' ? new Uint8Array(Buffer.from(value, 'base64')) : value);
const toBase64 = (value: Uint8Array | string) => (typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'));

function segment(value: string | number): string {
  return encodeURIComponent(String(value));
}

function federationPath(federationId: string): string {
  return `/v1/federations/${segment(federationId)}`;
}

function roundPath(federationId: string, roundNumber: number): string {
  return `${federationPath(federationId)}/rounds/${segment(roundNumber)}`;
}

function modelPath(federationId: string, version: ModelRef): string {
  return `${federationPath(federationId)}/models/${segment(version)}`;
}

function parseWith<T>(schema: z.ZodType<T>, method: string, path: string, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FedscoreContractError(method, path, `expected JSON, got ${describeBody(text)}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new FedscoreContractError(method, path, issues.join('; '));
  }
  return parsed.data;
}
