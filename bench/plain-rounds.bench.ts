/**
 * Plain federated rounds over real HTTP, the seed's one-owner-per-applicant setting: 522 owners (the crx
 * training split) and 653 owners (every complete row, as the notebook did). Reports wall time per round,
 * including every owner's download, local training and submission, and the close that aggregates.
 */
import path from 'node:path';
import { DEFAULT_TRAINING, defaultHyperparameters } from '../src/client/defaults.js';
import { applySplit, encodeRows, ensureNumericStats, readCsvFile, readSchemaFile, readSplitFile, shardRows } from '../src/client/local-data.js';
import { runSimulation } from '../src/client/simulation.js';
import { initTf } from '../src/ml/tf.js';
import { repoRoot, round3, sharedData, withServer, writeResult } from './bench-io.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

export async function plainRoundsBench(): Promise<void> {
  await initTf('cpu');
  const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const data = await readCsvFile(path.join(sharedData, 'crx.data'), schema);
  const split = await readSplitFile(path.join(sharedData, 'crx.split.json'));
  const { train, test } = applySplit(data, split);
  const { schema: ready } = ensureNumericStats(schema, train.records);
  const trainRows = encodeRows(ready, train);
  const testRows = encodeRows(ready, test!);
  const allRows = encodeRows(ready, data);

  const runs = [];
  for (const [label, rows] of [
    ['522 owners (crx train split)', trainRows],
    ['653 owners (all complete rows)', allRows],
  ] as const) {
    const result = await withServer((operator) =>
      runSimulation({
        operator,
        name: `bench ${label}`,
        schema: ready,
        model: DEFAULT_TRAINING.model,
        training: { ...defaultHyperparameters('federated', DEFAULT_TRAINING.model), seed: DEFAULT_TRAINING.seed, rounds: ROUNDS },
        mode: 'plain',
        shards: shardRows(rows),
        evaluation: testRows,
        concurrency: DEFAULT_TRAINING.concurrency,
      }),
    );
    const seconds = result.rounds.map((r) => r.seconds);
    runs.push({
      label,
      owners: result.owners,
      rounds: result.rounds.length,
      meanSecondsPerRound: round3(seconds.reduce((a, b) => a + b, 0) / seconds.length),
      secondsPerRound: seconds.map(round3),
      updatesPerSecond: round3(result.owners / (seconds.reduce((a, b) => a + b, 0) / seconds.length)),
      finalAccuracy: round3(result.final.accuracy),
    });
  }
  await writeResult('plain-rounds', { rounds: ROUNDS, training: defaultHyperparameters('federated', DEFAULT_TRAINING.model), runs }, [
    {
      title: `Plain FedAvg rounds over HTTP (${ROUNDS} rounds each)`,
      columns: ['owners', 'mean s / round', 'owner round-trips / s', 'accuracy after last round'],
      rows: runs.map((r) => [r.label, r.meanSecondsPerRound, r.updatesPerSecond, r.finalAccuracy]),
      notes: [
        'A round is every owner fetching the round and weights, training locally (tfjs cpu backend, same process) and submitting, then the aggregate being published.',
        `Owners run ${DEFAULT_TRAINING.concurrency} at a time; client training and the server share the machine's cores.`,
      ],
    },
  ]);
}
