/**
 * The human-readable side of `fedscore operator`: federations, rounds and model versions as tables and
 * key–value blocks, built from the wire types the server returns. Pure functions returning lines, so the
 * tests can read them without a server. Column widths follow the data (ids are 36 characters).
 */
import type { FederationView, ModelVersionView, ModelWeightsView, OwnerView, RoundView } from '../../client/http-client.js';
import { formatFingerprint } from '../../client/committee-trust.js';
import { fixed, formatHeader, formatRow, type Column } from '../table.js';

/** `2026-11-28T10:15:02.123Z` → `2026-11-28T10:15:02Z`: seconds are enough to follow a round. */
export function timestamp(iso: string | null): string {
  return iso === null ? '-' : iso.replace(/\.\d+Z$/, 'Z');
}

export function describeModel(model: FederationView['model']): string {
  return model.kind === 'mlp' ? `MLP, hidden layers ${model.hidden.join('-')}, ${model.activation} activation` : 'logistic regression';
}

export function describeAggregation(federation: Pick<FederationView, 'aggregation' | 'secure'>): string {
  if (federation.aggregation === 'plain' || federation.secure === null) return 'plain (the server sees each owner\'s update)';
  const { committee, clipNorm, summingDeadlineSeconds, field } = federation.secure;
  return (
    `secure (committee of ${committee.size} per round, threshold ${committee.threshold}: up to ` +
    `${committee.size - committee.threshold} member(s) may drop out; clip norm ${clipNorm}; ${field ?? 'wide'} field; summing deadline ${summingDeadlineSeconds} s)`
  );
}

/** The charter's committee policy and its fingerprint, which owners pin at enrolment. */
export function describeCharter(federation: Pick<FederationView, 'charter' | 'charterFingerprint'>): string {
  if (federation.charter === null || federation.charterFingerprint === null) return 'none (created before charters existed)';
  const policy = federation.charter.secure?.policy;
  const seats =
    policy === undefined
      ? 'plain aggregation'
      : policy.kind === 'named'
        ? `named committee: ${policy.aggregators.map((node) => node.name).join(', ')}`
        : `committee drawn by lottery from the volunteers (hash chain of ${policy.chainLength} rounds)`;
  return `${seats}; fingerprint ${formatFingerprint(federation.charterFingerprint)}`;
}

/** The budget, the mechanism and what has been spent, in one line. */
export function describePrivacy(federation: Pick<FederationView, 'privacy'>): string {
  const privacy = federation.privacy;
  if (privacy === null) return 'none (the published models carry no differential-privacy guarantee)';
  const sampling = privacy.sampling.kind === 'poisson' ? `each owner sampled with probability ${privacy.sampling.rate}` : 'every owner in every round';
  return (
    `budget ε = ${privacy.epsilon}, δ = ${privacy.delta}; clip ${privacy.clipNorm}, noise multiplier ${round4(privacy.noiseMultiplier)}, ${sampling}; ` +
    `spent ε = ${round4(privacy.spent.epsilon)} over ${privacy.spent.rounds} round(s)`
  );
}

