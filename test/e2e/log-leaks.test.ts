/**
 * Nothing secret reaches a log line. A real server logs at trace level into memory while it runs (a) a
 * secure federated simulation over HTTP through the SDK — 12 owners on crx shards, a committee of 3 with
 * threshold 2, 2 rounds — followed by requests it must refuse (bad bodies carrying real weights and
 * tokens, wrong and misplaced keys, a request HTTP cannot even parse), and (b) an encrypted-prediction
 * session under a scoped he-predict key: created, scored, deleted. Every exchange the SDK made is recorded
 * client-side, so the test holds every secret that crossed the wire: each API key and enrolment token
 * issued, each envelope, inbox and partial sum, the CKKS key material and ciphertexts both ways. It also
 * holds what never crossed it: each owner's trained weights (retrained here from the same seeds, and
 * checked against the model the server published, so the probes are the real ones), each committee
 * member's round private key, the applicants' records, encoded features and decrypted scores.
 *
 * Then every line is searched for every secret in every form it could take: as text; keys also without
 * their prefix; weights and features as decimal text at several precisions and in the binary encodings of
 * test/helpers/leak-scan.ts; bytes as raw windows, base64, base64url and hex windows; and every line is
 * read as text, with its base64, hex and decimal-byte-list runs decoded. No hit is allowed; the log must
 * hold the run's requests (so the search covered something) and a trace line (so the level was trace).
 * The metrics the scraper reads at the end are searched the same way.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { scoreEncrypted } from '../../src/client/encrypted-scoring.js';
import { FedscoreClient } from '../../src/client/http-client.js';
import { applySplit, encodeRows, readCsvFile, readSchemaFile, readSplitFile, shardRows, type EncodedRows, type RecordSet } from '../../src/client/local-data.js';
import { MemoryJournal, type RoundKey } from '../../src/client/owner-state.js';
import { deriveSeed, ownerSeed, runSimulation } from '../../src/client/simulation.js';
import { loadConfig } from '../../src/config.js';
import type { DatasetSchema } from '../../src/ml/dataset-schema.js';
import { createEncoder } from '../../src/ml/preprocess.js';
import { initTf } from '../../src/ml/tf.js';
import { trainLocal } from '../../src/ml/train.js';
import { decodeFrames } from '../../src/schemas/ciphertext-frames.js';
import { decodeInbox, decodePartialSum, decodeShareUpload } from '../../src/schemas/secure-frames.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { repoRoot, sharedData } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { keyProbes, updateProbes } from '../helpers/leak-scan.js';

const ADMIN_KEY = randomBytes(24).toString('base64url');
const METRICS_TOKEN = randomBytes(24).toString('base64url');
const SEED = 11;
const OWNERS = 12;
const ROUNDS = 2;
const training = { rounds: ROUNDS, epochs: 1, batchSize: 8, learningRate: 0.1, seed: SEED, serverOptimizer: { kind: 'fedavg' as const, learningRate: 1 } };

let target: TestDatabase;
let server: RunningServer | undefined;
const lines: string[] = [];
let schema: DatasetSchema;
let train: EncodedRows;
let testRows: EncodedRows;
let testRecords: RecordSet;

/** What the SDK sent and received, as it went over the wire. */
interface Exchange {
  method: string;
  url: string;
  request: Buffer | undefined;
  response: Buffer;
  /** Whether each side went as application/octet-stream (the SDK's default for shares, inboxes, partial sums). */
  binaryRequest: boolean;
  binaryResponse: boolean;
}
const exchanges: Exchange[] = [];

/** A share upload's envelopes, from either wire form. */
function sentEnvelopes(exchange: Exchange): Buffer[] {
  if (exchange.binaryRequest) return decodeShareUpload(new Uint8Array(exchange.request!)).map((item) => Buffer.from(item.envelope));
  return (JSON.parse(exchange.request!.toString()) as { envelopes: { envelope: string }[] }).envelopes.map((item) => Buffer.from(item.envelope, 'base64'));
}
const recordingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const body = init?.body;
  const request = typeof body === 'string' ? Buffer.from(body) : body instanceof Uint8Array ? Buffer.from(body) : undefined;
  const octets = (type: string | null) => type?.startsWith('application/octet-stream') === true;
  exchanges.push({
    method: init?.method ?? 'GET',
    url: String(input),
    request,
    response: Buffer.from(await response.clone().arrayBuffer()),
    binaryRequest: octets(new Headers(init?.headers).get('content-type')),
    binaryResponse: octets(response.headers.get('content-type')),
  });
  return response;
};

