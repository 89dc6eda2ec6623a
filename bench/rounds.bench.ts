/**
 * Federated rounds over real HTTP in the seed's one-owner-per-applicant setting: plain and secure mode on
 * the 522 owners of the crx training split (same owners, data and seed, so the secure/plain ratio is a
 * like-for-like comparison), and plain on all 653 complete rows as the notebook did. A round is every owner
 * fetching the round and the model, training and uploading, plus — in secure mode — the committee's
 * inbox fetch, decrypt-and-sum and the reconstruction.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { DEFAULT_TRAINING, defaultHyperparameters } from '../src/client/defaults.js';
import { applySplit, encodeRows, ensureNumericStats, readCsvFile, readSchemaFile, readSplitFile, shardRows, type Shard } from '../src/client/local-data.js';
import { runSimulation, type SimulationMode } from '../src/client/simulation.js';
import { initTf } from '../src/ml/tf.js';
import { UPDATE_HEADER_BYTES } from '../src/schemas/weight-frames.js';
import { repoRoot, round3, sharedData, withServer, writeResult } from './bench-io.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECURE = { committee: 5, threshold: 3, dropout: 0, committeeDropout: 0, clipNorm: 100 };

export async function roundsBench(): Promise<void> {
  await initTf('cpu');
  const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const data = await readCsvFile(path.join(sharedData, 'crx.data'), schema);
  const { train, test } = applySplit(data, await readSplitFile(path.join(sharedData, 'crx.split.json')));
  const { schema: ready } = ensureNumericStats(schema, train.records);
  const trainRows = encodeRows(ready, train);
  const testRows = encodeRows(ready, test!);
  const allRows = encodeRows(ready, data);

  const runs: { label: string; mode: SimulationMode; owners: number; meanSecondsPerRound: number; secondsPerRound: number[]; uploadBytesPerOwner: number | null; finalAccuracy: number }[] = [];
  const cases: [string, SimulationMode, Shard][] = [
    ['crx train split, plain', 'plain', trainRows],
    ['crx train split, secure (k=5, t=3)', 'secure', trainRows],
    ['all complete rows, plain', 'plain', allRows],
  ];
  for (const [label, mode, rows] of cases) {
    const result = await withServer((operator) =>
      runSimulation({
        operator,
        name: `bench ${label}`,
        schema: ready,
        model: DEFAULT_TRAINING.model,
        training: { ...defaultHyperparameters('federated', DEFAULT_TRAINING.model), seed: DEFAULT_TRAINING.seed, rounds: ROUNDS },
        mode,
        ...(mode === 'secure' && { secure: SECURE }),
        shards: shardRows(rows),
        evaluation: testRows,
        concurrency: DEFAULT_TRAINING.concurrency,
        // As `fedscore simulate` does by default: local training and inbox summing on one thread per core.
        workers: availableParallelism(),
      }),
    );
    const seconds = result.rounds.map((r) => r.seconds);
    runs.push({
      label,
      mode,
      owners: result.owners,
      meanSecondsPerRound: round3(seconds.reduce((a, b) => a + b, 0) / seconds.length),
      secondsPerRound: seconds.map(round3),
      uploadBytesPerOwner: result.rounds[0]?.uploadBytesPerOwner ?? null,
      finalAccuracy: round3(result.final.accuracy),
    });
  }
  const plain = runs[0]!.meanSecondsPerRound;
  const secure = runs[1]!.meanSecondsPerRound;
  const parameters = trainRows.X[0]!.length + 1;
  await writeResult('rounds', { rounds: ROUNDS, secure: SECURE, secureOverPlain: round3(secure / plain), runs }, [
    {
      title: `Federated rounds over HTTP, one owner per row (${ROUNDS} rounds each)`,
      columns: ['run', 'owners', 'mean s / round', 'upload bytes / owner', 'accuracy after last round'],
      rows: runs.map((r) => [r.label, r.owners, r.meanSecondsPerRound, r.uploadBytesPerOwner ?? UPDATE_HEADER_BYTES + parameters * 4, r.finalAccuracy]),
      notes: [
        `Secure ÷ plain round time: ${round3(secure / plain)} (target ≤ 1.5).`,
        'Owners, local training (tfjs cpu backend), the committee and the server all share the same 2 cores.',
        `Secure upload: 5 envelopes (2 as PRG seeds, 3 as full vectors of ${parameters + 1} field elements); plain sends ${parameters} float32 weights behind a ${UPDATE_HEADER_BYTES}-byte header (the SDK's binary form; JSON text is larger).`,
      ],
    },
  ]);
}
