/**
 * Encrypted predictions (DESIGN protocol 5). A lender uploads public CKKS evaluation material once — no
 * secret key, no public encryption key — and gets a session pinned to one model version and bound to the
 * operator key that created it. Each prediction is ciphertexts in, ciphertexts out, evaluated in a pool
 * of worker threads; the server never sees a feature or a score. Sessions persist and survive a restart.
 * Each session may have at most HE_SESSION_QUERY_BUDGET applicant slots evaluated: outputs on chosen
 * inputs extract the model (d + 1 of them fix a logistic regression), and the budget bounds how fast one
 * session can do that — it does not stop a lender who opens session after session.
 */
import type { Db } from '../db/client.js';
import { findFederation } from '../db/federations.repository.js';
import { chargeHeQueries, deleteHeSession, listHeSessions, refundHeQueries } from '../db/he-sessions.repository.js';
import type { Config } from '../config.js';
import { HeInputError, HeWorkerError } from '../crypto/ckks/errors.js';
import { compileHeModel, modelShape, sameShape, type HeModel } from '../crypto/ckks/he-model.js';
import { planLayout } from '../crypto/ckks/layout.js';
import { decodeMaterial, decodeMaterialHeader, type HePublicMaterial } from '../crypto/ckks/material.js';
import { HeWorkerPool } from '../crypto/ckks/worker-pool.js';
import { ConflictError, DomainError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.js';
import { featureNamesOf } from '../ml/dataset-schema.js';
import type { HeSessionSummary, HeSessionView } from '../schemas/he-sessions.schema.js';
import { requireOperator, requireScope } from './auth.service.js';
import { newId, type Principal } from './credentials.js';
import { requireStandardisation } from './federations.service.js';
import type { ModelsService } from './models.service.js';
import { noServiceMetrics, secondsSince, type ServiceMetrics } from './service-metrics.js';

interface SessionRow {
  id: string;
  federationId: string;
  modelVersion: number;
  creatorKeyId: string;
  layout: string;
  material: Uint8Array;
  createdAt: Date;
  expiresAt: Date;
  queriesUsed: number;
}

export class HeSessionsService {
  #pool: HeWorkerPool | undefined;
  /** Compiled models by `${federationId}:${version}`: versions never change once published. */
  readonly #models = new Map<string, HeModel>();

  constructor(
    private readonly db: Db,
    private readonly models: ModelsService,
    private readonly config: Pick<Config, 'HE_WORKERS' | 'HE_SESSION_TTL_SECONDS' | 'HE_SESSION_QUERY_BUDGET'>,
    private readonly clock: () => Date = () => new Date(),
    private readonly metrics: ServiceMetrics = noServiceMetrics,
  ) {}

  async create(principal: Principal, input: { federationId: string; modelVersion?: number; material: Uint8Array }): Promise<HeSessionView> {
    requireScope(principal, input.federationId, 'he-predict', 'createHeSession');
    const creatorKeyId = principal.kind === 'operator' || principal.kind === 'scoped' ? principal.keyId : '';
    const { version, model } = await this.compile(input.federationId, input.modelVersion ?? 'default');
    const material = heInput(() => decodeMaterial(input.material));
    if (!sameShape(material.shape, modelShape(model))) {
      throw new DomainError('he-material-mismatch', 'Key material does not fit the model', 422,
        `createHeSession: the keys were made for a model of shape ${JSON.stringify(material.shape)}, model version ${version} has ${JSON.stringify(modelShape(model))}`);
    }
    const plan = planLayout(material.shape, material.params, material.layout);
    if ('refused' in plan) throw new DomainError('he-params-refused', 'CKKS parameters refused', 422, plan.refused);
    const id = newId();
    // Loading the keys in a worker now turns bad keys into a 422 here, not at the first prediction.
    await this.inPool(() => this.pool().openSession(id, material));
    const now = this.clock();
    const row = await this.db.heSession.create({
      data: {
        id,
        federationId: input.federationId,
        modelVersion: version,
        creatorKeyId,
        layout: material.layout,
        material: input.material as Uint8Array<ArrayBuffer>,
        createdAt: now,
        expiresAt: new Date(now.getTime() + this.config.HE_SESSION_TTL_SECONDS * 1000),
      },
    });
    return toView(row, material, this.config.HE_SESSION_QUERY_BUDGET);
  }

  async get(principal: Principal, sessionId: string): Promise<HeSessionView> {
    const row = await this.load(principal, sessionId, 'getHeSession');
    return toView(row, decodeMaterialHeader(row.material), this.config.HE_SESSION_QUERY_BUDGET);
  }

  /** The operator's overview of a federation's sessions: who opened each, until when, how many slots it has used. */
  async list(principal: Principal, federationId: string): Promise<HeSessionSummary[]> {
    requireOperator(principal, 'listHeSessions');
    if (!(await findFederation(this.db, federationId))) throw new NotFoundError('federation', federationId);
    const budget = this.config.HE_SESSION_QUERY_BUDGET;
    const now = this.clock().getTime();
    return (await listHeSessions(this.db, federationId)).map((row) => ({
      id: row.id,
      modelVersion: row.modelVersion,
      layout: row.layout as HeSessionSummary['layout'],
      creatorKeyId: row.creatorKeyId,
      createdAt: row.createdAt.toISOString(),
      expiresAt: row.expiresAt.toISOString(),
      expired: row.expiresAt.getTime() <= now,
      queryBudget: budget,
      queriesUsed: row.queriesUsed,
      queriesRemaining: Math.max(0, budget - row.queriesUsed),
    }));
  }

  async delete(principal: Principal, sessionId: string): Promise<void> {
    await this.load(principal, sessionId, 'deleteHeSession');
    // Another delete may have come between the read and here (PostgreSQL runs them side by side): it finds
    // the session gone, as it would a moment later.
    if (!(await deleteHeSession(this.db, sessionId))) throw new NotFoundError('he-session', sessionId);
    this.#pool?.forgetSession(sessionId);
  }

  /** Ciphertexts in, ciphertexts out. Nothing is stored. */
  async predict(principal: Principal, sessionId: string, ciphertexts: Uint8Array[]): Promise<Uint8Array[]> {
    const row = await this.load(principal, sessionId, 'predictEncrypted');
    if (row.expiresAt.getTime() <= this.clock().getTime()) {
      throw new DomainError('he-session-expired', 'Key session expired', 410, `predictEncrypted: session ${sessionId} expired at ${row.expiresAt.toISOString()}; create a new one`);
    }
    // Charged before any evaluation work, by one conditional update that holds across instances.
    const slots = applicantSlots(row, ciphertexts.length);
    const budget = this.config.HE_SESSION_QUERY_BUDGET;
    if (!(await chargeHeQueries(this.db, sessionId, slots, budget))) throw budgetExhausted(sessionId, budget, row.queriesUsed, slots);
    try {
      const { model } = await this.compile(row.federationId, row.modelVersion);
      const started = performance.now();
      const outputs = await this.inPool(() =>
        this.pool().evaluate({
          sessionId,
          material: async () => decodeMaterial(row.material),
          model,
          modelKey: `${row.federationId}:${row.modelVersion}`,
          ciphertexts,
          layout: row.layout as HePublicMaterial['layout'],
        }),
      );
      this.metrics.heEvaluated(secondsSince(started));
      return outputs;
    } catch (error) {
      // A failed evaluation answered nothing, so it taught the caller nothing: its slots go back. Should
      // the refund itself fail, the slots stay spent (the safe side) and the evaluation's error is reported.
      await refundHeQueries(this.db, sessionId, slots).catch(() => undefined);
      throw error;
    }
  }

  /** Jobs waiting for a worker on this instance (0 before the pool starts), for the metrics scrape. */
  queueLength(): number {
    return this.#pool?.queued ?? 0;
  }

  /** Worker errors as problems: the client's input (4xx) or the pool's own trouble (503). */
  private async inPool<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof HeInputError) throw inputProblem(error);
      if (error instanceof HeWorkerError) {
        throw new DomainError('he-evaluation-unavailable', 'Encrypted evaluation unavailable', 503, error.message, undefined, 1);
      }
      throw error;
    }
  }

  /** Deletes sessions past their expiry (their key material with them); each instance runs this periodically. */
  async sweepExpired(): Promise<number> {
    const expired = await this.db.heSession.findMany({ where: { expiresAt: { lte: this.clock() } }, select: { id: true } });
    if (expired.length === 0) return 0;
    const { count } = await this.db.heSession.deleteMany({ where: { id: { in: expired.map((row) => row.id) } } });
    for (const { id } of expired) this.#pool?.forgetSession(id);
    return count;
  }

  async close(): Promise<void> {
    await this.#pool?.close();
  }

  /** The model version, compiled for CKKS, or a 409 naming why it cannot be. */
  private async compile(federationId: string, ref: number | 'default'): Promise<{ version: number; model: HeModel }> {
    const { federation, version, weights } = await this.models.load(federationId, ref);
    requireStandardisation(federation, 'createHeSession');
    const key = `${federationId}:${version}`;
    let model = this.#models.get(key);
    if (!model) {
      const compiled = compileHeModel(federation.modelSpec, weights, featureNamesOf(federation.datasetSchema).length);
      if ('refused' in compiled) {
        throw new ConflictError('model-not-he-evaluable', 'Model cannot be evaluated under encryption', `createHeSession: model version ${version}: ${compiled.refused}`);
      }
      model = compiled;
      this.#models.set(key, model);
    }
    return { version, model };
  }

  private async load(principal: Principal, sessionId: string, action: string): Promise<SessionRow> {
    if (principal.kind === 'anonymous') throw new UnauthorizedError();
    if (principal.kind !== 'operator' && principal.kind !== 'scoped') throw new ForbiddenError(`${action}: requires the operator key or a key with the he-predict scope`);
    const row = await this.db.heSession.findUnique({ where: { id: sessionId } });
    if (!row) throw new NotFoundError('he-session', sessionId);
    requireScope(principal, row.federationId, 'he-predict', action);
    if (principal.keyId !== row.creatorKeyId) {
      throw new ForbiddenError(`${action}: a key session is usable only with the key that created it`);
    }
    return row;
  }

  private pool(): HeWorkerPool {
    // Started on first use, so servers that never score under encryption start no threads.
    this.#pool ??= new HeWorkerPool(this.config.HE_WORKERS > 0 ? { size: this.config.HE_WORKERS } : {});
    return this.#pool;
  }
}

