/**
 * `fedscore operator` against a real server on port 0 over a real database: a plain and a secure
 * federation from schemas/crx.json, rounds opened, listed and closed, models listed and shown, the
 * enrolment token rotated, and the ways it goes wrong. The CLI runs in-process through runCli with captured
 * streams; owners act through the SDK, and the SDK is also the witness (the rotated-out token stops
 * enrolling). The enrolment token must appear on stdout exactly once and never on stderr.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/cli-io.js';
import { runCli } from '../../src/cli/main.js';
import { FedscoreApiError, FedscoreClient } from '../../src/client/http-client.js';
import { loadConfig } from '../../src/config.js';
import { buildShareUpload, sumInbox } from '../../src/client/secure-shares.js';
import { generateX25519KeyPair, type X25519KeyPair } from '../../src/crypto/envelope.js';
import { generateIdentityKeyPair, signCommitteeKey, type Ed25519KeyPair } from '../../src/crypto/identity.js';
import { readDataset } from '../../src/ml/csv.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
import { scoreTallies } from '../../src/ml/federated-evaluation.js';
import { encodeLabelledRecords } from '../../src/ml/preprocess.js';
import { predictProba } from '../../src/ml/train.js';
import { startServer } from '../../src/server.js';
import { createTestDatabase } from '../helpers/database.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const crxSchema = path.join(repoRoot, 'schemas', 'crx.json');
const crxSchemaJson = JSON.parse(readFileSync(crxSchema, 'utf8')) as DatasetSchema;
const sharedData = path.resolve(repoRoot, '..', 'shared', 'data');

let server: { url: string; close(): Promise<void> };
let cleanupDatabase: () => Promise<void>;
let scratch: string;
let adminKey: string;
let operator: FedscoreClient;
let anonymous: FedscoreClient;

interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** `fedscore operator …` with the server and key in the environment unless `env` says otherwise. */
async function op(args: string[], env?: NodeJS.ProcessEnv): Promise<Finished> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (chunk: string) => out.push(chunk) },
    stderr: { write: (chunk: string) => err.push(chunk) },
    env: env ?? { FEDSCORE_SERVER: server.url, FEDSCORE_API_KEY: adminKey },
  };
  const code = await runCli(['operator', ...args], io);
  return { code, stdout: out.join(''), stderr: err.join('') };
}

function ok(result: Finished): Finished {
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
  return result;
}

function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trimEnd().split('\n').at(-1)!) as T;
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

before(async () => {
  const target = await createTestDatabase();
  cleanupDatabase = target.cleanup;
  scratch = await mkdtemp(path.join(tmpdir(), 'fedscore-operator-e2e-'));
  adminKey = randomBytes(24).toString('base64url');
  server = await startServer(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: target.dataDir,
      DATABASE_URL: target.databaseUrl ?? '',
      ADMIN_API_KEY: adminKey,
      LOG_LEVEL: 'silent',
    }),
    { logger: false },
  );
  anonymous = new FedscoreClient({ baseUrl: server.url });
  operator = anonymous.withApiKey(adminKey);
});

after(async () => {
  await server?.close();
  await cleanupDatabase?.();
  await rm(scratch, { recursive: true, force: true });
});

