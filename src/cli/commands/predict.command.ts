/**
 * `fedscore predict`: scores a CSV of applicants in the federation's schema with its latest (or a given)
 * model version. Plain by default (the operator's own endpoint); with --encrypted the features and scores
 * travel under a CKKS key that only this process holds. A label column, if present, is ignored.
 */
import { readFile } from 'node:fs/promises';
import { scoreEncrypted } from '../../client/encrypted-scoring.js';
import { FedscoreClient } from '../../client/http-client.js';
import { readDataset } from '../../ml/csv.js';
import type { RawRecord } from '../../ml/dataset-schema.js';
import { EXIT_OK, parseCommandArgs, readChoice, readNumber, requireString, UsageError, writeLine, type CliIo, type Command } from '../cli-io.js';

const USAGE = `Usage: fedscore predict --server URL --api-key KEY --federation ID --input FILE [options]

Scores every row of FILE (delimited as the federation's dataset schema says; a label column is ignored).

Options:
  --server URL         the fedscore server
  --api-key KEY        operator key (or FEDSCORE_API_KEY)
  --federation ID      the federation whose model scores
  --input FILE         applicants, in the federation's schema
  --model-version V    a published version (default: the latest)
  --encrypted          score under CKKS homomorphic encryption: the server sees neither features nor scores
  --layout L           encrypted layout: single, single-masked or batched (default: batched above 8 rows)
  --json               print one JSON array as the last line of stdout: [{row, score, label}] in input order
  -h, --help           show this help`;

const OPTIONS = {
  server: { type: 'string' },
  'api-key': { type: 'string' },
  federation: { type: 'string' },
  input: { type: 'string' },
  'model-version': { type: 'string' },
  encrypted: { type: 'boolean' },
  layout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** The plain endpoint takes at most this many records per request. */
const PLAIN_BATCH = 10_000;

export const predictCommand: Command = {
  name: 'predict',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const values = parseCommandArgs(USAGE, args, OPTIONS, io);
    if (values === null) return EXIT_OK;
    const server = requireString(values.server, '--server');
    const apiKey = values['api-key'] ?? io.env.FEDSCORE_API_KEY;
    if (apiKey === undefined || apiKey === '') throw new UsageError('predict needs an operator key: --api-key KEY or FEDSCORE_API_KEY');
    const federationId = requireString(values.federation, '--federation');
    const input = requireString(values.input, '--input');
    const modelVersion = values['model-version'] === undefined ? undefined : readNumber(values['model-version'], '--model-version', 0, { integer: true, min: 0 });
    if (values.layout !== undefined && !values.encrypted) throw new UsageError('--layout applies only with --encrypted');
    const layout = values.layout === undefined ? undefined : readChoice(values.layout, '--layout', ['single', 'single-masked', 'batched'] as const, 'batched');

    const client = new FedscoreClient({ baseUrl: server, apiKey });
    const federation = await client.getFederation(federationId);
    const { records } = readDataset(await readFile(input, 'utf8'), federation.datasetSchema);
    if (records.length === 0) throw new Error(`predict: ${input} has no rows`);
    const label = federation.datasetSchema.label.column;
    const features: RawRecord[] = records.map((record) => {
      const { [label]: _ignored, ...rest } = record;
      return rest;
    });

    let scores: number[];
    let version: number;
    if (values.encrypted) {
      const result = await scoreEncrypted({ client, federation, records: features, ...(modelVersion !== undefined && { modelVersion }), ...(layout && { layout }) });
      scores = Array.from(result.scores);
      version = result.modelVersion;
      if (!values.json) {
        writeLine(io.stderr, `encrypted (${result.layout} layout): key session ${kib(result.bytes.session)}, sent ${kib(result.bytes.request)}, received ${kib(result.bytes.response)}`);
      }
    } else {
      scores = [];
      version = -1;
      for (let start = 0; start < features.length; start += PLAIN_BATCH) {
        const answer = await client.predict(federationId, {
          records: features.slice(start, start + PLAIN_BATCH),
          ...(modelVersion !== undefined && { modelVersion }),
        });
        version = answer.modelVersion;
        scores.push(...answer.predictions.map((p) => p.score));
      }
    }

    const rows = scores.map((score, row) => ({ row: row + 1, score, label: score >= 0.5 }));
    if (values.json) {
      writeLine(io.stdout, JSON.stringify(rows));
    } else {
      writeLine(io.stdout, `model version ${version}, ${rows.length} applicants${values.encrypted ? ', scored under encryption' : ''}`);
      writeLine(io.stdout, '  row     score  label');
      for (const r of rows) writeLine(io.stdout, `${String(r.row).padStart(5)}  ${r.score.toFixed(4).padStart(8)}  ${r.label ? 'positive' : 'negative'}`);
    }
    return EXIT_OK;
  },
};

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
