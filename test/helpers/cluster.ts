/**
 * `fedscore serve` processes for multi-instance tests: each started from source on port 0 over a given
 * database, as one of several instances behind a load balancer would be, and stopped however the test
 * wants — SIGKILL for a crash that leaves no chance to clean up, SIGTERM for a graceful stop. Separate
 * processes, not several apps in the test's process, so nothing an instance keeps in memory can reach
 * another. A cluster is such instances behind the test balancer (balancer.ts), with a way to crash the
 * instance that is handling a chosen request at the moment it handles it.
 */
import { startBalancer, type Balancer, type Forwarded } from './balancer.js';
import { startCli, type CliProcess } from './processes.js';
import type { TestDatabase } from './database.js';

export interface ServeProcess {
  /** Where this instance listens, e.g. http://127.0.0.1:41234. */
  url: string;
  cli: CliProcess;
  /** False once the process has exited, however. */
  running(): boolean;
  /** Sends `signal` (default SIGKILL) unless the process has already exited, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ServeExit>;
}

/** How a process ended: its exit code, or the signal that ended it. */
export interface ServeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServeOptions {
  database: Pick<TestDatabase, 'databaseUrl' | 'dataDir'>;
  adminKey: string;
  /** More settings for the server (DEADLINE_SWEEP_MS, …); they override the defaults below. */
  env?: Record<string, string>;
}

/**
 * Starts `fedscore serve --port 0` and resolves once it prints the address it listens on (so migrations
 * have run). Rate limits are off by default: a test enrols its owners from one address.
 */
export async function startServe(options: ServeOptions): Promise<ServeProcess> {
  const cli = startCli(['serve', '--port', '0'], {
    HOST: '127.0.0.1',
    DATA_DIR: options.database.dataDir,
    DATABASE_URL: options.database.databaseUrl ?? '',
    ADMIN_API_KEY: options.adminKey,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_KEY: '0',
    RATE_LIMIT_PER_IP: '0',
    ...options.env,
  });
  const exit: Promise<ServeExit> = cli.exited.then((code) => ({ code, signal: cli.child.signalCode }));
  const line = await cli.waitForLine(/^fedscore listening on http:\/\/\S+$/, 'its address');
  const running = () => cli.child.exitCode === null && cli.child.signalCode === null;
  return {
    url: line.slice('fedscore listening on '.length),
    cli,
    running,
    async kill(signal = 'SIGKILL') {
      if (running()) cli.child.kill(signal);
      return exit;
    },
  };
}

/** Starts `count` instances at once over the same database. */
export function startServes(count: number, options: ServeOptions): Promise<ServeProcess[]> {
  return Promise.all(Array.from({ length: count }, () => startServe(options)));
}

/** An instance crashed on purpose while it had `request` in flight. */
export interface Kill {
  request: Forwarded;
  victim: ServeProcess;
  exit: Promise<ServeExit>;
  /** The instance started in its place, when the kill asked for one. */
  replacement?: Promise<ServeProcess>;
}

export interface Cluster {
  balancer: Balancer;
  /** Every instance started so far, killed ones included, in the order they started. */
  readonly instances: readonly ServeProcess[];
  /** Kills made so far, in order. */
  readonly kills: readonly Kill[];
  /**
   * SIGKILLs whichever instance the `nth` request matching `method` and `path` is sent to, as soon as that
   * request has reached it and before it answers. With `restart`, a new instance on the same database
   * joins the balancer in its place; without, the cluster goes on one instance short. The dead address
   * stays in the balancer, which then finds it refusing connections.
   */
  killDuring(method: string, path: RegExp, nth: number, options?: { restart?: boolean }): void;
  /** SIGKILLs every instance still running and stops the balancer. */
  close(): Promise<void>;
}

export async function startCluster(size: number, options: ServeOptions): Promise<Cluster> {
  const instances = await startServes(size, options);
  const balancer = await startBalancer(instances.map((instance) => instance.url));
  const kills: Kill[] = [];
  const started = (instance: ServeProcess) => {
    instances.push(instance);
    balancer.add(instance.url);
    return instance;
  };
  return {
    balancer,
    instances,
    kills,
    killDuring(method, path, nth, { restart = false } = {}) {
      let seen = 0;
      balancer.onForward((request) => {
        if (request.method !== method || !path.test(request.path) || ++seen !== nth) return;
        // A replacement may have been given a dead instance's port: the victim is the one running there.
        const victim = instances.find((instance) => instance.url === request.backend && instance.running());
        if (!victim) throw new Error(`killDuring: the balancer sent ${request.path} to ${request.backend}, where none of the cluster's instances runs`);
        const exit = victim.kill('SIGKILL');
        kills.push({ request, victim, exit, ...(restart && { replacement: exit.then(() => startServe(options)).then(started) }) });
      });
    },
    async close() {
      await Promise.allSettled(kills.map((kill) => kill.replacement));
      await Promise.all(instances.map((instance) => instance.kill('SIGKILL')));
      await balancer.close();
    },
  };
}