describe('a plain federation run from the CLI', () => {
  let federationId: string;
  let token: string;
  /** The owners' own keys: they act through the SDK, as their agents would. */
  const ownerKeys: string[] = [];

  it('creates it from the crx schema alone and prints the enrolment token once, on stdout only', async () => {
    const result = ok(await op(['federation', 'create', '--schema', crxSchema]));
    const id = /^Created federation (\S+) \("crx"\)/.exec(result.stdout);
    assert.ok(id, result.stdout);
    federationId = id[1]!;
    const shown = /\n {2}(fse_\S+)\n/.exec(result.stdout);
    assert.ok(shown, result.stdout);
    token = shown[1]!;
    assert.equal(occurrences(result.stdout, token), 1);
    assert.match(result.stdout, /shown only this once/);
    assert.match(result.stdout, /aggregation +plain/);
    assert.match(result.stdout, /logistic regression; 43 encoded features/);
    assert.match(result.stdout, new RegExp(`fedscore operator round open --federation ${federationId}`));

    // What the server stored is what the flags (none) asked for: its own defaults.
    const federation = await operator.getFederation(federationId);
    assert.equal(federation.name, 'crx');
    assert.equal(federation.aggregation, 'plain');
    assert.deepEqual(federation.model, { kind: 'logreg' });
    assert.equal(federation.training.minOwners, 2);
    assert.equal(federation.latestModelVersion, 0);
  });

  it('shows it: schema columns and types, features, model, training, latest version, no round yet, owners', async () => {
    const text = ok(await op(['federation', 'show', '--federation', federationId])).stdout;
    assert.match(text, new RegExp(`^federation +${federationId}$`, 'm'));
    assert.match(text, /^aggregation +plain/m);
    assert.match(text, /^model +logistic regression; 43 encoded features$/m);
    assert.match(text, /^latest model +version 0 /m);
    assert.match(text, /^current round +none opened yet$/m);
    assert.match(text, /^owners +0 enrolled/m);
    assert.match(text, /^ {2}min owners per round +2$/m);
    assert.match(text, /^dataset schema: 16 columns, label A16/m);
    assert.match(text, /^ {2}A6 +categorical +one-hot, 14 values: c, d, /m);
    assert.match(text, /^ {2}A2 +numeric +standardised: mean 31\.39, std 11\.72, clipped to \[10, 90\] for the statistics$/m);
    assert.match(text, /^standardisation +the schema’s own means and standard deviations$/m);

    const json = lastJson<{ id: string; featureCount: number; currentRound: unknown; owners: { enrolled: number }; training: { rounds: number } }>(
      ok(await op(['federation', 'show', '--federation', federationId, '--json'])).stdout,
    );
    assert.equal(json.id, federationId);
    assert.equal(json.featureCount, 43);
    assert.equal(json.currentRound, null);
    assert.equal(json.owners.enrolled, 0);
    assert.equal(json.training.rounds, 20);
  });

  it('opens a round, refuses a second one while it is open, and lists it', async () => {
    for (const name of ['bank one', 'bank two']) ownerKeys.push((await anonymous.enrolOwner(federationId, { enrolmentToken: token, name })).apiKey);

    const opened = lastJson<{ number: number; status: string; minOwners: number; baseModelVersion: number }>(
      ok(await op(['round', 'open', '--federation', federationId, '--json'])).stdout,
    );
    assert.deepEqual([opened.number, opened.status, opened.minOwners, opened.baseModelVersion], [1, 'open', 2, 0]);

    const again = await op(['round', 'open', '--federation', federationId]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^fedscore operator: the server refused to open a round \(409 round-already-open\): openRound: round 1 is still open\n/);

    const table = ok(await op(['round', 'list', '--federation', federationId])).stdout.split('\n');
    assert.match(table[0]!, /^round +status +owners +model +opened +closed +failure$/);
    assert.match(table[1]!, /^ +1 +open +0\/2 +- +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +-$/);
  });

  it('follows a round the owners complete: a published version, the next round opened, the models', async () => {
    const base = await operator.getModelWeights(federationId, 'latest');
    for (const [i, key] of ownerKeys.entries()) {
      await anonymous.withApiKey(key).submitUpdate(federationId, 1, { weights: base.weights, numSamples: 10 + i, metrics: { loss: 0.5, accuracy: 0.75 } });
    }

    const rounds = lastJson<{ number: number; status: string; modelVersion: number | null; submissionCount: number }[]>(
      ok(await op(['round', 'list', '--federation', federationId, '--json'])).stdout,
    );
    assert.deepEqual(
      rounds.map((round) => [round.number, round.status, round.modelVersion, round.submissionCount]),
      [
        [1, 'closed', 1, 2],
        [2, 'open', null, 0],
      ],
    );

    const models = lastJson<{ version: number; roundNumber: number | null; metrics: { owners: number; samples: number; trainLoss: number | null } }[]>(
      ok(await op(['models', 'list', '--federation', federationId, '--json'])).stdout,
    );
    assert.deepEqual(
      models.map((model) => [model.version, model.roundNumber, model.metrics.owners, model.metrics.samples, model.metrics.trainLoss]),
      [
        [0, null, 0, 0, null],
        [1, 1, 2, 21, 0.5],
      ],
    );
    const table = ok(await op(['models', 'list', '--federation', federationId])).stdout.split('\n');
    assert.match(table[0]!, /^version +round +owners +samples +train loss +train accuracy +served +HE +created$/);
    assert.match(table[2]!, /^ +1 +1 +2 +21 +0\.5000 +0\.7500 +yes +\d{4}-/);

    const latest = lastJson<{ version: number; parameterCount: number; layout: { name: string }[]; heEvaluable: boolean }>(
      ok(await op(['models', 'show', '--federation', federationId, '--json'])).stdout,
    );
    assert.deepEqual([latest.version, latest.parameterCount, latest.layout.map((tensor) => tensor.name), latest.heEvaluable], [1, 44, ['output/kernel', 'output/bias'], true]);
    const first = ok(await op(['models', 'show', '--federation', federationId, '--version', '0'])).stdout;
    assert.match(first, /^version +0$/m);
    assert.match(first, /^published +.*at creation \(the seeded initial weights\)$/m);
    assert.match(first, /^parameters +44 in 2 tensors$/m);

    const show = ok(await op(['federation', 'show', '--federation', federationId])).stdout;
    assert.match(show, /^latest model +version 1$/m);
    assert.match(show, /^current round +round 2 open: 0 of 2 owners submitted/m);
    assert.match(show, /^owners +2 enrolled \(2 data owners, 0 aggregators\)$/m);
  });

  it('closes a round short of owners: it fails, the previous model stays, closing again is refused', async () => {
    const closed = ok(await op(['round', 'close', '--federation', federationId, '--round', '2'])).stdout;
    assert.equal(closed, 'Round 2 failed: closed by the operator with 0 of 2 required updates; the previous model stays.\n');
    assert.equal((await operator.getFederation(federationId)).latestModelVersion, 1);

    const again = await op(['round', 'close', '--federation', federationId, '--round', '2', '--json']);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^fedscore operator: the server refused to close round 2 \(409 round-not-open\): /);

    const rounds = ok(await op(['round', 'list', '--federation', federationId])).stdout;
    assert.match(rounds, /\n +2 +failed +0\/2 +- +\S+ +\S+ +closed by the operator with 0 of 2 required updates\n/);
  });

  it('rotates the enrolment token: the new one is printed once and works, the old one stops working', async () => {
    const result = ok(await op(['enrolment-token', 'rotate', '--federation', federationId]));
    const fresh = /\n {2}(fse_\S+)\n/.exec(result.stdout)?.[1];
    assert.ok(fresh, result.stdout);
    assert.notEqual(fresh, token);
    assert.equal(occurrences(result.stdout, fresh), 1);
    assert.match(result.stdout, /previous token no longer enrols anyone/);

    const refused = await anonymous.enrolOwner(federationId, { enrolmentToken: token, name: 'late bank' }).catch((error: unknown) => error);
    assert.ok(refused instanceof FedscoreApiError, String(refused));
    assert.equal(refused.status, 401);
    const enrolled = await anonymous.enrolOwner(federationId, { enrolmentToken: fresh, name: 'late bank' });
    assert.equal(enrolled.owner.federationId, federationId);

    const json = await op(['enrolment-token', 'rotate', '--federation', federationId, '--json']);
    const rotated = lastJson<{ federationId: string; enrolmentToken: string }>(ok(json).stdout);
    assert.equal(rotated.federationId, federationId);
    assert.equal(occurrences(json.stdout, rotated.enrolmentToken), 1);
    assert.equal(json.stdout.trimEnd().split('\n').length, 1, 'with --json only the JSON line');
  });
});

