/**
 * `fedscore operator …`: the lender's side of a federation from the shell instead of hand-written curl —
 * create a federation from a dataset schema file, open and close rounds, follow rounds and model versions,
 * rotate the enrolment token. Subcommands are named after the REST resources they call through the typed
 * SDK. Enrolment tokens are secrets: printed once, to stdout only, never to stderr.
 */
import { formatFingerprint } from '../../client/committee-trust.js';
import { FedscoreApiError, FedscoreClient, type ModelRef, type RoundView } from '../../client/http-client.js';
import { secureAggregationConfigSchema, trainingConfigSchema } from '../../schemas/federations.schema.js';
import { EXIT_FAILURE, EXIT_OK, parseCommandArgs, readNumber, requireString, UsageError, writeLine, type CliIo, type Command } from '../cli-io.js';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  CREATE_OPTIONS,
  FEDERATION_OPTIONS,
  createFederationBody,
  loadSchemaFile,
  readConnection,
  readFederationSettings,
  wholeNumber,
  DEFAULT_DP_DELTA,
  type Connection,
} from '../operator/flags.js';
import {
  describeAggregation,
  describeCharter,
  describeModel,
  describePrivacy,
  describeRound,
  describeStandardisation,
  federationShowLines,
  federationTable,
  keyValues,
  modelShowLines,
  modelTable,
  roundShowLines,
  roundTable,
} from '../operator/format.js';
import {
  issueKeyCommand,
  KEYS_ISSUE_USAGE,
  KEYS_LIST_USAGE,
  KEYS_REVOKE_USAGE,
  KEYS_ROTATE_USAGE,
  listKeysCommand,
  OWNERS_REMOVE_USAGE,
  removeOwnerCommand,
  revokeKeyCommand,
  rotateKeyCommand,
} from '../operator/access.commands.js';
import { promoteCommand, PROMOTE_USAGE, selectionCommand, SELECTION_USAGE, validationCommand, VALIDATION_USAGE } from '../operator/model-quality.commands.js';
import { withServer, writeJson, writeLines } from '../operator/with-server.js';

/** The server's own defaults, read from its schema so the help cannot drift from what it does. */
const TRAINING_DEFAULTS = trainingConfigSchema.parse({});
const SECURE_DEFAULTS = secureAggregationConfigSchema.parse({});

const USAGE = `Usage: fedscore operator <resource> <action> [options]

Runs a federation from the lender's side. Every subcommand talks to a running fedscore server with an
operator key: --server URL --api-key KEY, or FEDSCORE_SERVER and FEDSCORE_API_KEY.

Subcommands:
  federation create --schema FILE            create a federation; prints its enrolment token once
  federation list                            every federation on the server
  federation show --federation ID            schema, model, settings, latest version, current round, owners
  round open --federation ID                 open the next round (--evaluate V: an evaluation round of version V)
  round list --federation ID                 every round: status, submissions, secure progress, times
  round close --federation ID --round N      end a round now: aggregate if enough is in, otherwise fail it
  models list --federation ID                published model versions and their training metrics
  models show --federation ID [--version V]  one model version (default: the latest), its validation and owners' evaluation
  models validation --federation ID --file F attach the labelled validation set every version is scored on
  models promote --federation ID --version V serve this version by default (selection becomes manual)
  models selection --federation ID --rule R  best (by a validation metric, with early stopping) or manual
  enrolment-token rotate --federation ID     issue a new enrolment token; the old one stops working
  keys issue --federation ID --scopes S      a key for one federation: predict, he-predict, read (printed once)
  keys list --federation ID                  the federation's scoped keys (never the keys themselves)
  keys revoke --federation ID --key KEY_ID   stop a scoped key working
  keys rotate --federation ID --key KEY_ID   a new secret for a scoped key (printed once)
  owners remove --federation ID --owner O    revoke an owner's key and leave it out of later rounds

Options (every subcommand):
${CONNECTION_USAGE}

Run 'fedscore operator <resource> <action> --help' for a subcommand's options. The data owners' side is
'fedscore owner' (docs/data-owner.md); this side is described in docs/operator.md.`;

