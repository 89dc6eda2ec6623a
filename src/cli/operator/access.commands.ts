/**
 * `fedscore operator keys issue | list | revoke | rotate` and `owners remove`: who may call the server.
 * Scoped keys let a lender's scoring system or a dashboard work without the operator key; a key is printed
 * once, to stdout only. Removing an owner revokes its key; what it contributed stays in the models.
 */
import { SCOPES, type Scope } from '../../services/credentials.js';
import type { ApiKeyView, IssuedApiKey } from '../../client/http-client.js';
import { EXIT_OK, parseCommandArgs, requireString, UsageError, writeLine, type CliIo } from '../cli-io.js';
import { formatHeader, formatRow, type Column } from '../table.js';
import { CONNECTION_USAGE, FEDERATION_OPTIONS, readConnection } from './flags.js';
import { withServer, writeJson } from './with-server.js';

export const KEYS_ISSUE_USAGE = `Usage: fedscore operator keys issue --federation ID --scopes S[,S] [--label L] [options]

Issues a key limited to this federation and these scopes, and prints it once (the server keeps only its
hash). Scopes: predict (plain predictions), he-predict (encrypted-prediction sessions), read (the
federation, its rounds and model metadata; never weights, owners or the validation set).

Options:
  --federation ID        the federation
  --scopes S[,S]         ${SCOPES.join(', ')}
  --label L              who holds it, for your records [scoped key]
${CONNECTION_USAGE}

With --json the last line of stdout is {key, apiKey}.`;

export const KEYS_LIST_USAGE = `Usage: fedscore operator keys list --federation ID [options]

Lists the federation's scoped keys, revoked ones included: id, label, scopes, when issued and revoked.
Keys themselves are never shown.

Options:
  --federation ID        the federation
${CONNECTION_USAGE}`;

export const KEYS_REVOKE_USAGE = `Usage: fedscore operator keys revoke --federation ID --key KEY_ID [options]

Revokes a scoped key: every instance refuses it (401) from the next request on.

Options:
  --federation ID        the federation
  --key KEY_ID           the key's id (from 'keys list')
${CONNECTION_USAGE}`;

export const KEYS_ROTATE_USAGE = `Usage: fedscore operator keys rotate --federation ID --key KEY_ID [options]

Gives a scoped key a new secret, printed once; the old secret stops working at once. To switch a running
system without a gap, issue a second key instead, deploy it, then revoke the first.

Options:
  --federation ID        the federation
  --key KEY_ID           the key's id (from 'keys list')
${CONNECTION_USAGE}

With --json the last line of stdout is {key, apiKey}.`;

export const OWNERS_REMOVE_USAGE = `Usage: fedscore operator owners remove --federation ID --owner OWNER_ID [options]

Removes an owner (or aggregator node) from the federation: its key is revoked, it is no longer counted,
sampled or seated on a committee, and its later submissions are refused. What the server accepted from it
before stays in the model versions it went into, and in a round still open.

Options:
  --federation ID        the federation
  --owner OWNER_ID       the owner's id (from 'federation show')
${CONNECTION_USAGE}

With --json the last line of stdout is the owner as the API returns it.`;

const KEY_COLUMNS: Column[] = [
  { header: 'id', width: 36, align: 'left' },
  { header: 'label', width: 16, align: 'left' },
  { header: 'scopes', width: 22, align: 'left' },
  { header: 'issued', width: 24, align: 'left' },
  { header: 'revoked', width: 24, align: 'left' },
];

const KEY_OPTIONS = { ...FEDERATION_OPTIONS, key: { type: 'string' } } as const;

function readScopes(value: string | undefined): Scope[] {
  const scopes = requireString(value, '--scopes').split(',').map((scope) => scope.trim());
  const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
  if (unknown.length > 0) throw new UsageError(`--scopes: unknown scope ${unknown.join(', ')}; expected some of ${SCOPES.join(', ')}`);
  return [...new Set(scopes)] as Scope[];
}

function printIssued(io: CliIo, issued: IssuedApiKey, verb: string): void {
  writeLine(io.stdout, `${verb} key ${issued.key.id} ("${issued.key.label}", ${issued.key.scopes.join(', ')}) for federation ${issued.key.federationId}.`);
  writeLine(io.stdout, 'It is shown only this once; store it now and send it as Authorization: Bearer <key>:');
  writeLine(io.stdout);
  writeLine(io.stdout, `  ${issued.apiKey}`);
}

export async function issueKeyCommand(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(KEYS_ISSUE_USAGE, args, { ...FEDERATION_OPTIONS, scopes: { type: 'string' }, label: { type: 'string' } }, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const scopes = readScopes(values.scopes);
  const label = values.label ?? 'scoped key';
  return withServer(io, connection, 'to issue a key', async (client) => {
    const issued = await client.issueApiKey(federationId, { label, scopes });
    if (values.json) return writeJson(io, issued);
    printIssued(io, issued, 'Issued');
  });
}

export async function listKeysCommand(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(KEYS_LIST_USAGE, args, FEDERATION_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  return withServer(io, connection, 'to list keys', async (client) => {
    const keys = await client.listApiKeys(federationId);
    if (values.json) return writeJson(io, { keys });
    if (keys.length === 0) return writeLine(io.stdout, `No scoped keys for federation ${federationId}; 'fedscore operator keys issue' makes one.`);
    writeLine(io.stdout, formatHeader(KEY_COLUMNS));
    for (const key of keys) writeLine(io.stdout, keyRow(key));
  });
}

const keyRow = (key: ApiKeyView) => formatRow(KEY_COLUMNS, [key.id, key.label, key.scopes.join(','), key.createdAt, key.revokedAt ?? '-']);

export async function revokeKeyCommand(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(KEYS_REVOKE_USAGE, args, KEY_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const keyId = requireString(values.key, '--key');
  return withServer(io, connection, 'to revoke the key', async (client) => {
    const key = await client.revokeApiKey(federationId, keyId);
    if (values.json) return writeJson(io, key);
    writeLine(io.stdout, `Revoked key ${key.id} ("${key.label}") at ${key.revokedAt}.`);
  });
}

export async function rotateKeyCommand(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(KEYS_ROTATE_USAGE, args, KEY_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const keyId = requireString(values.key, '--key');
  return withServer(io, connection, 'to rotate the key', async (client) => {
    const issued = await client.rotateApiKey(federationId, keyId);
    if (values.json) return writeJson(io, issued);
    printIssued(io, issued, 'Rotated');
    writeLine(io.stdout);
    writeLine(io.stdout, 'The previous secret no longer works.');
  });
}

export async function removeOwnerCommand(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(OWNERS_REMOVE_USAGE, args, { ...FEDERATION_OPTIONS, owner: { type: 'string' } }, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const ownerId = requireString(values.owner, '--owner');
  return withServer(io, connection, 'to remove the owner', async (client) => {
    const owner = await client.removeOwner(federationId, ownerId);
    if (values.json) return writeJson(io, owner);
    writeLine(io.stdout, `Removed ${owner.role} ${owner.id} ("${owner.name}") from federation ${federationId} at ${owner.removedAt}: its key no longer works.`);
    writeLine(io.stdout, 'What it contributed before stays in the model versions it went into.');
  });
}
