/**
 * The servers the load benchmark measures, each a `fedscore serve` process of its own started from the
 * compiled CLI as production runs it, so the load generator never shares the server's event loop. SQLite
 * gets a fresh data directory; PostgreSQL a fresh database on 127.0.0.1 (created here, dropped WITH
 * (FORCE) afterwards, as test/helpers/database.ts does), shared by one or two instances. Rate limits are
 * off and logging is at warn, and every line an instance logs at warn or above is kept: under load those
 * are the server's own complaints. `scrape` reads each instance's /metrics for its CPU time, event-loop
 * lag and per-route request times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { repoRoot } from '../bench-io.js';

export type DatabaseKind = 'sqlite' | 'postgres';

export interface Instance {
  url: string;
  child: ChildProcess;
  /** Log lines at warn or above (pino level ≥ 40), at most the first 50; `warnings` counts all. */
  complaints: string[];
  warnings: number;
}

export interface Deployment {
  database: DatabaseKind;
  instances: Instance[];
  urls: string[];
  adminKey: string;
  /** PostgreSQL only: the admin URL and the database the instances use, for `watchPostgres`. */
  postgres?: { adminUrl: string; database: string };
  close(): Promise<void>;
}

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const CLI = path.join(repoRoot, 'bin', 'fedscore.js');
const COMPILED = path.join(repoRoot, 'dist', 'cli', 'main.js');
const live = new Set<ChildProcess>();

// A bench that dies mid-run must not leave servers behind.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * bin/fedscore.js falls back to the TypeScript sources when dist/ is missing, which would measure tsx's
 * loader too: insist on the build, and say so when sources changed after it.
 */
async function requireBuild(): Promise<void> {
  if (!existsSync(COMPILED)) throw new Error(`load bench: expected the compiled server at ${path.relative(repoRoot, COMPILED)}; run npm run build first`);
  const built = statSync(COMPILED).mtimeMs;
  const newer = await newestSource(path.join(repoRoot, 'src'));
  if (newer > built) console.error('load bench: some file under src/ is newer than dist/; the servers run the last build (npm run build to refresh it)');
}

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'generated') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestSource(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, (await stat(full)).mtimeMs);
  }
  return newest;
}

function startInstance(env: NodeJS.ProcessEnv): Promise<Instance> {
  // BENCH_LOAD_CPU_PROF_DIR: each server writes a V8 CPU profile there when it exits (open it in Chrome DevTools).
  const profile = process.env.BENCH_LOAD_CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(process.env.BENCH_LOAD_CPU_PROF_DIR)] : [];
  const child = spawn(process.execPath, [...profile, CLI, 'serve'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const instance: Instance = { url: '', child, complaints: [], warnings: 0 };
  const seen: string[] = [];
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      if (seen.length < 200) seen.push(line);
      const listening = /^fedscore listening on (http:\/\/\S+)$/.exec(line);
      if (listening && !instance.url) {
        instance.url = listening[1]!;
        resolve(instance);
        return;
      }
      if (!line.startsWith('{')) return;
      try {
        const entry = JSON.parse(line) as { level?: number };
        if ((entry.level ?? 0) >= 40) {
          instance.warnings++;
          if (instance.complaints.length < 50) instance.complaints.push(line.slice(0, 2000));
        }
      } catch {
        // not a log line
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        let end: number;
        while ((end = buffered.indexOf('\n')) >= 0) {
          onLine(buffered.slice(0, end));
          buffered = buffered.slice(end + 1);
        }
      });
    }
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!instance.url) reject(new Error(`load bench: fedscore serve exited (${code ?? signal}) before listening; it printed:\n${seen.join('\n')}`));
    });
  });
}