const CREATE_USAGE = `Usage: fedscore operator federation create --schema FILE [options]

Creates a federation from a dataset schema file and prints its id and enrolment token. The token is shown
only this once (the server keeps only its hash): hand it to each data owner out of band. Settings left out
take the defaults in brackets (the server's own, for every setting it has one); the summary printed after
creation shows what was chosen.

Options:
  --schema FILE          dataset schema JSON: columns and their types, label, missing token (e.g. schemas/crx.json)
  --name NAME            a label for people [the schema file's name, e.g. crx]
  --model KIND           logreg or mlp [logreg]
  --hidden SIZES         mlp: hidden layer sizes, comma separated [16]
  --activation NAME      mlp: relu, tanh, sigmoid, square or relu-poly [relu]; square and relu-poly
                         models can also score applicants under encryption
  --aggregation MODE     plain: the server sees each owner's update; secure: it learns only their sum [plain]
  --committee K          secure, with --threshold: committee members seated per round [${SECURE_DEFAULTS.committee.size}]
  --threshold T          secure: partial sums that reconstruct the sum; up to K−T members may drop out [${SECURE_DEFAULTS.committee.threshold}]
  --clip-norm C          secure: L2 bound each owner clips its update to [${SECURE_DEFAULTS.clipNorm}]
  --field F              secure: wide (2^52 − 47) or compact (2^37 − 25: 29% smaller uploads; a round's
                         owners × sample weight × max(C, 1) must stay within 1,048,575; no DP) [wide]
  --aggregator NAME=KEY  secure, repeatable, with --threshold: a named committee of these aggregator nodes (KEY is
                         the identity 'fedscore owner identity' printed for the node); all of them sit on every
                         round's committee [a lottery among the volunteers, which cannot stop sybil volunteers]
  --rounds R             rounds planned: auto-advance stops after round R [${TRAINING_DEFAULTS.rounds}]
  --min-owners N         updates that complete a round (at least 2 when secure) [${TRAINING_DEFAULTS.minOwners}]
  --local-epochs E       epochs each owner trains per round [${TRAINING_DEFAULTS.localEpochs}]
  --batch-size B         owners' mini-batch size [${TRAINING_DEFAULTS.batchSize}]
  --learning-rate X      owners' learning rate [${TRAINING_DEFAULTS.learningRate}]
  --deadline-seconds S   a round still short of owners after S seconds fails [${TRAINING_DEFAULTS.roundDeadlineSeconds}]
  --seed S               seed of the initial weights (version 0) [${TRAINING_DEFAULTS.seed}]
  --no-auto-advance      open every round yourself [the next round opens when one closes]
  --dp-epsilon E         differential privacy with budget ε = E (DP-FedAvg at the owner level; central in plain
                         mode, distributed in secure mode): no round opens that would exceed it [none]
  --dp-delta D           DP: the budget's δ, below 1/owners [${DEFAULT_DP_DELTA}]
  --dp-clip C            DP, required with --dp-epsilon: every owner's update is clipped to L2 norm C
  --dp-noise Z           DP: noise multiplier [the smallest that fits the budget over the planned rounds]
  --sample-rate Q        DP: each owner takes part in a round with probability Q [every owner, every round]
${CONNECTION_USAGE}

The server checks every value's range and names the field it refuses. With --json the last line of stdout
is {federationId, name, enrolmentToken, aggregation, secure, featureCount, model, training, …}.`;

const LIST_USAGE = `Usage: fedscore operator federation list [options]

Lists the server's federations: id, name, aggregation, latest model version, creation time.

Options:
${CONNECTION_USAGE}

With --json the last line of stdout is the array of federations as the API returns them.`;

const SHOW_USAGE = `Usage: fedscore operator federation show --federation ID [options]

Shows one federation: its dataset schema (columns and their types), feature count, model, training,
aggregation and committee settings, latest model version, current round and enrolled owners.

Options:
  --federation ID        the federation
${CONNECTION_USAGE}

With --json the last line of stdout is the federation as the API returns it, plus featureCount,
currentRound (null before the first) and owners {enrolled, dataOwners, aggregators, committeeCandidates}.`;

