/**
 * The flags `train-central` and `simulate` share (data, schema, split, model and hyper-parameters) and the
 * data loading behind them, so the centralised baseline and the federated run read, split, standardise
 * and encode the rows identically and their figures can be compared line for line.
 */
import path from 'node:path';
import { configSchema } from '../config.js';
import { DEFAULT_TRAINING, defaultHyperparameters, type TrainingSetting } from '../client/defaults.js';
import {
  applySplit,
  encodeRows,
  ensureNumericStats,
  readCsvFile,
  readSchemaFile,
  readSplitFile,
  type EncodedRows,
} from '../client/local-data.js';
import type { DatasetSchema } from '../ml/dataset-schema.js';
import { ACTIVATIONS, type ModelSpec } from '../ml/model-spec.js';
import { initTf } from '../ml/tf.js';
import { readChoice, readNumber, requireString, UsageError, writeLine, type CliIo } from './cli-io.js';

export const TRAINING_OPTIONS = {
  data: { type: 'string' },
  schema: { type: 'string' },
  split: { type: 'string' },
  model: { type: 'string' },
  hidden: { type: 'string' },
  activation: { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Usage lines for the shared flags, kept beside their definitions so help never drifts from parsing. */
export const TRAINING_USAGE = `  --data FILE            delimited data file (e.g. crx.data)
  --schema FILE          dataset schema JSON: columns, label, missing token
  --split FILE           {train, test} JSON of 1-based line numbers; without it metrics are on training rows
  --model KIND           logreg or mlp (default ${DEFAULT_TRAINING.model.kind})
  --hidden SIZES         mlp hidden layer sizes, comma separated (default ${DEFAULT_TRAINING.mlpHidden.join(',')})
  --activation NAME      mlp activation: relu, tanh, sigmoid, square or relu-poly (default ${DEFAULT_TRAINING.mlpActivation})
  --epochs E             epochs (train-central) or local epochs per round (simulate); default by model, see README
  --batch-size B         mini-batch size (default 32)
  --lr X                 learning rate; default by model and setting (logreg: 0.1 centralised, 1 federated)
  --seed S               seed of the initial weights and shuffles (default ${DEFAULT_TRAINING.seed})
  --json                 print one JSON object as the last line of stdout instead of a table`;

type TrainingValues = { [K in keyof typeof TRAINING_OPTIONS]?: (typeof TRAINING_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

export interface TrainingChoices {
  dataFile: string;
  schemaFile: string;
  splitFile: string | undefined;
  model: ModelSpec;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  json: boolean;
}


export function readTrainingChoices(values: TrainingValues, setting: TrainingSetting): TrainingChoices {
  const kind = readChoice(values.model, '--model', ['logreg', 'mlp'] as const, DEFAULT_TRAINING.model.kind);
  let model: ModelSpec;
  if (kind === 'mlp') {
    model = {
      kind: 'mlp',
      hidden: readHidden(values.hidden),
      activation: readChoice(values.activation, '--activation', ACTIVATIONS, DEFAULT_TRAINING.mlpActivation),
    };
  } else {
    if (values.hidden !== undefined || values.activation !== undefined) {
      throw new UsageError('--hidden and --activation apply only to --model mlp');
    }
    model = { kind: 'logreg' };
  }
  const defaults = defaultHyperparameters(setting, model);
  return {
    dataFile: requireString(values.data, '--data'),
    schemaFile: requireString(values.schema, '--schema'),
    splitFile: values.split,
    model,
    epochs: readNumber(values.epochs, '--epochs', defaults.epochs, { integer: true, min: 1, max: 1000 }),
    batchSize: readNumber(values['batch-size'], '--batch-size', defaults.batchSize, { integer: true, min: 1, max: 100_000 }),
    learningRate: readNumber(values.lr, '--lr', defaults.learningRate, { min: 0, minExclusive: true, max: 100 }),
    seed: readNumber(values.seed, '--seed', DEFAULT_TRAINING.seed, { integer: true, min: 0, max: 2 ** 31 - 1 }),
    json: values.json === true,
  };
}

function readHidden(value: string | undefined): number[] {
  if (value === undefined) return [...DEFAULT_TRAINING.mlpHidden];
  const sizes = value.split(',').map((part) => readNumber(part, '--hidden', 0, { integer: true, min: 1, max: 1024 }));
  if (sizes.length > 8) throw new UsageError(`--hidden: expected at most 8 layers, got ${sizes.length}`);
  return sizes;
}

export function describeModel(model: ModelSpec): string {
  return model.kind === 'mlp' ? `mlp ${model.hidden.join('-')} ${model.activation}` : model.kind;
}

export interface ExperimentData {
  /** With standardisation statistics, computed from the training rows when the file had none. */
  schema: DatasetSchema;
  statsComputed: boolean;
  train: EncodedRows;
  /** Null without a split file. */
  test: EncodedRows | null;
}

/** Reads, splits, standardises and encodes as `choices` say; says on stderr what it had to assume. */
export async function loadExperimentData(choices: TrainingChoices, io: CliIo, command: string): Promise<ExperimentData> {
  const fileSchema = await readSchemaFile(choices.schemaFile);
  const all = await readCsvFile(choices.dataFile, fileSchema);
  const split = choices.splitFile === undefined ? undefined : await readSplitFile(choices.splitFile);
  const parts = applySplit(all, split);
  const { schema, computed } = ensureNumericStats(fileSchema, parts.train.records);
  const train = encodeRows(schema, parts.train);
  const test = parts.test === null ? null : encodeRows(schema, parts.test);
  if (train.X.length === 0) throw new Error(`${command}: no complete training rows in ${path.basename(choices.dataFile)}`);
  if (test !== null && test.X.length === 0) throw new Error(`${command}: no complete test rows in the split`);
  if (test === null) {
    writeLine(io.stderr, `${command}: warning: no --split given; metrics are measured on the training rows and will flatter the model`);
  }
  return { schema, statsComputed: computed, train, test };
}

/** TensorFlow.js backend from TF_BACKEND, without demanding the rest of the server's environment be valid. */
export async function initTfFromEnv(io: CliIo): Promise<void> {
  const parsed = configSchema.shape.TF_BACKEND.safeParse(io.env.TF_BACKEND === '' ? undefined : io.env.TF_BACKEND);
  if (!parsed.success) throw new UsageError(`TF_BACKEND: expected cpu, wasm or tensorflow, got '${io.env.TF_BACKEND}'`);
  await initTf(parsed.data);
}
