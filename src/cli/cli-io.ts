/**
 * What every command shares: the streams it writes to (injected, so tests capture them), the usage error
 * that maps to exit code 2, and strict argument parsing on top of `node:util` parseArgs with typed
 * number and choice readers. Commands stay declarative: an options table, a usage text and a `run`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** The part of a writable stream commands use; `process.stdout` fits, and so does a test double. */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  /** Full help text, printed by `--help` and after a usage error. */
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** A mistake in how the command was called: exit code 2, message plus usage on stderr. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** Help to show with the message, when it differs from the command's own (a subcommand's). */
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends OptionsConfig> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>>;

/**
 * Strict parse of `args` (`--help`/`-h` is always accepted). Returns null when help was asked for and
 * printed; throws UsageError for unknown flags, missing values and unexpected positionals.
 */
export function parseCommandArgs<O extends OptionsConfig>(
  usage: string,
  args: string[],
  options: O,
  io: CliIo,
  maxPositionals = 0,
): Parsed<O>['values'] | null {
  if (args.includes('--help') || args.includes('-h')) {
    writeLine(io.stdout, usage.trimEnd());
    return null;
  }
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(cleanParseError(error), usage);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`, usage);
  }
  return parsed.values;
}

/** Node's messages end with advice about `--` that does not apply to these commands. */
function cleanParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\. To specify a positional argument.*$/s, '').replace(/\.$/, '');
}

export function requireString(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}

interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  /** The bound is exclusive (a learning rate must be > 0, not ≥ 0). */
  minExclusive?: boolean;
}

/** Reads a numeric flag, or `fallback` when absent; rejects junk like `5x`, `1e`, or `2.5` for an integer. */
export function readNumber(value: string | undefined, flag: string, fallback: number, rule: NumberRule = {}): number {
  if (value === undefined) return fallback;
  const trimmed = value.trim();
  const number = trimmed === '' ? NaN : Number(trimmed);
  const kind = rule.integer ? 'a whole number' : 'a number';
  if (!Number.isFinite(number) || (rule.integer && !Number.isInteger(number))) {
    throw new UsageError(`${flag}: expected ${kind}, got '${value}'`);
  }
  if (rule.min !== undefined && (rule.minExclusive ? number <= rule.min : number < rule.min)) {
    throw new UsageError(`${flag}: expected ${kind} ${rule.minExclusive ? '>' : '≥'} ${rule.min}, got ${value}`);
  }
  if (rule.max !== undefined && number > rule.max) {
    throw new UsageError(`${flag}: expected ${kind} ≤ ${rule.max}, got ${value}`);
  }
  return number;
}

export function readChoice<C extends string>(value: string | undefined, flag: string, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if ((choices as readonly string[]).includes(value)) return value as C;
  throw new UsageError(`${flag}: expected one of ${choices.join(', ')}, got '${value}'`);
}

/** Writes one line; the commands' only way to print, so `--json` output stays the last line. */
export function writeLine(stream: OutputStream, line = ''): void {
  stream.write(`${line}\n`);
}