const ROUND_OPEN_USAGE = `Usage: fedscore operator round open --federation ID [options]

Opens the federation's next round; owners pick it up and train from the latest model version. A secure
round also seats its committee, so enough owners must have volunteered with a registered key first.

With --evaluate, an evaluation round instead: every owner scores the version on its own rows and sends only
tallies (per-class score histograms and loss sums; secret-shared in secure mode); the server stores the
accuracy, confusion counts, AUC, log loss, Brier, KS, ROC and reliability derived from their sum, shown by
'models show'. Owners take part with 'fedscore owner run' (started after the round opens, they stop once
it settles). Not in differentially private federations: the counts are exact.

Options:
  --federation ID        the federation
  --evaluate V           open an evaluation round of version V (a number, or default: the served version)
  --min-owners N         updates that complete this round [the federation's min owners]
  --deadline-seconds S   this round fails if still short of owners after S seconds [the federation's deadline]
${CONNECTION_USAGE}

With --json the last line of stdout is the round as the API returns it.`;

const ROUND_CLOSE_USAGE = `Usage: fedscore operator round close --federation ID --round N [options]

Ends a round's current stage now: with enough updates (or, when summing, partial sums) it moves on as if
the last one had just arrived; otherwise the round fails and the previous model stays.

Options:
  --federation ID        the federation
  --round N              the round number
${CONNECTION_USAGE}

With --json the last line of stdout is the round as the API returns it after closing.`;

const ROUND_LIST_USAGE = `Usage: fedscore operator round list --federation ID [options]

Lists every round: number, status, owners submitted / needed, for secure rounds the included owners and
partial sums / threshold, the model version it published, opened and closed times, why it failed.

Options:
  --federation ID        the federation
${CONNECTION_USAGE}

With --json the last line of stdout is the array of rounds as the API returns them.`;

const MODELS_LIST_USAGE = `Usage: fedscore operator models list --federation ID [options]

Lists the published model versions: version, the round that published it, owners and samples aggregated,
the owners' sample-weighted training loss and accuracy when they reported them, its validation accuracy,
AUC and log loss once a validation set is attached, the owners' AUC from a federated evaluation, which one
is served by default, whether encrypted scoring (HE) can evaluate it. Version 0 is the seeded initial model.

Options:
  --federation ID        the federation
${CONNECTION_USAGE}

With --json the last line of stdout is the array of model versions as the API returns them.`;

const MODELS_SHOW_USAGE = `Usage: fedscore operator models show --federation ID [--version V] [options]

Shows one model version: when and by which round it was published, its training metrics, whether it is
served by default, its scores on the validation set and in the owners' latest federated evaluation,
whether it can score under encryption (and why not), and its parameter layout.

Options:
  --federation ID        the federation
  --version V            a version number, latest or default (the served one) [latest]
${CONNECTION_USAGE}

With --json the last line of stdout is the model version as the API returns it, plus its layout and
parameterCount (the weights themselves: GET …/models/{version}/weights).`;

const ROTATE_USAGE = `Usage: fedscore operator enrolment-token rotate --federation ID [options]

Issues a new enrolment token and prints it once; the previous token stops working at once. Owners who
already enrolled keep their own keys. Rotate when a token may have leaked or enrolment should close.

Options:
  --federation ID        the federation
${CONNECTION_USAGE}

With --json the last line of stdout is {federationId, enrolmentToken}.`;

interface Subcommand {
  resource: string;
  action: string;
  usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}


