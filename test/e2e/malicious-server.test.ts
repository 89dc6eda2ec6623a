/**
 * Secure aggregation against a malicious server. A real server on port 0 with an HTTP proxy in front of it
 * that rewrites what the server says about a round's committee — the way a compromised server (or anyone
 * between the owner and it) would. The victim is the real `OwnerAgent`, enrolled with its charter pinned,
 * talking only to the proxy. Honest committee members publish their signed keys straight to the server.
 * For every attack the agent must refuse to share and say why, and nothing of its update may leave: the
 * proxy sees no share upload from it and the server stores no envelope from it. The honest path through
 * the same proxy, untampered, goes through.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FedscoreClient, type FederationView, type RoundView } from '../../src/client/http-client.js';
import { applySplit, encodeRows, readCsvFile, readSchemaFile, readSplitFile, shardRows } from '../../src/client/local-data.js';
import { OwnerAgent, type AgentEvent } from '../../src/client/owner-agent.js';
import { enrolOwner, type Enrolment } from '../../src/client/owner-enrolment.js';
import { MemoryJournal } from '../../src/client/owner-state.js';
import { loadConfig } from '../../src/config.js';
import { generateX25519KeyPair } from '../../src/crypto/envelope.js';
import { generateIdentityKeyPair, signCommitteeKey, type Ed25519KeyPair } from '../../src/crypto/identity.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { initTf } from '../../src/ml/tf.js';
import { startServer } from '../../src/server.js';
import { repoRoot, sharedData } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/database.js';
import path from 'node:path';

type Json = Record<string, unknown>;
/** Rewrites a JSON answer of the server; return undefined to pass it on unchanged. */
type Tamper = (pathname: string, body: Json) => Json | undefined;

let server: { url: string; close(): Promise<void> };
let proxy: http.Server;
let proxyUrl: string;
let tamper: Tamper | undefined;
/** Share uploads that went through the proxy, by the caller's key. */
const shareUploads: string[] = [];
let cleanupDatabase: () => Promise<void>;
let database: Database;
let operator: FedscoreClient;
let anonymous: FedscoreClient;
let rows: { X: Float32Array[]; y: Uint8Array }[];
const adminKey = randomBytes(24).toString('base64url');

before(async () => {
  await initTf('cpu');
  const target = await createTestDatabase();
  cleanupDatabase = target.cleanup;
  server = await startServer(
    loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: target.dataDir, DATABASE_URL: target.databaseUrl ?? '', ADMIN_API_KEY: adminKey, LOG_LEVEL: 'silent' }),
    { logger: false },
  );
  database = await openDatabase({ databaseUrl: target.databaseUrl ?? '', dataDir: target.dataDir });
  anonymous = new FedscoreClient({ baseUrl: server.url });
  operator = anonymous.withApiKey(adminKey);

  proxy = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const pathname = new URL(request.url!, 'http://proxy').pathname;
      if (request.method === 'POST' && pathname.endsWith('/shares')) shareUploads.push(String(request.headers.authorization));
      const answer = await fetch(new URL(request.url!, server.url), {
        method: request.method,
        headers: { ...(request.headers as Record<string, string>), host: new URL(server.url).host },
        ...(chunks.length > 0 && { body: Buffer.concat(chunks) }),
      });
      let body = Buffer.from(await answer.arrayBuffer());
      const type = answer.headers.get('content-type') ?? '';
      if (tamper && type.startsWith('application/json') && body.length > 0) {
        const rewritten = tamper(pathname, JSON.parse(body.toString('utf8')) as Json);
        if (rewritten !== undefined) body = Buffer.from(JSON.stringify(rewritten));
      }
      // The server's own headers (Fedscore-Model-Version among them), framed for the body as it now is.
      const headers = Object.fromEntries([...answer.headers].filter(([name]) => !['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(name)));
      response.writeHead(answer.status, { ...headers, 'content-length': body.length });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;

  const schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const parts = applySplit(await readCsvFile(path.join(sharedData, 'crx.data'), schema), await readSplitFile(path.join(sharedData, 'crx.split.json')));
  rows = shardRows(encodeRows(schema, parts.train), 4).map(({ X, y }) => ({ X, y }));
});

after(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await database?.close();
  await server?.close();
  await cleanupDatabase?.();
});

const training = { rounds: 3, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: false, seed: 5 };

interface Member {
  ownerId: string;
  client: FedscoreClient;
  identity: Ed25519KeyPair;
}

interface Federation {
  federation: FederationView;
  members: Member[];
  /** The victim: a data owner whose agent talks only to the proxy. */
  victim: Enrolment;
  agent: OwnerAgent;
  events: AgentEvent[];
}

