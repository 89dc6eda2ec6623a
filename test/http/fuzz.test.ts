/**
 * Fuzzing the whole API (issue 12). fast-check generates requests for every operation of
 * openapi/openapi.json (test/helpers/openapi-arbitraries.ts): valid ones built from a live world of
 * federations and callers (JSON, or the binary framings where a route has one), the same mutated, values
 * that merely fit the schemas, junk bodies, odd media types and headers, broken path and query parameters,
 * and every kind of caller — each role's key, keys of another federation, revoked keys, malformed
 * Authorization headers, none. About two requests in five are aimed (the right caller, real ids, a valid
 * body, maybe mutated) so they reach the services and change the world; the rest are wild. One in ten or
 * twenty goes out twice at once. Every answer must hold three properties:
 *
 *   - no 5xx;
 *   - every 4xx is application/problem+json with a type, a title and its status;
 *   - a refused request (4xx) wrote nothing: the database reads back the same, every row of every table.
 *
 * The world: six federations (plain with a published version and key sessions; secure with round 1's
 * lottery committee keyed; one whose first round is a statistics round, in the clear and secret-shared; one
 * in an evaluation round with a validation set; a secure one with no round yet), each with the callers of
 * test/helpers/world.ts. Accepted requests move it on (rounds close and open, keys rotate, owners leave);
 * what the world learns from an answer (a rotated key, a new token, a new session) it keeps, and it is
 * rebuilt every FUZZ_EPOCH requests.
 *
 * The summary line says how many requests were tried. FUZZ_RUNS and FUZZ_SEED (a number, or `random`) run
 * longer or other searches, FUZZ_OPERATIONS=a,b only some operations, FUZZ_VERBOSE=1 prints a table per
 * operation (and, with FUZZ_OPERATIONS, every request); a failure prints the request and the seed that
 * reproduces it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { InboxView, RoundView } from '../../src/client/http-client.js';
import { buildShareUpload, partialSumValues } from '../../src/client/secure-shares.js';
import { closeKeySession, createKeySession, encryptApplicants, type HeKeySession } from '../../src/crypto/ckks/client.js';
import { encodeMaterial } from '../../src/crypto/ckks/material.js';
import { ckksParamSet } from '../../src/crypto/ckks/params.js';
import { generateIdentityKeyPair } from '../../src/crypto/identity.js';
import { tallyLength } from '../../src/ml/federated-evaluation.js';
import { encodeFrames } from '../../src/schemas/ciphertext-frames.js';
import { encodePartialSum, encodeShareUpload } from '../../src/schemas/secure-frames.js';
import { encodeUpdate } from '../../src/schemas/weight-frames.js';
import { ADMIN_KEY, bearer, createTestApp, federationBody, repoRoot, type TestApp } from '../helpers/app.js';
import { fingerprint } from '../helpers/database-contents.js';
import { committeeKeyBody, keyCommittee, registerParty, type CommitteeParty } from '../helpers/committee.js';
import {
  authForm,
  authorizationFor,
  bodyPlan,
  extraHeaders,
  extraQuery,
  junkAuthorization,
  late,
  Late,
  operationsOf,
  paramPlan,
  RawBody,
  renderBody,
  renderParam,
  type AuthForm,
  type BodyPlan,
  type NamedHints,
  type OpenApiDocument,
  type Operation,
  type ParamPlan,
} from '../helpers/openapi-arbitraries.js';
import { buildWorld, CALLERS, dropWorld, WORLD_ENV, type Caller, type Party, type World } from '../helpers/world.js';

const setting = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`fuzz: expected ${name} to be a whole number, got ${process.env[name]}`);
  return value;
};
const RUNS = setting('FUZZ_RUNS', 3000);
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() % 2 ** 31 : setting('FUZZ_SEED', 20261130);
/** Requests between rebuilds of the world: long enough for rounds to move on, short enough to stay usable. */
const EPOCH = setting('FUZZ_EPOCH', 250);
const VERBOSE = process.env.FUZZ_VERBOSE === '1';

const doc = JSON.parse(readFileSync(path.join(repoRoot, 'openapi', 'openapi.json'), 'utf8')) as OpenApiDocument;
const byId = new Map(operationsOf(doc).map((op) => [op.operationId, op]));
/** FUZZ_OPERATIONS=a,b focuses a search on some operations; by default every one is tried. */
const operations = process.env.FUZZ_OPERATIONS ? process.env.FUZZ_OPERATIONS.split(',').map((id) => byId.get(id) ?? assert.fail(`FUZZ_OPERATIONS: no operation ${id}`)) : [...byId.values()];

let t: TestApp;
let port: number;
/** Two sockets: a request sent twice at once goes out on both. */
const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
/** The lender's CKKS keys (public material for sessions, encrypted applicants for predictions). */
let heKeys: HeKeySession;
let heMaterial: Buffer;
let heFrames: Buffer;
let heCiphertexts: string[];

/**
 * Every federation of the world is the document's own example (age, income, employed, purpose; label
 * defaulted): its 7 features keep key material and ciphertexts small, and the document's other examples
 * (an update of 8 weights, a prediction's records) are valid requests in it.
 */
const example = byId.get('createFederation')!.body!.examples[0] as { datasetSchema: { columns: { name: string }[] } & Record<string, unknown> } & Record<string, unknown>;
const featureCount = 7;
const training = { rounds: 1000, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 3600, autoAdvance: true, seed: 7 };
const secure = { committee: { size: 2, threshold: 2 }, clipNorm: 100, summingDeadlineSeconds: 3600 };
const PURPOSES = ['car', 'home', 'education', 'other'] as const;
const OCTETS = 'application/octet-stream';
/** Labelled rows in the example's layout (a header, then both classes). */
const validationCsv = ['age,income,employed,purpose,defaulted', ...Array.from({ length: 30 }, (_, i) => `${20 + i * 2},${8000 + 3000 * i},${i % 3 ? 'yes' : 'no'},${PURPOSES[i % 4]},${i % 4 === 1 ? 'yes' : 'no'}`)].join('\n') + '\n';

/** The server's error log: a 5xx's failure message quotes what the server logged for it. */
const serverErrors: string[] = [];

