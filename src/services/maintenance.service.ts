/**
 * Operator chores run from the CLI: applying migrations and issuing operator keys. An issued key is
 * returned once to the caller (which prints it to stdout) and never logged; only its hash is stored.
 */
import { sqliteFile, type Config } from '../config.js';
import { openDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { insertApiKey } from '../db/owners.repository.js';
import { hashSecret, newId, newSecret } from './credentials.js';

export async function migrateDatabase(config: Config, log?: (message: string) => void): Promise<{ applied: string[] }> {
  const target = config.DATABASE_URL
    ? { provider: 'postgresql' as const, url: config.DATABASE_URL }
    : { provider: 'sqlite' as const, file: sqliteFile(config) };
  return migrate(target, log ? { log } : {});
}

export async function createOperatorKey(config: Config, label: string): Promise<{ id: string; apiKey: string }> {
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR, migrate: true });
  try {
    const apiKey = newSecret('operator');
    const id = newId();
    await insertApiKey(database.prisma, { id, label, keyHash: hashSecret(apiKey) });
    return { id, apiKey };
  } finally {
    await database.close();
  }
}