describe('keys and owners from the CLI', () => {
  it('issues a scoped key printed once that scores, lists it, rotates and revokes it; removes an owner', async () => {
    const created = lastJson<{ federationId: string; enrolmentToken: string }>(ok(await op(['federation', 'create', '--schema', crxSchema, '--json'])).stdout);
    const federationId = created.federationId;
    const issued = ok(await op(['keys', 'issue', '--federation', federationId, '--scopes', 'predict,read', '--label', 'scoring system']));
    const key = /\n {2}(fsl_\S+)\n/.exec(issued.stdout)?.[1];
    assert.ok(key, issued.stdout);
    assert.equal(occurrences(issued.stdout, key), 1);
    const lender = anonymous.withApiKey(key);
    assert.equal((await lender.getFederation(federationId)).id, federationId, 'the read scope reads');
    const forbidden = await lender.listOwners(federationId).catch((error: unknown) => error);
    assert.ok(forbidden instanceof FedscoreApiError && forbidden.status === 403);

    const listed = ok(await op(['keys', 'list', '--federation', federationId]));
    assert.match(listed.stdout, /scoring system\s+predict,read/);
    assert.equal(occurrences(listed.stdout, key), 0, 'never the key itself');
    const keyId = lastJson<{ keys: { id: string }[] }>(ok(await op(['keys', 'list', '--federation', federationId, '--json'])).stdout).keys[0]!.id;

    const rotated = lastJson<{ apiKey: string }>(ok(await op(['keys', 'rotate', '--federation', federationId, '--key', keyId, '--json'])).stdout);
    const old = await lender.getFederation(federationId).catch((error: unknown) => error);
    assert.ok(old instanceof FedscoreApiError && old.status === 401, 'the old secret stopped');
    await anonymous.withApiKey(rotated.apiKey).getFederation(federationId);
    ok(await op(['keys', 'revoke', '--federation', federationId, '--key', keyId]));
    const revoked = await anonymous.withApiKey(rotated.apiKey).getFederation(federationId).catch((error: unknown) => error);
    assert.ok(revoked instanceof FedscoreApiError && revoked.status === 401);
    const again = await op(['keys', 'revoke', '--federation', federationId, '--key', keyId]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /revoked/);
    const badScope = await op(['keys', 'issue', '--federation', federationId, '--scopes', 'admin']);
    assert.equal(badScope.code, 2);
    assert.match(badScope.stderr, /unknown scope admin/);

    const enrolled = await anonymous.enrolOwner(federationId, { enrolmentToken: created.enrolmentToken, name: 'leaving bank' });
    const removed = ok(await op(['owners', 'remove', '--federation', federationId, '--owner', enrolled.owner.id]));
    assert.match(removed.stdout, /its key no longer works/);
    const gone = await anonymous.withApiKey(enrolled.apiKey).getFederation(federationId).catch((error: unknown) => error);
    assert.ok(gone instanceof FedscoreApiError && gone.status === 401);
  });
});

