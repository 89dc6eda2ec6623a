/**
 * `fedscore simulate`: a federated training run over real HTTP, one API client per owner. Without
 * `--server` it starts its own server in this process on a throw-away SQLite directory (removed
 * afterwards) so one command reproduces the federated figures; with `--server` it drives a running
 * deployment and leaves the federation there for inspection.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_TRAINING } from '../../client/defaults.js';
import { FedscoreClient } from '../../client/http-client.js';
import { AGENT_RETRY } from '../../client/retry.js';
import { readCsvFile, shardRows } from '../../client/local-data.js';
import type { DatasetSchema, RawRecord } from '../../ml/dataset-schema.js';
import { MAX_PROCESSES, processFleet } from '../process-fleet.js';
import {
  runSimulation,
  compactFieldOverflow,
  SIMULATION_MODES,
  type SecureSimulation,
  type SimulationPrivacy,
  type SimulationProgress,
  type SimulationRound,
  type SimulationStatistics,
} from '../../client/simulation.js';
import { loadConfig } from '../../config.js';
import {
  EXIT_OK,
  parseCommandArgs,
  readChoice,
  readNumber,
  UsageError,
  writeLine,
  type CliIo,
  type Command,
} from '../cli-io.js';
import { startServerThread } from '../local-server-thread.js';
import { createProgressBar } from '../progress.js';
import { fixed, formatHeader, formatRow, type Column } from '../table.js';
import { holdOutValidation, linesAsCsv, MODEL_QUALITY_OPTIONS, MODEL_QUALITY_USAGE, readModelQualityChoices } from '../model-quality-options.js';
import {
  describeModel,
  initTfFromEnv,
  loadExperimentData,
  readTrainingChoices,
  TRAINING_OPTIONS,
  TRAINING_USAGE,
} from '../training-options.js';

const OPTIONS = {
  ...TRAINING_OPTIONS,
  ...MODEL_QUALITY_OPTIONS,
  owners: { type: 'string' },
  rounds: { type: 'string' },
  mode: { type: 'string' },
  committee: { type: 'string' },
  threshold: { type: 'string' },
  dropout: { type: 'string' },
  'committee-dropout': { type: 'string' },
  'clip-norm': { type: 'string' },
  field: { type: 'string' },
  concurrency: { type: 'string' },
  workers: { type: 'string' },
  server: { type: 'string' },
  'api-key': { type: 'string' },
  processes: { type: 'boolean' },
  'dp-epsilon': { type: 'string' },
  'dp-delta': { type: 'string' },
  clip: { type: 'string' },
  'sample-rate': { type: 'string' },
  statistics: { type: 'string' },
} as const;

const STATISTICS = ['central', 'federated'] as const;

const USAGE = `Usage: fedscore simulate --data FILE --schema FILE [options]

Runs federated training over HTTP: creates a federation from the schema, enrols the owners, and each
round every owner downloads the model, trains on its own rows and submits; the published version is then
scored on the split's test rows.

Options:
${TRAINING_USAGE}
  --owners N             owners; training rows are dealt to them round-robin (default: one per row)
  --rounds R             federated rounds (default ${DEFAULT_TRAINING.rounds})
  --mode MODE            aggregation mode: ${SIMULATION_MODES.join(', ')} (default plain)
  --committee K          secure: committee size (default 5)
  --threshold T          secure: partial sums needed to reconstruct (default 3)
  --dropout F            secure: fraction of owners that drop out of each round (default 0)
  --committee-dropout M  secure: committee members that drop out of each round (default 0;
                         more than K−T makes every round fail cleanly, which is what it shows)
  --clip-norm C          secure: L2 bound on each owner's update (default 100)
  --field F              secure: wide or compact, the field owners share in (default wide; compact sends 37
                         bits per element instead of 52, and needs owners × max(C, 1) ≤ 1,048,575)
  --concurrency C        owners working at once: enrolling, downloading, training, sending (default ${DEFAULT_TRAINING.concurrency})
  --workers N            threads local training runs on, with secure mode's sealing and inbox summing (default:
                         this machine's cores, ${availableParallelism()} here); 1 does it on the main thread, beside the
                         owners' requests. The published weights are the same for every N
  --dp-epsilon E         differential privacy with budget ε = E over the planned rounds: DP-FedAvg (owner-level
                         clipping, Gaussian noise; central in plain mode, distributed in secure mode), the noise
                         multiplier chosen by the server to fit the budget; ε is printed after every round
  --dp-delta D           the budget's δ (default 1e-5; must be below 1/owners)
  --clip C               DP: clip every owner's update to L2 norm C (default 1)
  --sample-rate Q        DP: each owner takes part in a round with probability Q (Poisson; default: every owner)
  --statistics HOW       where the numeric columns' means and standard deviations come from: central (default:
                         the schema's, or computed here from the training rows and given to the federation as the
                         operator's) or federated (a statistics round over the owners' rows first; every numeric
                         column needs a "range" in the schema, and any mean/std there is ignored)
${MODEL_QUALITY_USAGE}
  --processes            run every owner as its own 'fedscore owner run' process, with a state directory and
                         its rows in a CSV file, as real owners would (at most ${MAX_PROCESSES} owners; no dropouts)
  --server URL           use a running server (the federation is left there); default: start one in-process
  --api-key KEY          operator key for --server (or FEDSCORE_API_KEY)
  -h, --help             show this help

The same --seed gives the same model (with DP, the same noise-free part: the noise is fresh). With --json the
last line of stdout is {federationId, mode, owners, trainRows, testRows, final, rounds, totalSeconds, …};
final is the version predictions use by default (the promoted one with a validation set, else the latest);
with DP also privacy {epsilon, delta, noiseMultiplier, clip}, final.epsilon and rounds[].epsilon.`;

const COLUMNS: Column[] = [
  { header: 'round', width: 5 },
  { header: 'owners', width: 6 },
  { header: 'accuracy', width: 8 },
  { header: 'AUC', width: 6 },
  { header: 'log loss', width: 8 },
  { header: 'seconds', width: 7 },
];
/** With differential privacy: ε spent after the round. */
const PRIVACY_COLUMN: Column = { header: 'ε', width: 6 };

