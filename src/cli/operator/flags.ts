/**
 * What `fedscore operator` reads from its flags: which server and key, and the body of a new federation.
 * The CLI checks the form of a value (a number, a whole number, one of a list) and leaves its range to the
 * server, whose zod schemas are the single source of the limits and defaults: a flag left out is a field
 * left out, and a value out of range comes back as a 422 naming the field.
 */
import path from 'node:path';
import { DEFAULT_TRAINING } from '../../client/defaults.js';
import type { CreateFederationInput } from '../../client/http-client.js';
import { readSchemaFile } from '../../client/local-data.js';
import { federatedStatisticsColumns } from '../../ml/dataset-schema.js';
import type { DatasetSchema } from '../../ml/dataset-schema.js';
import { ACTIVATIONS } from '../../ml/model-spec.js';
import { readChoice, readNumber, UsageError } from '../cli-io.js';

/** Flags every operator subcommand takes. */
export const CONNECTION_OPTIONS = {
  server: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
} as const;

/** Every subcommand about one federation. */
export const FEDERATION_OPTIONS = { ...CONNECTION_OPTIONS, federation: { type: 'string' } } as const;

export const CONNECTION_USAGE = `  --server URL           the fedscore server, e.g. http://127.0.0.1:3000 (or FEDSCORE_SERVER)
  --api-key KEY          an operator key (or FEDSCORE_API_KEY); \`fedscore admin create-key\` issues one
  --json                 print one JSON value as the last line of stdout instead of text
  -h, --help             show this help`;

export interface Connection {
  server: string;
  apiKey: string;
}

/** The server and key from the flags, else from FEDSCORE_SERVER and FEDSCORE_API_KEY. */
export function readConnection(values: { server?: string; 'api-key'?: string }, env: NodeJS.ProcessEnv): Connection {
  const server = nonEmpty(values.server) ?? nonEmpty(env.FEDSCORE_SERVER);
  if (server === undefined) throw new UsageError('no server given: pass --server URL or set FEDSCORE_SERVER');
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`--server: expected a URL like http://127.0.0.1:3000, got '${server}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--server: expected an http:// or https:// URL, got '${server}'`);
  }
  const apiKey = nonEmpty(values['api-key']) ?? nonEmpty(env.FEDSCORE_API_KEY);
  if (apiKey === undefined) throw new UsageError('no operator key given: pass --api-key KEY or set FEDSCORE_API_KEY');
  return { server, apiKey };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export const CREATE_OPTIONS = {
  ...CONNECTION_OPTIONS,
  schema: { type: 'string' },
  name: { type: 'string' },
  model: { type: 'string' },
  hidden: { type: 'string' },
  activation: { type: 'string' },
  aggregation: { type: 'string' },
  committee: { type: 'string' },
  threshold: { type: 'string' },
  'clip-norm': { type: 'string' },
  field: { type: 'string' },
  aggregator: { type: 'string', multiple: true },
  rounds: { type: 'string' },
  'min-owners': { type: 'string' },
  'local-epochs': { type: 'string' },
  'batch-size': { type: 'string' },
  'learning-rate': { type: 'string' },
  'deadline-seconds': { type: 'string' },
  seed: { type: 'string' },
  'no-auto-advance': { type: 'boolean' },
  'dp-epsilon': { type: 'string' },
  'dp-delta': { type: 'string' },
  'dp-clip': { type: 'string' },
  'dp-noise': { type: 'string' },
  'sample-rate': { type: 'string' },
} as const;

