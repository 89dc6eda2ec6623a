import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ADMIN_KEY, assertRefused, bearer, createTestApp, federationBody, setupFederation, snapshot, type TestApp } from '../helpers/app.js';

let t: TestApp;
before(async () => (t = await createTestApp()));
after(async () => t.close());

const problem = (type: string) => `https://fedscore.dev/problems/${type}`;

test('the operator creates a federation; version 0 is published and the enrolment token shown once', async () => {
  const res = await t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(federationBody()).expect(201);
  const { federation, enrolmentToken } = res.body;
  assert.match(enrolmentToken, /^fse_/);
  assert.equal(federation.latestModelVersion, 0);
  assert.equal(federation.aggregation, 'plain');
  assert.ok(federation.featureNames.includes('A4=u'));
  const models = await t.http.get(`/v1/federations/${federation.id}/models`).set(bearer(ADMIN_KEY)).expect(200);
  assert.deepEqual(models.body.models.map((m: { version: number }) => m.version), [0]);
  const read = await t.http.get(`/v1/federations/${federation.id}`).set(bearer(ADMIN_KEY)).expect(200);
  assert.equal(read.body.enrolmentToken, undefined, 'the token is never shown again');
  const stored = await t.database.prisma.federation.findUnique({ where: { id: federation.id } });
  assert.notEqual(stored!.enrolmentTokenHash, enrolmentToken, 'only a hash is stored');
});

test('training settings default when omitted', async () => {
  const body = federationBody();
  delete (body as Record<string, unknown>).training;
  const res = await t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(body).expect(201);
  assert.equal(res.body.federation.training.localEpochs > 0, true);
  assert.equal(res.body.federation.training.autoAdvance, true);
});

test('creating a federation needs the operator key', async () => {
  const before = await snapshot(t.database);
  const none = await t.http.post('/v1/federations').send(federationBody()).expect(401);
  assert.equal(none.body.type, problem('unauthorized'));
  const wrong = await t.http.post('/v1/federations').set(bearer('fso_not-a-real-key')).send(federationBody()).expect(401);
  assert.equal(wrong.body.type, problem('unauthorized'));
  const { keys } = await setupFederation(t, 1);
  const mid = await snapshot(t.database);
  const owner = await t.http.post('/v1/federations').set(bearer(keys[0]!)).send(federationBody()).expect(403);
  assert.equal(owner.body.type, problem('forbidden'));
  assert.deepEqual(await snapshot(t.database), mid);
  assert.equal(before.Federation!.length + 1, mid.Federation!.length);
});

test('an invalid federation is refused with field paths and nothing is written', async () => {
  const before = await snapshot(t.database);
  const cases: [unknown, string][] = [
    [federationBody({ model: { kind: 'forest' } }), 'body.model'],
    [federationBody({ training: { learningRate: -1 } }), 'body.training.learningRate'],
    [federationBody({ name: '' }), 'body.name'],
    [federationBody({ unexpected: true }), 'body'],
    [federationBody({ datasetSchema: { columns: [], label: { column: 'x', positive: 'y' } } }), 'body.datasetSchema.columns'],
  ];
  for (const [body, path] of cases) {
    const res = await t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send(body as object).expect(422);
    assert.match(res.headers['content-type']!, /application\/problem\+json/);
    assert.equal(res.body.type, problem('validation-failed'));
    assert.ok(
      res.body.errors.some((e: { path: string }) => e.path.startsWith(path)),
      `expected an error at ${path}, got ${JSON.stringify(res.body.errors)}`,
    );
  }
  assert.deepEqual(await snapshot(t.database), before);
});

test('a dataset schema whose label column is not declared is refused', async () => {
  const before = await snapshot(t.database);
  const body = federationBody();
  const schema = structuredClone(body.datasetSchema) as { label: { column: string } };
  schema.label.column = 'NOPE';
  const res = await t.http.post('/v1/federations').set(bearer(ADMIN_KEY)).send({ ...body, datasetSchema: schema }).expect(422);
  assert.equal(res.body.type, problem('validation-failed'));
  assert.deepEqual(await snapshot(t.database), before);
});

test('malformed JSON is a 400 problem and writes nothing', async () => {
  const before = await snapshot(t.database);
  const res = await t.http
    .post('/v1/federations')
    .set(bearer(ADMIN_KEY))
    .set('Content-Type', 'application/json')
    .send('{"name": "broken",')
    .expect(400);
  assert.equal(res.body.type, problem('malformed-json'));
  assert.deepEqual(await snapshot(t.database), before);
});

test('an owner reads its own federation but not another one', async () => {
  const a = await setupFederation(t, 1);
  const b = await setupFederation(t, 1);
  await t.http.get(`/v1/federations/${a.federationId}`).set(bearer(a.keys[0]!)).expect(200);
  await assertRefused(t, () => t.http.get(`/v1/federations/${b.federationId}`).set(bearer(a.keys[0]!)), 403, 'forbidden', 'another federation');
  await assertRefused(t, () => t.http.get('/v1/federations').set(bearer(a.keys[0]!)), 403, 'forbidden', 'the list of federations');
});

test('an unknown federation is a 404 problem, for reads and writes alike', async () => {
  await assertRefused(t, () => t.http.get('/v1/federations/does-not-exist').set(bearer(ADMIN_KEY)), 404, 'federation-not-found', 'read');
  await assertRefused(t, () => t.http.post('/v1/federations/does-not-exist/rounds').set(bearer(ADMIN_KEY)).send({}), 404, 'federation-not-found', 'open a round');
  await assertRefused(t, () => t.http.post('/v1/federations/does-not-exist/enrolment-token').set(bearer(ADMIN_KEY)), 404, 'federation-not-found', 'rotate the token');
  await assertRefused(t, () => t.http.post('/v1/federations/does-not-exist/owners').send({ enrolmentToken: 'fse_x', name: 'x' }), 404, 'federation-not-found', 'enrol');
});

test('rotating the enrolment token retires the old one', async () => {
  const { federationId, enrolmentToken } = await setupFederation(t, 0);
  const rotated = await t.http.post(`/v1/federations/${federationId}/enrolment-token`).set(bearer(ADMIN_KEY)).expect(201);
  assert.notEqual(rotated.body.enrolmentToken, enrolmentToken);
  const stored = await t.database.prisma.federation.findUniqueOrThrow({ where: { id: federationId } });
  assert.notEqual(stored.enrolmentTokenHash, rotated.body.enrolmentToken, 'only a hash is stored');
  await assertRefused(t, () => t.http.post(`/v1/federations/${federationId}/owners`).send({ enrolmentToken, name: 'late' }), 401, 'unauthorized', 'the old token');
  await t.http.post(`/v1/federations/${federationId}/owners`).send({ enrolmentToken: rotated.body.enrolmentToken, name: 'late' }).expect(201);
});