export const simulateCommand: Command = {
  name: 'simulate',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseCommandArgs(USAGE, args, OPTIONS, io);
    if (values === null) return EXIT_OK;
    const choices = readTrainingChoices(values, 'federated');
    const mode = readChoice(values.mode, '--mode', SIMULATION_MODES, 'plain');
    const rounds = readNumber(values.rounds, '--rounds', DEFAULT_TRAINING.rounds, { integer: true, min: 1, max: 10_000 });
    const concurrency = readNumber(values.concurrency, '--concurrency', DEFAULT_TRAINING.concurrency, { integer: true, min: 1, max: 1024 });
    const workers = readNumber(values.workers, '--workers', availableParallelism(), { integer: true, min: 1, max: 256 });
    if (values.processes && values.workers !== undefined) throw new UsageError('--workers applies to in-process owners; with --processes every owner trains in its own process');
    const secure = readSecure(values, mode);
    const privacy = readPrivacy(values);
    const quality = readModelQualityChoices(values);
    if (privacy && quality.evaluate) throw new UsageError('--evaluate: a federated evaluation releases exact counts of the owners’ rows, which --dp-epsilon does not cover');
    if (privacy && secure && (secure.dropout > 0 || secure.committeeDropout > 0)) {
      throw new UsageError('--dp-epsilon: with differential privacy owners take part by --sample-rate, not --dropout; committee dropouts are not simulated');
    }
    const remote = readRemote(values.server, values['api-key'], io);
    // Read before loading data, so a bad flag fails at once rather than after the CSV is parsed.
    const ownersFlag = values.owners === undefined ? undefined : readNumber(values.owners, '--owners', 0, { integer: true, min: 1 });

    await initTfFromEnv(io);
    const loaded = await loadExperimentData(choices, io, 'simulate');
    // The operator's validation rows come out of the training rows: no owner holds them.
    const held = quality.validationFraction === undefined ? undefined : holdOutValidation(loaded.train, quality.validationFraction, choices.seed);
    const data = held ? { ...loaded, train: held.owners } : loaded;
    const validationCsv = held && (await linesAsCsv(choices.dataFile, held.validationLines, data.schema.header));
    const owners = ownersFlag ?? data.train.X.length;
    if (owners > data.train.X.length) {
      throw new UsageError(`--owners: expected at most one owner per training row (${data.train.X.length}), got ${owners}`);
    }
    // The server would refuse to open the first training round; say so before enrolling anyone.
    const overflow = secure?.field === 'compact' ? compactFieldOverflow(owners, secure.clipNorm) : null;
    if (overflow) throw new UsageError(`--field compact: ${overflow}; lower --clip-norm, use fewer owners, or leave the field wide`);
    const statistics = readChoice(values.statistics, '--statistics', STATISTICS, 'central');
    // Federated: the server gets the schema without means and stds, the owners their rows as read.
    const serverSchema = statistics === 'federated' ? withoutStatistics(data.schema) : data.schema;
    const trainRecords = statistics === 'federated' || values.processes ? await rawRows(choices.dataFile, data.schema, data.train.lineNumbers) : [];
    const shards =
      statistics === 'federated'
        ? zipShards(dealRecords(trainRecords, owners), dealRecords(data.train.lineNumbers, owners))
        : shardRows(data.train, owners);
    const evaluated = data.test ?? data.train;
    const evaluation =
      statistics === 'federated' ? { records: await rawRows(choices.dataFile, data.schema, evaluated.lineNumbers), lineNumbers: evaluated.lineNumbers } : evaluated;
    if (values.processes) {
      if (owners > MAX_PROCESSES) throw new UsageError(`--processes: at most ${MAX_PROCESSES} owner processes, got ${owners} owners (use --owners)`);
      if (secure && (secure.dropout > 0 || secure.committeeDropout > 0)) throw new UsageError('--processes: dropouts are simulated only in-process');
    }
    const ownersDir = values.processes ? await mkdtemp(path.join(tmpdir(), 'fedscore-simulate-owners-')) : undefined;
    const fleet = ownersDir && processFleet({ shards: dealRecords(trainRecords, owners), schema: data.schema, dir: ownersDir });

    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => controller.abort(new Error(`simulate: interrupted by ${signal}`));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const progress = createProgressBar(io.stderr);
    const server = remote ?? (await startLocalServer(io));
    try {
      // A running server may hold the fleet back (429 over its rate limits, 503 shedding waiters): wait as it
      // asks. Anything else still ends the run at once.
      const operator = new FedscoreClient({ baseUrl: server.url, apiKey: server.apiKey, retry: { ...AGENT_RETRY, onlyWhenAsked: true } });
      if (!choices.json) {
        writeLine(
          io.stdout,
          `simulate: ${path.basename(choices.dataFile)}, ${owners} owners, ${rounds} rounds, ${mode} mode, ` +
            `${describeModel(choices.model)}, epochs ${choices.epochs}, batch ${choices.batchSize}, ` +
            `lr ${choices.learningRate}, seed ${choices.seed}`,
        );
        writeLine(io.stdout, `server: ${remote ? server.url : `in-process at ${server.url} (temporary SQLite)`}`);
        writeLine(
          io.stdout,
          data.test
            ? `rows: ${data.train.X.length} train, ${data.test.X.length} test${held ? `, ${held.validationLines.length} validation (the operator's, held out of the training rows)` : ''}`
            : `rows: ${data.train.X.length} train (no split: scored on the training rows)`,
        );
        writeLine(io.stdout);
        writeLine(io.stdout, formatHeader(privacy ? [...COLUMNS, PRIVACY_COLUMN] : COLUMNS));
      }
      const result = await runSimulation({
        operator,
        name: `simulate ${path.basename(choices.dataFile)} ${new Date().toISOString()}`,
        schema: serverSchema,
        model: choices.model,
        training: {
          rounds,
          epochs: choices.epochs,
          batchSize: choices.batchSize,
          learningRate: choices.learningRate,
          seed: choices.seed,
          ...(quality.serverOptimizer && { serverOptimizer: quality.serverOptimizer }),
        },
        ...(validationCsv && { validationCsv }),
        ...(quality.selection && { selection: quality.selection }),
        ...(quality.evaluate && { evaluate: true }),
        mode,
        ...(secure && { secure }),
        ...(privacy && { privacy }),
        shards,
        evaluation,
        concurrency,
        workers,
        ...(fleet && { fleet }),
        signal: controller.signal,
        onProgress: (event: SimulationProgress) => {
          if (event.done === 1) {
            const label = event.phase === 'round' ? `round ${event.round}/${rounds}` : event.phase === 'enrol' ? 'enrolling' : event.phase;
            progress.start(label, event.total);
          }
          progress.update(event.done);
        },
        onStatistics: (round: SimulationStatistics) => {
          progress.clear();
          if (!choices.json) {
            const columns = Object.keys(round.columns).length;
            writeLine(io.stdout, `statistics round ${round.round}: means and standard deviations of ${columns} numeric columns from ${round.owners} owners in ${round.seconds.toFixed(2)} s`);
          }
        },
        onRound: (round: SimulationRound) => {
          progress.clear();
          if (!choices.json) writeLine(io.stdout, formatRow(privacy ? [...COLUMNS, PRIVACY_COLUMN] : COLUMNS, roundCells(round)));
        },
      });
      progress.stop();

      if (choices.json) {
        writeLine(
          io.stdout,
          JSON.stringify({
            command: 'simulate',
            federationId: result.federationId,
            server: remote ? server.url : 'in-process',
            mode: result.mode,
            model: choices.model,
            owners: result.owners,
            trainRows: data.train.X.length,
            ...(held && { validationRows: held.validationLines.length }),
            testRows: data.test?.X.length ?? 0,
            evaluatedOn: data.test ? 'test' : 'train',
            epochs: choices.epochs,
            batchSize: choices.batchSize,
            learningRate: choices.learningRate,
            seed: choices.seed,
            ...(!values.processes && { workers, concurrency }),
            final: {
              accuracy: result.final.accuracy,
              auc: result.final.auc,
              logLoss: result.final.logLoss,
              modelVersion: result.final.modelVersion,
              latestModelVersion: result.rounds.at(-1)?.modelVersion ?? 0,
              ...(result.privacy && { epsilon: result.privacy.spent }),
            },
            ...(result.privacy && {
              privacy: { epsilon: result.privacy.epsilon, delta: result.privacy.delta, noiseMultiplier: result.privacy.noiseMultiplier, clip: result.privacy.clipNorm, sampleRate: privacy?.sampleRate ?? 1 },
            }),
            ...(secure && { secure }),
            statistics: result.statistics ? { source: 'federated', ...result.statistics } : { source: 'operator' },
            ...(result.federatedEvaluation && { federatedEvaluation: result.federatedEvaluation }),
            rounds: result.rounds.map((round) => ({
              round: round.round,
              status: round.status,
              owners: round.owners,
              ...(round.uploadBytesPerOwner !== undefined && { uploadBytesPerOwner: round.uploadBytesPerOwner }),
              ...(round.partialSums !== undefined && { partialSums: round.partialSums }),
              ...(round.failureReason !== undefined && { failureReason: round.failureReason }),
              accuracy: round.accuracy,
              auc: round.auc,
              logLoss: round.logLoss,
              seconds: round.seconds,
              modelVersion: round.modelVersion,
              ...(round.epsilon !== undefined && { epsilon: round.epsilon }),
            })),
            totalSeconds: result.totalSeconds,
          }),
        );
      } else {
        writeLine(io.stdout);
        writeLine(
          io.stdout,
          `final (model version ${result.final.modelVersion}${held ? ', promoted on the validation set' : ''}, ${result.final.n} rows): accuracy ${fixed(result.final.accuracy)}, ` +
            `AUC ${fixed(result.final.auc)}, log loss ${fixed(result.final.logLoss)}`,
        );
        const owned = result.federatedEvaluation;
        if (owned) {
          const { report } = owned;
          writeLine(
            io.stdout,
            `federated evaluation (round ${owned.round}, version ${owned.modelVersion}, ${owned.owners} owners' own ${report.rows} rows; the server saw only summed tallies): ` +
              `accuracy ${fixed(report.accuracy ?? NaN)}, AUC ${fixed(report.auc ?? NaN)} ± ${fixed(owned.aucResolution ?? NaN)}, log loss ${fixed(report.logLoss ?? NaN)}`,
          );
        }
        if (result.privacy) {
          writeLine(
            io.stdout,
            `privacy: ε = ${fixed(result.privacy.spent)} of the budget ${result.privacy.epsilon} (δ = ${result.privacy.delta}), noise multiplier ${fixed(result.privacy.noiseMultiplier)}, clip ${result.privacy.clipNorm}`,
          );
        }
        writeLine(io.stdout, `federation ${result.federationId}${remote ? ` on ${server.url}` : ''}; total ${result.totalSeconds.toFixed(1)} s`);
      }
      return EXIT_OK;
    } finally {
      progress.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await server.close();
      if (ownersDir) await rm(ownersDir, { recursive: true, force: true });
    }
  },
};

