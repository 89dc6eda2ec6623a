/**
 * `fedscore migrate`: applies pending database migrations and lists them. The server migrates on start
 * anyway; this is for deployments that migrate as a separate step before rolling out instances.
 */
import { loadConfig, sqliteFile, type Config } from '../../config.js';
import { migrateDatabase } from '../../services/maintenance.service.js';
import { EXIT_OK, parseCommandArgs, writeLine, type CliIo, type Command } from '../cli-io.js';

const USAGE = `Usage: fedscore migrate

Applies pending migrations to the database named by DATABASE_URL (PostgreSQL), or to the SQLite file in
DATA_DIR when DATABASE_URL is unset, and prints the ones applied.

Options:
  -h, --help    show this help`;

export const migrateCommand: Command = {
  name: 'migrate',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseCommandArgs(USAGE, args, {} as const, io);
    if (values === null) return EXIT_OK;
    const config = loadConfig(io.env);
    const { applied } = await migrateDatabase(config);
    const target = describeDatabase(config);
    if (applied.length === 0) {
      writeLine(io.stdout, `${target}: up to date, no migrations applied`);
    } else {
      writeLine(io.stdout, `${target}: applied ${applied.length} migration(s)`);
      for (const name of applied) writeLine(io.stdout, `  ${name}`);
    }
    return EXIT_OK;
  },
};

/** Names the database without its credentials: DATABASE_URL usually carries a password. */
export function describeDatabase(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR'>): string {
  if (config.DATABASE_URL === undefined) return `SQLite ${sqliteFile(config)}`;
  try {
    const url = new URL(config.DATABASE_URL);
    return `PostgreSQL ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}
