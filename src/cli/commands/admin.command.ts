/**
 * `fedscore admin …`: operator housekeeping against the database directly, on the server's host.
 * `create-key` issues a stored operator key and prints it exactly once: on a terminal with a note,
 * otherwise as the bare key on one line so `KEY=$(fedscore admin create-key)` works. `list-keys` shows
 * what was issued (never a key), `revoke-key` stops one from working. Keys are never logged; only their
 * hashes are stored.
 */
import { loadConfig } from '../../config.js';
import { createOperatorKey, listOperatorKeys, revokeOperatorKey } from '../../services/maintenance.service.js';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, requireString, UsageError, writeLine, type CliIo, type Command } from '../cli-io.js';
import { formatHeader, formatRow, type Column } from '../table.js';

const USAGE = `Usage: fedscore admin <subcommand>

Subcommands:
  create-key [--label L]   issue an operator API key and print it once
  list-keys [--json]       list the operator keys issued (id, label, created, revoked)
  revoke-key --id ID       revoke an operator key: it stops working at once

Options:
  -h, --help               show this help`;

const CREATE_KEY_USAGE = `Usage: fedscore admin create-key [--label L]

Issues an operator API key (stored hashed) in the database DATABASE_URL or DATA_DIR names, migrating it
first if needed, and prints the key once. When stdout is not a terminal only the key is printed.

Options:
  --label L     a note for the operator's records (default "cli")
  -h, --help    show this help`;

const LIST_KEYS_USAGE = `Usage: fedscore admin list-keys [--json]

Lists the operator keys stored in the database DATABASE_URL or DATA_DIR names, revoked ones included.
Keys themselves are never shown (only their hashes are stored). ADMIN_API_KEY, when set, is not listed:
it lives in the environment, and unsetting it revokes it.

Options:
  --json        one JSON document instead of a table
  -h, --help    show this help`;

const REVOKE_KEY_USAGE = `Usage: fedscore admin revoke-key --id ID

Revokes a stored operator key (its id is in list-keys): every request with it answers 401 from then on,
on every instance sharing the database. Scoped keys are revoked over the API
(DELETE /v1/federations/{id}/api-keys/{keyId}); owners are removed with DELETE …/owners/{ownerId}.

Options:
  --id ID       the key's id
  -h, --help    show this help`;

const KEY_COLUMNS: Column[] = [
  { header: 'id', width: 36, align: 'left' },
  { header: 'label', width: 16, align: 'left' },
  { header: 'created', width: 24, align: 'left' },
  { header: 'revoked', width: 24, align: 'left' },
];

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
    switch (subcommand) {
      case 'create-key':
        return createKey(rest, io);
      case 'list-keys':
        return listKeys(rest, io);
      case 'revoke-key':
        return revokeKey(rest, io);
      default:
        throw new UsageError(`unknown subcommand '${subcommand}'`);
    }
  },
};

async function createKey(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(CREATE_KEY_USAGE, args, { label: { type: 'string' } } as const, io);
  if (values === null) return EXIT_OK;
  const label = values.label ?? 'cli';
  if (label.trim() === '') throw new UsageError('--label: expected a non-empty label', CREATE_KEY_USAGE);
  const { id, apiKey } = await createOperatorKey(loadConfig(io.env), label);
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
}

async function listKeys(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(LIST_KEYS_USAGE, args, { json: { type: 'boolean' } } as const, io);
  if (values === null) return EXIT_OK;
  const keys = await listOperatorKeys(loadConfig(io.env));
  if (values.json) {
    const view = keys.map((key) => ({ id: key.id, label: key.label, createdAt: key.createdAt.toISOString(), revokedAt: key.revokedAt?.toISOString() ?? null }));
    writeLine(io.stdout, JSON.stringify({ keys: view }, null, 2));
    return EXIT_OK;
  }
  if (keys.length === 0) {
    writeLine(io.stdout, 'No operator keys stored; `fedscore admin create-key` issues one.');
    return EXIT_OK;
  }
  writeLine(io.stdout, formatHeader(KEY_COLUMNS));
  for (const key of keys) {
    writeLine(io.stdout, formatRow(KEY_COLUMNS, [key.id, key.label, key.createdAt.toISOString(), key.revokedAt?.toISOString() ?? '-']));
  }
  return EXIT_OK;
}

async function revokeKey(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(REVOKE_KEY_USAGE, args, { id: { type: 'string' } } as const, io);
  if (values === null) return EXIT_OK;
  const id = requireString(values.id, '--id');
  if (!(await revokeOperatorKey(loadConfig(io.env), id))) {
    writeLine(io.stderr, `fedscore admin revoke-key: no unrevoked operator key has id ${id} (see fedscore admin list-keys)`);
    return EXIT_FAILURE;
  }
  writeLine(io.stdout, `Revoked operator key ${id}.`);
  return EXIT_OK;
}