/** The raw records of the kept training lines, in the order they were encoded (so shards match the in-process run). */
async function rawRows(dataFile: string, schema: DatasetSchema, lines: number[]): Promise<RawRecord[]> {
  const all = await readCsvFile(dataFile, schema);
  const byLine = new Map(all.lineNumbers.map((line, i) => [line, all.records[i]!] as const));
  return lines.map((line) => byLine.get(line)!);
}

/** Row i to owner i mod n, as shardRows deals encoded rows. */
function dealRecords<T>(rows: T[], owners: number): T[][] {
  const shards: T[][] = Array.from({ length: owners }, () => []);
  rows.forEach((row, i) => shards[i % owners]!.push(row));
  return shards;
}

function zipShards(records: RawRecord[][], lineNumbers: number[][]): { records: RawRecord[]; lineNumbers: number[] }[] {
  return records.map((shard, i) => ({ records: shard, lineNumbers: lineNumbers[i]! }));
}

/** The schema with every numeric column's mean and std removed, for the federation to compute; each needs a range. */
function withoutStatistics(schema: DatasetSchema): DatasetSchema {
  const unranged = schema.columns.filter((column) => column.type === 'numeric' && column.name !== schema.label.column && column.range === undefined).map((column) => column.name);
  if (unranged.length > 0) throw new UsageError(`--statistics federated: the schema gives no "range" for ${unranged.join(', ')}; every owner clips its values to it`);
  return { ...schema, columns: schema.columns.map((column) => (column.type === 'numeric' ? { name: column.name, type: 'numeric', ...(column.transform && { transform: column.transform }), ...(column.range && { range: column.range }) } : column)) };
}

