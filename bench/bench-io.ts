/**
 * Shared plumbing for benchmarks: the machine description every result carries, a throwaway server on a
 * thread of its own (as `fedscore simulate` runs one), and writing results as JSON plus a short markdown
 * table under bench/results/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { startServerThread } from '../src/cli/local-server-thread.js';
import { FedscoreClient } from '../src/client/http-client.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
const resultsDir = path.join(repoRoot, 'bench', 'results');

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

/**
 * A server on 127.0.0.1 with a fresh embedded database, removed on close. It runs on its own thread, so the
 * benchmark's owners and the server do not take turns on one event loop (src/cli/local-server-thread.ts).
 */
export async function withServer<T>(run: (operator: FedscoreClient, url: string) => Promise<T>): Promise<T> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fedscore-bench-'));
  const adminKey = randomBytes(24).toString('base64url');
  // Benchmarks measure the server, not its rate limits (and enrol up to 30,000 owners from one address).
  const env = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent', RATE_LIMIT_PER_KEY: '0', RATE_LIMIT_PER_IP: '0' };
  try {
    const server = await startServerThread(env);
    try {
      return await run(new FedscoreClient({ baseUrl: server.url, apiKey: adminKey }), server.url);
    } finally {
      await server.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
}

export async function writeResult(name: string, data: object, tables: Table[]): Promise<void> {
  await mkdir(resultsDir, { recursive: true });
  const info = machine();
  await writeFile(path.join(resultsDir, `${name}.json`), JSON.stringify({ machine: info, ...data }, null, 2) + '\n');
  const lines = [`# ${name}`, '', `Machine: ${info.cpus} × ${info.cpuModel}, ${info.memoryGiB} GiB, Node ${info.node}, ${info.date}`, ''];
  for (const table of tables) {
    lines.push(`## ${table.title}`, '', `| ${table.columns.join(' | ')} |`, `|${table.columns.map(() => '---').join('|')}|`);
    for (const row of table.rows) lines.push(`| ${row.join(' | ')} |`);
    lines.push('', ...(table.notes ?? []).map((note) => `- ${note}`), '');
  }
  await writeFile(path.join(resultsDir, `${name}.md`), lines.join('\n'));
  console.log(lines.join('\n'));
}

export const round3 = (value: number) => Math.round(value * 1000) / 1000;

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
