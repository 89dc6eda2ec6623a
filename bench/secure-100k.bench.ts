/**
 * A 100,000-owner secure round (issue 13): more owners than the credit-card file has rows, so each owner's
 * one row is synthetic — every column drawn on its own from that column's values in UCI_Credit_Card.csv (the
 * schema's marginals; the label too, so the model has nothing to learn and accuracy is not reported). The
 * server is a `fedscore serve` process of its own over SQLite, as the load bench starts it, so its peak
 * memory (VmHWM, the kernel's high-water mark of its resident set) is the server's alone; the owners run
 * here, on a training pool, 16 at a time, as `fedscore simulate` runs them.
 *
 * Knobs: BENCH_SCALE_OWNERS (default 100000), BENCH_SCALE_SEED (the synthetic rows' seed, default 7).
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { DEFAULT_TRAINING, defaultHyperparameters } from '../src/client/defaults.js';
import { FedscoreClient } from '../src/client/http-client.js';
import { encodeRows, ensureNumericStats, readCsvFile, readSchemaFile, shardRows, type RecordSet } from '../src/client/local-data.js';
import { runSimulation } from '../src/client/simulation.js';
import type { RawRecord } from '../src/ml/dataset-schema.js';
import { createRng } from '../src/ml/random.js';
import { initTf } from '../src/ml/tf.js';
import { repoRoot, round3, sharedData, writeResult } from './bench-io.js';
import { startDeployment } from './support/load-servers.js';

const OWNERS = Number(process.env.BENCH_SCALE_OWNERS ?? 100_000);
const SEED = Number(process.env.BENCH_SCALE_SEED ?? 7);

/** `count` records whose every column (label included) is drawn independently from the real records. */
function synthesise(real: RawRecord[], count: number, seed: number): RecordSet {
  const random = createRng(seed);
  const columns = Object.keys(real[0]!);
  const records = Array.from({ length: count }, () => Object.fromEntries(columns.map((name) => [name, real[Math.floor(random() * real.length)]![name]])) as RawRecord);
  return { records, lineNumbers: records.map((_, i) => i + 1) };
}

/** The kernel's high-water mark of a process's resident set, in MiB (Linux). */
async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!kib) throw new Error(`secure-100k: no VmHWM in /proc/${pid}/status`);
  return Number(kib[1]) / 1024;
}

export async function secure100kBench(): Promise<void> {
  if (!(Number.isInteger(OWNERS) && OWNERS >= 2)) throw new Error(`secure-100k: expected BENCH_SCALE_OWNERS ≥ 2, got ${process.env.BENCH_SCALE_OWNERS}`);
  await initTf('cpu');
  const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'uci-credit-card.json'));
  const real = await readCsvFile(path.join(sharedData, 'UCI_Credit_Card.csv'), schema);
  const synthetic = synthesise(real.records, OWNERS, SEED);
  const { schema: ready } = ensureNumericStats(schema, real.records);
  const rows = encodeRows(ready, synthetic);
  const deployment = await startDeployment('sqlite', 1);
  const server = deployment.instances[0]!;
  try {
    const started = performance.now();
    const result = await runSimulation({
      operator: new FedscoreClient({ baseUrl: server.url, apiKey: deployment.adminKey }),
      name: `bench ${OWNERS} secure`,
      schema: ready,
      model: DEFAULT_TRAINING.model,
      training: { ...defaultHyperparameters('federated', DEFAULT_TRAINING.model), seed: DEFAULT_TRAINING.seed, rounds: 1 },
      mode: 'secure',
      secure: { committee: 5, threshold: 3, dropout: 0, committeeDropout: 0, clipNorm: 100 },
      shards: shardRows(rows),
      evaluation: { X: rows.X.slice(0, 1000), y: rows.y.slice(0, 1000) },
      concurrency: DEFAULT_TRAINING.concurrency,
      workers: availableParallelism(),
    });
    const total = (performance.now() - started) / 1000;
    const serverPeak = await peakRssMiB(server.child.pid!);
    const ownersPeak = process.resourceUsage().maxRSS / 1024;
    const round = result.rounds[0]!;
    await writeResult('secure-100k', { owners: result.owners, round, totalSeconds: round3(total), serverPeakRssMiB: Math.round(serverPeak), ownersProcessPeakRssMiB: Math.round(ownersPeak), warnings: server.warnings }, [
      {
        title: `One secure round with ${result.owners.toLocaleString('en')} owners (synthetic rows from the credit-card schema), over HTTP`,
        columns: ['owners', 'round status', 'round seconds', 'total seconds incl. enrolment', 'server peak RSS (MiB)', 'owners’ process peak RSS (MiB)', 'upload bytes / owner'],
        rows: [[result.owners, round.status, round3(round.seconds), round3(total), Math.round(serverPeak), Math.round(ownersPeak), round.uploadBytesPerOwner ?? '-']],
        notes: [
          'Server: `fedscore serve` on SQLite in a process of its own; owners: this process, 16 at a time, local training on a pool of threads; committee of 5, threshold 3.',
          'Each row is synthetic: every column, label included, drawn on its own from that column of UCI_Credit_Card.csv, so the model has nothing to learn (accuracy is not reported).',
        ],
      },
    ]);
  } finally {
    await deployment.close();
  }
}