/** One block of `label  value` lines with the labels aligned. */
export function keyValues(pairs: [string, string][], indent = ''): string[] {
  const width = Math.max(...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`);
}

export function trainingPairs(training: FederationView['training']): [string, string][] {
  return [
    ['rounds planned', String(training.rounds)],
    ['min owners per round', String(training.minOwners)],
    ['local epochs', String(training.localEpochs)],
    ['batch size', String(training.batchSize)],
    ['learning rate', String(training.learningRate)],
    ['round deadline', `${training.roundDeadlineSeconds} s`],
    ['auto-advance', training.autoAdvance ? 'on (the next round opens when one closes)' : 'off (open each round yourself)'],
    ['seed', String(training.seed)],
  ];
}

/** One line on where a round stands. */
export function describeRound(round: RoundView): string {
  const name =
    round.kind === 'statistics' ? `round ${round.number} (statistics)` : round.kind === 'evaluation' ? `round ${round.number} (evaluation of version ${round.baseModelVersion})` : `round ${round.number}`;
  switch (round.status) {
    case 'open':
      return `${name} open: ${round.submissionCount} of ${round.minOwners} owners submitted, deadline ${timestamp(round.deadline)}`;
    case 'summing': {
      const secure = round.secure;
      const sums = secure ? `${secure.partialSumCount} of ${secure.threshold} partial sums` : 'partial sums pending';
      const deadline = secure?.summingDeadline ? `, deadline ${timestamp(secure.summingDeadline)}` : '';
      return `${name} summing: ${secure?.includedCount ?? round.submissionCount} owners included, ${sums}${deadline}`;
    }
    case 'closed': {
      const owners = round.secure?.includedCount ?? round.submissionCount;
      if (round.kind === 'statistics') return `${name} closed: means and standard deviations computed from ${owners} owners`;
      if (round.kind === 'evaluation') return `${name} closed: ${round.evaluation?.result ? describeFederatedEvaluation(round.evaluation.result) : `evaluated by ${owners} owners`}`;
      return `${name} closed: published model version ${round.modelVersion} from ${owners} owners`;
    }
    case 'failed':
      return `${name} failed: ${round.failureReason ?? 'no reason recorded'}; ${round.kind === 'training' ? 'the previous model stays' : round.kind === 'statistics' ? 'nothing computed' : 'nothing stored'}`;
  }
}

type Report = NonNullable<ModelVersionView['validation']>;
type FederatedEvaluation = NonNullable<ModelVersionView['federatedEvaluation']>;
const metric = (value: number | null) => (value === null ? '-' : fixed(value));

/** A report's headline figures in one line. */
export function describeReport(report: Report): string {
  return `accuracy ${metric(report.accuracy)} (majority rate ${metric(report.majorityRate)}), AUC ${metric(report.auc)}, log loss ${metric(report.logLoss)}, Brier ${metric(report.brier)}, KS ${metric(report.ks)}`;
}

export function describeFederatedEvaluation(evaluation: FederatedEvaluation): string {
  const { report } = evaluation;
  return (
    `${evaluation.owners} owners scored version ${evaluation.modelVersion} on their own ${report.rows} rows (${report.positives} positive): ` +
    `accuracy ${metric(report.accuracy)}, AUC ${metric(report.auc)} ± ${metric(evaluation.aucResolution)}, log loss ${metric(report.logLoss)}`
  );
}

export function describeSelection(selection: FederationView['selection']): string {
  const stop = selection.patience === null ? 'no early stopping' : `early stopping after ${selection.patience} versions without improvement`;
  return selection.rule === 'manual' ? `manual (only the operator promotes); ${stop}` : `best by validation ${selection.metric}; ${stop}`;
}

export function ownerSummary(owners: OwnerView[], federation: Pick<FederationView, 'secure'>): string {
  const aggregators = owners.filter((owner) => owner.role === 'aggregator').length;
  let line = `${owners.length} enrolled (${owners.length - aggregators} data owners, ${aggregators} aggregators)`;
  if (federation.secure !== null) {
    const candidates = owners.filter((owner) => owner.identityKey !== null && (owner.committeeVolunteer || owner.role === 'aggregator')).length;
    line += `; ${candidates} committee candidates, ${federation.secure.committee.size} needed to open a round`;
  }
  return line;
}

export function federationShowLines(
  federation: FederationView,
  currentRound: RoundView | null,
  owners: OwnerView[],
): string[] {
  const schema = federation.datasetSchema;
  const lines = keyValues([
    ['federation', federation.id],
    ['name', federation.name],
    ['created', timestamp(federation.createdAt)],
    ['aggregation', describeAggregation(federation)],
    ['charter', describeCharter(federation)],
    ['model', `${describeModel(federation.model)}; ${federation.featureNames.length} encoded features`],
    ['standardisation', describeStandardisation(federation)],
    ['privacy', describePrivacy(federation)],
    ['latest model', `version ${federation.latestModelVersion}${federation.latestModelVersion === 0 ? ' (the seeded initial weights)' : ''}`],
    ['served', federation.defaultModelVersion === null ? 'no version yet (none reaches the majority-class rate on the validation set)' : `version ${federation.defaultModelVersion}${federation.promotedModelVersion === null ? ' (the latest: no validation set)' : ' (promoted)'}`],
    ['selection', describeSelection(federation.selection)],
    ...(federation.trainingStop ? [['training stopped', `early at version ${federation.trainingStop.atVersion} (best ${federation.trainingStop.bestVersion ?? 'none'} by ${federation.trainingStop.metric})`] as [string, string]] : []),
    ['current round', currentRound === null ? 'none opened yet' : describeRound(currentRound)],
    ['owners', ownerSummary(owners, federation)],
  ]);
  lines.push('', 'training', ...keyValues(trainingPairs(federation.training), '  '));
  lines.push(
    '',
    `dataset schema: ${schema.columns.length} columns, label ${schema.label.column} (positive ${JSON.stringify(schema.label.positive)}), ` +
      `missing values ${JSON.stringify(schema.missingToken)}, delimiter ${JSON.stringify(schema.delimiter)}, ${schema.header ? 'header row' : 'no header row'}`,
  );
  const columns: Column[] = [
    { header: 'column', width: Math.max(...schema.columns.map((column) => column.name.length)), align: 'left' },
    { header: 'type', width: 11, align: 'left' },
    { header: 'encoding', width: 0, align: 'left' },
  ];
  lines.push(`  ${formatHeader(columns)}`);
  for (const column of schema.columns) {
    lines.push(`  ${formatRow(columns, [column.name, column.type, columnEncoding(column, schema.label)])}`);
  }
  return lines;
}

type ColumnSpec = FederationView['datasetSchema']['columns'][number];

/** Where the numeric columns' means and standard deviations come from. */
export function describeStandardisation(federation: Pick<FederationView, 'standardisation' | 'datasetSchema'>): string {
  const standardisation = federation.standardisation;
  if (standardisation === null) {
    const pending = federation.datasetSchema.columns.filter((column) => column.type === 'numeric' && column.mean === undefined).map((column) => column.name);
    return `computed by the owners in the first round (a statistics round) for ${pending.join(', ')}`;
  }
  if (standardisation.source === 'operator') return 'the schema’s own means and standard deviations';
  const federated = Object.entries(standardisation.columns).filter(([, column]) => column.source === 'federated');
  return `computed by the owners in round ${standardisation.roundNumber} for ${federated.map(([name]) => name).join(', ')} (from ${federated[0]?.[1].count ?? 0} values of ${federated[0]?.[0] ?? '-'})`;
}

function columnEncoding(column: ColumnSpec, label: { column: string; positive: string }): string {
  if (column.name === label.column) return `the label: ${JSON.stringify(label.positive)} is positive, any other value negative`;
  switch (column.type) {
    case 'numeric': {
      const range = column.range ? `, clipped to [${column.range[0]}, ${column.range[1]}] for the statistics` : '';
      const transform = column.transform ? `${column.transform}, then ` : '';
      return column.mean !== undefined && column.std !== undefined
        ? `${transform}standardised: mean ${round4(column.mean)}, std ${round4(column.std)}${range}`
        : `${transform}standardised once the statistics round has run${range}`;
    }
    case 'binary':
      return `${column.values[0]} → 0, ${column.values[1]} → 1`;
    case 'categorical': {
      const shown = column.values.length <= 12 ? column.values.join(', ') : `${column.values.slice(0, 10).join(', ')}, …`;
      return `one-hot, ${column.values.length} values: ${shown}`;
    }
    case 'ignore':
      return 'not used';
  }
}

const round4 = (value: number) => String(Number(value.toPrecision(4)));

export function federationTable(federations: FederationView[]): string[] {
  const columns: Column[] = [
    { header: 'id', width: widest(federations.map((f) => f.id)), align: 'left' },
    { header: 'name', width: Math.min(40, widest(federations.map((f) => f.name))), align: 'left' },
    { header: 'aggregation', width: 11, align: 'left' },
    { header: 'latest version', width: 0 },
    { header: 'created', width: 20, align: 'left' },
  ];
  return [
    formatHeader(columns),
    ...federations.map((federation) =>
      formatRow(columns, [federation.id, clip(federation.name, 40), federation.aggregation, String(federation.latestModelVersion), timestamp(federation.createdAt)]),
    ),
  ];
}

export function roundTable(rounds: RoundView[]): string[] {
  const secure = rounds.some((round) => round.aggregation === 'secure');
  const columns: Column[] = [
    { header: 'round', width: 0 },
    { header: 'status', width: 7, align: 'left' },
    { header: 'owners', width: 0 },
    ...(secure ? [{ header: 'included', width: 0 }, { header: 'partial sums', width: 0 }] : []),
    { header: 'model', width: 0 },
    { header: 'opened', width: 20, align: 'left' },
    { header: 'closed', width: 20, align: 'left' },
    { header: 'failure', width: 0, align: 'left' },
  ];
  return [
    formatHeader(columns),
    ...rounds.map((round) =>
      formatRow(columns, [
        String(round.number),
        round.status,
        `${round.submissionCount}/${round.minOwners}`,
        ...(secure
          ? [
              round.secure?.includedCount == null ? '-' : String(round.secure.includedCount),
              round.secure ? `${round.secure.partialSumCount}/${round.secure.threshold}` : '-',
            ]
          : []),
        round.kind === 'statistics' ? 'stats' : round.kind === 'evaluation' ? `eval ${round.baseModelVersion}` : round.modelVersion === null ? '-' : String(round.modelVersion),
        timestamp(round.openedAt),
        timestamp(round.closedAt),
        round.failureReason ?? '',
      ]),
    ),
  ];
}

export function roundShowLines(round: RoundView, federationId: string): string[] {
  const pairs: [string, string][] = [
    ['federation', federationId],
    ['status', describeRound(round)],
    ['owners needed', String(round.minOwners)],
    round.kind === 'statistics'
      ? ['computes', `count, sum and sum of squares of ${round.statistics?.columns.join(', ') ?? 'the numeric columns'}`]
      : round.kind === 'evaluation'
        ? ['evaluates', `model version ${round.baseModelVersion} on every owner's own rows; only summed score histograms and loss sums reach the server`]
        : ['trains from', `model version ${round.baseModelVersion}`],
    ['opened', timestamp(round.openedAt)],
    ['deadline', timestamp(round.deadline)],
  ];
  if (round.closedAt !== null) pairs.push(['closed', timestamp(round.closedAt)]);
  if (round.secure !== null) {
    const members = round.secure.committee.map((seat) => `${seat.position}: ${seat.ownerId}`);
    pairs.push(['committee', `${round.secure.committee.length} members, ${round.secure.threshold} partial sums reconstruct the sum`]);
    for (const member of members) pairs.push(['', member]);
    pairs.push(['clip norm', String(round.secure.clipNorm)]);
  }
  if (round.privacy !== null) {
    const { clipNorm, noiseMultiplier, noiseStd, expectedOwners } = round.privacy;
    pairs.push(['privacy', `clip ${clipNorm}, noise multiplier ${round4(noiseMultiplier)}: noise std ${round4(noiseStd)} on the sum of ${round4(expectedOwners)} expected owners`]);
  }
  if (round.sampling !== null) pairs.push(['sampling', `Poisson, rate ${round.sampling.rate}, seed ${round.sampling.seed}`]);
  return keyValues(pairs);
}

