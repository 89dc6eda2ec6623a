/**
 * `fedscore privacy`: ε for a configuration, the noise multiplier for a target ε, `--json` as the last
 * stdout line, and every malformed call refused with exit code 2 before anything is computed. The
 * numbers themselves are the accountant's (src/crypto/dp/accountant.test.ts checks them against Opacus
 * and TF Privacy); here they are checked to reach the output unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dpEpsilon } from '../crypto/dp/accountant.js';
import type { CliIo } from './cli-io.js';
import { runCli } from './main.js';

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { stdout: { write: (chunk: string) => out.push(chunk) }, stderr: { write: (chunk: string) => err.push(chunk) }, env: {} };
  const code = await runCli(['privacy', ...argv], io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const lastJson = (stdout: string) => JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as Record<string, unknown>;

describe('fedscore privacy', () => {
  it('prints ε and the order for q, z, steps and δ (Opacus conversion by default)', async () => {
    const result = await run(['--q', '0.01', '--noise', '1.1', '--steps', '10000', '--delta', '1e-5']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      result.stdout,
      'ε = 5.632 for noise multiplier z = 1.1, q = 0.01, 10000 steps, δ = 1e-5\n  (at RDP order α = 4.7; conversion: opacus, Balle et al. 2020)\n',
    );
    assert.equal(result.stderr, '');
  });

  it('--json: the last stdout line is one object with ε, the order and the configuration', async () => {
    const result = await run(['--q', '0.01', '--noise', '1.1', '--steps', '10000', '--delta', '1e-5', '--conversion', 'classic', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = lastJson(result.stdout);
    const expected = dpEpsilon({ sampleRate: 0.01, noiseMultiplier: 1.1, steps: 10_000, delta: 1e-5, conversion: 'classic' });
    assert.deepEqual(report, { ...expected, noiseMultiplier: 1.1, sampleRate: 0.01, steps: 10_000, delta: 1e-5, conversion: 'classic' });
    assert.ok(Math.abs((report.epsilon as number) - 6.28) < 0.01);
  });

  it('--epsilon solves for the smallest noise multiplier that meets the target', async () => {
    const result = await run(['--q', '0.04', '--epsilon', '8', '--steps', '2000', '--delta', '1e-5', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = lastJson(result.stdout);
    assert.equal(report.targetEpsilon, 8);
    const z = report.noiseMultiplier as number;
    assert.ok(Math.abs(z - 1.3562) < 2e-3, `z = ${z}`); // Opacus' test_get_noise_multiplier_rdp_steps
    assert.ok((report.epsilon as number) <= 8);
    assert.equal(report.epsilon, dpEpsilon({ sampleRate: 0.04, noiseMultiplier: z, steps: 2000, delta: 1e-5 }).epsilon);

    const text = await run(['--q', '0.04', '--epsilon', '8', '--steps', '2000', '--delta', '1e-5']);
    assert.match(text.stdout, /^noise multiplier z = 1\.35613 gives ε = 7\.99999 ≤ 8, q = 0\.04, 2000 steps, δ = 1e-5\n/);
  });

  it('says when the search range cannot meet the target (exit 1) or any z meets it', async () => {
    const impossible = await run(['--q', '1', '--epsilon', '0.001', '--steps', '1000000', '--delta', '1e-5']);
    assert.equal(impossible.code, 1);
    assert.match(impossible.stderr, /^fedscore privacy: solveNoiseMultiplier: no noise multiplier in \[0\.01, 1000\] reaches ε ≤ 0\.001/);
    assert.equal(impossible.stdout, '');
    const free = await run(['--q', '0', '--epsilon', '1', '--steps', '10', '--delta', '1e-5', '--json']);
    assert.equal(free.code, 0);
    assert.deepEqual([lastJson(free.stdout).noiseMultiplier, lastJson(free.stdout).epsilon], [0.01, 0]);
  });

  it('notes on stderr when the best order is at the end of the range', async () => {
    const result = await run(['--q', '1', '--noise', '100', '--steps', '1', '--delta', '1e-5']);
    assert.equal(result.code, 0);
    assert.match(result.stderr, /note: the best order is at the end of the range \(63\)/);
  });

  it('prints its usage with --help', async () => {
    const result = await run(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: fedscore privacy --q Q --steps N --delta D \(--noise Z \| --epsilon E\)/);
  });
});

describe('fedscore privacy refuses bad input with exit 2 and its usage', () => {
  const base = ['--steps', '100', '--delta', '1e-5'];
  const cases: [string, string[], RegExp][] = [
    ['q above 1', ['--q', '1.5', '--noise', '1', ...base], /--q: expected a number ≤ 1, got 1\.5/],
    ['a negative q', ['--q=-0.1', '--noise', '1', ...base], /--q: expected a number ≥ 0, got -0\.1/],
    ['a missing q', ['--noise', '1', ...base], /--q is required/],
    ['a zero noise multiplier', ['--q', '0.1', '--noise', '0', ...base], /--noise: expected a number > 0, got 0/],
    ['a negative noise multiplier', ['--q', '0.1', '--noise=-1', ...base], /--noise: expected a number > 0, got -1/],
    ['an infinite noise multiplier', ['--q', '0.1', '--noise', 'Infinity', ...base], /--noise: expected a number, got 'Infinity'/],
    ['a non-number', ['--q', '0.1', '--noise', '1x', ...base], /--noise: expected a number, got '1x'/],
    ['fractional steps', ['--q', '0.1', '--noise', '1', '--steps', '2.5', '--delta', '1e-5'], /--steps: expected a whole number, got '2\.5'/],
    ['negative steps', ['--q', '0.1', '--noise', '1', '--steps=-3', '--delta', '1e-5'], /--steps: expected a whole number ≥ 0, got -3/],
    ['δ = 0', ['--q', '0.1', '--noise', '1', '--steps', '1', '--delta', '0'], /--delta: expected a number > 0, got 0/],
    ['δ = 1', ['--q', '0.1', '--noise', '1', '--steps', '1', '--delta', '1'], /--delta: expected a number < 1, got 1/],
    ['a missing δ', ['--q', '0.1', '--noise', '1', '--steps', '1'], /--delta is required/],
    ['both --noise and --epsilon', ['--q', '0.1', '--noise', '1', '--epsilon', '2', ...base], /give exactly one of --noise Z \(to compute ε\) or --epsilon E/],
    ['neither --noise nor --epsilon', ['--q', '0.1', ...base], /give exactly one of --noise Z \(to compute ε\) or --epsilon E/],
    ['a zero target ε', ['--q', '0.1', '--epsilon', '0', ...base], /--epsilon: expected a number > 0, got 0/],
    ['an unknown conversion', ['--q', '0.1', '--noise', '1', ...base, '--conversion', 'tight'], /--conversion: expected one of opacus, classic, got 'tight'/],
    ['an unknown flag', ['--q', '0.1', '--noise', '1', ...base, '--sigma', '2'], /Unknown option '--sigma'/],
  ];
  for (const [what, argv, message] of cases) {
    it(`rejects ${what}`, async () => {
      const result = await run(argv);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /Usage: fedscore privacy/);
      assert.equal(result.stdout, '');
    });
  }
});