function roundCells(round: SimulationRound): string[] {
  return [
    String(round.round),
    String(round.owners),
    fixed(round.accuracy),
    fixed(round.auc),
    fixed(round.logLoss),
    round.seconds.toFixed(2),
    round.epsilon === undefined ? '' : round.epsilon.toFixed(3),
  ];
}

function readPrivacy(values: { 'dp-epsilon'?: string; 'dp-delta'?: string; clip?: string; 'sample-rate'?: string }): SimulationPrivacy | undefined {
  if (values['dp-epsilon'] === undefined) {
    const given = (['dp-delta', 'clip', 'sample-rate'] as const).find((flag) => values[flag] !== undefined);
    if (given) throw new UsageError(`--${given} applies only with --dp-epsilon`);
    return undefined;
  }
  const epsilon = readNumber(values['dp-epsilon'], '--dp-epsilon', 0, { min: 0, minExclusive: true, max: 100 });
  const delta = readNumber(values['dp-delta'], '--dp-delta', 1e-5, { min: 0, minExclusive: true, max: 0.5 });
  const clipNorm = readNumber(values.clip, '--clip', 1, { min: 0, minExclusive: true, max: 10_000 });
  const sampleRate = values['sample-rate'] === undefined ? undefined : readNumber(values['sample-rate'], '--sample-rate', 1, { min: 0, minExclusive: true, max: 1 });
  return { epsilon, delta, clipNorm, ...(sampleRate !== undefined && { sampleRate }) };
}