export function modelTable(models: ModelVersionView[]): string[] {
  const charged = models.some((model) => model.privacy !== null);
  const validated = models.some((model) => model.validation !== null);
  const evaluated = models.some((model) => model.federatedEvaluation !== null);
  const columns: Column[] = [
    { header: 'version', width: 0 },
    { header: 'round', width: 0 },
    { header: 'owners', width: 0 },
    { header: 'samples', width: 0 },
    { header: 'train loss', width: 0 },
    { header: 'train accuracy', width: 0 },
    ...(charged ? [{ header: 'ε spent', width: 0 }] : []),
    ...(validated ? [{ header: 'val acc', width: 0 }, { header: 'val AUC', width: 0 }, { header: 'val log loss', width: 0 }] : []),
    ...(evaluated ? [{ header: 'owners’ AUC', width: 0 }] : []),
    { header: 'served', width: 6, align: 'left' },
    { header: 'HE', width: 3, align: 'left' },
    { header: 'created', width: 20, align: 'left' },
  ];
  return [
    formatHeader(columns),
    ...models.map((model) =>
      formatRow(columns, [
        String(model.version),
        model.roundNumber === null ? '-' : String(model.roundNumber),
        String(model.metrics.owners),
        String(model.metrics.samples),
        model.metrics.trainLoss === null ? '-' : fixed(model.metrics.trainLoss),
        model.metrics.trainAccuracy === null ? '-' : fixed(model.metrics.trainAccuracy),
        ...(charged ? [model.privacy === null ? '-' : fixed(model.privacy.epsilon)] : []),
        ...(validated ? [metric(model.validation?.accuracy ?? null), metric(model.validation?.auc ?? null), metric(model.validation?.logLoss ?? null)] : []),
        ...(evaluated ? [metric(model.federatedEvaluation?.report.auc ?? null)] : []),
        model.promoted ? 'yes' : '',
        model.heEvaluable ? 'yes' : 'no',
        timestamp(model.createdAt),
      ]),
    ),
  ];
}