/** A secure federation with three honest committee parties and the victim, enrolled through the proxy (untampered then). */
async function setup(policy: 'lottery' | 'named'): Promise<Federation> {
  const identities = [generateIdentityKeyPair(), generateIdentityKeyPair(), generateIdentityKeyPair()];
  const secure =
    policy === 'named'
      ? { committee: { size: 3, threshold: 2 }, policy: { kind: 'named' as const, aggregators: identities.map((id, i) => ({ name: `node ${i + 1}`, identityKey: Buffer.from(id.publicKey).toString('base64') })) } }
      : { committee: { size: 3, threshold: 2 } };
  const { federation, enrolmentToken } = await operator.createFederation({ name: `attacks ${policy}`, datasetSchema: (await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'))), model: { kind: 'logreg' }, training, aggregation: 'secure', secure });
  const members: Member[] = [];
  for (const identity of identities) {
    const enrolment = await enrolOwner({
      client: anonymous,
      federationId: federation.id,
      enrolmentToken,
      name: 'member',
      role: policy === 'named' ? 'aggregator' : 'owner',
      identity,
    });
    members.push({ ownerId: enrolment.ownerId, client: enrolment.owner, identity });
  }
  tamper = undefined;
  const victim = await enrolOwner({
    client: new FedscoreClient({ baseUrl: proxyUrl }),
    federationId: federation.id,
    enrolmentToken,
    name: 'victim',
    role: 'owner',
    charterFingerprint: federation.charterFingerprint!,
    committeeVolunteer: false,
    registerKey: false,
  });
  const events: AgentEvent[] = [];
  const agent = new OwnerAgent({
    client: victim.owner,
    ownerId: victim.ownerId,
    federation: victim.federation,
    charter: victim.charter,
    data: rows[0]!,
    journal: new MemoryJournal(),
    localSeed: () => 1,
    onEvent: (event) => events.push(event),
  });
  return { federation, members, victim, agent, events };
}

/** The operator opens a round and the honest members publish their signed keys straight to the server. */
async function openKeyedRound(f: Federation): Promise<RoundView> {
  const opened = await operator.openRound(f.federation.id);
  for (const seat of opened.secure!.committee) {
    const member = f.members.find((m) => m.ownerId === seat.ownerId)!;
    const key = generateX25519KeyPair();
    const statement = { federationId: f.federation.id, roundNumber: opened.number, position: seat.position, memberId: member.ownerId, publicKey: key.publicKey };
    await member.client.publishCommitteeKey(f.federation.id, opened.number, {
      publicKey: Buffer.from(key.publicKey).toString('base64'),
      signature: Buffer.from(signCommitteeKey(statement, member.identity)).toString('base64'),
    });
  }
  return operator.getRound(f.federation.id, opened.number);
}

type Seat = NonNullable<RoundView['secure']>['committee'][number];

/** Rewrites the committee of every round view the victim reads (current round, or a round by number). */
function tamperSeats(rewrite: (seats: Seat[]) => Seat[]): Tamper {
  return (pathname, body) => {
    if (!/\/rounds\/(current|\d+)$/.test(pathname) || !body.secure) return undefined;
    const secure = body.secure as { committee: Seat[] };
    return { ...body, secure: { ...secure, committee: rewrite(structuredClone(secure.committee)) } };
  };
}

/** The victim looks at the round through the proxy: it must refuse, say why, and send nothing. */
async function assertRefuses(f: Federation, round: number, reason: RegExp): Promise<void> {
  const before = shareUploads.length;
  const view = await f.victim.owner.getCurrentRound(f.federation.id);
  await f.agent.handle(view);
  const refusal = f.events.find((e) => e.type === 'refused' && e.round === round);
  assert.ok(refusal, `the agent refused (events: ${JSON.stringify(f.events.map((e) => e.type))})`);
  assert.match((refusal as { reason: string }).reason, reason);
  assert.equal(shareUploads.length, before, 'no share upload left the victim');
  const stored = await database.prisma.shareEnvelope.count({ where: { senderId: f.victim.ownerId } });
  assert.equal(stored, 0, 'the server holds no envelope from the victim');
}

describe('a secure round whose committee the server tampers with', () => {
  it('refuses a substituted member key: the server would open that member’s envelopes', async () => {
    const f = await setup('lottery');
    await openKeyedRound(f);
    const attacker = generateX25519KeyPair();
    tamper = tamperSeats((seats) => {
      seats[0]!.publicKey = Buffer.from(attacker.publicKey).toString('base64');
      return seats;
    });
    await assertRefuses(f, 1, /seat 1 .* is not signed by that member's identity/);
  });

  it('refuses a reordered committee', async () => {
    const f = await setup('lottery');
    await openKeyedRound(f);
    tamper = tamperSeats((seats) => {
      const [a, b] = [seats[0]!, seats[1]!];
      return [{ ...b, position: 1 }, { ...a, position: 2 }, seats[2]!];
    });
    await assertRefuses(f, 1, /seat 1 is not who the lottery draws|not signed by that member's identity/);
  });

  it('refuses a key replayed from an earlier round', async () => {
    const f = await setup('lottery');
    const first = await openKeyedRound(f);
    await operator.closeRound(f.federation.id, 1); // too few owners: round 1 fails, nothing published
    const second = await openKeyedRound(f);
    // The server hands out round 1's keys and signatures for the same members in round 2.
    tamper = tamperSeats((seats) =>
      seats.map((seat) => {
        const old = first.secure!.committee.find((s) => s.ownerId === seat.ownerId);
        return old ? { ...seat, publicKey: old.publicKey, signature: old.signature } : seat;
      }),
    );
    assert.equal(second.number, 2);
    assert.ok(second.secure!.committee.some((seat) => first.secure!.committee.some((s) => s.ownerId === seat.ownerId)), 'some member sits in both rounds');
    await assertRefuses(f, 2, /not signed by that member's identity for round 2/);
  });

  it('refuses a seat the charter does not name, even with a key properly signed by the impostor', async () => {
    const f = await setup('named');
    const round = await openKeyedRound(f);
    const impostor = generateIdentityKeyPair();
    const key = generateX25519KeyPair();
    const seat = round.secure!.committee[2]!;
    const statement = { federationId: f.federation.id, roundNumber: 1, position: 3, memberId: seat.ownerId, publicKey: key.publicKey };
    tamper = tamperSeats((seats) => {
      seats[2] = {
        ...seats[2]!,
        identityKey: Buffer.from(impostor.publicKey).toString('base64'),
        publicKey: Buffer.from(key.publicKey).toString('base64'),
        signature: Buffer.from(signCommitteeKey(statement, impostor)).toString('base64'),
      };
      return seats;
    });
    await assertRefuses(f, 1, /seat 3 holds an identity the charter does not name/);
  });

  it('refuses a lottery draw that does not follow from the value the charter committed to', async () => {
    const f = await setup('lottery');
    await openKeyedRound(f);
    tamper = (pathname, body) => (pathname.endsWith('/committee-draw') ? { ...body, reveal: randomBytes(32).toString('hex') } : undefined);
    await assertRefuses(f, 1, /lottery value does not hash to the charter's commitment/);
  });

  it('refuses to enrol, before sending anything, when the charter is not the one the operator named', async () => {
    const f = await setup('lottery');
    const other = (await operator.createFederation({ name: 'other', datasetSchema: f.federation.datasetSchema, model: { kind: 'logreg' }, training, aggregation: 'secure', secure: { committee: { size: 3, threshold: 3 } } })).federation;
    const enrolled = await database.prisma.owner.count({ where: { federationId: f.federation.id } });
    await assert.rejects(
      enrolOwner({ client: anonymous, federationId: f.federation.id, enrolmentToken: 'not needed: refused first', name: 'x', role: 'owner', charterFingerprint: other.charterFingerprint! }),
      /charter has fingerprint [0-9a-f]{64}, not the [0-9a-f]{64} you were given: not enrolling/,
    );
    assert.equal(await database.prisma.owner.count({ where: { federationId: f.federation.id } }), enrolled, 'no owner was created');
  });

  it('a member whose state lost its published round key sits that sum out instead of stopping', async () => {
    const f = await setup('lottery');
    tamper = undefined;
    const round = await openKeyedRound(f);
    const seat = round.secure!.committee[0]!;
    const member = f.members.find((m) => m.ownerId === seat.ownerId)!;
    const events: AgentEvent[] = [];
    const agent = new OwnerAgent({
      client: member.client,
      ownerId: member.ownerId,
      federation: f.victim.federation,
      charter: f.victim.charter,
      identity: member.identity,
      journal: new MemoryJournal(), // a state directory restored without its round key
      localSeed: () => 1,
      onEvent: (event) => events.push(event),
    });
    // A view from before its key landed: the agent makes a new key, and the seat already has another.
    const stale = { ...round, secure: { ...round.secure!, keyed: false, committee: round.secure!.committee.map((s) => (s.position === seat.position ? { ...s, publicKey: null, signature: null } : s)) } };
    await agent.handle(stale);
    const missed = events.find((e) => e.type === 'missed-sum');
    assert.ok(missed, JSON.stringify(events));
    assert.match((missed as { reason: string }).reason, /already has a different key .* cannot sum this round/);
    assert.equal((await operator.getRound(f.federation.id, 1)).secure!.committee[0]!.publicKey, seat.publicKey, 'the published key is unchanged');
  });

  it('shares when nothing is tampered with: the honest path through the same proxy', async () => {
    const f = await setup('lottery');
    tamper = undefined;
    await openKeyedRound(f);
    const before = shareUploads.length;
    await f.agent.handle(await f.victim.owner.getCurrentRound(f.federation.id));
    assert.deepEqual(f.events.map((e) => e.type), ['submitted']);
    assert.equal(shareUploads.length, before + 1);
    assert.equal(await database.prisma.shareEnvelope.count({ where: { senderId: f.victim.ownerId } }), 3, 'one envelope per member');
  });
});