before(async () => {
  await initTf('cpu');
  target = await createTestDatabase();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: target.dataDir,
    DATABASE_URL: target.databaseUrl ?? '',
    ADMIN_API_KEY: ADMIN_KEY,
    METRICS_TOKEN,
    HE_WORKERS: '1',
  });
  server = await startServer(config, { logger: { level: 'trace', stream: { write: (line) => lines.push(line) } } });
  schema = await readSchemaFile(path.join(repoRoot, 'schemas', 'crx.json'));
  const parts = applySplit(await readCsvFile(path.join(sharedData, 'crx.data'), schema), await readSplitFile(path.join(sharedData, 'crx.split.json')));
  train = encodeRows(schema, parts.train);
  testRows = encodeRows(schema, parts.test!);
  testRecords = parts.test!;
});

after(async () => {
  await server?.close();
  await target?.cleanup();
});

// ── Probes ───────────────────────────────────────────────────────────────────────────────────────

/** A secret in one form: bytes found anywhere in any reading of a line, or a number found as a whole token. */
type Probe = { what: string; bytes: Buffer } | { what: string; token: RegExp };

const probes: Probe[] = [];
const addText = (what: string, text: string) => probes.push({ what, bytes: Buffer.from(text, 'utf8') });
/** A decimal number as a token of its own: not inside a longer number, identifier or base64 run. */
const addNumber = (what: string, text: string) =>
  probes.push({ what, token: new RegExp(`(?<![A-Za-z0-9.+/_-])${text.replace(/[.+-]/g, '\\$&')}(?![0-9])`) });

/** An API key or token: whole, and its random part alone (a leak that dropped the prefix). */
function addKey(what: string, key: string): void {
  addText(what, key);
  const random = key.replace(/^fs[olke]_/, '');
  if (random !== key) addText(`${what} without its prefix`, random);
}

/** A byte string: 18-byte windows at its start, middle and end, raw and as base64, base64url and hex text. */
function addBytes(what: string, bytes: Buffer): void {
  const width = 18; // 24 base64 characters, and windows at multiples of 3 bytes line up with the whole encoding
  if (bytes.length < width) return;
  const last = bytes.length - width;
  for (const from of new Set([0, Math.floor(last / 6) * 3, last - (last % 3)])) {
    const window = bytes.subarray(from, from + width);
    probes.push({ what: `${what}, raw bytes ${from}+${width}`, bytes: Buffer.from(window) });
    addText(`${what}, base64 at ${from}`, window.toString('base64'));
    addText(`${what}, base64url at ${from}`, window.toString('base64url'));
    addText(`${what}, hex at ${from}`, window.toString('hex'));
  }
}

/**
 * Whether a number written alone is unlikely to turn up by chance: a fraction (ports, pids, times and
 * counts are integers) with five or more significant digits, and no exponent.
 */
const distinctive = (text: string) => /^-?\d*\.\d+$/.test(text) && text.replace(/^-/, '').replace('.', '').replace(/^0+/, '').length >= 5;

/**
 * A vector of numbers (weights, features): the encodings of leak-scan.ts (binary floats and fixed point,
 * decimal windows of three values), windows of three at 4, 6 and 9 significant digits, and each value
 * alone at full precision and at 6 digits.
 */
function addVector(what: string, base: Float32Array, values: Float32Array, numSamples: number): void {
  for (const probe of updateProbes({ base, trained: values, numSamples })) probes.push({ what: `${what}: ${probe.encoding}`, bytes: probe.bytes });
  for (let from = 0; from + 3 <= values.length; from += 7) {
    for (const digits of [4, 6, 9]) {
      const window = Array.from(values.subarray(from, from + 3), (v) => String(Number(v.toPrecision(digits))));
      if (window.some(distinctive)) addText(`${what}: values ${from}–${from + 2} at ${digits} digits`, window.join(','));
    }
  }
  // Alone, a value is searched only where it could not turn up by chance (one-hot features are 0 and 1).
  for (const [i, value] of values.entries()) {
    for (const [form, text] of [['', String(value)], [' at 6 digits', String(Number(value.toPrecision(6)))]]) {
      if (distinctive(text!)) addNumber(`${what}: value ${i}${form}`, text!);
    }
  }
}

// ── Reading a line ───────────────────────────────────────────────────────────────────────────────