export function modelShowLines(model: ModelVersionView, weights: ModelWeightsView, federationId: string): string[] {
  const pairs: [string, string][] = [
    ['federation', federationId],
    ['version', String(model.version)],
    ['published', `${timestamp(model.createdAt)}, ${model.roundNumber === null ? 'at creation (the seeded initial weights)' : `by round ${model.roundNumber}`}`],
    ['owners', String(model.metrics.owners)],
    ['samples', String(model.metrics.samples)],
    ['train loss', model.metrics.trainLoss === null ? '- (no owner reported one)' : `${fixed(model.metrics.trainLoss)} (sample-weighted mean the owners reported)`],
    ['train accuracy', model.metrics.trainAccuracy === null ? '- (no owner reported one)' : fixed(model.metrics.trainAccuracy)],
    ['privacy', model.privacy === null ? 'none' : `ε = ${fixed(model.privacy.epsilon)}, δ = ${model.privacy.delta} spent by the federation up to this version`],
    ['encrypted scoring', model.heEvaluable ? 'yes (fedscore predict --encrypted can use it)' : `no: ${model.heRefusal ?? 'not evaluable under CKKS'}`],
    ['promoted', model.promoted ? 'yes: predictions use it by default' : 'no'],
    ['validation', model.validation === null ? '- (not scored: no validation set, or not shown to owners)' : `${model.validation.rows} rows: ${describeReport(model.validation)}`],
    ['owners’ evaluation', model.federatedEvaluation === null ? '- (none: open one with round open --evaluate)' : `round ${model.federatedEvaluation.round}: ${describeFederatedEvaluation(model.federatedEvaluation)}`],
    ['parameters', `${weights.weights.length} in ${weights.layout.length} tensors`],
  ];
  for (const tensor of weights.layout) pairs.push(['', `${tensor.name} [${tensor.shape.join(', ')}]`]);
  return keyValues(pairs);
}

function widest(values: string[]): number {
  return values.reduce((width, value) => Math.max(width, value.length), 0);
}

function clip(text: string, width: number): string {
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
