/**
 * What differential privacy costs in model quality: held-out accuracy and ROC AUC against the budget ε
 * (∞ = no DP, then 8, 4, 2, 1; δ = 1e-5), on crx with one owner per training applicant (522) and on the
 * 24,000 training owners of the Taiwan credit-card data, in plain mode (central DP: the server clips and
 * noises) and in secure mode (distributed DP: each owner clips and adds its share of the noise before
 * secret-sharing), on the same owners, data and seed. The server solves the noise multiplier that spends
 * the budget over the planned rounds; every owner takes part in every round (no sampling).
 *
 * Environment: BENCH_PRIVACY_DATASETS (crx,uci), BENCH_PRIVACY_EPSILONS (inf,8,4,2,1),
 * BENCH_PRIVACY_ROUNDS_CRX (10), BENCH_PRIVACY_ROUNDS_UCI (1: a round of 24,000 owners takes about three
 * minutes plain and five secure on two cores, so the ten UCI runs take about an hour). Both datasets use
 * learning rate 3 (simulate's default for one-row owners) and C = 4, which was chosen on crx alone.
 */
import path from 'node:path';
import { DEFAULT_TRAINING } from '../src/client/defaults.js';
import { applySplit, encodeRows, ensureNumericStats, readCsvFile, readSchemaFile, readSplitFile, shardRows, type EncodedRows } from '../src/client/local-data.js';
import { runSimulation, type SimulationMode, type SimulationResult } from '../src/client/simulation.js';
import type { DatasetSchema } from '../src/ml/dataset-schema.js';
import { initTf } from '../src/ml/tf.js';
import { repoRoot, round3, sharedData, withServer, writeResult } from './bench-io.js';

interface Dataset {
  name: string;
  schema: DatasetSchema;
  train: EncodedRows;
  test: EncodedRows;
  rounds: number;
  learningRate: number;
  /** C: the L2 bound on every owner's update. */
  clipNorm: number;
}

const DELTA = 1e-5;
const SECURE = { committee: 3, threshold: 2, dropout: 0, committeeDropout: 0, clipNorm: 100 };

async function load(name: string, data: string, schemaFile: string, split: string, settings: Pick<Dataset, 'rounds' | 'learningRate' | 'clipNorm'>): Promise<Dataset> {
  const fileSchema = await readSchemaFile(path.join(repoRoot, 'schemas', schemaFile));
  const parts = applySplit(await readCsvFile(path.join(sharedData, data), fileSchema), await readSplitFile(path.join(sharedData, split)));
  // The operator's statistics from the training rows, so only DP differs between the runs.
  const { schema } = ensureNumericStats(fileSchema, parts.train.records);
  return { name, schema, train: encodeRows(schema, parts.train), test: encodeRows(schema, parts.test!), ...settings };
}

function epsilons(): number[] {
  return (process.env.BENCH_PRIVACY_EPSILONS ?? 'inf,8,4,2,1').split(',').map((e) => (e === 'inf' ? Number.POSITIVE_INFINITY : Number(e)));
}

async function run(dataset: Dataset, mode: SimulationMode, epsilon: number): Promise<SimulationResult> {
  return withServer((operator) =>
    runSimulation({
      operator,
      name: `bench privacy ${dataset.name} ${mode} ε=${epsilon}`,
      schema: dataset.schema,
      model: DEFAULT_TRAINING.model,
      training: { rounds: dataset.rounds, epochs: 1, batchSize: 32, learningRate: dataset.learningRate, seed: DEFAULT_TRAINING.seed },
      mode,
      ...(mode === 'secure' && { secure: SECURE }),
      ...(Number.isFinite(epsilon) && { privacy: { epsilon, delta: DELTA, clipNorm: dataset.clipNorm } }),
      shards: shardRows(dataset.train),
      evaluation: dataset.test,
      concurrency: DEFAULT_TRAINING.concurrency,
    }),
  );
}