const SUBCOMMANDS: Subcommand[] = [
  { resource: 'federation', action: 'create', usage: CREATE_USAGE, run: createFederation },
  { resource: 'federation', action: 'list', usage: LIST_USAGE, run: listFederations },
  { resource: 'federation', action: 'show', usage: SHOW_USAGE, run: showFederation },
  { resource: 'round', action: 'open', usage: ROUND_OPEN_USAGE, run: openRound },
  { resource: 'round', action: 'close', usage: ROUND_CLOSE_USAGE, run: closeRound },
  { resource: 'round', action: 'list', usage: ROUND_LIST_USAGE, run: listRounds },
  { resource: 'models', action: 'list', usage: MODELS_LIST_USAGE, run: listModels },
  { resource: 'models', action: 'show', usage: MODELS_SHOW_USAGE, run: showModel },
  { resource: 'models', action: 'validation', usage: VALIDATION_USAGE, run: validationCommand },
  { resource: 'models', action: 'promote', usage: PROMOTE_USAGE, run: promoteCommand },
  { resource: 'models', action: 'selection', usage: SELECTION_USAGE, run: selectionCommand },
  { resource: 'enrolment-token', action: 'rotate', usage: ROTATE_USAGE, run: rotateToken },
  { resource: 'keys', action: 'issue', usage: KEYS_ISSUE_USAGE, run: issueKeyCommand },
  { resource: 'keys', action: 'list', usage: KEYS_LIST_USAGE, run: listKeysCommand },
  { resource: 'keys', action: 'revoke', usage: KEYS_REVOKE_USAGE, run: revokeKeyCommand },
  { resource: 'keys', action: 'rotate', usage: KEYS_ROTATE_USAGE, run: rotateKeyCommand },
  { resource: 'owners', action: 'remove', usage: OWNERS_REMOVE_USAGE, run: removeOwnerCommand },
];

export const operatorCommand: Command = {
  name: 'operator',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const [resource, action, ...rest] = args;
    if (resource === '--help' || resource === '-h' || resource === 'help') {
      writeLine(io.stdout, USAGE);
      return EXIT_OK;
    }
    if (resource === undefined) throw new UsageError('expected a subcommand, e.g. `operator federation create`');
    if (resource.startsWith('-')) throw new UsageError(`expected a subcommand before the options, got '${resource}'`);
    const actions = SUBCOMMANDS.filter((subcommand) => subcommand.resource === resource);
    if (actions.length === 0) throw new UsageError(`unknown subcommand '${resource}'`);
    const choices = actions.map((subcommand) => subcommand.action).join(', ');
    if (action === '--help' || action === '-h') {
      writeLine(io.stdout, USAGE);
      return EXIT_OK;
    }
    if (action === undefined) throw new UsageError(`expected an action after '${resource}': ${choices}`);
    const subcommand = actions.find((candidate) => candidate.action === action);
    if (subcommand === undefined) throw new UsageError(`unknown subcommand '${resource} ${action}' (expected ${resource} ${choices})`);
    try {
      return await subcommand.run(rest, io);
    } catch (error) {
      // A mistake in the call shows the subcommand's own help, not the list of subcommands.
      if (error instanceof UsageError && error.usage === undefined) throw new UsageError(error.message, subcommand.usage);
      throw error;
    }
  },
};

// --- federations --------------------------------------------------------------------------------------

