/**
 * Server configuration, parsed from the environment once with zod. Everything that reads a setting takes
 * a `Config` argument instead of touching `process.env`, so tests build apps with their own settings.
 */
import path from 'node:path';
import { z } from 'zod';

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);

export const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Directory of the embedded SQLite database; ignored when DATABASE_URL selects PostgreSQL. */
  DATA_DIR: z.string().min(1).default('./data'),
  /** `postgres://…` selects PostgreSQL; unset or empty selects the embedded SQLite file. */
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected postgres:// or postgresql://, or unset for SQLite')
      .optional(),
  ),
  /** Operator key for scripted deployments; `fedscore admin create-key` issues stored ones instead. */
  ADMIN_API_KEY: z.preprocess(
    emptyToUndefined,
    z.string().min(24, 'expected at least 24 characters').optional(),
  ),
  /**
   * Bearer token of the Prometheus scraper: it may read GET /metrics and nothing else. Unset, only the
   * operator may read the metrics.
   */
  METRICS_TOKEN: z.preprocess(
    emptyToUndefined,
    z.string().min(24, 'expected at least 24 characters').optional(),
  ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** TensorFlow.js backend: `cpu` (pure JS, default), `wasm`, or `tensorflow` when @tensorflow/tfjs-node is installed. */
  TF_BACKEND: z.enum(['cpu', 'wasm', 'tensorflow']).default('cpu'),
  /** Largest accepted request body in bytes. */
  BODY_LIMIT: z.coerce.number().int().positive().default(16 * 1024 * 1024),
  /** How often each instance looks for rounds past their deadline. */
  DEADLINE_SWEEP_MS: z.coerce.number().int().positive().default(5000),
  /** While requests wait for a round to change, how often each instance looks for changes other instances made. */
  ROUND_WAIT_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  /** Requests one instance lets wait for a round change at once; more are refused with 503 and Retry-After. */
  ROUND_WAIT_MAX_WAITERS: z.coerce.number().int().min(0).max(1_000_000).default(10_000),
  /** Worker threads evaluating encrypted predictions; 0 = min(2, CPUs). */
  HE_WORKERS: z.coerce.number().int().min(0).max(64).default(0),
  /** Lifetime of an encrypted-prediction key session. */
  HE_SESSION_TTL_SECONDS: z.coerce.number().int().positive().max(30 * 86_400).default(3600),
  /** Largest key-session or encrypted-prediction body in bytes (keys and ciphertext sets are megabytes). */
  HE_BODY_LIMIT: z.coerce.number().int().positive().default(64 * 1024 * 1024),
}).refine((config) => config.METRICS_TOKEN === undefined || config.METRICS_TOKEN !== config.ADMIN_API_KEY, {
  // The same value would make every scraper an operator (the operator key is checked first).
  message: 'must differ from ADMIN_API_KEY',
  path: ['METRICS_TOKEN'],
});

export type Config = z.infer<typeof configSchema>;

/** Parses `env`; throws one error naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`loadConfig: invalid environment\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** The embedded database file used when no DATABASE_URL is set. */
export function sqliteFile(config: Pick<Config, 'DATA_DIR'>): string {
  return path.resolve(config.DATA_DIR, 'fedscore.db');
}