before(async () => {
  t = await createTestApp({
    env: { ...WORLD_ENV, RATE_LIMIT_PER_KEY: '0' },
    log: { level: 'error', stream: { write: (line: string) => void serverErrors.push(line) } },
  });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as AddressInfo).port;
  heKeys = await createKeySession(ckksParamSet('n4096'), 'batched', { kind: 'linear', inputSize: featureCount, units: 0 });
  heMaterial = Buffer.from(encodeMaterial(heKeys.publicMaterial));
  const ciphertexts = encryptApplicants(heKeys, [Array.from({ length: featureCount }, (_, i) => ((i % 5) - 2) / 4)]);
  heFrames = Buffer.from(encodeFrames(ciphertexts));
  heCiphertexts = ciphertexts.map((c) => Buffer.from(c).toString('base64'));
});
after(async () => {
  agent.destroy();
  closeKeySession(heKeys);
  await t.close();
});

// ─── The world ───────────────────────────────────────────────────────────────────────────────────────────

const WORLD_NAMES = ['plain', 'secure', 'stats', 'secure-stats', 'eval', 'draft'] as const;
type WorldName = (typeof WORLD_NAMES)[number];

interface FuzzWorld extends World {
  name: WorldName;
  /** Committee parties (identity and round key) by owner id, for the secure world. */
  parties: Map<string, CommitteeParty>;
  /** Encrypted-prediction sessions by the caller whose key opened them. */
  sessions: Partial<Record<Caller, string[]>>;
}

type Worlds = Record<WorldName, FuzzWorld>;
/** Federations accepted createFederation requests made, dropped with the world. */
const madeFederations: string[] = [];

async function openRound(w: World, body: object = {}): Promise<RoundView> {
  return (await t.http.post(`/v1/federations/${w.federationId}/rounds`).set(bearer(ADMIN_KEY)).send(body).expect(201)).body as RoundView;
}

async function openSession(w: World, caller: 'operator' | 'he-predict'): Promise<string> {
  const res = await t.http.post(`/v1/he-sessions?federationId=${w.federationId}`).set(bearer(w.keys[caller])).set('Content-Type', 'application/octet-stream').send(heMaterial).expect(201);
  return res.body.id as string;
}

async function buildWorlds(): Promise<Worlds> {
  const fuzzWorld = async (name: WorldName, federation: Record<string, unknown>, owners = 3): Promise<FuzzWorld> => ({
    ...(await buildWorld(t, { owners, federation: { ...example, name: `fuzz ${name}`, training, ...federation } })),
    name,
    parties: new Map(),
    sessions: {},
  });

  const plain = async () => {
    const w = await fuzzWorld('plain', {});
    // Version 1 from two owners' weights (version 0's are all zero, which encrypted prediction refuses); round 2 opens.
    await openRound(w);
    for (const owner of w.owners.slice(0, 2)) {
      await t.http
        .post(`/v1/federations/${w.federationId}/rounds/1/updates`)
        .set(bearer(owner.apiKey))
        .send({ weights: Array.from({ length: featureCount + 1 }, (_, i) => ((i % 7) - 3) / 10), numSamples: 10 })
        .expect(201);
    }
    w.sessions = { operator: [await openSession(w, 'operator')], 'he-predict': [await openSession(w, 'he-predict')] };
    return w;
  };

  // Every party volunteers with an identity; round 1's committee is keyed, so owners can share at once (the
  // fuzzer keys the committees of later rounds itself).
  const secureWorld = async () => {
    const w = await fuzzWorld('secure', { aggregation: 'secure', secure });
    for (const party of everyParty(w)) w.parties.set(party.id, await registerParty(t.http, w.federationId, party.id, party.apiKey));
    await keyCommittee(t.http, w.federationId, await openRound(w), w.parties);
    return w;
  };

  // The age column has a range but no mean or std: round 1 is a statistics round.
  const ranged = { ...example.datasetSchema, columns: example.datasetSchema.columns.map((column) => (column.name === 'age' ? { name: 'age', type: 'numeric', range: [18, 100] } : column)) };
  const stats = async () => {
    const w = await fuzzWorld('stats', { datasetSchema: ranged });
    await openRound(w);
    return w;
  };
  // The same, secret-shared: round 1's committee sums the owners' shares of their moments. Two data owners,
  // as a statistics round waits for every one.
  const secureStats = async () => {
    const w = await fuzzWorld('secure-stats', { datasetSchema: ranged, aggregation: 'secure', secure }, 2);
    for (const party of everyParty(w)) w.parties.set(party.id, await registerParty(t.http, w.federationId, party.id, party.apiKey));
    await keyCommittee(t.http, w.federationId, await openRound(w), w.parties);
    return w;
  };

  const evaluation = async () => {
    const w = await fuzzWorld('eval', {});
    await t.http.put(`/v1/federations/${w.federationId}/validation`).set(bearer(ADMIN_KEY)).send({ csv: validationCsv }).expect(200);
    await openRound(w, { kind: 'evaluation', modelVersion: 0 });
    return w;
  };

  const [p, s, st, ss, e, d] = await Promise.all([plain(), secureWorld(), stats(), secureStats(), evaluation(), fuzzWorld('draft', { aggregation: 'secure', secure })]);
  return { plain: p, secure: s, stats: st, 'secure-stats': ss, eval: e, draft: d };
}

async function dropWorlds(worlds: Worlds): Promise<void> {
  for (const w of Object.values(worlds)) await dropWorld(t.database, w);
  await t.database.prisma.federation.deleteMany({ where: { id: { in: madeFederations.splice(0) } } });
}

// ─── What a request is resolved against ──────────────────────────────────────────────────────────────────

/** A caller as sent: who it is (for reports and for "itself" values), its key, and its party if it has one. */
interface Resolved {
  label: string;
  key?: string;
  party?: Party;
}

/**
 * The live state a request's Late values resolve against. Its reads (cached per request) go through the
 * API, as the operator unless a key is given; they are GETs, which write nothing, so the fingerprint taken
 * after the previous request is still the one to compare with.
 */
