/**
 * JSON bodies over their route's limit — BODY_LIMIT for federations and updates, METADATA_BODY_LIMIT for
 * routes that carry only settings and names — are refused with 413 problem+json before any parsing or
 * writing; a body just under the limit is handled normally, so the refusal is the limit's doing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, federationBody, setupFederation, type TestApp } from '../helpers/app.js';

const LIMIT = 64 * 1024;
let t: TestApp;
before(async () => (t = await createTestApp({ env: { BODY_LIMIT: String(LIMIT) } })));
after(async () => t.close());

/** A JSON body of exactly `bytes` bytes: the given object with a padding field. */
function sized(body: Record<string, unknown>, bytes: number): string {
  const empty = JSON.stringify({ ...body, name: '' });
  const text = JSON.stringify({ ...body, name: 'x'.repeat(bytes - Buffer.byteLength(empty)) });
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

test('an oversized federation, enrolment or update is a 413 and writes nothing', async () => {
  const { federationId, enrolmentToken, keys } = await setupFederation(t, 1);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const json = (req: ReturnType<typeof t.http.post>, body: string) => req.set('Content-Type', 'application/json').send(body);

  await assertRefused(t, () => json(t.http.post('/v1/federations').set(bearer(ADMIN_KEY)), sized(federationBody(), LIMIT + 1)), 413, 'body-too-large', 'federation');
  await assertRefused(t, () => json(t.http.post(`/v1/federations/${federationId}/owners`), sized({ enrolmentToken }, LIMIT + 1)), 413, 'body-too-large', 'enrolment');
  const weights = JSON.stringify({ weights: new Array(44).fill(0.123456789), numSamples: 1, metrics: { loss: 1 } });
  const padded = weights.replace('"metrics"', `"pad":"${'x'.repeat(LIMIT)}","metrics"`);
  await assertRefused(t, () => json(t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)), padded), 413, 'body-too-large', 'update');
  // Refused for its size, not for its content: the same request without the padding is accepted.
  await json(t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)), weights).expect(201);
});

test('a body just under the limit is parsed and validated as usual', async () => {
  // Too long a name for the schema (a 422), but not too large for the server (not a 413).
  const res = await assertRefused(
    t,
    () => t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).set('Content-Type', 'application/json').send(sized(federationBody(), LIMIT - 1)),
    422,
    'validation-failed',
  );
  assert.ok((res.body.errors as { path: string }[]).some((e) => e.path === 'body.name'));
});

/** `body` as JSON, padded with trailing whitespace (still the same JSON) to exactly `bytes` bytes. */
function padded(body: unknown, bytes: number): string {
  const text = JSON.stringify(body);
  assert.ok(Buffer.byteLength(text) <= bytes);
  return text + ' '.repeat(bytes - Buffer.byteLength(text));
}

test('metadata routes take at most METADATA_BODY_LIMIT while updates keep BODY_LIMIT', async () => {
  const small = await createTestApp({ env: { METADATA_BODY_LIMIT: '4096' } });
  try {
    const { federationId, enrolmentToken, keys } = await setupFederation(small, 1);
    const json = (req: ReturnType<typeof small.http.post>, body: string) => req.set('Content-Type', 'application/json').send(body);
    const enrol = { enrolmentToken, name: 'padded' };
    await assertRefused(small, () => json(small.http.post(`/v1/federations/${federationId}/owners`), padded(enrol, 4097)), 413, 'body-too-large', 'enrolment');
    await assertRefused(small, () => json(small.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)), padded({}, 4097)), 413, 'body-too-large', 'opening a round');
    // The same bodies one byte shorter are read and accepted: the refusals were the limit's.
    await json(small.http.post(`/v1/federations/${federationId}/owners`), padded(enrol, 4096)).expect(201);
    await json(small.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)), padded({}, 4096)).expect(201);
    // An update four times the metadata limit is a bulk body: accepted.
    const update = { weights: new Array(44).fill(0.123456789), numSamples: 1 };
    await json(small.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)), padded(update, 4 * 4096)).expect(201);
  } finally {
    await small.close();
  }
});
