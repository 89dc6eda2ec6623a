/**
 * The use cases, wired together over one database. buildApp() creates one set per app; tests may build
 * their own with a fake clock.
 */
import type { Config } from '../config.js';
import { openDatabase, type Database } from '../db/client.js';
import { initTf } from '../ml/tf.js';
import { ApiKeysService } from './api-keys.service.js';
import { AuthService } from './auth.service.js';
import { FederationsService } from './federations.service.js';
import { HeSessionsService } from './he-sessions.service.js';
import { ModelsService } from './models.service.js';
import { OwnersService } from './owners.service.js';
import { PredictionsService } from './predictions.service.js';
import { RoundsService, type RoundsServiceOptions } from './rounds.service.js';
import { SecureRoundsService } from './secure-rounds.service.js';

export interface Services {
  database: Database;
  auth: AuthService;
  apiKeys: ApiKeysService;
  federations: FederationsService;
  owners: OwnersService;
  rounds: RoundsService;
  secureRounds: SecureRoundsService;
  models: ModelsService;
  predictions: PredictionsService;
  heSessions: HeSessionsService;
}

export function createServices(config: Config, database: Database, options: RoundsServiceOptions = {}): Services {
  const db = database.prisma;
  const federations = new FederationsService(db);
  const models = new ModelsService(db, federations);
  const rounds = new RoundsService(db, federations, {
    wait: { pollMs: config.ROUND_WAIT_POLL_MS, maxWaiters: config.ROUND_WAIT_MAX_WAITERS },
    ...options,
  });
  return {
    database,
    auth: new AuthService(db, config),
    apiKeys: new ApiKeysService(db, federations, rounds.clock),
    federations,
    owners: new OwnersService(db, federations, rounds.clock),
    rounds,
    secureRounds: new SecureRoundsService(db, federations, rounds),
    models,
    predictions: new PredictionsService(models),
    heSessions: new HeSessionsService(db, models, config, rounds.clock, options.metrics),
  };
}

/**
 * Everything a server needs before it can answer: the TensorFlow.js backend and the database (opened and
 * migrated unless the caller brings one). `close` releases only what this call opened.
 */
export async function openServices(
  config: Config,
  options: RoundsServiceOptions & { database?: Database } = {},
): Promise<{ services: Services; close(): Promise<void> }> {
  await initTf(config.TF_BACKEND);
  const { database: given, ...roundOptions } = options;
  const database = given ?? (await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, migrate: true }));
  const services = createServices(config, database, roundOptions);
  return {
    services,
    close: async () => {
      services.rounds.shutdown(); // idempotent; buildApp already did it before draining requests
      await services.heSessions.close();
      if (!given) await database.close();
    },
  };
}
