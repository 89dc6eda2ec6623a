/**
 * Builds a real app over a real database for HTTP tests: SQLite in a temp dir by default, a fresh
 * PostgreSQL database with FEDSCORE_TEST_DB=postgres. Nothing is mocked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { countContributions, findRound, insertUpdate } from '../../src/db/rounds.repository.js';
import { buildApp } from '../../src/http/app.js';
import type { LogOptions } from '../../src/http/logging.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
import { createTestDatabase } from './database.js';
import { snapshot } from './database-contents.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export const crxSchema = JSON.parse(readFileSync(path.join(repoRoot, 'schemas', 'crx.json'), 'utf8')) as DatasetSchema;

export interface TestApp {
  /** The current instance; `restart()` replaces it, so these always reach the live server. */
  readonly app: FastifyInstance;
  readonly http: supertest.Agent;
  readonly database: Database;
  config: Config;
  /**
   * Closes the current instance (the app, its sweep and worker pool, its database handle), then starts a
   * new one over the same database, as a restarted server would. Returns this same TestApp.
   */
  restart(): Promise<TestApp>;
  /** A second live instance over the same database, as another server behind a load balancer. */
  startAnother(): Promise<Instance>;
  close(): Promise<void>;
}

export interface Instance {
  app: FastifyInstance;
  http: supertest.Agent;
  database: Database;
  close(): Promise<void>;
}

export interface TestAppOptions {
  clock?: () => Date;
  env?: Record<string, string>;
  /** Run the periodic deadline sweep, as a real server does (tests call `sweep()` themselves otherwise). */
  sweepDeadlines?: boolean;
  /** Log at this level to this destination; by default nothing is logged. */
  log?: LogOptions;
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const target = await createTestDatabase();
  const config = loadConfig({
    DATA_DIR: target.dataDir,
    DATABASE_URL: target.databaseUrl ?? '',
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const live = new Set<Instance>();
  const start = async (): Promise<Instance> => {
    const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, migrate: true });
    const app = await buildApp({
      config,
      database,
      logger: options.log ?? false,
      sweepDeadlines: options.sweepDeadlines ?? false,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const instance: Instance = {
      app,
      database,
      http: supertest.agent(app.server),
      close: async () => {
        if (!live.delete(instance)) return;
        await app.close();
        await database.close();
      },
    };
    live.add(instance);
    return instance;
  };
  let current = await start();
  const testApp: TestApp = {
    get app() {
      return current.app;
    },
    get http() {
      return current.http;
    },
    get database() {
      return current.database;
    },
    config,
    async restart() {
      // A shutdown that never finishes fails here, not as a hang of the whole file.
      await boundedWait(current.close(), SHUTDOWN_BOUND_MS, 'the running instance to close');
      current = await start();
      return testApp;
    },
    startAnother: start,
    async close() {
      for (const instance of [...live]) await instance.close();
      await target.cleanup();
    },
  };
  return testApp;
}

export { snapshot };

const SHUTDOWN_BOUND_MS = 30_000;

async function boundedWait<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`waiting for ${what}: not done after ${ms} ms`)), ms)));
  try {
    return await Promise.race([work, giveUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Content-Security-Policy header as directive → sources (security-headers and console tests). */
export function cspDirectives(header: string | undefined): Record<string, string[]> {
  assert.ok(header, 'a Content-Security-Policy header');
  return Object.fromEntries(
    header
      .split(';')
      .map((part) => part.trim().split(/\s+/))
      .filter((words) => words[0])
      .map(([name, ...sources]) => [name!, sources]),
  );
}

/**
 * Polls until `check` holds, for behaviour driven by a timer (the deadline sweep). The bound is generous and
 * only turns a never-happens into a failure; how long it took is not asserted.
 */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > giveUp) assert.fail(`waitFor: ${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

export const problem = (type: string) => `https://fedscore.dev/problems/${type}`;

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: { type?: string } & Record<string, unknown>;
}

/** An RFC 9457 refusal: the status, the problem+json media type and the problem type. */
export function assertProblem(res: Reply, status: number, type: string, name = type): void {
  assert.equal(res.status, status, `${name}: status (${JSON.stringify(res.body).slice(0, 300)})`);
  assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/, `${name}: media type`);
  assert.equal(res.body.type, problem(type), `${name}: problem type`);
}

/** Sends a request that must be refused, and proves it changed nothing in any table. */
export async function assertRefused(
  t: { database: Database },
  send: () => PromiseLike<Reply>,
  status: number,
  type: string,
  name = type,
): Promise<Reply> {
  const before = await snapshot(t.database);
  const res = await send();
  assertProblem(res, status, type, name);
  assert.deepEqual(await snapshot(t.database), before, `${name}: database unchanged`);
  return res;
}

export function federationBody(overrides: Record<string, unknown> = {}) {
  return {
    name: 'crx test federation',
    datasetSchema: crxSchema,
    model: { kind: 'logreg' },
    training: { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: true, seed: 7 },
    ...overrides,
  };
}

/** Creates a federation and enrols `owners` owners; returns ids and keys. */
export async function setupFederation(t: TestApp, owners: number, overrides: Record<string, unknown> = {}) {
  const created = await t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody(overrides)).expect(201);
  const federationId: string = created.body.federation.id;
  const featureCount: number = created.body.federation.featureNames.length;
  const keys: string[] = [];
  const ownerIds: string[] = [];
  for (let i = 0; i < owners; i++) {
    const enrolled = await t.http
      .post(`/v1/federations/${federationId}/owners`)
      .send({ enrolmentToken: created.body.enrolmentToken, name: `owner ${i}` })
      .expect(201);
    keys.push(enrolled.body.apiKey);
    ownerIds.push(enrolled.body.owner.id);
  }
  return { federationId, enrolmentToken: created.body.enrolmentToken as string, featureCount, keys, ownerIds };
}

/**
 * What the database holds when a server dies between committing an owner's update and settling the round:
 * the update and its count, through the same repository calls the service makes, and nothing else.
 */
export async function commitUpdateWithoutSettling(
  database: Database,
  update: { federationId: string; round: number; ownerId: string; weights: Float32Array; numSamples: number },
): Promise<void> {
  const round = await findRound(database.prisma, update.federationId, update.round);
  if (!round) throw new Error(`commitUpdateWithoutSettling: no round ${update.round}`);
  await database.prisma.$transaction(async (tx) => {
    await insertUpdate(tx, { id: `unsettled-${update.ownerId}`, roundId: round.id, ownerId: update.ownerId, numSamples: update.numSamples, weights: update.weights, metrics: {} });
    assert.ok(await countContributions(tx, round.id, 'open', 1), 'the round is open');
  });
}

/** A raw crx record (line 1 of crx.data) keyed by column name. */
export const crxRecord = (): Record<string, string> => {
  const values = 'b,30.83,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,+'.split(',');
  return Object.fromEntries(crxSchema.columns.map((column, i) => [column.name, values[i]!]));
};
