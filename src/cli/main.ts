/**
 * The `fedscore` command line: finds the subcommand, runs it and turns what happened into an exit code —
 * 0 success, 1 failure, 2 a mistake in the call (with the command's usage). Commands load lazily, so
 * `train-central` never pays for starting the HTTP server and database stack it does not use.
 *
 * Run directly (`node --import tsx src/cli/main.ts …`) or through bin/fedscore.js, which calls `runCli`.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, writeLine, type CliIo, type Command } from './cli-io.js';

interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

const COMMANDS: CommandEntry[] = [
  {
    name: 'serve',
    summary: 'run the API server (Swagger UI at /docs)',
    load: async () => (await import('./commands/serve.command.js')).serveCommand,
  },
  {
    name: 'migrate',
    summary: 'apply pending database migrations',
    load: async () => (await import('./commands/migrate.command.js')).migrateCommand,
  },
  {
    name: 'admin',
    summary: 'operator housekeeping: admin create-key|list-keys|revoke-key',
    load: async () => (await import('./commands/admin.command.js')).adminCommand,
  },
  {
    name: 'train-central',
    summary: 'train the centralised baseline and score it on the held-out split',
    load: async () => (await import('./commands/train-central.command.js')).trainCentralCommand,
  },
  {
    name: 'simulate',
    summary: 'federated training over HTTP with simulated owners, scored every round',
    load: async () => (await import('./commands/simulate.command.js')).simulateCommand,
  },
  {
    name: 'predict',
    summary: 'score a CSV of applicants, in the clear or under homomorphic encryption',
    load: async () => (await import('./commands/predict.command.js')).predictCommand,
  },
  {
    name: 'owner',
    summary: "a data owner's agent: enrol in a federation, take part in its rounds, show its status",
    load: async () => (await import('./commands/owner.command.js')).ownerCommand,
  },
  {
    name: 'operator',
    summary: 'run a federation: create it, open and close rounds, follow rounds and models, rotate its token',
    load: async () => (await import('./commands/operator.command.js')).operatorCommand,
  },
  {
    name: 'privacy',
    summary: 'the (ε, δ) a sampling rate, noise multiplier and number of rounds spend, or the noise a target ε needs',
    load: async () => (await import('./commands/privacy.command.js')).privacyCommand,
  },
];

function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `Usage: fedscore <command> [options]

Privacy-preserving federated credit scoring.

Commands:
${lines.join('\n')}

Run 'fedscore <command> --help' for a command's options.
Options: -h, --help (this help), --version`;
}

export function defaultIo(): CliIo {
  // A reader that goes away (`fedscore … | head`) ends the command quietly, not with an EPIPE stack trace.
  if (process.stdout.listenerCount('error') === 0) {
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(0);
    });
  }
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

/** Runs one command line (without `node` and the script) and returns the exit code; never exits itself. */
export async function runCli(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    writeLine(io.stderr, mainUsage());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? args[0] : undefined;
    const entry = topic === undefined ? undefined : COMMANDS.find((command) => command.name === topic);
    writeLine(io.stdout, entry ? (await entry.load()).usage : mainUsage());
    return EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    writeLine(io.stdout, packageVersion());
    return EXIT_OK;
  }
  const entry = COMMANDS.find((command) => command.name === name);
  if (entry === undefined) {
    writeLine(io.stderr, `fedscore: unknown command '${name}'`);
    writeLine(io.stderr);
    writeLine(io.stderr, mainUsage());
    return EXIT_USAGE;
  }

  let command: Command | undefined;
  try {
    command = await entry.load();
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      writeLine(io.stderr, `fedscore ${name}: ${error.message}`);
      const usage = error.usage ?? command?.usage;
      if (usage !== undefined) writeLine(io.stderr, `\n${usage.trimEnd()}`);
      return EXIT_USAGE;
    }
    const message = error instanceof Error ? error.message : String(error);
    writeLine(io.stderr, `fedscore ${name}: ${message}`);
    if (io.env.FEDSCORE_DEBUG && error instanceof Error && error.stack) writeLine(io.stderr, error.stack);
    return EXIT_FAILURE;
  }
}

/** package.json sits two levels up from both src/cli and dist/cli. */
function packageVersion(): string {
  try {
    const file = fileURLToPath(new URL('../../package.json', import.meta.url));
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await runCli(process.argv.slice(2));
}
