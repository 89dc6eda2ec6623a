/**
 * End to end through the public client only: a real server on port 0 over a real database (SQLite, or
 * PostgreSQL with FEDSCORE_TEST_DB=postgres), a small federated run on the crx training rows, and the
 * owner agent's behaviour at the edges of a round. If the server, the wire contract and the client ever
 * disagree, this is where it shows.
 */
import assert from 'node:assert/strict';
import type { Charter } from '../../src/crypto/charter.js';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FedscoreApiError, FedscoreClient } from '../../src/client/http-client.js';
import {
  applySplit,
  encodeRows,
  readCsvFile,
  readSchemaFile,
  readSplitFile,
  shardRows,
  type EncodedRows,
  type RecordSet,
} from '../../src/client/local-data.js';
import { OwnerAgent, type AgentEvent } from '../../src/client/owner-agent.js';
import { MemoryJournal } from '../../src/client/owner-state.js';
import { runSimulation, type SimulationOptions } from '../../src/client/simulation.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
import { FIXED_POINT_BITS } from '../../src/crypto/fixed-point.js';
import { computeNumericStats } from '../../src/ml/preprocess.js';
import { modelReport } from '../../src/ml/model-report.js';
import { initTf } from '../../src/ml/tf.js';
import { predictProba } from '../../src/ml/train.js';
import { startServer } from '../../src/server.js';
import { createTestDatabase } from '../helpers/database.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');

let server: { url: string; close(): Promise<void> };
let cleanupDatabase: () => Promise<void>;
let database: Database;
let operator: FedscoreClient;
let anonymous: FedscoreClient;
let schema: DatasetSchema;
let train: EncodedRows;
let test: EncodedRows;
let trainRecords: RecordSet;
let testRecords: RecordSet;

before(async () => {
  await initTf('cpu');
  const target = await createTestDatabase();
  cleanupDatabase = target.cleanup;
  const adminKey = randomBytes(24).toString('base64url');
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: target.dataDir,
    DATABASE_URL: target.databaseUrl ?? '',
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'silent',
  });
  server = await startServer(config, { logger: false });
  // A second handle on the server's database, only to check what the server stored.
  database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  anonymous = new FedscoreClient({ baseUrl: server.url });
  operator = anonymous.withApiKey(adminKey);

  schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const parts = applySplit(await readCsvFile(path.join(sharedData, 'crx.data'), schema), await readSplitFile(path.join(sharedData, 'crx.split.json')));
  train = encodeRows(schema, parts.train);
  test = encodeRows(schema, parts.test!);
  trainRecords = parts.train;
  testRecords = parts.test!;
});

after(async () => {
  await database?.close();
  await server?.close();
  await cleanupDatabase?.();
});

function smallRun(overrides: Partial<SimulationOptions> = {}): SimulationOptions {
  return {
    operator,
    name: 'e2e crx',
    schema,
    model: { kind: 'logreg' },
    // batch 8 < 26 rows per owner, so local shuffles (and therefore the seeds) matter
    training: { rounds: 3, epochs: 2, batchSize: 8, learningRate: 0.1, seed: 11 },
    mode: 'plain',
    shards: shardRows(train, 20),
    evaluation: test,
    concurrency: 8,
    ...overrides,
  };
}

describe('local training on worker threads', () => {
  it('publishes bit-identical weights with a pool of threads and with training on the main thread', async () => {
    const mlp = { model: { kind: 'mlp' as const, hidden: [4], activation: 'relu' as const } };
    const sequential = await runSimulation(smallRun({ ...mlp, workers: 1 }));
    const pooled = await runSimulation(smallRun({ ...mlp, workers: 3, concurrency: 12 }));
    assert.notEqual(pooled.federationId, sequential.federationId);
    for (const round of [1, 2, 3]) {
      const [a, b] = await Promise.all([operator.downloadWeights(sequential.federationId, round), operator.downloadWeights(pooled.federationId, round)]);
      assert.deepEqual(Buffer.from(b.weights.buffer), Buffer.from(a.weights.buffer), `round ${round}: published weights differ`);
    }
    assert.deepEqual(pooled.rounds.map((round) => round.logLoss), sequential.rounds.map((round) => round.logLoss));
    // The comparison can tell runs apart: another seed (other shuffles) publishes other weights.
    const reseeded = await runSimulation(smallRun({ ...mlp, workers: 3, training: { ...smallRun().training, seed: 12 } }));
    assert.notDeepEqual(Buffer.from(reseeded.finalWeights.buffer), Buffer.from(pooled.finalWeights.buffer));
  });
});