interface Live {
  worlds: Worlds;
  world: FuzzWorld;
  caller: Resolved;
  read<T>(url: string, key?: string): Promise<T | undefined>;
  round(): Promise<RoundView | undefined>;
  federation(): Promise<{ latestModelVersion: number } | undefined>;
}

function liveFor(worlds: Worlds, world: FuzzWorld): Omit<Live, 'caller'> {
  const cache = new Map<string, Promise<unknown>>();
  const read = <T>(url: string, key = ADMIN_KEY): Promise<T | undefined> => {
    const id = `${key} ${url}`;
    if (!cache.has(id)) cache.set(id, t.http.get(url).set(bearer(key)).then((res) => (res.status === 200 ? res.body : undefined)));
    return cache.get(id) as Promise<T | undefined>;
  };
  return {
    worlds,
    world,
    read,
    round: () => read<RoundView>(`/v1/federations/${world.federationId}/rounds/current`),
    federation: () => read<{ latestModelVersion: number }>(`/v1/federations/${world.federationId}`),
  };
}

const everyParty = (w: World): Party[] => [...w.owners, w.aggregator];
const partyById = (w: World, id: string) => everyParty(w).find((party) => party.id === id);

// ─── Callers ─────────────────────────────────────────────────────────────────────────────────────────────

/** A caller to send as: one of the world's, the committee member in a seat of the current round, or junk. */
type CallerPlan = { kind: 'caller'; who: Caller; index: number; form: AuthForm } | { kind: 'seat'; index: number; form: AuthForm } | { kind: 'junk'; value: string };

const PARTY_OPERATIONS = new Set(['publishCommitteeKey', 'getCommitteeDraw', 'getInbox', 'uploadPartialSum']);

/** Callers whose role the operation allows (from its "Roles:" line), in their own federation. */
function allowedCallers(op: Operation): fc.Arbitrary<CallerPlan> {
  const roles = op.roles.flatMap((role): Caller[] => (role === 'public' ? ['none'] : CALLERS.includes(role as Caller) ? [role as Caller] : []));
  const callers = fc.record({ kind: fc.constant('caller' as const), who: fc.constantFrom(...roles), index: fc.nat(5), form: fc.constant<AuthForm>('bearer') });
  if (!PARTY_OPERATIONS.has(op.operationId)) return callers;
  return fc.oneof(callers, { arbitrary: fc.record({ kind: fc.constant('seat' as const), index: fc.nat(3), form: fc.constant<AuthForm>('bearer') }), weight: 3 });
}

const anyCaller: fc.Arbitrary<CallerPlan> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('caller' as const), who: fc.constantFrom(...CALLERS), index: fc.nat(5), form: authForm }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant('seat' as const), index: fc.nat(3), form: authForm }), weight: 1 },
  { arbitrary: junkAuthorization.map((value): CallerPlan => ({ kind: 'junk', value })), weight: 2 },
);

async function resolveCaller(plan: CallerPlan, live: Omit<Live, 'caller'>): Promise<{ caller: Resolved; authorization?: string | string[] }> {
  if (plan.kind === 'junk') return { caller: { label: 'junk authorization' }, authorization: plan.value };
  const w = live.world;
  let caller: Resolved;
  if (plan.kind === 'seat') {
    const seats = (await live.round())?.secure?.committee ?? [];
    const seat = seats[plan.index % Math.max(1, seats.length)];
    const party = seat ? partyById(w, seat.ownerId) : undefined;
    caller = party ? { label: `seat ${seat!.position}`, key: party.apiKey, party } : { label: 'seat (none: owner)', key: w.owners[0]!.apiKey, party: w.owners[0]! };
  } else if (plan.who === 'none') {
    caller = { label: 'none' };
  } else if (plan.who === 'owner') {
    const party = w.owners[plan.index % w.owners.length]!;
    caller = { label: `owner ${plan.index % w.owners.length}`, key: party.apiKey, party };
  } else if (plan.who === 'aggregator') {
    caller = { label: 'aggregator', key: w.aggregator.apiKey, party: w.aggregator };
  } else {
    caller = { label: plan.who, key: w.keys[plan.who] };
  }
  if (plan.form !== 'bearer') caller.label += ` (${plan.form})`;
  return { caller, ...(caller.key !== undefined && { authorization: authorizationFor(caller.key, plan.form) }) };
}

// ─── Real values for parameters and body fields ──────────────────────────────────────────────────────────

const currentRound = async (l: Live) => (await l.round())?.number ?? 1;
const ownSession = (l: Live, label: string) => {
  const who = (label.split(' ')[0] ?? '') as Caller;
  return l.world.sessions[who]?.at(-1) ?? l.world.sessions.operator?.at(-1) ?? 'no-session';
};