describe('model quality from the CLI: validation, selection, promotion, federated evaluation', () => {
  it('attaches a validation set, chooses the served version, and shows the owners’ own evaluation', async () => {
    const created = lastJson<{ federationId: string; enrolmentToken: string }>(
      ok(await op(['federation', 'create', '--schema', crxSchema, '--no-auto-advance', '--rounds', '2', '--json'])).stdout,
    );
    const { federationId } = created;
    const keys: string[] = [];
    for (const name of ['bank one', 'bank two']) keys.push((await anonymous.enrolOwner(federationId, { enrolmentToken: created.enrolmentToken, name })).apiKey);

    // The validation rows: every tenth complete line of crx (the file is sorted by class).
    const lines = readFileSync(path.join(sharedData, 'crx.data'), 'utf8').split('\n').filter((line) => line !== '' && !line.includes('?')).filter((_, i) => i % 10 === 0).slice(0, 60);
    const csv = path.join(scratch, 'validation.csv');
    await writeFile(csv, lines.join('\n') + '\n');
    const attached = ok(await op(['models', 'validation', '--federation', federationId, '--file', csv])).stdout;
    assert.match(attached, /^Attached the validation set/m);
    assert.match(attached, /^60 rows, \d+ positive; majority-class rate 0\.\d{4}/m);
    assert.match(attached, /^1 version\(s\) scored on it so far/m);
    const bad = path.join(scratch, 'bad-validation.csv');
    await writeFile(bad, 'b,30.83,0,u\n');
    const refused = await op(['models', 'validation', '--federation', federationId, '--file', bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /422 validation-failed/);

    // One round with a useful model (a tiny step from zero in the direction of the data), one evaluation.
    ok(await op(['round', 'open', '--federation', federationId]));
    const weights = Array.from({ length: 44 }, (_, i) => (i % 7 === 0 ? 0.3 : -0.05));
    for (const key of keys) await anonymous.withApiKey(key).submitUpdate(federationId, 1, { weights, numSamples: 5, metrics: {} });
    const selection = ok(await op(['models', 'selection', '--federation', federationId, '--rule', 'best', '--metric', 'auc', '--patience', '3'])).stdout;
    assert.match(selection, /^Selection: best by validation auc; early stopping after 3 versions without improvement\.$/m);

    const opened = ok(await op(['round', 'open', '--federation', federationId, '--evaluate', '1'])).stdout;
    assert.match(opened, /^Opened round 2 \(evaluation of model version 1\)\.$/m);
    assert.match(opened, /^evaluates +model version 1 on every owner's own rows/m);
    const model = await anonymous.withApiKey(keys[0]!).getModelWeights(federationId, 1);
    const rows = encodeLabelledRecords(crxSchemaJson, readDataset(lines.join('\n') + '\n', crxSchemaJson).records);
    const probs = predictProba({ kind: 'logreg' }, Float32Array.from(model.weights), rows.X);
    const labels = rows.y;
    for (const [i, key] of keys.entries()) {
      const mine = (_: unknown, row: number) => row % 2 === i;
      await anonymous.withApiKey(key).submitEvaluation(federationId, 2, { tallies: Array.from(scoreTallies(probs.filter(mine), labels.filter(mine))) });
    }
    const rounds = ok(await op(['round', 'list', '--federation', federationId])).stdout.split('\n');
    assert.match(rounds[2]!, /^ +2 +closed +2\/2 +eval 1 /);

    const table = ok(await op(['models', 'list', '--federation', federationId])).stdout.split('\n');
    assert.match(table[0]!, /^version +round +owners +samples +train loss +train accuracy +val acc +val AUC +val log loss +owners’ AUC +served +HE +created$/);
    const shown = ok(await op(['models', 'show', '--federation', federationId, '--version', '1'])).stdout;
    assert.match(shown, /^validation +60 rows: accuracy 0\.\d{4} \(majority rate 0\.\d{4}\), AUC 0\.\d{4}, log loss /m);
    assert.match(shown, /^owners’ evaluation +round 2: 2 owners scored version 1 on their own 60 rows \(\d+ positive\): accuracy 0\.\d{4}, AUC 0\.\d{4} ± 0\.\d{4}/m);

    // Promotion by hand: a version that does not exist is refused, an existing one becomes the served one.
    const missing = await op(['models', 'promote', '--federation', federationId, '--version', '9']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /404 model-version-not-found/);
    const promoted = ok(await op(['models', 'promote', '--federation', federationId, '--version', '1', '--json'])).stdout;
    const federation = lastJson<{ promotedModelVersion: number; selection: { rule: string } }>(promoted);
    assert.deepEqual([federation.promotedModelVersion, federation.selection.rule], [1, 'manual']);
    assert.match(ok(await op(['federation', 'show', '--federation', federationId])).stdout, /^selection +manual \(only the operator promotes\)/m);
  });
});

describe('a secure federation run from the CLI', () => {
  let federationId: string;
  let token: string;

  it('creates it with a committee of 3 and threshold 2, the token once in the JSON line', async () => {
    const result = ok(await op(['federation', 'create', '--schema', crxSchema, '--aggregation', 'secure', '--committee', '3', '--threshold', '2', '--json']));
    const created = lastJson<{
      federationId: string;
      enrolmentToken: string;
      aggregation: string;
      featureCount: number;
      secure: { committee: { size: number; threshold: number }; clipNorm: number };
      training: { minOwners: number };
    }>(result.stdout);
    federationId = created.federationId;
    token = created.enrolmentToken;
    assert.match(token, /^fse_/);
    assert.equal(occurrences(result.stdout, token), 1);
    assert.equal(created.aggregation, 'secure');
    assert.equal(created.featureCount, 43);
    assert.deepEqual(created.secure.committee, { size: 3, threshold: 2 });
    assert.equal(created.secure.clipNorm, 100, 'the server default');
    assert.equal(created.training.minOwners, 2);
  });

  it('refuses to open a round before enough committee volunteers, saying where to look', async () => {
    const result = await op(['round', 'open', '--federation', federationId]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^fedscore operator: the server refused to open a round \(409 committee-unavailable\): openRound: secure aggregation needs 3 committee members/);
    assert.match(result.stderr, /federation show` counts the candidates/);
    assert.deepEqual(await operator.listRounds(federationId), [], 'nothing was opened');
  });

  it('opens a round with its committee once three owners volunteered, and follows it through summing', async () => {
    const owners: { id: string; client: FedscoreClient; identity: Ed25519KeyPair; keys: X25519KeyPair }[] = [];
    for (const name of ['a', 'b', 'c']) {
      const { owner, apiKey } = await anonymous.enrolOwner(federationId, { enrolmentToken: token, name });
      const identity = generateIdentityKeyPair();
      const client = anonymous.withApiKey(apiKey);
      await client.registerIdentity(federationId, owner.id, { identityKey: Buffer.from(identity.publicKey).toString('base64'), committeeVolunteer: true });
      owners.push({ id: owner.id, client, identity, keys: generateX25519KeyPair() });
    }
    const show = ok(await op(['federation', 'show', '--federation', federationId])).stdout;
    assert.match(show, /^aggregation +secure \(committee of 3 per round, threshold 2: up to 1 member\(s\) may drop out; clip norm 100;/m);
    assert.match(show, /^owners +3 enrolled \(3 data owners, 0 aggregators\); 3 committee candidates, 3 needed to open a round$/m);

    const opened = ok(await op(['round', 'open', '--federation', federationId, '--deadline-seconds', '600'])).stdout;
    assert.match(opened, /^Opened round 1\.\n/);
    assert.match(opened, /^committee +3 members, 2 partial sums reconstruct the sum$/m);
    const opening = await operator.getRound(federationId, 1);
    assert.equal(opening.secure?.committee.length, 3);
    // Each seated member publishes its key for the round, signed by its identity, as its agent would.
    for (const seat of opening.secure!.committee) {
      const member = owners.find((owner) => owner.id === seat.ownerId)!;
      const statement = { federationId, roundNumber: 1, position: seat.position, memberId: member.id, publicKey: member.keys.publicKey };
      await member.client.publishCommitteeKey(federationId, 1, {
        publicKey: Buffer.from(member.keys.publicKey).toString('base64'),
        signature: Buffer.from(signCommitteeKey(statement, member.identity)).toString('base64'),
      });
    }
    const round = await operator.getRound(federationId, 1);
    assert.equal(round.secure?.keyed, true);
    // --deadline-seconds reached the server (the two timestamps are taken a moment apart).
    assert.ok(Math.abs(Date.parse(round.deadline) - Date.parse(round.openedAt) - 600_000) < 1000, `${round.openedAt} → ${round.deadline}`);
    for (const seat of round.secure!.committee) assert.match(opened, new RegExp(`^ +${seat.position}: ${seat.ownerId}$`, 'm'));

    const listed = async () => ok(await op(['round', 'list', '--federation', federationId]));
    const header = /^round +status +owners +included +partial sums +model +opened +closed +failure$/;
    let table = (await listed()).stdout.split('\n');
    assert.match(table[0]!, header);
    assert.match(table[1]!, /^ +1 +open +0\/2 +- +0\/2 +- +\S+ +-$/);

    // Two owners upload their shares (their weights unchanged, to keep the test about the CLI): summing.
    const base = Float32Array.from((await operator.getModelWeights(federationId, 0)).weights);
    for (const owner of owners.slice(0, 2)) {
      const upload = buildShareUpload({ federationId, ownerId: owner.id, round, base, trained: base, numSamples: 5 });
      await owner.client.uploadShares(federationId, 1, upload.body);
    }
    table = (await listed()).stdout.split('\n');
    assert.match(table[1]!, /^ +1 +summing +2\/2 +2 +0\/2 +- +\S+ +-$/);
    assert.match(ok(await op(['federation', 'show', '--federation', federationId])).stdout, /^current round +round 1 summing: 2 owners included, 0 of 2 partial sums, deadline /m);

    // Committee members sum their inboxes; the second partial sum reconstructs and publishes version 1.
    const member = (ownerId: string) => owners.find((owner) => owner.id === ownerId)!;
    const seats = round.secure!.committee;
    const inbox = await member(seats[0]!.ownerId).client.getInbox(federationId, 1);
    const partialSum = (ownerId: string, view: typeof inbox) => ({
      includedSetHash: view.includedSetHash,
      values: sumInbox({ federationId, memberId: ownerId, keys: member(ownerId).keys, inbox: view }),
    });
    await member(seats[0]!.ownerId).client.uploadPartialSum(federationId, 1, partialSum(seats[0]!.ownerId, inbox));
    table = (await listed()).stdout.split('\n');
    assert.match(table[1]!, /^ +1 +summing +2\/2 +2 +1\/2 +- +\S+ +-$/);
    const second = await member(seats[1]!.ownerId).client.getInbox(federationId, 1);
    await member(seats[1]!.ownerId).client.uploadPartialSum(federationId, 1, partialSum(seats[1]!.ownerId, second));

    table = (await listed()).stdout.split('\n');
    assert.match(table[1]!, /^ +1 +closed +2\/2 +2 +2\/2 +1 +\S+ +\S+$/);
    assert.match(table[2]!, /^ +2 +open +0\/2 +- +0\/2 +- +\S+ +-$/, 'auto-advance opened round 2');
    const models = lastJson<{ version: number; metrics: { owners: number; samples: number } }[]>(ok(await op(['models', 'list', '--federation', federationId, '--json'])).stdout);
    assert.deepEqual(models.map((model) => [model.version, model.metrics.owners, model.metrics.samples]), [
      [0, 0, 0],
      [1, 2, 10],
    ]);

    const closed = lastJson<{ number: number; status: string; failureReason: string }>(
      ok(await op(['round', 'close', '--federation', federationId, '--round', '2', '--json'])).stdout,
    );
    assert.deepEqual([closed.number, closed.status], [2, 'failed']);
    assert.match(closed.failureReason, /closed by the operator with 0 of 2 required updates/);
  });

  it('lists both federations', async () => {
    const text = ok(await op(['federation', 'list'])).stdout.split('\n');
    assert.match(text[0]!, /^id +name +aggregation +latest version +created$/);
    assert.ok(text.some((line) => line.startsWith(federationId) && /\bcrx +secure +1 +\d{4}-/.test(line)), text.join('\n'));
    const list = lastJson<{ id: string; aggregation: string }[]>(ok(await op(['federation', 'list', '--json'])).stdout);
    assert.ok(list.some((federation) => federation.id === federationId && federation.aggregation === 'secure'));
    assert.ok(list.some((federation) => federation.aggregation === 'plain'));
  });
});

describe('the CLI when things go wrong', () => {
  it('reports a bad schema file by name, exits 1 and creates nothing', async () => {
    const before = (await operator.listFederations()).length;
    const file = path.join(scratch, 'broken.json');
    await writeFile(file, JSON.stringify({ columns: [{ name: 'A1', type: 'text' }, { name: 'A16', type: 'binary', values: ['-', '+'] }], label: { column: 'A16', positive: '+' } }));
    const result = await op(['federation', 'create', '--schema', file]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(`^fedscore operator: --schema: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a dataset schema: columns\\.0\\.type: `));
    assert.equal(result.stderr.trimEnd().split('\n').length, 1);
    assert.equal((await operator.listFederations()).length, before);
  });

  it("prints the server's refusal one line per field, exits 1 and creates nothing", async () => {
    const before = (await operator.listFederations()).length;
    const result = await op(['federation', 'create', '--schema', crxSchema, '--learning-rate', '0']);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      'fedscore operator: the server refused the federation (422 validation-failed): body.training.learningRate: Too small: expected number to be >0\n',
    );
    const two = await op(['federation', 'create', '--schema', crxSchema, '--learning-rate', '0', '--rounds', '0']);
    assert.equal(two.code, 1);
    assert.deepEqual(two.stderr.trimEnd().split('\n').sort(), [
      'fedscore operator: the server refused the federation (422 validation-failed): body.training.learningRate: Too small: expected number to be >0',
      'fedscore operator: the server refused the federation (422 validation-failed): body.training.rounds: Too small: expected number to be >=1',
    ]);
    const secure = await op(['federation', 'create', '--schema', crxSchema, '--aggregation', 'secure', '--min-owners', '1']);
    assert.equal(secure.code, 1);
    assert.match(secure.stderr, /^fedscore operator: the server refused the federation \(422 validation-failed\): body\.training\.minOwners: expected at least 2 in secure mode\n$/);
    assert.equal((await operator.listFederations()).length, before);
  });

  it('creates a federation with a privacy budget, shows it, and refuses a negative ε without creating anything', async () => {
    const created = ok(await op(['federation', 'create', '--schema', crxSchema, '--name', 'dp', '--rounds', '5', '--dp-epsilon', '4', '--dp-clip', '2']));
    assert.match(created.stdout, /^ {2}privacy +budget ε = 4, δ = 0\.00001; clip 2, noise multiplier \d+(\.\d+)?, every owner in every round; spent ε = 0 over 0 round\(s\)$/m);
    const federationId = /^Created federation (\S+)/.exec(created.stdout)![1]!;
    const federation = await operator.getFederation(federationId);
    assert.equal(federation.privacy?.epsilon, 4);
    assert.equal(federation.privacy?.clipNorm, 2);
    assert.ok(federation.privacy!.noiseMultiplier > 0);
    assert.match(ok(await op(['federation', 'show', '--federation', federationId])).stdout, /^privacy +budget ε = 4, δ = 0\.00001; /m);

    const before = (await operator.listFederations()).length;
    const refused = await op(['federation', 'create', '--schema', crxSchema, '--dp-epsilon=-1', '--dp-clip', '2']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /^fedscore operator: the server refused the federation \(422 validation-failed\): body\.privacy\.epsilon: /);
    assert.equal((await operator.listFederations()).length, before);
  });

  it('says a wrong key was refused and where the key came from, exit 1', async () => {
    const result = await op(['federation', 'list', '--api-key', 'not-a-real-key'], { FEDSCORE_SERVER: server.url });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^fedscore operator: the server refused to list federations \(401 unauthorized\): /);
    assert.match(result.stderr, /\nfedscore operator: check --api-key or FEDSCORE_API_KEY: it must be an operator key/);
    assert.doesNotMatch(result.stderr, /not-a-real-key/, 'the key is not echoed');
  });

  it('says an owner key is not an operator key, exit 1', async () => {
    const { federationId, enrolmentToken } = lastJson<{ federationId: string; enrolmentToken: string }>(
      ok(await op(['federation', 'create', '--schema', crxSchema, '--name', 'owner-key check', '--json'])).stdout,
    );
    const { apiKey } = await anonymous.enrolOwner(federationId, { enrolmentToken, name: 'o' });
    const result = await op(['round', 'open', '--federation', federationId], { FEDSCORE_SERVER: server.url, FEDSCORE_API_KEY: apiKey });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^fedscore operator: the server refused to open a round \(403 forbidden\): openRound: requires the operator key; this key is an owner key\n/);
    assert.match(result.stderr, /operator commands need an operator key/);
  });

  it('needs a server: exit 2 with the subcommand usage when neither --server nor FEDSCORE_SERVER is set', async () => {
    const result = await op(['round', 'list', '--federation', 'x'], { FEDSCORE_API_KEY: adminKey });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^fedscore operator: no server given: pass --server URL or set FEDSCORE_SERVER\n\nUsage: fedscore operator round list /);
  });

  it('takes --server and --api-key flags over the environment', async () => {
    const result = await op(['federation', 'list', '--server', server.url, '--api-key', adminKey, '--json'], { FEDSCORE_SERVER: 'http://127.0.0.1:1', FEDSCORE_API_KEY: 'wrong' });
    assert.ok(Array.isArray(lastJson(ok(result).stdout)));
  });

  it('names an unknown federation, exit 1', async () => {
    const result = await op(['federation', 'show', '--federation', 'no-such-federation']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^fedscore operator: the server refused to show the federation \(404 federation-not-found\): federation no-such-federation does not exist\n/);
    assert.match(result.stderr, /federation list` shows the federations on this server/);
  });
});