describe('committee inboxes summed on worker threads', () => {
  it('publishes the same secure model as members summing on the main thread', async () => {
    const secure = { committee: 5, threshold: 3, dropout: 0, committeeDropout: 0, clipNorm: 1000 };
    const sequential = await runSimulation(smallRun({ mode: 'secure', secure, workers: 1 }));
    const pooled = await runSimulation(smallRun({ mode: 'secure', secure, workers: 2 }));
    // How many of the 5 partial sums arrive before the round settles on 3 depends on timing, not on where they are computed.
    assert.deepEqual(pooled.rounds.map((round) => [round.status, round.owners, round.partialSums! >= 3]), sequential.rounds.map((round) => [round.status, round.owners, true]));
    // Field sums are exact and training is bit-identical on the pool: the reconstructed models are too.
    for (const round of [1, 2, 3]) {
      const [a, b] = await Promise.all([operator.downloadWeights(sequential.federationId, round), operator.downloadWeights(pooled.federationId, round)]);
      assert.deepEqual(Buffer.from(b.weights.buffer), Buffer.from(a.weights.buffer), `round ${round}: published weights differ`);
    }
  });
});

describe('a secure federated run over HTTP', () => {
  const secure = { committee: 5, threshold: 3, dropout: 0, committeeDropout: 0, clipNorm: 1000 };

  it('gives the plain-mode model to within fixed-point precision, on the same owners, data and seed', async () => {
    const plain = await runSimulation(smallRun());
    const shared = await runSimulation(smallRun({ mode: 'secure', secure }));
    assert.deepEqual(shared.rounds.map((round) => [round.round, round.status, round.owners]), [
      [1, 'closed', 20],
      [2, 'closed', 20],
      [3, 'closed', 20],
    ]);
    const maxDiff = Math.max(...Array.from(plain.finalWeights, (w, i) => Math.abs(w - shared.finalWeights[i]!)));
    assert.ok(maxDiff <= 1e-4, `max |Δweight| ${maxDiff}`);
    assert.equal(shared.final.accuracy.toFixed(3), plain.final.accuracy.toFixed(3));
    assert.equal(shared.final.auc.toFixed(3), plain.final.auc.toFixed(3));
    const rounds = await operator.listRounds(shared.federationId);
    assert.ok(rounds.every((round) => round.aggregation === 'secure' && round.secure?.includedCount === 20));
    // The server kept no plaintext update for the secure federation — only envelopes and partial sums —
    // while the plain federation's 60 updates are where they should be.
    const stored = async (federationId: string) => ({
      updates: await database.prisma.update.count({ where: { round: { federationId } } }),
      envelopes: await database.prisma.shareEnvelope.count({ where: { round: { federationId } } }),
      partialSums: await database.prisma.partialSum.count({ where: { round: { federationId } } }),
    });
    const summed = rounds.reduce((sum, round) => sum + round.secure!.partialSumCount, 0);
    assert.ok(summed >= 3 * 3, `at least t partial sums per round, got ${summed}`);
    assert.deepEqual(await stored(shared.federationId), { updates: 0, envelopes: 3 * 20 * 5, partialSums: summed });
    assert.deepEqual(await stored(plain.federationId), { updates: 3 * 20, envelopes: 0, partialSums: 0 });
  });

  it('completes every round with 10 % of owners and k − t committee members dropping out', async () => {
    const result = await runSimulation(smallRun({ mode: 'secure', secure: { ...secure, dropout: 0.1, committeeDropout: 2 } }));
    assert.deepEqual(result.rounds.map((round) => [round.status, round.owners, round.partialSums]), [
      ['closed', 18, 3],
      ['closed', 18, 3],
      ['closed', 18, 3],
    ]);
    assert.ok(result.final.auc > 0.75, `AUC ${result.final.auc}`);
  });
});