/** Parameters by name: mostly the world's real ids, as the caller itself where that matters. */
const paramHints: NamedHints = {
  federationId: fc.oneof(
    { arbitrary: fc.constant(late<Live, string>('federation', (l) => l.world.federationId)), weight: 12 },
    fc.constant(late<Live, string>('other federation', (l) => l.world.otherFederationId)),
    fc.constantFrom(...WORLD_NAMES).map((name) => late<Live, string>(`${name} federation`, (l) => l.worlds[name].federationId)),
    fc.constant('no-such-federation'),
  ),
  ownerId: fc.oneof(
    { arbitrary: fc.constant(late<Live, string>('caller itself', (l) => l.caller.party?.id ?? l.world.owners[0]!.id)), weight: 8 },
    fc.nat(3).map((i) => late<Live, string>(`owner ${i}`, (l) => l.world.owners[i % l.world.owners.length]!.id)),
    fc.constant(late<Live, string>('aggregator', (l) => l.world.aggregator.id)),
    fc.constant('no-such-owner'),
  ),
  roundNumber: fc.oneof(
    { arbitrary: fc.constant(late<Live, number>('current round', currentRound)), weight: 8 },
    fc.constant(late<Live, number>('next round', async (l) => (await currentRound(l)) + 1)),
    fc.constantFrom(1, 2),
  ),
  version: fc.oneof(
    { arbitrary: fc.constant(late<Live, number>('latest version', async (l) => (await l.federation())?.latestModelVersion ?? 0)), weight: 4 },
    fc.constantFrom<unknown>('latest', 'default', 0, 1, 7),
  ),
  keyId: fc.oneof(
    { arbitrary: fc.constant(late<Live, string>('spare key', (l) => l.world.ids.spareKey)), weight: 4 },
    fc.constantFrom<Caller>('read', 'predict', 'he-predict', 'revoked', 'other-federation read').map((who) => late<Live, string>(`${who} key id`, (l) => l.world.keyIds[who] ?? 'none')),
    fc.constant('no-such-key'),
  ),
  sessionId: fc.oneof(
    { arbitrary: fc.constant(late<Live, string>('caller’s session', (l) => ownSession(l, l.caller.label))), weight: 6 },
    fc.constantFrom<Caller>('operator', 'he-predict').map((who) => late<Live, string>(`${who}’s session`, (l) => l.world.sessions[who]?.at(-1) ?? 'none')),
    fc.constant('no-such-session'),
  ),
  modelVersion: fc.constantFrom<unknown>(1, 0, '1'),
  // The console's own files, and names shaped like them that are not.
  file: fc.oneof({ arbitrary: fc.constantFrom('app.js', 'api.js', 'charts.js', 'console.css'), weight: 4 }, fc.constantFrom('missing.js', 'index.html', '..%2Fpackage.json')),
  // A positive wait comes only with a tag no round has, so no request holds its connection (see holdsConnection).
  waitSeconds: fc.constantFrom('0', '00', '5'),
  after: fc.constantFrom('424242:open', '424242:failed', 'none', '1:open:63'),
};

/**
 * Whether getCurrentRound would hold the connection: a positive wait with a tag that may be the round's.
 * Such a request is sent without its waitSeconds (round-waits.test.ts covers waiting).
 */
function holdsConnection(op: Operation, query: [string, string][]): boolean {
  if (op.operationId !== 'getCurrentRound') return false;
  const decoded = (name: string) => {
    const value = query.find(([n]) => n === name)?.[1];
    try {
      return value === undefined ? undefined : decodeURIComponent(value);
    } catch {
      return undefined;
    }
  };
  const wait = decoded('waitSeconds');
  const tag = decoded('after');
  return wait !== undefined && /^[0-9]{1,2}$/.test(wait) && Number(wait) > 0 && tag !== undefined && !tag.startsWith('424242:') && tag !== '1:open:63';
}

const freshIdentity = () => late<Live, string>('a fresh identity key', () => Buffer.from(generateIdentityKeyPair().publicKey).toString('base64'));

/** Body fields by name, for bodies built from the schema. */
const bodyHints: NamedHints = {
  enrolmentToken: fc.oneof({ arbitrary: fc.constant(late<Live, string>('enrolment token', (l) => l.world.enrolmentToken)), weight: 4 }, fc.constant('fse_not-the-token')),
  federationId: paramHints.federationId!,
  recipientId: fc.constant(late<Live, string>('a committee member', async (l) => (await l.round())?.secure?.committee[0]?.ownerId ?? l.world.owners[0]!.id)),
  includedSetHash: fc.constant(late<Live, string>('included set hash', async (l) => (await l.round())?.secure?.includedSetHash ?? '0'.repeat(64))),
  identityKey: fc.constant(freshIdentity()),
  material: fc.constant(late<Live, string>('key material', () => heMaterial.toString('base64'))),
  ciphertexts: fc.constant(late<Live, string[]>('ciphertexts', () => heCiphertexts)),
};

// ─── Valid bodies, built from the world as it stands when the request is sent ─────────────────────────────

const smallName = fc.oneof(fc.constantFrom('bank A', 'Zürich 名前 🦊', 'node'), fc.string({ minLength: 1, maxLength: 30 }));
const weightsFor = (scale: number) => Array.from({ length: featureCount + 1 }, (_, i) => scale * (((i * 7) % 11) - 5) / 10);

/** Moments a real owner could send for the round's statistics columns: n values, Σx′ ∈ [0, n], Σx′² between Σx′²/n and Σx′. */
async function plausibleMoments(l: Live, n: number, mean: number): Promise<number[]> {
  const columns = (await l.round())?.statistics?.columns ?? ['age'];
  return columns.flatMap(() => [n, n * mean, n * mean * mean + n * 0.01 * mean * (1 - mean)]);
}

/** Tallies a real owner could send over the round's bins: `rows` scored in one bin, with consistent sums. */
async function plausibleTallies(l: Live, rows: number, bin: number, positives: number): Promise<number[]> {
  const bins = (await l.round())?.evaluation?.bins ?? 200;
  const b = bin % bins;
  const tallies = new Array<number>(tallyLength(bins)).fill(0);
  tallies[b] = rows - positives;
  tallies[bins + b] = positives;
  const score = (b + 0.5) / bins;
  tallies[2 * bins + b] = rows * score;
  tallies[3 * bins] = positives * -Math.log(score) + (rows - positives) * -Math.log(1 - score);
  tallies[3 * bins + 1] = positives * (1 - score) ** 2 + (rows - positives) * score ** 2;
  return tallies;
}

