/**
 * The command line's contract with scripts: exit codes (0 ok, 1 failure, 2 misuse), where messages go,
 * and `--json` output as the last line of stdout. Commands run in-process with captured streams; the
 * server-backed paths are covered by test/e2e.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CliIo } from './cli-io.js';
import { runCli } from './main.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');
const crx = ['--data', path.join(sharedData, 'crx.data'), '--schema', path.join(repoRoot, 'schemas', 'crx.json')];
const split = ['--split', path.join(sharedData, 'crx.split.json')];

function capture(env: NodeJS.ProcessEnv = {}, isTTY = false) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (chunk: string) => out.push(chunk), isTTY },
    stderr: { write: (chunk: string) => err.push(chunk) },
    env,
  };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

async function run(argv: string[], env?: NodeJS.ProcessEnv) {
  const streams = capture(env);
  const code = await runCli(argv, streams.io);
  return { code, stdout: streams.stdout(), stderr: streams.stderr() };
}

describe('fedscore dispatch', () => {
  it('prints the command list on --help and exits 0', async () => {
    const result = await run(['--help']);
    assert.equal(result.code, 0);
    for (const name of ['serve', 'migrate', 'admin', 'train-central', 'simulate']) assert.match(result.stdout, new RegExp(`\\n  ${name} `));
  });

  it('exits 2 with usage on stderr without a command or with an unknown one', async () => {
    const none = await run([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: fedscore <command>/);
    const unknown = await run(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    assert.equal(unknown.stdout, '');
  });

  it('prints a command help with `help <command>` and `<command> --help`', async () => {
    const viaHelp = await run(['help', 'simulate']);
    const viaFlag = await run(['simulate', '--help']);
    assert.equal(viaHelp.code, 0);
    assert.equal(viaFlag.code, 0);
    assert.match(viaFlag.stdout, /Usage: fedscore simulate/);
    assert.match(viaFlag.stdout, /--concurrency C/);
    assert.equal(viaHelp.stdout, viaFlag.stdout);
  });

  it('prints the package version', async () => {
    const result = await run(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+/);
  });
});

describe('argument errors exit 2 and name the problem', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown flag', ['train-central', ...crx, '--bogus'], /Unknown option '--bogus'/],
    ['a missing --data', ['train-central', '--schema', 'x.json'], /--data is required/],
    ['a non-number', ['train-central', ...crx, '--epochs', '5x'], /--epochs: expected a whole number, got '5x'/],
    ['a fraction for an integer', ['simulate', ...crx, '--rounds', '2.5'], /--rounds: expected a whole number, got '2.5'/],
    ['a zero learning rate', ['train-central', ...crx, '--lr', '0'], /--lr: expected a number > 0, got 0/],
    ['an unknown model', ['train-central', ...crx, '--model', 'forest'], /--model: expected one of logreg, mlp, got 'forest'/],
    ['--hidden without mlp', ['train-central', ...crx, '--hidden', '16'], /--hidden and --activation apply only to --model mlp/],
    ['a bad hidden list', ['train-central', ...crx, '--model', 'mlp', '--hidden', '16,,8'], /--hidden: expected a whole number, got ''/],
    ['an unknown mode', ['simulate', ...crx, '--mode', 'magic'], /--mode: expected one of plain, secure, got 'magic'/],
    ['secure flags in plain mode', ['simulate', ...crx, '--committee', '5'], /--committee applies only to --mode secure/],
    ['--field in plain mode', ['simulate', ...crx, '--field', 'compact'], /--field applies only to --mode secure/],
    ['an unknown field', ['simulate', ...crx, '--mode', 'secure', '--field', 'narrow'], /--field: expected wide or compact, got "narrow"/],
    ['a compact field the owners would overflow', ['simulate', ...crx, '--mode', 'secure', '--field', 'compact', '--clip-norm', '10000'], /--field compact: 653 owners at clip norm 10000 could sum beyond the compact field's headroom/],
    ['a threshold above the committee', ['simulate', ...crx, '--mode', 'secure', '--committee', '3', '--threshold', '4'], /--threshold: expected a whole number ≤ 3, got 4/],
    ['--api-key without --server', ['simulate', ...crx, '--api-key', 'k'], /--api-key applies only with --server/],
    ['--server without a key', ['simulate', ...crx, '--server', 'http://127.0.0.1:1'], /--server needs an operator key/],
    ['an unknown server optimiser', ['simulate', ...crx, '--server-optimizer', 'sgd'], /--server-optimizer: expected one of fedavg, fedavgm, fedadam, fedyogi, got 'sgd'/],
    ['a server rate of zero', ['simulate', ...crx, '--server-optimizer', 'fedadam:0'], /--server-optimizer rate: expected a number > 0, got 0/],
    ['a validation fraction over a half', ['simulate', ...crx, '--validation-fraction', '0.9'], /--validation-fraction: expected a number ≤ 0.5, got 0.9/],
    ['an unknown selection metric', ['simulate', ...crx, '--validation-fraction', '0.2', '--select-metric', 'f1'], /--select-metric: expected one of logLoss, auc, accuracy, brier, ks, got 'f1'/],
    ['a stray positional', ['migrate', 'now'], /unexpected argument 'now'/],
    ['a port out of range', ['serve', '--port', '70000'], /--port: expected a whole number ≤ 65535, got 70000/],
    ['an unknown admin subcommand', ['admin', 'drop-tables'], /unknown subcommand 'drop-tables'/],
    ['an unknown create-key flag', ['admin', 'create-key', '--lable', 'x'], /Unknown option '--lable'/],
  ];
  for (const [what, argv, message] of cases) {
    it(`rejects ${what}`, async () => {
      const result = await run(argv);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /Usage: fedscore /);
      assert.equal(result.stdout, '');
    });
  }

  it('shows the subcommand usage for a create-key mistake', async () => {
    const result = await run(['admin', 'create-key', '--lable', 'x']);
    assert.match(result.stderr, /Usage: fedscore admin create-key/);
  });
});

describe('train-central', () => {
  it('prints one JSON object as the last stdout line with --json', async () => {
    const result = await run(['train-central', ...crx, ...split, '--json', '--epochs', '2']);
    assert.equal(result.code, 0, result.stderr);
    const last = result.stdout.trimEnd().split('\n').at(-1)!;
    const report = JSON.parse(last) as Record<string, unknown>;
    assert.equal(report.trainRows, 522);
    assert.equal(report.testRows, 131);
    assert.equal(report.evaluatedOn, 'test');
    for (const key of ['accuracy', 'auc', 'logLoss', 'seconds']) assert.equal(typeof report[key], 'number', key);
    assert.ok((report.auc as number) > 0.8, `AUC ${report.auc}`);
    assert.equal(result.stderr, '');
  });

  it('is reproducible: the same seed gives the same figures', async () => {
    const argv = ['train-central', ...crx, ...split, '--json', '--epochs', '2', '--seed', '7'];
    const strip = (stdout: string) => {
      const { seconds: _seconds, ...rest } = JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;
      return rest;
    };
    assert.deepEqual(strip((await run(argv)).stdout), strip((await run(argv)).stdout));
  });

  it('warns on stderr and reports training metrics without a split', async () => {
    const result = await run(['train-central', ...crx, '--json', '--epochs', '1']);
    assert.equal(result.code, 0);
    assert.match(result.stderr, /warning: no --split given/);
    const report = JSON.parse(result.stdout.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(report.testRows, 0);
    assert.equal(report.trainRows, 653);
    assert.equal(report.droppedRows, 37);
    assert.equal(report.evaluatedOn, 'train');
  });

  it('prints a table by default', async () => {
    const result = await run(['train-central', ...crx, ...split, '--epochs', '1', '--model', 'mlp', '--hidden', '4']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /mlp 4 relu, 43 features/);
    assert.match(result.stdout, /\ntrain +522 +0\.\d{4} +0\.\d{4} +\d\.\d{4}\n/);
    assert.match(result.stdout, /\ntest +131 +0\.\d{4}/);
  });

  it('exits 1 with the file named when the data cannot be read', async () => {
    const result = await run(['train-central', '--data', '/nonexistent.csv', '--schema', crx[3]!]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'fedscore train-central: cannot read /nonexistent.csv: no such file\n');
  });
});