/** A line as text, plus every base64, hex and decimal-byte-list run in it decoded. */
function readings(line: string): Buffer[] {
  const out = [Buffer.from(line, 'utf8')];
  for (const run of line.match(/[A-Za-z0-9+/_-]{16,}={0,2}/g) ?? []) out.push(Buffer.from(run, /[-_]/.test(run) ? 'base64url' : 'base64'));
  for (const run of line.match(/(?:[0-9a-fA-F]{2}){8,}/g) ?? []) out.push(Buffer.from(run, 'hex'));
  // How JSON.stringify writes a Buffer: {"type":"Buffer","data":[71,69,84,…]}
  for (const run of line.match(/\d{1,3}(?:,\d{1,3}){11,}/g) ?? []) out.push(Buffer.from(run.split(',').map(Number)));
  return out;
}

function hitsIn(text: string, where: string): string[] {
  const hits: string[] = [];
  const read = readings(text);
  for (const probe of probes) {
    const found = 'token' in probe ? probe.token.test(text) : read.some((bytes) => bytes.includes(probe.bytes));
    if (found) hits.push(`${where}: ${probe.what}`);
  }
  return hits;
}

// ── The run ──────────────────────────────────────────────────────────────────────────────────────

/** Sends raw bytes and waits for the server to hang up: for a request HTTP cannot parse. */
function sendRaw(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = net.connect({ host: hostname, port: Number(port) }, () => socket.write(bytes));
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    socket.once('close', () => resolve(answer));
    socket.once('error', reject);
  });
}

