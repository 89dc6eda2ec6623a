/**
 * The client against a scripted fetch: which key goes on which request, how bodies and paths are built,
 * and that problem+json, non-JSON errors and contract drift each surface as the right error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FedscoreApiError, FedscoreClient, FedscoreContractError, FedscoreNetworkError } from './http-client.js';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from './retry.js';
import { decodeUpdate, encodeWeights } from '../schemas/weight-frames.js';

/** undici's shape for an unreachable server: "fetch failed" with the system error as its cause. */
const refused = () => ({ fail: new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) }) });
const unavailable = (retryAfter: string) => ({
  status: 503,
  body: { type: 'https://fedscore.dev/problems/too-many-waiters', title: 'Too many waiting requests', status: 503, detail: 'retry shortly' },
  contentType: 'application/problem+json',
  headers: { 'retry-after': retryAfter },
});

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
  /** A binary body as sent. */
  bytes?: Uint8Array;
}

type Answer = { status: number; body: unknown; contentType?: string; headers?: Record<string, string> } | { fail: Error };

function scripted(...answers: Answer[]) {
  const calls: Call[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
      ...(init?.body instanceof Uint8Array && { bytes: init.body }),
    });
    const answer = answers.shift();
    if (answer === undefined) throw new Error('scripted fetch: no answer left');
    if ('fail' in answer) throw answer.fail;
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    return new Response(text, { status: answer.status, headers: { 'content-type': answer.contentType ?? 'application/json', ...answer.headers } });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

const round = {
  number: 2,
  kind: 'training',
  trainingRound: 2,
  statistics: null,
  evaluation: null,
  status: 'open',
  baseModelVersion: 1,
  modelVersion: null,
  minOwners: 3,
  submissionCount: 1,
  deadline: '2025-01-01T00:00:00.000Z',
  openedAt: '2025-01-01T00:00:00.000Z',
  closedAt: null,
  failureReason: null,
  aggregation: 'plain',
  secure: null,
  tag: '2:open',
  privacy: null,
  sampling: null,
  participation: null,
  endsTraining: false,
  learningRate: null,
};

