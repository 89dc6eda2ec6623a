/**
 * The `fedscore` command as scripts use it: separate processes, exit codes, and stdout contracts — the
 * `--json` report as the last line, the bare key from `admin create-key`, the URL from `serve` — plus the
 * promise that `simulate` leaves no temporary directory behind. Data is read from ../shared/data in place.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FedscoreApiError, FedscoreClient } from '../../src/client/http-client.js';
import { loadConfig } from '../../src/config.js';
import { startServer } from '../../src/server.js';
import { createTestDatabase } from '../helpers/database.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
const crxArgs = [
  '--data',
  path.join(sharedData, 'crx.data'),
  '--schema',
  path.join(repoRoot, 'schemas', 'crx.json'),
  '--split',
  path.join(sharedData, 'crx.split.json'),
];

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source as `node --import tsx src/cli/main.ts …` in the repository root. */
function fedscore(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Finished> {
  return runNode(['--import', 'tsx', 'src/cli/main.ts', ...args], env);
}

function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function lastJsonLine(stdout: string): Record<string, unknown> {
  const last = stdout.trimEnd().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

describe('fedscore train-central', () => {
  it('reports held-out metrics as JSON on the last line', async () => {
    const result = await fedscore(['train-central', '--json', ...crxArgs]);
    assert.equal(result.code, 0, result.stderr);
    const report = lastJsonLine(result.stdout);
    assert.equal(report.trainRows, 522);
    assert.equal(report.testRows, 131);
    for (const key of ['accuracy', 'auc', 'logLoss', 'seconds']) assert.equal(typeof report[key], 'number', key);
    assert.ok((report.accuracy as number) > 0.7, `accuracy ${report.accuracy}`);
    assert.ok((report.auc as number) > 0.8, `AUC ${report.auc}`);
  });
});

describe('fedscore simulate', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'fedscore-e2e-tmp-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('runs its own server, reports JSON on the last line and removes its temporary directory', async () => {
    const result = await fedscore(['simulate', '--json', ...crxArgs, '--owners', '10', '--rounds', '2', '--epochs', '2', '--seed', '3'], {
      TMPDIR: scratch,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '', 'no progress bar or warnings off a terminal');
    const report = lastJsonLine(result.stdout) as {
      federationId: string;
      mode: string;
      owners: number;
      trainRows: number;
      testRows: number;
      final: { accuracy: number; auc: number; logLoss: number };
      rounds: { round: number; accuracy: number; auc: number; logLoss: number; seconds: number; modelVersion: number }[];
      totalSeconds: number;
    };
    assert.equal(typeof report.federationId, 'string');
    assert.equal(report.mode, 'plain');
    assert.equal(report.owners, 10);
    assert.equal(report.trainRows, 522);
    assert.equal(report.testRows, 131);
    assert.deepEqual(report.rounds.map((round) => [round.round, round.modelVersion]), [
      [1, 1],
      [2, 2],
    ]);
    assert.equal(report.final.accuracy, report.rounds[1]!.accuracy);
    assert.ok(report.final.auc > 0.75, `AUC ${report.final.auc}`);
    assert.equal(typeof report.totalSeconds, 'number');
    // tsx keeps its compile cache in TMPDIR too; only the server's own directory must be gone.
    const leftovers = (await readdir(scratch)).filter((name) => name.startsWith('fedscore-simulate-'));
    assert.deepEqual(leftovers, [], 'the in-process server directory is removed');
  });
});

describe('fedscore migrate, admin create-key and serve', () => {
  let target: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    target = await createTestDatabase();
    env = { DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', LOG_LEVEL: 'silent', ADMIN_API_KEY: '' };
  });
  after(async () => {
    await target.cleanup();
  });

  it('migrates once, then finds nothing to do', async () => {
    const first = await fedscore(['migrate'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied \d+ migration\(s\)/);
    const second = await fedscore(['migrate'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /up to date, no migrations applied/);
    assert.doesNotMatch(first.stdout + second.stdout, /:\/\/[^@\s]*@/, 'no credentials in the output');
  });

  it('prints only the new key when stdout is not a terminal, and the key works', async () => {
    const result = await fedscore(['admin', 'create-key', '--label', 'e2e'], env);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.equal(lines.length, 2, 'one line and its newline');
    assert.equal(lines[1], '');
    const key = lines[0]!;
    assert.match(key, /^\S{24,}$/);

    const server = await startServer(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', LOG_LEVEL: 'silent' }),
      { logger: false },
    );
    try {
      const client = new FedscoreClient({ baseUrl: server.url, apiKey: key });
      assert.ok(Array.isArray(await client.listFederations()));
      const wrong = await client.withApiKey(`${key}x`).listFederations().catch((e: unknown) => e);
      assert.ok(wrong instanceof FedscoreApiError && wrong.status === 401);
    } finally {
      await server.close();
    }
  });

  it('serves until SIGTERM, printing the URL and the docs address, then exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--port', '0'], {
      cwd: repoRoot,
      env: { ...process.env, ...env, HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        // Both lines may arrive in separate chunks; wait for the second.
        const match = /listening on (http:\/\/\S+)\nSwagger UI: \S+\n/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.on('close', (code) => reject(new Error(`serve exited ${code} before listening: ${stderr}`)));
    });
    try {
      assert.match(stdout, new RegExp(`Swagger UI: ${url}/docs\n`));
      assert.deepEqual(await new FedscoreClient({ baseUrl: url }).health(), { status: 'ok' });
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM received, closing/);
  });
});

describe('bin/fedscore.js', () => {
  it('runs the CLI (compiled or through tsx) and exits with its code', async () => {
    const version = await runNode(['bin/fedscore.js', '--version'], {});
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    const misuse = await runNode(['bin/fedscore.js', 'train-central', '--nope'], {});
    assert.equal(misuse.code, 2);
    assert.match(misuse.stderr, /Unknown option '--nope'/);
  });
});