describe('federated evaluation over HTTP', () => {
  for (const mode of ['plain', 'secure'] as const) {
    it(`${mode}: the owners' agents score the final version on their own rows, and the server's report is the central one`, async () => {
      const secure = { committee: 5, threshold: 3, dropout: 0.1, committeeDropout: 2, clipNorm: 1000 };
      const result = await runSimulation(smallRun({ mode, ...(mode === 'secure' && { secure }), evaluate: true }));
      const evaluation = result.federatedEvaluation!;
      assert.deepEqual([evaluation.round, evaluation.modelVersion, evaluation.owners], [4, result.final.modelVersion, 20], 'every owner, dropouts of training rounds included');
      const weights = Float32Array.from((await operator.getModelWeights(result.federationId, evaluation.modelVersion)).weights);
      const central = modelReport(predictProba({ kind: 'logreg' }, weights, train.X), train.y);
      const report = evaluation.report;
      assert.deepEqual([report.rows, report.positives], [central.rows, central.positives]);
      assert.deepEqual(report.confusion, central.confusion);
      assert.deepEqual(report.scoreHistogram, central.scoreHistogram);
      assert.equal(report.accuracy, central.accuracy);
      assert.ok(Math.abs(report.auc! - central.auc) <= evaluation.aucResolution!, `AUC ${report.auc} vs ${central.auc} ± ${evaluation.aucResolution}`);
      assert.ok(Math.abs(report.logLoss! - central.logLoss) < 1e-6, `log loss ${report.logLoss} vs ${central.logLoss}`);
      const round = await operator.getRound(result.federationId, evaluation.round);
      assert.deepEqual([round.kind, round.status, round.evaluation?.afterTraining], ['evaluation', 'closed', true]);
    });
  }
});

describe('differentially private runs over HTTP', () => {
  const budget = { epsilon: 4, delta: 1e-5, clipNorm: 2 };

  it('spend the budget over the planned rounds, plain and secure, and the server refuses one round more', async () => {
    for (const mode of ['plain', 'secure'] as const) {
      const result = await runSimulation(smallRun({ mode, privacy: budget, ...(mode === 'secure' && { secure: { committee: 3, threshold: 2, dropout: 0, committeeDropout: 0, clipNorm: 100 } }) }));
      const epsilons = result.rounds.map((round) => round.epsilon!);
      assert.ok(epsilons.every((e, i) => i === 0 || e > epsilons[i - 1]!), `${mode}: ε grows: ${epsilons}`);
      assert.ok(epsilons[2]! <= 4 && epsilons[2]! > 3.9, `${mode}: the solved noise spends (nearly) the whole budget: ${epsilons}`);
      assert.deepEqual(result.rounds.map((round) => round.owners), [20, 20, 20]);
      assert.equal(result.privacy!.spent, epsilons[2]);
      const error = await operator.openRound(result.federationId).catch((e: unknown) => e);
      assert.ok(error instanceof FedscoreApiError && error.problemSlug === 'privacy-budget-exhausted', `${mode}: ${String(error)}`);
    }
  });

  it('with Poisson sampling each round takes only the owners its seed samples', async () => {
    const result = await runSimulation(smallRun({ privacy: { ...budget, epsilon: 8, sampleRate: 0.5 } }));
    const owners = result.rounds.map((round) => round.owners);
    assert.ok(owners.every((n) => n > 0 && n < 20), `sampled owners per round: ${owners}`);
    const rounds = await operator.listRounds(result.federationId);
    for (const round of rounds) assert.equal(round.sampling!.rate, 0.5);
    assert.equal(new Set(rounds.map((round) => round.sampling!.seed)).size, 3, 'a fresh seed every round');
  });
});