const validBodies: Partial<Record<string, fc.Arbitrary<unknown>>> = {
  createFederation: fc.record({ name: smallName, variant: fc.constantFrom('example', 'crx', 'secure', 'privacy', 'mlp') }).map(({ name, variant }) => ({
    ...(variant === 'crx' ? federationBody() : example),
    name,
    ...(variant === 'secure' && { aggregation: 'secure', secure }),
    ...(variant === 'privacy' && { privacy: { epsilon: 4, delta: 1e-5, clipNorm: 4 } }),
    ...(variant === 'mlp' && { model: { kind: 'mlp', hidden: [4], activation: 'relu' } }),
  })),
  updateSecureSettings: fc.record({ size: fc.constantFrom(2, 3), clipNorm: fc.constantFrom(1, 100, 10_000) }).map(({ size, clipNorm }) => ({ secure: { committee: { size, threshold: 2 }, clipNorm } })),
  updatePrivacy: fc.oneof(fc.constant({ privacy: null }), fc.record({ epsilon: fc.constantFrom(1, 8), clipNorm: fc.constantFrom(1, 4) }).map((p) => ({ privacy: { ...p, delta: 1e-5 } }))),
  issueApiKey: fc.record({ label: smallName, scopes: fc.shuffledSubarray(['read', 'predict', 'he-predict'], { minLength: 1 }) }),
  enrolOwner: fc.record({ name: smallName, role: fc.constantFrom('owner', 'aggregator') }).map((body) => ({ ...body, enrolmentToken: late<Live, string>('enrolment token', (l) => l.world.enrolmentToken) })),
  registerIdentity: fc.boolean().map((committeeVolunteer) => ({
    // The caller's registered identity again (it may change only its preference), or a first one.
    identityKey: late<Live, string>('the caller’s identity', (l) => {
      const party = l.caller.party && l.world.parties.get(l.caller.party.id);
      return party ? Buffer.from(party.identity.publicKey).toString('base64') : freshIdentity().resolve(l);
    }),
    committeeVolunteer,
  })),
  openRound: fc.constantFrom<object>({}, { kind: 'training' }, { kind: 'evaluation' }, { kind: 'evaluation', modelVersion: 0 }, { minOwners: 2, deadlineSeconds: 3600 }),
  submitUpdate: fc.record({ scale: fc.constantFrom(0.5, 1, 2), numSamples: fc.integer({ min: 1, max: 500 }), binary: fc.boolean() }).map(({ scale, numSamples, binary }) => {
    const update = { weights: weightsFor(scale), numSamples, metrics: { loss: 0.5, accuracy: 0.75 } };
    return binary ? new RawBody(OCTETS, encodeUpdate(update)) : update;
  }),
  submitStatistics: fc.record({ n: fc.integer({ min: 1, max: 300 }), mean: fc.double({ min: 0.05, max: 0.95, noNaN: true }) }).map(({ n, mean }) => ({ moments: late<Live, number[]>('plausible moments', (l) => plausibleMoments(l, n, mean)) })),
  submitEvaluation: fc.record({ rows: fc.integer({ min: 1, max: 100 }), bin: fc.nat(), positives: fc.nat() }).map(({ rows, bin, positives }) => ({
    tallies: late<Live, number[]>('plausible tallies', (l) => plausibleTallies(l, rows, bin, positives % (rows + 1))),
  })),
  publishCommitteeKey: fc.constant(
    late<Live, unknown>('the seat’s signed key', async (l) => {
      const round = await l.round();
      const party = l.caller.party && l.world.parties.get(l.caller.party.id);
      const seat = round?.secure?.committee.find((s) => s.ownerId === l.caller.party?.id);
      if (!round || !party || !seat) return { publicKey: 'AAAA', signature: 'AAAA' };
      return committeeKeyBody(l.world.federationId, round.number, seat.position, party);
    }),
  ),
  uploadShares: fc.record({ numSamples: fc.integer({ min: 1, max: 50 }), mean: fc.double({ min: 0.05, max: 0.95, noNaN: true }), binary: fc.boolean() }).map(({ numSamples, mean, binary }) =>
    late<Live, unknown>(`shares for the keyed committee${binary ? ', framed' : ''}`, async (l) => {
      const round = await l.round();
      const ownerId = l.caller.party?.id ?? l.world.owners[0]!.id;
      if (!round?.secure || round.secure.committee.some((seat) => seat.publicKey === null)) return { envelopes: [] };
      const federationId = l.world.federationId;
      // What the round asks for: moments in a statistics round, tallies in an evaluation round, else weights.
      const upload =
        round.kind === 'statistics'
          ? buildShareUpload({ federationId, ownerId, round, sums: Float64Array.from(await plausibleMoments(l, numSamples, mean)) })
          : round.kind === 'evaluation'
            ? buildShareUpload({ federationId, ownerId, round, sums: Float64Array.from(await plausibleTallies(l, numSamples, 0, 0)) })
            : buildShareUpload({ federationId, ownerId, round, base: new Float32Array(featureCount + 1), trained: Float32Array.from(weightsFor(0.1)), numSamples });
      return binary ? new RawBody(OCTETS, encodeShareUpload(upload.envelopes.map(({ recipientId, envelope }) => ({ id: recipientId, envelope })))) : upload.body;
    }),
  ),
  uploadPartialSum: fc.boolean().map((binary) =>
    late<Live, unknown>(`the member’s partial sum${binary ? ', framed' : ''}`, async (l) => {
      const party = l.caller.party && l.world.parties.get(l.caller.party.id);
      const round = await l.round();
      const inbox = party && round ? await l.read<InboxView>(`/v1/federations/${l.world.federationId}/rounds/${round.number}/inbox`, party.apiKey) : undefined;
      if (!party || !inbox) return { includedSetHash: '0'.repeat(64), values: '' };
      let values: Uint8Array;
      try {
        values = partialSumValues({ federationId: l.world.federationId, memberId: party.ownerId, keys: party.roundKey, inbox });
      } catch {
        // A fuzzed upload's envelope the server could not tell from a real one (it cannot open them): the
        // member cannot sum its inbox, and sends what it has.
        return { includedSetHash: inbox.includedSetHash, values: '' };
      }
      if (binary) return new RawBody(OCTETS, encodePartialSum({ includedSetHash: inbox.includedSetHash, count: inbox.vectorLength, values }));
      return { includedSetHash: inbox.includedSetHash, values: Buffer.from(values).toString('base64') };
    }),
  ),
  putSelection: fc.record({ rule: fc.constantFrom('manual', 'best'), metric: fc.constantFrom('auc', 'logLoss', 'accuracy', 'brier', 'ks'), patience: fc.constantFrom(null, 3) }).map((selection) => ({ selection })),
  putValidationSet: fc.constant({ csv: validationCsv }),
  predict: fc.record({
    records: fc.array(fc.record({ age: fc.integer({ min: 18, max: 99 }), income: fc.integer({ min: 0, max: 500_000 }), employed: fc.constantFrom('no', 'yes'), purpose: fc.constantFrom(...PURPOSES) }), { minLength: 1, maxLength: 4 }),
    modelVersion: fc.constantFrom(undefined, 1),
  }).map(({ records, modelVersion }) => ({ records, ...(modelVersion !== undefined && { modelVersion }) })),
  createHeSession: fc.oneof(
    fc.constant(new Late<Live, unknown>('key material (octet-stream)', () => new RawBody(OCTETS, heMaterial))),
    fc.constant({ federationId: late<Live, string>('federation', (l) => l.world.federationId), material: late<Live, string>('key material', () => heMaterial.toString('base64')) }),
  ),
  predictEncrypted: fc.oneof(
    { arbitrary: fc.constant(new Late<Live, unknown>('framed ciphertexts', () => new RawBody(OCTETS, heFrames))), weight: 3 },
    fc.constant({ ciphertexts: late<Live, string[]>('ciphertexts', () => heCiphertexts) }),
  ),
};