interface ServerHandle {
  url: string;
  apiKey: string;
  close(): Promise<void>;
}

function readRemote(server: string | undefined, apiKeyFlag: string | undefined, io: CliIo): ServerHandle | null {
  if (server === undefined) {
    if (apiKeyFlag !== undefined) throw new UsageError('--api-key applies only with --server');
    return null;
  }
  try {
    new URL(server);
  } catch {
    throw new UsageError(`--server: expected a URL like http://127.0.0.1:3000, got '${server}'`);
  }
  const apiKey = apiKeyFlag ?? io.env.FEDSCORE_API_KEY;
  if (apiKey === undefined || apiKey === '') throw new UsageError('--server needs an operator key: --api-key KEY or FEDSCORE_API_KEY');
  return { url: server, apiKey, close: async () => {} };
}

/** A private server on a random port and a fresh directory, both gone when the run ends. */
async function startLocalServer(io: CliIo): Promise<ServerHandle> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'fedscore-simulate-'));
  const apiKey = randomBytes(32).toString('base64url');
  try {
    const env = {
      ...io.env,
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      // A fresh directory means the embedded SQLite database, even if the shell points at PostgreSQL.
      DATABASE_URL: '',
      ADMIN_API_KEY: apiKey,
      LOG_LEVEL: 'silent',
      // A private server on loopback, where one address enrols every owner (up to one per training row):
      // the limits that protect a shared server would only slow the run down.
      RATE_LIMIT_PER_KEY: '0',
      RATE_LIMIT_PER_IP: '0',
    };
    loadConfig(env); // a bad setting is reported here, before a thread starts
    // On a thread of its own, so the owners simulated on this one do not take turns with it (local-server-thread.ts).
    const server = await startServerThread(env);
    return {
      url: server.url,
      apiKey,
      close: async () => {
        try {
          await server.close();
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

function readSecure(
  values: { committee?: string; threshold?: string; dropout?: string; 'committee-dropout'?: string; 'clip-norm'?: string; field?: string },
  mode: string,
): SecureSimulation | undefined {
  const flags = ['committee', 'threshold', 'dropout', 'committee-dropout', 'clip-norm', 'field'] as const;
  if (mode !== 'secure') {
    const given = flags.find((flag) => values[flag] !== undefined);
    if (given) throw new UsageError(`--${given} applies only to --mode secure`);
    return undefined;
  }
  const committee = readNumber(values.committee, '--committee', 5, { integer: true, min: 2, max: 64 });
  const threshold = readNumber(values.threshold, '--threshold', 3, { integer: true, min: 2, max: committee });
  return {
    committee,
    threshold,
    dropout: readNumber(values.dropout, '--dropout', 0, { min: 0, max: 0.9 }),
    committeeDropout: readNumber(values['committee-dropout'], '--committee-dropout', 0, { integer: true, min: 0, max: committee }),
    clipNorm: readNumber(values['clip-norm'], '--clip-norm', 100, { min: 0, minExclusive: true, max: 10_000 }),
    field: readField(values.field),
  };
}

function readField(value: string | undefined): 'wide' | 'compact' {
  if (value === undefined || value === 'wide' || value === 'compact') return value ?? 'wide';
  throw new UsageError(`--field: expected wide or compact, got ${JSON.stringify(value)}`);
}