export async function privacyBench(): Promise<void> {
  await initTf('cpu');
  const wanted = (process.env.BENCH_PRIVACY_DATASETS ?? 'crx,uci').split(',');
  const datasets: Dataset[] = [];
  if (wanted.includes('crx')) {
    datasets.push(await load('crx', 'crx.data', 'crx.json', 'crx.split.json', { rounds: Number(process.env.BENCH_PRIVACY_ROUNDS_CRX ?? 10), learningRate: 3, clipNorm: 4 }));
  }
  if (wanted.includes('uci')) {
    datasets.push(
      await load('credit-card', 'UCI_Credit_Card.csv', 'uci-credit-card.json', 'uci-credit-card.split.json', { rounds: Number(process.env.BENCH_PRIVACY_ROUNDS_UCI ?? 1), learningRate: 3, clipNorm: 4 }),
    );
  }
  const rows: (string | number)[][] = [];
  const results: object[] = [];
  for (const dataset of datasets) {
    for (const epsilon of epsilons()) {
      const plain = await run(dataset, 'plain', epsilon);
      const secure = await run(dataset, 'secure', epsilon);
      const label = Number.isFinite(epsilon) ? String(epsilon) : '∞ (no DP)';
      console.error(`privacy: ${dataset.name} ε=${label}: plain ${round3(plain.final.accuracy)}/${round3(plain.final.auc)}, secure ${round3(secure.final.accuracy)}/${round3(secure.final.auc)}`);
      rows.push([
        dataset.name,
        plain.owners,
        label,
        plain.privacy ? round3(plain.privacy.noiseMultiplier) : '-',
        plain.privacy ? round3(plain.privacy.spent) : '-',
        round3(plain.final.accuracy),
        round3(plain.final.auc),
        round3(secure.final.accuracy),
        round3(secure.final.auc),
        round3(100 * (secure.final.accuracy - plain.final.accuracy)),
      ]);
      results.push({
        dataset: dataset.name,
        owners: plain.owners,
        epsilon: Number.isFinite(epsilon) ? epsilon : null,
        delta: DELTA,
        rounds: dataset.rounds,
        learningRate: dataset.learningRate,
        clipNorm: dataset.clipNorm,
        noiseMultiplier: plain.privacy?.noiseMultiplier ?? null,
        spent: plain.privacy?.spent ?? null,
        plain: { accuracy: plain.final.accuracy, auc: plain.final.auc, logLoss: plain.final.logLoss, seconds: plain.totalSeconds },
        secure: { accuracy: secure.final.accuracy, auc: secure.final.auc, logLoss: secure.final.logLoss, seconds: secure.totalSeconds },
      });
    }
  }
  const settings = datasets.map((d) => `${d.name}: ${d.train.X.length} owners (one per training row), ${d.test.X.length} test rows, ${d.rounds} rounds, lr ${d.learningRate}, clip C = ${d.clipNorm}`);
  await writeResult('privacy', { results }, [
    {
      title: 'Test accuracy and AUC against the privacy budget ε (δ = 1e-5), DP-FedAvg at the owner level, plain (central DP) and secure (distributed DP)',
      columns: ['data', 'owners', 'ε', 'noise multiplier z', 'ε spent', 'plain accuracy', 'plain AUC', 'secure accuracy', 'secure AUC', 'secure − plain (points)'],
      rows,
      notes: [
        ...settings,
        'Logistic regression, 1 local epoch, batch 32, seed 42; every owner in every round (no sampling); the server solves z so the planned rounds spend ε.',
        'ε = ∞ is plain FedAvg without clipping or noise. Secure mode: committee 3, threshold 2; each owner adds noise of σ/√m so the sum carries σ.',
        'The noise is fresh on every run (only the noise-free part repeats with the seed), so secure − plain at the same ε also carries the difference between two noise draws.',
      ],
    },
  ]);
}