/** Operations that answer in binary when Accept ranks application/octet-stream first. */
const BINARY_ANSWERS = new Set(['getInbox', 'getModelWeights']);

/** Where an operation is most at home: the world its valid requests can succeed in. */
const HOMES: Partial<Record<string, WorldName[]>> = {
  updateSecureSettings: ['draft'],
  updatePrivacy: ['draft', 'plain'],
  submitUpdate: ['plain'],
  submitStatistics: ['stats'],
  submitEvaluation: ['eval'],
  // Secure training twice as often as secure statistics.
  publishCommitteeKey: ['secure', 'secure', 'secure-stats'],
  getCommitteeDraw: ['secure', 'secure-stats'],
  uploadShares: ['secure', 'secure', 'secure-stats'],
  getInbox: ['secure', 'secure', 'secure-stats'],
  uploadPartialSum: ['secure', 'secure', 'secure-stats'],
  predict: ['plain'],
  getValidationSet: ['eval'],
  createHeSession: ['plain'],
  getHeSession: ['plain'],
  deleteHeSession: ['plain'],
  predictEncrypted: ['plain'],
  rotateApiKey: ['plain', 'eval'],
  revokeApiKey: ['plain', 'eval'],
  removeOwner: ['eval', 'draft'],
};

// ─── Requests ────────────────────────────────────────────────────────────────────────────────────────────

interface Plan {
  operationId: string;
  world: WorldName;
  /** The operation's method, or another one (a 405, or HEAD's answer without a body). */
  method: string;
  /** The path as documented, or mangled so that no route matches. */
  pathForm: 'exact' | 'trailing-slash' | 'double-slash' | 'upper-case' | 'extra-segment';
  caller: CallerPlan;
  params: Record<string, ParamPlan>;
  query: [string, ParamPlan][];
  extraQuery: string;
  headers: Record<string, string>;
  body: BodyPlan;
  /** 2: the same request sent twice at once, as by a client retrying before its first answer came. */
  copies: 1 | 2;
}

const worldOf = (op: Operation, aimed: boolean) => {
  const homes = HOMES[op.operationId] ?? [...WORLD_NAMES];
  return aimed ? fc.constantFrom(...homes) : fc.oneof({ arbitrary: fc.constantFrom(...homes), weight: 3 }, fc.constantFrom(...WORLD_NAMES));
};

function planFor(op: Operation, aimed: boolean): fc.Arbitrary<Plan> {
  const param = (p: Operation['pathParams'][number]) => {
    const hint = paramHints[p.name];
    return aimed && hint ? hint.map<ParamPlan>((value) => ({ encoded: false, value })) : paramPlan(doc, p, hint);
  };
  const params = fc.record(Object.fromEntries(op.pathParams.map((p) => [p.name, param(p)])) as Record<string, fc.Arbitrary<ParamPlan>>);
  const query = fc.tuple(...op.queryParams.map((p) => fc.option(param(p).map((plan): [string, ParamPlan] => [p.name, plan]), { nil: undefined, freq: aimed ? 3 : 2 })));
  const valid = validBodies[op.operationId];
  const body = !aimed ? bodyPlan(doc, op, { ...(valid && { valid }), hints: bodyHints }) : valid || op.body ? aimedBody(op, valid) : fc.constant<BodyPlan>({ kind: 'none' });
  return fc.record({
    operationId: fc.constant(op.operationId),
    world: worldOf(op, aimed),
    method: aimed ? fc.constant(op.method) : fc.oneof({ arbitrary: fc.constant(op.method), weight: 30 }, fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS')),
    pathForm: aimed ? fc.constant('exact' as const) : fc.oneof({ arbitrary: fc.constant('exact' as const), weight: 40 }, fc.constantFrom('trailing-slash' as const, 'double-slash' as const, 'upper-case' as const, 'extra-segment' as const)),
    caller: aimed ? allowedCallers(op) : fc.oneof({ arbitrary: allowedCallers(op), weight: 2 }, { arbitrary: anyCaller, weight: 3 }),
    params,
    query: query.map((entries) => entries.filter((entry): entry is [string, ParamPlan] => entry !== undefined)),
    extraQuery: aimed ? fc.constant('') : extraQuery,
    headers: aimed ? (BINARY_ANSWERS.has(op.operationId) ? fc.constantFrom({}, { accept: OCTETS }, { accept: `application/json;q=0.5, ${OCTETS}` }) : fc.constant({})) : extraHeaders,
    body,
    copies: fc.oneof({ arbitrary: fc.constant(1 as const), weight: aimed ? 9 : 19 }, fc.constant(2 as const)),
  });
}

/** An aimed request's body: valid (from the world, or the document's example), sometimes with one mutation. */
function aimedBody(op: Operation, valid: fc.Arbitrary<unknown> | undefined): fc.Arbitrary<BodyPlan> {
  return bodyPlan(doc, op, { ...(valid && { valid }), hints: bodyHints }).filter((plan) => plan.kind === 'json' && (plan.source === 'valid' || plan.source === 'example'));
}

/**
 * Later steps of the secure protocol need earlier ones accepted within the same world (keys, then shares
 * from two owners, then inboxes and partial sums): they get twice the share of requests.
 */
const PROTOCOL_STEPS = new Set(['publishCommitteeKey', 'uploadShares', 'getInbox', 'uploadPartialSum']);

const planArbitrary: fc.Arbitrary<Plan> = fc.oneof(
  ...operations.map((op) => ({
    arbitrary: fc.oneof({ arbitrary: planFor(op, true), weight: 2 }, { arbitrary: planFor(op, false), weight: 3 }),
    weight: PROTOCOL_STEPS.has(op.operationId) ? 2 : 1,
  })),
);

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
  caller: string;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

async function render(plan: Plan, live: Omit<Live, 'caller'>): Promise<{ sent: Sent; live: Live }> {
  const op = byId.get(plan.operationId)!;
  const { caller, authorization } = await resolveCaller(plan.caller, live);
  const full: Live = { ...live, caller };
  let pathText = op.path;
  for (const [name, param] of Object.entries(plan.params)) pathText = pathText.replace(`{${name}}`, await renderParam(param, full));
  if (plan.pathForm === 'trailing-slash') pathText += '/';
  if (plan.pathForm === 'double-slash') pathText = pathText.replace('/', '//');
  if (plan.pathForm === 'upper-case') pathText = pathText.toUpperCase();
  if (plan.pathForm === 'extra-segment') pathText += '/extra';
  const query: [string, string][] = [];
  for (const [name, param] of plan.query) query.push([name, await renderParam(param, full)]);
  if (holdsConnection(op, query)) query.splice(query.findIndex(([name]) => name === 'waitSeconds'), 1);
  const queryText = [...query.map(([name, value]) => `${name}=${value}`), ...(plan.extraQuery ? [plan.extraQuery] : [])].join('&');
  const body = await renderBody(plan.body, full);
  const headers: Record<string, string | string[]> = { ...plan.headers };
  if (authorization !== undefined) headers.authorization = authorization;
  if (body?.contentType !== undefined) headers['content-type'] = body.contentType;
  return { sent: { method: plan.method, path: queryText ? `${pathText}?${queryText}` : pathText, headers, ...(body?.payload && { body: body.payload }), caller: caller.label }, live: full };
}

/** One request over a real connection: Node's HTTP parser, Fastify's router and body parsing, all of it. */
function send(request: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...request.headers, ...(request.body && { 'content-length': String(request.body.byteLength) }) };
    const req = http.request({ host: '127.0.0.1', port, method: request.method, path: request.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A hang is a finding too: no request may hold its connection (the long poll is never asked to wait).
    req.setTimeout(60_000, () => req.destroy(new Error(`no answer within 60 s`)));
    req.on('error', reject);
    req.end(request.body);
  });
}