describe('federated standardisation over HTTP', () => {
  /** crx's schema without the operator's means and stds: the federation computes them from the owners' rows. */
  const pending = (): DatasetSchema => ({ ...schema, columns: schema.columns.map((c) => (c.type === 'numeric' ? { name: c.name, type: 'numeric' as const, range: c.range! } : c)) });
  /** The owners' rows as read, dealt as shardRows deals encoded rows (row i to owner i mod 20). */
  const recordShards = () =>
    Array.from({ length: 20 }, (_, owner) => ({
      records: trainRecords.records.filter((_, i) => i % 20 === owner),
      lineNumbers: trainRecords.lineNumbers.filter((_, i) => i % 20 === owner),
    }));
  const numeric = ['A2', 'A3', 'A8', 'A11', 'A14', 'A15'];

  it('computes the central means and stds (plain: to float precision; secure: to fixed-point precision) and trains the same model', async () => {
    // What the operator would have computed with every training row in one place.
    const central = computeNumericStats(pending(), trainRecords.records);
    const centralRun = await runSimulation(smallRun({ schema: central, shards: shardRows(encodeRows(central, trainRecords), 20), evaluation: encodeRows(central, testRecords) }));
    const secure = { committee: 3, threshold: 2, dropout: 0, committeeDropout: 0, clipNorm: 1000 };
    for (const mode of ['plain', 'secure'] as const) {
      const run = await runSimulation(smallRun({ mode, ...(mode === 'secure' && { secure }), schema: pending(), shards: recordShards(), evaluation: testRecords }));
      assert.deepEqual([run.statistics!.round, run.statistics!.owners], [1, 20], `${mode}: round 1 computed the statistics from every owner`);
      assert.deepEqual(run.rounds.map((round) => round.round), [2, 3, 4], `${mode}: then the three training rounds`);
      const federation = await operator.getFederation(run.federationId);
      assert.equal(federation.standardisation!.source, 'federated');
      for (const name of numeric) {
        const expected = central.columns.find((c) => c.name === name) as { mean: number; std: number; range: [number, number] };
        const got = federation.standardisation!.columns[name]!;
        const unit = mode === 'plain' ? 1e-9 * Math.abs(expected.mean) : (expected.range[1] - expected.range[0]) * 2 ** -FIXED_POINT_BITS;
        assert.ok(Math.abs(got.mean - expected.mean) <= unit, `${mode} ${name}: mean ${got.mean} vs ${expected.mean}`);
        const stdUnit = mode === 'plain' ? 1e-9 * expected.std : (unit * (expected.range[1] - expected.range[0])) / expected.std;
        assert.ok(Math.abs(got.std - expected.std) <= stdUnit, `${mode} ${name}: std ${got.std} vs ${expected.std}`);
      }
      const maxDiff = Math.max(...Array.from(run.finalWeights, (w, i) => Math.abs(w - centralRun.finalWeights[i]!)));
      assert.ok(maxDiff <= 1e-3, `${mode}: max |Δweight| from the centrally standardised run ${maxDiff}`);
      assert.equal(run.final.accuracy.toFixed(2), centralRun.final.accuracy.toFixed(2), `${mode}: accuracy`);
      assert.equal(run.final.auc.toFixed(2), centralRun.final.auc.toFixed(2), `${mode}: AUC`);
    }
  });
});

