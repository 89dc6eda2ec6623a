/**
 * Server configuration, parsed from the environment once with zod. Everything that reads a setting takes
 * a `Config` argument instead of touching `process.env`, so tests build apps with their own settings.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);

/** A comma-separated list of web origins such as `https://lender.example`, exactly as browsers send them. */
/** A hop count, or a list of proxy addresses / CIDR ranges; `true` (trust any sender) is refused on purpose. */
const trustProxySchema = z.union([
  z.string().regex(/^[0-9]{1,2}$/, 'expected a hop count').transform(Number).pipe(z.number().int().min(1).max(16)),
  z
    .string()
    .transform((text) => text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''))
    .pipe(z.array(z.string().refine((entry) => isIP(entry.split('/')[0]!) !== 0 && /^[^/]+(\/[0-9]{1,3})?$/.test(entry), 'expected an IP address or CIDR range')).min(1)),
]);

const originListSchema = z
  .string()
  .transform((text) => text.split(',').map((origin) => origin.trim()).filter((origin) => origin !== ''))
  .pipe(
    z
      .array(
        z.string().refine((origin) => {
          try {
            const url = new URL(origin);
            return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin;
          } catch {
            return false;
          }
        }, 'expected origins like https://app.example or http://localhost:5173 (scheme, host, optional port; no path, no trailing slash)'),
      )
      .min(1),
  );

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
  /** Largest body of the routes that carry updates, shares, records, schemas or a validation CSV, in bytes. */
  BODY_LIMIT: z.coerce.number().int().positive().default(16 * 1024 * 1024),
  /** Largest body of the routes that carry only settings, names and keys (src/http/body-limits.ts); at most BODY_LIMIT. */
  METADATA_BODY_LIMIT: z.coerce.number().int().positive().default(64 * 1024),
  /** Requests one API key may make per RATE_LIMIT_WINDOW_SECONDS, counted by each instance; 0: no limit. */
  RATE_LIMIT_PER_KEY: z.coerce.number().int().min(0).max(1_000_000_000).default(6000),
  /** Requests one IP address may make without a valid key per RATE_LIMIT_WINDOW_SECONDS, counted by each instance; 0: no limit. */
  RATE_LIMIT_PER_IP: z.coerce.number().int().min(0).max(1_000_000_000).default(600),
  RATE_LIMIT_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Web origins allowed to call the API from a browser (CORS); unset: no CORS headers at all. */
  CORS_ORIGINS: z.preprocess(emptyToUndefined, originListSchema.optional()),
  /**
   * Which proxies' X-Forwarded-For / -Proto / -Host to believe: a hop count (`1`: the one proxy in front),
   * or comma-separated addresses and CIDR ranges of the proxies (`10.0.0.0/8,127.0.0.1`). Unset: none, and
   * every request's address is the connection's, so behind a proxy all anonymous callers share its limit.
   */
  TRUST_PROXY: z.preprocess(emptyToUndefined, trustProxySchema.optional()),
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
  /**
   * Applicant slots one key session may have evaluated over its lifetime (a batched ciphertext set counts
   * all its N/2 − 2 slots). It bounds how fast one session can query, and so extract, the model.
   */
  HE_SESSION_QUERY_BUDGET: z.coerce.number().int().min(1).max(2 ** 31 - 1).default(100_000),
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
