/**
 * Builds a real app over a real database for HTTP tests: SQLite in a temp dir by default, a fresh
 * PostgreSQL database with FEDSCORE_TEST_DB=postgres. Nothing is mocked.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { buildApp } from '../../src/http/app.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
import { createTestDatabase } from './database.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export const crxSchema = JSON.parse(readFileSync(path.join(repoRoot, 'schemas', 'crx.json'), 'utf8')) as DatasetSchema;

export interface TestApp {
  app: FastifyInstance;
  http: supertest.Agent;
  config: Config;
  database: Database;
  /** Builds a second app over the same database, as a restarted or second instance would. */
  restart(): Promise<TestApp>;
  close(): Promise<void>;
}

export async function createTestApp(options: { clock?: () => Date; env?: Record<string, string> } = {}): Promise<TestApp> {
  const target = await createTestDatabase();
  const config = loadConfig({
    DATA_DIR: target.dataDir,
    DATABASE_URL: target.databaseUrl ?? '',
    ADMIN_API_KEY: ADMIN_KEY,
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const open = async (): Promise<{ app: FastifyInstance; database: Database }> => {
    const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, migrate: true });
    const app = await buildApp({ config, database, logger: false, sweepDeadlines: false, ...(options.clock ? { clock: options.clock } : {}) });
    return { app, database };
  };
  const instances: { app: FastifyInstance; database: Database }[] = [];
  const make = async (): Promise<TestApp> => {
    const instance = await open();
    instances.push(instance);
    return {
      ...instance,
      http: supertest.agent(instance.app.server),
      config,
      restart: make,
      close: async () => {
        for (const { app, database } of instances.splice(0)) {
          await app.close();
          await database.close();
        }
        await target.cleanup();
      },
    };
  };
  return make();
}

/** Row counts and round states of every table: a test compares two snapshots to prove nothing changed. */
export async function snapshot(database: Database) {
  const db = database.prisma;
  return {
    apiKeys: await db.apiKey.count(),
    federations: await db.federation.findMany({ select: { id: true, enrolmentTokenHash: true, latestModelVersion: true }, orderBy: { id: 'asc' } }),
    owners: await db.owner.count(),
    rounds: await db.round.findMany({ select: { id: true, status: true, submissionCount: true }, orderBy: { id: 'asc' } }),
    updates: await db.update.count(),
    models: await db.modelVersion.count(),
    heSessions: await db.heSession.count(),
  };
}

export const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

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

/** A raw crx record (line 1 of crx.data) keyed by column name. */
export const crxRecord = (): Record<string, string> => {
  const values = 'b,30.83,0,u,g,w,v,1.25,t,t,01,f,g,00202,0,+'.split(',');
  return Object.fromEntries(crxSchema.columns.map((column, i) => [column.name, values[i]!]));
};