async function stopInstance(instance: Instance): Promise<void> {
  const { child } = instance;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function withAdmin<T>(adminUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** One or more instances on a fresh database; PostgreSQL only for more than one. */
export async function startDeployment(database: DatabaseKind, instanceCount: number): Promise<Deployment> {
  if (database === 'sqlite' && instanceCount !== 1) throw new Error(`load bench: expected one instance on SQLite (an embedded file), got ${instanceCount}`);
  await requireBuild();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fedscore-bench-load-'));
  const adminKey = randomBytes(24).toString('base64url');
  const adminUrl = process.env.BENCH_LOAD_PG_URL || process.env.FEDSCORE_TEST_PG_URL || DEFAULT_PG_URL;
  const dbName = `fedscore_load_${process.pid}_${randomBytes(6).toString('hex')}`;
  let databaseUrl = '';
  if (database === 'postgres') {
    const url = new URL(adminUrl);
    if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') throw new Error(`load bench: expected PostgreSQL on this machine, got host ${url.hostname}`);
    await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE "${dbName}"`));
    url.pathname = `/${dbName}`;
    databaseUrl = url.toString();
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    ADMIN_API_KEY: adminKey,
    METRICS_TOKEN: '',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_KEY: '0',
    RATE_LIMIT_PER_IP: '0',
    NODE_ENV: 'production',
  };
  const instances: Instance[] = [];
  const close = async () => {
    await Promise.all(instances.map(stopInstance));
    if (database === 'postgres') await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    // One at a time: the first migrates the fresh database, the others find it migrated.
    for (let i = 0; i < instanceCount; i++) instances.push(await startInstance(env));
  } catch (error) {
    await close();
    throw error;
  }
  return {
    database,
    instances,
    urls: instances.map((instance) => instance.url),
    adminKey,
    ...(database === 'postgres' && { postgres: { adminUrl, database: dbName } }),
    close,
  };
}

/** What an instance's /metrics says about its process and one route. */
export interface InstanceSample {
  cpuSeconds: number;
  eventLoopLagP99Seconds: number;
  /** Sum and count of fedscore_http_request_duration_seconds for the route, 2xx answers. */
  routeSeconds: number;
  routeCount: number;
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== ' ' && line[name.length] !== '{')) continue;
    const labelText = line[name.length] === '{' ? line.slice(name.length + 1, line.indexOf('}')) : '';
    if (!Object.entries(labels).every(([key, value]) => labelText.includes(`${key}="${value}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? total : 0;
}

/**
 * Reads every instance's metrics. prom-client resets its event-loop delay histogram at each scrape, so a
 * scrape just before a window and one just after it give that window's lag.
 */
export async function scrape(deployment: Deployment, method: string, route: string): Promise<InstanceSample[]> {
  return Promise.all(
    deployment.urls.map(async (url) => {
      const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${deployment.adminKey}` } });
      const text = await response.text();
      if (!response.ok) throw new Error(`load bench: GET ${url}/metrics answered ${response.status}: ${text.slice(0, 500)}`);
      const labels = { method, route };
      let routeSeconds = 0;
      let routeCount = 0;
      for (const status of ['200', '201']) {
        routeSeconds += metricValue(text, 'fedscore_http_request_duration_seconds_sum', { ...labels, status_code: status });
        routeCount += metricValue(text, 'fedscore_http_request_duration_seconds_count', { ...labels, status_code: status });
      }
      return {
        cpuSeconds: metricValue(text, 'process_cpu_seconds_total'),
        eventLoopLagP99Seconds: metricValue(text, 'nodejs_eventloop_lag_p99_seconds'),
        routeSeconds,
        routeCount,
      };
    }),
  );
}

/** Mean number of the instances' PostgreSQL sessions in each state while a window ran. */
export interface PostgresActivity {
  samples: number;
  /** Running a statement. */
  active: number;
  /** Running a statement but waiting for a lock another transaction holds (row locks included). */
  waitingForLock: number;
  /** Inside a transaction, waiting for the server process to send its next statement. */
  idleInTransaction: number;
}

/**
 * Samples pg_stat_activity for the deployment's database every `everyMs` until stopped: where the
 * database's side of a request's time goes (running, queued behind a lock, or held open by the app).
 */
export async function watchPostgres(deployment: Deployment, everyMs = 200): Promise<() => Promise<PostgresActivity>> {
  const { adminUrl, database } = deployment.postgres!;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  const totals = { samples: 0, active: 0, waitingForLock: 0, idleInTransaction: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await client.query<{ active: string; locked: string; held: string }>(
        `SELECT count(*) FILTER (WHERE state = 'active') AS active,
                count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock') AS locked,
                count(*) FILTER (WHERE state = 'idle in transaction') AS held
           FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [database],
      );
      totals.samples++;
      totals.active += Number(rows[0]!.active);
      totals.waitingForLock += Number(rows[0]!.locked);
      totals.idleInTransaction += Number(rows[0]!.held);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return async () => {
    running = false;
    await loop;
    await client.end();
    const mean = (value: number) => (totals.samples > 0 ? value / totals.samples : NaN);
    return { samples: totals.samples, active: mean(totals.active), waitingForLock: mean(totals.waitingForLock), idleInTransaction: mean(totals.idleInTransaction) };
  };
}