test('a secure run, refused requests and an encrypted-prediction session leave no secret in any log line', async (t) => {
  const url = server!.url;
  const operator = new FedscoreClient({ baseUrl: url, apiKey: ADMIN_KEY, fetch: recordingFetch });
  addKey('ADMIN_API_KEY', ADMIN_KEY);
  addKey('METRICS_TOKEN', METRICS_TOKEN);

  // (a) A secure simulation. The committee's round keys live only in the owners' journals: note them as saved.
  const roundKeys: RoundKey[] = [];
  const saveRoundKey = MemoryJournal.prototype.saveRoundKey;
  MemoryJournal.prototype.saveRoundKey = function (key: RoundKey) {
    roundKeys.push(key);
    return saveRoundKey.call(this, key);
  };
  const shards = shardRows(train, OWNERS);
  let result: Awaited<ReturnType<typeof runSimulation>>;
  try {
    result = await runSimulation({
      operator,
      name: 'log leaks',
      schema,
      model: { kind: 'logreg' },
      training,
      mode: 'secure',
      secure: { committee: 3, threshold: 2, dropout: 0, committeeDropout: 0, clipNorm: 1000 },
      shards,
      evaluation: testRows,
      concurrency: 4,
    });
  } finally {
    MemoryJournal.prototype.saveRoundKey = saveRoundKey;
  }
  const federationId = result.federationId;
  assert.deepEqual(result.rounds.map((round) => [round.status, round.owners]), Array(ROUNDS).fill(['closed', OWNERS]));
  assert.ok(roundKeys.length >= 3, `committee round keys noted: ${roundKeys.length}`);
  for (const key of roundKeys) for (const probe of keyProbes(Buffer.from(key.privateKey, 'base64'))) probes.push({ what: `round ${key.round} committee ${probe.encoding}`, bytes: probe.bytes });

  // Each owner's trained weights, retrained from the same base, rows and seed as its agent did.
  const rounds = await operator.listRounds(federationId);
  const trained: Float32Array[][] = [];
  for (const round of rounds) {
    const base = Float32Array.from((await operator.getModelWeights(federationId, round.baseModelVersion)).weights);
    const options = { epochs: training.epochs, batchSize: training.batchSize, learningRate: round.learningRate ?? training.learningRate, l2: 0 };
    const owners = await Promise.all(shards.map((shard, i) => trainLocal({ kind: 'logreg' }, base, shard.X, shard.y, { ...options, seed: deriveSeed(ownerSeed(SEED, i), round.trainingRound ?? round.number, 0) })));
    trained.push(owners.map((owner) => owner.weights));
    // The probes are the real updates: their sample-weighted mean is the version the server published (FedAvg, server rate 1).
    const total = owners.reduce((sum, owner) => sum + owner.numSamples, 0);
    const mean = base.map((w, j) => w + owners.reduce((sum, owner) => sum + owner.numSamples * (owner.weights[j]! - w), 0) / total);
    const published = (await operator.getModelWeights(federationId, round.modelVersion!)).weights;
    const gap = Math.max(...published.map((w, j) => Math.abs(w - mean[j]!)));
    assert.ok(gap < 1e-4, `round ${round.number}: the retrained updates average to the published model (max gap ${gap})`);
    owners.forEach((owner, i) => addVector(`round ${round.number} owner ${i + 1} weights`, base, owner.weights, owner.numSamples));
  }

  // Refused requests that carry secrets: a bad body (an owner's real weights), a plain update to a secure
  // federation, a malformed body around the enrolment token, a wrong key, keys in the path and query, and
  // a request HTTP cannot parse whose Authorization header holds an owner key.
  const keysIssued = () => [...new Set(exchanges.flatMap((e) => e.response.toString('utf8').match(/fs[olke]_[A-Za-z0-9_-]{43}/g) ?? []))];
  const ownerKey = keysIssued().find((key) => key.startsWith('fsk_'))!;
  const enrolmentToken = keysIssued().find((key) => key.startsWith('fse_'))!;
  const wrongKey = `fsk_${randomBytes(32).toString('base64url')}`;
  addKey('a wrong key', wrongKey);
  const weights = Array.from(trained[0]![0]!);
  const refusals: [string, string, RequestInit, number][] = [
    ['bad body', `/v1/federations/${federationId}/rounds/1/updates`, { method: 'POST', headers: { authorization: `Bearer ${ownerKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ weights, numSamples: -1 }) }, 422],
    ['plain update', `/v1/federations/${federationId}/rounds/1/updates`, { method: 'POST', headers: { authorization: `Bearer ${ownerKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ weights, numSamples: 5 }) }, 409],
    ['malformed JSON', `/v1/federations/${federationId}/owners`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"enrolmentToken":"${enrolmentToken}","name":` }, 400],
    ['wrong key', `/v1/federations/${federationId}`, { headers: { authorization: `Bearer ${wrongKey}` } }, 401],
    ['key in path and query', `/v1/federations/${ownerKey}?apiKey=${ownerKey}&token=${enrolmentToken}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }, 404],
  ];
  for (const [name, pathAndQuery, init, status] of refusals) assert.equal((await fetch(url + pathAndQuery, init)).status, status, name);
  const unparsable = await sendRaw(url, `GET /v1/federations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ownerKey}\r\nBad Header\u0001: x\r\n\r\n`);
  assert.match(unparsable, /^HTTP\/1\.1 400/);

  // (b) An encrypted-prediction session under a scoped key: created, scored, deleted.
  const issued = await operator.issueApiKey(federationId, { label: 'he scoring', scopes: ['he-predict'] });
  const lender = new FedscoreClient({ baseUrl: url, apiKey: issued.apiKey, fetch: recordingFetch });
  const federation = await operator.getFederation(federationId);
  const applicants = testRecords.records.slice(0, 10);
  const scored = await scoreEncrypted({ client: lender, federation, records: applicants, layout: 'batched' });
  assert.equal(scored.scores.length, applicants.length);
  const encoder = createEncoder(federation.datasetSchema);
  applicants.forEach((record, i) => {
    const features = encoder.encode(record);
    addVector(`applicant ${i + 1} features`, new Float32Array(features.length), features, 1);
    addText(`applicant ${i + 1} record`, Object.values(record).join(','));
    for (const [column, value] of Object.entries(record)) {
      // A raw value as a plain request or a careless log would carry it; alone only where it is distinctive.
      addText(`applicant ${i + 1} ${column} as JSON`, JSON.stringify({ [column]: value }).slice(1, -1));
      if (typeof value === 'string' && distinctive(value)) addNumber(`applicant ${i + 1} ${column}`, value);
    }
    for (const text of [String(scored.scores[i]), String(Number(scored.scores[i]!.toPrecision(6)))]) if (distinctive(text)) addNumber(`applicant ${i + 1} score ${text}`, text);
  });

  // Everything secret that crossed the wire, from the recorded exchanges.
  for (const key of keysIssued()) addKey(`issued ${key.slice(0, 4)}… key or token`, key);
  assert.ok(keysIssued().filter((key) => key.startsWith('fsk_')).length >= OWNERS, 'every owner key was recorded');
  let envelopes = 0;
  for (const exchange of exchanges) {
    const { pathname } = new URL(exchange.url);
    if (pathname.endsWith('/shares')) {
      for (const envelope of sentEnvelopes(exchange)) addBytes(`envelope ${++envelopes}`, envelope);
    } else if (pathname.endsWith('/inbox')) {
      const inbox = exchange.binaryResponse
        ? decodeInbox(new Uint8Array(exchange.response)).envelopes.map((item) => Buffer.from(item.envelope))
        : (JSON.parse(exchange.response.toString()) as { envelopes: { envelope: string }[] }).envelopes.map((item) => Buffer.from(item.envelope, 'base64'));
      for (const envelope of inbox) addBytes('an inbox envelope', envelope);
    } else if (pathname.endsWith('/partial-sums')) {
      const values = exchange.binaryRequest
        ? Buffer.from(decodePartialSum(new Uint8Array(exchange.request!)).values)
        : Buffer.from((JSON.parse(exchange.request!.toString()) as { values: string }).values, 'base64');
      addBytes('a partial sum', values);
    } else if (pathname === '/v1/he-sessions' && exchange.method === 'POST') {
      addBytes('CKKS key material', exchange.request!);
    } else if (pathname.endsWith('/predictions')) {
      decodeFrames(new Uint8Array(exchange.request!)).forEach((c, i) => addBytes(`ciphertext ${i + 1} sent`, Buffer.from(c)));
      decodeFrames(new Uint8Array(exchange.response)).forEach((c, i) => addBytes(`ciphertext ${i + 1} returned`, Buffer.from(c)));
    }
  }
  assert.equal(envelopes, OWNERS * 3 * ROUNDS, 'every envelope was recorded');

  // The scraper's view: the run is in the metrics, and no secret is.
  const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(metrics.status, 200);
  const exposition = await metrics.text();
  assert.match(exposition, new RegExp(`^fedscore_submissions_accepted_total\\{kind="shares"\\} ${OWNERS * ROUNDS}$`, 'm'));
  assert.match(exposition, /^fedscore_round_settlement_seconds_count\{aggregation="secure",kind="training"\} 2$/m);
  assert.match(exposition, /^fedscore_he_evaluation_seconds_count 1$/m);

  // Every line written until the server closed, searched for every probe.
  await server!.close();
  server = undefined;
  assert.ok(lines.some((line) => line.includes('"url":"/v1/federations/') && line.includes('/shares"')), 'the log holds the owners’ share uploads');
  assert.ok(lines.some((line) => line.includes('/v1/he-sessions/') && line.includes('/predictions"')), 'the log holds the encrypted predictions');
  assert.ok(lines.some((line) => (JSON.parse(line) as { level: number }).level === 10), 'the log holds trace lines');
  assert.ok(lines.some((line) => line.includes('fsk_[redacted]')), 'the misplaced key was logged masked');
  const hits = [...lines.flatMap((line, i) => hitsIn(line, `log line ${i + 1}`)), ...hitsIn(exposition, 'metrics')];
  t.diagnostic(`scanned ${lines.length} log lines and the metrics for ${probes.length} probes`);
  // One entry per kind of secret found, with the first place it was found.
  const found = [...new Map(hits.map((hit) => [hit.slice(hit.indexOf(': ') + 2), hit])).values()];
  assert.deepEqual(found.slice(0, 40), [], `${hits.length} hit(s) of ${found.length} kind(s)`);

  // The search finds what it looks for: a line holding one of this run's secrets, in one of its forms, is caught.
  const firstEnvelope = sentEnvelopes(exchanges.find((e) => e.url.endsWith('/shares'))!)[0]!;
  const firstCiphertext = decodeFrames(new Uint8Array(exchanges.find((e) => e.url.endsWith('/predictions'))!.request!))[0]!;
  const planted: [unknown, RegExp][] = [
    [{ key: ownerKey.slice(4) }, /issued fsk_… key or token without its prefix/],
    [{ weights: weights.slice(0, 3).join(',') }, /owner 1 weights/],
    [{ weight: weights.find((w) => distinctive(String(w))) }, /owner 1 weights: value/],
    [{ envelope: firstEnvelope.toString('hex') }, /envelope 1, hex/],
    [{ ciphertext: Buffer.from(firstCiphertext).toString('base64') }, /ciphertext 1 sent, base64/],
    [{ privateKey: roundKeys[0]!.privateKey }, /committee private key, base64/],
    [{ rawPacket: { type: 'Buffer', data: [...Buffer.from(`Authorization: Bearer ${wrongKey}`)] } }, /a wrong key/],
    [{ score: scored.scores[0] }, /applicant 1 score/],
  ];
  for (const [content, expected] of planted) {
    const line = JSON.stringify({ level: 30, msg: 'planted', ...(content as object) });
    assert.ok(hitsIn(line, 'planted').some((hit) => expected.test(hit)), `planted ${line.slice(0, 120)} is found as ${expected}`);
  }
});
