/**
 * `fedscore train-central`: the centralised baseline every federated figure is compared with — all
 * training rows in one place, one model, scored on the held-out split. It shares data loading and
 * encoding with `simulate`, so a gap between the two is the federation's, not the preprocessing's.
 */
import path from 'node:path';
import { evaluate, RowProblemsError, type Evaluation } from '../../client/local-data.js';
import { initialWeights } from '../../ml/model-spec.js';
import { trainLocal } from '../../ml/train.js';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, writeLine, type CliIo, type Command } from '../cli-io.js';
import { fixed, formatHeader, formatRow, type Column } from '../table.js';
import {
  describeModel,
  initTfFromEnv,
  loadExperimentData,
  readTrainingChoices,
  TRAINING_OPTIONS,
  TRAINING_USAGE,
} from '../training-options.js';

const USAGE = `Usage: fedscore train-central --data FILE --schema FILE [options]

Trains one model on all training rows (the centralised baseline) and scores it on the split's test rows.
Numeric standardisation statistics missing from the schema are computed from the training rows.
Rows with a missing value are left out; any other value that does not fit the schema is reported by
line number (the file's physical lines, from 1), one per line on stderr, and nothing is trained (exit 1).

Options:
${TRAINING_USAGE}
  -h, --help             show this help

Environment: TF_BACKEND (cpu, wasm or tensorflow).
With --json the last line of stdout is {accuracy, auc, logLoss, trainRows, testRows, seconds, …}.`;

const COLUMNS: Column[] = [
  { header: 'rows', width: 5, align: 'left' },
  { header: 'n', width: 5 },
  { header: 'accuracy', width: 8 },
  { header: 'AUC', width: 6 },
  { header: 'log loss', width: 8 },
];

export const trainCentralCommand: Command = {
  name: 'train-central',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseCommandArgs(USAGE, args, TRAINING_OPTIONS, io);
    if (values === null) return EXIT_OK;
    const choices = readTrainingChoices(values, 'central');
    await initTfFromEnv(io);
    let data;
    try {
      data = await loadExperimentData(choices, io, 'train-central');
    } catch (error) {
      if (!(error instanceof RowProblemsError)) throw error;
      writeLine(io.stderr, `fedscore train-central: ${choices.dataFile}: ${error.problems.length} value(s) do not fit the schema; nothing was trained`);
      for (const problem of error.problems) writeLine(io.stderr, problem.message);
      return EXIT_FAILURE;
    }

    const started = performance.now();
    const inputSize = data.train.X[0]!.length;
    const trained = await trainLocal(choices.model, initialWeights(choices.model, inputSize, choices.seed), data.train.X, data.train.y, {
      epochs: choices.epochs,
      batchSize: choices.batchSize,
      learningRate: choices.learningRate,
      seed: choices.seed,
    });
    const seconds = (performance.now() - started) / 1000;
    const trainScore = evaluate(choices.model, trained.weights, data.train.X, data.train.y);
    const testScore: Evaluation | null = data.test === null ? null : evaluate(choices.model, trained.weights, data.test.X, data.test.y);
    const headline = testScore ?? trainScore;

    if (choices.json) {
      writeLine(
        io.stdout,
        JSON.stringify({
          command: 'train-central',
          data: path.basename(choices.dataFile),
          model: choices.model,
          epochs: choices.epochs,
          batchSize: choices.batchSize,
          learningRate: choices.learningRate,
          seed: choices.seed,
          features: inputSize,
          trainRows: data.train.X.length,
          testRows: data.test?.X.length ?? 0,
          droppedRows: data.train.dropped + (data.test?.dropped ?? 0),
          statsComputed: data.statsComputed,
          evaluatedOn: testScore === null ? 'train' : 'test',
          accuracy: headline.accuracy,
          auc: headline.auc,
          logLoss: headline.logLoss,
          train: pick(trainScore),
          seconds,
        }),
      );
      return EXIT_OK;
    }

    writeLine(
      io.stdout,
      `train-central: ${path.basename(choices.dataFile)}, ${describeModel(choices.model)}, ${inputSize} features, ` +
        `epochs ${choices.epochs}, batch ${choices.batchSize}, lr ${choices.learningRate}, seed ${choices.seed}`,
    );
    const dropped = data.train.dropped + (data.test?.dropped ?? 0);
    if (dropped > 0) writeLine(io.stdout, `dropped ${dropped} row(s) with missing values`);
    if (data.statsComputed) writeLine(io.stdout, 'standardisation statistics computed from the training rows');
    writeLine(io.stdout);
    writeLine(io.stdout, formatHeader(COLUMNS));
    writeLine(io.stdout, formatRow(COLUMNS, scoreCells('train', trainScore)));
    if (testScore !== null) writeLine(io.stdout, formatRow(COLUMNS, scoreCells('test', testScore)));
    writeLine(io.stdout);
    writeLine(io.stdout, `trained in ${seconds.toFixed(2)} s`);
    return EXIT_OK;
  },
};

function scoreCells(label: string, score: Evaluation): string[] {
  return [label, String(score.n), fixed(score.accuracy), fixed(score.auc), fixed(score.logLoss)];
}

function pick(score: Evaluation): { accuracy: number; auc: number; logLoss: number } {
  return { accuracy: score.accuracy, auc: score.auc, logLoss: score.logLoss };
}
