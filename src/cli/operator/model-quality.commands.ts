/**
 * `fedscore operator models validation | promote | selection`: the operator's model-quality controls —
 * the labelled validation set every version is scored on, promotion by hand, and the rule that promotes
 * the best version and may stop training early. Which version is served, and why, stays auditable from
 * `models list` and `models show`.
 */
import { readFile } from 'node:fs/promises';
import { EXIT_OK, parseCommandArgs, readChoice, readNumber, requireString, UsageError, writeLine, type CliIo } from '../cli-io.js';
import { CONNECTION_USAGE, FEDERATION_OPTIONS, readConnection } from './flags.js';
import { describeSelection } from './format.js';
import { withServer, writeJson } from './with-server.js';

const METRICS = ['logLoss', 'auc', 'accuracy', 'brier', 'ks'] as const;

export const VALIDATION_USAGE = `Usage: fedscore operator models validation --federation ID --file CSV [options]

Attaches (or replaces) the federation's validation set: labelled rows in the schema's layout, the label
included, complete (no missing values), both classes present. The server keeps them and never shows them to
owners; it scores every existing version on them at once and every new version when it is published, and
the selection rule promotes by those scores. Without --file, shows what the server holds.

Options:
  --federation ID        the federation
  --file CSV             the validation rows (no header line unless the schema has one)
${CONNECTION_USAGE}

With --json the last line of stdout is {rows, positives, majorityRate, scoredVersions, createdAt}.`;

export const PROMOTE_USAGE = `Usage: fedscore operator models promote --federation ID --version V [options]

Promotes a version by hand: predictions and new encrypted-scoring sessions use it by default. A version
whose validation accuracy is below the majority-class rate is refused. The selection rule becomes manual,
so the next round does not override the choice ('models selection --rule best' hands it back).

Options:
  --federation ID        the federation
  --version V            the version to serve
${CONNECTION_USAGE}

With --json the last line of stdout is the federation as the API returns it.`;

export const SELECTION_USAGE = `Usage: fedscore operator models selection --federation ID --rule best|manual [options]

Sets how the served version is chosen. best: after every scored version, the best by --metric on the
validation set is promoted (never one below the majority-class rate), and with --patience N automatic
rounds stop after N scored versions without improvement. manual: only 'models promote' changes it.

Options:
  --federation ID        the federation
  --rule RULE            best or manual
  --metric M             ${METRICS.join(', ')} [logLoss]
  --patience N           early stopping after N versions without improvement, or none [none]
${CONNECTION_USAGE}

With --json the last line of stdout is the federation as the API returns it.`;

export async function validationCommand(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(VALIDATION_USAGE, args, { ...FEDERATION_OPTIONS, file: { type: 'string' } }, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const csv = values.file === undefined ? undefined : await readValidationFile(values.file);
  return withServer(io, connection, csv === undefined ? 'to show the validation set' : 'to attach the validation set', async (client) => {
    const set = csv === undefined ? await client.getValidationSet(federationId) : await client.putValidationSet(federationId, csv);
    if (values.json) return writeJson(io, set);
    if (csv !== undefined) writeLine(io.stdout, `Attached the validation set to federation ${federationId}; the server keeps it and never shows it to owners.`);
    writeLine(io.stdout, `${set.rows} rows, ${set.positives} positive; majority-class rate ${set.majorityRate.toFixed(4)} (no version below it is served)`);
    writeLine(io.stdout, `${set.scoredVersions} version(s) scored on it so far; see them with: fedscore operator models list --federation ${federationId}`);
  });
}

export async function promoteCommand(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(PROMOTE_USAGE, args, { ...FEDERATION_OPTIONS, version: { type: 'string' } }, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const version = readNumber(requireString(values.version, '--version'), '--version', 0, { integer: true, min: 0 });
  return withServer(io, connection, `to promote model version ${version}`, async (client) => {
    const federation = await client.promoteModel(federationId, version);
    if (values.json) return writeJson(io, federation);
    writeLine(io.stdout, `Promoted model version ${version}: predictions and new encrypted-scoring sessions use it by default.`);
    writeLine(io.stdout, `Selection is now manual (${describeSelection(federation.selection)}); 'models selection --rule best' hands the choice back to the rule.`);
  });
}

export async function selectionCommand(args: string[], io: CliIo): Promise<number> {
  const options = { ...FEDERATION_OPTIONS, rule: { type: 'string' }, metric: { type: 'string' }, patience: { type: 'string' } } as const;
  const values = parseCommandArgs(SELECTION_USAGE, args, options, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const rule = readChoice(requireString(values.rule, '--rule'), '--rule', ['best', 'manual'] as const, 'best');
  const metric = readChoice(values.metric, '--metric', METRICS, 'logLoss');
  const patience = values.patience === undefined || values.patience === 'none' ? null : readNumber(values.patience, '--patience', 1, { integer: true, min: 1, max: 10_000 });
  return withServer(io, connection, 'to set the selection rule', async (client) => {
    const federation = await client.putSelection(federationId, { rule, metric, patience });
    if (values.json) return writeJson(io, federation);
    writeLine(io.stdout, `Selection: ${describeSelection(federation.selection)}.`);
    writeLine(io.stdout, `Served by default: ${federation.defaultModelVersion === null ? 'none yet (no version reaches the majority-class rate)' : `model version ${federation.defaultModelVersion}`}`);
  });
}

async function readValidationFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
