/**
 * Scale-out on PostgreSQL: three `fedscore serve` processes on one database, behind a balancer that sends
 * every request to an instance picked at random, behave as one server. A secure crx run (one owner per
 * applicant) goes through them while one instance is SIGKILLed with a share upload in flight in round 1
 * (and replaced) and another with a partial sum in flight in round 2 (and not replaced): every round
 * still publishes exactly one model, bit-identical to the same run on a single instance. Then what an
 * instance keeps in memory is shown not to be needed: an encrypted-prediction session opened on one
 * instance scores on another after the first is killed, and a round whose opener is killed fails at its
 * deadline on another.
 *
 * PostgreSQL only: several processes on one SQLite file are not the deployment this is about.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { FedscoreApiError, FedscoreClient } from '../../src/client/http-client.js';
import { AGENT_RETRY } from '../../src/client/retry.js';
import { runSimulation } from '../../src/client/simulation.js';
import { closeKeySession, createKeySession, decryptScores, encryptApplicants } from '../../src/crypto/ckks/client.js';
import { encodeMaterial } from '../../src/crypto/ckks/material.js';
import { ckksParamSet } from '../../src/crypto/ckks/params.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { createEncoder } from '../../src/ml/preprocess.js';
import { initTf } from '../../src/ml/tf.js';
import { crxSchema, waitFor } from '../helpers/app.js';
import { startCluster, startServe, type Cluster, type ServeProcess } from '../helpers/cluster.js';
import { crxSecureRun, loadCrx, type CrxData } from '../helpers/crx-secure-run.js';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.js';

const OWNERS = 64;
const ROUNDS = 3;
// Quick sweeps and cross-instance wake-ups, so a round whose instance died is picked up soon.
const SERVE_ENV = { DEADLINE_SWEEP_MS: '200', ROUND_WAIT_POLL_MS: '100', HE_WORKERS: '1' };
const skip =
  testDatabaseKind() === 'postgres'
    ? false
    : 'PostgreSQL only: several server processes share one database (run with FEDSCORE_TEST_DB=postgres, as `npm run test:pg` does)';

describe('three fedscore serve processes on one PostgreSQL, behind a random balancer', { skip }, () => {
  const adminKey = randomBytes(24).toString('base64url');
  let data: CrxData;
  let single: { target: TestDatabase; server: ServeProcess; database: Database };
  let shared: { target: TestDatabase; cluster: Cluster; database: Database };
  const client = (url: string) => new FedscoreClient({ baseUrl: url, apiKey: adminKey, retry: AGENT_RETRY });
  const live = () => shared.cluster.instances.filter((instance) => instance.running());

  before(async () => {
    await initTf('cpu');
    data = await loadCrx();
    const [singleTarget, sharedTarget] = await Promise.all([createTestDatabase('postgres'), createTestDatabase('postgres')]);
    // All four at once: the three cluster instances also migrate their new database together.
    const [server, cluster] = await Promise.all([
      startServe({ database: singleTarget, adminKey, env: SERVE_ENV }),
      startCluster(3, { database: sharedTarget, adminKey, env: SERVE_ENV }),
    ]);
    const open = (target: TestDatabase) => openDatabase({ databaseUrl: target.databaseUrl, dataDir: target.dataDir });
    single = { target: singleTarget, server, database: await open(singleTarget) };
    shared = { target: sharedTarget, cluster, database: await open(sharedTarget) };
  });

  after(async () => {
    await single?.database.close();
    await shared?.database.close();
    await single?.server.kill();
    await shared?.cluster.close();
    await single?.target.cleanup();
    await shared?.target.cleanup();
  });

  it('publish one model per round, bit-identical to one instance, while instances die mid share-upload and mid partial-sum', async (t) => {
    const reference = await runSimulation(crxSecureRun(client(single.server.url), data, OWNERS, ROUNDS));

    const { cluster } = shared;
    cluster.killDuring('POST', /\/rounds\/1\/shares$/, OWNERS / 2, { restart: true });
    cluster.killDuring('POST', /\/rounds\/2\/partial-sums$/, 3);
    const run = await runSimulation(crxSecureRun(client(cluster.balancer.url), data, OWNERS, ROUNDS));

    assert.equal(cluster.kills.length, 2, 'one instance killed in round 1, another in round 2');
    for (const kill of cluster.kills) {
      assert.deepEqual(await kill.exit, { code: null, signal: 'SIGKILL' });
      const answer = await kill.request.answered;
      t.diagnostic(`killed ${kill.victim.url} with ${kill.request.method} ${kill.request.path} in flight; ${answer === null ? 'it never answered' : `it had answered ${answer}`}`);
    }
    const replacement = await cluster.kills[0]!.replacement!;
    assert.ok(cluster.balancer.backends.includes(replacement.url), 'the replacement instance joined the balancer');
    assert.equal(live().length, 2, 'two of the four instances started are still running');

    assert.deepEqual(run.rounds.map((round) => [round.round, round.status, round.owners]), [
      [1, 'closed', OWNERS],
      [2, 'closed', OWNERS],
      [3, 'closed', OWNERS],
    ]);
    const rounds = await shared.database.prisma.round.findMany({ where: { federationId: run.federationId }, orderBy: { number: 'asc' } });
    assert.deepEqual(rounds.map((round) => [round.number, round.status, round.includedCount]), [
      [1, 'closed', OWNERS],
      [2, 'closed', OWNERS],
      [3, 'closed', OWNERS],
    ], 'three rounds, each closed once with every owner included, and no fourth');
    assert.ok(rounds.every((round) => round.partialSumCount >= 3), 'each round reconstructed from at least t partial sums');

    const versions = async (database: Database, federationId: string) =>
      database.prisma.modelVersion.findMany({ where: { federationId }, orderBy: { version: 'asc' }, select: { version: true, roundNumber: true, weights: true } });
    const published = await versions(shared.database, run.federationId);
    assert.deepEqual(published.map((version) => [version.version, version.roundNumber]), [
      [0, null],
      [1, 1],
      [2, 2],
      [3, 3],
    ], 'exactly one model version per round');
    const federation = await shared.database.prisma.federation.findUniqueOrThrow({ where: { id: run.federationId } });
    assert.equal(federation.latestModelVersion, ROUNDS);

    const expected = await versions(single.database, reference.federationId);
    assert.equal(expected.length, published.length);
    for (const [i, version] of published.entries()) {
      assert.ok(Buffer.from(version.weights).equals(Buffer.from(expected[i]!.weights)), `model version ${version.version}: the weights differ from the single instance's`);
    }
    assert.ok(Buffer.from(run.finalWeights.buffer).equals(Buffer.from(reference.finalWeights.buffer)), 'the final weights as the operator downloaded them');
  });

  it('score an encrypted-prediction session on an instance that never saw it, after the instance it was opened on is killed', async () => {
    const [opener, scorer] = live();
    assert.ok(opener && scorer, 'two instances are running');
    const { federationId, featureCount } = await publishModel(client(opener.url), (i) => ((i % 7) - 3) / 10);
    const session = await createKeySession(ckksParamSet('n4096'), 'batched', { kind: 'linear', inputSize: featureCount, units: 0 });
    try {
      const created = await client(opener.url).createHeSession(federationId, encodeMaterial(session.publicMaterial));
      await opener.kill('SIGKILL');
      const records = data.testRecords.records.slice(0, 40);
      const encoder = createEncoder((await client(scorer.url).getFederation(federationId)).datasetSchema);
      const responses = await client(scorer.url).predictEncrypted(created.id, encryptApplicants(session, records.map((record) => encoder.encode(record))));
      const logits = decryptScores(session, responses, records.length);
      const plain = await client(scorer.url).predict(federationId, { records });
      const expected = plain.predictions.map((prediction) => Math.log(prediction.score / (1 - prediction.score)));
      assert.ok(new Set(expected.map((logit) => logit.toFixed(2))).size > 10, 'the applicants score differently');
      expected.forEach((logit, i) => assert.ok(Math.abs(logits[i]! - logit) <= 5e-3, `applicant ${i}: encrypted logit ${logits[i]}, plain ${logit}`));
    } finally {
      closeKeySession(session);
    }
  });

  it('fail a round at its deadline on another instance once the instance that opened it is killed', async () => {
    const [survivor] = live();
    assert.ok(survivor, 'an instance is running');
    // An opener that never sweeps by itself: whoever fails the round, it is not this one.
    const opener = await startServe({ database: shared.target, adminKey, env: { ...SERVE_ENV, DEADLINE_SWEEP_MS: '3600000' } });
    const operator = client(opener.url);
    const { federation, enrolmentToken } = await operator.createFederation({
      name: 'deadline',
      datasetSchema: crxSchema,
      model: { kind: 'logreg' },
      training: { rounds: 3, minOwners: 2, roundDeadlineSeconds: 1, autoAdvance: true },
    });
    const owners = await Promise.all([0, 1].map((i) => operator.enrolOwner(federation.id, { enrolmentToken, name: `owner ${i}` })));
    await operator.openRound(federation.id);
    assert.deepEqual(await opener.kill('SIGKILL'), { code: null, signal: 'SIGKILL' });

    const other = client(survivor.url);
    await waitFor('another instance to fail round 1', async () => (await other.getRound(federation.id, 1)).status === 'failed');
    const failed = await other.getRound(federation.id, 1);
    assert.match(failed.failureReason ?? '', /deadline passed with 0 of 2 required updates/);
    assert.equal((await other.getFederation(federation.id)).latestModelVersion, 0, 'nothing published');
    const next = await other.getRound(federation.id, 2).catch((error: unknown) => error);
    assert.ok(next instanceof FedscoreApiError && next.problemSlug === 'round-not-found', 'no round opened after the failure');
    const late = await other.withApiKey(owners[0]!.apiKey).submitUpdate(federation.id, 1, { weights: new Array(federation.featureNames.length + 1).fill(0), numSamples: 1 }).catch((error: unknown) => error);
    assert.ok(late instanceof FedscoreApiError && late.status === 409, `a late update is refused: ${String(late)}`);
  });
});

/** A crx logistic regression whose version 1 holds `weight(i)` at index i: one owner submits them in a one-owner round. */
async function publishModel(operator: FedscoreClient, weight: (i: number) => number): Promise<{ federationId: string; featureCount: number }> {
  const { federation, enrolmentToken } = await operator.createFederation({
    name: 'encrypted scoring',
    datasetSchema: crxSchema,
    model: { kind: 'logreg' },
    training: { rounds: 1, minOwners: 1, autoAdvance: false },
  });
  const owner = await operator.enrolOwner(federation.id, { enrolmentToken, name: 'owner' });
  await operator.openRound(federation.id);
  const featureCount = federation.featureNames.length;
  await operator.withApiKey(owner.apiKey).submitUpdate(federation.id, 1, { weights: Array.from({ length: featureCount + 1 }, (_, i) => weight(i)), numSamples: 1 });
  return { federationId: federation.id, featureCount };
}
