/**
 * A 30,000-owner secure round end to end over HTTP: one owner per row of the Taiwan credit-card data set
 * (UCI_Credit_Card.csv), a committee of 5 with threshold 3. Enrolment, every owner's training and share
 * upload, three members fetching and summing 30,000 envelopes each, and the reconstruction.
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { DEFAULT_TRAINING, defaultHyperparameters } from '../src/client/defaults.js';
import { encodeRows, ensureNumericStats, readCsvFile, readSchemaFile, shardRows } from '../src/client/local-data.js';
import { runSimulation } from '../src/client/simulation.js';
import { initTf } from '../src/ml/tf.js';
import { repoRoot, round3, sharedData, withServer, writeResult } from './bench-io.js';

export async function secure30kBench(): Promise<void> {
  await initTf('cpu');
  const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'uci-credit-card.json'));
  const data = await readCsvFile(path.join(sharedData, 'UCI_Credit_Card.csv'), schema);
  const { schema: ready } = ensureNumericStats(schema, data.records);
  const rows = encodeRows(ready, data);
  const owners = Number(process.env.BENCH_30K_OWNERS ?? rows.X.length);
  const started = performance.now();
  const result = await withServer((operator) =>
    runSimulation({
      operator,
      name: 'bench 30k secure',
      schema: ready,
      model: DEFAULT_TRAINING.model,
      training: { ...defaultHyperparameters('federated', DEFAULT_TRAINING.model), learningRate: 0.5, seed: DEFAULT_TRAINING.seed, rounds: 1 },
      mode: 'secure',
      secure: { committee: 5, threshold: 3, dropout: 0, committeeDropout: 0, clipNorm: 100 },
      shards: shardRows({ X: rows.X.slice(0, owners), y: rows.y.slice(0, owners) }),
      evaluation: rows,
      concurrency: DEFAULT_TRAINING.concurrency,
      // As `fedscore simulate` does by default: local training and inbox summing on one thread per core.
      workers: availableParallelism(),
    }),
  );
  const total = (performance.now() - started) / 1000;
  const round = result.rounds[0]!;
  await writeResult('secure-30k', { owners: result.owners, round, totalSeconds: round3(total) }, [
    {
      title: 'One secure round with 30,000 owners (UCI credit-card data, one owner per row), over HTTP',
      columns: ['owners', 'round status', 'round seconds', 'total seconds incl. enrolment', 'upload bytes / owner', 'accuracy (training rows)'],
      rows: [[result.owners, round.status, round3(round.seconds), round3(total), round.uploadBytesPerOwner ?? '-', round3(round.accuracy)]],
      notes: ['Round seconds: every owner training and uploading its 5 envelopes (16 at a time), 3 members each fetching, decrypting and summing all 30,000 envelopes, and the reconstruction.'],
    },
  ]);
}
