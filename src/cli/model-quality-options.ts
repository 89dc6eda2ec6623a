/**
 * `fedscore simulate`'s model-quality flags: the server optimiser, the operator's validation set (held
 * out from the training rows, so the owners never hold it) and the selection rule with early stopping.
 */
import { readFile } from 'node:fs/promises';
import type { EncodedRows } from '../client/local-data.js';
import { createRng, shuffleInPlace } from '../ml/random.js';
import { serverOptimizerSchema, type SelectionInput, type ServerOptimizerSetting } from '../schemas/federations.schema.js';
import { readChoice, readNumber, UsageError } from './cli-io.js';

export const MODEL_QUALITY_OPTIONS = {
  'server-optimizer': { type: 'string' },
  'validation-fraction': { type: 'string' },
  'select-metric': { type: 'string' },
  patience: { type: 'string' },
  evaluate: { type: 'boolean' },
} as const;

export const MODEL_QUALITY_USAGE = `  --server-optimizer S   how the server steps each round: fedavg, fedavgm, fedadam or fedyogi, optionally
                         with its learning rate, e.g. fedadam:0.01 (default: fedavg:1 for logreg, fedadam:0.03 for mlp,
                         fedadam:0.1 for square and relu-poly)
  --validation-fraction F  hold out this fraction of the training rows as the operator's validation set (the
                         owners get the rest): every version is scored on it, the best is promoted and 'final'
                         reports the promoted version
  --select-metric M      validation metric that picks the promoted version: logLoss (default), auc, accuracy, brier, ks
  --patience N           early stopping: stop after N scored versions without improving the metric
  --evaluate             after training, a federated evaluation: every owner scores the final version on its own
                         rows and the server learns only the sum of their tallies (per-class score histograms,
                         loss sums); printed beside the test-row figures (not with --dp-epsilon)`;

const OPTIMIZERS = ['fedavg', 'fedavgm', 'fedadam', 'fedyogi'] as const;
const METRICS = ['logLoss', 'auc', 'accuracy', 'brier', 'ks'] as const;

export interface ModelQualityChoices {
  serverOptimizer?: ServerOptimizerSetting;
  validationFraction?: number;
  selection?: SelectionInput;
  evaluate?: boolean;
}

export function readModelQualityChoices(values: { 'server-optimizer'?: string; 'validation-fraction'?: string; 'select-metric'?: string; patience?: string; evaluate?: boolean }): ModelQualityChoices {
  const choices: ModelQualityChoices = {};
  if (values.evaluate) choices.evaluate = true;
  const optimizer = values['server-optimizer'];
  if (optimizer !== undefined) {
    const [kindText, rateText, ...rest] = optimizer.split(':');
    if (rest.length > 0) throw new UsageError(`--server-optimizer: expected KIND or KIND:RATE, got '${optimizer}'`);
    const kind = readChoice(kindText, '--server-optimizer', OPTIMIZERS, 'fedavg');
    const learningRate = rateText === undefined ? undefined : readNumber(rateText, '--server-optimizer rate', 1, { min: 0, minExclusive: true, max: 10 });
    choices.serverOptimizer = serverOptimizerSchema.parse({ kind, ...(learningRate !== undefined && { learningRate }) });
  }
  if (values['validation-fraction'] !== undefined) {
    choices.validationFraction = readNumber(values['validation-fraction'], '--validation-fraction', 0, { min: 0, minExclusive: true, max: 0.5 });
  }
  if (values['select-metric'] !== undefined || values.patience !== undefined) {
    if (choices.validationFraction === undefined) throw new UsageError(`--${values.patience !== undefined ? 'patience' : 'select-metric'} needs a validation set: add --validation-fraction`);
    choices.selection = {
      rule: 'best',
      metric: readChoice(values['select-metric'], '--select-metric', METRICS, 'logLoss'),
      patience: values.patience === undefined ? null : readNumber(values.patience, '--patience', 1, { integer: true, min: 1, max: 10_000 }),
    };
  }
  return choices;
}

/**
 * Splits the encoded training rows into the owners' rows and the operator's validation rows: a seeded
 * shuffle, the first ⌈fraction·n⌉ to validation. Both keep file order, so dealing owners stays stable.
 */
export function holdOutValidation(train: EncodedRows, fraction: number, seed: number): { owners: EncodedRows; validationLines: number[] } {
  const n = train.X.length;
  const order = Array.from({ length: n }, (_, i) => i);
  shuffleInPlace(order, createRng(seed));
  const held = new Set(order.slice(0, Math.ceil(fraction * n)));
  if (held.size === n) throw new UsageError(`--validation-fraction: ${fraction} of ${n} rows leaves no owner`);
  const keep = order.filter((i) => !held.has(i)).sort((a, b) => a - b);
  const owners: EncodedRows = { X: keep.map((i) => train.X[i]!), y: Uint8Array.from(keep, (i) => train.y[i]!), lineNumbers: keep.map((i) => train.lineNumbers[i]!), dropped: train.dropped };
  return { owners, validationLines: [...held].sort((a, b) => a - b).map((i) => train.lineNumbers[i]!) };
}

/** The given physical lines of the data file as CSV text, after its header line when the schema has one. */
export async function linesAsCsv(dataFile: string, lines: number[], header: boolean): Promise<string> {
  const all = (await readFile(dataFile, 'utf8')).split(/\r?\n/);
  return [...(header ? [all[0]!] : []), ...lines.map((line) => all[line - 1]!)].join('\n') + '\n';
}
