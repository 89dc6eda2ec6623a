/**
 * The `fedscore` command as scripts use it: separate processes, exit codes, and stdout contracts — the
 * `--json` report as the last line, the bare key from `admin create-key`, the URL from `serve` — plus the
 * promise that `simulate` leaves no temporary directory behind. Data is read from ../shared/data in place.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FedscoreApiError, FedscoreClient } from '../../src/client/http-client.js';
import { loadConfig } from '../../src/config.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
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

describe('fedscore train-central: file and row errors in words', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'fedscore-e2e-files-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('names the file and the reason, without internal function names or errno codes', async () => {
    const broken = path.join(scratch, 'broken.json');
    await writeFile(broken, '{\n  "columns": [\n    x\n  ]\n}\n');
    const cases: [string[], string][] = [
      [['--data', '/x/crx.data', '--schema', crxArgs[3]!], 'cannot read /x/crx.data: no such file'],
      [['--data', scratch, '--schema', crxArgs[3]!], `cannot read ${scratch}: is a directory`],
      [['--data', crxArgs[1]!, '--schema', broken], `${broken} is not JSON: Unexpected token 'x' at line 3 column 5`],
      [['--data', crxArgs[1]!, '--schema', crxArgs[3]!, '--split', crxArgs[3]!], `${crxArgs[3]} is not a split file: expected "train" to be an array of line numbers`],
    ];
    for (const [args, message] of cases) {
      const result = await fedscore(['train-central', ...args]);
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stderr, `fedscore train-central: ${message}\n`);
    }
  });

  it('lists every value that does not fit, by physical line, and trains nothing', async () => {
    const data = path.join(scratch, 'bad.data');
    const crx = (await readFile(crxArgs[1]!, 'utf8')).split('\n').slice(0, 20);
    crx[2] = crx[2]!.replace(',u,', ',zz,');
    crx[4] = crx[4]!.replace(/^(\w),[\d.]+,/, '$1,abc,');
    await writeFile(data, crx.join('\n'));
    const result = await fedscore(['train-central', '--data', data, '--schema', crxArgs[3]!]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      `fedscore train-central: ${data}: 2 value(s) do not fit the schema; nothing was trained\n` +
        'line 3, A4: unknown value "zz" (expected one of u, y, l, t)\n' +
        'line 5, A2: not a number: "abc"\n',
    );
    assert.equal(result.stdout, '');
  });
});

describe('fedscore predict', () => {
  let scratch: string;
  let target: Awaited<ReturnType<typeof createTestDatabase>>;
  let server: { url: string; close(): Promise<void> };
  let adminKey: string;
  let federationId: string;
  let schema: DatasetSchema;
  /** The first lines of crx.data, labels included. */
  let lines: string[];

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'fedscore-e2e-predict-'));
    target = await createTestDatabase();
    adminKey = randomBytes(24).toString('base64url');
    server = await startServer(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent' }),
      { logger: false },
    );
    schema = JSON.parse(await readFile(crxArgs[3]!, 'utf8')) as DatasetSchema;
    const operator = new FedscoreClient({ baseUrl: server.url, apiKey: adminKey });
    const created = await operator.createFederation({
      name: 'cli predict',
      datasetSchema: schema,
      model: { kind: 'logreg' },
      training: { rounds: 1, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 1, roundDeadlineSeconds: 600, autoAdvance: false, seed: 1 },
    });
    federationId = created.federation.id;
    // Publish weights of both signs, so that rows score differently and a misplaced column would show.
    const owner = await operator.enrolOwner(federationId, { enrolmentToken: created.enrolmentToken, name: 'o' });
    await operator.openRound(federationId);
    const size = created.federation.featureNames.length + 1;
    const weights = Array.from({ length: size }, (_, i) => (((i * 7) % 11) - 5) / 6);
    await operator.withApiKey(owner.apiKey).submitUpdate(federationId, 1, { weights, numSamples: 1 });
    lines = (await readFile(crxArgs[1]!, 'utf8')).split('\n').slice(0, 6);
  });
  after(async () => {
    await server?.close();
    await target?.cleanup();
    await rm(scratch, { recursive: true, force: true });
  });

  const input = async (name: string, text: string) => {
    const file = path.join(scratch, name);
    await writeFile(file, text);
    return file;
  };
  const predict = (file: string, ...extra: string[]) =>
    fedscore(['predict', '--server', server.url, '--federation', federationId, '--input', file, ...extra], { FEDSCORE_API_KEY: adminKey });
  const withoutLabel = (line: string) => line.split(',').slice(0, -1).join(',');

  it('scores a file with the label column and one without it alike', async () => {
    const labelled = await predict(await input('labelled.csv', lines.join('\n')), '--json');
    assert.equal(labelled.code, 0, labelled.stderr);
    const bare = await predict(await input('bare.csv', `${lines.slice(0, 3).map(withoutLabel).join('\n')}\n\n${lines.slice(3).map(withoutLabel).join('\n')}\n`), '--json');
    assert.equal(bare.code, 0, bare.stderr);
    const a = lastJsonLine(labelled.stdout) as unknown as { row: number; line: number; score: number }[];
    const b = lastJsonLine(bare.stdout) as unknown as { row: number; line: number; score: number }[];
    assert.deepEqual(a.map((r) => [r.row, r.line]), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6]]);
    assert.deepEqual(b.map((r) => [r.row, r.line]), [[1, 1], [2, 2], [3, 3], [4, 5], [5, 6], [6, 7]], 'line counts the blank line, row does not');
    assert.deepEqual(b.map((r) => r.score), a.map((r) => r.score));
    assert.ok(new Set(a.map((r) => r.score.toFixed(6))).size > 3, 'the rows score differently');
  });

  it('prints every field that does not fit, one per line by physical line, and exits 1', async () => {
    const bad = [
      withoutLabel(lines[0]!),
      withoutLabel(lines[1]!).replace(',u,', ',zz,'),
      '',
      withoutLabel(lines[2]!).replace(/^(\w),[\d.]+,/, '$1,abc,').replace(',t,', ',maybe,'),
      withoutLabel(lines[3]!).replace(/,(\d+),(\d+)$/, ',?,$2'),
    ];
    const file = await input('bad.csv', bad.join('\n'));
    const result = await predict(file);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      `fedscore predict: ${file}: 4 value(s) on 3 line(s) do not fit the federation's schema; nothing was scored\n` +
        'line 2, A4: unknown value "zz" (expected one of u, y, l, t)\n' +
        'line 4, A2: not a number: "abc"\n' +
        'line 4, A9: unknown value "maybe" (expected one of f, t)\n' +
        'line 5, A14: missing\n',
    );
  });

  it('refuses a file that mixes rows with and without the label, naming the line', async () => {
    const file = await input('mixed.csv', [withoutLabel(lines[0]!), withoutLabel(lines[1]!), lines[2]].join('\n'));
    const result = await predict(file);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `fedscore predict: ${file}: line 3 has 16 fields (with the label A16) but line 1 has 15 (without the label A16); a file has the label column on every line or on none\n`,
    );
  });

  it("prints the server's errors[] on the file's lines when the server refuses the rows", async () => {
    // 300 digits are a number to the encoder, but longer than the wire schema's 256 characters.
    const file = await input('long.csv', [lines[0], '', lines[1]!.replace(/^(\w),[\d.]+,/, `$1,${'1'.repeat(300)},`)].join('\n'));
    const result = await predict(file);
    assert.equal(result.code, 1);
    const [headline, ...problems] = result.stderr.trimEnd().split('\n');
    assert.match(headline!, new RegExp(`^fedscore predict: ${file}: the server refused the rows: .*; nothing is printed$`));
    assert.deepEqual(problems, ['line 3, A2: Too big: expected string to have <=256 characters']);
  });

  it('names an unreadable input file in words', async () => {
    const result = await predict('/nonexistent/applicants.csv');
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'fedscore predict: cannot read /nonexistent/applicants.csv: no such file\n');
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

describe('fedscore simulate --validation-fraction', () => {
  it('holds validation rows out of the owners, reports the promoted version as final, and stops early', async () => {
    // A learning rate far too high makes versions worse after round 2, so selection and early stopping have work to do.
    const args = ['simulate', '--json', ...crxArgs, '--owners', '10', '--rounds', '6', '--epochs', '2', '--seed', '3', '--lr', '30'];
    const result = await fedscore([...args, '--validation-fraction', '0.2', '--patience', '2']);
    assert.equal(result.code, 0, result.stderr);
    const report = lastJsonLine(result.stdout) as {
      trainRows: number;
      validationRows: number;
      final: { accuracy: number; auc: number; modelVersion: number; latestModelVersion: number };
      rounds: { round: number; accuracy: number; auc: number; modelVersion: number }[];
    };
    assert.deepEqual([report.trainRows, report.validationRows], [417, 105]); // ⌈0.2 × 522⌉ held out
    // Two scored versions without improvement after the best: training stopped before the 6 planned rounds.
    const best = report.final.modelVersion;
    assert.deepEqual(report.rounds.map((round) => round.modelVersion), Array.from({ length: best + 2 }, (_, i) => i + 1));
    assert.equal(report.final.latestModelVersion, best + 2);
    const promoted = report.rounds.find((round) => round.modelVersion === best)!;
    assert.deepEqual([report.final.accuracy, report.final.auc], [promoted.accuracy, promoted.auc]);

    const refused = await fedscore([...args, '--patience', '2']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--patience needs a validation set: add --validation-fraction/);
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

  it('lists operator keys without their secrets and revokes one, which then stops working', async () => {
    const issued = await fedscore(['admin', 'create-key', '--label', 'to-revoke'], env);
    assert.equal(issued.code, 0, issued.stderr);
    const key = issued.stdout.trim();
    const listed = await fedscore(['admin', 'list-keys', '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    const keys = JSON.parse(listed.stdout).keys as { id: string; label: string; revokedAt: string | null }[];
    const entry = keys.find((k) => k.label === 'to-revoke');
    assert.ok(entry && entry.revokedAt === null, 'the new key is listed, unrevoked');
    assert.ok(!listed.stdout.includes(key.slice(4)), 'no key in the listing');
    const table = await fedscore(['admin', 'list-keys'], env);
    assert.match(table.stdout, new RegExp(`${entry.id}\\s+to-revoke`));

    const revoked = await fedscore(['admin', 'revoke-key', '--id', entry.id], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    const again = await fedscore(['admin', 'revoke-key', '--id', entry.id], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no unrevoked operator key has id/);
    const after = JSON.parse((await fedscore(['admin', 'list-keys', '--json'], env)).stdout).keys as { id: string; revokedAt: string | null }[];
    assert.ok(after.find((k) => k.id === entry.id)?.revokedAt, 'listed as revoked');

    const server = await startServer(
      loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', LOG_LEVEL: 'silent' }),
      { logger: false },
    );
    try {
      const refused = await new FedscoreClient({ baseUrl: server.url, apiKey: key }).listFederations().catch((e: unknown) => e);
      assert.ok(refused instanceof FedscoreApiError && refused.status === 401);
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

describe('npx fedscore in a checkout', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'fedscore-e2e-npx-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  /** A checkout-shaped directory holding a copy of one script, so the script's own root is that directory. */
  async function checkout(name: string, script: string, options: { dist?: boolean } = {}): Promise<string> {
    const root = path.join(scratch, name);
    await mkdir(path.join(root, 'scripts'), { recursive: true });
    await copyFile(path.join(repoRoot, 'scripts', script), path.join(root, 'scripts', script));
    if (options.dist) {
      await mkdir(path.join(root, 'dist', 'cli'), { recursive: true });
      await writeFile(path.join(root, 'dist', 'cli', 'main.js'), '');
    }
    return root;
  }

  it('prepare: builds after npm install, but not again when npx runs an already built checkout', async () => {
    // A stand-in for npm that records what it was asked to run.
    const fakeNpm = path.join(scratch, 'fake-npm.cjs');
    const calls = path.join(scratch, 'calls.txt');
    await writeFile(fakeNpm, `require('node:fs').appendFileSync(${JSON.stringify(calls)}, process.argv.slice(2).join(' ') + '\\n');\n`);
    const built = await checkout('built', 'prepare.mjs', { dist: true });
    const unbuilt = await checkout('unbuilt', 'prepare.mjs');
    const prepare = (root: string, command: string) => runNode([path.join(root, 'scripts', 'prepare.mjs')], { npm_execpath: fakeNpm, npm_command: command });
    for (const [root, command, builds] of [
      [built, 'exec', false],
      [built, 'ci', true],
      [built, 'install', true],
      [unbuilt, 'exec', true],
    ] as const) {
      await rm(calls, { force: true });
      const result = await prepare(root, command);
      assert.equal(result.code, 0, result.stderr);
      const ran = await readFile(calls, 'utf8').catch(() => '');
      assert.equal(ran, builds ? 'run build\n' : '', `${path.basename(root)} under npm ${command}`);
    }
  });

  it('package.json: prepare runs scripts/prepare.mjs', async () => {
    const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    assert.equal(pkg.scripts.prepare, 'node scripts/prepare.mjs');
    assert.equal(pkg.bin.fedscore, 'bin/fedscore.js');
  });
});
