/**
 * `fedscore operator` without a server: how flags become the request body (only what was given is sent,
 * so the server's defaults apply), which calls are usage mistakes (exit 2 with the subcommand's help),
 * how a schema file is checked before anything is sent, and how a server's problem becomes one line per
 * field. test/e2e/operator-cli.test.ts drives the same commands against a real server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FedscoreApiError, type ModelVersionView, type RoundView } from '../client/http-client.js';
import type { DatasetSchema } from '../ml/dataset-schema.js';
import { UsageError, type CliIo } from './cli-io.js';
import { runCli } from './main.js';
import { createFederationBody, defaultName, loadSchemaFile, readConnection, readFederationSettings } from './operator/flags.js';
import { modelTable, roundShowLines, roundTable, timestamp } from './operator/format.js';
import { describeServerFailure } from './operator/problems.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const crxSchema = path.join(repoRoot, 'schemas', 'crx.json');

function capture(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: { write: (chunk: string) => out.push(chunk) }, stderr: { write: (chunk: string) => err.push(chunk) }, env };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const streams = capture(env);
  const code = await runCli(['operator', ...argv], streams.io);
  return { code, stdout: streams.stdout(), stderr: streams.stderr() };
}

const connection = ['--server', 'http://127.0.0.1:1', '--api-key', 'k'];

describe('operator federation create: flags to request body', () => {
  it('sends only the name and model when no setting is given, so the server decides the rest', () => {
    const settings = readFederationSettings({}, 'schemas/crx.json');
    assert.deepEqual(settings, { name: 'crx', model: { kind: 'logreg' } });
  });

  it('maps every training flag onto its field, and --no-auto-advance onto autoAdvance false', () => {
    const settings = readFederationSettings(
      {
        name: 'lenders 2027',
        rounds: '7',
        'min-owners': '4',
        'local-epochs': '2',
        'batch-size': '64',
        'learning-rate': '0.5',
        'deadline-seconds': '600',
        seed: '9',
        'no-auto-advance': true,
      },
      'x.json',
    );
    assert.deepEqual(settings, {
      name: 'lenders 2027',
      model: { kind: 'logreg' },
      training: { rounds: 7, minOwners: 4, localEpochs: 2, batchSize: 64, learningRate: 0.5, roundDeadlineSeconds: 600, seed: 9, autoAdvance: false },
    });
  });

  it('builds the secure settings from --committee, --threshold and --clip-norm', () => {
    assert.deepEqual(readFederationSettings({ aggregation: 'secure', committee: '3', threshold: '2', 'clip-norm': '50' }, 'crx.json'), {
      name: 'crx',
      model: { kind: 'logreg' },
      aggregation: 'secure',
      secure: { committee: { size: 3, threshold: 2 }, clipNorm: 50 },
    });
    assert.deepEqual(readFederationSettings({ aggregation: 'secure', field: 'compact' }, 'crx.json').secure, { field: 'compact' });
    assert.throws(() => readFederationSettings({ aggregation: 'secure', field: 'narrow' }, 'crx.json'), /--field: expected one of wide, compact, got 'narrow'/);
    assert.throws(() => readFederationSettings({ field: 'compact' }, 'crx.json'), /--field applies only with --aggregation secure/);
    // Secure with nothing else: the server's default committee and clip norm.
    assert.deepEqual(readFederationSettings({ aggregation: 'secure' }, 'crx.json'), { name: 'crx', model: { kind: 'logreg' }, aggregation: 'secure' });
    assert.deepEqual(readFederationSettings({ aggregation: 'plain' }, 'crx.json'), { name: 'crx', model: { kind: 'logreg' }, aggregation: 'plain' });
  });

  it('builds a named committee from repeated --aggregator NAME=KEY and --threshold: k is their number', () => {
    const keyA = Buffer.alloc(32, 1).toString('base64');
    const keyB = Buffer.alloc(32, 2).toString('base64');
    assert.deepEqual(readFederationSettings({ aggregation: 'secure', aggregator: [`Bank A node=${keyA}`, `Auditor=${keyB}`], threshold: '2' }, 'crx.json').secure, {
      committee: { size: 2, threshold: 2 },
      policy: { kind: 'named', aggregators: [{ name: 'Bank A node', identityKey: keyA }, { name: 'Auditor', identityKey: keyB }] },
    });
    assert.throws(() => readFederationSettings({ aggregation: 'secure', aggregator: [`a=${keyA}`] }, 'crx.json'), /--aggregator needs --threshold T/);
    assert.throws(() => readFederationSettings({ aggregation: 'secure', aggregator: [`a=${keyA}`], threshold: '1', committee: '3' }, 'crx.json'), /--committee: a named committee seats all 1 --aggregator nodes/);
    assert.throws(() => readFederationSettings({ aggregation: 'secure', aggregator: ['a=not-a-key'], threshold: '1' }, 'crx.json'), /--aggregator: expected NAME=IDENTITY_KEY/);
    assert.throws(() => readFederationSettings({ aggregator: [`a=${keyA}`] }, 'crx.json'), /--aggregator applies only with --aggregation secure/);
  });

  it('builds a privacy budget from --dp-epsilon, --dp-clip and the optional --dp-delta, --dp-noise, --sample-rate', () => {
    assert.deepEqual(readFederationSettings({ 'dp-epsilon': '4', 'dp-clip': '2' }, 'crx.json').privacy, { epsilon: 4, delta: 1e-5, clipNorm: 2 });
    assert.deepEqual(
      readFederationSettings({ 'dp-epsilon': '1', 'dp-clip': '0.5', 'dp-delta': '1e-6', 'dp-noise': '3', 'sample-rate': '0.1' }, 'crx.json').privacy,
      { epsilon: 1, delta: 1e-6, clipNorm: 0.5, noiseMultiplier: 3, sampling: { kind: 'poisson', rate: 0.1 } },
    );
    assert.equal(readFederationSettings({}, 'crx.json').privacy, undefined);
  });

  it('gives an MLP the CLI-wide default layers unless --hidden and --activation say otherwise', () => {
    assert.deepEqual(readFederationSettings({ model: 'mlp' }, 'crx.json').model, { kind: 'mlp', hidden: [16], activation: 'relu' });
    assert.deepEqual(readFederationSettings({ model: 'mlp', hidden: '16,8', activation: 'square' }, 'crx.json').model, {
      kind: 'mlp',
      hidden: [16, 8],
      activation: 'square',
    });
  });

  it('passes values through for the server to range-check, so its limits live in one place', () => {
    const settings = readFederationSettings({ 'learning-rate': '0', rounds: '0' }, 'crx.json');
    assert.deepEqual(settings.training, { learningRate: 0, rounds: 0 });
  });

  it('puts the schema read from the file into the body', () => {
    const schema = { columns: [], label: { column: 'y', positive: '1' }, missingToken: '?', delimiter: ',', header: false } as unknown as DatasetSchema;
    const body = createFederationBody({ name: 'n', model: { kind: 'logreg' }, aggregation: 'secure' }, schema);
    assert.deepEqual(body, { name: 'n', datasetSchema: schema, model: { kind: 'logreg' }, aggregation: 'secure' });
  });

  it('names a federation after its schema file', () => {
    assert.equal(defaultName('schemas/crx.json'), 'crx');
    assert.equal(defaultName('/data/credit.schema.JSON'), 'credit.schema');
    assert.equal(defaultName('plain-name'), 'plain-name');
  });

  const refusals: [string, Record<string, string | boolean>, RegExp][] = [
    ['a secure flag in plain mode', { committee: '3', threshold: '2' }, /--committee applies only with --aggregation secure/],
    ['--clip-norm with --aggregation plain', { aggregation: 'plain', 'clip-norm': '5' }, /--clip-norm applies only with --aggregation secure/],
    ['--committee without --threshold', { aggregation: 'secure', committee: '3' }, /--committee and --threshold go together/],
    ['--threshold without --committee', { aggregation: 'secure', threshold: '2' }, /--committee and --threshold go together/],
    ['an unknown aggregation', { aggregation: 'magic' }, /--aggregation: expected one of plain, secure, got 'magic'/],
    ['an unknown model', { model: 'forest' }, /--model: expected one of logreg, mlp, got 'forest'/],
    ['--hidden without mlp', { hidden: '8' }, /--hidden and --activation apply only to --model mlp/],
    ['an unknown activation', { model: 'mlp', activation: 'swish' }, /--activation: expected one of relu, tanh, sigmoid, square, relu-poly, got 'swish'/],
    ['a fraction of a round', { rounds: '2.5' }, /--rounds: expected a whole number, got '2.5'/],
    ['a learning rate that is not a number', { 'learning-rate': 'fast' }, /--learning-rate: expected a number, got 'fast'/],
    ['a DP flag without --dp-epsilon', { 'dp-clip': '1' }, /--dp-clip applies only with --dp-epsilon/],
    ['--sample-rate without --dp-epsilon', { 'sample-rate': '0.1' }, /--sample-rate applies only with --dp-epsilon/],
    ['--dp-epsilon without --dp-clip', { 'dp-epsilon': '4' }, /--dp-epsilon needs --dp-clip C/],
    ['an ε that is not a number', { 'dp-epsilon': 'lots', 'dp-clip': '1' }, /--dp-epsilon: expected a number, got 'lots'/],
    ['an empty hidden layer', { model: 'mlp', hidden: '16,,8' }, /--hidden: expected a whole number, got ''/],
  ];
  for (const [what, values, message] of refusals) {
    it(`refuses ${what} as a usage error`, () => {
      assert.throws(() => readFederationSettings(values, 'crx.json'), (error: unknown) => error instanceof UsageError && message.test(error.message));
    });
  }
});

describe('operator connection flags', () => {
  it('prefers the flags and falls back to FEDSCORE_SERVER and FEDSCORE_API_KEY', () => {
    const env = { FEDSCORE_SERVER: 'http://env:3000', FEDSCORE_API_KEY: 'env-key' };
    assert.deepEqual(readConnection({ server: 'http://flag:3000', 'api-key': 'flag-key' }, env), { server: 'http://flag:3000', apiKey: 'flag-key' });
    assert.deepEqual(readConnection({}, env), { server: 'http://env:3000', apiKey: 'env-key' });
  });

  it('refuses a missing server, a missing key and a server that is not an http URL', () => {
    assert.throws(() => readConnection({ 'api-key': 'k' }, {}), /no server given: pass --server URL or set FEDSCORE_SERVER/);
    assert.throws(() => readConnection({ server: 'http://h:1' }, { FEDSCORE_API_KEY: '' }), /no operator key given: pass --api-key KEY or set FEDSCORE_API_KEY/);
    assert.throws(() => readConnection({ server: 'localhost:3000', 'api-key': 'k' }, {}), /--server: expected an http:\/\/ or https:\/\/ URL/);
    assert.throws(() => readConnection({ server: 'not a url', 'api-key': 'k' }, {}), /--server: expected a URL like http:\/\/127.0.0.1:3000, got 'not a url'/);
  });
});

describe('operator schema file checks', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fedscore-operator-unit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the crx schema', async () => {
    const schema = await loadSchemaFile(crxSchema);
    assert.equal(schema.columns.length, 16);
    assert.equal(schema.label.column, 'A16');
  });

  it('accepts a schema that leaves the statistics to the federation with a range for each such column', async () => {
    const schema = await loadSchemaFile(path.join(repoRoot, 'schemas', 'uci-credit-card.json'));
    assert.ok(schema.columns.some((column) => column.type === 'numeric' && column.mean === undefined && column.range !== undefined));
  });

  // The wording after the file name is readSchemaFile's (src/client/local-data.ts); these pin the file and the fault.
  it('names the file for every kind of problem', async () => {
    const notJson = path.join(dir, 'not-json.json');
    await writeFile(notJson, '{');
    const notSchema = path.join(dir, 'not-schema.json');
    await writeFile(notSchema, JSON.stringify({ columns: [{ name: 'a', type: 'numbr' }], label: { column: 'z' } }));
    const inconsistent = path.join(dir, 'inconsistent.json');
    await writeFile(inconsistent, JSON.stringify({ columns: [{ name: 'a', type: 'numeric', mean: 0, std: 1 }, { name: 'b', type: 'numeric', mean: 0, std: 1 }], label: { column: 'z', positive: '1' } }));
    const noStats = path.join(dir, 'no-stats.json');
    await writeFile(noStats, JSON.stringify({ columns: [{ name: 'a', type: 'numeric' }, { name: 'y', type: 'binary', values: ['0', '1'] }], label: { column: 'y', positive: '1' } }));

    const cases: [string, RegExp][] = [
      [path.join(dir, 'missing.json'), /^--schema: cannot read .*missing\.json: .*no such file\)?$/],
      [notJson, /^--schema: .*not-json\.json is not JSON: /],
      [notSchema, /^--schema: .*not-schema\.json is not a dataset schema: columns\.0\.type: .*; label\.positive: /],
      [inconsistent, /^--schema: .*inconsistent\.json is .*: label column z is not among the columns/],
      [noStats, /^--schema: .*no-stats\.json: numeric column\(s\) a need a mean and std, or a "range": \[min, max\]/],
    ];
    for (const [file, message] of cases) {
      await assert.rejects(loadSchemaFile(file), (error: Error) => {
        assert.match(error.message, message);
        return true;
      });
    }
  });

  it('exits 1 through the CLI with the file named, before contacting the server', async () => {
    const result = await run(['federation', 'create', '--schema', path.join(dir, 'missing.json'), ...connection]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^fedscore operator: --schema: cannot read .*missing\.json: .*no such file\)?\n$/);
    assert.equal(result.stdout, '');
  });
});

describe('operator usage', () => {
  it('is listed by `fedscore --help`, and `fedscore help operator` prints its usage', async () => {
    const streams = capture();
    assert.equal(await runCli(['--help'], streams.io), 0);
    assert.match(streams.stdout(), /\n {2}operator +run a federation: /);
    const help = capture();
    assert.equal(await runCli(['help', 'operator'], help.io), 0);
    assert.equal(help.stdout(), (await run(['--help'])).stdout);
    assert.equal((await run(['help'])).stdout, help.stdout());
  });

  it('lists every subcommand on --help', async () => {
    const result = await run(['--help']);
    assert.equal(result.code, 0);
    for (const line of ['federation create', 'federation list', 'federation show', 'round open', 'round list', 'round close', 'models list', 'models show', 'enrolment-token rotate']) {
      assert.match(result.stdout, new RegExp(`\\n  ${line} `), line);
    }
    assert.equal((await run(['federation', '--help'])).stdout, result.stdout);
  });

  it('gives each subcommand its own --help', async () => {
    const subcommands: [string[], RegExp][] = [
      [['federation', 'create'], /--learning-rate X +owners' learning rate \[0\.1\]/],
      [['federation', 'list'], /Lists the server's federations/],
      [['federation', 'show'], /--federation ID/],
      [['round', 'open'], /--min-owners N/],
      [['round', 'close'], /--round N/],
      [['round', 'list'], /partial sums/],
      [['models', 'list'], /HE/],
      [['models', 'show'], /--version V/],
      [['enrolment-token', 'rotate'], /previous token stops working/],
    ];
    for (const [argv, detail] of subcommands) {
      const result = await run([...argv, '--help']);
      assert.equal(result.code, 0, argv.join(' '));
      assert.match(result.stdout, new RegExp(`^Usage: fedscore operator ${argv.join(' ')} `), argv.join(' '));
      assert.match(result.stdout, detail, argv.join(' '));
      assert.match(result.stdout, /--server URL .*FEDSCORE_SERVER/);
    }
  });

  it('shows the server defaults in the create help, read from the server schema', async () => {
    const result = await run(['federation', 'create', '--help']);
    assert.match(result.stdout, /--rounds R .*\[20\]/);
    assert.match(result.stdout, /--committee K .*\[5\]/);
    assert.match(result.stdout, /--threshold T .*\[3\]/);
  });

  const mistakes: [string, string[], RegExp, RegExp][] = [
    ['no subcommand', [], /expected a subcommand/, /Usage: fedscore operator <resource>/],
    ['an unknown resource', ['federations', 'list'], /unknown subcommand 'federations'/, /Usage: fedscore operator <resource>/],
    ['an unknown action', ['round', 'delete'], /unknown subcommand 'round delete' \(expected round open, close, list\)/, /Usage: fedscore operator <resource>/],
    ['a missing action', ['models'], /expected an action after 'models': list, show/, /Usage: fedscore operator <resource>/],
    ['options before the subcommand', ['--server', 'x', 'federation', 'list'], /expected a subcommand before the options, got '--server'/, /Usage: fedscore operator <resource>/],
    ['a missing --server', ['federation', 'list', '--api-key', 'k'], /no server given: pass --server URL or set FEDSCORE_SERVER/, /Usage: fedscore operator federation list/],
    ['a missing key', ['round', 'list', '--server', 'http://127.0.0.1:1', '--federation', 'f'], /no operator key given/, /Usage: fedscore operator round list/],
    ['a missing --schema', ['federation', 'create', ...connection], /--schema is required/, /Usage: fedscore operator federation create/],
    ['a missing --federation', ['federation', 'show', ...connection], /--federation is required/, /Usage: fedscore operator federation show/],
    ['a missing --round', ['round', 'close', ...connection, '--federation', 'f'], /--round is required/, /Usage: fedscore operator round close/],
    ['round 0', ['round', 'close', ...connection, '--federation', 'f', '--round', '0'], /--round: expected a whole number ≥ 1, got 0/, /Usage: fedscore operator round close/],
    ['a bad version', ['models', 'show', ...connection, '--federation', 'f', '--version', 'newest'], /--version: expected a whole number, got 'newest'/, /Usage: fedscore operator models show/],
    ['an unknown flag', ['round', 'open', ...connection, '--federation', 'f', '--min-owner', '2'], /Unknown option '--min-owner'/, /Usage: fedscore operator round open/],
    ['a secure flag in plain mode', ['federation', 'create', '--schema', crxSchema, ...connection, '--committee', '3', '--threshold', '2'], /--committee applies only with --aggregation secure/, /Usage: fedscore operator federation create/],
    ['a stray argument', ['federation', 'list', ...connection, 'extra'], /unexpected argument 'extra'/, /Usage: fedscore operator federation list/],
  ];
  for (const [what, argv, message, usage] of mistakes) {
    it(`exits 2 with the right usage for ${what}`, async () => {
      const result = await run(argv);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^fedscore operator: ${message.source}`));
      assert.match(result.stderr, usage);
      assert.equal(result.stdout, '');
    });
  }

  it('exits 1 naming the server when nothing listens there', async () => {
    // A port that was free a moment ago: connection refused.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const result = await run(['federation', 'list', '--server', `http://127.0.0.1:${port}`, '--api-key', 'k']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^fedscore operator: cannot reach http://127\\.0\\.0\\.1:${port}.*ECONNREFUSED|connection refused`, 'm'));
    assert.match(result.stderr, /check --server \(or FEDSCORE_SERVER\)/);
    assert.doesNotMatch(result.stderr, /Usage:/);
  });
});

describe('operator server failures', () => {
  it('prints one line per problem field', () => {
    const error = new FedscoreApiError('POST', '/v1/federations', 422, {
      type: 'https://fedscore.dev/problems/validation-failed',
      title: 'Request validation failed',
      status: 422,
      detail: 'POST /v1/federations: 2 field(s) failed validation',
      errors: [
        { path: 'body.training.learningRate', message: 'Too small: expected number to be >0' },
        { path: 'body.training.rounds', message: 'Too small: expected number to be >=1' },
      ],
    });
    assert.deepEqual(describeServerFailure(error, 'the federation', 'http://s'), [
      'the server refused the federation (422 validation-failed): body.training.learningRate: Too small: expected number to be >0',
      'the server refused the federation (422 validation-failed): body.training.rounds: Too small: expected number to be >=1',
    ]);
  });

  it('prints the detail when there are no fields, with what to check for a refused key', () => {
    const error = new FedscoreApiError('GET', '/v1/federations', 401, {
      type: 'https://fedscore.dev/problems/unauthorized',
      title: 'Missing or invalid credentials',
      status: 401,
      detail: 'authenticate: unknown or revoked API key',
    });
    const lines = describeServerFailure(error, 'to list federations', 'http://s')!;
    assert.equal(lines[0], 'the server refused to list federations (401 unauthorized): authenticate: unknown or revoked API key');
    assert.match(lines[1]!, /check --api-key or FEDSCORE_API_KEY/);
  });

  it('names a non-fedscore answer by its status line', () => {
    const error = new FedscoreApiError('GET', '/v1/federations', 502, { type: 'about:blank', title: 'Bad Gateway', status: 502, detail: 'an empty body' });
    assert.deepEqual(describeServerFailure(error, 'to list federations', 'http://s'), ['the server refused to list federations (502 Bad Gateway): an empty body']);
  });

  it('leaves other errors to the caller', () => {
    assert.equal(describeServerFailure(new Error('boom'), 'x', 'http://s'), null);
  });
});

describe('operator tables', () => {
  const round = (overrides: Partial<RoundView>): RoundView =>
    ({
      number: 1,
      status: 'open',
      baseModelVersion: 0,
      modelVersion: null,
      minOwners: 2,
      submissionCount: 1,
      deadline: '2026-01-01T01:00:00.000Z',
      openedAt: '2026-01-01T00:00:00.000Z',
      closedAt: null,
      failureReason: null,
      aggregation: 'plain',
      secure: null,
      kind: 'training',
      trainingRound: 1,
      statistics: null,
      evaluation: null,
      privacy: null,
      sampling: null,
      participation: null,
      ...overrides,
    }) as RoundView;

  it('drops milliseconds from timestamps', () => {
    assert.equal(timestamp('2026-11-28T10:15:02.123Z'), '2026-11-28T10:15:02Z');
    assert.equal(timestamp(null), '-');
  });

  it('shows secure columns only when a round is secure', () => {
    const plain = roundTable([round({}), round({ number: 2, status: 'failed', failureReason: 'deadline passed' })]);
    assert.doesNotMatch(plain[0]!, /included/);
    assert.match(plain[1]!, /^ +1 {2}open {5,}1\/2 +- +2026-01-01T00:00:00Z +-$/);
    assert.match(plain[2]!, /deadline passed$/);
    const secure = roundTable([
      round({
        aggregation: 'secure',
        status: 'summing',
        secure: {
          threshold: 2,
          clipNorm: 100,
          vectorLength: 45,
          policy: 'lottery',
          field: 'wide',
          weightCap: null,
          committee: [],
          keyed: true,
          includedSetHash: 'h',
          includedCount: 3,
          summingDeadline: null,
          partialSumCount: 1,
        },
      }),
    ]);
    assert.match(secure[0]!, /owners +included +partial sums/);
    assert.match(secure[1]!, /summing +1\/2 +3 +1\/2/);
  });

  it('marks a statistics round, and says what it computes instead of a base model', () => {
    const statistics = round({ kind: 'statistics', status: 'closed', statistics: { columns: ['AGE', 'LIMIT_BAL'] } } as Partial<RoundView>);
    assert.match(roundTable([statistics])[1]!, /^ +1 {2}closed +1\/2 +stats +2026-01-01T00:00:00Z/);
    const shown = roundShowLines(statistics, 'f').join('\n');
    assert.match(shown, /^computes +count, sum and sum of squares of AGE, LIMIT_BAL$/m);
    assert.doesNotMatch(shown, /trains from/);
  });

  it('adds an ε column to the model list when any version was trained with a budget', () => {
    const model = (version: number, privacy: ModelVersionView['privacy']): ModelVersionView => ({
      version,
      roundNumber: version === 0 ? null : version,
      metrics: { owners: 2, samples: 2, trainLoss: null, trainAccuracy: null },
      heEvaluable: true,
      heRefusal: null,
      privacy,
      validation: null,
      federatedEvaluation: null,
      promoted: false,
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    const withBudget = modelTable([model(0, null), model(1, { epsilon: 1.23456, delta: 1e-5 })]);
    assert.match(withBudget[0]!, /train accuracy +ε spent +served +HE/);
    assert.match(withBudget[1]!, /- +- +yes/);
    assert.match(withBudget[2]!, /1\.2346 +yes/);
    assert.doesNotMatch(modelTable([model(0, null)])[0]!, /ε/);
  });
});