export type CreateValues = {
  [K in keyof typeof CREATE_OPTIONS]?: (typeof CREATE_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof CREATE_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

const AGGREGATIONS = ['plain', 'secure'] as const;
const SECURE_FLAGS = ['committee', 'threshold', 'clip-norm', 'field', 'aggregator'] as const;
const FIELDS = ['wide', 'compact'] as const;
const PRIVACY_FLAGS = ['dp-delta', 'dp-clip', 'dp-noise', 'sample-rate'] as const;
/** The CLI's δ when none is given: 1e-5 is below 1/owners for any federation of up to 100,000 owners. */
export const DEFAULT_DP_DELTA = 1e-5;

/** Everything in a POST /v1/federations body but the dataset schema, which comes from its file. */
export type FederationSettings = Omit<CreateFederationInput, 'datasetSchema'>;

/**
 * The federation the flags describe. Only what was given is sent; the name defaults to the schema file's
 * name and the model to logistic regression, the two things the server cannot choose. Read before the
 * schema file, so a mistake in the call is reported at once.
 */
export function readFederationSettings(values: CreateValues, schemaFile: string): FederationSettings {
  const kind = readChoice(values.model, '--model', ['logreg', 'mlp'] as const, DEFAULT_TRAINING.model.kind);
  let model: CreateFederationInput['model'];
  if (kind === 'mlp') {
    model = {
      kind: 'mlp',
      hidden: values.hidden === undefined ? [...DEFAULT_TRAINING.mlpHidden] : readHidden(values.hidden),
      activation: readChoice(values.activation, '--activation', ACTIVATIONS, DEFAULT_TRAINING.mlpActivation),
    };
  } else {
    if (values.hidden !== undefined || values.activation !== undefined) {
      throw new UsageError('--hidden and --activation apply only to --model mlp');
    }
    model = { kind: 'logreg' };
  }

  const aggregation = values.aggregation === undefined ? undefined : readChoice(values.aggregation, '--aggregation', AGGREGATIONS, 'plain');
  let secure: CreateFederationInput['secure'];
  if (aggregation !== 'secure') {
    const given = SECURE_FLAGS.find((flag) => values[flag] !== undefined);
    if (given) throw new UsageError(`--${given} applies only with --aggregation secure`);
  } else if (values.aggregator !== undefined) {
    // A named committee: the charter lists the aggregator nodes, and all of them sit on every round's committee.
    if (values.threshold === undefined) throw new UsageError('--aggregator needs --threshold T: how many of the named nodes reconstruct the sum');
    const aggregators = values.aggregator.map(readAggregator);
    if (values.committee !== undefined && wholeNumber(values.committee, '--committee') !== aggregators.length) {
      throw new UsageError(`--committee: a named committee seats all ${aggregators.length} --aggregator nodes; leave --committee out`);
    }
    secure = {
      committee: { size: aggregators.length, threshold: wholeNumber(values.threshold, '--threshold') },
      policy: { kind: 'named', aggregators },
      ...(values['clip-norm'] !== undefined && { clipNorm: number(values['clip-norm'], '--clip-norm') }),
      ...(values.field !== undefined && { field: readChoice(values.field, '--field', FIELDS, 'wide') }),
    };
  } else {
    if ((values.committee === undefined) !== (values.threshold === undefined)) {
      throw new UsageError("--committee and --threshold go together: give both, or neither for the server's default committee");
    }
    secure = {
      ...(values.committee !== undefined && {
        committee: { size: wholeNumber(values.committee, '--committee'), threshold: wholeNumber(values.threshold, '--threshold') },
      }),
      ...(values['clip-norm'] !== undefined && { clipNorm: number(values['clip-norm'], '--clip-norm') }),
      ...(values.field !== undefined && { field: readChoice(values.field, '--field', FIELDS, 'wide') }),
    };
    if (Object.keys(secure).length === 0) secure = undefined;
  }

  const training: NonNullable<CreateFederationInput['training']> = {
    ...(values.rounds !== undefined && { rounds: wholeNumber(values.rounds, '--rounds') }),
    ...(values['min-owners'] !== undefined && { minOwners: wholeNumber(values['min-owners'], '--min-owners') }),
    ...(values['local-epochs'] !== undefined && { localEpochs: wholeNumber(values['local-epochs'], '--local-epochs') }),
    ...(values['batch-size'] !== undefined && { batchSize: wholeNumber(values['batch-size'], '--batch-size') }),
    ...(values['learning-rate'] !== undefined && { learningRate: number(values['learning-rate'], '--learning-rate') }),
    ...(values['deadline-seconds'] !== undefined && { roundDeadlineSeconds: wholeNumber(values['deadline-seconds'], '--deadline-seconds') }),
    ...(values.seed !== undefined && { seed: wholeNumber(values.seed, '--seed') }),
    ...(values['no-auto-advance'] === true && { autoAdvance: false }),
  };

  const privacy = readPrivacy(values);
  return {
    name: values.name ?? defaultName(schemaFile),
    model,
    ...(Object.keys(training).length > 0 && { training }),
    ...(aggregation !== undefined && { aggregation }),
    ...(secure !== undefined && { secure }),
    ...(privacy !== undefined && { privacy }),
  };
}

/** `--aggregator "Bank A node=BASE64KEY"`: a named node and its identity key ('fedscore owner identity' prints it). */
function readAggregator(value: string): { name: string; identityKey: string } {
  // A 32-byte key is 43 base64 characters and one '=' of padding, so the last '=' before it splits the pair.
  const match = /^(.+)=([A-Za-z0-9+/]{43}=)$/.exec(value);
  if (!match) throw new UsageError(`--aggregator: expected NAME=IDENTITY_KEY (the base64 key 'fedscore owner identity' printed), got '${value}'`);
  return { name: match[1]!, identityKey: match[2]! };
}

/** The differential-privacy budget, if `--dp-epsilon` asks for one; the server checks every range. */
function readPrivacy(values: CreateValues): FederationSettings['privacy'] {
  if (values['dp-epsilon'] === undefined) {
    const given = PRIVACY_FLAGS.find((flag) => values[flag] !== undefined);
    if (given) throw new UsageError(`--${given} applies only with --dp-epsilon`);
    return undefined;
  }
  if (values['dp-clip'] === undefined) {
    throw new UsageError('--dp-epsilon needs --dp-clip C: the L2 norm every owner\'s update is clipped to (the noise is proportional to it)');
  }
  return {
    epsilon: number(values['dp-epsilon'], '--dp-epsilon'),
    delta: values['dp-delta'] === undefined ? DEFAULT_DP_DELTA : number(values['dp-delta'], '--dp-delta'),
    clipNorm: number(values['dp-clip'], '--dp-clip'),
    ...(values['dp-noise'] !== undefined && { noiseMultiplier: number(values['dp-noise'], '--dp-noise') }),
    ...(values['sample-rate'] !== undefined && { sampling: { kind: 'poisson' as const, rate: number(values['sample-rate'], '--sample-rate') } }),
  };
}

/** The request body: the settings with the dataset schema read from its file. */
export function createFederationBody(settings: FederationSettings, schema: DatasetSchema): CreateFederationInput {
  const { name, ...rest } = settings;
  return { name, datasetSchema: schema, ...rest };
}

/** `schemas/crx.json` → `crx`. */
export function defaultName(schemaFile: string): string {
  const base = path.basename(schemaFile).replace(/\.json$/i, '');
  return base === '' ? 'federation' : base;
}

function readHidden(value: string): number[] {
  return value.split(',').map((part) => wholeNumber(part, '--hidden'));
}

export function wholeNumber(value: string | undefined, flag: string): number {
  return readNumber(value, flag, NaN, { integer: true });
}

function number(value: string, flag: string): number {
  return readNumber(value, flag, NaN);
}

/**
 * Reads the dataset schema file and checks everything the server would refuse it for, so a mistake is
 * reported against the file before anything is sent. Throws an Error whose message names the file.
 */
export async function loadSchemaFile(file: string): Promise<DatasetSchema> {
  let schema: DatasetSchema;
  try {
    schema = await readSchemaFile(file);
  } catch (error) {
    throw new Error(`--schema: ${(error as Error).message}`);
  }
  // Without a mean and std the federation computes a column's statistics from the owners' values, each
  // clipped to the column's declared range: so the range is what such a column needs.
  const unranged = federatedStatisticsColumns(schema).filter((column) => column.range === undefined);
  if (unranged.length > 0) {
    throw new Error(
      `--schema: ${file}: numeric column(s) ${unranged.map((column) => column.name).join(', ')} need a mean and std, ` +
        'or a "range": [min, max] within which the owners compute them in a statistics round',
    );
  }
  return schema;
}
