/**
 * `fedscore predict`: scores a CSV of applicants in the federation's schema with its latest (or a given)
 * model version. Plain by default (the operator's own endpoint); with --encrypted the features and scores
 * travel under a CKKS key that only this process holds. The file may have the label column or not; if
 * present it is ignored.
 *
 * Every row is checked with the federation's own encoder before anything is sent, so a file with mistakes
 * gets every one of them listed (by physical line, as split files count) and nothing is scored; the same
 * wording comes back from the server, whose `errors[]` are printed the same way if it still refuses.
 */
import { scoreEncrypted } from '../../client/encrypted-scoring.js';
import { FedscoreApiError, FedscoreClient } from '../../client/http-client.js';
import { featureProblems, readCsvFile } from '../../client/local-data.js';
import type { DatasetSchema, RawRecord } from '../../ml/dataset-schema.js';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, readChoice, readNumber, requireString, UsageError, writeLine, type CliIo, type Command } from '../cli-io.js';

const USAGE = `Usage: fedscore predict --server URL --api-key KEY --federation ID --input FILE [options]

Scores every row of FILE, delimited as the federation's dataset schema says, with every column of the
schema or every column but the label (a label column, if present, is ignored). A row that does not fit
the schema is reported by line number (the file's physical lines, from 1), one problem per line on
stderr, and nothing is scored (exit 1).

Options:
  --server URL         the fedscore server
  --api-key KEY        operator key (or FEDSCORE_API_KEY)
  --federation ID      the federation whose model scores
  --input FILE         applicants, in the federation's schema
  --model-version V    a published version (default: the latest)
  --encrypted          score under CKKS homomorphic encryption: the server sees neither features nor scores
  --layout L           encrypted layout: single, single-masked or batched (default: batched above 8 rows)
  --json               print one JSON array as the last line of stdout: [{row, line, score, label}] in input
                       order (row counts data rows from 1, line is the file's physical line)
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
    const schema = federation.datasetSchema;
    const { records, lineNumbers } = await readCsvFile(input, schema, { label: 'optional' });
    if (records.length === 0) throw new Error(`${input} has no rows`);
    const label = schema.label.column;
    const features: RawRecord[] = records.map((record) => {
      const { [label]: _ignored, ...rest } = record;
      return rest;
    });

    // The server's encoder, here: every mistake at once, and no value leaves for a file that cannot be scored.
    const problems = featureProblems(schema, { records: features, lineNumbers });
    if (problems.length > 0) {
      const lines = new Set(problems.map((problem) => problem.line)).size;
      writeLine(io.stderr, `fedscore predict: ${input}: ${problems.length} value(s) on ${lines} line(s) do not fit the federation's schema; nothing was scored`);
      for (const problem of problems) writeLine(io.stderr, problem.message);
      return EXIT_FAILURE;
    }

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
        let answer;
        try {
          answer = await client.predict(federationId, {
            records: features.slice(start, start + PLAIN_BATCH),
            ...(modelVersion !== undefined && { modelVersion }),
          });
        } catch (error) {
          if (!(error instanceof FedscoreApiError)) throw error;
          const located = locateServerProblems(error, start, lineNumbers, schema);
          if (located === null) throw error;
          writeLine(io.stderr, `fedscore predict: ${input}: the server refused the rows: ${error.problem.detail}; nothing is printed`);
          for (const text of located) writeLine(io.stderr, text);
          return EXIT_FAILURE;
        }
        version = answer.modelVersion;
        scores.push(...answer.predictions.map((p) => p.score));
      }
    }

    const rows = scores.map((score, row) => ({ row: row + 1, line: lineNumbers[row]!, score, label: score >= 0.5 }));
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

/**
 * The server's `errors[]` of a refused batch starting at row `offset`, placed on the file's lines, or null
 * when the refusal is not about the records (an unknown version, a wrong key…), which the caller rethrows.
 * Paths are `records.<i>.<column>` (the service's check) or `body.records.<i>.<column>` (the wire schema).
 */
export function locateServerProblems(error: FedscoreApiError, offset: number, lineNumbers: number[], schema: DatasetSchema): string[] | null {
  const columns = new Set(schema.columns.map((column) => column.name));
  const located: string[] = [];
  for (const field of error.problem.errors ?? []) {
    const match = /^(?:body\.)?records\.(\d+)(?:\.(.*))?$/s.exec(field.path);
    const line = match ? lineNumbers[offset + Number(match[1])] : undefined;
    if (match === null || line === undefined) {
      located.push(`${field.path}: ${field.message}`);
      continue;
    }
    // As the local check words it: `line 3, A4: …`, or `line 2: unknown column "NOPE"` for a key that is no column.
    const column = match[2];
    located.push(column === undefined || !columns.has(column) ? `line ${line}: ${field.message}` : `line ${line}, ${column}: ${field.message}`);
  }
  return located.length > 0 ? located : null;
}
