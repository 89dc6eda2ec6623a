/**
 * `fedscore privacy`: the privacy a training configuration would spend, without training. Given the
 * sampling rate q, the noise multiplier z and the number of steps (rounds), it prints the (ε, δ) the
 * RDP accountant of the sampled Gaussian mechanism reports (src/crypto/dp/accountant.ts); given a
 * target ε instead of z, it prints the smallest noise multiplier that meets it. This is what an
 * operator runs before choosing a federation's privacy settings.
 */
import { DEFAULT_ORDERS, dpEpsilon, NOISE_MULTIPLIER_RANGE, solveNoiseMultiplier, type Conversion } from '../../crypto/dp/accountant.js';
import { EXIT_OK, parseCommandArgs, readChoice, readNumber, requireString, UsageError, writeLine, type CliIo, type Command } from '../cli-io.js';

const USAGE = `Usage: fedscore privacy --q Q --steps N --delta D (--noise Z | --epsilon E) [options]

Prints the (ε, δ) spent by N steps of the sampled Gaussian mechanism: each step includes each record
(or owner) with probability Q and adds Gaussian noise of Z times the clipping norm. With --epsilon
instead of --noise, prints the smallest noise multiplier (to 6 digits) whose ε is at most E.
Rényi-DP accounting (Mironov, Talwar & Zhang 2019) on Opacus' orders 1.1 … 63, as Opacus and
TensorFlow Privacy compute it.

Options:
  --q Q                  sampling rate, in [0, 1] (1: every owner takes part in every round)
  --steps N              number of steps (rounds), a whole number ≥ 0
  --delta D              δ, in (0, 1), e.g. 1e-5
  --noise Z              noise multiplier, > 0: compute ε
  --epsilon E            target ε, > 0: solve for the noise multiplier (searched in [0.01, 1000])
  --conversion C         RDP to (ε, δ): opacus (Balle et al. 2020, as Opacus today; the default) or
                         classic (Mironov 2017, as older Opacus and TF Privacy releases)
  --json                 print one JSON object as the last line of stdout: {epsilon, order, noiseMultiplier,
                         sampleRate, steps, delta, conversion} (and targetEpsilon with --epsilon)
  -h, --help             show this help`;

const OPTIONS = {
  q: { type: 'string' },
  steps: { type: 'string' },
  delta: { type: 'string' },
  noise: { type: 'string' },
  epsilon: { type: 'string' },
  conversion: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** At most `digits` significant digits, without trailing zeros; `down` never rounds up (an ε shown ≤ its target). */
function short(value: number, digits: number, down = false): string {
  if (!Number.isFinite(value) || value === 0) return String(value);
  if (!down) return String(Number(value.toPrecision(digits)));
  const scale = 10 ** (digits - 1 - Math.floor(Math.log10(value)));
  return String(Number((Math.floor(value * scale) / scale).toPrecision(digits)));
}

export const privacyCommand: Command = {
  name: 'privacy',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseCommandArgs(USAGE, args, OPTIONS, io);
    if (values === null) return EXIT_OK;
    const sampleRate = readNumber(requireString(values.q, '--q'), '--q', 0, { min: 0, max: 1 });
    const steps = readNumber(requireString(values.steps, '--steps'), '--steps', 0, { integer: true, min: 0, max: Number.MAX_SAFE_INTEGER });
    const delta = readNumber(requireString(values.delta, '--delta'), '--delta', 0, { min: 0, minExclusive: true });
    if (!(delta < 1)) throw new UsageError(`--delta: expected a number < 1, got ${values.delta}`);
    if ((values.noise === undefined) === (values.epsilon === undefined)) {
      throw new UsageError('give exactly one of --noise Z (to compute ε) or --epsilon E (to solve for the noise multiplier)');
    }
    const conversion = readChoice<Conversion>(values.conversion, '--conversion', ['opacus', 'classic'], 'opacus');

    let noiseMultiplier: number;
    let targetEpsilon: number | undefined;
    if (values.noise !== undefined) {
      noiseMultiplier = readNumber(values.noise, '--noise', 0, { min: 0, minExclusive: true });
    } else {
      targetEpsilon = readNumber(values.epsilon, '--epsilon', 0, { min: 0, minExclusive: true });
      noiseMultiplier = solveNoiseMultiplier({ epsilon: targetEpsilon, delta, sampleRate, steps, conversion });
    }
    const { epsilon, order } = dpEpsilon({ sampleRate, noiseMultiplier, steps, delta, conversion });

    if (values.json) {
      writeLine(
        io.stdout,
        JSON.stringify({ epsilon, order, noiseMultiplier, sampleRate, steps, delta, conversion, ...(targetEpsilon !== undefined && { targetEpsilon }) }),
      );
      return EXIT_OK;
    }
    const setting = `q = ${sampleRate}, ${steps} step${steps === 1 ? '' : 's'}, δ = ${values.delta}`;
    if (targetEpsilon === undefined) {
      writeLine(io.stdout, `ε = ${short(epsilon, 4)} for noise multiplier z = ${noiseMultiplier}, ${setting}`);
    } else {
      writeLine(io.stdout, `noise multiplier z = ${short(noiseMultiplier, 6)} gives ε = ${short(epsilon, 6, true)} ≤ ${targetEpsilon}, ${setting}`);
      if (noiseMultiplier === NOISE_MULTIPLIER_RANGE.min) writeLine(io.stderr, `note: z = ${noiseMultiplier}, the bottom of the search range, already meets the target`);
    }
    if (epsilon > 0) {
      writeLine(io.stdout, `  (at RDP order α = ${order}; conversion: ${conversion === 'opacus' ? 'opacus, Balle et al. 2020' : 'classic, Mironov 2017'})`);
      if (order === DEFAULT_ORDERS[0] || order === DEFAULT_ORDERS.at(-1)) {
        writeLine(io.stderr, `note: the best order is at the end of the range (${order}); a wider range could give a smaller ε`);
      }
    }
    return EXIT_OK;
  },
};
