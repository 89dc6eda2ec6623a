/**
 * The binary forms of plain-mode weights (src/schemas/weight-frames.ts): a model version downloaded as
 * float32 with Accept: application/octet-stream, and updates submitted as a framed binary body, beside
 * their JSON forms. Every malformed binary body is a problem+json refusal that writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { decodeWeights, encodeUpdate, UPDATE_HEADER_BYTES } from '../../src/schemas/weight-frames.js';
import { ADMIN_KEY, assertProblem, assertRefused, bearer, createTestApp, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const constant = (size: number, value: number) => Array.from({ length: size }, () => value);
const training = { rounds: 2, localEpochs: 1, batchSize: 8, learningRate: 0.1, minOwners: 2, roundDeadlineSeconds: 600, autoAdvance: true, seed: 1 };

function postBinary(federationId: string, round: number, key: string, body: Uint8Array) {
  return t.http
    .post(`/v1/federations/${federationId}/rounds/${round}/updates`)
    .set(bearer(key))
    .set('Content-Type', 'application/octet-stream')
    .send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
}

function getBinary(federationId: string, version: string | number, key: string) {
  return t.http
    .get(`/v1/federations/${federationId}/models/${version}/weights`)
    .set(bearer(key))
    .set('Accept', 'application/octet-stream')
    .buffer(true)
    .parse((res, done) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(null, Buffer.concat(chunks)));
    });
}

test('weights download as float32 little-endian with the version in a header, equal to the JSON form', async () => {
  const { federationId, keys } = await setupFederation(t, 1);
  const json = await t.http.get(`/v1/federations/${federationId}/models/latest/weights`).set(bearer(keys[0]!)).expect(200);
  assert.match(json.headers['content-type']!, /^application\/json/);
  const binary = await getBinary(federationId, 'latest', keys[0]!).expect(200);
  assert.match(binary.headers['content-type']!, /^application\/octet-stream/);
  assert.equal(binary.headers['fedscore-model-version'], '0');
  assert.equal(json.headers['fedscore-model-version'], '0');
  assert.match(binary.headers.vary ?? '', /accept/i);
  const body = binary.body as Buffer;
  assert.equal(body.byteLength, 4 * json.body.weights.length);
  // Little-endian whatever the host: read value by value with DataView.
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  assert.deepEqual(Array.from({ length: json.body.weights.length }, (_, i) => view.getFloat32(4 * i, true)), json.body.weights);
  // JSON stays the default, and wins when the client prefers it.
  const preferred = await t.http.get(`/v1/federations/${federationId}/models/0/weights`).set(bearer(keys[0]!)).set('Accept', 'application/octet-stream;q=0.5, application/json').expect(200);
  assert.match(preferred.headers['content-type']!, /^application\/json/);
});

test('a binary download is refused like a JSON one: problem+json', async () => {
  const { federationId } = await setupFederation(t, 1);
  const missing = await getBinary(federationId, 7, ADMIN_KEY);
  assert.equal(missing.status, 404);
  assert.match(missing.headers['content-type']!, /^application\/problem\+json/);
  assert.equal(JSON.parse((missing.body as Buffer).toString('utf8')).type, 'https://fedscore.dev/problems/model-version-not-found');
  const anonymous = await t.http.get(`/v1/federations/${federationId}/models/0/weights`).set('Accept', 'application/octet-stream');
  assert.equal(anonymous.status, 401);
});

test('a binary update counts as its JSON twin: the same FedAvg, metrics and receipt', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2, { training });
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const size = featureCount + 1;
  const first = await postBinary(federationId, 1, keys[0]!, encodeUpdate({ weights: constant(size, 1), numSamples: 1, metrics: { loss: 0.5, accuracy: 1 } })).expect(201);
  assert.equal(first.body.round.submissionCount, 1);
  assert.equal(first.body.round.participation.submitted, true);
  const second = await t.http
    .post(`/v1/federations/${federationId}/rounds/1/updates`)
    .set(bearer(keys[1]!))
    .send({ weights: constant(size, 5), numSamples: 3, metrics: { loss: 0.1, accuracy: 0 } })
    .expect(201);
  assert.equal(second.body.round.status, 'closed');
  const published = await getBinary(federationId, 1, keys[0]!).expect(200);
  assert.deepEqual(Array.from(decodeWeights(new Uint8Array(published.body as Buffer))), constant(size, 4)); // (1·1 + 5·3) / 4
  const model = await t.http.get(`/v1/federations/${federationId}/models/1`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(model.body.metrics.samples, 4);
  assert.ok(Math.abs(model.body.metrics.trainLoss - 0.2) < 1e-9, 'the binary update’s loss was read');
  assert.ok(Math.abs(model.body.metrics.trainAccuracy - 0.25) < 1e-9, 'the binary update’s accuracy was read');
  // Without metrics the flags say so; a binary duplicate is refused as a JSON one is.
  await postBinary(federationId, 2, keys[0]!, encodeUpdate({ weights: constant(size, 2), numSamples: 1 })).expect(201);
  await assertRefused(t, () => postBinary(federationId, 2, keys[0]!, encodeUpdate({ weights: constant(size, 2), numSamples: 1 })), 409, 'duplicate-update');
});

test('malformed binary updates are 4xx problem+json and write nothing', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 3, { training: { ...training, minOwners: 3 } });
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  const size = featureCount + 1;
  await postBinary(federationId, 1, keys[0]!, encodeUpdate({ weights: constant(size, 0.1), numSamples: 2 })).expect(201);
  const good = encodeUpdate({ weights: constant(size, 0.1), numSamples: 2, metrics: { loss: 0.3 } });
  const patched = (offset: number, write: (view: DataView) => void) => {
    const copy = good.slice();
    write(new DataView(copy.buffer));
    return copy.subarray(0, offset === -1 ? copy.length : offset);
  };
  const withWeight = (index: number, value: number) => patched(-1, (view) => view.setFloat32(UPDATE_HEADER_BYTES + 4 * index, value, true));
  const cases: [string, Uint8Array, number, string][] = [
    ['empty body', new Uint8Array(0), 400, 'malformed-update'],
    ['truncated header', good.subarray(0, UPDATE_HEADER_BYTES - 1), 400, 'malformed-update'],
    ['wrong magic', patched(-1, (view) => view.setUint8(0, 0x58)), 400, 'malformed-update'],
    ['unknown flag', patched(-1, (view) => view.setUint32(8, 4, true)), 400, 'malformed-update'],
    ['truncated weights', good.subarray(0, good.length - 2), 400, 'malformed-update'],
    ['trailing bytes', Uint8Array.from([...good, 0, 0, 0, 0]), 400, 'malformed-update'],
    ['count larger than the body', patched(-1, (view) => view.setUint32(28, size + 1, true)), 400, 'malformed-update'],
    ['raw weights without the header', new Uint8Array(new Float32Array(size).buffer), 400, 'malformed-update'],
    ['fewer weights than the model', encodeUpdate({ weights: constant(size - 1, 0.1), numSamples: 2 }), 422, 'weights-shape-mismatch'],
    ['NaN weight', withWeight(3, Number.NaN), 422, 'weights-not-finite'],
    ['Infinity weight', withWeight(0, Number.POSITIVE_INFINITY), 422, 'weights-not-finite'],
    ['-Infinity weight', withWeight(size - 1, Number.NEGATIVE_INFINITY), 422, 'weights-not-finite'],
    ['zero samples', encodeUpdate({ weights: constant(size, 0.1), numSamples: 0 }), 422, 'validation-failed'],
    ['NaN loss', encodeUpdate({ weights: constant(size, 0.1), numSamples: 1, metrics: { loss: Number.NaN } }), 422, 'validation-failed'],
    ['accuracy above 1', encodeUpdate({ weights: constant(size, 0.1), numSamples: 1, metrics: { accuracy: 2 } }), 422, 'validation-failed'],
  ];
  for (const [name, body, status, type] of cases) {
    await assertRefused(t, () => postBinary(federationId, 1, keys[1]!, body), status, type, name);
  }
  // No body and no media type: neither form's schema runs, and the handler read an undefined body (a 500 before).
  const none = await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[1]!)), 422, 'validation-failed', 'no body');
  assert.deepEqual((none.body.errors as { path: string }[]).map((e) => e.path), ['body']);
  // The same owner's well-formed update is still accepted afterwards: nothing was half-written.
  await postBinary(federationId, 1, keys[1]!, good).expect(201);
});

test('routes without a binary form still answer 415 to one, and JSON updates still validate as before', async () => {
  const { federationId, featureCount, keys } = await setupFederation(t, 2, { training });
  const before = await snapshot(t.database);
  const open = await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).set('Content-Type', 'application/octet-stream').send(Buffer.from('{}'));
  assertProblem(open, 415, 'unsupported-media-type');
  assert.deepEqual(await snapshot(t.database), before);
  await t.http.post(`/v1/federations/${federationId}/rounds`).set(bearer(ADMIN_KEY)).send({}).expect(201);
  await assertRefused(
    t,
    () => t.http.post(`/v1/federations/${federationId}/rounds/1/updates`).set(bearer(keys[0]!)).send({ weights: constant(featureCount + 1, 0.1), numSamples: 1, extra: true }),
    422,
    'validation-failed',
  );
});