/** The parts of accepted answers that name new secrets or new things. */
interface Learnt {
  enrolmentToken?: string;
  apiKey?: string;
  owner?: { id: string };
  key?: { id: string };
  id?: string;
  federationId?: string;
  federation?: { id: string };
}

/** What the world learns from an accepted answer, so later requests can still act as these callers. */
function learn(op: string, answer: Learnt, path: string, live: Live): void {
  const worlds = Object.values(live.worlds);
  if (op === 'rotateEnrolmentToken' && answer.enrolmentToken) {
    const w = worlds.find((w) => path.startsWith(`/v1/federations/${w.federationId}/`));
    if (w) w.enrolmentToken = answer.enrolmentToken;
  }
  if (op === 'rotateOwnerKey' && answer.owner && answer.apiKey) {
    for (const w of worlds) {
      const party = partyById(w, answer.owner.id);
      if (party) party.apiKey = answer.apiKey;
      const committee = w.parties.get(answer.owner.id);
      if (committee) committee.apiKey = answer.apiKey;
    }
  }
  if (op === 'rotateApiKey' && answer.key && answer.apiKey) {
    for (const w of worlds) for (const [who, id] of Object.entries(w.keyIds)) if (id === answer.key.id) w.keys[who as Exclude<Caller, 'none'>] = answer.apiKey;
  }
  if (op === 'createHeSession' && answer.id) {
    const w = worlds.find((w) => w.federationId === answer.federationId);
    const who = live.caller.label.split(' ')[0] as Caller;
    if (w) (w.sessions[who] ??= []).push(answer.id);
  }
  if (op === 'createFederation' && answer.federation) madeFederations.push(answer.federation.id);
}

// ─── The property ────────────────────────────────────────────────────────────────────────────────────────

interface Tally {
  /** Milliseconds spent rendering, sending and checking (reported with FUZZ_VERBOSE, never asserted). */
  ms: number;
  tried: number;
  accepted: number;
  refused: number;
  statuses: Map<number, number>;
}

const excerpt = (text: string | Buffer | undefined, max = 400) => {
  const value = text === undefined ? '' : typeof text === 'string' ? text : text.toString('utf8');
  return value.length > max ? `${value.slice(0, max)}… (${value.length} chars)` : value;
};

function describeRequest(plan: Plan, sent: Sent): string {
  const headers = Object.entries(sent.headers).map(([k, v]) => `${k}: ${excerpt(String(v), 120)}`);
  return `${plan.operationId} as ${sent.caller} in the ${plan.world} world\n  ${sent.method} ${excerpt(sent.path, 300)}\n  ${headers.join('\n  ')}\n  body: ${excerpt(sent.body)}`;
}

/** The rows that are in one fingerprint and not the other, by table. */
function changedRows(before: Record<string, string[]>, after: Record<string, string[]>): string {
  const out: string[] = [];
  for (const table of Object.keys(after)) {
    const [was, now] = [new Set(before[table]), new Set(after[table])];
    for (const row of now) if (!was.has(row)) out.push(`${table} now has: ${excerpt(row, 300)}`);
    for (const row of was) if (!now.has(row)) out.push(`${table} had: ${excerpt(row, 300)}`);
  }
  return out.join('\n  ');
}