describe('a plain federated run over HTTP', () => {
  it('closes every round, publishes a version per round and beats chance on held-out rows', async () => {
    const progress: string[] = [];
    const result = await runSimulation({ ...smallRun(), onProgress: (event) => progress.push(event.phase) });

    assert.equal(result.owners, 20);
    assert.deepEqual(result.rounds.map((round) => [round.round, round.owners, round.modelVersion]), [
      [1, 20, 1],
      [2, 20, 2],
      [3, 20, 3],
    ]);
    const rounds = await operator.listRounds(result.federationId);
    assert.deepEqual(rounds.map((round) => [round.number, round.status, round.submissionCount]), [
      [1, 'closed', 20],
      [2, 'closed', 20],
      [3, 'closed', 20],
    ]);
    const models = await operator.listModels(result.federationId);
    assert.deepEqual(models.map((model) => model.version).sort(), [0, 1, 2, 3]);
    const latest = await operator.getModel(result.federationId, 'latest');
    assert.equal(latest.version, 3);
    assert.equal(latest.metrics.owners, 20);
    assert.equal(latest.metrics.samples, 522);

    const positives = test.y.reduce((sum, label) => sum + label, 0);
    const majority = Math.max(positives, test.y.length - positives) / test.y.length;
    assert.ok(result.final.accuracy > majority, `accuracy ${result.final.accuracy} vs majority class ${majority}`);
    assert.ok(result.final.auc > 0.75, `AUC ${result.final.auc}`);
    assert.equal(progress.filter((phase) => phase === 'enrol').length, 20);
    assert.equal(progress.filter((phase) => phase === 'round').length, 60);

    // The server's own view of the published model agrees with the client's evaluation.
    const weights = await operator.getModelWeights(result.federationId, 3);
    assert.deepEqual(Float32Array.from(weights.weights), result.finalWeights);
  });

  it('gives bit-identical weights for the same seed and different ones for another seed', async () => {
    const first = await runSimulation(smallRun({ concurrency: 8 }));
    const again = await runSimulation(smallRun({ concurrency: 3 }));
    assert.notEqual(first.federationId, again.federationId);
    assert.deepEqual(again.finalWeights, first.finalWeights);
    const other = await runSimulation(smallRun({ training: { ...smallRun().training, seed: 12 } }));
    assert.notDeepEqual(other.finalWeights, first.finalWeights);
  });
});