describe('FedscoreClient', () => {
  it('sends the key as a bearer token and parses the answer', async () => {
    const { fetch, calls } = scripted({ status: 200, body: { ...round, extra: 'ignored' } });
    const client = new FedscoreClient({ baseUrl: 'http://server:1/', apiKey: 'k1', fetch });
    const answer = await client.getCurrentRound('fed_1');
    assert.equal(answer.number, 2);
    assert.equal('extra' in answer, false, 'unknown fields are stripped, not passed on');
    assert.equal(calls[0]!.url, 'http://server:1/v1/federations/fed_1/rounds/current');
    assert.equal(calls[0]!.headers.authorization, 'Bearer k1');
  });

  it('enrols without a key and withApiKey switches identity on the same server', async () => {
    const owner = { id: 'own_1', federationId: 'fed_1', name: 'o', role: 'owner', identityKey: null, committeeVolunteer: false, privacy: null, createdAt: '2025-01-01T00:00:00.000Z', removedAt: null };
    const { fetch, calls } = scripted({ status: 201, body: { owner, apiKey: 'owner-key' } }, { status: 201, body: { round } });
    const operator = new FedscoreClient({ baseUrl: 'http://server:1', apiKey: 'operator-key', fetch });
    const enrolled = await operator.enrolOwner('fed_1', { enrolmentToken: 't', name: 'o' });
    assert.equal(calls[0]!.headers.authorization, undefined);
    assert.deepEqual(calls[0]!.body, { enrolmentToken: 't', name: 'o' });

    const asOwner = operator.withApiKey(enrolled.apiKey);
    await asOwner.submitUpdate('fed_1', 2, { weights: [0.5, -1], numSamples: 1, metrics: { loss: 0.25 } });
    assert.equal(calls[1]!.url, 'http://server:1/v1/federations/fed_1/rounds/2/updates');
    assert.equal(calls[1]!.method, 'POST');
    assert.equal(calls[1]!.headers.authorization, 'Bearer owner-key');
    // Updates go in the binary form by default.
    assert.equal(calls[1]!.headers['content-type'], 'application/octet-stream');
    const sent = decodeUpdate(calls[1]!.bytes!);
    assert.deepEqual([Array.from(sent.weights), sent.numSamples, sent.metrics], [[0.5, -1], 1, { loss: 0.25 }]);
  });

  it('downloads weights as float32 with the resolved version, and refuses an answer that is not', async () => {
    const binary = (body: Uint8Array, headers: Record<string, string>) =>
      (async () => new Response(body, { status: 200, headers })) as unknown as typeof globalThis.fetch;
    const weights = encodeWeights([0.25, -2, 3.5]);
    const client = new FedscoreClient({ baseUrl: 'http://server:1', apiKey: 'k', fetch: binary(weights, { 'content-type': 'application/octet-stream', 'fedscore-model-version': '4' }) });
    const got = await client.downloadWeights('fed_1', 'latest');
    assert.deepEqual([got.version, Array.from(got.weights)], [4, [0.25, -2, 3.5]]);
    const noVersion = new FedscoreClient({ baseUrl: 'http://server:1', fetch: binary(weights, { 'content-type': 'application/octet-stream' }) });
    await assert.rejects(noVersion.downloadWeights('fed_1'), FedscoreContractError);
    const ragged = new FedscoreClient({ baseUrl: 'http://server:1', fetch: binary(weights.subarray(0, 7), { 'content-type': 'application/octet-stream', 'fedscore-model-version': '1' }) });
    await assert.rejects(ragged.downloadWeights('fed_1'), /multiple of 4 bytes/);
  });

  it('sends {} for body-less POSTs and escapes path segments', async () => {
    const { fetch, calls } = scripted({ status: 200, body: round });
    await new FedscoreClient({ baseUrl: 'http://server:1', apiKey: 'k', fetch }).closeRound('a/b', 3);
    assert.equal(calls[0]!.url, 'http://server:1/v1/federations/a%2Fb/rounds/3/close');
    assert.deepEqual(calls[0]!.body, {});
  });

  it('turns problem+json into FedscoreApiError with status and problem', async () => {
    const problem = {
      type: 'https://fedscore.dev/problems/round-not-open',
      title: 'Round not open',
      status: 409,
      detail: 'round 2 is closed',
    };
    const { fetch } = scripted({ status: 409, body: problem, contentType: 'application/problem+json' });
    const client = new FedscoreClient({ baseUrl: 'http://server:1', apiKey: 'k', fetch });
    const error = await client.submitUpdate('fed_1', 2, { weights: [1], numSamples: 1 }).catch((e: unknown) => e);
    assert.ok(error instanceof FedscoreApiError);
    assert.equal(error.status, 409);
    assert.deepEqual(error.problem, problem);
    assert.equal(error.problemSlug, 'round-not-open');
    assert.match(error.message, /^POST \/v1\/federations\/fed_1\/rounds\/2\/updates: 409 Round not open: round 2 is closed$/);
  });

  it('synthesises a problem when the error body is not problem+json', async () => {
    const { fetch } = scripted({ status: 502, body: '<html>bad gateway</html>', contentType: 'text/html' });
    const error = await new FedscoreClient({ baseUrl: 'http://server:1', fetch }).health().catch((e: unknown) => e);
    assert.ok(error instanceof FedscoreApiError);
    assert.equal(error.problem.type, 'about:blank');
    assert.equal(error.problem.status, 502);
    assert.match(error.problem.detail, /bad gateway/);
  });

  it('reports a 2xx body that breaks the contract as FedscoreContractError', async () => {
    const { fetch } = scripted({ status: 200, body: { ...round, status: 'exploded' } });
    const error = await new FedscoreClient({ baseUrl: 'http://server:1', fetch }).getRound('f', 1).catch((e: unknown) => e);
    assert.ok(error instanceof FedscoreContractError);
    assert.match(error.message, /GET \/v1\/federations\/f\/rounds\/1: response does not match the API contract: status:/);
  });

  it('returns readiness bodies sent with 503 instead of throwing', async () => {
    const { fetch } = scripted({ status: 503, body: { status: 'unavailable', database: 'postgresql' } });
    const ready = await new FedscoreClient({ baseUrl: 'http://server:1', fetch }).readiness();
    assert.deepEqual(ready, { status: 'unavailable', database: 'postgresql' });
  });

  it('refuses a base URL that is not absolute http(s)', () => {
    assert.throws(() => new FedscoreClient({ baseUrl: 'localhost:3000' }), /expected an (absolute )?http\(s\) baseUrl/);
    assert.throws(() => new FedscoreClient({ baseUrl: '/v1' }), /expected an absolute http\(s\) baseUrl/);
  });

  it('says which server could not be reached and why, instead of "fetch failed"', async () => {
    const { fetch } = scripted(refused());
    const error = await new FedscoreClient({ baseUrl: 'http://127.0.0.1:9', fetch }).getFederation('f').catch((e: unknown) => e);
    assert.ok(error instanceof FedscoreNetworkError);
    assert.equal(error.code, 'ECONNREFUSED');
    assert.equal(error.message, 'cannot reach http://127.0.0.1:9/v1/federations/f (GET): connection refused (is the server running, on this host and port?)');
  });

  it('retries transient failures with backoff, honouring Retry-After, and then succeeds', async () => {
    const { fetch, calls } = scripted(refused(), unavailable('0'), { status: 200, body: round });
    const retries: { attempt: number; delayMs: number }[] = [];
    const retry: RetryPolicy = { initialDelayMs: 1, maxDelayMs: 4, giveUpAfterMs: 60_000, random: () => 0.5, onRetry: ({ attempt, delayMs }) => retries.push({ attempt, delayMs }) };
    const answer = await new FedscoreClient({ baseUrl: 'http://server:1', fetch, retry }).getCurrentRound('f');
    assert.equal(answer.number, 2);
    assert.equal(calls.length, 3);
    assert.deepEqual(retries, [{ attempt: 1, delayMs: 0.5 }, { attempt: 2, delayMs: 1 }]);
  });

  it('retries a 429 like a 503, never sooner than its Retry-After', async () => {
    const rateLimited = {
      status: 429,
      body: { type: 'https://fedscore.dev/problems/rate-limited', title: 'Too many requests', status: 429, detail: 'over the limit' },
      contentType: 'application/problem+json',
      headers: { 'retry-after': '1' },
    };
    const { fetch, calls } = scripted(rateLimited, { status: 200, body: round });
    const retries: number[] = [];
    const retry: RetryPolicy = { initialDelayMs: 1, maxDelayMs: 1, giveUpAfterMs: 60_000, random: () => 0.5, onRetry: ({ delayMs }) => retries.push(delayMs) };
    const answer = await new FedscoreClient({ baseUrl: 'http://server:1', fetch, retry }).getCurrentRound('f');
    assert.equal(answer.number, 2);
    assert.equal(calls.length, 2);
    // The policy alone would wait 0.5 ms; the server asked for a second.
    assert.deepEqual(retries, [1000]);
  });

  it('onlyWhenAsked retries what the server asked to be retried (429, 503) and nothing else', async () => {
    const retry: RetryPolicy = { initialDelayMs: 1, maxDelayMs: 1, giveUpAfterMs: 60_000, onlyWhenAsked: true };
    const rateLimited = { ...unavailable('0'), status: 429 };
    const asked = scripted(rateLimited, unavailable('0'), { status: 200, body: round });
    assert.equal((await new FedscoreClient({ baseUrl: 'http://server:1', fetch: asked.fetch, retry }).getCurrentRound('f')).number, 2);
    assert.equal(asked.calls.length, 3);
    const unreachable = scripted(refused(), { status: 200, body: round });
    await assert.rejects(new FedscoreClient({ baseUrl: 'http://server:1', fetch: unreachable.fetch, retry }).getCurrentRound('f'), FedscoreNetworkError);
    assert.equal(unreachable.calls.length, 1);
    const internal = { status: 500, body: { type: 'https://fedscore.dev/problems/internal', title: 'Internal server error', status: 500, detail: 'logged' } };
    const failing = scripted(internal, { status: 200, body: round });
    await assert.rejects(new FedscoreClient({ baseUrl: 'http://server:1', fetch: failing.fetch, retry }).getCurrentRound('f'), FedscoreApiError);
    assert.equal(failing.calls.length, 1);
  });

  it('does not retry a request the server refused on its merits, and gives up when the budget is spent', async () => {
    const conflict = { status: 409, body: { type: 'https://fedscore.dev/problems/duplicate-update', title: 'Duplicate', status: 409, detail: 'already submitted' } };
    const retry: RetryPolicy = { initialDelayMs: 1, maxDelayMs: 1, giveUpAfterMs: 60_000 };
    const first = scripted(conflict);
    await assert.rejects(new FedscoreClient({ baseUrl: 'http://server:1', fetch: first.fetch, retry }).submitUpdate('f', 1, { weights: [1], numSamples: 1 }), FedscoreApiError);
    assert.equal(first.calls.length, 1);
    const second = scripted(refused(), refused());
    await assert.rejects(
      new FedscoreClient({ baseUrl: 'http://server:1', fetch: second.fetch, retry: { ...retry, giveUpAfterMs: 0 } }).health(),
      (error: unknown) => error instanceof FedscoreNetworkError,
    );
    assert.equal(second.calls.length, 1);
  });

  it('an abort stops a backoff wait at once', async () => {
    const controller = new AbortController();
    const { fetch } = scripted(refused(), refused());
    const retry: RetryPolicy = { initialDelayMs: 60_000, maxDelayMs: 60_000, giveUpAfterMs: 600_000, random: () => 1, onRetry: () => controller.abort(new Error('stopping')) };
    await assert.rejects(new FedscoreClient({ baseUrl: 'http://server:1', fetch, retry, signal: controller.signal }).health(), /stopping/);
  });

  it('waits for a round change with the tag it knows; no round yet is null, not an error', async () => {
    const noRounds = { status: 404, body: { type: 'https://fedscore.dev/problems/no-rounds', title: 'No round', status: 404, detail: 'none yet' } };
    const { fetch, calls } = scripted(noRounds, { status: 200, body: round });
    const client = new FedscoreClient({ baseUrl: 'http://server:1', apiKey: 'k', fetch });
    assert.equal(await client.waitForRound('f', 'none', 30), null);
    assert.equal((await client.waitForRound('f', '1:open', 30))!.tag, '2:open');
    assert.equal(calls[0]!.url, 'http://server:1/v1/federations/f/rounds/current?waitSeconds=30&after=none');
    assert.equal(calls[1]!.url, 'http://server:1/v1/federations/f/rounds/current?waitSeconds=30&after=1%3Aopen');
  });
});

describe('backoff', () => {
  it('grows exponentially under a cap, with full jitter, and never undercuts Retry-After', () => {
    const policy: RetryPolicy = { initialDelayMs: 100, maxDelayMs: 1000, giveUpAfterMs: 1e9, random: () => 1 };
    assert.deepEqual([0, 1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, policy)), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(backoffDelay(3, { ...policy, random: () => 0 }), 0);
    assert.equal(backoffDelay(0, policy, 5000), 5000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('7', now), 7000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });
});
