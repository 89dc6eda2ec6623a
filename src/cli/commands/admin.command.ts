/**
 * `fedscore admin …`: operator housekeeping against the database directly. `create-key` issues a stored
 * operator key and prints it exactly once: on a terminal with a note, otherwise as the bare key on one line
 * so `KEY=$(fedscore admin create-key)` works. The key is never logged; only its hash is stored.
 */
import { loadConfig } from '../../config.js';
import { createOperatorKey } from '../../services/maintenance.service.js';
import { EXIT_OK, parseCommandArgs, UsageError, writeLine, type CliIo, type Command } from '../cli-io.js';

const USAGE = `Usage: fedscore admin <subcommand>

Subcommands:
  create-key [--label L]   issue an operator API key and print it once

Options:
  -h, --help               show this help`;

const CREATE_KEY_USAGE = `Usage: fedscore admin create-key [--label L]

Issues an operator API key (stored hashed) in the database DATABASE_URL or DATA_DIR names, migrating it
first if needed, and prints the key once. When stdout is not a terminal only the key is printed.

Options:
  --label L     a note for the operator's records (default "cli")
  -h, --help    show this help`;

export const adminCommand: Command = {
  name: 'admin',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const [subcommand, ...rest] = args;
    if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
      if (subcommand === undefined) throw new UsageError('expected a subcommand');
      writeLine(io.stdout, USAGE);
      return EXIT_OK;
    }
    if (subcommand !== 'create-key') throw new UsageError(`unknown subcommand '${subcommand}'`);

    const values = parseCommandArgs(CREATE_KEY_USAGE, rest, { label: { type: 'string' } } as const, io);
    if (values === null) return EXIT_OK;
    const label = values.label ?? 'cli';
    if (label.trim() === '') throw new UsageError('--label: expected a non-empty label', CREATE_KEY_USAGE);
    const config = loadConfig(io.env);
    const { id, apiKey } = await createOperatorKey(config, label);
    if (io.stdout.isTTY) {
      writeLine(io.stdout, `Operator key ${id} (label "${label}"). It is shown only this once; store it now:`);
      writeLine(io.stdout);
      writeLine(io.stdout, `  ${apiKey}`);
      writeLine(io.stdout);
      writeLine(io.stdout, 'Send it as: Authorization: Bearer <key>');
    } else {
      writeLine(io.stdout, apiKey);
    }
    return EXIT_OK;
  },
};