describe('the owner agent at the edges of a round', () => {
  it('submits once per round, trusts the server’s record after losing its own, and notes how the round ended', async () => {
    const { federation, enrolmentToken } = await operator.createFederation({
      name: 'e2e agent edges',
      datasetSchema: schema,
      model: { kind: 'logreg' },
      training: { rounds: 1, localEpochs: 1, batchSize: 4, learningRate: 0.1, minOwners: 2, autoAdvance: true, seed: 1 },
    });
    const enrol = async (name: string) => {
      const enrolled = await anonymous.enrolOwner(federation.id, { enrolmentToken, name });
      return { client: anonymous.withApiKey(enrolled.apiKey), ownerId: enrolled.owner.id };
    };
    const [one, two] = shardRows(train, 2);
    const ownerOne = await enrol('one');
    const events: AgentEvent[] = [];
    const agentFor = (owner: { client: FedscoreClient; ownerId: string }, data: { X: Float32Array[]; y: Uint8Array }, journal = new MemoryJournal()) =>
      new OwnerAgent({ ...owner, federation, charter: federation.charter as Charter, data, journal, localSeed: () => 1, onEvent: (event) => events.push(event) });
    const journal = new MemoryJournal();
    const agent = agentFor(ownerOne, one!, journal);

    await operator.openRound(federation.id);
    const open = await ownerOne.client.getCurrentRound(federation.id);
    await agent.handle(open);
    await agent.handle(open); // the journal says submitted: no second request
    assert.equal((await operator.getRound(federation.id, 1)).submissionCount, 1);
    assert.deepEqual(events.map((e) => e.type), ['submitted']);
    assert.deepEqual(journal.entries().map((e) => e.event), ['trained', 'submitted']);

    // A fresh journal (a lost state directory) but the server's view says this owner already submitted.
    const seen = await ownerOne.client.getCurrentRound(federation.id);
    assert.equal(seen.participation?.submitted, true);
    await agentFor(ownerOne, one!).handle(seen);
    assert.equal(events.at(-1)?.type, 'already-submitted');
    // Even a stale view without that record sends at most a refused duplicate, never a second update.
    await agentFor(ownerOne, one!).handle(open);
    assert.equal(events.at(-1)?.type, 'already-submitted');
    assert.equal((await operator.getRound(federation.id, 1)).submissionCount, 1);

    const ownerTwo = await enrol('two');
    await agentFor(ownerTwo, two!).handle(await ownerTwo.client.getCurrentRound(federation.id));
    const closed = await operator.getRound(federation.id, 1);
    assert.deepEqual([closed.status, closed.submissionCount, closed.modelVersion], ['closed', 2, 1]);
    await agent.handle(closed);
    assert.deepEqual(events.at(-1), { type: 'round-ended', round: 1, kind: 'training', status: 'closed', modelVersion: 1, failureReason: null });
  });

  it('sends the update it prepared before a crash instead of training again', async () => {
    const { federation, enrolmentToken } = await operator.createFederation({
      name: 'e2e agent resume',
      datasetSchema: schema,
      model: { kind: 'logreg' },
      training: { rounds: 1, localEpochs: 1, batchSize: 4, learningRate: 0.1, minOwners: 2, autoAdvance: false, seed: 1 },
    });
    const size = federation.featureNames.length + 1;
    const owners = await Promise.all(
      ['one', 'two'].map(async (name) => {
        const enrolled = await anonymous.enrolOwner(federation.id, { enrolmentToken, name });
        return { client: anonymous.withApiKey(enrolled.apiKey), ownerId: enrolled.owner.id };
      }),
    );
    await operator.openRound(federation.id);
    // What a crash between saving and sending leaves: a pending update the server has not seen.
    const prepared = Array.from({ length: size }, (_, i) => ((i % 5) - 2) / 10);
    const events: AgentEvent[] = [];
    const journals = owners.map(() => new MemoryJournal());
    await journals[0]!.savePending({ kind: 'update', round: 1, samples: 3, loss: 0.4, body: { weights: prepared, numSamples: 3, metrics: { loss: 0.4 } } });
    await journals[1]!.savePending({ kind: 'update', round: 1, samples: 1, loss: 0.2, body: { weights: prepared.map((w) => -w), numSamples: 1, metrics: {} } });
    const [one, two] = shardRows(train, 2);
    for (const [i, owner] of owners.entries()) {
      const agent = new OwnerAgent({ ...owner, federation, charter: federation.charter as Charter, data: [one!, two!][i]!, journal: journals[i]!, localSeed: () => 1, onEvent: (e) => events.push(e) });
      await agent.handle(await owner.client.getCurrentRound(federation.id));
    }
    assert.deepEqual(events.map((e) => e.type === 'submitted' && [e.round, e.samples, e.resent]), [[1, 3, true], [1, 1, true]]);
    assert.deepEqual(journals[0]!.entries().map((e) => e.event), ['submitted'], 'no training entry: nothing was trained');
    assert.equal(await journals[0]!.loadPending(1), undefined, 'the pending update is gone once acknowledged');
    // The published model is exactly the weighted mean of the two prepared updates: (3·w − 1·w) / 4 = w / 2.
    const published = await operator.getModelWeights(federation.id, 1);
    assert.deepEqual(published.weights, prepared.map((w) => Math.fround(w / 2)));
  });

  it('surfaces a refusal as FedscoreApiError with the problem, and changes nothing', async () => {
    const { federation, enrolmentToken } = await operator.createFederation({
      name: 'e2e forbidden',
      datasetSchema: schema,
      model: { kind: 'logreg' },
    });
    const enrolled = await anonymous.enrolOwner(federation.id, { enrolmentToken, name: 'o' });
    const owner = anonymous.withApiKey(enrolled.apiKey);
    const error = await owner.openRound(federation.id).catch((e: unknown) => e);
    assert.ok(error instanceof FedscoreApiError, String(error));
    assert.equal(error.status, 403);
    assert.match(error.problem.type, /\/forbidden$/);
    assert.deepEqual(await operator.listRounds(federation.id), []);

    const unauthenticated = await anonymous.listFederations().catch((e: unknown) => e);
    assert.ok(unauthenticated instanceof FedscoreApiError);
    assert.equal(unauthenticated.status, 401);
  });
});
