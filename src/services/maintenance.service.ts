/**
 * Operator chores run from the CLI against the database directly: applying migrations, and issuing,
 * listing and revoking operator keys. An issued key is returned once to the caller (which prints it to
 * stdout) and never logged; only its hash is stored.
 */
import { sqliteFile, type Config } from '../config.js';
import { openDatabase, type Database } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRecord } from '../db/api-keys.repository.js';
import { hashSecret, newId, newSecret } from './credentials.js';

export async function migrateDatabase(config: Config, log?: (message: string) => void): Promise<{ applied: string[] }> {
  const target = config.DATABASE_URL
    ? { provider: 'postgresql' as const, url: config.DATABASE_URL }
    : { provider: 'sqlite' as const, file: sqliteFile(config) };
  return migrate(target, log ? { log } : {});
}

async function withDatabase<T>(config: Config, work: (db: Database['prisma']) => Promise<T>): Promise<T> {
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, migrate: true });
  try {
    return await work(database.prisma);
  } finally {
    await database.close();
  }
}

export function createOperatorKey(config: Config, label: string): Promise<{ id: string; apiKey: string }> {
  return withDatabase(config, async (db) => {
    const apiKey = newSecret('operator');
    const id = newId();
    await insertApiKey(db, { id, label, keyHash: hashSecret(apiKey) });
    return { id, apiKey };
  });
}

/** Every operator key ever issued (revoked ones too, with when), oldest first; never the key itself. */
export function listOperatorKeys(config: Config): Promise<ApiKeyRecord[]> {
  return withDatabase(config, (db) => listApiKeys(db, null));
}

/** Revokes a stored operator key; false when no unrevoked operator key has this id. ADMIN_API_KEY is revoked by unsetting it. */
export function revokeOperatorKey(config: Config, id: string, at: Date = new Date()): Promise<boolean> {
  return withDatabase(config, (db) => revokeApiKey(db, id, null, at));
}
