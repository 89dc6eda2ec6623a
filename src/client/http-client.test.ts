/**
 * The client against a scripted fetch: which key goes on which request, how bodies and paths are built,
 * and that problem+json, non-JSON errors and contract drift each surface as the right error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FedscoreApiError, FedscoreClient, FedscoreContractError } from './http-client.js';

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

function scripted(...answers: { status: number; body: unknown; contentType?: string }[]) {
  const calls: Call[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    });
    const answer = answers.shift();
    if (answer === undefined) throw new Error('scripted fetch: no answer left');
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    return new Response(text, { status: answer.status, headers: { 'content-type': answer.contentType ?? 'application/json' } });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

const round = {
  number: 2,
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
    const owner = { id: 'own_1', federationId: 'fed_1', name: 'o', role: 'owner', publicKey: null, committeeVolunteer: false, createdAt: '2025-01-01T00:00:00.000Z' };
    const { fetch, calls } = scripted({ status: 201, body: { owner, apiKey: 'owner-key' } }, { status: 201, body: { round } });
    const operator = new FedscoreClient({ baseUrl: 'http://server:1', apiKey: 'operator-key', fetch });
    const enrolled = await operator.enrolOwner('fed_1', { enrolmentToken: 't', name: 'o' });
    assert.equal(calls[0]!.headers.authorization, undefined);
    assert.deepEqual(calls[0]!.body, { enrolmentToken: 't', name: 'o' });

    const asOwner = operator.withApiKey(enrolled.apiKey);
    await asOwner.submitUpdate('fed_1', 2, { weights: [0.5, -1], numSamples: 1 });
    assert.equal(calls[1]!.url, 'http://server:1/v1/federations/fed_1/rounds/2/updates');
    assert.equal(calls[1]!.method, 'POST');
    assert.equal(calls[1]!.headers.authorization, 'Bearer owner-key');
    assert.equal(calls[1]!.headers['content-type'], 'application/json');
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
});