async function createFederation(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(CREATE_USAGE, args, CREATE_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const schemaFile = requireString(values.schema, '--schema');
  const settings = readFederationSettings(values, schemaFile);
  const body = createFederationBody(settings, await loadSchemaFile(schemaFile));

  return withServer(io, connection, 'the federation', async (client) => {
    const { federation, enrolmentToken } = await client.createFederation(body);
    if (values.json) {
      writeJson(io, {
        federationId: federation.id,
        name: federation.name,
        enrolmentToken,
        aggregation: federation.aggregation,
        secure: federation.secure,
        charterFingerprint: federation.charterFingerprint,
        featureCount: federation.featureNames.length,
        model: federation.model,
        training: federation.training,
        privacy: federation.privacy,
        latestModelVersion: federation.latestModelVersion,
        createdAt: federation.createdAt,
      });
      return;
    }
    const t = federation.training;
    writeLine(io.stdout, `Created federation ${federation.id} ("${federation.name}") on ${connection.server}`);
    writeLines(
      io,
      keyValues(
        [
          ['aggregation', describeAggregation(federation)],
          ['charter', describeCharter(federation)],
          ['model', `${describeModel(federation.model)}; ${federation.featureNames.length} encoded features from ${schemaFile}`],
          ['standardisation', describeStandardisation(federation)],
          ['privacy', describePrivacy(federation)],
          ['rounds', `${t.rounds} planned, ${t.minOwners} owners complete one, deadline ${t.roundDeadlineSeconds} s, auto-advance ${t.autoAdvance ? 'on' : 'off'}`],
          ['owners train', `${t.localEpochs} local epochs per round, batch ${t.batchSize}, learning rate ${t.learningRate}`],
          ['latest model', `version ${federation.latestModelVersion} (the initial weights, seed ${t.seed})`],
        ],
        '  ',
      ),
    );
    writeLine(io.stdout);
    writeLine(io.stdout, 'Enrolment token, shown only this once (the server keeps only its hash). Store it now and hand it');
    writeLine(io.stdout, 'to each data owner out of band, as you would a password; owners enrol with it:');
    writeLine(io.stdout);
    writeLine(io.stdout, `  ${enrolmentToken}`);
    writeLine(io.stdout);
    if (federation.charterFingerprint !== null) {
      writeLine(io.stdout, 'Give the owners the charter fingerprint with it (it is not secret, but it must reach them unaltered):');
      writeLine(io.stdout, `  fedscore owner enrol … --charter-fingerprint '${formatFingerprint(federation.charterFingerprint)}'`);
      writeLine(io.stdout);
    }
    writeLine(io.stdout, `Lost it? \`fedscore operator enrolment-token rotate --federation ${federation.id}\` issues a new one.`);
    writeLine(io.stdout, 'Once owners have enrolled, open the first round:');
    writeLine(io.stdout, `  fedscore operator round open --federation ${federation.id}`);
  });
}

async function listFederations(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(LIST_USAGE, args, CONNECTION_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  return withServer(io, connection, 'to list federations', async (client) => {
    const federations = await client.listFederations();
    if (values.json) return writeJson(io, federations);
    if (federations.length === 0) return writeLine(io.stdout, 'No federations yet: create one with `fedscore operator federation create --schema FILE`.');
    writeLines(io, federationTable(federations));
  });
}

async function showFederation(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(SHOW_USAGE, args, FEDERATION_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  return withServer(io, connection, 'to show the federation', async (client) => {
    const federation = await client.getFederation(federationId);
    const [currentRound, owners] = await Promise.all([currentRoundOrNull(client, federationId), client.listOwners(federationId)]);
    if (values.json) {
      const aggregators = owners.filter((owner) => owner.role === 'aggregator').length;
      return writeJson(io, {
        ...federation,
        featureCount: federation.featureNames.length,
        currentRound,
        owners: {
          enrolled: owners.length,
          dataOwners: owners.length - aggregators,
          aggregators,
          committeeCandidates: owners.filter((owner) => owner.identityKey !== null && (owner.committeeVolunteer || owner.role === 'aggregator')).length,
        },
      });
    }
    writeLines(io, federationShowLines(federation, currentRound, owners));
  });
}

/** The latest round, or null before the first one (the server answers 404 no-rounds). */
async function currentRoundOrNull(client: FedscoreClient, federationId: string): Promise<RoundView | null> {
  try {
    return await client.getCurrentRound(federationId);
  } catch (error) {
    if (error instanceof FedscoreApiError && error.problemSlug === 'no-rounds') return null;
    throw error;
  }
}

// --- rounds -------------------------------------------------------------------------------------------

async function openRound(args: string[], io: CliIo): Promise<number> {
  const options = { ...FEDERATION_OPTIONS, evaluate: { type: 'string' }, 'min-owners': { type: 'string' }, 'deadline-seconds': { type: 'string' } } as const;
  const values = parseCommandArgs(ROUND_OPEN_USAGE, args, options, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const evaluate = values.evaluate;
  const body = {
    ...(evaluate !== undefined && {
      kind: 'evaluation' as const,
      modelVersion: evaluate === 'default' ? ('default' as const) : readNumber(evaluate, '--evaluate', 0, { integer: true, min: 0 }),
    }),
    ...(values['min-owners'] !== undefined && { minOwners: wholeNumber(values['min-owners'], '--min-owners') }),
    ...(values['deadline-seconds'] !== undefined && { deadlineSeconds: wholeNumber(values['deadline-seconds'], '--deadline-seconds') }),
  };
  return withServer(io, connection, 'to open a round', async (client) => {
    const round = await client.openRound(federationId, body);
    if (values.json) return writeJson(io, round);
    writeLine(io.stdout, `Opened round ${round.number}${round.kind === 'evaluation' ? ` (evaluation of model version ${round.baseModelVersion})` : ''}.`);
    writeLines(io, roundShowLines(round, federationId));
    writeLine(io.stdout);
    writeLine(io.stdout, `Owners pick it up on their own. Follow it with: fedscore operator round list --federation ${federationId}`);
    if (round.kind === 'evaluation') writeLine(io.stdout, `Once it closes: fedscore operator models show --federation ${federationId} --version ${round.baseModelVersion}`);
  });
}

async function closeRound(args: string[], io: CliIo): Promise<number> {
  const options = { ...FEDERATION_OPTIONS, round: { type: 'string' } } as const;
  const values = parseCommandArgs(ROUND_CLOSE_USAGE, args, options, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const roundNumber = readNumber(requireString(values.round, '--round'), '--round', 0, { integer: true, min: 1 });
  return withServer(io, connection, `to close round ${roundNumber}`, async (client) => {
    const round = await client.closeRound(federationId, roundNumber);
    if (values.json) return writeJson(io, round);
    writeLine(io.stdout, `${capitalise(describeRound(round))}.`);
    const current = await currentRoundOrNull(client, federationId);
    if (current !== null && current.number > round.number) writeLine(io.stdout, `Auto-advance: ${describeRound(current)}.`);
  });
}

async function listRounds(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(ROUND_LIST_USAGE, args, FEDERATION_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  return withServer(io, connection, 'to list rounds', async (client) => {
    const rounds = await client.listRounds(federationId);
    if (values.json) return writeJson(io, rounds);
    if (rounds.length === 0) return writeLine(io.stdout, `No rounds yet: open one with \`fedscore operator round open --federation ${federationId}\`.`);
    writeLines(io, roundTable(rounds));
  });
}

// --- models -------------------------------------------------------------------------------------------

async function listModels(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(MODELS_LIST_USAGE, args, FEDERATION_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  return withServer(io, connection, 'to list models', async (client) => {
    const models = await client.listModels(federationId);
    if (values.json) return writeJson(io, models);
    writeLines(io, modelTable(models));
  });
}

async function showModel(args: string[], io: CliIo): Promise<number> {
  const options = { ...FEDERATION_OPTIONS, version: { type: 'string' } } as const;
  const values = parseCommandArgs(MODELS_SHOW_USAGE, args, options, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  const version: ModelRef =
    values.version === undefined || values.version === 'latest' || values.version === 'default'
      ? (values.version ?? 'latest')
      : readNumber(values.version, '--version', 0, { integer: true, min: 0 });
  const what = typeof version === 'number' ? `to show model version ${version}` : `to show the ${version} model version`;
  return withServer(io, connection, what, async (client) => {
    const model = await client.getModel(federationId, version);
    // The weights of the version just read, not whatever `latest` is a moment later.
    const weights = await client.getModelWeights(federationId, model.version);
    if (values.json) return writeJson(io, { ...model, layout: weights.layout, parameterCount: weights.weights.length });
    writeLines(io, modelShowLines(model, weights, federationId));
  });
}

// --- enrolment token ----------------------------------------------------------------------------------

async function rotateToken(args: string[], io: CliIo): Promise<number> {
  const values = parseCommandArgs(ROTATE_USAGE, args, FEDERATION_OPTIONS, io);
  if (values === null) return EXIT_OK;
  const connection = readConnection(values, io.env);
  const federationId = requireString(values.federation, '--federation');
  return withServer(io, connection, 'to rotate the enrolment token', async (client) => {
    const enrolmentToken = await client.rotateEnrolmentToken(federationId);
    if (values.json) return writeJson(io, { federationId, enrolmentToken });
    writeLine(io.stdout, `New enrolment token for federation ${federationId}, shown only this once.`);
    writeLine(io.stdout, 'The previous token no longer enrols anyone; owners already enrolled keep their own keys.');
    writeLine(io.stdout, 'Store it now and hand it to new owners out of band:');
    writeLine(io.stdout);
    writeLine(io.stdout, `  ${enrolmentToken}`);
  });
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