function heInput<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof HeInputError) throw inputProblem(error);
    throw error;
  }
}

function inputProblem(error: HeInputError): DomainError {
  const slug = error.code === 'bad-params' ? 'he-params-refused' : error.code === 'too-large' ? 'body-too-large' : error.code === 'bad-ciphertext' ? 'invalid-ciphertext' : 'invalid-he-material';
  return new DomainError(slug, 'Encrypted-prediction input refused', error.code === 'too-large' ? 413 : 422, error.message);
}

/**
 * The applicant slots a request asks to have evaluated: one per ciphertext in the single layouts; in the batched one
 * every slot of every set, filled or not, since the server cannot tell an applicant from padding. A count
 * that is not whole sets is charged rounded up, and refunded when the evaluation refuses it.
 */
function applicantSlots(row: SessionRow, ciphertexts: number): number {
  const header = decodeMaterialHeader(row.material);
  const plan = planLayout(header.shape, header.params, header.layout);
  if ('refused' in plan) throw new Error(`predictEncrypted: stored session ${row.id} has no valid layout: ${plan.refused}`);
  return Math.ceil(ciphertexts / plan.ciphertextsPerSet) * plan.applicantsPerSet;
}

/**
 * 403, not 429: a budget does not refill with time, so there is no Retry-After to give, and a client that
 * retries 429s (the SDK does) would only wait to be refused again. The session is spent for good.
 */
function budgetExhausted(sessionId: string, budget: number, used: number, slots: number): DomainError {
  return new DomainError(
    'query-budget-exhausted',
    'Query budget of the key session exhausted',
    403,
    `predictEncrypted: session ${sessionId} has ${Math.max(0, budget - used)} of its ${budget} applicant slots left and this request needs ${slots}`,
  );
}

function toView(row: SessionRow, material: Pick<HePublicMaterial, 'layout' | 'params' | 'galoisSteps'>, budget: number): HeSessionView {
  return {
    id: row.id,
    federationId: row.federationId,
    modelVersion: row.modelVersion,
    layout: material.layout,
    params: material.params,
    galoisSteps: material.galoisSteps,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    queryBudget: budget,
    queriesUsed: row.queriesUsed,
    queriesRemaining: Math.max(0, budget - row.queriesUsed),
  };
}