test(`fuzz: every operation of the OpenAPI document, ${RUNS} requests (seed ${SEED}): no 5xx, every 4xx a problem, no refusal writes`, { timeout: 30 * 60_000 }, async () => {
  const tallies = new Map<string, Tally>(operations.map((op) => [op.operationId, { ms: 0, tried: 0, accepted: 0, refused: 0, statuses: new Map() }]));
  const other: Tally = { ms: 0, tried: 0, accepted: 0, refused: 0, statuses: new Map() };
  let requests = 0;
  let worlds = await buildWorlds();
  let sinceBuild = 0;
  let baseline = await fingerprint(t.database);
  const started = Date.now();
  const timing = { render: 0, send: 0, rebuild: 0 };

  const property = fc.asyncProperty(planArbitrary, async (plan) => {
    if (sinceBuild >= EPOCH) {
      const rebuilding = performance.now();
      await dropWorlds(worlds);
      worlds = await buildWorlds();
      baseline = await fingerprint(t.database);
      sinceBuild = 0;
      timing.rebuild += performance.now() - rebuilding;
    }
    sinceBuild++;
    const began = performance.now();
    const op = byId.get(plan.operationId)!;
    const { sent, live } = await render(plan, liveFor(worlds, worlds[plan.world]));
    const rendered = performance.now();
    const answers = await Promise.all(
      Array.from({ length: plan.copies }, () => send(sent).catch((error: Error) => assert.fail(`no answer (${error.message}):\n${describeRequest(plan, sent)}`))),
    );
    timing.send += performance.now() - rendered;
    requests += answers.length;
    const asDocumented = plan.method === op.method && plan.pathForm === 'exact';
    const tally = asDocumented ? tallies.get(op.operationId)! : other;
    const twice = answers.length > 1 ? ' (sent twice at once)' : '';
    for (const answer of answers) {
      tally.tried++;
      tally.statuses.set(answer.status, (tally.statuses.get(answer.status) ?? 0) + 1);
      const what = () => `${describeRequest(plan, sent)}${twice}\n  → ${answers.map((a) => a.status).join(' and ')} ${answer.headers['content-type'] ?? ''} ${excerpt(answer.text)}`;
      assert.ok(answer.status < 500, `a server error:\n${what()}\n  the server logged: ${excerpt(serverErrors.at(-1), 1500)}`);
      if (answer.status < 400) {
        tally.accepted++;
        if (asDocumented && answer.headers['content-type']?.includes('json') && answer.text) learn(op.operationId, JSON.parse(answer.text) as Learnt, sent.path, live);
        continue;
      }
      tally.refused++;
      assert.match(String(answer.headers['content-type'] ?? ''), /^application\/problem\+json/, `a 4xx that is not problem+json:\n${what()}`);
      if (sent.method !== 'HEAD') {
        let problem: Record<string, unknown> = {};
        assert.doesNotThrow(() => (problem = JSON.parse(answer.text) as Record<string, unknown>), `a problem that is not JSON:\n${what()}`);
        assert.ok(typeof problem.type === 'string' && typeof problem.title === 'string' && problem.status === answer.status, `a problem without type, title or its status:\n${what()}`);
      }
    }
    // Only when every copy was refused is the database's state the refusals' alone to answer for.
    const now = await fingerprint(t.database);
    if (answers.every((answer) => answer.status >= 400)) {
      const statuses = answers.map((answer) => `${answer.status} ${excerpt(answer.text, 300)}`).join('\n  → ');
      assert.ok(JSON.stringify(now) === JSON.stringify(baseline), `a refused request wrote:\n${describeRequest(plan, sent)}${twice}\n  → ${statuses}\n  ${changedRows(baseline, now)}`);
    }
    baseline = now;
    tally.ms += performance.now() - began;
    const statuses = answers.map((answer) => answer.status).join(' and ');
    if (VERBOSE && process.env.FUZZ_OPERATIONS) console.log(`${excerpt(describeRequest(plan, sent), 800)}${twice}\n  → ${statuses} ${excerpt(answers[0]!.text, 300)}`);
    if (VERBOSE && performance.now() - began > 300) console.log(`slow (${Math.round(rendered - began)} + ${Math.round(performance.now() - rendered)} ms): ${excerpt(describeRequest(plan, sent), 600)} → ${statuses}`);
    timing.render += rendered - began;
  });

  // No shrinking: replaying smaller requests against a world the failing one already changed reports
  // something else; the failing request itself, and the seed and path that replay the run, say more.
  const details = await fc.check(property, { seed: SEED, numRuns: RUNS, endOnFailure: true });
  await dropWorlds(worlds);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);

  const all = [...tallies.values(), other];
  const sum = (pick: (tally: Tally) => number) => all.reduce((total, tally) => total + pick(tally), 0);
  const never = operations.filter((op) => tallies.get(op.operationId)!.accepted === 0).map((op) => op.operationId);
  console.log(
    `fuzz: ${requests} requests over ${operations.length} operations, ${sum((x) => x.refused)} refused (4xx), ${sum((x) => x.accepted)} accepted (2xx/3xx), ` +
      `${sum((x) => [...x.statuses].filter(([status]) => status >= 500).reduce((n, [, count]) => n + count, 0))} server errors — seed ${SEED}, ${seconds} s`,
  );
  console.log(`fuzz: operations with no accepted request: ${never.join(', ') || 'none'}`);
  if (VERBOSE) {
    console.log(`  rendering (with its reads): ${Math.round(timing.render)} ms; sending: ${Math.round(timing.send)} ms; rebuilding the world: ${Math.round(timing.rebuild)} ms`);
    for (const [id, tally] of [...tallies, ['(other methods and paths)', other] as const]) {
      console.log(`  ${id.padEnd(28)} ${String(tally.tried).padStart(4)} tried ${String(tally.accepted).padStart(4)} accepted ${String(Math.round(tally.ms)).padStart(6)} ms  ${[...tally.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    }
  }

  if (details.failed) {
    const error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    assert.fail(`fuzz: after ${details.numRuns} requests (seed ${details.seed}, path ${details.counterexamplePath}; FUZZ_SEED=${details.seed} reproduces it):\n${error}`);
  }
  for (const op of operations) assert.ok(tallies.get(op.operationId)!.tried > 0, `${op.operationId} was never tried`);
  // Most operations must have let some request through, or the fuzzer is only bouncing off authorization.
  assert.ok(never.length <= Math.floor(operations.length / 10), `${never.length} operations accepted no request: ${never.join(', ')}`);
});
